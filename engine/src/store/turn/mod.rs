//! The delivery engine's writer turn: one transaction and one commit,
//! however much it holds. It accepts the waiting calls' events (taking
//! some of their deliveries for this process at once), records the
//! attempts that finished, and claims what is due. What it took is loaded
//! for sending after the commit, on the readers, while the next turn runs.
//!
//! One caller's bad data must not fail the others who share the turn: a
//! turn that fails is taken once more with each call and the recording in
//! a savepoint of its own, so only what failed again is refused (that
//! call's answer is its error; an attempt that cannot be recorded is sent
//! again after its lease). The first try has no savepoints, which cost a
//! statement each on the hot path.
//!
//! - `accept`: events in, fanned out into one delivery per webhook fired.
//! - `record`: attempts and each delivery's next step.
//! - `claim`: due deliveries leased to this process; resends; hand-backs.
//! - `load`: what a taken or claimed delivery needs to be sent.

mod accept;
mod claim;
mod load;
mod record;

pub(crate) use accept::{INLINE_HOLD_MS, Incoming};
pub(crate) use load::StoredEvent;

use super::health::{DisablePolicy, TurnedOff, record_health_in};
use super::{Result, Store};
use crate::clock::now_ms;
use crate::job::{Finished, Job};
use crate::model::{Accepted, Account, DeliveryMode, NewEvent};
use crate::store::db::WriteTx;
use accept::TakenDelivery;
use claim::Claimed;

/// One account's calls waiting for a turn: their events, in order, and
/// how many of them each call sent.
pub struct Calls {
    pub account: Account,
    pub events: Vec<NewEvent>,
    pub sizes: Vec<usize>,
}

/// What one turn of the delivery engine's writer does ([`Store::take_turn`]).
pub struct Turn<'a> {
    /// Events to accept, by account; each must have passed
    /// [`crate::validate::check_event`].
    pub accept: Vec<Calls>,
    /// How many of the new deliveries to fast, background webhooks to
    /// take for this process at once.
    pub room: usize,
    /// Attempts that finished, with their next steps, to record.
    pub finished: &'a [Finished],
    /// How many due deliveries to claim.
    pub claim: i64,
    /// How long what is taken or claimed belongs to this process.
    pub lease_ms: i64,
    /// Webhooks to leave out of the claim (at their in-flight limit here).
    pub skip: &'a [String],
    /// When the attempts recorded turn a failing webhook off.
    pub disable: DisablePolicy,
}

/// What a turn did: each call's answers (or its error), in the order of
/// [`Turn::accept`] and each entry's sizes, and the deliveries it took or
/// claimed, to load with [`Store::ready_to_send`].
#[derive(Default)]
pub struct TurnDone {
    pub accepted: Vec<Result<Vec<Accepted>>>,
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
    taken: Vec<TakenDelivery>,
    claimed: Vec<Claimed>,
    turned_off: Vec<TurnedOff>,
}

/// A committed turn's deliveries, loaded and ready to send, and the
/// webhooks it turned off.
#[derive(Default)]
pub struct Ready {
    pub jobs: Vec<Job>,
    pub turned_off: Vec<TurnedOff>,
}

/// One account's calls with their events made ready for the insert.
struct IncomingCalls {
    account_id: String,
    events: Vec<Incoming>,
    sizes: Vec<usize>,
}

impl IncomingCalls {
    /// Each call's events.
    fn each(&self) -> impl Iterator<Item = &[Incoming]> {
        let mut rest = &self.events[..];
        self.sizes.iter().map(move |&size| {
            let (call, after) = rest.split_at(size.min(rest.len()));
            rest = after;
            call
        })
    }
}

/// What a turn's acceptances came to: each call's answers (or why the
/// database refused it), the deliveries handed over at once, and whether
/// more are due than were taken.
#[derive(Default)]
struct Accepting {
    accepted: Vec<Result<Vec<Accepted>>>,
    taken: Vec<TakenDelivery>,
    more_due: bool,
    /// Own event types stored, (account, type), to remember after commit.
    new_types: Vec<(String, String)>,
}

impl Accepting {
    /// Adds what one accept did, its answers split into calls of `sizes`
    /// events each.
    fn add(&mut self, done: accept::AcceptedIn, sizes: &[usize]) {
        self.more_due |= done.left;
        self.taken.extend(done.taken);
        self.new_types.extend(done.new_types);
        let mut answers = done.answers.into_iter();
        for &size in sizes {
            self.accepted
                .push(Ok(answers.by_ref().take(size).collect()));
        }
    }
}

/// What a turn does, once its events are made ready.
struct Work<'a> {
    calls: &'a [IncomingCalls],
    room: usize,
    finished: &'a [Finished],
    claim: i64,
    lease_ms: i64,
    skip: &'a [String],
    disable: DisablePolicy,
}

/// How a turn's parts share its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Together {
    /// With no savepoints: the fast way, when nothing fails.
    AllInOne,
    /// Each call and the recording in a savepoint, so what fails is
    /// left out alone.
    EachApart,
}

/// Records the finished attempts in a savepoint; should that fail, each
/// in its own, leaving out (and logging) those that fail again: their
/// deliveries are sent again once their leases end.
async fn record_apart(tx: &mut WriteTx, finished: &[Finished], now: i64) -> Result<()> {
    tx.savepoint().await?;
    if record::record_in(tx, finished, now).await.is_ok() {
        return tx.release_savepoint().await;
    }
    tx.roll_back_to_savepoint().await?;
    for one in finished {
        tx.savepoint().await?;
        match record::record_in(tx, std::slice::from_ref(one), now).await {
            Ok(()) => tx.release_savepoint().await?,
            Err(e) => {
                tx.roll_back_to_savepoint().await?;
                tracing::error!(error = %e, delivery = %one.job().delivery_id, "an attempt could not be recorded; its delivery is sent again once its lease ends");
            }
        }
    }
    Ok(())
}

