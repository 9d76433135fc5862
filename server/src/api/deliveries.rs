//! Deliveries: the account's history (filtered, keyset pages), one
//! delivery with every attempt, and a retry.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::Engine;
use engine::reports::{AttemptRecord, DeliveryPage, DeliveryState};
use engine::store::{DeliveryFilter, Store};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ErrorBody, NotFound, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/deliveries", get(list_deliveries))
        .route("/deliveries/{id}", get(get_delivery))
        .route("/deliveries/{id}/retry", post(retry_delivery))
}

/// A delivery with every attempt, first to last.
#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryState,
    pub attempts: Vec<AttemptRecord>,
}

/// The account's deliveries, newest first, filtered, paged by cursor.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "deliveries",
    params(
        ("webhook_id" = Option<String>, Query, description = "Only this webhook's"),
        ("status" = Option<String>, Query, description = "pending, retrying, succeeded or failed"),
        ("event_type" = Option<String>, Query, description = "Only events of this type"),
        ("record" = Option<String>, Query, description = "Only this record's id"),
        ("from" = Option<String>, Query, description = "Created at or after (RFC 3339)"),
        ("to" = Option<String>, Query, description = "Created before (RFC 3339)"),
        ("cursor" = Option<String>, Query, description = "A `next_cursor`: the next (older) page"),
        ("prev" = Option<String>, Query, description = "A `prev_cursor`: the previous (newer) page"),
        ("limit" = Option<i64>, Query, description = "Deliveries per page, 1–500 (default 100)"),
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = engine::reports::DeliveryPage),
        Refused,
        (status = 422, description = "A cursor is not one this server gave out", body = ErrorBody),
    ))]
pub(crate) async fn list_deliveries(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<DeliveryPage>, ApiError> {
    Ok(Json(store.list_deliveries(&account.id, &filter).await?))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses(
        (status = 200, description = "The delivery with every attempt", body = DeliveryDetail),
        Refused,
        NotFound,
    ))]
pub(crate) async fn get_delivery(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let delivery = store.delivery(&account.id, &id).await?;
    let attempts = store.attempts(&id).await?;
    Ok(Json(DeliveryDetail { delivery, attempts }))
}

/// Makes a delivery due now for one more attempt.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/retry", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery's id")),
    responses(
        (status = 202, description = "Due now; the delivery as it stands", body = engine::reports::DeliveryState),
        Refused,
        NotFound,
        (status = 422, description = "Not attempted yet", body = ErrorBody),
    ))]
pub(crate) async fn retry_delivery(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryState>), ApiError> {
    let state = engine.retry_delivery(&account.id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(state)))
}
