//! Delivery work: claiming what is due (a lease, so a crashed worker's work
//! is picked up again) and recording attempts with their outcome, many per
//! transaction.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::events::{Accepted, NewEvent};
use super::{
    Account, Db, Result, Store, WriteTx, from_ms, keep_prepared, now_ms, statement_chunks,
};
use crate::model::{
    AccountRef, Actor, DeliveryMode, Event, ReceivedResponse, SentRequest, WebhookInput,
};
pub use crate::reports::{AttemptRecord, DeliveryPage, DeliveryState};

/// What one turn of the delivery engine's writer does ([`Store::take_turn`]).
pub struct Turn<'a> {
    /// Events to accept, each account's with the calls' events in order;
    /// each must have passed [`super::check_event`].
    pub accept: Vec<(Account, Vec<NewEvent>)>,
    /// How many of the new deliveries to fast, background webhooks to
    /// take for this process at once.
    pub room: usize,
    /// Attempts that finished, to record.
    pub outcomes: &'a [Outcome],
    /// How many due deliveries to claim.
    pub claim: i64,
    /// How long what is taken or claimed belongs to this process.
    pub lease_ms: i64,
    /// Webhooks to leave out of the claim (at their in-flight limit here).
    pub skip: &'a [String],
}

/// What a turn did: the answers of each accepted entry, in order, and the
/// deliveries it took or claimed, to load with [`Store::ready_to_send`].
#[derive(Default)]
pub struct TurnDone {
    pub accepted: Vec<Vec<Accepted>>,
    pub to_send: ToSend,
    /// Deliveries may be due that this turn did not take: it accepted
    /// some it left for a claim, finished a queued webhook's delivery
    /// (the next in line is due), or its claim reached its limit. The next
    /// turn should claim.
    pub more_due: bool,
}

/// What a committed turn left to do outside its transaction: the
/// deliveries it took or claimed, and the webhooks it turned off (to
/// announce). Loading them only reads, so the next turn need not wait.
#[derive(Default)]
pub struct ToSend {
    taken: Vec<super::events::Taken>,
    claimed: Vec<Claimed>,
    disabled: Vec<TurnedOff>,
    at_ms: i64,
}

impl ToSend {
    /// How many deliveries it holds.
    pub fn len(&self) -> usize {
        self.taken.len() + self.claimed.len()
    }

    /// Nothing to load and nothing to announce.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.disabled.is_empty()
    }
}

/// The webhooks a batch of jobs loaded, by id: settings and secrets, or
/// `None` for one that is gone.
pub(crate) type Webhooks = HashMap<String, Option<(Arc<WebhookInput>, Arc<[String]>)>>;

