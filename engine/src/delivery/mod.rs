//! The delivery engine: claims due deliveries, sends them through one shared
//! client with bounded concurrency, and records every attempt in batches.
//!
//! One writer turn at a time, in one transaction: it accepts the events
//! this process was handed ([`Handoff`]), records the attempts that
//! finished and claims what is due. Its calls are answered at its commit;
//! what it took is loaded on the readers while the next turn runs. Events
//! accepted elsewhere wake the engine ([`Delivery::wake`]); retries are
//! found by a short poll of the due index. Shutdown stops claiming, waits
//! for the attempts in flight and records them.
//!
//! # Layout
//! - [`address`]: which destination addresses are refused.
//! - [`sender`]: the HTTP client and one attempt.

pub mod address;
pub mod sender;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::clock::now_ms;
use crate::error::Error;
use crate::job::{Finished, Job, Outcome};
use crate::model::{Accepted, Account, DeliveryStatus, NewEvent, TestResponse, TestSend};
use crate::reports::DeliveryState;
use crate::store::{Backend, Store, ToSend, Turn};
use crate::validate::check_event;
pub use sender::Sender;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Send to loopback and private addresses (development and tests).
    pub allow_private: bool,
    /// Attempts in flight at once, across all webhooks.
    pub concurrency: usize,
    /// Attempts in flight at once to one webhook (fast mode; queued mode
    /// sends one at a time anyway), so one slow receiver cannot take every
    /// slot from the others.
    pub per_webhook: usize,
    /// How long a claimed delivery belongs to this worker.
    pub lease: Duration,
    /// How often to look for retries that have come due.
    pub poll: Duration,
    /// Deliveries taken per claim.
    pub batch: i64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            allow_private: false,
            concurrency: 256,
            per_webhook: 64,
            lease: Duration::from_secs(120),
            poll: Duration::from_millis(500),
            batch: 1024,
        }
    }
}

