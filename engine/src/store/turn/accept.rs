//! Accepting events: each event and one pending delivery per active
//! webhook it fires, in the caller's transaction. The fan-out is planned
//! first, from the account's webhooks ([`FanOut::plan`], no database),
//! then written a few hundred rows per statement. An idempotency key is
//! claimed by the event's insert itself (`ON CONFLICT DO NOTHING`): an
//! event whose key another call stored first, in this process or
//! another, takes that call's answer and its deliveries are never
//! written ([`FanOut::settle`]).

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
    /// Own event types it stored, (account, type).
    pub(crate) new_types: Vec<(String, String)>,
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

/// An event on its way in: its id and time given, its record found and
/// its key beside it. Made before the turn's transaction, so a turn taken
/// again after a failure writes the same events.
pub(crate) struct Incoming {
    event: Arc<Event>,
    key: Option<String>,
    /// The record's id and label, for the history filters.
    record: crate::reports::RecordRef,
}

impl Incoming {
    pub(crate) fn event(&self) -> &Event {
        &self.event
    }

    pub(crate) fn event_type(&self) -> &str {
        &self.event.event_type
    }

    /// One account's events, each with an id and, when it has none, the
    /// time `now` as when it occurred.
    pub(crate) fn all(account: &Account, events: Vec<NewEvent>, now: i64) -> Vec<Incoming> {
        let account = AccountRef::from(account);
        events
            .into_iter()
            .map(|new| {
                let event = Event {
                    id: new_id("evt"),
                    event_type: new.event_type,
                    account: account.clone(),
                    occurred_at: new.occurred_at.unwrap_or_else(|| from_ms(now)),
                    actor: new.actor,
                    data: new.data,
                };
                Incoming {
                    record: crate::reports::record_of(&event.data),
                    key: new.idempotency_key,
                    event: Arc::new(event),
                }
            })
            .collect()
    }
}

/// An event accepted in this call, with its answer and what its
/// deliveries need.
struct Fresh<'a> {
    incoming: &'a Incoming,
    answer: Accepted,
    /// How each delivery of the answer is written, in its order.
    placed: Vec<Placed>,
    /// Where its answer goes among the call's answers.
    at: usize,
}

impl Fresh<'_> {
    fn event(&self) -> &Event {
        &self.incoming.event
    }

    fn key(&self) -> Option<&str> {
        self.incoming.key.as_deref()
    }
}

/// Where the deliveries taken at acceptance may go, and for how long.
struct Room {
    room: usize,
    lease_ms: i64,
    now: i64,
}

/// A call's events planned out: the fresh events with their deliveries,
/// the repeats of keys earlier in the call, and which deliveries this
/// process takes.
struct FanOut<'a> {
    /// One per event; filled by [`FanOut::finish`].
    answers: Vec<Option<Accepted>>,
    fresh: Vec<Fresh<'a>>,
    /// (answer, first answer with the same key) of keys repeated in the call.
    repeats: Vec<(usize, usize)>,
    /// (fresh event, delivery) taken for this process.
    taken: Vec<(usize, usize)>,
    left: bool,
}

