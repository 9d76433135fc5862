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
use engine::Engine;
use engine::model::WebhookInput;
use engine::model::{Account, NewEvent};
use engine::store::DeliveryFilter;
use engine::store::Store;
use engine::validate::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};

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
        .route("/openapi.json", get(crate::openapi::document))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such API route.")
        })
        .with_state(state)
}

/// Accepts one event: it and its deliveries are committed before the 202.
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    request_body = engine::model::NewEvent,
    responses(
        (status = 202, description = "Accepted; one delivery per matching active webhook (inline ones with their first outcome)", body = engine::model::Accepted),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 422, description = "A field is invalid", body = crate::openapi::ErrorBody),
    ))]
async fn post_event(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<NewEvent>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(event) = body?;
    let mut answers = engine.accept_events(&account, vec![event]).await?;
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

/// The account's event log, in order, read with a cursor.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(
        ("after" = Option<String>, Query, description = "A `next_cursor` from an earlier page; absent: from the start"),
        ("limit" = Option<i64>, Query, description = "Events per page, 1–1000 (default 100)"),
        ("type" = Option<String>, Query, description = "Only events of this type"),
    ),
    responses(
        (status = 200, description = "A page of the log; `next_cursor` is where to continue", body = engine::model::EventPage),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 422, description = "The cursor is not one this server gave out", body = crate::openapi::ErrorBody),
    ))]
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

/// The account's webhooks, secrets masked.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "Every live webhook", body = crate::openapi::WebhookList),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
    ))]
async fn list_webhooks(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
) -> Result<Json<Value>, ApiError> {
    let hooks = store.list_webhooks(&account.id).await?;
    Ok(Json(json!({ "data": hooks })))
}

/// Creates a webhook; the answer has its signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = engine::model::WebhookInput,
    responses(
        (status = 201, description = "Created", body = crate::openapi::CreatedWebhook),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 422, description = "Fields are invalid; `errors` lists each", body = crate::openapi::ErrorBody),
    ))]
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

/// One webhook, secrets masked.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses(
        (status = 200, description = "The webhook", body = engine::model::WebhookView),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such webhook in this account", body = crate::openapi::ErrorBody),
    ))]
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
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body(content = Object, description = "Any fields of a webhook (as in the create body); the others keep their values"),
    responses(
        (status = 200, description = "The changed webhook", body = engine::model::WebhookView),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such webhook in this account", body = crate::openapi::ErrorBody),
        (status = 422, description = "Fields are invalid", body = crate::openapi::ErrorBody),
    ))]
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

/// Deletes a webhook; its delivery history stays.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such webhook in this account", body = crate::openapi::ErrorBody),
    ))]
async fn delete_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    store.delete_webhook(&account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl FromRef<ApiState> for Engine {
    fn from_ref(state: &ApiState) -> Engine {
        state.engine.clone()
    }
}

#[derive(Deserialize, Default)]
struct TestRequest {
    event_type: Option<String>,
}

/// Sends a sample event to the webhook now and answers with the request and
/// the response (or the transport error).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body(content = crate::openapi::TestBody, description = "The sample event's type; default the webhook's first trigger"),
    responses(
        (status = 200, description = "The request sent and the response, or the transport error", body = engine::model::TestSend),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such webhook in this account", body = crate::openapi::ErrorBody),
    ))]
async fn test_webhook(
    State(store): State<Store>,
    State(engine): State<Engine>,
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
    let result = engine.test_send(&account.id, &id, &event_type).await?;
    Ok(Json(serde_json::to_value(result).unwrap_or_default()))
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
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 422, description = "A cursor is not one this server gave out", body = crate::openapi::ErrorBody),
    ))]
async fn list_deliveries(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<Value>, ApiError> {
    let page = store.list_deliveries(&account.id, &filter).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery's id (`dlv_…`)")),
    responses(
        (status = 200, description = "The delivery with every attempt", body = crate::openapi::DeliveryDetail),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such delivery in this account", body = crate::openapi::ErrorBody),
    ))]
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

/// Makes a delivery due now for one more attempt.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/retry", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery's id")),
    responses(
        (status = 202, description = "Due now; the delivery as it stands", body = engine::reports::DeliveryState),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such delivery in this account", body = crate::openapi::ErrorBody),
        (status = 422, description = "Not attempted yet", body = crate::openapi::ErrorBody),
    ))]
async fn retry_delivery(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let state = engine.retry_delivery(&account.id, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::to_value(state).unwrap_or_default()),
    ))
}

/// Replaces the signing secret and returns the new one, this once; the old
/// one keeps signing too for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = crate::openapi::SigningSecret),
        (status = 400, description = "The body is not JSON of the right shape", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such webhook in this account", body = crate::openapi::ErrorBody),
    ))]
async fn rotate_secret(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let secret = store.rotate_signing_secret(&account.id, &id).await?;
    Ok(Json(json!({ "signing_secret": secret })))
}