/// One attempt to make: the delivery, the event and the webhook's shape
/// with its real secrets.
#[derive(Clone, Debug)]
pub struct Job {
    pub delivery_id: String,
    /// A test send: recorded, but it says nothing about the webhook's health.
    pub test: bool,
    pub account_id: String,
    pub webhook_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Shared by the jobs of one event (and of one webhook): a turn's jobs
    /// copy no payloads or settings.
    pub event: Arc<Event>,
    pub webhook: Arc<WebhookInput>,
    /// The current signing secret first; during a rotation also the old one.
    pub signing_secrets: Arc<[String]>,
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

/// A webhook a batch of attempts turned off.
#[derive(sqlx::FromRow)]
struct TurnedOff {
    account_id: String,
    id: String,
    title: String,
    disabled_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: String,
    account_id: String,
    webhook_id: String,
    event_seq: i64,
    attempts: i32,
}

/// An event row with its sequence number, to match claimed deliveries.
#[derive(sqlx::FromRow)]
struct SeqEventRow {
    seq: i64,
    #[sqlx(flatten)]
    event: EventRow,
}

#[derive(Clone, sqlx::FromRow)]
struct EventRow {
    id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: i64,
    actor: Option<String>,
    data: String,
}

impl EventRow {
    fn into_event(self, account: &Account) -> Event {
        Event {
            id: self.id,
            event_type: self.event_type,
            account: AccountRef {
                id: account.id.clone(),
                name: account.name.clone(),
                external_ref: account.external_ref.clone(),
            },
            occurred_at: from_ms(self.occurred_at),
            actor: self
                .actor
                .and_then(|a| serde_json::from_str::<Actor>(&a).ok()),
            data: serde_json::from_str(&self.data).unwrap_or(Value::Null),
        }
    }
}

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

/// The columns [`StateRow`] reads, as a literal for `concat!`.
macro_rules! state_columns {
    () => {
        "d.id, d.webhook_id, e.id AS event_id, e.type AS event_type, d.created_at, d.status, d.attempts, \
         d.next_attempt_at, d.last_response_status, d.last_error, d.record_id, d.record_label, e.is_test"
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

impl From<StateRow> for DeliveryState {
    fn from(row: StateRow) -> Self {
        DeliveryState {
            id: row.id,
            webhook_id: row.webhook_id,
            event_id: row.event_id,
            event_type: row.event_type,
            created_at: from_ms(row.created_at),
            status: row.status,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            next_attempt_at: row.next_attempt_at.map(from_ms),
            last_response_status: row.last_response_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
            record_id: row.record_id,
            record_label: row.record_label,
            test: row.is_test,
        }
    }
}

/// SQLite: webhook by webhook (CROSS JOIN keeps webhooks the outer loop),
/// leaving out those at their in-flight limit before reading any of their
/// deliveries. Fast deliveries come from each
/// webhook's due index; a queued webhook offers only the head of its line,
/// when that is due.
const CLAIM_SQLITE: &str = "UPDATE deliveries SET claimed_until = $1 WHERE id IN (\
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
const CLAIM_FAST_POSTGRES: &str = "UPDATE deliveries SET claimed_until = $1 WHERE id IN (\
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
const CLAIM_QUEUED_POSTGRES: &str = "UPDATE deliveries SET claimed_until = $1 WHERE id IN (\
     SELECT d.id FROM deliveries d WHERE d.id IN (SELECT (SELECT o.id FROM deliveries o \
     WHERE o.webhook_id = w.id AND o.status IN ('pending', 'retrying') AND o.queued ORDER BY o.event_seq LIMIT 1) \
     FROM webhooks w WHERE w.id NOT IN (SELECT jsonb_array_elements_text($4::jsonb))) \
     AND d.queued AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $2 AND d.claimed_until < $2 \
     LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, account_id, webhook_id, event_seq, attempts";

/// The claim statements of each backend, run in turn while the limit
/// allows; each binds (lease end, now, limit, skipped webhooks).
fn claim_sql(db: &Db) -> &'static [&'static str] {
    match db {
        Db::Sqlite(_) => &[CLAIM_SQLITE],
        Db::Postgres(_) => &[CLAIM_FAST_POSTGRES, CLAIM_QUEUED_POSTGRES],
    }
}

/// The condition of `deliveries_account_status_created` (every status but
/// succeeded), word for word as migration 0006 has it: SQLite uses a
/// partial index only for a query that repeats its condition.
const NOT_SUCCEEDED: &str = " AND d.status IN ('pending', 'retrying', 'failed')";

/// Rows per multi-row statement when recording: well under both databases'
/// limits on bound parameters.
const RECORD_CHUNK: usize = 500;

impl Store {
    /// Takes an inline delivery that [`Store::accept_events`] just held for
    /// this request, if it is (when queued) first in its webhook's line.
    pub async fn claim_inline(&self, delivery_id: &str) -> Result<Option<Job>> {
        let now = now_ms();
        let lease_ms = super::events::INLINE_HOLD_MS;
        let claimed = on_writer!(&self.db, pool => sqlx::query_as::<_, Claimed>(
            "UPDATE deliveries SET claimed_until = $1 WHERE id = $3 AND status = 'pending' AND attempts = 0 \
             AND claimed_until > $2 AND (NOT queued OR NOT EXISTS (SELECT 1 FROM deliveries p \
             WHERE p.webhook_id = deliveries.webhook_id AND p.status IN ('pending', 'retrying') \
             AND p.queued AND p.event_seq < deliveries.event_seq)) \
             RETURNING id, account_id, webhook_id, event_seq, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(delivery_id)
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
            "UPDATE deliveries SET status = 'retrying', next_attempt_at = $2, claimed_until = $3, updated_at = $2 \
             WHERE account_id = $1 AND id = $4 AND attempts > 0 AND claimed_until < $2 \
             RETURNING id, account_id, webhook_id, event_seq, attempts",
        )
        .bind(account_id)
        .bind(now)
        .bind(now + lease_ms)
        .bind(delivery_id)
        .fetch_all(pool)
        .await)?;
        if claimed.is_empty() {
            let state = self.delivery(account_id, delivery_id).await?;
            return Err(if state.attempts == 0 {
                super::Error::field(
                    "id",
                    "not_yet_attempted",
                    "This delivery has not had its first attempt yet.",
                )
            } else {
                super::Error::field(
                    "id",
                    "in_flight",
                    "An attempt of this delivery is being sent right now; try again in a moment.",
                )
            });
        }
        self.jobs_for(claimed).await?.pop().ok_or_else(|| {
            super::Error::field(
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

    /// A live webhook's settings and secrets for sending, loaded once per
    /// batch; `None` when it was deleted or turned off.
    pub(crate) async fn sending_webhook(
        &self,
        loaded: &mut Webhooks,
        account_id: &str,
        webhook_id: &str,
    ) -> Result<Option<(Arc<WebhookInput>, Arc<[String]>)>> {
        if !loaded.contains_key(webhook_id) {
            let hook = match self.webhook_with_secrets(account_id, webhook_id).await {
                Ok((webhook, secrets)) => Some((Arc::new(webhook), secrets.into())),
                Err(super::Error::NotFound) => None,
                Err(e) => return Err(e),
            };
            loaded.insert(webhook_id.to_string(), hook);
        }
        Ok(loaded[webhook_id]
            .clone()
            .filter(|(webhook, _)| webhook.active))
    }

    /// Loads what claimed deliveries need to be sent.
    async fn jobs_for(&self, claimed: Vec<Claimed>) -> Result<Vec<Job>> {
        let mut hooks = Webhooks::new();
        let mut accounts: HashMap<String, Account> = HashMap::new();
        let mut jobs = Vec::with_capacity(claimed.len());
        // Every claimed delivery's event in one query.
        let mut events: HashMap<i64, EventRow> = HashMap::new();
        let mut parsed: HashMap<i64, Arc<Event>> = HashMap::new();
        if !claimed.is_empty() {
            let rows = on_reader!(&self.db, pool => {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT seq, id, type, occurred_at, actor, data FROM events WHERE seq IN (",
                );
                let mut seqs = q.separated(", ");
                for c in &claimed {
                    seqs.push_bind(c.event_seq);
                }
                q.push(")");
                q.build_query_as::<SeqEventRow>().persistent(keep_prepared(claimed.len())).fetch_all(pool).await
            })?;
            events.extend(rows.into_iter().map(|r| (r.seq, r.event)));
        }
        for c in claimed {
            let Some((webhook, secrets)) = self
                .sending_webhook(&mut hooks, &c.account_id, &c.webhook_id)
                .await?
            else {
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
            let event = match parsed.get(&c.event_seq) {
                Some(event) => event.clone(),
                None => {
                    let Some(row) = events.remove(&c.event_seq) else {
                        return Err(super::Error::Database(sqlx::Error::RowNotFound));
                    };
                    let event = Arc::new(row.into_event(account));
                    parsed.insert(c.event_seq, event.clone());
                    event
                }
            };
            jobs.push(Job {
                delivery_id: c.id,
                test: false,
                account_id: c.account_id,
                webhook_id: c.webhook_id,
                attempt: u32::try_from(c.attempts).unwrap_or(0) + 1,
                event,
                webhook,
                signing_secrets: secrets,
            });
        }
        Ok(jobs)
    }

    /// A test send's delivery: the sample event of `event_type` (stored as a
    /// test, so it stays out of the event log) and one delivery that only
    /// the caller will attempt, once. Works on inactive webhooks too.
    pub async fn create_test_delivery(
        &self,
        account_id: &str,
        webhook_id: &str,
        event_type: &str,
    ) -> Result<Job> {
        if !crate::validate::is_event_type(event_type) {
            return Err(super::Error::field(
                "event_type",
                "invalid_event_type",
                "An event type looks like noun.verb, e.g. contact.created.",
            ));
        }
        let (mut webhook, signing_secrets) =
            self.webhook_with_secrets(account_id, webhook_id).await?;
        webhook.retry = crate::model::RetryPolicy {
            max_attempts: 1,
            schedule_s: vec![0],
        };
        let account = self.account(account_id).await?;
        let now = now_ms();
        let sample = self
            .catalog()
            .sample(event_type)
            .unwrap_or_else(|| crate::catalog::event_of(event_type, serde_json::Map::new()));
        let event = Event {
            id: super::new_id("evt"),
            account: AccountRef {
                id: account.id.clone(),
                name: account.name.clone(),
                external_ref: account.external_ref.clone(),
            },
            occurred_at: from_ms(now),
            ..sample
        };
        let delivery_id = super::new_id("dlv");
        let record = crate::reports::record_of(&event.data);
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(super::begin_write(pool)).await?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO events (id, account_id, type, occurred_at, actor, data, is_test, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7) RETURNING seq",
            )
            .bind(&event.id)
            .bind(account_id)
            .bind(&event.event_type)
            .bind(now)
            .bind(event.actor.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()))
            .bind(event.data.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            // Claimed far ahead and never due: no worker picks it up.
            sqlx::query(
                "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, status, attempts, next_attempt_at, \
                 claimed_until, created_at, updated_at, event_type, record_id, record_label) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, NULL, $5, $6, $6, $7, $8, $9)",
            )
            .bind(&delivery_id)
            .bind(account_id)
            .bind(webhook_id)
            .bind(seq)
            .bind(i64::MAX / 2)
            .bind(now)
            .bind(&event.event_type)
            .bind(&record.0)
            .bind(&record.1)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<(), super::Error>(())
        })?;
        Ok(Job {
            delivery_id,
            test: true,
            account_id: account_id.to_string(),
            webhook_id: webhook_id.to_string(),
            attempt: 1,
            event: Arc::new(event),
            webhook: Arc::new(webhook),
            signing_secrets: signing_secrets.into(),
        })
    }

    async fn give_up(&self, delivery_id: &str, reason: &str) -> Result<()> {
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

    /// Records attempts and moves each delivery on: succeeded, retrying at
    /// its next time, or failed once its attempts are used up. One
    /// transaction for the whole batch.
    pub async fn record_attempts(&self, outcomes: &[Outcome]) -> Result<()> {
        let turn = Turn {
            accept: Vec::new(),
            room: 0,
            outcomes,
            claim: 0,
            lease_ms: 0,
            skip: &[],
        };
        let done = self.take_turn(turn).await?;
        self.ready_to_send(done.to_send).await.map(drop)
    }

    /// One turn of the delivery engine's writer, in one transaction and one
    /// commit however much it holds: accepts the waiting calls' events
    /// (taking up to `room` of their fast deliveries at once), records what
    /// finished, and claims what the free slots can take, with everything
    /// needed to send them. A queued webhook's next delivery is free to go
    /// in the same turn its predecessor succeeded.
    pub async fn take_turn(&self, turn: Turn<'_>) -> Result<TurnDone> {
        if turn.accept.is_empty() && turn.outcomes.is_empty() && turn.claim <= 0 {
            return Ok(TurnDone::default());
        }
        let mut tx = self.begin_write().await?;
        let mut accepted = Vec::with_capacity(turn.accept.len());
        let mut taken = Vec::new();
        let mut more_due = false;
        for (account, events) in turn.accept {
            let room = turn.room.saturating_sub(taken.len());
            let done = self
                .accept_in(&mut tx, &account, events, room, turn.lease_ms)
                .await?;
            accepted.push(done.answers);
            taken.extend(done.taken);
            more_due |= done.left;
        }
        let now = now_ms();
        let disabled = self.record_in(&mut tx, turn.outcomes, now).await?;
        more_due |= turn
            .outcomes
            .iter()
            .any(|o| o.job.webhook.delivery_mode == DeliveryMode::Queued);
        let claimed = self
            .claim_in(&mut tx, turn.claim, turn.lease_ms, turn.skip, now)
            .await?;
        more_due |= turn.claim > 0 && claimed.len() as i64 >= turn.claim;
        tx.commit().await?;
        let deliveries: usize = accepted
            .iter()
            .flatten()
            .map(|a| a.deliveries.len() + 1)
            .sum();
        self.wal_grew(deliveries + turn.outcomes.len() + claimed.len());
        Ok(TurnDone {
            accepted,
            to_send: ToSend {
                taken,
                claimed,
                disabled,
                at_ms: now,
            },
            more_due,
        })
    }

    /// After a turn's commit: announces the webhooks it turned off, and
    /// loads every delivery it took or claimed with what is needed to
    /// send it. Deliveries of webhooks deleted or turned off meanwhile are
    /// given up instead.
    pub async fn ready_to_send(&self, to_send: ToSend) -> Result<Vec<Job>> {
        let ToSend {
            taken,
            claimed,
            disabled,
            at_ms,
        } = to_send;
        for off in disabled {
            self.announce_disabled(off, at_ms).await;
        }
        let mut jobs = self.taken_jobs(taken).await?;
        jobs.extend(self.jobs_for(claimed).await?);
        Ok(jobs)
    }

    /// Records attempts in `tx` (see [`Store::record_attempts`]); the
    /// webhooks this turned off, to announce once committed.
    async fn record_in(
        &self,
        tx: &mut WriteTx,
        outcomes: &[Outcome],
        now: i64,
    ) -> Result<Vec<TurnedOff>> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let steps: Vec<Step> = outcomes.iter().map(|o| next_step(&o.job, o, now)).collect();
        let written: Vec<(String, Option<String>)> = outcomes
            .iter()
            .map(|o| {
                (
                    serde_json::to_string(&o.request).unwrap_or_default(),
                    o.response
                        .as_ref()
                        .map(|r| serde_json::to_string(&r.headers).unwrap_or_default()),
                )
            })
            .collect();
        // Webhooks with nothing but successes here: their failure run ends,
        // in one statement for all of them.
        let mut all_good: HashMap<&str, bool> = HashMap::new();
        for (o, step) in outcomes.iter().zip(&steps) {
            if !o.job.test {
                *all_good.entry(o.job.webhook_id.as_str()).or_insert(true) &=
                    *step == Step::Succeeded;
            }
        }
        all_good.retain(|_, good| *good);
        let mut disabled: Vec<TurnedOff> = Vec::new();
        // Every attempt, and every delivery's new state, a few hundred
        // rows per statement.
        let rows: Vec<_> = outcomes.iter().zip(&written).collect();
        for chunk in statement_chunks(&rows, RECORD_CHUNK) {
            in_tx!(tx, t => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO attempts (delivery_id, attempt, at, duration_ms, request, response_status, \
                     response_headers, response_body, error) ",
                );
                q.push_values(chunk, |mut row, (o, (request, headers))| {
                    row.push_bind(&o.job.delivery_id)
                        .push_bind(o.job.attempt as i32)
                        .push_bind(o.at_ms)
                        .push_bind(i32::try_from(o.duration_ms).unwrap_or(i32::MAX))
                        .push_bind(request)
                        .push_bind(o.response.as_ref().map(|r| i32::from(r.status)))
                        .push_bind(headers)
                        .push_bind(o.response.as_ref().map(|r| r.body.as_str()))
                        .push_bind(&o.error);
                });
                q.build().persistent(true).execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        for (chunk, chunk_steps) in
            statement_chunks(outcomes, RECORD_CHUNK).zip(statement_chunks(&steps, RECORD_CHUNK))
        {
            in_tx!(tx, t => {
                let mut q = sqlx::QueryBuilder::new(
                    "UPDATE deliveries SET status = v.column2, attempts = v.column3, next_attempt_at = v.column4, \
                     last_response_status = v.column5, last_error = v.column6, claimed_until = 0, updated_at = ",
                );
                q.push_bind(now).push(" FROM (");
                q.push_values(chunk.iter().zip(chunk_steps), |mut row, (o, step)| {
                    row.push_bind(&o.job.delivery_id)
                        .push_bind(step.status())
                        .push_bind(o.job.attempt as i32)
                        .push_bind(step.next_attempt_at())
                        .push_bind(o.response.as_ref().map(|r| i32::from(r.status)))
                        .push_bind(&o.error);
                });
                q.push(") AS v WHERE deliveries.id = v.column1");
                q.build().persistent(true).execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        // Webhook health. A success ends the failure run; with failures
        // in the batch too, the outcomes count in their order.
        if !all_good.is_empty() {
            in_tx!(tx, t => {
                let mut q = sqlx::QueryBuilder::new(
                    "UPDATE webhooks SET failing_since = NULL, given_up_in_a_row = 0 \
                     WHERE (failing_since IS NOT NULL OR given_up_in_a_row > 0) AND id IN (",
                );
                let mut ids = q.separated(", ");
                for id in all_good.keys() {
                    ids.push_bind(*id);
                }
                q.push(")");
                q.build().persistent(keep_prepared(all_good.len())).execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        let mut healthy: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (o, step) in outcomes.iter().zip(&steps) {
            let job = &o.job;
            if !job.test && !all_good.contains_key(job.webhook_id.as_str()) {
                if *step == Step::Succeeded {
                    if healthy.insert(job.webhook_id.as_str()) {
                        in_tx!(tx, t => sqlx::query(
                            "UPDATE webhooks SET failing_since = NULL, given_up_in_a_row = 0 WHERE id = $1 \
                             AND (failing_since IS NOT NULL OR given_up_in_a_row > 0)",
                        )
                        .bind(&job.webhook_id)
                        .execute(&mut **t)
                        .await
                        .map(|r| r.rows_affected()))?;
                    }
                } else {
                    healthy.remove(job.webhook_id.as_str());
                    in_tx!(tx, t => sqlx::query(
                        "UPDATE webhooks SET failing_since = COALESCE(failing_since, $2), \
                         given_up_in_a_row = given_up_in_a_row + $3 WHERE id = $1",
                    )
                    .bind(&job.webhook_id)
                    .bind(now)
                    .bind(i32::from(matches!(step, Step::Failed { .. })))
                    .execute(&mut **t)
                    .await
                    .map(|r| r.rows_affected()))?;
                    // A success resets the run, so only a failure can
                    // bring the webhook to its limit.
                    let policy = self.disable;
                    let turned_off = in_tx!(tx, t => sqlx::query_as::<_, TurnedOff>(
                        "UPDATE webhooks SET active = FALSE, updated_at = $2, disabled_reason = CASE \
                         WHEN given_up_in_a_row >= $3 THEN $5 ELSE $6 END \
                         WHERE id = $1 AND active AND (given_up_in_a_row >= $3 OR failing_since <= $4) \
                         RETURNING account_id, id, title, disabled_reason",
                    )
                    .bind(&job.webhook_id)
                    .bind(now)
                    .bind(policy.after_given_up as i32)
                    .bind(now - policy.after_failing_ms)
                    .bind(format!(
                        "Turned off automatically: {} deliveries in a row were given up.",
                        policy.after_given_up
                    ))
                    .bind(format!(
                        "Turned off automatically: every attempt failed for {}.",
                        human_duration(policy.after_failing_ms)
                    ))
                    .fetch_optional(&mut **t)
                    .await)?;
                    disabled.extend(turned_off);
                }
            }
            if let Step::Failed {
                disable: Some(reason),
            } = step
            {
                let turned_off = in_tx!(tx, t => sqlx::query_as::<_, TurnedOff>(
                    "UPDATE webhooks SET active = FALSE, disabled_reason = $2, updated_at = $3 \
                     WHERE id = $1 AND active RETURNING account_id, id, title, disabled_reason",
                )
                .bind(&job.webhook_id)
                .bind(*reason)
                .bind(now)
                .fetch_optional(&mut **t)
                .await)?;
                disabled.extend(turned_off);
            }
        }
        Ok(disabled)
    }

    /// Claims up to `limit` due deliveries in `tx` for `lease_ms`, leaving
    /// out `skip_webhooks`.
    async fn claim_in(
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
        for sql in claim_sql(&self.db) {
            let room = limit - claimed.len() as i64;
            if room <= 0 {
                break;
            }
            claimed.extend(in_tx!(tx, t => sqlx::query_as::<_, Claimed>(*sql)
                .bind(now + lease_ms)
                .bind(now)
                .bind(room)
                .bind(&skip)
                .fetch_all(&mut **t)
                .await)?);
        }
        Ok(claimed)
    }

    /// Emits a `webhook.disabled` event in the webhook's account: webhooks
    /// that trigger on it (a notification URL) get it signed, retried and
    /// recorded like any delivery, and the event log has it. After the
    /// commit that turned the webhook off; a failure here is logged, and
    /// the console banner still shows.
    async fn announce_disabled(&self, off: TurnedOff, at_ms: i64) {
        let result = async {
            let account = self.account(&off.account_id).await?;
            let event = super::NewEvent::new(
                "webhook.disabled",
                serde_json::json!({
                    "id": off.id,
                    "title": off.title,
                    "reason": off.disabled_reason,
                    "disabled_at": from_ms(at_ms),
                }),
            );
            self.accept_events(&account, vec![event]).await
        }
        .await;
        match result {
            Ok(_) => {
                tracing::warn!(webhook = %off.id, "webhook turned off automatically; webhook.disabled emitted")
            }
            Err(e) => {
                tracing::error!(webhook = %off.id, error = %e, "emitting webhook.disabled failed")
            }
        }
    }

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
        .ok_or(super::Error::NotFound)?;
        Ok(row.into())
    }

    /// The account's deliveries, newest first, filtered, one page before
    /// (`cursor`) or after (`prev`) a position. Keyset pagination: every
    /// page is an index range, however deep.
    pub async fn list_deliveries(
        &self,
        account_id: &str,
        filter: &DeliveryFilter,
    ) -> Result<DeliveryPage> {
        let parse = |field: &str, cursor: &str| {
            cursor
                .split_once('_')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| {
                    super::Error::field(
                        field,
                        "invalid_cursor",
                        "The cursor is not one this server gave out.",
                    )
                })
        };
        let back = match filter.prev.as_deref().filter(|p| !p.is_empty()) {
            Some(prev) => Some(parse("prev", prev)?),
            None => None,
        };
        let forward = match filter.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(cursor) if back.is_none() => Some(parse("cursor", cursor)?),
            _ => None,
        };
        let (position, newer) = match (back.clone(), forward.clone()) {
            (Some(p), _) => (Some(p), true),
            (None, p) => (p, false),
        };
        let limit = filter.limit.clamp(1, 500);
        // Only the filters given go into the query, so the database can
        // pick the index that fits them; the position is a row-value
        // comparison, one index range in both databases.
        let equal = [
            ("d.webhook_id", filter.webhook_id.as_deref()),
            ("d.status", filter.status.as_deref()),
            ("d.event_type", filter.event_type.as_deref()),
            ("d.record_id", filter.record.as_deref()),
        ];
        // Deliveries created in the same millisecond go in a fixed order:
        // by SQLite's rowid, which ends every index entry already (so the
        // history's indexes need no id), or by id on PostgreSQL.
        let (tie, tie_of_id) = match self.db {
            Db::Sqlite(_) => ("d.rowid", "(SELECT rowid FROM deliveries WHERE id = "),
            Db::Postgres(_) => ("d.id", "("),
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
            if filter.status.as_deref().is_some_and(|s| !s.is_empty() && s != "succeeded") {
                q.push(NOT_SUCCEEDED);
            }
            if let Some(from) = filter.from {
                q.push(" AND d.created_at >= ").push_bind(from.timestamp_millis());
            }
            if let Some(to) = filter.to {
                q.push(" AND d.created_at < ").push_bind(to.timestamp_millis());
            }
            if let Some((at, id)) = &position {
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
        let more = rows.len() as i64 > limit;
        let mut data: Vec<DeliveryState> = rows
            .into_iter()
            .take(limit as usize)
            .map(DeliveryState::from)
            .collect();
        if newer {
            data.reverse();
        }
        let cursor_of = |d: &DeliveryState| format!("{}_{}", d.created_at.timestamp_millis(), d.id);
        // Going back, there is more before when the query found more; going
        // forward, there is something before whenever we came from a cursor.
        let (has_newer, has_older) = if newer {
            (more, true)
        } else {
            (forward.is_some(), more)
        };
        Ok(DeliveryPage {
            next_cursor: data.last().filter(|_| has_older).map(cursor_of),
            prev_cursor: data.first().filter(|_| has_newer).map(cursor_of),
            data,
        })
    }

    /// How many of the account's deliveries have this status, from the
    /// report's counts: a few rows per webhook and hour, however many
    /// deliveries there are.
    pub async fn count_deliveries(&self, account_id: &str, status: &str) -> Result<i64> {
        Ok(on_reader!(&self.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM delivery_counts WHERE account_id = $1 AND status = $2",
        )
        .bind(account_id)
        .bind(status)
        .fetch_one(pool)
        .await)?)
    }

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
        if done == 0 && state.status == "pending" {
            return Err(super::Error::field(
                "id",
                "not_yet_attempted",
                "This delivery has not had its first attempt yet.",
            ));
        }
        Ok(state)
    }

    /// The event a delivery carries, as its webhook was sent it.
    pub async fn delivery_event(&self, account_id: &str, delivery_id: &str) -> Result<Event> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, EventRow>(
            "SELECT e.id, e.type, e.occurred_at, e.actor, e.data FROM deliveries d \
             JOIN events e ON e.seq = d.event_seq WHERE d.account_id = $1 AND d.id = $2",
        )
        .bind(account_id)
        .bind(delivery_id)
        .fetch_optional(pool)
        .await)?
        .ok_or(super::Error::NotFound)?;
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

fn human_duration(ms: i64) -> String {
    let hours = ms / 3_600_000;
    match (hours / 24, hours % 24) {
        (0, 0) if ms < 2000 => "1 second".to_string(),
        (0, 0) => format!("{} seconds", ms / 1000),
        (0, h) => format!("{h} hours"),
        (1, 0) => "1 day".to_string(),
        (d, 0) => format!("{d} days"),
        (d, h) => format!("{d} days {h} hours"),
    }
}

/// The longest a `Retry-After` may push an attempt back.
const MAX_RETRY_AFTER_MS: i64 = 24 * 3600 * 1000;

/// What an attempt's outcome means for its delivery.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Succeeded,
    /// Given up; `disable` when the receiver asked never to be called again.
    Failed {
        disable: Option<&'static str>,
    },
    Retry {
        at: i64,
    },
}

impl Step {
    fn status(&self) -> &'static str {
        match self {
            Step::Succeeded => "succeeded",
            Step::Failed { .. } => "failed",
            Step::Retry { .. } => "retrying",
        }
    }

    fn next_attempt_at(&self) -> Option<i64> {
        match self {
            Step::Retry { at } => Some(*at),
            _ => None,
        }
    }
}

/// The next step after an attempt: success ends it; 410 Gone gives up and
/// turns the webhook off; otherwise the webhook's schedule (with up to 10%
/// jitter, so many retries do not arrive at once), pushed back by a
/// `Retry-After` on 429 and 503, until the attempts are used up.
fn next_step(job: &Job, outcome: &Outcome, now: i64) -> Step {
    if outcome.succeeded() {
        return Step::Succeeded;
    }
    if outcome.response.as_ref().is_some_and(|r| r.status == 410) {
        return Step::Failed {
            disable: Some("The receiver answered 410 Gone: it asked not to be called again."),
        };
    }
    let retry = &job.webhook.retry;
    if job.attempt >= retry.max_attempts {
        return Step::Failed { disable: None };
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
    let asked = outcome
        .response
        .as_ref()
        .filter(|r| r.status == 429 || r.status == 503)
        .and_then(|r| retry_after_ms(r, now))
        .unwrap_or(0);
    Step::Retry {
        at: now + (delay_ms + jitter).max(asked),
    }
}

/// A `Retry-After` header, in seconds or as an HTTP date, as milliseconds from now.
fn retry_after_ms(response: &ReceivedResponse, now: i64) -> Option<i64> {
    let value = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim())?;
    let ms = match value.parse::<i64>() {
        Ok(seconds) => seconds.saturating_mul(1000),
        Err(_) => {
            chrono::DateTime::parse_from_rfc2822(value)
                .ok()?
                .timestamp_millis()
                - now
        }
    };
    Some(ms.clamp(0, MAX_RETRY_AFTER_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> ReceivedResponse {
        ReceivedResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: String::new(),
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            retry_after_ms(&response(429, &[("Retry-After", "120")]), now),
            Some(120_000)
        );
        assert_eq!(
            retry_after_ms(
                &response(503, &[("retry-after", "Wed, 21 Oct 2015 07:29:00 GMT")]),
                now
            ),
            Some(60_000)
        );
        assert_eq!(
            retry_after_ms(&response(503, &[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(
            retry_after_ms(&response(503, &[("retry-after", "99999999")]), now),
            Some(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(retry_after_ms(&response(503, &[]), now), None);
    }

    fn outcome(attempt: u32, answer: Option<ReceivedResponse>) -> Outcome {
        let webhook = WebhookInput {
            retry: crate::model::RetryPolicy {
                max_attempts: 4,
                schedule_s: vec![0, 5, 300, 1800],
            },
            ..WebhookInput::default()
        };
        Outcome {
            job: Job {
                delivery_id: "dlv_1".into(),
                test: false,
                account_id: "acc_1".into(),
                webhook_id: "wh_1".into(),
                attempt,
                event: Arc::new(
                    crate::catalog::Catalog::builtin()
                        .sample("contact.created")
                        .unwrap(),
                ),
                webhook: Arc::new(webhook),
                signing_secrets: Arc::new([]),
            },
            at_ms: 0,
            duration_ms: 1,
            request: SentRequest {
                method: "POST".into(),
                url: "https://crm.example.com/hook".into(),
                headers: vec![],
                body: None,
            },
            response: answer,
            error: None,
        }
    }

    /// The schedule on a fixed clock: no sleeping, every time exact.
    #[test]
    fn each_retry_follows_the_schedule_with_at_most_ten_percent_jitter() {
        let now = 1_000_000_000;
        for (attempt, delay_s) in [(1u32, 5i64), (2, 300), (3, 1800)] {
            for _ in 0..50 {
                let o = outcome(attempt, Some(response(500, &[])));
                let Step::Retry { at } = next_step(&o.job, &o, now) else {
                    panic!("attempt {attempt} of 4 is retried");
                };
                let delay = at - now;
                assert!(
                    (delay_s * 1000..=delay_s * 1100).contains(&delay),
                    "attempt {attempt}: {delay} ms is not {delay_s} s + up to 10 %"
                );
            }
        }
        let last = outcome(4, Some(response(500, &[])));
        assert_eq!(
            next_step(&last.job, &last, now),
            Step::Failed { disable: None }
        );
        let timed_out = Outcome {
            error: Some("timed out".into()),
            ..outcome(1, None)
        };
        assert!(matches!(
            next_step(&timed_out.job, &timed_out, now),
            Step::Retry { .. }
        ));
        let ok = outcome(1, Some(response(204, &[])));
        assert_eq!(next_step(&ok.job, &ok, now), Step::Succeeded);
        let redirect = outcome(1, Some(response(302, &[])));
        assert!(matches!(
            next_step(&redirect.job, &redirect, now),
            Step::Retry { .. }
        ));
    }

    #[test]
    fn retry_after_pushes_the_schedule_back_and_gone_gives_up_at_once() {
        let now = 1_000_000_000;
        let busy = outcome(1, Some(response(429, &[("Retry-After", "600")])));
        assert_eq!(
            next_step(&busy.job, &busy, now),
            Step::Retry { at: now + 600_000 },
            "the receiver's 10 minutes beat the schedule's 5 seconds"
        );
        // Retry-After on a 500 is not a rate limit: the schedule stands.
        let failing = outcome(2, Some(response(500, &[("Retry-After", "5")])));
        let Step::Retry { at } = next_step(&failing.job, &failing, now) else {
            panic!("retried");
        };
        assert!(at - now >= 300_000);
        let gone = outcome(1, Some(response(410, &[])));
        assert!(matches!(
            next_step(&gone.job, &gone, now),
            Step::Failed { disable: Some(_) }
        ));
    }
}
