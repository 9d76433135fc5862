//! The delivery engine's writer turn: one transaction and one commit,
//! however much it holds. It accepts the waiting calls' events (taking
//! some of their deliveries for this process at once), records the
//! attempts that finished, and claims what is due. What it took is loaded
//! for sending after the commit, on the readers, while the next turn runs.
//!
//! - `accept`: events in, fanned out into one delivery per webhook fired.
//! - `record`: attempts and each delivery's next step.
//! - `claim`: due deliveries leased to this process; resends; hand-backs.
//! - `load`: what a taken or claimed delivery needs to be sent.

mod accept;
mod claim;
mod load;
mod record;

pub(crate) use accept::INLINE_HOLD_MS;
pub(crate) use load::StoredEvent;

use super::health::{DisablePolicy, TurnedOff, record_health_in};
use super::{Result, Store};
use crate::clock::now_ms;
use crate::job::{Finished, Job};
use crate::model::{Accepted, Account, DeliveryMode, NewEvent};
use accept::TakenDelivery;
use claim::Claimed;

/// What one turn of the delivery engine's writer does ([`Store::take_turn`]).
pub struct Turn<'a> {
    /// Events to accept, each account's with the calls' events in order;
    /// each must have passed [`crate::validate::check_event`].
    pub accept: Vec<(Account, Vec<NewEvent>)>,
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
    /// in the same turn its predecessor succeeded.
    pub async fn take_turn(&self, turn: Turn<'_>) -> Result<TurnDone> {
        if turn.accept.is_empty() && turn.finished.is_empty() && turn.claim <= 0 {
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
        record::record_in(&mut tx, turn.finished, now).await?;
        let turned_off = record_health_in(&mut tx, turn.finished, turn.disable, now).await?;
        more_due |= turn
            .finished
            .iter()
            .any(|f| f.job().webhook.delivery_mode == DeliveryMode::Queued);
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
        self.db
            .wal_grew(deliveries + turn.finished.len() + claimed.len());
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
