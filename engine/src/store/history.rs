//! Deliveries and attempts as support reads them: one delivery, the
//! history's keyset pages (filtered by webhook, status, event type, record
//! and dates), a delivery's event and its attempts.

use serde::Deserialize;

use super::db::Backend;
use super::turn::StoredEvent;
use super::{Error, Result, Store};
use crate::clock::from_ms;
use crate::model::{DeliveryStatus, Event, ReceivedResponse, SentRequest};
use crate::reports::{AttemptRecord, DeliveryPage, DeliveryState};

#[derive(sqlx::FromRow)]
struct StateRow {
    id: String,
    webhook_id: String,
    event_id: String,
    event_type: String,
    created_at: i64,
    status: String,
    attempts: i32,
    next_attempt_at: Option<i64>,
    last_response_status: Option<i32>,
    last_error: Option<String>,
    record_id: Option<String>,
    record_label: Option<String>,
    is_test: bool,
    manual: bool,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i32,
    at: i64,
    duration_ms: i32,
    request: String,
    response_status: Option<i32>,
    response_headers: Option<String>,
    response_body: Option<Vec<u8>>,
    error: Option<String>,
}

/// The columns [`StateRow`] reads, as a literal for `concat!`.
macro_rules! state_columns {
    () => {
        "d.id, d.webhook_id, e.id AS event_id, e.type AS event_type, d.created_at, d.status, d.attempts, \
         d.next_attempt_at, d.last_response_status, d.last_error, d.record_id, d.record_label, e.is_test, e.manual"
    };
}

/// Filters of the deliveries list; all optional.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeliveryFilter {
    pub webhook_id: Option<String>,
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// The record's id (exact).
    pub record: Option<String>,
    /// The deliveries a job made (exact).
    pub job: Option<String>,
    /// The next (older) page: a `next_cursor` this server gave out.
    pub cursor: Option<String>,
    /// The previous (newer) page: a `prev_cursor` this server gave out.
    pub prev: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

impl DeliveryFilter {
    /// The console's history filters (dates in whole days) as a filter.
    pub fn from_query(
        query: &crate::reports::HistoryQuery,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> std::result::Result<DeliveryFilter, crate::validate::FieldError> {
        let range = query.range(now)?;
        Ok(DeliveryFilter {
            webhook_id: query.webhook().map(str::to_string),
            status: query.status().map(str::to_string),
            event_type: query.event_type().map(str::to_string),
            record: query.record().map(str::to_string),
            job: query.job().map(str::to_string),
            from: range.map(|r| r.from),
            to: range.map(|r| r.to),
            cursor: query.cursor.clone(),
            prev: query.prev.clone(),
            limit,
        })
    }
}

fn default_limit() -> i64 {
    100
}

impl TryFrom<StateRow> for DeliveryState {
    type Error = Error;

    fn try_from(row: StateRow) -> Result<Self> {
        let status = DeliveryStatus::parse(&row.status).ok_or_else(|| {
            Error::Corrupt(format!("delivery {}: status {:?}", row.id, row.status))
        })?;
        Ok(DeliveryState {
            id: row.id,
            webhook_id: row.webhook_id,
            event_id: row.event_id,
            event_type: row.event_type,
            created_at: from_ms(row.created_at),
            status,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            next_attempt_at: row.next_attempt_at.map(from_ms),
            last_response_status: row.last_response_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
            record_id: row.record_id,
            record_label: row.record_label,
            test: row.is_test && !row.manual,
            manual: row.manual,
        })
    }
}

/// Where a page of the history starts.
struct Position {
    /// After this (created at, id), or from the newest when `None`.
    at: Option<(i64, String)>,
    /// Going back towards newer deliveries (a `prev` cursor).
    newer: bool,
    /// Going on from a `cursor`: there are newer deliveries before it.
    from_cursor: bool,
}

impl Position {
    /// The filter's `prev` cursor, else its `cursor`; a field error when
    /// one is not a cursor this server gave out.
    fn of(filter: &DeliveryFilter) -> Result<Position> {
        let parse = |field: &str, cursor: &str| {
            cursor
                .split_once('_')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| {
                    Error::field(
                        field,
                        "invalid_cursor",
                        "The cursor is not one this server gave out.",
                    )
                })
        };
        if let Some(prev) = filter.prev.as_deref().filter(|p| !p.is_empty()) {
            return Ok(Position {
                at: Some(parse("prev", prev)?),
                newer: true,
                from_cursor: false,
            });
        }
        let at = match filter.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(cursor) => Some(parse("cursor", cursor)?),
            None => None,
        };
        Ok(Position {
            from_cursor: at.is_some(),
            at,
            newer: false,
        })
    }
}

impl Position {
    /// The page of `limit` rows read from this position (the query asks
    /// for one more, to know whether there is more).
    fn page(&self, rows: Vec<StateRow>, limit: i64) -> Result<DeliveryPage> {
        let more = rows.len() as i64 > limit;
        let mut data: Vec<DeliveryState> = rows
            .into_iter()
            .take(limit as usize)
            .map(DeliveryState::try_from)
            .collect::<Result<_>>()?;
        if self.newer {
            data.reverse();
        }
        let cursor_of = |d: &DeliveryState| format!("{}_{}", d.created_at.timestamp_millis(), d.id);
        // Going back, there is more before when the query found more; going
        // forward, there is something before whenever we came from a cursor.
        let (has_newer, has_older) = if self.newer {
            (more, true)
        } else {
            (self.from_cursor, more)
        };
        Ok(DeliveryPage {
            next_cursor: data.last().filter(|_| has_older).map(cursor_of),
            prev_cursor: data.first().filter(|_| has_newer).map(cursor_of),
            data,
        })
    }
}

