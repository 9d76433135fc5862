//! Per-webhook lanes: how many attempts of one webhook are in flight, and
//! the claimed deliveries that wait in memory for a slot of their own.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::job::Job;

/// Per-webhook lanes: at most `per_webhook` attempts of one webhook in
/// flight; claimed deliveries beyond that wait in memory (they are ours
/// until their lease ends), and a webhook with two lanes' worth waiting
/// is left out of claims.
pub(super) struct Lanes {
    per_webhook: usize,
    slots: HashMap<String, Arc<Semaphore>>,
    waiting: HashMap<String, VecDeque<(Job, Instant)>>,
}

impl Lanes {
    pub(super) fn new(per_webhook: usize) -> Lanes {
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
    pub(super) fn enter(&mut self, job: Job) -> Option<(Job, OwnedSemaphorePermit)> {
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
    pub(super) fn wait(&mut self, job: Job) {
        self.waiting
            .entry(job.webhook_id.clone())
            .or_default()
            .push_back((job, Instant::now()));
    }

    /// Up to `max` waiting jobs whose webhook has a free slot now, and the
    /// ids of those that waited longer than `patience`.
    pub(super) fn ready(
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
    pub(super) fn waiting_len(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// Webhooks with enough waiting to keep their lane full through the
    /// next turn or two: not claimed.
    pub(super) fn busy(&self) -> Vec<String> {
        self.waiting
            .iter()
            .filter(|(_, queue)| queue.len() >= 2 * self.per_webhook)
            .map(|(hook, _)| hook.clone())
            .collect()
    }

    /// Every waiting delivery's id, emptying the lanes.
    pub(super) fn drain(&mut self) -> Vec<String> {
        self.waiting
            .drain()
            .flat_map(|(_, queue)| queue.into_iter().map(|(job, _)| job.delivery_id))
            .collect()
    }
}
