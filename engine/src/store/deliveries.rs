//! Delivery work: claiming what is due (a lease, so a crashed worker's work
//! is picked up again) and recording attempts with their outcome, many per
//! transaction.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Account, Db, Result, Store, from_ms, now_ms};
use crate::model::{AccountRef, Actor, Event, WebhookInput};

/// One attempt to make: the delivery, the event and the webhook's shape
/// with its real secrets.
#[derive(Clone, Debug)]
pub struct Job {
    pub delivery_id: String,
    pub account_id: String,
    pub webhook_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub event: Event,
    pub webhook: WebhookInput,
    pub signing_secret: String,
}

/// The request as sent, for the attempt record (secrets already redacted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Truncated to [`MAX_RECORDED_BODY`] bytes.
    pub body: String,
}

pub const MAX_RECORDED_BODY: usize = 8 * 1024;

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub job: Job,
    pub at_ms: i64,
    pub duration_ms: i64,
    pub request: SentRequest,
    pub response: Option<ReceivedResponse>,
    /// The transport failure in plain words, when there was no response.
    pub error: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.response
            .as_ref()
            .is_some_and(|r| (200..300).contains(&r.status))
    }
}

/// One recorded attempt, as the API and the reports show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: i64,
    pub request: SentRequest,
    pub response: Option<ReceivedResponse>,
    pub error: Option<String>,
}

/// A delivery's current state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryState {
    pub id: String,
    pub webhook_id: String,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_response_status: Option<u16>,
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: String,
    account_id: String,
    webhook_id: String,
    event_seq: i64,
    attempts: i32,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: i64,
    actor: Option<String>,
    data: String,
}

#[derive(sqlx::FromRow)]
struct StateRow {
    id: String,
    webhook_id: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<i64>,
    last_response_status: Option<i32>,
    last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i32,
    at: i64,
    duration_ms: i32,
    request: String,
    response_status: Option<i32>,
    response_headers: Option<String>,
    response_body: Option<String>,
    error: Option<String>,
}

const CLAIM_SQLITE: &str = "UPDATE deliveries SET claimed_until = $1 WHERE id IN (\
     SELECT id FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $2 \
     AND claimed_until < $2 ORDER BY next_attempt_at LIMIT $3) \
     RETURNING id, account_id, webhook_id, event_seq, attempts";

/// PostgreSQL: rows another worker is claiming right now are skipped, so two
/// workers never take the same delivery.
const CLAIM_POSTGRES: &str = "UPDATE deliveries SET claimed_until = $1 WHERE id IN (\
     SELECT id FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $2 \
     AND claimed_until < $2 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, account_id, webhook_id, event_seq, attempts";

impl Store {
    /// Takes up to `limit` due deliveries for `lease_ms`, with everything
    /// needed to send them. Deliveries of webhooks that were deleted or
    /// turned off in the meantime are given up.
    pub async fn claim_due(&self, limit: i64, lease_ms: i64) -> Result<Vec<Job>> {
        let now = now_ms();
        let claimed = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as::<_, Claimed>(CLAIM_SQLITE)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, Claimed>(CLAIM_POSTGRES)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut hooks: HashMap<String, Option<(WebhookInput, String, bool)>> = HashMap::new();
        let mut accounts: HashMap<String, Account> = HashMap::new();
        let mut jobs = Vec::with_capacity(claimed.len());
        for c in claimed {
            if !hooks.contains_key(&c.webhook_id) {
                let hook = match self
                    .webhook_with_secrets(&c.account_id, &c.webhook_id)
                    .await
                {
                    Ok((input, secret)) => {
                        let active = input.active;
                        Some((input, secret, active))
                    }
                    Err(super::Error::NotFound) => None,
                    Err(e) => return Err(e),
                };
                hooks.insert(c.webhook_id.clone(), hook);
            }
            let Some(Some((webhook, secret, true))) = hooks.get(&c.webhook_id).cloned() else {
                self.give_up(
                    &c.id,
                    "The webhook was deleted or turned off before this delivery was sent.",
                )
                .await?;
                continue;
            };
            if !accounts.contains_key(&c.account_id) {
                accounts.insert(c.account_id.clone(), self.account(&c.account_id).await?);
            }
            let account = &accounts[&c.account_id];
            let row = on_pool!(&self.db, pool => sqlx::query_as::<_, EventRow>(
                "SELECT id, type, occurred_at, actor, data FROM events WHERE seq = $1",
            )
            .bind(c.event_seq)
            .fetch_one(pool)
            .await)?;
            let event = Event {
                id: row.id,
                event_type: row.event_type,
                account: AccountRef {
                    id: account.id.clone(),
                    name: account.name.clone(),
                    external_ref: account.external_ref.clone(),
                },
                occurred_at: from_ms(row.occurred_at),
                actor: row
                    .actor
                    .and_then(|a| serde_json::from_str::<Actor>(&a).ok()),
                data: serde_json::from_str(&row.data).unwrap_or(Value::Null),
            };
            jobs.push(Job {
                delivery_id: c.id,
                account_id: c.account_id,
                webhook_id: c.webhook_id,
                attempt: u32::try_from(c.attempts).unwrap_or(0) + 1,
                event,
                webhook,
                signing_secret: secret,
            });
        }
        Ok(jobs)
    }

