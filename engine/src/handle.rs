//! One handle on the running engine, which the server and the console
//! hold: accepting events (inline webhooks attempted at once), test sends,
//! resends, retrying one delivery or all failed ones, and waking the
//! delivery loop. It starts the loop (unless this process only serves the
//! console and API) and the upkeep, and stops both.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::delivery::{Delivery, DeliveryConfig, Handoff, Sender, announce_turned_off, finish};
use crate::error::{Error, Result};
use crate::job::Job;
use crate::model::{Accepted, Account, DeliveryStatus, NewEvent, TestResponse, TestSend};
use crate::reports::{DeliveryState, Range, RetryRun};
use crate::store::Store;
use crate::upkeep::{self, UpkeepConfig};

/// How the engine runs; every default is written once, in the configs'
/// `Default` impls, and the command line shows them.
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    pub delivery: DeliveryConfig,
    pub upkeep: UpkeepConfig,
    /// Serve the console and API only: another process (`postback
    /// worker`) delivers.
    pub no_delivery: bool,
}

/// The running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    sender: Sender,
    config: DeliveryConfig,
    /// This process's delivery loop, when it delivers.
    handoff: Option<Handoff>,
    running: Arc<Mutex<Option<Running>>>,
    /// Wakes the job runner: a job was started.
    jobs_wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("delivers", &self.handoff.is_some())
            .finish_non_exhaustive()
    }
}

/// What [`Engine::shutdown`] stops.
struct Running {
    delivery: Option<Delivery>,
    upkeep_stop: watch::Sender<bool>,
    upkeep: JoinHandle<()>,
    jobs: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts delivering (unless `config.no_delivery`) and the upkeep.
    /// Fails only if the HTTP client cannot be built.
    pub fn start(store: Store, config: EngineConfig) -> Result<Engine, reqwest::Error> {
        let sender = Sender::new(config.delivery.allow_private)?;
        let delivery = if config.no_delivery {
            None
        } else {
            Some(Delivery::start(store.clone(), config.delivery.clone())?)
        };
        let (upkeep_stop, stopped) = watch::channel(false);
        let jobs_stopped = stopped.clone();
        let upkeep = tokio::spawn(upkeep::run(store.clone(), config.upkeep, stopped));
        let engine = Engine {
            handoff: delivery.as_ref().map(Delivery::handoff),
            running: Arc::new(Mutex::new(Some(Running {
                delivery,
                upkeep_stop,
                upkeep,
                jobs: None,
            }))),
            store,
            sender,
            config: config.delivery,
            jobs_wake: Arc::default(),
        };
        let jobs = tokio::spawn(crate::mass_post::run_jobs(
            engine.clone(),
            engine.jobs_wake.clone(),
            jobs_stopped,
        ));
        if let Ok(mut running) = engine.running.lock()
            && let Some(running) = running.as_mut()
        {
            running.jobs = Some(jobs);
        }
        Ok(engine)
    }

