//! The reports' queries: the webhooks report and its chart (read from the
//! hourly `delivery_counts`, never from every delivery), folding those
//! counts, retry-all runs, and the retention purge.

use std::collections::HashMap;

use super::{Db, Result, Store, from_ms, new_id, now_ms};
use crate::model::Trigger;
use crate::reports::{Range, Report, RetryRun, WebhookCounts, chart_bars};

const HOUR_MS: i64 = 3_600_000;

#[derive(sqlx::FromRow)]
struct ReportHook {
    id: String,
    title: String,
    url: String,
    port: Option<i32>,
    triggers: String,
    created_at: i64,
    active: bool,
    disabled_reason: Option<String>,
    deleted_at: Option<i64>,
    last_fired: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    key: String,
    status: String,
    n: i64,
}

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

/// The deliveries one purge batch removes: finished ones (the work on them
/// is over) of account $1 created before $2, oldest first, $3 of them.
macro_rules! purge_chosen {
    () => {
        "SELECT id FROM deliveries WHERE account_id = $1 AND created_at < $2 \
         AND status IN ('succeeded', 'failed') ORDER BY created_at LIMIT $3"
    };
}

impl Store {
    /// The webhooks report: every webhook of the account by title (deleted
    /// ones last, and only with deliveries in the range) with its counts, and the
    /// chart for one webhook or all.
    pub async fn report(
        &self,
        account_id: &str,
        range: Range,
        chart_webhook: Option<&str>,
        retention_days: u32,
    ) -> Result<Report> {
        let (from, to) = (range.from.timestamp_millis(), range.to.timestamp_millis());
        let hooks = on_reader!(&self.db, pool => sqlx::query_as::<_, ReportHook>(
            "SELECT w.id, w.title, w.url, w.port, w.triggers, w.created_at, w.active, w.disabled_reason, \
             w.deleted_at, (SELECT MAX(d.created_at) FROM deliveries d WHERE d.webhook_id = w.id) AS last_fired \
             FROM webhooks w WHERE w.account_id = $1 ORDER BY w.deleted_at IS NOT NULL, w.title, w.id",
        )
        .bind(account_id)
        .fetch_all(pool)
        .await)?;
        let counts = on_reader!(&self.db, pool => sqlx::query_as::<_, CountRow>(
            "SELECT webhook_id AS key, status, CAST(SUM(n) AS BIGINT) AS n FROM delivery_counts \
             WHERE account_id = $1 AND hour >= $2 AND hour < $3 GROUP BY webhook_id, status",
        )
        .bind(account_id)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await)?;
        let mut by_hook: HashMap<String, (i64, i64, i64)> = HashMap::new();
        for c in counts {
            let entry = by_hook.entry(c.key).or_default();
            match c.status.as_str() {
                "succeeded" => entry.0 += c.n,
                "failed" => entry.1 += c.n,
                _ => entry.2 += c.n,
            }
        }
        let rows = hooks
            .into_iter()
            .filter_map(|h| {
                let (succeeded, failed, open) = by_hook.get(&h.id).copied().unwrap_or_default();
                let fired = succeeded + failed + open;
                if h.deleted_at.is_some() && fired == 0 {
                    return None;
                }
                let port = h.port.and_then(|p| u16::try_from(p).ok());
                Some(WebhookCounts {
                    url: crate::render::effective_url(&h.url, port)
                        .map(|u| u.to_string())
                        .unwrap_or(h.url),
                    triggers: serde_json::from_str::<Vec<Trigger>>(&h.triggers)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| t.event_type)
                        .collect(),
                    webhook_id: h.id,
                    title: h.title,
                    created_at: from_ms(h.created_at),
                    active: h.active,
                    disabled_reason: h.disabled_reason,
                    deleted: h.deleted_at.is_some(),
                    fired,
                    succeeded,
                    failed,
                    open,
                    last_fired: h.last_fired.map(from_ms),
                })
            })
            .collect();
        let hourly = on_reader!(&self.db, pool => sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT hour, status, CAST(SUM(n) AS BIGINT) FROM delivery_counts \
             WHERE account_id = $1 AND hour >= $2 AND hour < $3 AND ($4 IS NULL OR webhook_id = $4) \
             GROUP BY hour, status",
        )
        .bind(account_id)
        .bind(from)
        .bind(to)
        .bind(chart_webhook)
        .fetch_all(pool)
        .await)?;
        let oldest = on_reader!(&self.db, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(created_at) FROM deliveries WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_one(pool)
        .await)?;
        Ok(Report {
            chart: chart_bars(&range, &hourly),
            bucket: range.bucket(),
            range,
            rows,
            chart_webhook: chart_webhook.map(str::to_string),
            oldest: oldest.map(from_ms),
            retention_days,
        })
    }

    /// Folds the count rows of each (webhook, hour, status) into one, so the
    /// report reads few rows (PostgreSQL, whose triggers append; SQLite's
    /// keep one row per key). Safe beside writers and other processes.
    pub async fn compact_counts(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pools) => {
                let pool = &pools.write;
                // The triggers keep one row per key; only empty ones go.
                sqlx::query("DELETE FROM delivery_counts WHERE n = 0")
                    .execute(pool)
                    .await?;
            }
            Db::Postgres(pool) => {
                // One statement: the rows summed are exactly the rows deleted,
                // whatever other transactions append meanwhile.
                sqlx::query(
                    "WITH folded AS (SELECT account_id, webhook_id, hour, status FROM delivery_counts \
                     GROUP BY account_id, webhook_id, hour, status HAVING COUNT(*) > 1 OR SUM(n) = 0), \
                     moved AS (DELETE FROM delivery_counts c USING folded f WHERE c.account_id = f.account_id \
                     AND c.webhook_id = f.webhook_id AND c.hour = f.hour AND c.status = f.status \
                     RETURNING c.account_id, c.webhook_id, c.hour, c.status, c.n) \
                     INSERT INTO delivery_counts (account_id, webhook_id, hour, status, n) \
                     SELECT account_id, webhook_id, hour, status, CAST(SUM(n) AS BIGINT) FROM moved \
                     GROUP BY account_id, webhook_id, hour, status HAVING SUM(n) <> 0",
                )
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Brings the planner's statistics up to date after a bulk load (the
    /// reports benchmark's seeding), as autovacuum would soon after: on
    /// PostgreSQL the folded count rows leave dead tuples behind.
    pub async fn refresh_statistics(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pools) => {
                let pool = &pools.write;
                sqlx::query("ANALYZE").execute(pool).await?;
            }
            Db::Postgres(pool) => {
                // The whole database first: the folded rows can only be
                // vacuumed away once no snapshot older than the fold is
                // open, and autovacuum's own ANALYZE of the freshly loaded
                // tables holds one for a few seconds.
                sqlx::query("ANALYZE").execute(pool).await?;
                sqlx::query("VACUUM ANALYZE delivery_counts")
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Deletes up to `batch` finished deliveries (with their attempts)
    /// created before `cutoff_ms`, of one account; the hourly counts before
    /// the cutoff's hour go with them. Returns how many deliveries went.
    pub async fn purge_batch(&self, account_id: &str, cutoff_ms: i64, batch: i64) -> Result<u64> {
        let cutoff = cutoff_ms - cutoff_ms.rem_euclid(HOUR_MS);
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(super::begin_write(pool)).await?;
            sqlx::query(concat!("DELETE FROM attempts WHERE delivery_id IN (", purge_chosen!(), ")"))
                .bind(account_id)
                .bind(cutoff)
                .bind(batch)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query(concat!("DELETE FROM deliveries WHERE id IN (", purge_chosen!(), ")"))
                .bind(account_id)
                .bind(cutoff)
                .bind(batch)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM delivery_counts WHERE account_id = $1 AND hour < $2")
                .bind(account_id)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(gone)
        })
    }

    /// Every webhook of the account, deleted ones too, as (id, title,
    /// deleted): the history names deliveries of deleted webhooks.
    pub async fn webhook_titles(&self, account_id: &str) -> Result<Vec<(String, String, bool)>> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_as::<_, (String, String, bool)>(
            "SELECT id, title, deleted_at IS NOT NULL FROM webhooks WHERE account_id = $1 \
             ORDER BY deleted_at IS NOT NULL, title, id",
        )
        .bind(account_id)
        .fetch_all(pool)
        .await)?,
        )
    }

    /// The ids of every account, for work done account by account.
    pub async fn account_ids(&self) -> Result<Vec<String>> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_scalar::<_, String>("SELECT id FROM accounts ORDER BY id")
            .fetch_all(pool)
            .await)?,
        )
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
            return Err(super::Error::field(
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
            let mut tx = pool.begin_with(super::begin_write(pool)).await?;
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
        .ok_or(super::Error::NotFound)?;
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

/// A delivery from the past, with its attempts: for benchmarks that need a
/// realistic history, and for tests of ranges and boundaries. It goes in
/// through the same tables and triggers as live deliveries.
#[derive(Clone, Debug)]
pub struct PastDelivery {
    pub created_at_ms: i64,
    pub event_type: String,
    pub data: serde_json::Value,
    /// pending, retrying, succeeded or failed.
    pub status: &'static str,
    pub attempts: Vec<PastAttempt>,
}

#[derive(Clone, Debug)]
pub struct PastAttempt {
    pub at_ms: i64,
    pub duration_ms: i64,
    pub request: crate::model::SentRequest,
    pub response: Option<crate::model::ReceivedResponse>,
    pub error: Option<String>,
}

impl Store {
    /// Stores past deliveries of one webhook (one event each) in one
    /// transaction; returns their ids in order.
    pub async fn import_past_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        past: &[PastDelivery],
    ) -> Result<Vec<String>> {
        let ids: Vec<(String, String)> = past
            .iter()
            .map(|_| (new_id("evt"), new_id("dlv")))
            .collect();
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(super::begin_write(pool)).await?;
            // 1,000 rows per statement stays under both drivers' bind limits.
            for (chunk, chunk_ids) in past.chunks(1000).zip(ids.chunks(1000)) {
                let mut events = sqlx::QueryBuilder::new(
                    "INSERT INTO events (id, account_id, type, occurred_at, data, created_at) ",
                );
                events.push_values(chunk.iter().zip(chunk_ids), |mut row, (p, (event_id, _))| {
                    row.push_bind(event_id)
                        .push_bind(account_id)
                        .push_bind(&p.event_type)
                        .push_bind(p.created_at_ms)
                        .push_bind(p.data.to_string())
                        .push_bind(p.created_at_ms);
                });
                events.push(" RETURNING id, seq");
                let seqs: HashMap<String, i64> = events
                    .build_query_as::<(String, i64)>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let mut deliveries = sqlx::QueryBuilder::new(
                    "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, status, attempts, \
                     next_attempt_at, last_response_status, last_error, created_at, updated_at, event_type, \
                     record_id, record_label) ",
                );
                deliveries.push_values(chunk.iter().zip(chunk_ids), |mut row, (p, (event_id, id))| {
                    let last = p.attempts.last();
                    let (record_id, record_label) = crate::reports::record_of(&p.data);
                    let open = matches!(p.status, "pending" | "retrying");
                    row.push_bind(id)
                        .push_bind(account_id)
                        .push_bind(webhook_id)
                        .push_bind(seqs.get(event_id).copied().unwrap_or_default())
                        .push_bind(p.status)
                        .push_bind(p.attempts.len() as i32)
                        .push_bind(open.then(|| last.map_or(p.created_at_ms, |a| a.at_ms) + 300_000))
                        .push_bind(last.and_then(|a| a.response.as_ref()).map(|r| i32::from(r.status)))
                        .push_bind(last.and_then(|a| a.error.clone()))
                        .push_bind(p.created_at_ms)
                        .push_bind(last.map_or(p.created_at_ms, |a| a.at_ms))
                        .push_bind(&p.event_type)
                        .push_bind(record_id)
                        .push_bind(record_label);
                });
                deliveries.build().execute(&mut *tx).await?;
                let attempts: Vec<(&String, usize, &PastAttempt)> = chunk
                    .iter()
                    .zip(chunk_ids)
                    .flat_map(|(p, (_, id))| p.attempts.iter().enumerate().map(move |(i, a)| (id, i + 1, a)))
                    .collect();
                for part in attempts.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO attempts (delivery_id, attempt, at, duration_ms, request, response_status, \
                         response_headers, response_body, error) ",
                    );
                    insert.push_values(part, |mut row, (id, n, a)| {
                        row.push_bind(*id)
                            .push_bind(*n as i32)
                            .push_bind(a.at_ms)
                            .push_bind(i32::try_from(a.duration_ms).unwrap_or(i32::MAX))
                            .push_bind(serde_json::to_string(&a.request).unwrap_or_default())
                            .push_bind(a.response.as_ref().map(|r| i32::from(r.status)))
                            .push_bind(a.response.as_ref().map(|r| serde_json::to_string(&r.headers).unwrap_or_default()))
                            .push_bind(a.response.as_ref().map(|r| r.body.clone()))
                            .push_bind(a.error.clone());
                    });
                    insert.build().execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(ids.into_iter().map(|(_, id)| id).collect())
        })
    }
}
