//! API keys, accepted events and their fan-out into deliveries, and the
//! ordered event log.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    Account, Db, Error, Result, Store, WriteTx, from_ms, new_id, now_ms, statement_chunks,
};
use crate::matching;
use crate::model::{AccountRef, Actor, Event, Trigger};
use crate::validate::{FieldError, is_event_type};

/// An event as the API receives it (PRODUCT.md section 8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: Value,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub actor: Option<Actor>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    /// An event of `event_type` about `data`, now, with no actor or key.
    pub fn new(event_type: &str, data: Value) -> Self {
        NewEvent {
            event_type: event_type.into(),
            data,
            occurred_at: None,
            actor: None,
            idempotency_key: None,
        }
    }
}

/// The 202 answer to an accepted event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accepted {
    pub id: String,
    pub deliveries: Vec<DeliveryRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRef {
    pub id: String,
    pub webhook_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// Held for the request that made it, to attempt at once (inline
    /// webhooks). Not part of the answer; a repeated answer has it false.
    #[serde(skip)]
    pub inline: bool,
}

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub account_id: String,
    pub actor: Option<Actor>,
    pub data: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub data: Vec<LoggedEvent>,
    pub next_cursor: Option<String>,
}

pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// How long an inline delivery is held for its request (longer than any timeout).
pub const INLINE_HOLD_MS: i64 = 120_000;
pub const MAX_PAGE: i64 = 1000;

/// Checks an incoming event; errors name the JSON field.
pub fn check_event(event: &NewEvent) -> Result<(), FieldError> {
    if !is_event_type(&event.event_type) {
        return Err(FieldError::new(
            "type",
            "invalid_event_type",
            "An event type looks like noun.verb in lower case, e.g. contact.created.",
        ));
    }
    if !event.data.is_object() {
        return Err(FieldError::new(
            "data",
            "invalid_data",
            "data must be a JSON object: the record.",
        ));
    }
    if let Some(key) = &event.idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY)
    {
        return Err(FieldError::new(
            "idempotency_key",
            "invalid_idempotency_key",
            format!("An idempotency key has 1 to {MAX_IDEMPOTENCY_KEY} characters."),
        ));
    }
    Ok(())
}

fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rows per multi-row insert when accepting events.
const ACCEPT_CHUNK: usize = 500;

/// An event accepted in this call, with its answer and what its
/// deliveries need.
struct Fresh {
    event: Arc<Event>,
    answer: Accepted,
    /// The record's id and label, for the history filters.
    record: (Option<String>, Option<String>),
    key: Option<String>,
    /// (queued, held until) of each delivery, in the answer's order.
    modes: Vec<(bool, i64)>,
    /// Where its answer goes among the call's answers.
    at: usize,
}

/// What [`Store::accept_in`] did: each event's answer, the deliveries it
/// took for the caller, and whether it left any due for a claim.
pub(crate) struct AcceptedIn {
    pub answers: Vec<Accepted>,
    pub taken: Vec<Taken>,
    pub left: bool,
}

/// A delivery claimed at acceptance: its id, its webhook's and its event.
pub(crate) type Taken = (String, String, Arc<Event>);

#[derive(sqlx::FromRow)]
struct HookTriggers {
    id: String,
    triggers: String,
    delivery_mode: String,
    execution_mode: String,
}