/// A running delivery engine.
pub struct Delivery {
    wake: Arc<Notify>,
    handoff: Handoff,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Where this process accepts events: calls wait for the engine's next
/// writer turn, which accepts them all together with what the engine
/// records and claims, in one transaction and one sync (group commit), and
/// hands as many new deliveries as there is room for straight to the
/// senders, without a claim. Should the process die first, their lease runs
/// out and any worker sends them.
#[derive(Clone)]
pub struct Handoff {
    calls: mpsc::UnboundedSender<AcceptCall>,
    wake: Arc<Notify>,
}

/// One call of [`Handoff::accept`] waiting for the writer's turn.
struct AcceptCall {
    account: Account,
    events: Vec<NewEvent>,
    answer: oneshot::Sender<Result<Vec<Accepted>, Error>>,
}

impl Handoff {
    /// Accepts events (as [`Store::accept_events`]) in the engine's next
    /// turn; the answer comes once that turn has committed.
    pub async fn accept(
        &self,
        store: &Store,
        account: &Account,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Accepted>, Error> {
        // A bad event fails its own call only, never a shared commit.
        for event in &events {
            check_event(event).map_err(|e| Error::Validation(vec![e]))?;
        }
        let (answer, answered) = oneshot::channel();
        let call = AcceptCall {
            account: account.clone(),
            events,
            answer,
        };
        // Once the engine has stopped, events are accepted on their own.
        if let Err(mpsc::error::SendError(call)) = self.calls.send(call) {
            return store.accept_events(&call.account, call.events).await;
        }
        answered.await.unwrap_or(Err(Error::Stopped))
    }

    /// Wakes the engine: new deliveries were committed or made due.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Delivery {
    /// Starts claiming and sending. Fails only if the HTTP client cannot be built.
    pub fn start(store: Store, config: DeliveryConfig) -> Result<Delivery, reqwest::Error> {
        let sender = Sender::new(config.allow_private)?;
        let wake = Arc::new(Notify::new());
        let (calls, waiting) = mpsc::unbounded_channel();
        let handoff = Handoff {
            calls,
            wake: wake.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(store, config, sender, waiting, wake.clone(), stopped));
        Ok(Delivery {
            wake,
            handoff,
            stop,
            task,
        })
    }

    /// A handle that wakes the engine when new deliveries were committed.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Where this process's accepted events hand their deliveries over.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Stops claiming, finishes and records the attempts in flight.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(
    store: Store,
    config: DeliveryConfig,
    sender: Sender,
    mut waiting: mpsc::UnboundedReceiver<AcceptCall>,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let lease_ms = config.lease.as_millis() as i64;
    // Deliveries taken at acceptance or claimed beyond the free slots wait
    // in memory, up to about this many; the rest wait in the database.
    let capacity = config.concurrency * 4;
    let mut lanes = Lanes::new(config.per_webhook.max(1));
    let (results, mut outcomes) = mpsc::unbounded_channel::<Outcome>();
    let start = |job: Job, lane: OwnedSemaphorePermit, permit: OwnedSemaphorePermit| {
        let sender = sender.clone();
        let results = results.clone();
        tokio::spawn(async move {
            let outcome = sender.attempt(job).await;
            // Slots free before the outcome is seen, so the turn that
            // records it can claim in their place.
            drop(lane);
            drop(permit);
            let _ = results.send(outcome);
        });
    };
    // Accept calls and outcomes waiting for the next turn.
    let mut calls: Vec<AcceptCall> = Vec::new();
    let mut finished: Vec<Outcome> = Vec::new();
    // The writer's turn under way: one transaction that accepts the calls
    // that waited, records what finished and claims what the free slots can
    // take. Sending does not wait for it: a slot that frees while it
    // commits goes at once to a delivery waiting in memory.
    let mut turn: Option<JoinHandle<Done>> = None;
    // PostgreSQL runs writers side by side: calls that arrive while a turn
    // is under way get a turn of their own beside it rather than waiting
    // for its commit. SQLite has one writer, so there they wait.
    let side_by_side = store.backend() == Backend::Postgres;
    let mut side: Option<JoinHandle<Done>> = None;
    // Committed turns' deliveries being loaded (events, webhooks, secrets)
    // on the readers while the next turn runs, and how many they hold.
    let mut loading: JoinSet<(usize, Result<Vec<Job>, Error>)> = JoinSet::new();
    let mut loading_len = 0;
    // A claim is worth its query only when something may be due that no
    // turn took: woken, polled, or the last turn says so. A claim that
    // left webhooks out (enough of theirs waiting) is worth repeating once
    // attempts finish.
    let mut want_claim = true;
    let mut left_out = false;
    loop {
        if *stopped.borrow() {
            break;
        }
        // Deliveries that waited for their webhook's slot go first, as far
        // as there are slots; those that waited too long go back before
        // their lease is at risk.
        let (ready, stale) = lanes.ready(config.lease / 4, permits.available_permits());
        if !stale.is_empty() {
            want_claim = true;
            if let Err(e) = store.release_claims(&stale, 0).await {
                tracing::error!(error = %e, "handing back waiting deliveries failed");
            }
        }
        for (job, lane) in ready {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                lanes.wait(job);
                continue;
            };
            start(job, lane, permit);
        }
        // Claimed deliveries wait in memory up to `capacity`, so senders
        // go on from there while the next turn commits.
        let room = capacity.saturating_sub(lanes.waiting_len() + loading_len);
        let claim_now = (want_claim || (left_out && !finished.is_empty())) && room > 0;
        if turn.is_none() && (claim_now || !finished.is_empty() || !calls.is_empty()) {
            let (claim, skip) = if claim_now {
                let skip = lanes.busy();
                want_claim = false;
                left_out = !skip.is_empty();
                (room.min(config.batch.max(0) as usize) as i64, skip)
            } else {
                (0, Vec::new())
            };
            let work = Work {
                calls: std::mem::take(&mut calls),
                outcomes: std::mem::take(&mut finished),
                claim,
                room,
                lease_ms,
                skip,
            };
            turn = Some(tokio::spawn(take_turn(store.clone(), work)));
        } else if side_by_side && side.is_none() && !calls.is_empty() {
            let work = Work {
                calls: std::mem::take(&mut calls),
                outcomes: Vec::new(),
                claim: 0,
                room,
                lease_ms,
                skip: Vec::new(),
            };
            side = Some(tokio::spawn(take_turn(store.clone(), work)));
        }
        let loaded = tokio::select! {
            done = until_done(&mut turn) => {
                turn = None;
                want_claim |= done.more_due;
                loading_len += load(&store, done.to_send, &mut loading);
                None
            }
            done = until_done(&mut side) => {
                side = None;
                want_claim |= done.more_due;
                loading_len += load(&store, done.to_send, &mut loading);
                None
            }
            Some(loaded) = loading.join_next(), if !loading.is_empty() => {
                match loaded {
                    Ok((n, Ok(jobs))) => {
                        loading_len -= n;
                        Some(jobs)
                    }
                    // Deliveries that failed to load stay claimed until
                    // their lease ends; then they go again.
                    Ok((n, Err(e))) => {
                        loading_len -= n;
                        tracing::error!(error = %e, count = n, "loading claimed deliveries failed");
                        None
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "loading claimed deliveries failed");
                        if loading.is_empty() {
                            loading_len = 0;
                        }
                        None
                    }
                }
            }
            n = waiting.recv_many(&mut calls, 1024), if !waiting.is_closed() || !waiting.is_empty() => {
                if n == 0 { break; }
                None
            }
            n = outcomes.recv_many(&mut finished, config.batch.max(1) as usize) => {
                if n == 0 { break; }
                None
            }
            () = wake.notified() => {
                want_claim = true;
                None
            }
            () = tokio::time::sleep(config.poll) => {
                want_claim = true;
                None
            }
            // A dropped `Delivery` stops its engine as `shutdown` would.
            changed = stopped.changed() => {
                if changed.is_err() {
                    break;
                }
                None
            }
        };
        for job in loaded.into_iter().flatten() {
            // Without a slot now, the job waits in its webhook's lane.
            let Some((job, lane)) = lanes.enter(job) else {
                continue;
            };
            match permits.clone().try_acquire_owned() {
                Ok(permit) => start(job, lane, permit),
                Err(_) => {
                    drop(lane);
                    lanes.wait(job);
                }
            }
        }
    }
    // The turns under way answer their calls; what they took goes back.
    // Calls still waiting are accepted now, with no more taken.
    for turn in [turn.take(), side.take()].into_iter().flatten() {
        if let Ok(done) = turn.await {
            load(&store, done.to_send, &mut loading);
        }
    }
    while let Some(loaded) = loading.join_next().await {
        if let Ok((_, Ok(jobs))) = loaded {
            for job in jobs {
                lanes.wait(job);
            }
        }
    }
    waiting.close();
    while let Ok(call) = waiting.try_recv() {
        calls.push(call);
    }
    if !calls.is_empty() {
        let work = Work {
            calls,
            outcomes: Vec::new(),
            claim: 0,
            room: 0,
            lease_ms,
            skip: Vec::new(),
        };
        take_turn(store.clone(), work).await;
    }
    // Deliveries still waiting for a slot go back for the next worker.
    let waiting = lanes.drain();
    if !waiting.is_empty() {
        let _ = store.release_claims(&waiting, 0).await;
    }
    // Wait for every attempt in flight, then record them all.
    let _ = permits.acquire_many(config.concurrency as u32).await;
    drop(results);
    while let Some(outcome) = outcomes.recv().await {
        finished.push(outcome);
    }
    let now = now_ms();
    let finished: Vec<Finished> = finished
        .into_iter()
        .map(|o| Finished::new(o, now))
        .collect();
    if let Err(e) = store.record_attempts(&finished).await {
        tracing::error!(error = %e, count = finished.len(), "recording the last attempts failed");
    }
}

