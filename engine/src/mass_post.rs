//! Mass posts: a webhook run on every contact of a filter ("with list") or
//! on chosen ones ("with selected"), as a background job. The job runner
//! takes running jobs (new ones at once, interrupted ones when their
//! holder's lease runs out or this process restarts under its name) and
//! posts them a batch at a time: each batch reads 500 contacts by keyset,
//! so a mass post of any size holds one batch in memory, and writes their
//! deliveries with the job's position in one transaction.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::handle::Engine;
use crate::model::{
    Account, Actor, ContactDetail, JobError, JobView, MassPostInput, WebhookView, noun_of,
};
use crate::records::contact_event_for;
use crate::render::RenderedRequest;
use crate::reports::RecordRef;
use crate::store::jobs::{Batch, HeldJob, JobParams, MassPostParams, Posted};
use crate::store::{Error, Result, Store};

/// Contacts one batch posts.
pub const MASS_POST_BATCH: usize = 500;

/// How often the runner looks for jobs nobody runs (a stopped process's)
/// when nothing wakes it.
const LOOK_EVERY: Duration = Duration::from_secs(5);

impl Engine {
    /// Starts a mass post; the job runner posts it in the background.
    pub async fn start_mass_post(
        &self,
        account_id: &str,
        input: &MassPostInput,
        actor: Option<Actor>,
    ) -> Result<JobView> {
        let job = self
            .store()
            .create_mass_post(account_id, input, actor)
            .await?;
        self.wake_jobs();
        Ok(job)
    }

    /// The request the webhook would send for the `n`th contact (from 0)
    /// of a mass post, secrets masked, with that contact's id: previous /
    /// next record before posting.
    pub async fn mass_post_preview(
        &self,
        account_id: &str,
        input: &MassPostInput,
        n: i64,
    ) -> Result<(String, RenderedRequest)> {
        let contact_id = match (&input.filter, &input.contact_ids) {
            (Some(filter), _) => self.store().nth_contact(account_id, filter, n).await?,
            (None, Some(ids)) => usize::try_from(n)
                .ok()
                .and_then(|n| ids.get(n))
                .cloned()
                .ok_or(Error::NotFound)?,
            (None, None) => return Err(Error::NotFound),
        };
        let request = self
            .execute_preview(account_id, &input.webhook_id, &contact_id)
            .await?;
        Ok((contact_id, request))
    }
}

/// Runs jobs until `stop`: whatever is running and not held by a live
/// process, then waits to be woken (a new job) or [`LOOK_EVERY`].
pub(crate) async fn run_jobs(engine: Engine, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        loop {
            if *stop.borrow() {
                return;
            }
            match engine.store().hold_next_job().await {
                Ok(Some(job)) => {
                    if let Err(e) = run_job(&engine, job, &stop).await {
                        // The job stays held here; it is taken up again
                        // at the next look.
                        tracing::error!(error = %e, "a job's batch failed; trying again shortly");
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "looking for jobs failed");
                    break;
                }
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Runs a held job's batches until it is done, cancelled, taken over, or
/// the engine stops.
async fn run_job(engine: &Engine, job: HeldJob, stop: &watch::Receiver<bool>) -> Result<()> {
    match job.params.clone() {
        JobParams::MassPost(params) => run_mass_post(engine, job, &params, stop).await,
        JobParams::Import(params) => crate::import::run_import(engine, job, &params, stop).await,
    }
}

/// The job's webhook if it is still there and on; otherwise the job
/// fails, saying why, and `None`.
pub(crate) async fn live_webhook(store: &Store, job: &HeldJob) -> Result<Option<WebhookView>> {
    let webhook_id = job.webhook_id.as_deref().unwrap_or_default();
    let reason = match store.webhook(&job.account_id, webhook_id).await {
        Ok(w) if w.input.active => return Ok(Some(w)),
        Ok(_) => "The webhook was turned off; the rest was not posted.",
        Err(Error::NotFound) => "The webhook was deleted; the rest was not posted.",
        Err(e) => return Err(e),
    };
    store.fail_job(&job.id, reason).await?;
    Ok(None)
}

async fn run_mass_post(
    engine: &Engine,
    mut job: HeldJob,
    params: &MassPostParams,
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    let store = engine.store();
    let account = store.account(&job.account_id).await?;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let Some(webhook) = live_webhook(store, &job).await? else {
            return Ok(());
        };
        let batch = next_batch(store, &job, params, &webhook, &account).await?;
        let written = store
            .write_mass_post_batch(&job, webhook.input.delivery_mode, &batch)
            .await?;
        if !written {
            return Ok(());
        }
        engine.wake();
        if batch.last {
            tracing::info!(job = %job.id, "mass post done");
            return Ok(());
        }
        job.position = batch.position;
    }
}

/// The next batch of a job's contacts, each with its event.
async fn next_batch(
    store: &Store,
    job: &HeldJob,
    params: &MassPostParams,
    webhook: &WebhookView,
    account: &Account,
) -> Result<Batch> {
    let first_type = webhook
        .input
        .triggers
        .first()
        .map(|t| t.event_type.as_str());
    // Lead and to-do events carry the contact's latest lead or to-do.
    let with_activity = matches!(first_type.map(noun_of), Some("lead" | "todo"));
    let detail = |contact: crate::model::Contact| async move {
        if with_activity {
            store.contact_detail(&job.account_id, &contact.id).await
        } else {
            Ok(ContactDetail {
                contact,
                leads: Vec::new(),
                todos: Vec::new(),
            })
        }
    };
    let mut posted = Vec::new();
    let mut errors = Vec::new();
    let (position, last) = match (&params.filter, &params.contact_ids) {
        (Some(filter), _) => {
            let page = store
                .list_contacts(
                    &job.account_id,
                    filter,
                    job.position.as_deref(),
                    MASS_POST_BATCH as i64,
                )
                .await?;
            let position = page.data.last().map(|c| c.id.clone());
            let last = page.next_cursor.is_none();
            for contact in page.data {
                posted.push(post(
                    webhook,
                    detail(contact).await?,
                    account,
                    &params.actor,
                ));
            }
            (position.or_else(|| job.position.clone()), last)
        }
        (None, Some(ids)) => {
            let start = job
                .position
                .as_deref()
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(0)
                .min(ids.len());
            let end = (start + MASS_POST_BATCH).min(ids.len());
            for (n, id) in ids[start..end].iter().enumerate() {
                match store.contact(&job.account_id, id).await {
                    Ok(contact) => posted.push(post(
                        webhook,
                        detail(contact).await?,
                        account,
                        &params.actor,
                    )),
                    Err(Error::NotFound) => errors.push(JobError {
                        line: (start + n + 1) as i64,
                        reason: format!("There is no contact {id} in this account (deleted?)."),
                    }),
                    Err(e) => return Err(e),
                }
            }
            (Some(end.to_string()), end >= ids.len())
        }
        (None, None) => (None, true),
    };
    Ok(Batch {
        posted,
        errors,
        position,
        last,
    })
}

/// One contact's event for the webhook, and the record it is about.
pub(crate) fn post(
    webhook: &WebhookView,
    detail: ContactDetail,
    account: &Account,
    actor: &Option<Actor>,
) -> Posted {
    let about = RecordRef {
        id: Some(detail.contact.id.clone()),
        label: Some(detail.contact.display_name()),
    };
    Posted {
        event: contact_event_for(&webhook.input, &detail, account, actor.clone()),
        about,
    }
}
