//! Claiming: due deliveries leased to this process (a crashed worker's
//! lease runs out and any worker takes them again), an inline delivery
//! for the request that made it, a delivery for a resend, and handing
//! claims back unsent.

use super::INLINE_HOLD_MS;
use crate::clock::now_ms;
use crate::job::Job;
use crate::store::db::{Backend, WriteTx, keep_prepared};
use crate::store::{Error, Result, Store};

/// A delivery a claim took.
#[derive(sqlx::FromRow)]
pub(crate) struct Claimed {
    pub(super) id: String,
    pub(super) account_id: String,
    pub(super) webhook_id: String,
    pub(super) event_seq: i64,
    pub(super) attempts: i32,
}

/// SQLite: webhook by webhook (CROSS JOIN keeps webhooks the outer loop),
/// leaving out those at their in-flight limit before reading any of their
/// deliveries. Fast deliveries come from each
/// webhook's due index; a queued webhook offers only the head of its line,
/// when that is due.
const CLAIM_SQLITE: &str = "UPDATE deliveries SET claimed_until = $1, claimed_by = $5 WHERE id IN (\
     SELECT x.id FROM webhooks w CROSS JOIN deliveries x \
     WHERE x.webhook_id = w.id AND w.id NOT IN (SELECT value FROM json_each($4)) AND x.status IN ('pending', 'retrying') \
     AND NOT x.queued AND x.next_attempt_at <= $2 AND x.claimed_until < $2 \
     UNION ALL \
     SELECT h.id FROM webhooks w CROSS JOIN deliveries h WHERE h.id = (SELECT o.id FROM deliveries o \
     WHERE o.webhook_id = w.id AND o.status IN ('pending', 'retrying') AND o.queued ORDER BY o.event_seq LIMIT 1) \
     AND w.id NOT IN (SELECT value FROM json_each($4)) AND h.next_attempt_at <= $2 \
     AND h.claimed_until < $2 \
     LIMIT $3) \
     RETURNING id, account_id, webhook_id, event_seq, attempts";

/// PostgreSQL, fast deliveries: webhook by webhook like SQLite's, each
/// webhook's due rows locked with SKIP LOCKED, so two workers never take
/// the same delivery (a row another worker claimed meanwhile is re-checked
/// after its lock and no longer matches).
const CLAIM_FAST_POSTGRES: &str = "UPDATE deliveries SET claimed_until = $1, claimed_by = $5 WHERE id IN (\
     SELECT f.id FROM webhooks w CROSS JOIN LATERAL (SELECT x.id FROM deliveries x \
     WHERE x.webhook_id = w.id AND x.status IN ('pending', 'retrying') AND NOT x.queued \
     AND x.next_attempt_at <= $2 AND x.claimed_until < $2 \
     ORDER BY x.next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) f \
     WHERE w.id NOT IN (SELECT jsonb_array_elements_text($4::jsonb)) LIMIT $3) \
     RETURNING id, account_id, webhook_id, event_seq, attempts";

/// PostgreSQL, queued deliveries: the head of each webhook's line, when it
/// is due and no one holds it. A worker whose snapshot still shows a head
/// another just finished finds it changed once it has the lock, and takes
/// nothing, never the one behind it.
const CLAIM_QUEUED_POSTGRES: &str = "UPDATE deliveries SET claimed_until = $1, claimed_by = $5 WHERE id IN (\
     SELECT d.id FROM deliveries d WHERE d.id IN (SELECT (SELECT o.id FROM deliveries o \
     WHERE o.webhook_id = w.id AND o.status IN ('pending', 'retrying') AND o.queued ORDER BY o.event_seq LIMIT 1) \
     FROM webhooks w WHERE w.id NOT IN (SELECT jsonb_array_elements_text($4::jsonb))) \
     AND d.queued AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $2 AND d.claimed_until < $2 \
     LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, account_id, webhook_id, event_seq, attempts";

/// The claim statements of each backend, run in turn while the limit
/// allows; each binds (lease end, now, limit, skipped webhooks, worker).
fn claim_sql(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => &[CLAIM_SQLITE],
        Backend::Postgres => &[CLAIM_FAST_POSTGRES, CLAIM_QUEUED_POSTGRES],
    }
}