/// The condition of `deliveries_account_status_created` (every status but
/// succeeded), word for word as migration 0006 has it: SQLite uses a
/// partial index only for a query that repeats its condition.
const NOT_SUCCEEDED: &str = " AND d.status IN ('pending', 'retrying', 'failed')";

impl Store {
    /// A delivery's state, within the account.
    pub async fn delivery(&self, account_id: &str, id: &str) -> Result<DeliveryState> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, StateRow>(concat!(
            "SELECT ", state_columns!(), " FROM deliveries d JOIN events e ON e.seq = d.event_seq \
             WHERE d.account_id = $1 AND d.id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        row.try_into()
    }

    /// The account's deliveries, newest first, filtered, one page before
    /// (`cursor`) or after (`prev`) a position. Keyset pagination: every
    /// page is an index range, however deep.
    pub async fn list_deliveries(
        &self,
        account_id: &str,
        filter: &DeliveryFilter,
    ) -> Result<DeliveryPage> {
        let position = Position::of(filter)?;
        let newer = position.newer;
        let limit = filter.limit.clamp(1, 500);
        // Only the filters given go into the query, so the database can
        // pick the index that fits them; the position is a row-value
        // comparison, one index range in both databases.
        let equal = [
            ("d.webhook_id", filter.webhook_id.as_deref()),
            ("d.status", filter.status.as_deref()),
            ("d.event_type", filter.event_type.as_deref()),
            ("d.record_id", filter.record.as_deref()),
            ("d.job_id", filter.job.as_deref()),
        ];
        // Deliveries created in the same millisecond go in a fixed order:
        // by SQLite's rowid, which ends every index entry already (so the
        // history's indexes need no id), or by id on PostgreSQL.
        let (tie, tie_of_id) = match self.backend() {
            Backend::Sqlite => ("d.rowid", "(SELECT rowid FROM deliveries WHERE id = "),
            Backend::Postgres => ("d.id", "("),
        };
        let rows = on_reader!(&self.db, pool => {
            let mut q = sqlx::QueryBuilder::new(concat!(
                "SELECT ", state_columns!(), " FROM deliveries d JOIN events e ON e.seq = d.event_seq \
                 WHERE d.account_id = "
            ));
            q.push_bind(account_id);
            for (column, value) in equal {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    q.push(" AND ").push(column).push(" = ").push_bind(value);
                }
            }
            if filter.status.as_deref().is_some_and(|s| !s.is_empty() && s != DeliveryStatus::Succeeded.as_str()) {
                q.push(NOT_SUCCEEDED);
            }
            if let Some(from) = filter.from {
                q.push(" AND d.created_at >= ").push_bind(from.timestamp_millis());
            }
            if let Some(to) = filter.to {
                q.push(" AND d.created_at < ").push_bind(to.timestamp_millis());
            }
            if let Some((at, id)) = &position.at {
                q.push(format_args!(" AND (d.created_at, {tie}) {} (", if newer { ">" } else { "<" }))
                    .push_bind(*at)
                    .push(", ")
                    .push(tie_of_id)
                    .push_bind(id.as_str())
                    .push("))");
            }
            let order = if newer { "ASC" } else { "DESC" };
            q.push(format_args!(" ORDER BY d.created_at {order}, {tie} {order} LIMIT "))
                .push_bind(limit + 1);
            q.build_query_as::<StateRow>().fetch_all(pool).await
        })?;
        position.page(rows, limit)
    }

    /// How many of the account's deliveries have this status, from the
    /// report's counts: a few rows per webhook and hour, however many
    /// deliveries there are.
    pub async fn count_deliveries(&self, account_id: &str, status: DeliveryStatus) -> Result<i64> {
        Ok(on_reader!(&self.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM delivery_counts WHERE account_id = $1 AND status = $2",
        )
        .bind(account_id)
        .bind(status.as_str())
        .fetch_one(pool)
        .await)?)
    }

    /// The event a delivery carries, as its webhook was sent it.
    pub async fn delivery_event(&self, account_id: &str, delivery_id: &str) -> Result<Event> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, StoredEvent>(
            "SELECT e.id, e.type, e.occurred_at, e.actor, e.data FROM deliveries d \
             JOIN events e ON e.seq = d.event_seq WHERE d.account_id = $1 AND d.id = $2",
        )
        .bind(account_id)
        .bind(delivery_id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        let account = self.account(account_id).await?;
        Ok(row.into_event(&account))
    }

    /// A delivery's attempts, first to last.
    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRecord>> {
        let rows = on_reader!(&self.db, pool => sqlx::query_as::<_, AttemptRow>(
            "SELECT attempt, at, duration_ms, request, response_status, response_headers, response_body, error \
             FROM attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| AttemptRecord {
                attempt: u32::try_from(r.attempt).unwrap_or(0),
                at: from_ms(r.at),
                duration_ms: i64::from(r.duration_ms),
                request: serde_json::from_str(&r.request).unwrap_or(SentRequest {
                    method: String::new(),
                    url: String::new(),
                    headers: Vec::new(),
                    body: None,
                }),
                response: r.response_status.map(|status| {
                    ReceivedResponse::new(
                        u16::try_from(status).unwrap_or(0),
                        r.response_headers
                            .and_then(|h| serde_json::from_str(&h).ok())
                            .unwrap_or_default(),
                        r.response_body.as_deref().unwrap_or_default(),
                    )
                }),
                error: r.error,
            })
            .collect())
    }
}
