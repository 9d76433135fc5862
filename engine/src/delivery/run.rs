//! The delivery loop: one writer turn at a time (and, on PostgreSQL, a
//! second one beside it for calls that arrive meanwhile), senders fed from
//! what the turns took, and a drain on shutdown. [`Loop`]'s methods are
//! its steps: send what waits, start a turn, wait for the next thing to
//! happen, take in a finished turn or loaded deliveries, dispatch them,
//! drain.

use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::lanes::Lanes;
use super::{AcceptCall, DeliveryConfig, Sender, announce_turned_off};
use crate::clock::now_ms;
use crate::error::Error;
use crate::job::{Finished, Job, Outcome};

use crate::store::{Backend, Calls, Store, ToSend, Turn};

/// What the loop listens to.
pub(super) struct Inputs {
    /// Accept calls from this process's API and console.
    pub(super) waiting: mpsc::Receiver<AcceptCall>,
    /// New deliveries were committed elsewhere, or made due.
    pub(super) wake: Arc<Notify>,
    /// Turns true to stop.
    pub(super) stopped: watch::Receiver<bool>,
}

/// A committed turn's deliveries being loaded: how many, and the jobs.
type Loading = JoinSet<(usize, Result<Vec<Job>, Error>)>;

/// The loop's state between its steps.
struct Loop {
    store: Store,
    config: DeliveryConfig,
    sender: Sender,
    /// Attempts in flight, across all webhooks.
    permits: Arc<Semaphore>,
    /// Deliveries taken at acceptance or claimed beyond the free slots
    /// wait in memory, up to about this many; the rest wait in the
    /// database.
    capacity: usize,
    lanes: Lanes,
    /// Where each attempt's outcome goes, and where they arrive.
    results: mpsc::UnboundedSender<Outcome>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    /// Accept calls and outcomes waiting for the next turn.
    calls: Vec<AcceptCall>,
    finished: Vec<Outcome>,
    /// The writer's turn under way: one transaction that accepts the calls
    /// that waited, records what finished and claims what the free slots
    /// can take. Sending does not wait for it: a slot that frees while it
    /// commits goes at once to a delivery waiting in memory.
    turn: Option<JoinHandle<Done>>,
    /// PostgreSQL runs writers side by side: calls that arrive while a
    /// turn is under way get a turn of their own beside it rather than
    /// waiting for its commit. SQLite has one writer, so there they wait.
    side: Option<JoinHandle<Done>>,
    side_by_side: bool,
    /// Committed turns' deliveries being loaded (events, webhooks,
    /// secrets) on the readers while the next turn runs, and how many
    /// they hold.
    loading: Loading,
    loading_len: usize,
    /// A claim is worth its query only when something may be due that no
    /// turn took: woken, polled, or the last turn says so.
    want_claim: bool,
    /// The last claim left webhooks out (enough of theirs waiting): worth
    /// repeating once attempts finish.
    left_out: bool,
}

/// What waiting brought.
enum Next {
    Nothing,
    /// Deliveries loaded and ready to send.
    Jobs(Vec<Job>),
    Stop,
}

/// What one writer turn is given.
struct Work {
    calls: Vec<AcceptCall>,
    outcomes: Vec<Outcome>,
    claim: i64,
    room: usize,
    skip: Vec<String>,
}

/// What one writer turn did, once committed and its calls answered.
#[derive(Default)]
struct Done {
    /// Deliveries may be due that it did not take.
    more_due: bool,
    to_send: ToSend,
}

