//! Retrying: one delivery made due again (a support action), and
//! "retry all failed" runs, which mark a webhook's failed deliveries in a
//! range due again batch by batch, with their progress.

use super::db::begin_write;
use super::{Error, Result, Store};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::model::DeliveryStatus;
use crate::reports::{DeliveryState, Range, RetryRun};

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    webhook_id: String,
    title: String,
    range_from: i64,
    range_to: i64,
    marked: i64,
    marking_done: bool,
    created_at: i64,
}

impl Store {
    /// Makes a delivery due now for one more attempt (also after it failed).
    pub async fn retry_delivery(&self, account_id: &str, id: &str) -> Result<DeliveryState> {
        let now = now_ms();
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE deliveries SET status = 'retrying', next_attempt_at = $3, claimed_until = 0, updated_at = $3 \
             WHERE account_id = $1 AND id = $2 AND status IN ('failed', 'retrying', 'succeeded')",
        )
        .bind(account_id)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        let state = self.delivery(account_id, id).await?;
        if done == 0 && state.status == DeliveryStatus::Pending {
            return Err(Error::field(
                "id",
                "not_yet_attempted",
                "This delivery has not had its first attempt yet.",
            ));
        }
        Ok(state)
    }

    /// Starts "retry all failed" for a live webhook and a range. The caller
    /// then marks its deliveries with [`Store::mark_retry_batch`].
    pub async fn start_retry_run(
        &self,
        account_id: &str,
        webhook_id: &str,
        range: Range,
        user_id: &str,
    ) -> Result<RetryRun> {
        if !self.webhook(account_id, webhook_id).await?.input.active {
            return Err(Error::field(
                "webhook_id",
                "webhook_inactive",
                "The webhook is turned off; turn it on before retrying its deliveries.",
            ));
        }
        let id = new_id("rr");
        on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO retry_runs (id, account_id, webhook_id, range_from, range_to, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(webhook_id)
        .bind(range.from.timestamp_millis())
        .bind(range.to.timestamp_millis())
        .bind(user_id)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        self.retry_run(account_id, &id).await
    }

    /// Makes up to `batch` more failed deliveries of the run due now.
    /// Returns true when none are left to mark.
    pub async fn mark_retry_batch(&self, run_id: &str, batch: i64) -> Result<bool> {
        let now = now_ms();
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(begin_write(pool)).await?;
            let run = sqlx::query_as::<_, (String, i64, i64, bool)>(
                "SELECT webhook_id, range_from, range_to, marking_done FROM retry_runs WHERE id = $1",
            )
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((webhook_id, from, to, false)) = run else {
                return Ok(true);
            };
            let marked = sqlx::query(
                "UPDATE deliveries SET status = 'retrying', next_attempt_at = $1, claimed_until = 0, \
                 updated_at = $1, retry_run = $2 WHERE id IN (SELECT id FROM deliveries WHERE webhook_id = $3 \
                 AND created_at >= $4 AND created_at < $5 AND status = 'failed' \
                 AND (retry_run IS NULL OR retry_run <> $2) LIMIT $6)",
            )
            .bind(now)
            .bind(run_id)
            .bind(&webhook_id)
            .bind(from)
            .bind(to)
            .bind(batch)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let done = (marked as i64) < batch;
            sqlx::query("UPDATE retry_runs SET marked = marked + $2, marking_done = $3 WHERE id = $1")
                .bind(run_id)
                .bind(marked as i64)
                .bind(done)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done)
        })
    }

    /// A retry-all run with its progress, within the account.
    pub async fn retry_run(&self, account_id: &str, id: &str) -> Result<RetryRun> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, RunRow>(
            "SELECT r.id, r.webhook_id, w.title, r.range_from, r.range_to, r.marked, r.marking_done, r.created_at \
             FROM retry_runs r JOIN webhooks w ON w.id = r.webhook_id WHERE r.account_id = $1 AND r.id = $2",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        let counts = on_reader!(&self.db, pool => sqlx::query_as::<_, (String, i64)>(
            "SELECT status, COUNT(*) FROM deliveries WHERE retry_run = $1 GROUP BY status",
        )
        .bind(id)
        .fetch_all(pool)
        .await)?;
        let count = |status: &str| {
            counts
                .iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| n)
                .sum::<i64>()
        };
        Ok(RetryRun {
            id: row.id,
            webhook_id: row.webhook_id,
            webhook_title: row.title,
            range: Range {
                from: from_ms(row.range_from),
                to: from_ms(row.range_to),
            },
            created_at: from_ms(row.created_at),
            marked: row.marked,
            marking_done: row.marking_done,
            waiting: count("retrying") + count("pending"),
            succeeded: count("succeeded"),
            failed: count("failed"),
        })
    }

    /// The account's latest retry-all runs, newest first.
    pub async fn recent_retry_runs(&self, account_id: &str, limit: i64) -> Result<Vec<RetryRun>> {
        let ids = on_reader!(&self.db, pool => sqlx::query_scalar::<_, String>(
            "SELECT id FROM retry_runs WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        let mut runs = Vec::with_capacity(ids.len());
        for id in ids {
            runs.push(self.retry_run(account_id, &id).await?);
        }
        Ok(runs)
    }

    /// Runs whose marking stopped part-way (the process ended), to resume.
    pub async fn unmarked_retry_runs(&self) -> Result<Vec<String>> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_scalar::<_, String>(
            "SELECT id FROM retry_runs WHERE NOT marking_done ORDER BY created_at",
        )
        .fetch_all(pool)
        .await)?,
        )
    }
}
