//! Accepting events: each event and one pending delivery per active
//! webhook it fires, in the caller's transaction. The fan-out is planned
//! first, from the account's webhooks and the idempotency keys already
//! answered ([`FanOut::plan`], no database), then written a few hundred
//! rows per statement.

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::matching;
use crate::model::{
    Accepted, Account, AccountRef, DeliveryRef, DeliveryStatus, Event, NewEvent, Trigger,
};
use crate::store::db::{WriteTx, statement_chunks};
use crate::store::{Error, Result, Store};
use crate::validate::check_event;

/// How long an inline delivery is held for its request (longer than any timeout).
pub(crate) const INLINE_HOLD_MS: i64 = 120_000;

/// Rows per multi-row insert when accepting events.
const ACCEPT_CHUNK: usize = 500;

/// A delivery taken for this process at acceptance: sent without a claim
/// or a read of what was just written.
pub(crate) struct TakenDelivery {
    pub(crate) delivery_id: String,
    pub(crate) webhook_id: String,
    pub(crate) event: Arc<Event>,
}

/// What [`Store::accept_in`] did: each event's answer, the deliveries it
/// took for the caller, and whether it left any due for a claim.
pub(crate) struct AcceptedIn {
    pub(crate) answers: Vec<Accepted>,
    pub(crate) taken: Vec<TakenDelivery>,
    pub(crate) left: bool,
}

/// An active webhook of the account, as the fan-out needs it.
#[derive(sqlx::FromRow)]
struct SubscriberRow {
    id: String,
    triggers: String,
    delivery_mode: String,
    execution_mode: String,
}

struct Subscriber {
    id: String,
    triggers: Vec<Trigger>,
    /// One at a time, in event order.
    queued: bool,
    /// Attempted by the request that made the delivery.
    inline: bool,
}

impl From<SubscriberRow> for Subscriber {
    fn from(row: SubscriberRow) -> Self {
        Subscriber {
            queued: row.delivery_mode == "queued",
            inline: row.execution_mode == "inline",
            triggers: serde_json::from_str(&row.triggers).unwrap_or_default(),
            id: row.id,
        }
    }
}

/// How a new delivery is written.
struct Placed {
    queued: bool,
    /// Until when it belongs to someone: the request (inline), this
    /// process (taken), or no one (0: any claim takes it).
    held_until: i64,
}

/// An event accepted in this call, with its answer and what its
/// deliveries need.
struct Fresh {
    event: Arc<Event>,
    answer: Accepted,
    /// The record's id and label, for the history filters.
    record: crate::reports::RecordRef,
    key: Option<String>,
    /// How each delivery of the answer is written, in its order.
    placed: Vec<Placed>,
    /// Where its answer goes among the call's answers.
    at: usize,
}

/// Where the deliveries taken at acceptance may go, and for how long.
struct Room {
    room: usize,
    lease_ms: i64,
    now: i64,
}

/// A call's events planned out: the answers already known (repeated
/// keys), the fresh events with their deliveries, and which of those
/// this process takes.
struct FanOut {
    answers: Vec<Option<Accepted>>,
    fresh: Vec<Fresh>,
    /// (answer, first answer with the same key) of keys repeated in the call.
    repeats: Vec<(usize, usize)>,
    /// (fresh event, delivery) taken for this process.
    taken: Vec<(usize, usize)>,
    left: bool,
}

impl FanOut {
    /// Plans the events of one call: an event whose idempotency key was
    /// answered before (`known`) or earlier in the call gets that answer;
    /// every other one gets an id and a delivery for each webhook it
    /// fires, the first `room` fast background ones taken for this process.
    fn plan(
        account: &AccountRef,
        events: Vec<NewEvent>,
        subscribers: &[Subscriber],
        known: HashMap<String, Accepted>,
        room: &Room,
    ) -> FanOut {
        let mut plan = FanOut {
            answers: Vec::with_capacity(events.len()),
            fresh: Vec::with_capacity(events.len()),
            repeats: Vec::new(),
            taken: Vec::new(),
            left: false,
        };
        let mut keys_seen: HashMap<String, usize> = HashMap::new();
        for new in events {
            if let Some(key) = &new.idempotency_key {
                if let Some(first) = keys_seen.get(key) {
                    plan.repeats.push((plan.answers.len(), *first));
                    plan.answers.push(None);
                    continue;
                }
                if let Some(answer) = known.get(key) {
                    plan.answers.push(Some(answer.clone()));
                    continue;
                }
                keys_seen.insert(key.clone(), plan.answers.len());
            }
            let fresh = plan.fan_out(account, new, subscribers, room);
            plan.answers.push(None);
            plan.fresh.push(fresh);
        }
        plan
    }