/// Runs the loop until `inputs.stopped` turns true or the callers are
/// gone, then drains.
pub(super) async fn run(store: Store, config: DeliveryConfig, sender: Sender, inputs: Inputs) {
    let mut inputs = inputs;
    // What this process held when it stopped goes out now, not when its
    // leases run out.
    match store.release_stale_claims().await {
        Ok(0) => {}
        Ok(released) => {
            tracing::info!(
                released,
                worker = store.worker(),
                "handed back the deliveries held when this worker last stopped"
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not hand back earlier claims; they go out when their leases end")
        }
    }
    let mut engine = Loop::new(store, config, sender);
    loop {
        if *inputs.stopped.borrow() {
            break;
        }
        engine.send_waiting().await;
        engine.start_turn();
        match engine.next(&mut inputs).await {
            Next::Nothing => {}
            Next::Jobs(jobs) => engine.dispatch(jobs),
            Next::Stop => break,
        }
    }
    engine.drain(inputs).await;
}

impl Loop {
    fn new(store: Store, config: DeliveryConfig, sender: Sender) -> Loop {
        let (results, outcomes) = mpsc::unbounded_channel();
        Loop {
            side_by_side: store.backend() == Backend::Postgres,
            permits: Arc::new(Semaphore::new(config.concurrency)),
            capacity: config.concurrency * 4,
            lanes: Lanes::new(config.per_webhook.max(1)),
            store,
            config,
            sender,
            results,
            outcomes,
            calls: Vec::new(),
            finished: Vec::new(),
            turn: None,
            side: None,
            loading: JoinSet::new(),
            loading_len: 0,
            want_claim: true,
            left_out: false,
        }
    }

    /// Sends one job in a slot of its webhook's lane and of the engine.
    fn start(&self, job: Job, lane: OwnedSemaphorePermit, permit: OwnedSemaphorePermit) {
        let sender = self.sender.clone();
        let results = self.results.clone();
        tokio::spawn(async move {
            let outcome = sender.attempt(job).await;
            // Slots free before the outcome is seen, so the turn that
            // records it can claim in their place.
            drop(lane);
            drop(permit);
            let _ = results.send(outcome);
        });
    }

    /// Deliveries that waited for their webhook's slot go first, as far
    /// as there are slots; those that waited too long go back before
    /// their lease is at risk.
    async fn send_waiting(&mut self) {
        let (ready, stale) = self
            .lanes
            .ready(self.config.lease / 4, self.permits.available_permits());
        if !stale.is_empty() {
            self.want_claim = true;
            if let Err(e) = self.store.release_claims(&stale, 0).await {
                tracing::error!(error = %e, "handing back waiting deliveries failed");
            }
        }
        for (job, lane) in ready {
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => self.start(job, lane, permit),
                Err(_) => self.lanes.wait(job),
            }
        }
    }

    /// Starts a writer turn when there is none and something to do: calls
    /// to answer, outcomes to record, or a claim worth making. With one
    /// under way on PostgreSQL, waiting calls get a turn beside it.
    fn start_turn(&mut self) {
        // Claimed deliveries wait in memory up to `capacity`, so senders
        // go on from there while the next turn commits.
        let room = self
            .capacity
            .saturating_sub(self.lanes.waiting_len() + self.loading_len);
        let claim_now =
            (self.want_claim || (self.left_out && !self.finished.is_empty())) && room > 0;
        if self.turn.is_none() && (claim_now || !self.finished.is_empty() || !self.calls.is_empty())
        {
            let (claim, skip) = if claim_now {
                let skip = self.lanes.busy();
                self.want_claim = false;
                self.left_out = !skip.is_empty();
                (room.min(self.config.batch.max(0) as usize) as i64, skip)
            } else {
                (0, Vec::new())
            };
            let work = Work {
                calls: std::mem::take(&mut self.calls),
                outcomes: std::mem::take(&mut self.finished),
                claim,
                room,
                skip,
            };
            self.turn = Some(tokio::spawn(take_turn(
                self.store.clone(),
                self.config.clone(),
                work,
            )));
        } else if self.side_by_side && self.side.is_none() && !self.calls.is_empty() {
            let work = Work {
                calls: std::mem::take(&mut self.calls),
                outcomes: Vec::new(),
                claim: 0,
                room,
                skip: Vec::new(),
            };
            self.side = Some(tokio::spawn(take_turn(
                self.store.clone(),
                self.config.clone(),
                work,
            )));
        }
    }

    /// Waits for the next thing to happen.
    async fn next(&mut self, inputs: &mut Inputs) -> Next {
        tokio::select! {
            done = until_done(&mut self.turn) => {
                self.turn = None;
                self.turn_done(done);
                Next::Nothing
            }
            done = until_done(&mut self.side) => {
                self.side = None;
                self.turn_done(done);
                Next::Nothing
            }
            Some(loaded) = self.loading.join_next(), if !self.loading.is_empty() => {
                self.loaded(loaded)
            }
            // Calls held here count against the hand-off's room too: while
            // a turn is stuck, further calls wait in the bounded channel
            // (and are refused once it is full), not here without end.
            n = inputs.waiting.recv_many(&mut self.calls, 1024),
                if (!inputs.waiting.is_closed() || !inputs.waiting.is_empty())
                    && self.calls.len() < self.config.handoff_calls => {
                if n == 0 { Next::Stop } else { Next::Nothing }
            }
            n = self.outcomes.recv_many(&mut self.finished, self.config.batch.max(1) as usize) => {
                if n == 0 { Next::Stop } else { Next::Nothing }
            }
            () = inputs.wake.notified() => {
                self.want_claim = true;
                Next::Nothing
            }
            () = tokio::time::sleep(self.config.poll) => {
                self.want_claim = true;
                Next::Nothing
            }
            // A dropped `Delivery` stops its engine as `shutdown` would.
            changed = inputs.stopped.changed() => {
                if changed.is_err() { Next::Stop } else { Next::Nothing }
            }
        }
    }

    /// A turn committed: what it took is loaded beside the next one.
    fn turn_done(&mut self, done: Done) {
        self.want_claim |= done.more_due;
        self.loading_len += load(&self.store, done.to_send, &mut self.loading);
    }

    /// A load finished: its jobs, to dispatch. Deliveries that failed to
    /// load stay claimed until their lease ends; then they go again.
    fn loaded(
        &mut self,
        loaded: Result<(usize, Result<Vec<Job>, Error>), tokio::task::JoinError>,
    ) -> Next {
        match loaded {
            Ok((n, Ok(jobs))) => {
                self.loading_len -= n;
                Next::Jobs(jobs)
            }
            Ok((n, Err(e))) => {
                self.loading_len -= n;
                tracing::error!(error = %e, count = n, "loading claimed deliveries failed");
                Next::Nothing
            }
            Err(e) => {
                tracing::error!(error = %e, "loading claimed deliveries failed");
                if self.loading.is_empty() {
                    self.loading_len = 0;
                }
                Next::Nothing
            }
        }
    }

    /// Sends each job now, or it waits in its webhook's lane for a slot.
    fn dispatch(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            let Some((job, lane)) = self.lanes.enter(job) else {
                continue;
            };
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => self.start(job, lane, permit),
                Err(_) => {
                    drop(lane);
                    self.lanes.wait(job);
                }
            }
        }
    }

    /// Stops: the turns under way answer their calls and what they took
    /// goes back; calls still waiting are accepted, with nothing taken;
    /// every attempt in flight finishes and all are recorded.
    async fn drain(mut self, mut inputs: Inputs) {
        for turn in [self.turn.take(), self.side.take()].into_iter().flatten() {
            if let Ok(done) = turn.await {
                load(&self.store, done.to_send, &mut self.loading);
            }
        }
        while let Some(loaded) = self.loading.join_next().await {
            if let Ok((_, Ok(jobs))) = loaded {
                for job in jobs {
                    self.lanes.wait(job);
                }
            }
        }
        inputs.waiting.close();
        while let Ok(call) = inputs.waiting.try_recv() {
            self.calls.push(call);
        }
        if !self.calls.is_empty() {
            let work = Work {
                calls: std::mem::take(&mut self.calls),
                outcomes: Vec::new(),
                claim: 0,
                room: 0,
                skip: Vec::new(),
            };
            take_turn(self.store.clone(), self.config.clone(), work).await;
        }
        // Deliveries still waiting for a slot go back for the next worker.
        let waiting = self.lanes.drain();
        if !waiting.is_empty() {
            let _ = self.store.release_claims(&waiting, 0).await;
        }
        let _ = self
            .permits
            .acquire_many(self.config.concurrency as u32)
            .await;
        drop(self.results);
        while let Some(outcome) = self.outcomes.recv().await {
            self.finished.push(outcome);
        }
        let finished = finish(std::mem::take(&mut self.finished));
        match self
            .store
            .record_attempts(&finished, self.config.disable)
            .await
        {
            Ok(turned_off) => announce_turned_off(&self.store, turned_off).await,
            Err(e) => {
                tracing::error!(error = %e, count = finished.len(), "recording the last attempts failed")
            }
        }
    }
}