    /// Wakes the job runner: a job was started.
    pub(crate) fn wake_jobs(&self) {
        self.jobs_wake.notify_one();
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Wakes the delivery loop: deliveries were committed or made due.
    pub fn wake(&self) {
        if let Some(handoff) = &self.handoff {
            handoff.wake();
        }
    }

    /// Accepts events like [`Store::accept_events`] (through this
    /// process's delivery loop, when it has one), then makes the first
    /// attempt of every delivery to an inline webhook right away
    /// (concurrently, each bounded by its webhook's timeout) and fills its
    /// outcome into the answer. Failed inline deliveries are retried in the
    /// background as usual.
    pub async fn accept_events(
        &self,
        account: &Account,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Accepted>> {
        let mut answers = match &self.handoff {
            Some(handoff) => handoff.accept(&self.store, account, events).await?,
            None => self.store.accept_events(account, events).await?,
        };
        let mut attempts = JoinSet::new();
        for (a, answer) in answers.iter().enumerate() {
            for (d, delivery) in answer.deliveries.iter().enumerate() {
                if !delivery.inline || delivery.status != DeliveryStatus::Pending {
                    continue;
                }
                let Some(job) = self.store.claim_inline(&delivery.id).await? else {
                    self.store.release_inline(&delivery.id).await?;
                    continue;
                };
                let sender = self.sender.clone();
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
            self.record(outcomes).await?;
            for answer in &answers {
                self.store.remember_answer(answer).await?;
            }
        }
        Ok(answers)
    }

    /// Sends a sample event of `event_type` to the webhook now, records the
    /// attempt like any other, and returns what happened.
    pub async fn test_send(
        &self,
        account_id: &str,
        webhook_id: &str,
        event_type: &str,
    ) -> Result<TestSend> {
        let job = self
            .store
            .create_test_delivery(account_id, webhook_id, event_type)
            .await?;
        self.send_now(job).await
    }

    /// Attempts a direct delivery (a test or manual send) here, records
    /// it, and says what happened.
    pub(crate) async fn send_now(&self, job: Job) -> Result<TestSend> {
        let outcome = self.attempt(job).await?;
        Ok(TestSend {
            delivery_id: outcome.job.delivery_id.clone(),
            response: outcome.response.clone().map(|r| TestResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
                body_base64: r.body_base64,
                duration_ms: outcome.duration_ms,
            }),
            error: outcome.error.clone(),
            request: outcome.request,
        })
    }

    /// Resends one delivery now (a support action): one more attempt, made
    /// here and recorded like any other; the delivery's state after it.
    pub async fn resend(&self, account_id: &str, delivery_id: &str) -> Result<DeliveryState> {
        let job = self
            .store
            .take_for_resend(account_id, delivery_id, self.config.lease_ms())
            .await?;
        self.attempt(job).await?;
        self.store.delivery(account_id, delivery_id).await
    }

    /// Makes a delivery due now for one more attempt (also after it
    /// failed), for the delivery loop to send.
    pub async fn retry_delivery(&self, account_id: &str, id: &str) -> Result<DeliveryState> {
        let state = self.store.retry_delivery(account_id, id).await?;
        self.wake();
        Ok(state)
    }

    /// Starts "retry all failed" for a live webhook and a range: its
    /// deliveries are made due in the background, batch by batch (the
    /// upkeep resumes a run a stopped process left), and sent as they come
    /// due.
    pub async fn retry_all(
        &self,
        account_id: &str,
        webhook_id: &str,
        range: Range,
        user_id: &str,
    ) -> Result<RetryRun> {
        let run = self
            .store
            .start_retry_run(account_id, webhook_id, range, user_id)
            .await?;
        let engine = self.clone();
        let run_id = run.id.clone();
        tokio::spawn(async move {
            match upkeep::mark_retry_run(&engine.store, &run_id).await {
                Ok(()) => engine.wake(),
                Err(e) => {
                    tracing::error!(error = %e, run = %run_id, "marking a retry-all run failed")
                }
            }
        });
        Ok(run)
    }

    /// Stops the upkeep after its current batch, and the delivery loop
    /// once the attempts in flight are recorded. Later calls do nothing.
    pub async fn shutdown(&self) {
        let running = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some(running) = running {
            let _ = running.upkeep_stop.send(true);
            let _ = running.upkeep.await;
            if let Some(jobs) = running.jobs {
                let _ = jobs.await;
            }
            if let Some(delivery) = running.delivery {
                delivery.shutdown().await;
            }
        }
    }

    /// Makes one attempt here and records it.
    async fn attempt(&self, job: Job) -> Result<crate::job::Outcome> {
        let outcome = self.sender.attempt(job).await;
        self.record(vec![outcome])
            .await?
            .pop()
            .map(|f| f.outcome)
            .ok_or_else(|| Error::Corrupt("an attempt went missing".into()))
    }

    /// Records attempts made here, and announces the webhooks they
    /// turned off.
    async fn record(
        &self,
        outcomes: Vec<crate::job::Outcome>,
    ) -> Result<Vec<crate::job::Finished>> {
        let finished = finish(outcomes);
        let turned_off = self
            .store
            .record_attempts(&finished, self.config.disable)
            .await?;
        announce_turned_off(&self.store, turned_off).await;
        Ok(finished)
    }
}
