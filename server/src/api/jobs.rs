//! Background jobs: `POST /mass-posts` starts one (a webhook run on every
//! contact of a filter, or on chosen ones), `GET /jobs/{id}` shows how far
//! it has come, `POST /jobs/{id}/cancel` stops it.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::Engine;
use engine::model::{JobView, MassPostInput};
use engine::store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ErrorBody, NotFound, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/mass-posts", post(create_mass_post))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
}

/// A job started: follow it at `GET /api/v1/jobs/{job_id}`.
#[derive(Serialize, ToSchema)]
pub struct JobStarted {
    pub job_id: String,
    /// How many contacts it will post.
    pub total: i64,
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
