//! Webhooks: list, create (the signing secret shown this once), read,
//! change some fields, delete; a test send and signing-secret rotation.
//! The same rules as the console's form, from the same validation.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::Engine;
use engine::model::{TestSend, WebhookInput, WebhookView};
use engine::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ErrorBody, NotFound, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route(
            "/webhooks/{id}",
            get(get_webhook).patch(patch_webhook).delete(delete_webhook),
        )
        .route("/webhooks/{id}/test", post(test_webhook))
        .route("/webhooks/{id}/rotate-secret", post(rotate_secret))
}

/// Every live webhook of the account.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookView>,
}

/// A new webhook: its signing secret is returned in full this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_…`, the Standard Webhooks secret.
    pub signing_secret: String,
}

/// A new signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct SigningSecret {
    pub signing_secret: String,
}

/// The account's webhooks, secrets masked.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "Every live webhook", body = WebhookList),
        Refused,
    ))]
pub(crate) async fn list_webhooks(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
) -> Result<Json<WebhookList>, ApiError> {
    let data = store.list_webhooks(&account.id).await?;
    Ok(Json(WebhookList { data }))
}

/// Creates a webhook; the answer has its signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body(content = engine::model::WebhookInput, example = json!({
        "title": "Dialer queue",
        "url": "https://dialer.example.com/hook",
        "triggers": [{"event_type": "lead.created", "filters": [{"field": "lead.type", "op": "eq", "value": "call"}]}],
        "format": "json_mapped",
        "mapping": [{"key": "First Name", "value": {"field": "contact.first_name"}}],
        "auth": {"type": "header", "name": "X-Api-Key", "value": "k-123"}
    })),
    responses(
        (status = 201, description = "Created", body = CreatedWebhook),
        Refused,
        (status = 422, description = "Fields are invalid; `errors` lists each", body = ErrorBody),
    ))]
pub(crate) async fn create_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<WebhookInput>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let Json(input) = body?;
    let (webhook, signing_secret) = store.create_webhook(&account.id, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook,
            signing_secret,
        }),
    ))
}

/// One webhook, secrets masked.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id (`wh_…`)")),
    responses(
        (status = 200, description = "The webhook", body = engine::model::WebhookView),
        Refused,
        NotFound,
    ))]
pub(crate) async fn get_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(store.webhook(&account.id, &id).await?))
}

/// Changes the fields given; the others keep their values.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body(content = Object, description = "Any fields of a webhook (as in the create body); the others keep their values"),
    responses(
        (status = 200, description = "The changed webhook", body = engine::model::WebhookView),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid", body = ErrorBody),
    ))]
pub(crate) async fn patch_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<WebhookView>, ApiError> {
    let Json(patch) = body?;
    let current = store.webhook(&account.id, &id).await?;
    let input: WebhookInput = super::merge_patch(&current.input, patch)?;
    Ok(Json(store.update_webhook(&account.id, &id, input).await?))
}

/// Deletes a webhook; its delivery history stays.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 204, description = "Deleted"),
        Refused,
        NotFound,
    ))]
pub(crate) async fn delete_webhook(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    store.delete_webhook(&account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a test send may name.
#[derive(Deserialize, Default, ToSchema)]
pub struct TestBody {
    /// The sample event's type, e.g. `contact.created`.
    event_type: Option<String>,
}

/// Sends a sample event to the webhook now and answers with the request and
/// the response (or the transport error).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body(content = TestBody, description = "The sample event's type; default the webhook's first trigger"),
    responses(
        (status = 200, description = "The request sent and the response, or the transport error", body = engine::model::TestSend),
        Refused,
        NotFound,
    ))]
pub(crate) async fn test_webhook(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Option<Json<TestBody>>,
) -> Result<Json<TestSend>, ApiError> {
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
    Ok(Json(engine.test_send(&account.id, &id, &event_type).await?))
}

/// Replaces the signing secret and returns the new one, this once; the old
/// one keeps signing too for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = SigningSecret),
        Refused,
        NotFound,
    ))]
pub(crate) async fn rotate_secret(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<SigningSecret>, ApiError> {
    let signing_secret = store.rotate_signing_secret(&account.id, &id).await?;
    Ok(Json(SigningSecret { signing_secret }))
}