/// Outcomes with their next steps, as of now.
pub(crate) fn finish(outcomes: Vec<Outcome>) -> Vec<Finished> {
    let now = now_ms();
    outcomes
        .into_iter()
        .map(|o| Finished::new(o, now))
        .collect()
}

/// Loads a committed turn's deliveries beside the next turn, and
/// announces the webhooks it turned off; how many deliveries it holds.
fn load(store: &Store, to_send: ToSend, loading: &mut Loading) -> usize {
    if to_send.is_empty() {
        return 0;
    }
    let n = to_send.len();
    let store = store.clone();
    loading.spawn(async move {
        match store.ready_to_send(to_send).await {
            Ok(ready) => {
                announce_turned_off(&store, ready.turned_off).await;
                (n, Ok(ready.jobs))
            }
            Err(e) => (n, Err(e)),
        }
    });
    n
}

/// One writer turn: each account's waiting calls are accepted together,
/// then every call is answered with its own answers, in order.
async fn take_turn(store: Store, config: DeliveryConfig, work: Work) -> Done {
    let Work {
        calls,
        outcomes,
        claim,
        room,
        skip,
    } = work;
    let (accept, waiting): (Vec<Calls>, Vec<Vec<AcceptCall>>) =
        by_account(calls).into_iter().unzip();
    let finished = finish(outcomes);
    let turn = Turn {
        accept,
        room,
        finished: &finished,
        claim,
        lease_ms: config.lease_ms(),
        skip: &skip,
        disable: config.disable,
    };
    match store.take_turn(turn).await {
        Ok(done) => {
            for (answers, call) in done.accepted.into_iter().zip(waiting.into_iter().flatten()) {
                let _ = call.answer.send(answers);
            }
            Done {
                more_due: done.more_due,
                to_send: done.to_send,
            }
        }
        Err(e) => {
            // Unrecorded attempts are sent again once their lease ends.
            tracing::error!(error = %e, recorded = finished.len(), "the delivery engine's database turn failed");
            for call in waiting.into_iter().flatten() {
                let _ = call.answer.send(Err(e.for_another_caller()));
            }
            Done::default()
        }
    }
}

/// Calls grouped by account, in the order each account first came: each
/// account's events, and its callers in the same order.
fn by_account(calls: Vec<AcceptCall>) -> Vec<(Calls, Vec<AcceptCall>)> {
    let mut accounts: Vec<(Calls, Vec<AcceptCall>)> = Vec::new();
    for mut call in calls {
        let events = std::mem::take(&mut call.events);
        let at = match accounts
            .iter()
            .position(|(a, _)| a.account.id == call.account.id)
        {
            Some(at) => at,
            None => {
                let calls = Calls {
                    account: call.account.clone(),
                    events: Vec::new(),
                    sizes: Vec::new(),
                };
                accounts.push((calls, Vec::new()));
                accounts.len() - 1
            }
        };
        let (calls, callers) = &mut accounts[at];
        calls.sizes.push(events.len());
        calls.events.extend(events);
        callers.push(call);
    }
    accounts
}

/// The turn under way, once it is done; never, when there is none.
async fn until_done(turn: &mut Option<JoinHandle<Done>>) -> Done {
    match turn {
        Some(handle) => handle.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "the delivery engine's database turn failed");
            Done::default()
        }),
        None => std::future::pending().await,
    }
}