/// What one writer turn is given.
struct Work {
    calls: Vec<AcceptCall>,
    outcomes: Vec<Outcome>,
    claim: i64,
    room: usize,
    lease_ms: i64,
    skip: Vec<String>,
}

/// What one writer turn did, once committed and its calls answered.
#[derive(Default)]
struct Done {
    /// Deliveries may be due that it did not take.
    more_due: bool,
    to_send: ToSend,
}

/// Loads a committed turn's deliveries beside the next turn; how many it
/// holds.
fn load(
    store: &Store,
    to_send: ToSend,
    loading: &mut JoinSet<(usize, Result<Vec<Job>, Error>)>,
) -> usize {
    if to_send.is_empty() {
        return 0;
    }
    let n = to_send.len();
    let store = store.clone();
    loading.spawn(async move { (n, store.ready_to_send(to_send).await) });
    n
}

/// One writer turn: each account's waiting calls are accepted together,
/// then every call is answered with its own answers, in order.
async fn take_turn(store: Store, work: Work) -> Done {
    let Work {
        calls,
        outcomes,
        claim,
        room,
        lease_ms,
        skip,
    } = work;
    // Calls grouped by account, in the order each account first came: the
    // events to accept, and beside them who waits for how many answers.
    let mut accept: Vec<(Account, Vec<NewEvent>)> = Vec::new();
    let mut waiting: Vec<Vec<(usize, AcceptCall)>> = Vec::new();
    for mut call in calls {
        let events = std::mem::take(&mut call.events);
        let size = events.len();
        match accept
            .iter()
            .position(|(account, _)| account.id == call.account.id)
        {
            Some(at) => {
                accept[at].1.extend(events);
                waiting[at].push((size, call));
            }
            None => {
                accept.push((call.account.clone(), events));
                waiting.push(vec![(size, call)]);
            }
        }
    }
    let now = now_ms();
    let finished: Vec<Finished> = outcomes
        .into_iter()
        .map(|o| Finished::new(o, now))
        .collect();
    let turn = Turn {
        accept,
        room,
        finished: &finished,
        claim,
        lease_ms,
        skip: &skip,
    };
    match store.take_turn(turn).await {
        Ok(done) => {
            for (answers, calls) in done.accepted.into_iter().zip(waiting) {
                let mut answers = answers.into_iter();
                for (size, call) in calls {
                    let _ = call.answer.send(Ok(answers.by_ref().take(size).collect()));
                }
            }
            Done {
                more_due: done.more_due,
                to_send: done.to_send,
            }
        }
        Err(e) => {
            // Unrecorded attempts are sent again once their lease ends.
            tracing::error!(error = %e, recorded = finished.len(), "the delivery engine's database turn failed");
            for calls in waiting {
                for (_, call) in calls {
                    let _ = call.answer.send(Err(e.for_another_caller()));
                }
            }
            Done::default()
        }
    }
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

/// Per-webhook lanes: at most `per_webhook` attempts of one webhook in
/// flight; claimed deliveries beyond that wait in memory (they are ours
/// until their lease ends), and a webhook with two lanes' worth waiting
/// is left out of claims.
struct Lanes {
    per_webhook: usize,
    slots: HashMap<String, Arc<Semaphore>>,
    waiting: HashMap<String, VecDeque<(Job, Instant)>>,
}

impl Lanes {
    fn new(per_webhook: usize) -> Lanes {
        Lanes {
            per_webhook,
            slots: HashMap::new(),
            waiting: HashMap::new(),
        }
    }

    fn slot(&mut self, webhook_id: &str) -> Arc<Semaphore> {
        self.slots
            .entry(webhook_id.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_webhook)))
            .clone()
    }

    /// A slot for the job now, or it waits behind its webhook's others.
    fn enter(&mut self, job: Job) -> Option<(Job, OwnedSemaphorePermit)> {
        let queue_empty = self
            .waiting
            .get(&job.webhook_id)
            .is_none_or(VecDeque::is_empty);
        if queue_empty && let Ok(lane) = self.slot(&job.webhook_id).try_acquire_owned() {
            return Some((job, lane));
        }
        self.wait(job);
        None
    }

    /// The job waits behind its webhook's others.
    fn wait(&mut self, job: Job) {
        self.waiting
            .entry(job.webhook_id.clone())
            .or_default()
            .push_back((job, Instant::now()));
    }

    /// Up to `max` waiting jobs whose webhook has a free slot now, and the
    /// ids of those that waited longer than `patience`.
    fn ready(
        &mut self,
        patience: Duration,
        max: usize,
    ) -> (Vec<(Job, OwnedSemaphorePermit)>, Vec<String>) {
        let mut ready = Vec::new();
        let mut stale = Vec::new();
        let hooks: Vec<String> = self.waiting.keys().cloned().collect();
        for hook in hooks {
            let slot = self.slot(&hook);
            let Some(queue) = self.waiting.get_mut(&hook) else {
                continue;
            };
            while let Some((_, since)) = queue.front() {
                if since.elapsed() > patience {
                    if let Some((job, _)) = queue.pop_front() {
                        stale.push(job.delivery_id);
                    }
                    continue;
                }
                if ready.len() >= max {
                    break;
                }
                let Ok(lane) = slot.clone().try_acquire_owned() else {
                    break;
                };
                if let Some((job, _)) = queue.pop_front() {
                    ready.push((job, lane));
                }
            }
            if queue.is_empty() {
                self.waiting.remove(&hook);
            }
        }
        (ready, stale)
    }

    /// How many deliveries wait in the lanes.
    fn waiting_len(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// Webhooks with enough waiting to keep their lane full through the
    /// next turn or two: not claimed.
    fn busy(&self) -> Vec<String> {
        self.waiting
            .iter()
            .filter(|(_, queue)| queue.len() >= 2 * self.per_webhook)
            .map(|(hook, _)| hook.clone())
            .collect()
    }

    /// Every waiting delivery's id, emptying the lanes.
    fn drain(&mut self) -> Vec<String> {
        self.waiting
            .drain()
            .flat_map(|(_, queue)| queue.into_iter().map(|(job, _)| job.delivery_id))
            .collect()
    }
}

