//! Server functions of mass posts in the console: the page that picks a
//! webhook and steps through each record's request, starting the job, and
//! the job's progress page with its cancel. Starting and cancelling are
//! for admins; support users read a job's progress.

use engine::model::{JobView, Selection, User, WebhookTitle};
use engine::render::RenderedRequest;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// One record's request, as the mass post would send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewRecord {
    pub contact_id: String,
    pub name: String,
    pub request: RenderedRequest,
}

/// The mass post page's data, from its URL: which contacts, through
/// which webhook, and the `n`th record's request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MassPostView {
    pub user: User,
    /// `None` when the URL names no contacts (`with` missing).
    pub selection: Option<Selection>,
    /// Contacts the post would send.
    pub total: i64,
    /// Webhooks not deleted; those off cannot be chosen.
    pub webhooks: Vec<WebhookTitle>,
    /// The webhook chosen (the first on when the URL names none).
    pub webhook_id: Option<String>,
    /// Which record the preview shows, from 0.
    pub n: i64,
    /// The record's request, or why it cannot be shown.
    pub record: Option<Result<PreviewRecord, String>>,
}

/// A job's page: the job, and the title of the webhook it posts through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub user: User,
    pub job: JobView,
    pub webhook_title: Option<String>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use engine::store::Error;

    /// A preview's failure in words for the page.
    pub fn preview_error(e: Error) -> String {
        match e {
            Error::NotFound => {
                "This contact no longer exists; the post will skip it and report it.".into()
            }
            Error::Validation(errors) => errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join(" "),
            other => {
                tracing::error!(error = %other, "a mass post preview failed");
                "The request could not be shown; try again.".into()
            }
        }
    }
}

/// The mass post page for the URL's query string (`with=list` and the
/// list's filters, or `with=selected` and an `id` per row; `webhook`,
/// `n`). Admins only.
#[server(endpoint = "mass_post", input = Json)]
pub async fn load_mass_post(query: String) -> Result<MassPostView, ServerFnError> {
    use crate::api::ssr::{engine_error, require_admin, state};
    use engine::model::jobs::MAX_SELECTED;
    let (store, user) = require_admin().await?;
    let webhooks: Vec<WebhookTitle> = store
        .webhook_titles(&user.account_id)
        .await
        .map_err(engine_error)?
        .into_iter()
        .filter(|w| !w.deleted)
        .collect();
    let pairs = engine::reports::query_pairs(&query);
    let asked = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let webhook_id = asked("webhook")
        .filter(|id| webhooks.iter().any(|w| &w.id == id))
        .or_else(|| webhooks.iter().find(|w| w.active).map(|w| w.id.clone()));
    let selection = Selection::from_query(&query);
    let total = match &selection {
        None => 0,
        Some(Selection::List(filter)) => store
            .count_contacts(&user.account_id, filter)
            .await
            .map_err(engine_error)?,
        Some(Selection::Selected(ids)) => ids.len() as i64,
    };
    let n = asked("n")
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, (total - 1).max(0));
    let too_many = matches!(&selection, Some(Selection::Selected(ids)) if ids.len() > MAX_SELECTED);
    let record = match (&selection, &webhook_id) {
        (Some(selection), Some(webhook_id)) if total > 0 && !too_many => {
            let input = selection.clone().into_input(webhook_id.clone());
            let engine = state()?.engine;
            Some(
                match engine.mass_post_preview(&user.account_id, &input, n).await {
                    Ok((contact_id, request)) => {
                        let name = match store.contact(&user.account_id, &contact_id).await {
                            Ok(contact) => contact.display_name(),
                            Err(_) => contact_id.clone(),
                        };
                        Ok(PreviewRecord {
                            contact_id,
                            name,
                            request,
                        })
                    }
                    Err(e) => Err(ssr::preview_error(e)),
                },
            )
        }
        _ => None,
    };
    Ok(MassPostView {
        user,
        selection,
        total,
        webhooks,
        webhook_id,
        n,
        record,
    })
}

/// Starts posting the selection (its query string) through the webhook,
/// then shows the job's progress. Admins only.
#[server(endpoint = "start_mass_post")]
pub async fn start_mass_post(
    selection: String,
    webhook_id: String,
) -> Result<String, ServerFnError> {
    use crate::api::ssr::{engine_error, require_admin, state, status};
    let (_, user) = require_admin().await?;
    let Some(selection) = Selection::from_query(&selection) else {
        return Err(status(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "Choose the contacts to post on the contacts list first.",
        ));
    };
    let input = selection.into_input(webhook_id);
    let actor = crate::api::records::ssr::by(&user).actor;
    let job = state()?
        .engine
        .start_mass_post(&user.account_id, &input, actor)
        .await
        .map_err(engine_error)?;
    tracing::info!(user = %user.id, job = %job.id, webhook = %input.webhook_id, total = job.total, "mass post started");
    leptos_axum::redirect(&format!("/jobs/{}", job.id));
    Ok(job.id)
}

