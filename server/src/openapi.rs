//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document, generated
//! from the handlers' annotations and the engine's types (utoipa), so it
//! cannot drift from the code. Served without a key: it holds no data.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Postback API",
        description = "Events in, signed webhook deliveries out. Every route takes \
            `Authorization: Bearer <api key>` (keys from `postback api-key create` or the console). \
            Errors always answer `{\"error\": {\"code\", \"message\", \"field\"?}}`."
    ),
    paths(
        crate::api::events::post_event,
        crate::api::events::list_events,
        crate::api::webhooks::list_webhooks,
        crate::api::webhooks::create_webhook,
        crate::api::webhooks::get_webhook,
        crate::api::webhooks::patch_webhook,
        crate::api::webhooks::delete_webhook,
        crate::api::webhooks::test_webhook,
        crate::api::webhooks::rotate_secret,
        crate::api::deliveries::list_deliveries,
        crate::api::deliveries::get_delivery,
        crate::api::deliveries::retry_delivery,
    ),
    components(schemas(crate::api::error::ErrorBody, crate::api::error::ErrorObject)),
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