#[derive(sqlx::FromRow)]
struct EventRow {
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
    /// Creates an API key and returns it in full: this is the only time it
    /// is seen. Only its hash is stored.
    pub async fn create_api_key(&self, account_id: &str, name: &str) -> Result<String> {
        // 40 random characters: about 206 bits.
        let key = format!("pbk_{}", super::random_base36(40));
        on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_id("key"))
        .bind(account_id)
        .bind(name.trim())
        .bind(key_hash(&key))
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(key)
    }

    /// The account an API key belongs to, or `None` for an unknown key.
    pub async fn account_for_api_key(&self, key: &str) -> Result<Option<Account>> {
        Ok(on_reader!(&self.db, pool => sqlx::query_as::<_, Account>(
            "SELECT a.id, a.name, a.external_ref FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.key_hash = $1",
        )
        .bind(key_hash(key))
        .fetch_optional(pool)
        .await)?)
    }

    /// Accepts events for one account: each event and one pending delivery
    /// per active webhook it fires are committed in one transaction, before
    /// this returns. A repeated idempotency key returns the first answer and
    /// stores nothing.
    pub async fn accept_events(
        &self,
        account: &Account,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Accepted>> {
        for event in &events {
            check_event(event).map_err(|e| Error::Validation(vec![e]))?;
        }
        let mut tx = self.begin_write().await?;
        let done = self.accept_in(&mut tx, account, events, 0, 0).await?;
        tx.commit().await?;
        Ok(done.answers)
    }

    /// Accepts checked events (see [`check_event`]) for one account in the
    /// transaction `tx`, and claims up to `room` of the new deliveries to
    /// fast, background webhooks for `lease_ms`, returning them (delivery
    /// id, webhook id, event) for [`Store::taken_jobs`]: the delivery engine
    /// of this process sends them without a claim or a read of what it just
    /// wrote. Should the process die first, the lease runs out and any
    /// worker sends them.
    pub(crate) async fn accept_in(
        &self,
        tx: &mut WriteTx,
        account: &Account,
        events: Vec<NewEvent>,
        room: usize,
        lease_ms: i64,
    ) -> Result<AcceptedIn> {
        let now = now_ms();
        let account_ref = AccountRef {
            id: account.id.clone(),
            name: account.name.clone(),
            external_ref: account.external_ref.clone(),
        };
        let hooks = in_tx!(tx, t => sqlx::query_as::<_, HookTriggers>(
            "SELECT id, triggers, delivery_mode, execution_mode FROM webhooks \
             WHERE account_id = $1 AND active AND deleted_at IS NULL",
        )
        .bind(&account.id)
        .fetch_all(&mut **t)
        .await)?;
        // (id, triggers, (queued, inline))
        let hooks: Vec<(String, Vec<Trigger>, (bool, bool))> = hooks
            .into_iter()
            .map(|h| {
                let modes = (h.delivery_mode == "queued", h.execution_mode == "inline");
                (
                    h.id,
                    serde_json::from_str(&h.triggers).unwrap_or_default(),
                    modes,
                )
            })
            .collect();
        // Each event's answer; an event whose idempotency key was seen
        // (before, or earlier in this batch) gets the first answer.
        let mut answers: Vec<Option<Accepted>> = Vec::with_capacity(events.len());
        let mut fresh: Vec<Fresh> = Vec::with_capacity(events.len());
        let mut keys_seen: HashMap<String, usize> = HashMap::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        // (fresh event, delivery) claimed for the caller.
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let mut left = false;
        for new in events {
            if let Some(key) = &new.idempotency_key {
                if let Some(first) = keys_seen.get(key) {
                    repeats.push((answers.len(), *first));
                    answers.push(None);
                    continue;
                }
                let first = in_tx!(tx, t => sqlx::query_scalar::<_, Option<String>>(
                    "SELECT response FROM events WHERE account_id = $1 AND idempotency_key = $2",
                )
                .bind(&account.id)
                .bind(key)
                .fetch_optional(&mut **t)
                .await)?;
                if let Some(Some(response)) = first {
                    answers
                        .push(Some(serde_json::from_str(&response).map_err(|e| {
                            Error::Database(sqlx::Error::Decode(e.into()))
                        })?));
                    continue;
                }
                keys_seen.insert(key.clone(), answers.len());
            }
            let event = Event {
                id: new_id("evt"),
                event_type: new.event_type.clone(),
                account: account_ref.clone(),
                occurred_at: new.occurred_at.unwrap_or_else(|| from_ms(now)),
                actor: new.actor.clone(),
                data: new.data,
            };
            let mut fresh_event = Fresh {
                answer: Accepted {
                    id: event.id.clone(),
                    deliveries: Vec::new(),
                },
                record: crate::reports::record_of(&event.data),
                key: new.idempotency_key,
                modes: Vec::new(),
                event: Arc::new(event),
                at: answers.len(),
            };
            for (webhook_id, triggers, (queued, inline)) in &hooks {
                if triggers
                    .iter()
                    .any(|t| matching::trigger_matches(t, &fresh_event.event))
                {
                    // An inline delivery is held for the request that
                    // made it, which attempts it at once; should that
                    // process die, the hold runs out and any worker
                    // sends it.
                    let held_until = if *inline {
                        now + INLINE_HOLD_MS
                    } else if !*queued && taken.len() < room {
                        taken.push((fresh.len(), fresh_event.answer.deliveries.len()));
                        now + lease_ms
                    } else {
                        left = true;
                        0
                    };
                    fresh_event.answer.deliveries.push(DeliveryRef {
                        id: new_id("dlv"),
                        webhook_id: webhook_id.clone(),
                        status: "pending".into(),
                        response_status: None,
                        inline: *inline,
                    });
                    fresh_event.modes.push((*queued, held_until));
                }
            }
            answers.push(None);
            fresh.push(fresh_event);
        }
        // The new events, a few hundred rows per statement; their
        // sequence numbers come back by id.
        let mut seqs: HashMap<String, i64> = HashMap::with_capacity(fresh.len());
        for chunk in statement_chunks(&fresh, ACCEPT_CHUNK) {
            let rows: Vec<(String, i64)> = in_tx!(tx, t => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO events (id, account_id, type, occurred_at, actor, data, idempotency_key, response, created_at) ",
                );
                q.push_values(chunk, |mut row, f| {
                    row.push_bind(&f.event.id)
                        .push_bind(&account.id)
                        .push_bind(&f.event.event_type)
                        .push_bind(f.event.occurred_at.timestamp_millis())
                        .push_bind(f.event.actor.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()))
                        .push_bind(f.event.data.to_string())
                        .push_bind(&f.key)
                        // Only a repeat of its key reads the answer back.
                        .push_bind(f.key.as_ref().map(|_| serde_json::to_string(&f.answer).unwrap_or_default()))
                        .push_bind(now);
                });
                q.push(" RETURNING id, seq");
                q.build_query_as().persistent(true).fetch_all(&mut **t).await
            })?;
            seqs.extend(rows);
        }
        let deliveries: Vec<(&Fresh, &DeliveryRef, &(bool, i64))> = fresh
            .iter()
            .flat_map(|f| {
                f.answer
                    .deliveries
                    .iter()
                    .zip(&f.modes)
                    .map(move |(d, m)| (f, d, m))
            })
            .collect();
        for chunk in statement_chunks(&deliveries, ACCEPT_CHUNK) {
            in_tx!(tx, t => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, queued, status, attempts, \
                     next_attempt_at, claimed_until, created_at, updated_at, event_type, record_id, record_label) ",
                );
                q.push_values(chunk, |mut row, (f, d, (queued, held_until))| {
                    row.push_bind(&d.id)
                        .push_bind(&account.id)
                        .push_bind(&d.webhook_id)
                        .push_bind(seqs.get(&f.event.id).copied().unwrap_or_default())
                        .push_bind(*queued)
                        .push_unseparated(", 'pending', 0, ")
                        .push_bind_unseparated(now)
                        .push_bind(*held_until)
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(&f.event.event_type)
                        .push_bind(&f.record.0)
                        .push_bind(&f.record.1);
                });
                q.build().persistent(true).execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        let taken: Vec<Taken> = taken
            .into_iter()
            .map(|(f, d)| {
                let delivery = &fresh[f].answer.deliveries[d];
                (
                    delivery.id.clone(),
                    delivery.webhook_id.clone(),
                    fresh[f].event.clone(),
                )
            })
            .collect();
        for f in fresh {
            answers[f.at] = Some(f.answer);
        }
        for (at, first) in repeats {
            answers[at] = answers[first].clone();
        }
        Ok(AcceptedIn {
            answers: answers.into_iter().flatten().collect(),
            taken,
            left,
        })
    }

    /// The jobs of deliveries claimed at acceptance, from what is in hand
    /// and each webhook's settings. Those whose webhook went away meanwhile
    /// go back to be claimed (and given up) as usual.
    pub(crate) async fn taken_jobs(&self, taken: Vec<Taken>) -> Result<Vec<super::Job>> {
        let mut hooks = super::deliveries::Webhooks::new();
        let mut jobs = Vec::with_capacity(taken.len());
        let mut back = Vec::new();
        for (delivery_id, webhook_id, event) in taken {
            match self
                .sending_webhook(&mut hooks, &event.account.id, &webhook_id)
                .await?
            {
                Some((webhook, signing_secrets)) => jobs.push(super::Job {
                    delivery_id,
                    test: false,
                    account_id: event.account.id.clone(),
                    webhook_id,
                    attempt: 1,
                    event,
                    webhook,
                    signing_secrets,
                }),
                _ => back.push(delivery_id),
            }
        }
        if !back.is_empty() {
            self.release_claims(&back, 0).await?;
        }
        Ok(jobs)
    }

    /// Keeps the final answer (with inline outcomes) for idempotent repeats.
    pub async fn remember_answer(&self, answer: &Accepted) -> Result<()> {
        on_writer!(&self.db, pool => sqlx::query(
            "UPDATE events SET response = $2 WHERE id = $1 AND idempotency_key IS NOT NULL",
        )
            .bind(&answer.id)
            .bind(serde_json::to_string(answer).unwrap_or_default())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

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
                sqlx::query_as::<_, EventRow>(
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
                sqlx::query_as::<_, EventRow>(
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
