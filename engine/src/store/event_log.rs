//! The ordered event log: every event of the account (test sends left
//! out) in the order a reader can rely on, read from a cursor.

use serde_json::Value;

use super::db::Db;
use super::{Error, Result, Store};
use crate::clock::from_ms;
use crate::model::{EventPage, LoggedEvent};

/// The most events one page of the log holds.
pub const MAX_PAGE: i64 = 1000;

#[derive(sqlx::FromRow)]
struct LogRow {
    id: String,
    account_id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: i64,
    actor: Option<String>,
    data: String,
    seq: i64,
    tx: i64,
}

impl Store {
    /// The account's event log in order, after a cursor, optionally of one type.
    pub async fn list_events(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: i64,
        event_type: Option<&str>,
    ) -> Result<EventPage> {
        // The cursor is "tx_seq": the inserting transaction (0 on SQLite,
        // whose seq order is its commit order) and the sequence number.
        let (after_tx, after_seq) = match after {
            None | Some("") => (0, 0),
            Some(cursor) => {
                let (tx, seq) = cursor.split_once('_').unwrap_or(("0", cursor));
                tx.parse::<i64>()
                    .ok()
                    .zip(seq.parse::<i64>().ok())
                    .ok_or_else(|| {
                        Error::field(
                            "after",
                            "invalid_cursor",
                            "The cursor is not one this server gave out.",
                        )
                    })?
            }
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let rows = match &self.db {
            Db::Sqlite(pools) => {
                let pool = &pools.read;
                sqlx::query_as::<_, LogRow>(
                    "SELECT id, account_id, type, occurred_at, actor, data, seq, 0 AS tx FROM events \
                     WHERE account_id = $1 AND seq > $2 AND ($3 IS NULL OR type = $3) AND NOT is_test \
                     ORDER BY seq LIMIT $4",
                )
                .bind(account_id)
                .bind(after_seq)
                .bind(event_type)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            Db::Postgres(pool) => {
                // Only transactions older than every one still running: what
                // this returns is final, and nothing can commit before it.
                sqlx::query_as::<_, LogRow>(
                    "SELECT id, account_id, type, occurred_at, actor, data, seq, tx FROM events \
                     WHERE account_id = $1 AND (tx, seq) > ($2, $3) AND ($4::text IS NULL OR type = $4) \
                     AND NOT is_test AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                     ORDER BY tx, seq LIMIT $5",
                )
                .bind(account_id)
                .bind(after_tx)
                .bind(after_seq)
                .bind(event_type)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        // Where to continue: after the last event returned, or where the
        // reader already was. A reader at the end keeps its place and sees
        // new events there.
        let next_cursor = rows
            .last()
            .map(|r| format!("{}_{}", r.tx, r.seq))
            .or_else(|| after.filter(|a| !a.is_empty()).map(str::to_string));
        let data = rows
            .into_iter()
            .map(|r| LoggedEvent {
                id: r.id,
                event_type: r.event_type,
                occurred_at: from_ms(r.occurred_at),
                account_id: r.account_id,
                actor: r.actor.and_then(|a| serde_json::from_str(&a).ok()),
                data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
            })
            .collect();
        Ok(EventPage { data, next_cursor })
    }
}
