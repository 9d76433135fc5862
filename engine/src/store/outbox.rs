//! The events of record changes on their way to the engine. A change
//! writes its events here in its own transaction; the engine then accepts
//! them (their idempotency key is the row's id) and the rows are cleared.
//! Rows a stopped process left are accepted by the upkeep: an event is
//! never lost, and never accepted twice.

use super::db::WriteTx;
use super::{Result, Store};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::model::NewEvent;

/// The events one change wrote, each with its idempotency key set.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    pub events: Vec<NewEvent>,
}

impl Outbox {
    /// Writes `event` (stamped now) in `tx` and keeps it for accepting.
    pub(crate) async fn add(
        &mut self,
        tx: &mut WriteTx,
        account_id: &str,
        event: NewEvent,
    ) -> Result<()> {
        self.add_all(tx, account_id, vec![event]).await
    }

    /// Writes `events` (stamped now) in `tx` in one statement, and keeps
    /// them for accepting.
    pub(crate) async fn add_all(
        &mut self,
        tx: &mut WriteTx,
        account_id: &str,
        mut events: Vec<NewEvent>,
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut rows = Vec::with_capacity(events.len());
        for event in &mut events {
            let id = new_id("rev");
            event.occurred_at.get_or_insert(from_ms(now));
            event.idempotency_key = Some(id.clone());
            let json = serde_json::to_string(&event)
                .map_err(|e| super::Error::Corrupt(format!("record event: {e}")))?;
            rows.push((id, json));
        }
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO record_outbox (id, account_id, event, created_at) ",
            );
            q.push_values(&rows, |mut row, (id, json)| {
                row.push_bind(id).push_bind(account_id).push_bind(json).push_bind(now);
            });
            q.build().execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
        self.events.extend(events);
        Ok(())
    }

    pub fn extend(&mut self, other: Outbox) {
        self.events.extend(other.events);
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The rows' ids, to clear once accepted.
    pub fn keys(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| e.idempotency_key.clone())
            .collect()
    }
}

/// Events left in the outbox, for one account.
#[derive(Debug)]
pub struct LeftOver {
    pub account_id: String,
    pub events: Vec<NewEvent>,
}

impl Store {
    /// Clears accepted events.
    pub async fn clear_outbox(&self, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(500) {
            let marks = (1..=chunk.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("DELETE FROM record_outbox WHERE id IN ({marks})");
            on_writer!(&self.db, pool => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for key in chunk {
                    query = query.bind(key);
                }
                query.execute(pool).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Up to `limit` events written more than `older_than_ms` ago and not
    /// cleared, oldest first, by account.
    pub async fn left_in_outbox(&self, older_than_ms: i64, limit: i64) -> Result<Vec<LeftOver>> {
        let rows: Vec<(String, String)> = on_reader!(&self.db, pool => sqlx::query_as(
            "SELECT account_id, event FROM record_outbox WHERE created_at < $1 \
             ORDER BY created_at, id LIMIT $2",
        )
        .bind(now_ms() - older_than_ms)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        let mut out: Vec<LeftOver> = Vec::new();
        for (account_id, json) in rows {
            let event: NewEvent = serde_json::from_str(&json)
                .map_err(|e| super::Error::Corrupt(format!("record event: {e}")))?;
            match out.iter_mut().find(|l| l.account_id == account_id) {
                Some(left) => left.events.push(event),
                None => out.push(LeftOver {
                    account_id,
                    events: vec![event],
                }),
            }
        }
        Ok(out)
    }
}
