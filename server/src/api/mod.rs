//! The REST API under `/api/v1` (PRODUCT.md section 8): bearer API keys,
//! events in and the event log out, webhooks CRUD mirroring the console,
//! and deliveries. Every handler answers a typed body, so the OpenAPI
//! document is made from the types the API really sends; every error
//! answers `{"error": {"code", "message", "field"?}}`.
//!
//! # Layout
//! - [`error`]: the error shape and the error answers routes document.
//! - [`events`]: `POST /events`, `GET /events`.
//! - [`webhooks`]: `/webhooks`, test sends and secret rotation.
//! - [`deliveries`]: `/deliveries`, one delivery with its attempts, retry.
//! - [`contacts`]: `/contacts` with statuses, flags, assignments, leads and
//!   to-dos; [`settings`] the account's settings items; [`account`] its
//!   name and `external_ref`.
//! - [`jobs`]: `/mass-posts`, `/imports` and `/jobs/{id}`: background jobs.

pub mod account;
pub mod contacts;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod jobs;
pub mod settings;
pub mod webhooks;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use engine::Engine;
use engine::model::Account;
use engine::store::Store;

pub use error::ApiError;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub engine: Engine,
}

impl FromRef<ApiState> for Store {
    fn from_ref(state: &ApiState) -> Store {
        state.store.clone()
    }
}

impl FromRef<ApiState> for Engine {
    fn from_ref(state: &ApiState) -> Engine {
        state.engine.clone()
    }
}

/// Every resource's routes, and the document that describes them.
pub fn router<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    Router::new()
        .merge(events::router())
        .merge(webhooks::router())
        .merge(deliveries::router())
        .merge(contacts::router())
        .merge(settings::router())
        .merge(account::router())
        .merge(jobs::router())
        .route(
            "/openapi.json",
            axum::routing::get(crate::openapi::document),
        )
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such API route.")
        })
        .with_state(state)
}

/// The account of the request's `Authorization: Bearer <api key>`.
pub struct ApiAccount(pub Account);

impl FromRequestParts<ApiState> for ApiAccount {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let store = &state.store;
        let unauthorized =
            |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("Send Authorization: Bearer <api key>."))?;
        let key = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("Send Authorization: Bearer <api key>."))?;
        match store.account_for_api_key(key.trim()).await? {
            Some(account) => Ok(ApiAccount(account)),
            None => Err(unauthorized("This API key is not valid.")),
        }
    }
}

/// `current` with the fields of a JSON object patch put over it; the
/// others keep their values. Each wrong field is named.
pub(crate) fn merge_patch<T>(current: &T, patch: serde_json::Value) -> Result<T, ApiError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let serde_json::Value::Object(patch) = patch else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Send a JSON object of the fields to change.",
        ));
    };
    let mut merged = serde_json::to_value(current).unwrap_or_default();
    for (key, value) in patch {
        merged[key] = value;
    }
    serde_path_to_error::deserialize(merged)
        .map_err(|e| ApiError::wrong_field(&e, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"))
}