/// Accepts events like [`Store::accept_events`], then makes the first
/// attempt of every delivery to an inline webhook right away (concurrently,
/// each bounded by its webhook's timeout) and fills its outcome into the
/// answer. Failed inline deliveries are retried in the background as usual.
/// With this process's engine's `handoff`, background deliveries go to it
/// directly.
pub async fn accept_events(
    store: &Store,
    sender: &Sender,
    handoff: Option<&Handoff>,
    account: &Account,
    events: Vec<NewEvent>,
) -> Result<Vec<Accepted>, Error> {
    let mut answers = match handoff {
        Some(handoff) => handoff.accept(store, account, events).await?,
        None => store.accept_events(account, events).await?,
    };
    let mut attempts = tokio::task::JoinSet::new();
    for (a, answer) in answers.iter().enumerate() {
        for (d, delivery) in answer.deliveries.iter().enumerate() {
            if !delivery.inline || delivery.status != DeliveryStatus::Pending {
                continue;
            }
            let Some(job) = store.claim_inline(&delivery.id).await? else {
                store.release_inline(&delivery.id).await?;
                continue;
            };
            let sender = sender.clone();
            attempts.spawn(async move { (a, d, sender.attempt(job).await) });
        }
    }
    let mut outcomes = Vec::new();
    while let Some(done) = attempts.join_next().await {
        if let Ok((a, d, outcome)) = done {
            let answer = &mut answers[a].deliveries[d];
            answer.status = if outcome.succeeded() {
                DeliveryStatus::Succeeded
            } else {
                DeliveryStatus::Failed
            };
            answer.response_status = outcome.response.as_ref().map(|r| r.status);
            outcomes.push(outcome);
        }
    }
    if !outcomes.is_empty() {
        let now = now_ms();
        let finished: Vec<Finished> = outcomes
            .into_iter()
            .map(|o| Finished::new(o, now))
            .collect();
        store.record_attempts(&finished).await?;
        for answer in &answers {
            store.remember_answer(answer).await?;
        }
    }
    Ok(answers)
}

