//! Data source imports: a contacts CSV uploaded, its columns mapped to
//! fields, imported as a background job (see `store::imports`), each
//! imported contact optionally posted through a chosen webhook.

use tokio::sync::watch;

use crate::handle::Engine;
use crate::model::imports::ColumnTarget;
use crate::model::{Actor, Contact, ContactDetail, JobView};
use crate::store::Result;
use crate::store::imports::{IMPORT_BATCH, ImportInput, ImportParams};
use crate::store::jobs::{HeldJob, Posted};

impl Engine {
    /// Starts importing an uploaded CSV; the job runner imports it in the
    /// background.
    pub async fn start_import(
        &self,
        account_id: &str,
        input: &ImportInput,
        csv: &[u8],
        actor: Option<Actor>,
    ) -> Result<JobView> {
        let job = self
            .store()
            .create_import(account_id, input, csv, actor, false)
            .await?;
        self.wake_jobs();
        Ok(job)
    }

    /// Starts an import uploaded as a draft, with its mapping and webhook.
    pub async fn start_draft_import(
        &self,
        account_id: &str,
        id: &str,
        targets: Vec<ColumnTarget>,
        webhook_id: Option<String>,
    ) -> Result<JobView> {
        let job = self
            .store()
            .start_draft_import(account_id, id, targets, webhook_id)
            .await?;
        self.wake_jobs();
        Ok(job)
    }
}

/// Imports a held job's rows a batch at a time until none are left, it is
/// cancelled or taken over, or the engine stops.
pub(crate) async fn run_import(
    engine: &Engine,
    mut job: HeldJob,
    params: &ImportParams,
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    let store = engine.store();
    let account = store.account(&job.account_id).await?;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let webhook = match &job.webhook_id {
            Some(_) => match crate::mass_post::live_webhook(store, &job).await? {
                Some(w) => Some(w),
                None => return Ok(()),
            },
            None => None,
        };
        let after = job
            .position
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0);
        let rows = store.import_rows(&job.id, after, IMPORT_BATCH).await?;
        let last = rows.len() < IMPORT_BATCH;
        let through = webhook.map(|webhook| {
            let mode = webhook.input.delivery_mode;
            let (account, actor) = (&account, &params.actor);
            let make = move |contact: &Contact| -> Posted {
                let detail = ContactDetail {
                    contact: contact.clone(),
                    leads: Vec::new(),
                    todos: Vec::new(),
                };
                crate::mass_post::post(&webhook, detail, account, actor)
            };
            (mode, make)
        });
        let post = through
            .as_ref()
            .map(|(mode, make)| (*mode, make as &(dyn Fn(&Contact) -> Posted + Sync)));
        if !store
            .write_import_batch(&account, &job, params, &rows, last, post)
            .await?
        {
            return Ok(());
        }
        engine.wake();
        if last {
            tracing::info!(job = %job.id, "import done");
            return Ok(());
        }
        job.position = rows.last().map(|(line, _)| line.to_string());
    }
}