impl ToSend {
    /// How many deliveries it holds.
    pub fn len(&self) -> usize {
        self.taken.len() + self.claimed.len()
    }

    /// Nothing to load and nothing to announce.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.turned_off.is_empty()
    }
}

impl Store {
    /// Records attempts and moves each delivery on to its step. One
    /// transaction for the whole batch; the webhooks it turned off.
    pub async fn record_attempts(
        &self,
        finished: &[Finished],
        disable: DisablePolicy,
    ) -> Result<Vec<TurnedOff>> {
        let turn = Turn {
            accept: Vec::new(),
            room: 0,
            finished,
            claim: 0,
            lease_ms: 0,
            skip: &[],
            disable,
        };
        let done = self.take_turn(turn).await?;
        Ok(self.ready_to_send(done.to_send).await?.turned_off)
    }

    /// One turn of the delivery engine's writer, in one transaction and one
    /// commit however much it holds: accepts the waiting calls' events
    /// (taking up to `room` of their fast deliveries at once), records what
    /// finished, and claims what the free slots can take, with everything
    /// needed to send them. A queued webhook's next delivery is free to go
    /// in the same turn its predecessor succeeded. A turn that fails on
    /// its data is taken again call by call (see the module's notes).
    pub async fn take_turn(&self, turn: Turn<'_>) -> Result<TurnDone> {
        if turn.accept.is_empty() && turn.finished.is_empty() && turn.claim <= 0 {
            return Ok(TurnDone::default());
        }
        let now = now_ms();
        let calls: Vec<IncomingCalls> = turn
            .accept
            .into_iter()
            .map(|c| IncomingCalls {
                account_id: c.account.id.clone(),
                events: Incoming::all(&c.account, c.events, now),
                sizes: c.sizes,
            })
            .collect();
        let work = Work {
            calls: &calls,
            room: turn.room,
            finished: turn.finished,
            claim: turn.claim,
            lease_ms: turn.lease_ms,
            skip: turn.skip,
            disable: turn.disable,
        };
        match self.turn_once(&work, Together::AllInOne).await {
            Err(e) if e.is_data_fault() => {
                tracing::warn!(error = %e, "a delivery engine turn failed on its data; taking it again call by call");
                self.turn_once(&work, Together::EachApart).await
            }
            done => done,
        }
    }

    /// One try at a turn: everything in one go, or each call and the
    /// recording in a savepoint of its own.
    async fn turn_once(&self, work: &Work<'_>, together: Together) -> Result<TurnDone> {
        let mut tx = self.begin_write().await?;
        let Accepting {
            accepted,
            taken,
            mut more_due,
            new_types,
        } = self.accept_calls(&mut tx, work, together).await?;
        let now = now_ms();
        match together {
            Together::AllInOne => record::record_in(&mut tx, work.finished, now).await?,
            Together::EachApart => record_apart(&mut tx, work.finished, now).await?,
        }
        let turned_off = record_health_in(&mut tx, work.finished, work.disable, now).await?;
        more_due |= work
            .finished
            .iter()
            .any(|f| f.job().webhook.delivery_mode == DeliveryMode::Queued);
        let claimed = self
            .claim_in(&mut tx, work.claim, work.lease_ms, work.skip, now)
            .await?;
        more_due |= work.claim > 0 && claimed.len() as i64 >= work.claim;
        tx.commit().await?;
        self.seen_types.mark(new_types);
        let deliveries: usize = accepted
            .iter()
            .flatten()
            .flatten()
            .map(|a: &Accepted| a.deliveries.len() + 1)
            .sum();
        self.db
            .wal_grew(deliveries + work.finished.len() + claimed.len());
        Ok(TurnDone {
            accepted,
            to_send: ToSend {
                taken,
                claimed,
                turned_off,
            },
            more_due,
        })
    }

    /// Accepts every call's events in the turn's transaction: all in one
    /// go, or each call in a savepoint of its own so that a call the
    /// database refuses fails alone.
    async fn accept_calls(
        &self,
        tx: &mut WriteTx,
        work: &Work<'_>,
        together: Together,
    ) -> Result<Accepting> {
        let mut out = Accepting::default();
        for call in work.calls {
            let account = &call.account_id;
            if together == Together::AllInOne {
                let room = work.room.saturating_sub(out.taken.len());
                let done = self
                    .accept_in(tx, account, &call.events, room, work.lease_ms)
                    .await?;
                out.add(done, &call.sizes);
                continue;
            }
            for events in call.each() {
                let room = work.room.saturating_sub(out.taken.len());
                tx.savepoint().await?;
                match self
                    .accept_in(tx, account, events, room, work.lease_ms)
                    .await
                {
                    Ok(done) => {
                        tx.release_savepoint().await?;
                        out.add(done, &[events.len()]);
                    }
                    Err(e) => {
                        tx.roll_back_to_savepoint().await?;
                        tracing::warn!(error = %e, %account, "events refused: the database would not store them");
                        out.accepted.push(Err(e));
                    }
                }
            }
        }
        Ok(out)
    }

    /// After a turn's commit: loads every delivery it took or claimed
    /// with what is needed to send it. Deliveries of webhooks deleted or
    /// turned off meanwhile are given up instead.
    pub async fn ready_to_send(&self, to_send: ToSend) -> Result<Ready> {
        let ToSend {
            taken,
            claimed,
            turned_off,
        } = to_send;
        let mut jobs = self.taken_jobs(taken).await?;
        jobs.extend(self.jobs_for(claimed).await?);
        Ok(Ready { jobs, turned_off })
    }
}
