//! The delivery engine: claims due deliveries, sends them through one shared
//! client with bounded concurrency, and records every attempt in batches.
//!
//! One writer turn at a time, in one transaction: it accepts the events
//! this process was handed ([`Handoff`]), records the attempts that
//! finished and claims what is due. Its calls are answered at its commit;
//! what it took is loaded on the readers while the next turn runs. Events
//! accepted elsewhere wake the engine ([`Delivery::waker`]); retries are
//! found by a short poll of the due index. Shutdown stops claiming, waits
//! for the attempts in flight and records them.
//!
//! # Layout
//! - [`address`]: which destination addresses are refused.
//! - [`sender`]: the HTTP client (every client in the process is made by
//!   [`http_client`], which installs rustls' ring provider) and one
//!   attempt, recorded with the webhook's credentials masked.
//! - `run`: the loop, as a struct whose methods are its steps.
//! - `lanes`: per-webhook slots and the deliveries waiting for one.

pub mod address;
mod lanes;
mod run;
pub mod sender;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::from_ms;
use crate::error::Error;
use crate::model::{Accepted, Account, NewEvent};
use crate::store::{DisablePolicy, Store, TurnedOff};
use crate::validate::check_event;
pub use sender::{Sender, http_client};

/// How the delivery engine runs. The defaults are the command line's.
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
    /// When a failing webhook is turned off.
    pub disable: DisablePolicy,
    /// Calls that may wait for the writer's turn at once; one more is
    /// refused ([`Error::Busy`]: the API answers 503 with `Retry-After`)
    /// rather than queued without end.
    pub handoff_calls: usize,
    /// How long a call waits for its turn's answer before it is told the
    /// engine is busy. Its events may still be accepted after that: a
    /// caller that repeats them with the same idempotency key gets the one
    /// answer.
    pub handoff_deadline: Duration,
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
            disable: DisablePolicy::default(),
            handoff_calls: 4096,
            handoff_deadline: Duration::from_secs(30),
        }
    }
}

impl DeliveryConfig {
    /// The lease in milliseconds, as the store takes it.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
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
    calls: mpsc::Sender<AcceptCall>,
    deadline: Duration,
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
        match self.calls.try_send(call) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(Error::Busy),
            // Once the engine has stopped, events are accepted on their own.
            Err(mpsc::error::TrySendError::Closed(call)) => {
                return store.accept_events(&call.account, call.events).await;
            }
        }
        match tokio::time::timeout(self.deadline, answered).await {
            Ok(answer) => answer.unwrap_or(Err(Error::Stopped)),
            Err(_) => Err(Error::Busy),
        }
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
        let (calls, waiting) = mpsc::channel(config.handoff_calls.max(1));
        let handoff = Handoff {
            calls,
            deadline: config.handoff_deadline,
            wake: wake.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let inputs = run::Inputs {
            waiting,
            wake: wake.clone(),
            stopped,
        };
        let task = tokio::spawn(run::run(store, config, sender, inputs));
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

pub(crate) use run::finish;

/// Emits a `webhook.disabled` event for each webhook a turn turned off, in
/// its account: webhooks that trigger on it (a notification URL) get it
/// signed, retried and recorded like any delivery, and the event log has
/// it. A failure here is logged; the console's banner still shows.
pub(crate) async fn announce_turned_off(store: &Store, turned_off: Vec<TurnedOff>) {
    for off in turned_off {
        let result = async {
            let account = store.account(&off.account_id).await?;
            let event = NewEvent::new(
                "webhook.disabled",
                serde_json::json!({
                    "id": off.id,
                    "title": off.title,
                    "reason": off.disabled_reason,
                    "disabled_at": from_ms(off.updated_at),
                }),
            );
            store.accept_events(&account, vec![event]).await
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
}