/// A job's progress and summary.
#[server(endpoint = "job", input = Json)]
pub async fn load_job(id: String) -> Result<JobDetail, ServerFnError> {
    use crate::api::ssr::{engine_error, not_found, require_user};
    let (store, user) = require_user().await?;
    let job = store
        .job(&user.account_id, &id)
        .await
        .map_err(|e| not_found(e, "That job does not exist."))?;
    let webhook_title = match &job.webhook_id {
        Some(webhook_id) => {
            let titles = store
                .webhook_titles(&user.account_id)
                .await
                .map_err(engine_error)?;
            WebhookTitle::of(&titles, webhook_id).map(str::to_string)
        }
        None => None,
    };
    Ok(JobDetail {
        user,
        job,
        webhook_title,
    })
}

/// Stops a running job; what it already posted stays. Admins only.
#[server(endpoint = "cancel_job")]
pub async fn cancel_job(id: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::{not_found, require_admin};
    let (store, user) = require_admin().await?;
    store
        .cancel_job(&user.account_id, &id)
        .await
        .map_err(|e| not_found(e, "That job does not exist."))?;
    tracing::info!(user = %user.id, job = %id, "job cancelled");
    leptos_axum::redirect(&format!("/jobs/{id}"));
    Ok(())
}

/// The import mapping page's data: the uploaded file's columns with where
/// each goes now, its first rows, and the webhooks to post through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportDraft {
    pub user: User,
    pub job: JobView,
    pub headers: Vec<String>,
    /// Where each column goes, as its key (`first_name`, `custom:VIN`,
    /// `ignore`).
    pub targets: Vec<String>,
    /// The first rows: their line and fields.
    pub rows: Vec<(i64, Vec<String>)>,
    pub webhooks: Vec<WebhookTitle>,
}

/// Rows the mapping page shows.
pub const PREVIEW_ROWS: usize = 5;

/// The upload page: for admins.
#[server(endpoint = "import_page")]
pub async fn load_import_page() -> Result<User, ServerFnError> {
    let (_, user) = crate::api::ssr::require_admin().await?;
    Ok(user)
}

/// An uploaded import's mapping page. Admins only.
#[server(endpoint = "import_draft", input = Json)]
pub async fn load_import_draft(id: String) -> Result<ImportDraft, ServerFnError> {
    use crate::api::ssr::{engine_error, not_found, require_admin};
    let (store, user) = require_admin().await?;
    let (job, params, rows) = store
        .import_draft(&user.account_id, &id, PREVIEW_ROWS)
        .await
        .map_err(|e| not_found(e, "That import does not exist."))?;
    let webhooks = store
        .webhook_titles(&user.account_id)
        .await
        .map_err(engine_error)?
        .into_iter()
        .filter(|w| w.active)
        .collect();
    Ok(ImportDraft {
        user,
        job,
        headers: params.headers,
        targets: params.targets.iter().map(|t| t.key()).collect(),
        rows,
        webhooks,
    })
}

/// Starts an uploaded import with the places chosen for its columns (in
/// order) and the webhook to post through (empty for none), then shows
/// its progress. Admins only.
#[server(endpoint = "start_import")]
pub async fn start_import(
    id: String,
    targets: Vec<String>,
    webhook_id: String,
) -> Result<String, ServerFnError> {
    use crate::api::ssr::{engine_error, require_admin, state, status};
    use engine::model::imports::ColumnTarget;
    let (_, user) = require_admin().await?;
    let targets = targets
        .iter()
        .map(|t| {
            ColumnTarget::parse(t).ok_or_else(|| {
                status(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("\"{t}\" is not a place for a column."),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let webhook_id = Some(webhook_id.trim().to_string()).filter(|w| !w.is_empty());
    let job = state()?
        .engine
        .start_draft_import(&user.account_id, &id, targets, webhook_id)
        .await
        .map_err(|e| match e {
            engine::Error::NotFound => {
                status(http::StatusCode::NOT_FOUND, "That import does not exist.")
            }
            other => engine_error(other),
        })?;
    tracing::info!(user = %user.id, job = %job.id, "import started");
    leptos_axum::redirect(&format!("/jobs/{}", job.id));
    Ok(job.id)
}
