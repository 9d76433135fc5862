//! The delivery engine: claims due deliveries, sends them through one shared
//! client with bounded concurrency, and records every attempt in batches.
//!
//! A new event wakes the claimer at once ([`Delivery::wake`]); retries are
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

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::model::{TestResponse, TestSend};
use crate::store::{Job, Outcome, Store};
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
            batch: 256,
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

/// Deliveries this process accepted and claimed for its own engine at once
/// ([`Store::accept_events_claiming`]): they go to the senders without a
/// claim. Bounded: beyond its capacity, new deliveries wait in the database
/// for a claim as usual.
#[derive(Clone)]
pub struct Handoff {
    inner: Arc<HandoffInner>,
}

struct HandoffInner {
    /// Calls waiting for the committer, which accepts all that wait in one
    /// transaction per account (group commit).
    calls: mpsc::UnboundedSender<AcceptCall>,
    jobs: std::sync::Mutex<Vec<Job>>,
    capacity: usize,
    lease_ms: i64,
    closed: std::sync::atomic::AtomicBool,
    wake: Arc<Notify>,
}

/// One call of [`Handoff::accept`] waiting for the committer.
struct AcceptCall {
    account: crate::store::Account,
    events: Vec<crate::store::NewEvent>,
    answer: tokio::sync::oneshot::Sender<Result<Vec<crate::store::Accepted>, crate::store::Error>>,
}

impl Handoff {
    fn new(store: Store, capacity: usize, lease: Duration, wake: Arc<Notify>) -> Handoff {
        let (calls, waiting) = mpsc::unbounded_channel();
        let handoff = Handoff {
            inner: Arc::new(HandoffInner {
                calls,
                jobs: std::sync::Mutex::new(Vec::new()),
                capacity,
                lease_ms: lease.as_millis() as i64,
                closed: std::sync::atomic::AtomicBool::new(false),
                wake,
            }),
        };
        // The committer holds only a weak handle, so it ends with the last
        // Handoff.
        tokio::spawn(commit_calls(store, Arc::downgrade(&handoff.inner), waiting));
        handoff
    }

    /// Accepts events (as [`Store::accept_events`]) and hands as many of
    /// their deliveries as there is room for straight to the engine. Calls
    /// that arrive while a commit is under way are accepted together in the
    /// next one, so concurrent callers share a transaction and its sync.
    pub async fn accept(
        &self,
        store: &Store,
        account: &crate::store::Account,
        events: Vec<crate::store::NewEvent>,
    ) -> Result<Vec<crate::store::Accepted>, crate::store::Error> {
        // A bad event fails its own call only, never a shared commit.
        for event in &events {
            crate::store::check_event(event)
                .map_err(|e| crate::store::Error::Validation(vec![e]))?;
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let call = AcceptCall {
            account: account.clone(),
            events,
            answer,
        };
        if let Err(mpsc::error::SendError(call)) = self.inner.calls.send(call) {
            return store.accept_events(&call.account, call.events).await;
        }
        answered
            .await
            .unwrap_or_else(|_| Err(crate::store::Error::Database(sqlx::Error::PoolClosed)))
    }

    /// Wakes the engine: new deliveries were committed or made due.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    fn room(&self) -> usize {
        if self.inner.closed.load(std::sync::atomic::Ordering::Acquire) {
            return 0;
        }
        self.inner.capacity.saturating_sub(self.jobs().len())
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.jobs())
    }

    /// Takes no more, and returns what was still waiting.
    fn close(&self) -> Vec<Job> {
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.take()
    }
}