    /// One fresh event and its deliveries.
    fn fan_out(
        &mut self,
        account: &AccountRef,
        new: NewEvent,
        subscribers: &[Subscriber],
        room: &Room,
    ) -> Fresh {
        let event = Event {
            id: new_id("evt"),
            event_type: new.event_type,
            account: account.clone(),
            occurred_at: new.occurred_at.unwrap_or_else(|| from_ms(room.now)),
            actor: new.actor,
            data: new.data,
        };
        let mut fresh = Fresh {
            answer: Accepted {
                id: event.id.clone(),
                deliveries: Vec::new(),
            },
            record: crate::reports::record_of(&event.data),
            key: new.idempotency_key,
            placed: Vec::new(),
            event: Arc::new(event),
            at: self.answers.len(),
        };
        for hook in subscribers {
            if !hook
                .triggers
                .iter()
                .any(|t| matching::trigger_matches(t, &fresh.event))
            {
                continue;
            }
            // An inline delivery is held for the request that made it,
            // which attempts it at once; should that process die, the
            // hold runs out and any worker sends it.
            let held_until = if hook.inline {
                room.now + INLINE_HOLD_MS
            } else if !hook.queued && self.taken.len() < room.room {
                self.taken
                    .push((self.fresh.len(), fresh.answer.deliveries.len()));
                room.now + room.lease_ms
            } else {
                self.left = true;
                0
            };
            fresh.answer.deliveries.push(DeliveryRef {
                id: new_id("dlv"),
                webhook_id: hook.id.clone(),
                status: DeliveryStatus::Pending,
                response_status: None,
                inline: hook.inline,
            });
            fresh.placed.push(Placed {
                queued: hook.queued,
                held_until,
            });
        }
        fresh
    }

    /// The answers in the call's order, and the deliveries taken.
    fn finish(self) -> AcceptedIn {
        let FanOut {
            mut answers,
            fresh,
            repeats,
            taken,
            left,
        } = self;
        let taken = taken
            .into_iter()
            .map(|(f, d)| {
                let delivery = &fresh[f].answer.deliveries[d];
                TakenDelivery {
                    delivery_id: delivery.id.clone(),
                    webhook_id: delivery.webhook_id.clone(),
                    event: fresh[f].event.clone(),
                }
            })
            .collect();
        for f in fresh {
            answers[f.at] = Some(f.answer);
        }
        for (at, first) in repeats {
            answers[at] = answers[first].clone();
        }
        AcceptedIn {
            answers: answers.into_iter().flatten().collect(),
            taken,
            left,
        }
    }
}

