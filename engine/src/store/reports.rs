//! The reports' queries: the webhooks report and its chart, read from the
//! hourly `delivery_counts` (never from every delivery), and folding those
//! counts.

use std::collections::HashMap;

use super::db::Db;
use super::{Result, Store};
use crate::clock::from_ms;
use crate::model::{DeliveryStatus, Trigger};
use crate::reports::{HourCount, Range, Report, WebhookCounts, chart_bars};

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

/// One webhook's deliveries in the range, by how they ended.
#[derive(Clone, Copy, Default)]
struct Tally {
    succeeded: i64,
    failed: i64,
    open: i64,
}

impl ReportHook {
    /// The report's row, or none for a deleted webhook that did not fire.
    fn counts(self, tally: Tally) -> Option<WebhookCounts> {
        let fired = tally.succeeded + tally.failed + tally.open;
        if self.deleted_at.is_some() && fired == 0 {
            return None;
        }
        let port = self.port.and_then(|p| u16::try_from(p).ok());
        Some(WebhookCounts {
            url: crate::render::effective_url(&self.url, port)
                .map(|u| u.to_string())
                .unwrap_or(self.url),
            triggers: serde_json::from_str::<Vec<Trigger>>(&self.triggers)
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.event_type)
                .collect(),
            webhook_id: self.id,
            title: self.title,
            created_at: from_ms(self.created_at),
            active: self.active,
            disabled_reason: self.disabled_reason,
            deleted: self.deleted_at.is_some(),
            fired,
            succeeded: tally.succeeded,
            failed: tally.failed,
            open: tally.open,
            last_fired: self.last_fired.map(from_ms),
        })
    }
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
        let hooks = on_reader!(&self.db, pool => sqlx::query_as::<_, ReportHook>(
            "SELECT w.id, w.title, w.url, w.port, w.triggers, w.created_at, w.active, w.disabled_reason, \
             w.deleted_at, (SELECT MAX(d.created_at) FROM deliveries d WHERE d.webhook_id = w.id) AS last_fired \
             FROM webhooks w WHERE w.account_id = $1 ORDER BY w.deleted_at IS NOT NULL, w.title, w.id",
        )
        .bind(account_id)
        .fetch_all(pool)
        .await)?;
        let tallies = self.tallies(account_id, &range).await?;
        let rows = hooks
            .into_iter()
            .filter_map(|h| {
                let tally = tallies.get(&h.id).copied().unwrap_or_default();
                h.counts(tally)
            })
            .collect();
        let hourly = self.hourly(account_id, &range, chart_webhook).await?;
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

    /// Each webhook's deliveries in the range, by how they ended.
    async fn tallies(&self, account_id: &str, range: &Range) -> Result<HashMap<String, Tally>> {
        let counts = on_reader!(&self.db, pool => sqlx::query_as::<_, CountRow>(
            "SELECT webhook_id AS key, status, CAST(SUM(n) AS BIGINT) AS n FROM delivery_counts \
             WHERE account_id = $1 AND hour >= $2 AND hour < $3 GROUP BY webhook_id, status",
        )
        .bind(account_id)
        .bind(range.from.timestamp_millis())
        .bind(range.to.timestamp_millis())
        .fetch_all(pool)
        .await)?;
        let mut tallies: HashMap<String, Tally> = HashMap::new();
        for c in counts {
            let tally = tallies.entry(c.key).or_default();
            match DeliveryStatus::parse(&c.status) {
                Some(DeliveryStatus::Succeeded) => tally.succeeded += c.n,
                Some(DeliveryStatus::Failed) => tally.failed += c.n,
                _ => tally.open += c.n,
            }
        }
        Ok(tallies)
    }

    /// The chart's counts per hour and status, for one webhook or all.
    async fn hourly(
        &self,
        account_id: &str,
        range: &Range,
        webhook: Option<&str>,
    ) -> Result<Vec<HourCount>> {
        let hourly = on_reader!(&self.db, pool => sqlx::query_as::<_, HourCount>(
            "SELECT hour, status, CAST(SUM(n) AS BIGINT) AS n FROM delivery_counts \
             WHERE account_id = $1 AND hour >= $2 AND hour < $3 AND ($4 IS NULL OR webhook_id = $4) \
             GROUP BY hour, status",
        )
        .bind(account_id)
        .bind(range.from.timestamp_millis())
        .bind(range.to.timestamp_millis())
        .bind(webhook)
        .fetch_all(pool)
        .await)?;
        Ok(hourly)
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
}