impl Delivery {
    /// Starts claiming and sending. Fails only if the HTTP client cannot be built.
    pub fn start(store: Store, config: DeliveryConfig) -> Result<Delivery, reqwest::Error> {
        let sender = Sender::new(config.allow_private)?;
        let wake = Arc::new(Notify::new());
        let handoff = Handoff::new(
            store.clone(),
            config.concurrency * 4,
            config.lease,
            wake.clone(),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            store,
            config,
            sender,
            handoff.clone(),
            wake.clone(),
            stopped,
        ));
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
    handoff: Handoff,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let lease_ms = config.lease.as_millis() as i64;
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
    // Outcomes waiting to be recorded in the next turn.
    let mut finished: Vec<Outcome> = Vec::new();
    // The database turn under way: one transaction that records what
    // finished and claims what the free slots can take. Sending does not
    // wait for it: a slot that frees while it commits goes at once to a
    // delivery waiting in memory.
    let mut turn: Option<JoinHandle<Turn>> = None;
    // Another turn is worth taking even with nothing to record: woken,
    // polled, or the last turn found work.
    let mut want_turn = true;
    loop {
        if *stopped.borrow() {
            break;
        }
        // Deliveries handed over at acceptance and claimed ones that waited
        // for their webhook's slot go first, as far as there are slots;
        // those that waited too long go back before their lease is at risk.
        for job in handoff.take() {
            lanes.wait(job);
        }
        let (ready, stale) = lanes.ready(config.lease / 4, permits.available_permits());
        if !stale.is_empty()
            && let Err(e) = store.release_claims(&stale, 0).await
        {
            tracing::error!(error = %e, "handing back waiting deliveries failed");
        }
        for (job, lane) in ready {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                lanes.wait(job);
                continue;
            };
            start(job, lane, permit);
        }
        if turn.is_none() && (want_turn || !finished.is_empty()) {
            want_turn = false;
            let free = permits
                .available_permits()
                .min(config.batch.max(0) as usize) as i64;
            let (store, outcomes, skip) =
                (store.clone(), std::mem::take(&mut finished), lanes.busy());
            turn = Some(tokio::spawn(async move {
                let jobs = store
                    .record_and_claim(&outcomes, free, lease_ms, &skip)
                    .await;
                Turn {
                    recorded: outcomes.len(),
                    jobs,
                }
            }));
        }
        tokio::select! {
            done = until_done(&mut turn) => {
                turn = None;
                let Turn { recorded, jobs } = done;
                let jobs = jobs.unwrap_or_else(|e| {
                    // Unrecorded attempts are sent again once their lease ends.
                    tracing::error!(error = %e, recorded, "recording and claiming deliveries failed");
                    Vec::new()
                });
                want_turn = recorded > 0 || !jobs.is_empty();
                for job in jobs {
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
            n = outcomes.recv_many(&mut finished, config.batch.max(1) as usize) => {
                if n == 0 { break; }
            }
            () = wake.notified() => want_turn = true,
            () = tokio::time::sleep(config.poll) => want_turn = true,
            _ = stopped.changed() => {}
        }
    }
    // The turn under way records its outcomes; what it claimed goes back.
    if let Some(turn) = turn.take()
        && let Ok(Turn { jobs: Ok(jobs), .. }) = turn.await
    {
        for job in jobs {
            lanes.wait(job);
        }
    }
    // Deliveries still waiting for a slot go back for the next worker.
    for job in handoff.close() {
        lanes.wait(job);
    }
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
    if let Err(e) = store.record_attempts(&finished).await {
        tracing::error!(error = %e, count = finished.len(), "recording the last attempts failed");
    }
}

/// What one database turn of the engine did.
struct Turn {
    recorded: usize,
    jobs: Result<Vec<Job>, crate::store::Error>,
}

/// The turn under way, once it is done; never, when there is none.
async fn until_done(turn: &mut Option<JoinHandle<Turn>>) -> Turn {
    match turn {
        Some(handle) => handle.await.unwrap_or_else(|e| Turn {
            recorded: 0,
            jobs: Err(crate::store::Error::Database(sqlx::Error::Protocol(
                format!("the recording task failed: {e}"),
            ))),
        }),
        None => std::future::pending().await,
    }
}

/// The group committer behind [`Handoff::accept`]: takes every call that
/// waits, accepts each account's events in one transaction, hands their
/// deliveries over and answers each call with its own answers, in order.
async fn commit_calls(
    store: Store,
    handoff: std::sync::Weak<HandoffInner>,
    mut waiting: mpsc::UnboundedReceiver<AcceptCall>,
) {
    let mut calls = Vec::new();
    while waiting.recv_many(&mut calls, 1024).await > 0 {
        let Some(inner) = handoff.upgrade() else {
            break;
        };
        let handoff = Handoff { inner };
        while !calls.is_empty() {
            let account = calls[0].account.clone();
            let (mine, others): (Vec<AcceptCall>, Vec<AcceptCall>) =
                calls.drain(..).partition(|c| c.account.id == account.id);
            calls = others;
            let sizes: Vec<usize> = mine.iter().map(|c| c.events.len()).collect();
            let mut answers_to = Vec::with_capacity(mine.len());
            let mut events = Vec::new();
            for call in mine {
                events.extend(call.events);
                answers_to.push(call.answer);
            }
            let result = store
                .accept_events_claiming(&account, events, handoff.room(), handoff.inner.lease_ms)
                .await;
            match result {
                Ok((answers, jobs)) => {
                    if !jobs.is_empty() {
                        handoff.jobs().extend(jobs);
                    }
                    handoff.wake();
                    let mut answers = answers.into_iter();
                    for (size, to) in sizes.into_iter().zip(answers_to) {
                        let _ = to.send(Ok(answers.by_ref().take(size).collect()));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    for to in answers_to {
                        let _ = to.send(Err(crate::store::Error::Database(sqlx::Error::Protocol(
                            message.clone(),
                        ))));
                    }
                }
            }
        }
    }
}

/// Per-webhook lanes: at most `per_webhook` attempts of one webhook in
/// flight; claimed deliveries beyond that wait in memory (they are ours
/// until their lease ends), and a full webhook is left out of claims.
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

    /// Webhooks with no free slot or with deliveries waiting: not claimed.
    fn busy(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter(|(hook, slot)| {
                slot.available_permits() == 0 || self.waiting.contains_key(*hook)
            })
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
    account: &crate::store::Account,
    events: Vec<crate::store::NewEvent>,
) -> Result<Vec<crate::store::Accepted>, crate::store::Error> {
    let mut answers = match handoff {
        Some(handoff) => handoff.accept(store, account, events).await?,
        None => store.accept_events(account, events).await?,
    };
    let mut attempts = tokio::task::JoinSet::new();
    for (a, answer) in answers.iter().enumerate() {
        for (d, delivery) in answer.deliveries.iter().enumerate() {
            if !delivery.inline || delivery.status != "pending" {
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
                "succeeded"
            } else {
                "failed"
            }
            .into();
            answer.response_status = outcome.response.as_ref().map(|r| r.status);
            outcomes.push(outcome);
        }
    }
    if !outcomes.is_empty() {
        store.record_attempts(&outcomes).await?;
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
) -> Result<TestSend, crate::store::Error> {
    let job = store
        .create_test_delivery(account_id, webhook_id, event_type)
        .await?;
    let outcome = sender.attempt(job).await;
    store
        .record_attempts(std::slice::from_ref(&outcome))
        .await?;
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
) -> Result<crate::store::DeliveryState, crate::store::Error> {
    let lease = DeliveryConfig::default().lease.as_millis() as i64;
    let job = store
        .take_for_resend(account_id, delivery_id, lease)
        .await?;
    let outcome = sender.attempt(job).await;
    store
        .record_attempts(std::slice::from_ref(&outcome))
        .await?;
    store.delivery(account_id, delivery_id).await
}