impl Store {
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
    /// fast, background webhooks for `lease_ms`, returning them for
    /// [`Store::taken_jobs`]: the delivery engine of this process sends
    /// them without a claim or a read of what it just wrote. Should the
    /// process die first, the lease runs out and any worker sends them.
    pub(crate) async fn accept_in(
        &self,
        tx: &mut WriteTx,
        account: &Account,
        events: Vec<NewEvent>,
        room: usize,
        lease_ms: i64,
    ) -> Result<AcceptedIn> {
        let now = now_ms();
        let subscribers = subscribers_in(tx, &account.id).await?;
        let known = known_answers_in(tx, &account.id, &events).await?;
        let room = Room {
            room,
            lease_ms,
            now,
        };
        let plan = FanOut::plan(
            &AccountRef::from(account),
            events,
            &subscribers,
            known,
            &room,
        );
        let seqs = insert_events_in(tx, &account.id, &plan.fresh, now).await?;
        insert_deliveries_in(tx, &account.id, &plan.fresh, &seqs, now).await?;
        Ok(plan.finish())
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
}

/// The account's active webhooks.
async fn subscribers_in(tx: &mut WriteTx, account_id: &str) -> Result<Vec<Subscriber>> {
    let rows = in_tx!(tx, t => sqlx::query_as::<_, SubscriberRow>(
        "SELECT id, triggers, delivery_mode, execution_mode FROM webhooks \
         WHERE account_id = $1 AND active AND deleted_at IS NULL",
    )
    .bind(account_id)
    .fetch_all(&mut **t)
    .await)?;
    Ok(rows.into_iter().map(Subscriber::from).collect())
}

/// The stored answers of the events' idempotency keys that were seen
/// before, by key.
async fn known_answers_in(
    tx: &mut WriteTx,
    account_id: &str,
    events: &[NewEvent],
) -> Result<HashMap<String, Accepted>> {
    let mut known = HashMap::new();
    for key in events.iter().filter_map(|e| e.idempotency_key.as_ref()) {
        if known.contains_key(key) {
            continue;
        }
        let first = in_tx!(tx, t => sqlx::query_scalar::<_, Option<String>>(
            "SELECT response FROM events WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind(account_id)
        .bind(key)
        .fetch_optional(&mut **t)
        .await)?;
        if let Some(Some(response)) = first {
            let answer = serde_json::from_str(&response)
                .map_err(|e| Error::Corrupt(format!("the stored answer of key {key:?}: {e}")))?;
            known.insert(key.clone(), answer);
        }
    }
    Ok(known)
}

/// Inserts the fresh events; their sequence numbers by event id.
async fn insert_events_in(
    tx: &mut WriteTx,
    account_id: &str,
    fresh: &[Fresh],
    now: i64,
) -> Result<HashMap<String, i64>> {
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(fresh.len());
    for chunk in statement_chunks(fresh, ACCEPT_CHUNK) {
        let rows: Vec<(String, i64)> = in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO events (id, account_id, type, occurred_at, actor, data, idempotency_key, response, created_at) ",
            );
            q.push_values(chunk, |mut row, f| {
                row.push_bind(&f.event.id)
                    .push_bind(account_id)
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
    Ok(seqs)
}

/// Inserts every fresh event's deliveries.
async fn insert_deliveries_in(
    tx: &mut WriteTx,
    account_id: &str,
    fresh: &[Fresh],
    seqs: &HashMap<String, i64>,
    now: i64,
) -> Result<()> {
    let deliveries: Vec<(&Fresh, &DeliveryRef, &Placed)> = fresh
        .iter()
        .flat_map(|f| {
            f.answer
                .deliveries
                .iter()
                .zip(&f.placed)
                .map(move |(d, p)| (f, d, p))
        })
        .collect();
    for chunk in statement_chunks(&deliveries, ACCEPT_CHUNK) {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, queued, status, attempts, \
                 next_attempt_at, claimed_until, created_at, updated_at, event_type, record_id, record_label) ",
            );
            q.push_values(chunk, |mut row, (f, d, placed)| {
                row.push_bind(&d.id)
                    .push_bind(account_id)
                    .push_bind(&d.webhook_id)
                    .push_bind(seqs.get(&f.event.id).copied().unwrap_or_default())
                    .push_bind(placed.queued)
                    .push_unseparated(", 'pending', 0, ")
                    .push_bind_unseparated(now)
                    .push_bind(placed.held_until)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(&f.event.event_type)
                    .push_bind(&f.record.id)
                    .push_bind(&f.record.label);
            });
            q.build().persistent(true).execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subscriber(id: &str, event_type: &str, queued: bool, inline: bool) -> Subscriber {
        Subscriber {
            id: id.into(),
            triggers: vec![Trigger {
                event_type: event_type.into(),
                ..Trigger::default()
            }],
            queued,
            inline,
        }
    }

    fn keyed(event_type: &str, key: &str) -> NewEvent {
        NewEvent {
            idempotency_key: Some(key.into()),
            ..NewEvent::new(event_type, json!({"id": "c1"}))
        }
    }

    #[test]
    fn each_event_fans_out_to_the_webhooks_it_fires_and_takes_what_there_is_room_for() {
        let account = AccountRef {
            id: "acc_1".into(),
            name: "Acme".into(),
            external_ref: None,
        };
        let subscribers = [
            subscriber("wh_fast", "contact.created", false, false),
            subscriber("wh_queued", "contact.created", true, false),
            subscriber("wh_inline", "contact.created", false, true),
            subscriber("wh_leads", "lead.created", false, false),
        ];
        let room = Room {
            room: 1,
            lease_ms: 1000,
            now: 5000,
        };
        let events = vec![
            keyed("contact.created", "k1"),
            keyed("contact.created", "k1"),
            NewEvent::new("contact.created", json!({"id": "c2"})),
            keyed("lead.created", "seen"),
            keyed("lead.created", "seen"),
        ];
        let seen = Accepted {
            id: "evt_old".into(),
            deliveries: vec![],
        };
        let known = HashMap::from([("seen".to_string(), seen.clone())]);
        let plan = FanOut::plan(&account, events, &subscribers, known, &room);
        assert_eq!(plan.fresh.len(), 2, "a repeated key makes no event");
        let holds: Vec<i64> = plan.fresh[0].placed.iter().map(|p| p.held_until).collect();
        assert_eq!(
            holds,
            [6000, 0, 5000 + INLINE_HOLD_MS],
            "one taken, queued left, inline held"
        );
        assert!(plan.left);
        let done = plan.finish();
        assert_eq!(done.answers.len(), 5);
        assert_eq!(
            done.answers[0], done.answers[1],
            "the repeat gets the first answer"
        );
        assert_eq!(
            done.answers[3], seen,
            "a key answered before gets that answer"
        );
        assert_eq!(done.answers[4], seen, "every time");
        let fired: Vec<&str> = done.answers[2]
            .deliveries
            .iter()
            .map(|d| d.webhook_id.as_str())
            .collect();
        assert_eq!(fired, ["wh_fast", "wh_queued", "wh_inline"]);
        assert_eq!(done.taken.len(), 1);
        assert_eq!(done.taken[0].webhook_id, "wh_fast");
        assert_eq!(done.taken[0].delivery_id, done.answers[0].deliveries[0].id);
    }
}
