//! The REST API under `/api/v1` (PRODUCT.md section 8): bearer API keys,
//! events in and the event log out, and webhooks CRUD mirroring the console.
//! Every error answers `{"error": {"code", "message", "field"?}}`.

use axum::extract::FromRef;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::routing::post;
use axum::{Json, Router};
use engine::delivery::Sender;
use engine::model::WebhookInput;
use engine::store::DeliveryFilter;
use engine::store::{Account, NewEvent, Store};
use engine::validate::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Notify;

/// An API failure: a status and the error object.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errors: vec![FieldError::new("", code, message)],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let render = |e: &FieldError| {
            let mut o = json!({"code": e.code, "message": e.message});
            if !e.field.is_empty() {
                o["field"] = json!(e.field);
            }
            o
        };
        let first = self.errors.first().map(render).unwrap_or(json!({}));
        let mut body = json!({ "error": first });
        if self.errors.len() > 1 {
            body["errors"] = Value::Array(self.errors.iter().map(render).collect());
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> Self {
        match e {
            engine::Error::Validation(errors) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            },
            engine::Error::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such resource in this account.",
            ),
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on the server; it is logged.",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
    }
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

/// Wakes the in-process delivery engine after events are committed; absent
/// when this process does not deliver (`--no-worker`).
#[derive(Clone, Default)]
pub struct Wake(pub Option<Arc<Notify>>);

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// The client test sends go through.
    pub sender: Sender,
    pub wake: Wake,
}

impl FromRef<ApiState> for Store {
    fn from_ref(state: &ApiState) -> Store {
        state.store.clone()
    }
}

pub fn router<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    Router::new()
        .route("/events", get(list_events).post(post_event))
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route(
            "/webhooks/{id}",
            get(get_webhook).patch(patch_webhook).delete(delete_webhook),
        )
        .route("/webhooks/{id}/test", post(test_webhook))
        .route("/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/deliveries", get(list_deliveries))
        .route("/deliveries/{id}", get(get_delivery))
        .route("/deliveries/{id}/retry", post(retry_delivery))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such API route.")
        })
        .with_state(state)
}

async fn post_event(
    State(store): State<Store>,
    State(sender): State<Sender>,
    State(wake): State<Wake>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<NewEvent>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(event) = body?;
    let mut answers =
        engine::delivery::accept_events(&store, &sender, &account, vec![event]).await?;
    if let Some(wake) = &wake.0 {
        wake.notify_one();
    }
    let answer = answers
        .pop()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no answer"))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::to_value(answer).unwrap_or_default()),
    ))
}

#[derive(Deserialize)]
struct EventQuery {
    after: Option<String>,
    limit: Option<i64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

async fn list_events(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Query(q): Query<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = store
        .list_events(
            &account.id,
            q.after.as_deref(),
            q.limit.unwrap_or(100),
            q.event_type.as_deref(),
        )
        .await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

async fn list_webhooks(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
) -> Result<Json<Value>, ApiError> {
    let hooks = store.list_webhooks(&account.id).await?;
    Ok(Json(json!({ "data": hooks })))
}

async fn create_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<WebhookInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(input) = body?;
    let (view, secret) = store.create_webhook(&account.id, input).await?;
    let mut body = serde_json::to_value(view).unwrap_or_default();
    body["signing_secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

async fn get_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        serde_json::to_value(store.webhook(&account.id, &id).await?).unwrap_or_default(),
    ))
}

/// Changes the fields given; the others keep their values.
async fn patch_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(patch) = body?;
    let Value::Object(patch) = patch else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Send a JSON object of the fields to change.",
        ));
    };
    let current = store.webhook(&account.id, &id).await?;
    let mut merged = serde_json::to_value(&current.input).unwrap_or_default();
    for (key, value) in patch {
        merged[key] = value;
    }
    let input: WebhookInput = serde_json::from_value(merged).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            e.to_string(),
        )
    })?;
    let view = store.update_webhook(&account.id, &id, input).await?;
    Ok(Json(serde_json::to_value(view).unwrap_or_default()))
}

async fn delete_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    store.delete_webhook(&account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl FromRef<ApiState> for Wake {
    fn from_ref(state: &ApiState) -> Wake {
        state.wake.clone()
    }
}

impl FromRef<ApiState> for Sender {
    fn from_ref(state: &ApiState) -> Sender {
        state.sender.clone()
    }
}

#[derive(Deserialize, Default)]
struct TestRequest {
    event_type: Option<String>,
}

/// Sends a sample event to the webhook now and answers with the request and
/// the response (or the transport error).
async fn test_webhook(
    State(store): State<Store>,
    State(sender): State<Sender>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Option<Json<TestRequest>>,
) -> Result<Json<Value>, ApiError> {
    let event_type = match body.and_then(|Json(b)| b.event_type) {
        Some(t) => t,
        None => store
            .webhook(&account.id, &id)
            .await?
            .input
            .triggers
            .first()
            .map(|t| t.event_type.clone())
            .unwrap_or_else(|| "webhook.test".into()),
    };
    let result =
        engine::delivery::test_send(&store, &sender, &account.id, &id, &event_type).await?;
    Ok(Json(serde_json::to_value(result).unwrap_or_default()))
}

async fn list_deliveries(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<Value>, ApiError> {
    let page = store.list_deliveries(&account.id, &filter).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

async fn get_delivery(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = store.delivery(&account.id, &id).await?;
    let attempts = store.attempts(&id).await?;
    let mut body = serde_json::to_value(state).unwrap_or_default();
    body["attempts"] = serde_json::to_value(attempts).unwrap_or_default();
    Ok(Json(body))
}

async fn retry_delivery(
    State(store): State<Store>,
    State(wake): State<Wake>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let state = store.retry_delivery(&account.id, &id).await?;
    if let Some(wake) = &wake.0 {
        wake.notify_one();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::to_value(state).unwrap_or_default()),
    ))
}

/// Replaces the signing secret and returns the new one, this once; the old
/// one keeps signing too for 24 hours.
async fn rotate_secret(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let secret = store.rotate_signing_secret(&account.id, &id).await?;
    Ok(Json(json!({ "signing_secret": secret })))
}