impl<'a> FanOut<'a> {
    /// Plans the events of one call: an event whose idempotency key came
    /// earlier in the call gets that event's answer; every other one gets
    /// an id and a delivery for each webhook it fires, the first `room`
    /// fast background ones taken for this process.
    fn plan(events: &'a [Incoming], subscribers: &[Subscriber], room: &Room) -> FanOut<'a> {
        let mut plan = FanOut {
            answers: Vec::with_capacity(events.len()),
            fresh: Vec::with_capacity(events.len()),
            repeats: Vec::new(),
            taken: Vec::new(),
            left: false,
        };
        let mut keys_seen: HashMap<&str, usize> = HashMap::new();
        for incoming in events {
            if let Some(key) = incoming.key.as_deref() {
                if let Some(first) = keys_seen.get(key) {
                    plan.repeats.push((plan.answers.len(), *first));
                    plan.answers.push(None);
                    continue;
                }
                keys_seen.insert(key, plan.answers.len());
            }
            let fresh = plan.fan_out(incoming, subscribers, room);
            plan.answers.push(None);
            plan.fresh.push(fresh);
        }
        plan
    }

    /// One fresh event and its deliveries.
    fn fan_out(
        &mut self,
        incoming: &'a Incoming,
        subscribers: &[Subscriber],
        room: &Room,
    ) -> Fresh<'a> {
        let mut fresh = Fresh {
            incoming,
            answer: Accepted {
                id: incoming.event.id.clone(),
                deliveries: Vec::new(),
            },
            placed: Vec::new(),
            at: self.answers.len(),
        };
        for hook in subscribers {
            if !hook
                .triggers
                .iter()
                .any(|t| matching::trigger_matches(t, fresh.event()))
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

    /// After the events' insert: a keyed event that was not inserted
    /// (`stored` has no sequence number for it) lost its key to an earlier
    /// call and takes that call's answer (`earlier`, by key); its
    /// deliveries are dropped, unwritten and untaken.
    fn settle(&mut self, stored: &HashMap<String, i64>, earlier: &HashMap<String, Accepted>) {
        let mut dropped = vec![false; self.fresh.len()];
        for (f, fresh) in self.fresh.iter_mut().enumerate() {
            if stored.contains_key(&fresh.event().id) {
                continue;
            }
            let Some(answer) = fresh.key().and_then(|k| earlier.get(k)) else {
                continue;
            };
            fresh.answer = answer.clone();
            fresh.placed.clear();
            dropped[f] = true;
        }
        self.taken.retain(|(f, _)| !dropped[*f]);
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
                    event: fresh[f].incoming.event.clone(),
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
            new_types: Vec::new(),
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
        let events = Incoming::all(account, events, now_ms());
        let mut tx = self.begin_write().await?;
        let done = self.accept_in(&mut tx, &account.id, &events, 0, 0).await?;
        tx.commit().await?;
        self.seen_types.mark(done.new_types);
        Ok(done.answers)
    }

    /// Accepts checked events (see [`check_event`]) of the account
    /// `account_id` in the transaction `tx`, and claims up to `room` of the new deliveries to
    /// fast, background webhooks for `lease_ms`, returning them for
    /// [`Store::taken_jobs`]: the delivery engine of this process sends
    /// them without a claim or a read of what it just wrote. Should the
    /// process die first, the lease runs out and any worker sends them.
    pub(crate) async fn accept_in(
        &self,
        tx: &mut WriteTx,
        account_id: &str,
        events: &[Incoming],
        room: usize,
        lease_ms: i64,
    ) -> Result<AcceptedIn> {
        let now = now_ms();
        let subscribers = subscribers_in(tx, account_id).await?;
        let room = Room {
            room,
            lease_ms,
            now,
        };
        let mut plan = FanOut::plan(events, &subscribers, &room);
        let seqs = insert_events_in(tx, account_id, &plan.fresh, now).await?;
        if seqs.len() < plan.fresh.len() {
            let lost = plan
                .fresh
                .iter()
                .filter(|f| !seqs.contains_key(&f.event().id))
                .filter_map(Fresh::key);
            let earlier = earlier_answers_in(tx, account_id, lost).await?;
            plan.settle(&seqs, &earlier);
        }
        insert_deliveries_in(tx, account_id, &plan.fresh, &seqs, now, &self.worker).await?;
        let new_types = self.note_types_in(tx, account_id, events, now).await?;
        Ok(AcceptedIn {
            new_types,
            ..plan.finish()
        })
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

/// The answers stored with these idempotency keys, by key. A key stored
/// without an answer (an older row) answers with its event's id.
async fn earlier_answers_in<'k>(
    tx: &mut WriteTx,
    account_id: &str,
    keys: impl Iterator<Item = &'k str>,
) -> Result<HashMap<String, Accepted>> {
    let mut earlier = HashMap::new();
    for key in keys {
        let (id, response) = in_tx!(tx, t => sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT id, response FROM events WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind(account_id)
        .bind(key)
        .fetch_one(&mut **t)
        .await)?;
        let answer = match response {
            Some(response) => serde_json::from_str(&response)
                .map_err(|e| Error::Corrupt(format!("the stored answer of key {key:?}: {e}")))?,
            None => Accepted {
                id,
                deliveries: Vec::new(),
            },
        };
        earlier.insert(key.to_string(), answer);
    }
    Ok(earlier)
}

/// Inserts the fresh events; the sequence numbers of those inserted, by
/// event id. An event whose idempotency key is stored already is not.
async fn insert_events_in(
    tx: &mut WriteTx,
    account_id: &str,
    fresh: &[Fresh<'_>],
    now: i64,
) -> Result<HashMap<String, i64>> {
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(fresh.len());
    for chunk in statement_chunks(fresh, ACCEPT_CHUNK) {
        let rows: Vec<(String, i64)> = in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO events (id, account_id, type, occurred_at, actor, data, idempotency_key, response, created_at) ",
            );
            q.push_values(chunk, |mut row, f| {
                let event = f.event();
                row.push_bind(&event.id)
                    .push_bind(account_id)
                    .push_bind(&event.event_type)
                    .push_bind(event.occurred_at.timestamp_millis())
                    .push_bind(event.actor.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()))
                    .push_bind(event.data.to_string())
                    .push_bind(f.key())
                    // Only a repeat of its key reads the answer back.
                    .push_bind(f.key().map(|_| serde_json::to_string(&f.answer).unwrap_or_default()))
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL \
                 DO NOTHING RETURNING id, seq",
            );
            q.build_query_as().persistent(true).fetch_all(&mut **t).await
        })?;
        seqs.extend(rows);
    }
    Ok(seqs)
}

/// Inserts every fresh event's deliveries; those held are held by `worker`.
async fn insert_deliveries_in(
    tx: &mut WriteTx,
    account_id: &str,
    fresh: &[Fresh<'_>],
    seqs: &HashMap<String, i64>,
    now: i64,
    worker: &str,
) -> Result<()> {
    let deliveries: Vec<(&Fresh, &DeliveryRef, &Placed)> = fresh
        .iter()
        .filter(|f| seqs.contains_key(&f.event().id))
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
                 next_attempt_at, claimed_until, claimed_by, created_at, updated_at, event_type, record_id, record_label) ",
            );
            q.push_values(chunk, |mut row, (f, d, placed)| {
                row.push_bind(&d.id)
                    .push_bind(account_id)
                    .push_bind(&d.webhook_id)
                    .push_bind(seqs.get(&f.event().id).copied().unwrap_or_default())
                    .push_bind(placed.queued)
                    .push_unseparated(", 'pending', 0, ")
                    .push_bind_unseparated(now)
                    .push_bind(placed.held_until)
                    .push_bind((placed.held_until > 0).then_some(worker))
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(&f.event().event_type)
                    .push_bind(&f.incoming.record.id)
                    .push_bind(&f.incoming.record.label);
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
        let account = Account {
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
        let events = Incoming::all(&account, events, room.now);
        let mut plan = FanOut::plan(&events, &subscribers, &room);
        assert_eq!(
            plan.fresh.len(),
            3,
            "a key repeated in the call makes no event"
        );
        let holds: Vec<i64> = plan.fresh[0].placed.iter().map(|p| p.held_until).collect();
        assert_eq!(
            holds,
            [6000, 0, 5000 + INLINE_HOLD_MS],
            "one taken, queued left, inline held"
        );
        assert!(plan.left);
        // The insert stored every event but the one keyed "seen": an
        // earlier call had stored that key.
        let stored: HashMap<String, i64> = plan.fresh[..2]
            .iter()
            .enumerate()
            .map(|(n, f)| (f.event().id.clone(), n as i64))
            .collect();
        let seen = Accepted {
            id: "evt_old".into(),
            deliveries: vec![],
        };
        plan.settle(
            &stored,
            &HashMap::from([("seen".to_string(), seen.clone())]),
        );
        assert!(
            plan.fresh[2].placed.is_empty(),
            "its deliveries are not written"
        );
        let done = plan.finish();
        assert_eq!(done.answers.len(), 5);
        assert_eq!(
            done.answers[0], done.answers[1],
            "the repeat gets the first answer"
        );
        assert_eq!(
            done.answers[3], seen,
            "a key stored before gets that answer"
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