/// Sends a sample event of `event_type` to the webhook now, records the
/// attempt like any other, and returns what happened.
pub async fn test_send(
    store: &Store,
    sender: &Sender,
    account_id: &str,
    webhook_id: &str,
    event_type: &str,
) -> Result<TestSend, Error> {
    let job = store
        .create_test_delivery(account_id, webhook_id, event_type)
        .await?;
    let outcome = sender.attempt(job).await;
    let finished = Finished::new(outcome, now_ms());
    store
        .record_attempts(std::slice::from_ref(&finished))
        .await?;
    let outcome = finished.outcome;
    Ok(TestSend {
        delivery_id: outcome.job.delivery_id.clone(),
        response: outcome.response.clone().map(|r| TestResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
            duration_ms: outcome.duration_ms,
        }),
        error: outcome.error.clone(),
        request: outcome.request,
    })
}

/// Resends one delivery now (a support action): one more attempt, made
/// here and recorded like any other; the delivery's state after it.
pub async fn resend(
    store: &Store,
    sender: &Sender,
    account_id: &str,
    delivery_id: &str,
) -> Result<DeliveryState, Error> {
    let lease = DeliveryConfig::default().lease.as_millis() as i64;
    let job = store
        .take_for_resend(account_id, delivery_id, lease)
        .await?;
    let finished = Finished::new(sender.attempt(job).await, now_ms());
    store
        .record_attempts(std::slice::from_ref(&finished))
        .await?;
    store.delivery(account_id, delivery_id).await
}