    async fn give_up(&self, delivery_id: &str, reason: &str) -> Result<()> {
        on_pool!(&self.db, pool => sqlx::query(
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

    /// Records attempts and moves each delivery on: succeeded, retrying at
    /// its next time, or failed once its attempts are used up. One
    /// transaction for the whole batch.
    pub async fn record_attempts(&self, outcomes: &[Outcome]) -> Result<()> {
        let now = now_ms();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for o in outcomes {
                let job = &o.job;
                sqlx::query(
                    "INSERT INTO attempts (delivery_id, attempt, at, duration_ms, request, response_status, \
                     response_headers, response_body, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&job.delivery_id)
                .bind(job.attempt as i32)
                .bind(o.at_ms)
                .bind(i32::try_from(o.duration_ms).unwrap_or(i32::MAX))
                .bind(serde_json::to_string(&o.request).unwrap_or_default())
                .bind(o.response.as_ref().map(|r| i32::from(r.status)))
                .bind(o.response.as_ref().map(|r| serde_json::to_string(&r.headers).unwrap_or_default()))
                .bind(o.response.as_ref().map(|r| r.body.clone()))
                .bind(&o.error)
                .execute(&mut *tx)
                .await?;
                let (status, next) = next_step(job, o.succeeded(), now);
                sqlx::query(
                    "UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, \
                     last_response_status = $5, last_error = $6, claimed_until = 0, updated_at = $7 WHERE id = $1",
                )
                .bind(&job.delivery_id)
                .bind(status)
                .bind(job.attempt as i32)
                .bind(next)
                .bind(o.response.as_ref().map(|r| i32::from(r.status)))
                .bind(&o.error)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A delivery's state, within the account.
    pub async fn delivery(&self, account_id: &str, id: &str) -> Result<DeliveryState> {
        let row = on_pool!(&self.db, pool => sqlx::query_as::<_, StateRow>(
            "SELECT id, webhook_id, status, attempts, next_attempt_at, last_response_status, last_error \
             FROM deliveries WHERE account_id = $1 AND id = $2",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(super::Error::NotFound)?;
        Ok(DeliveryState {
            id: row.id,
            webhook_id: row.webhook_id,
            status: row.status,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            next_attempt_at: row.next_attempt_at.map(from_ms),
            last_response_status: row.last_response_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
        })
    }

    /// A delivery's attempts, first to last.
    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRecord>> {
        let rows = on_pool!(&self.db, pool => sqlx::query_as::<_, AttemptRow>(
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
                response: r.response_status.map(|status| ReceivedResponse {
                    status: u16::try_from(status).unwrap_or(0),
                    headers: r
                        .response_headers
                        .and_then(|h| serde_json::from_str(&h).ok())
                        .unwrap_or_default(),
                    body: r.response_body.unwrap_or_default(),
                }),
                error: r.error,
            })
            .collect())
    }
}

/// The status after an attempt and, when retrying, when the next one is due:
/// the webhook's schedule with up to 10% jitter so retries of many
/// deliveries do not arrive at once.
fn next_step(job: &Job, succeeded: bool, now: i64) -> (&'static str, Option<i64>) {
    if succeeded {
        return ("succeeded", None);
    }
    let retry = &job.webhook.retry;
    if job.attempt >= retry.max_attempts {
        return ("failed", None);
    }
    let delay_s = retry
        .schedule_s
        .get(job.attempt as usize)
        .copied()
        .unwrap_or(0);
    let delay_ms = i64::try_from(delay_s.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let jitter = if delay_ms > 0 {
        use rand::Rng;
        rand::rng().random_range(0..=delay_ms / 10)
    } else {
        0
    };
    ("retrying", Some(now + delay_ms + jitter))
}
