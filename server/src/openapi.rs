//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document, generated
//! from the handlers' annotations and the engine's types (utoipa), so it
//! cannot drift from the code. Served without a key: it holds no data.

use axum::Json;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
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
        crate::api::events::list_event_types,
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
        crate::api::contacts::list_contacts,
        crate::api::contacts::create_contact,
        crate::api::contacts::get_contact,
        crate::api::contacts::patch_contact,
        crate::api::contacts::delete_contact,
        crate::api::contacts::add_status,
        crate::api::contacts::remove_status,
        crate::api::contacts::add_flag,
        crate::api::contacts::remove_flag,
        crate::api::contacts::assign,
        crate::api::contacts::unassign,
        crate::api::contacts::add_lead,
        crate::api::contacts::add_todo,
        crate::api::contacts::execute,
        crate::api::contacts::patch_todo,
        crate::api::contacts::delete_todo,
        crate::api::settings::list_items,
        crate::api::settings::create_item,
        crate::api::settings::get_item,
        crate::api::settings::patch_item,
        crate::api::settings::delete_item,
        crate::api::account::get_account,
        crate::api::account::patch_account,
        crate::api::jobs::create_mass_post,
        crate::api::jobs::create_import,
        crate::api::jobs::get_job,
        crate::api::jobs::cancel_job,
    ),
    components(schemas(crate::api::error::ErrorBody, crate::api::error::ErrorObject)),
    modifiers(&BearerKey, &Links),
    security(("api_key" = [])),
    tags(
        (name = "events", description = "Post events; read the event log"),
        (name = "webhooks", description = "Configure webhooks, as the console does"),
        (name = "deliveries", description = "Read deliveries and their attempts; retry"),
        (name = "contacts", description = "CRM contacts with their statuses, flags, assigned users, leads and to-dos; every change emits its event"),
        (name = "settings", description = "The account's sources, categories, custom categories, flags, statuses and users to assign"),
        (name = "jobs", description = "Background jobs: mass posts, their progress and cancel"),
        (name = "account", description = "The account's name and external_ref, carried in every payload"),
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

/// Links from an answer that names something new to the operations that
/// take its id: a created webhook to reading, changing, testing and
/// deleting it; an accepted event's first delivery to reading and
/// retrying it. Clients (and the fuzz run) can follow them.
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut Document) {
        use HttpMethod::{Delete, Get, Patch, Post};
        let webhook = "/api/v1/webhooks/{id}";
        link(
            openapi,
            ("/api/v1/webhooks", Post, "201"),
            "$response.body#/id",
            &[
                (webhook, Get),
                (webhook, Patch),
                (webhook, Delete),
                ("/api/v1/webhooks/{id}/test", Post),
                ("/api/v1/webhooks/{id}/rotate-secret", Post),
            ],
        );
        let contact = "/api/v1/contacts/{id}";
        link(
            openapi,
            ("/api/v1/contacts", Post, "201"),
            "$response.body#/id",
            &[
                (contact, Get),
                (contact, Patch),
                (contact, Delete),
                ("/api/v1/contacts/{id}/statuses", Post),
                ("/api/v1/contacts/{id}/flags", Post),
                ("/api/v1/contacts/{id}/leads", Post),
                ("/api/v1/contacts/{id}/todos", Post),
            ],
        );
        link(
            openapi,
            ("/api/v1/events", Post, "202"),
            "$response.body#/deliveries/0/id",
            &[
                ("/api/v1/deliveries/{id}", Get),
                ("/api/v1/deliveries/{id}/retry", Post),
            ],
        );
    }
}

fn operation<'a>(
    doc: &'a mut Document,
    path: &str,
    method: &HttpMethod,
) -> Option<&'a mut Operation> {
    let item = doc.paths.paths.get_mut(path)?;
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}

/// Adds to the `status` answer of `from` a link to each of `to`, passing
/// `id` as the expression says.
fn link(
    doc: &mut Document,
    (path, method, status): (&str, HttpMethod, &str),
    id: &str,
    to: &[(&str, HttpMethod)],
) {
    let targets: Vec<String> = to
        .iter()
        .filter_map(|(path, method)| operation(doc, path, method)?.operation_id.clone())
        .collect();
    let Some(RefOr::T(answer)) =
        operation(doc, path, &method).and_then(|op| op.responses.responses.get_mut(status))
    else {
        return;
    };
    for target in targets {
        let link = LinkBuilder::new()
            .operation_id(target.clone())
            .parameter("id", id)
            .build();
        answer.links.insert(target, RefOr::T(link));
    }
}

pub async fn document() -> Json<serde_json::Value> {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON");
    camel_case_links(&mut doc);
    Json(doc)
}

/// utoipa 5.5 writes a link's fields in snake case (`operation_id`);
/// OpenAPI and every tool that follows links read `operationId`.
fn camel_case_links(doc: &mut serde_json::Value) {
    let answers = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut());
    for answer in answers {
        let Some(links) = answer.get_mut("links").and_then(|l| l.as_object_mut()) else {
            continue;
        };
        for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(value) = link.remove(snake) {
                    link.insert(camel.to_string(), value);
                }
            }
        }
    }
}
