//! Retention: finished deliveries past the account's retention go, with
//! their attempts and the hourly counts before the cutoff's hour, a batch
//! at a time so the writer is never held long; then the events no delivery
//! refers to any more. A test send whose attempt never came (its request
//! was cancelled) is marked failed after an hour, so retention takes it
//! too. Finished jobs go after the same time, import drafts never started
//! after a day.

use super::db::{Backend, WriteTx};
use super::{Result, Store};
use crate::clock::now_ms;

const HOUR_MS: i64 = 3_600_000;

/// The deliveries one purge batch removes: finished ones (the work on them
/// is over) of account $1 created before $2, oldest first, $3 of them.
/// Chosen once per batch; on PostgreSQL locked, so a resend cannot reopen
/// one between the deletes of its attempts and of itself.
macro_rules! purge_chosen {
    () => {
        "SELECT id FROM deliveries WHERE account_id = $1 AND created_at < $2 \
         AND status IN ('succeeded', 'failed') ORDER BY created_at LIMIT $3"
    };
}

/// Events of account $1 created before $2 that no delivery refers to, the
/// oldest $3 of them. The walk in `seq` order stops at the first event
/// newer than the cutoff, so it reads only the old ones left.
const PURGE_EVENTS: &str = "DELETE FROM events WHERE seq IN (\
     SELECT e.seq FROM events e WHERE e.account_id = $1 AND e.created_at < $2 \
     AND e.seq < COALESCE((SELECT n.seq FROM events n WHERE n.account_id = $1 \
     AND n.created_at >= $2 ORDER BY n.seq LIMIT 1), 9223372036854775807) \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq) \
     ORDER BY e.seq LIMIT $3)";

/// How long a test send may wait for its one attempt before it counts as
/// abandoned.
pub const ABANDONED_TEST_AFTER_MS: i64 = HOUR_MS;

impl Store {
    /// Deletes up to `batch` finished deliveries (with their attempts)
    /// created before `cutoff_ms`, of one account; the hourly counts before
    /// the cutoff's hour go with them. Returns how many deliveries went.
    pub async fn purge_batch(&self, account_id: &str, cutoff_ms: i64, batch: i64) -> Result<u64> {
        let cutoff = cutoff_ms - cutoff_ms.rem_euclid(HOUR_MS);
        let choose = match self.db.backend() {
            Backend::Sqlite => purge_chosen!(),
            Backend::Postgres => concat!(purge_chosen!(), " FOR UPDATE"),
        };
        let mut tx = self.begin_write().await?;
        let ids: Vec<String> = in_tx!(&mut tx, t => sqlx::query_scalar(choose)
            .bind(account_id)
            .bind(cutoff)
            .bind(batch)
            .fetch_all(&mut **t)
            .await)?;
        if !ids.is_empty() {
            delete_by_ids(&mut tx, "DELETE FROM attempts WHERE delivery_id IN (", &ids).await?;
            delete_by_ids(&mut tx, "DELETE FROM deliveries WHERE id IN (", &ids).await?;
        }
        in_tx!(&mut tx, t => sqlx::query("DELETE FROM delivery_counts WHERE account_id = $1 AND hour < $2")
            .bind(account_id)
            .bind(cutoff)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Deletes up to `batch` events of one account created before
    /// `cutoff_ms` that no delivery refers to any more (their deliveries
    /// were purged, or they fired none). Their idempotency keys are
    /// forgotten with them. Returns how many went.
    pub async fn purge_events_batch(
        &self,
        account_id: &str,
        cutoff_ms: i64,
        batch: i64,
    ) -> Result<u64> {
        let gone = on_writer!(&self.db, pool => sqlx::query(PURGE_EVENTS)
            .bind(account_id)
            .bind(cutoff_ms)
            .bind(batch)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(gone)
    }

    /// Deletes, with their errors and stored rows, the jobs that finished
    /// before `finished_before_ms` (upkeep passes the retention cutoff) and
    /// the import drafts uploaded before `draft_before_ms` whose mapping
    /// never came. Returns how many jobs went.
    pub async fn purge_jobs(&self, finished_before_ms: i64, draft_before_ms: i64) -> Result<u64> {
        const CHOSEN: &str = "SELECT id FROM jobs WHERE (state IN ('done', 'cancelled', 'failed') \
             AND finished_at < $1) OR (state = 'draft' AND created_at < $2) LIMIT 500";
        let mut tx = self.begin_write().await?;
        let ids: Vec<String> = in_tx!(&mut tx, t => sqlx::query_scalar(CHOSEN)
            .bind(finished_before_ms)
            .bind(draft_before_ms)
            .fetch_all(&mut **t)
            .await)?;
        if !ids.is_empty() {
            delete_by_ids(&mut tx, "DELETE FROM import_rows WHERE job_id IN (", &ids).await?;
            delete_by_ids(&mut tx, "DELETE FROM job_errors WHERE job_id IN (", &ids).await?;
            delete_by_ids(&mut tx, "DELETE FROM jobs WHERE id IN (", &ids).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Marks failed the test sends made before `made_before_ms` still
    /// waiting for their attempt (the request that made one was
    /// cancelled): nothing else would ever finish them. Upkeep passes
    /// [`ABANDONED_TEST_AFTER_MS`] ago. Returns how many.
    pub async fn abandon_stale_test_sends(&self, made_before_ms: i64) -> Result<u64> {
        let now = now_ms();
        let marked = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE deliveries SET status = 'failed', claimed_until = 0, updated_at = $2, \
             last_error = 'The test send was abandoned before its attempt (its request ended).' \
             WHERE status = 'pending' AND attempts = 0 AND next_attempt_at IS NULL AND created_at < $1",
        )
        .bind(made_before_ms)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(marked)
    }
}

/// Runs `start` + `?, ?, …)` over `ids` in `tx`.
async fn delete_by_ids(tx: &mut WriteTx, start: &'static str, ids: &[String]) -> Result<()> {
    in_tx!(tx, t => {
        let mut q = sqlx::QueryBuilder::new(start);
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        q.build().execute(&mut **t).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