impl Store {
    /// Takes an inline delivery that [`Store::accept_events`] just held for
    /// this request, if it is (when queued) first in its webhook's line.
    pub async fn claim_inline(&self, delivery_id: &str) -> Result<Option<Job>> {
        let now = now_ms();
        let lease_ms = INLINE_HOLD_MS;
        let claimed = on_writer!(&self.db, pool => sqlx::query_as::<_, Claimed>(
            "UPDATE deliveries SET claimed_until = $1, claimed_by = $4 WHERE id = $3 AND status = 'pending' AND attempts = 0 \
             AND claimed_until > $2 AND (NOT queued OR NOT EXISTS (SELECT 1 FROM deliveries p \
             WHERE p.webhook_id = deliveries.webhook_id AND p.status IN ('pending', 'retrying') \
             AND p.queued AND p.event_seq < deliveries.event_seq)) \
             RETURNING id, account_id, webhook_id, event_seq, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(delivery_id)
        .bind(&*self.worker)
        .fetch_all(pool)
        .await)?;
        Ok(self.jobs_for(claimed).await?.pop())
    }

    /// Takes a delivery for a resend: due now and claimed by the caller in
    /// one statement, so no worker sends it too. Fails when it has not had
    /// its first attempt yet or an attempt is in flight.
    pub async fn take_for_resend(
        &self,
        account_id: &str,
        delivery_id: &str,
        lease_ms: i64,
    ) -> Result<Job> {
        let now = now_ms();
        let claimed = on_writer!(&self.db, pool => sqlx::query_as::<_, Claimed>(
            "UPDATE deliveries SET status = 'retrying', next_attempt_at = $2, claimed_until = $3, claimed_by = $5, updated_at = $2 \
             WHERE account_id = $1 AND id = $4 AND attempts > 0 AND claimed_until < $2 \
             RETURNING id, account_id, webhook_id, event_seq, attempts",
        )
        .bind(account_id)
        .bind(now)
        .bind(now + lease_ms)
        .bind(delivery_id)
        .bind(&*self.worker)
        .fetch_all(pool)
        .await)?;
        if claimed.is_empty() {
            let state = self.delivery(account_id, delivery_id).await?;
            return Err(if state.attempts == 0 {
                Error::field(
                    "id",
                    "not_yet_attempted",
                    "This delivery has not had its first attempt yet.",
                )
            } else {
                Error::field(
                    "id",
                    "in_flight",
                    "An attempt of this delivery is being sent right now; try again in a moment.",
                )
            });
        }
        self.jobs_for(claimed).await?.pop().ok_or_else(|| {
            Error::field(
                "id",
                "webhook_gone",
                "The webhook was deleted or turned off; turn it on to resend.",
            )
        })
    }

    /// Hands claimed deliveries back unsent; any worker may claim them
    /// again after `delay_ms`.
    pub async fn release_claims(&self, delivery_ids: &[String], delay_ms: i64) -> Result<()> {
        let until = now_ms() + delay_ms;
        on_writer!(&self.db, pool => {
            let mut q = sqlx::QueryBuilder::new("UPDATE deliveries SET claimed_until = ");
            q.push_bind(until).push(" WHERE id IN (");
            let mut ids = q.separated(", ");
            for id in delivery_ids {
                ids.push_bind(id);
            }
            q.push(")");
            q.build().persistent(keep_prepared(delivery_ids.len())).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// At start: hands back what this process held when it last stopped,
    /// so it goes out at once instead of when its lease runs out. On
    /// SQLite one process owns the file, so every claim is stale; on
    /// PostgreSQL only those made under this worker's name
    /// ([`Store::with_worker`]). How many it handed back.
    pub async fn release_stale_claims(&self) -> Result<u64> {
        let now = now_ms();
        // On SQLite, anyone's.
        let whose = match self.db.backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(&*self.worker),
        };
        let released = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE deliveries SET claimed_until = 0, claimed_by = NULL \
             WHERE status IN ('pending', 'retrying') AND claimed_until > $1 \
             AND ($2 IS NULL OR claimed_by = $2)",
        )
        .bind(now)
        .bind(whose)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(released)
    }

    /// Lets any worker take an inline delivery that could not be attempted
    /// at once (a queued one waiting for its turn).
    pub async fn release_inline(&self, delivery_id: &str) -> Result<()> {
        on_writer!(&self.db, pool => sqlx::query(
            "UPDATE deliveries SET claimed_until = 0 WHERE id = $1 AND status = 'pending' AND attempts = 0",
        )
        .bind(delivery_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries in `tx` for `lease_ms`, leaving
    /// out `skip_webhooks`.
    pub(super) async fn claim_in(
        &self,
        tx: &mut WriteTx,
        limit: i64,
        lease_ms: i64,
        skip_webhooks: &[String],
        now: i64,
    ) -> Result<Vec<Claimed>> {
        let mut claimed = Vec::new();
        if limit <= 0 {
            return Ok(claimed);
        }
        let skip = serde_json::to_string(skip_webhooks).unwrap_or_else(|_| "[]".into());
        for sql in claim_sql(self.db.backend()) {
            let room = limit - claimed.len() as i64;
            if room <= 0 {
                break;
            }
            claimed.extend(in_tx!(tx, t => sqlx::query_as::<_, Claimed>(*sql)
                .bind(now + lease_ms)
                .bind(now)
                .bind(room)
                .bind(&skip)
                .bind(&*self.worker)
                .fetch_all(&mut **t)
                .await)?);
        }
        Ok(claimed)
    }

    /// Gives a delivery up without an attempt, for `reason`.
    pub(super) async fn give_up(&self, delivery_id: &str, reason: &str) -> Result<()> {
        on_writer!(&self.db, pool => sqlx::query(
            "UPDATE deliveries SET status = 'failed', last_error = $2, claimed_until = 0, updated_at = $3 WHERE id = $1",
        )
        .bind(delivery_id)
        .bind(reason)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
