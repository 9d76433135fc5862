//! Background jobs: `POST /mass-posts` starts one (a webhook run on every
//! contact of a filter, or on chosen ones), `POST /imports` another (a
//! contacts CSV), `GET /jobs/{id}` shows how far it has come, `POST
//! /jobs/{id}/cancel` stops it.

use std::collections::BTreeMap;

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::Engine;
use engine::model::imports::ColumnTarget;
use engine::model::{JobView, MassPostInput};
use engine::store::Store;
use engine::store::imports::ImportInput;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ErrorBody, NotFound, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/mass-posts", post(create_mass_post))
        .route(
            "/imports",
            post(create_import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
}

/// The largest CSV an import takes.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// A job started: follow it at `GET /api/v1/jobs/{job_id}`.
#[derive(Serialize, ToSchema)]
pub struct JobStarted {
    pub job_id: String,
    /// How many contacts (or rows) it takes.
    pub total: i64,
}

/// An import's parts.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The contacts CSV: UTF-8 (a byte order mark is fine), the first line
    /// naming the columns; at most 64 MB and 1,000,000 rows.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// JSON: where columns go, by header, e.g. `{"Cell": "phone", "VIN":
    /// "custom:VIN", "Notes": "ignore"}`. Columns not named are guessed
    /// from their header; unknown ones become custom fields.
    mapping: Option<String>,
    /// A webhook (on) to post each imported contact through.
    webhook_id: Option<String>,
}

/// Posts every contact a filter matches (`"filter": {}` for all), or the
/// contacts named (`"contact_ids"`, at most 1,000), through one webhook
/// that is on: each contact as the event of the webhook's first trigger,
/// as "execute webhook" sends it, delivered and retried like any other.
/// Runs in the background; a restart resumes it where it stopped.
#[utoipa::path(post, path = "/api/v1/mass-posts", tag = "jobs",
    request_body(content = MassPostInput, example = json!({
        "webhook_id": "wh_0k2m3n4p5q6r7s8t9u0v",
        "filter": {"status": "Thank You Note"}
    })),
    responses(
        (status = 202, description = "Started", body = JobStarted),
        Refused,
        (status = 422, description = "No such webhook, the webhook is off, or no contact matches", body = ErrorBody),
    ))]
pub(crate) async fn create_mass_post(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<MassPostInput>, JsonRejection>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let Json(input) = body?;
    let job = engine.start_mass_post(&account.id, &input, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobStarted {
            job_id: job.id,
            total: job.total,
        }),
    ))
}

/// Imports a contacts CSV: each row creates a contact, or updates the one
/// with its external id or email (empty cells leave a field as it is),
/// emitting `contact.created` / `contact.updated`; with `webhook_id`, each
/// imported contact is also posted through that webhook. Bad rows are
/// reported by line in the job's `errors` and the good ones kept. Runs in
/// the background; a restart resumes it where it stopped.
#[utoipa::path(post, path = "/api/v1/imports", tag = "jobs",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Started; `total` counts the rows, bad ones included", body = JobStarted),
        (status = 400, description = "Not a multipart form, or a part Postback does not know", body = ErrorBody),
        Refused,
        (status = 413, description = "The file is larger than 64 MB", body = ErrorBody),
        (status = 422, description = "No file, a file that is not CSV or has no rows, a mapping that does not fit it, or a webhook that is not there or off", body = ErrorBody),
    ))]
pub(crate) async fn create_import(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<JobStarted>), ApiError> {
    let mut form =
        form.map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?;
    let mut file = None;
    let mut input = ImportInput::default();
    while let Some(part) = form.next_field().await.map_err(part_error)? {
        match part.name().unwrap_or_default() {
            "file" => {
                input.file_name = part.file_name().map(str::to_string);
                file = Some(part.bytes().await.map_err(part_error)?);
            }
            "mapping" => {
                let text = part.text().await.map_err(part_error)?;
                if !text.trim().is_empty() {
                    input.mapping = serde_json::from_str::<BTreeMap<String, ColumnTarget>>(&text)
                        .map_err(|e| {
                        engine::Error::field(
                            "mapping",
                            "invalid_mapping",
                            format!(
                                "The mapping must be a JSON object of column names to places: {e}."
                            ),
                        )
                    })?;
                }
            }
            "webhook_id" => {
                let text = part.text().await.map_err(part_error)?;
                input.webhook_id = Some(text.trim().to_string()).filter(|t| !t.is_empty());
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_part",
                    format!(
                        "The form has a part \"{other}\"; its parts are file, mapping and webhook_id."
                    ),
                ));
            }
        }
    }
    let Some(file) = file else {
        return Err(engine::Error::field(
            "file",
            "required",
            "Attach the CSV file as the part \"file\".",
        )
        .into());
    };
    let job = engine
        .start_import(&account.id, &input, &file, None)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobStarted {
            job_id: job.id,
            total: job.total,
        }),
    ))
}

fn part_error(e: MultipartError) -> ApiError {
    ApiError::new(e.status(), "invalid_multipart", e.body_text())
}

/// A job: its state, how many records it has handled of how many, its
/// deliveries' outcomes so far, and what it could not do, by line.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        Refused,
        NotFound,
    ))]
pub(crate) async fn get_job(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(store.job(&account.id, &id).await?))
}

/// Stops a running job after the batch in progress; the deliveries it
/// made already go on. A finished job answers as it is.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job, cancelled unless it had finished", body = JobView),
        Refused,
        NotFound,
    ))]
pub(crate) async fn cancel_job(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(store.cancel_job(&account.id, &id).await?))
}
