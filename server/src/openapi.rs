//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document, generated
//! from the handlers' annotations and the engine's types (utoipa), so it
//! cannot drift from the code. Served without a key: it holds no data.

use axum::Json;
use engine::model::WebhookView;
use engine::reports::{AttemptRecord, DeliveryState};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Postback API",
        description = "Events in, signed webhook deliveries out. Every route takes \
            `Authorization: Bearer <api key>` (keys from `postback api-key create` or the console). \
            Errors always answer `{\"error\": {\"code\", \"message\", \"field\"?}}`."
    ),
    paths(
        crate::api::post_event,
        crate::api::list_events,
        crate::api::list_webhooks,
        crate::api::create_webhook,
        crate::api::get_webhook,
        crate::api::patch_webhook,
        crate::api::delete_webhook,
        crate::api::test_webhook,
        crate::api::rotate_secret,
        crate::api::list_deliveries,
        crate::api::get_delivery,
        crate::api::retry_delivery,
    ),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    tags(
        (name = "events", description = "Post events; read the event log"),
        (name = "webhooks", description = "Configure webhooks, as the console does"),
        (name = "deliveries", description = "Read deliveries and their attempts; retry"),
    )
)]
pub struct ApiDoc;

/// The bearer API key every route takes.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Every error: the first problem, and all of them when there are several.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
    pub errors: Option<Vec<ErrorObject>>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable and machine-readable, e.g. `invalid_url`.
    pub code: String,
    pub message: String,
    /// The JSON path of the field at fault, e.g. `mapping[2].key`.
    pub field: Option<String>,
}

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

#[derive(Serialize, ToSchema)]
pub struct SigningSecret {
    pub signing_secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestBody {
    /// The sample event's type, e.g. `contact.created`.
    pub event_type: Option<String>,
}

/// A delivery with every attempt, first to last.
#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryState,
    pub attempts: Vec<AttemptRecord>,
}
