//! Events: `POST /events` accepts one (its deliveries committed before
//! the 202, inline ones with their first outcome), `GET /events` reads the
//! account's log in order, `GET /event-types` lists the types the account
//! can receive: the built-in ones and those its programs sent.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use engine::Engine;
use engine::model::{Accepted, EventPage, NewEvent};
use engine::store::Store;
use serde::{Deserialize, Serialize};

use super::error::{ErrorBody, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/events", get(list_events).post(post_event))
        .route("/event-types", get(list_event_types))
}

/// Accepts one event: it and its deliveries are committed before the 202.
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    request_body(content = engine::model::NewEvent, example = json!({
        "type": "lead.created",
        "idempotency_key": "crm-lead-1001",
        "data": {"id": "l_1001", "type": "call", "contact": {"id": "c_1001", "first_name": "Jane"}}
    })),
    responses(
        (status = 202, description = "Accepted; one delivery per matching active webhook (inline ones with their first outcome)", body = engine::model::Accepted),
        Refused,
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub(crate) async fn post_event(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<NewEvent>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Json(event) = body?;
    let mut answers = engine.accept_events(&account, vec![event]).await?;
    let answer = answers
        .pop()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no answer"))?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

#[derive(Deserialize)]
pub(crate) struct EventQuery {
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
        Refused,
        (status = 422, description = "The cursor is not one this server gave out", body = ErrorBody),
    ))]
pub(crate) async fn list_events(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Query(q): Query<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let page = store
        .list_events(
            &account.id,
            q.after.as_deref(),
            q.limit.unwrap_or(100),
            q.event_type.as_deref(),
        )
        .await?;
    Ok(Json(page))
}

/// One event type the account can receive.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventTypeInfo {
    #[serde(rename = "type")]
    event_type: String,
    description: String,
    /// Sent by the account's own programs rather than built in.
    own: bool,
    /// Every field path its events carry (an own type: its first event's).
    fields: Vec<String>,
    /// A sample of `data`: a realistic record, or an own type's first event's.
    #[schema(value_type = Object)]
    sample: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventTypeList {
    data: Vec<EventTypeInfo>,
}

/// The event types the account can receive: the built-in ones, then those
/// its programs sent through `POST /events`, oldest first. Any well-formed
/// type is accepted; these are the ones the console's pickers offer.
#[utoipa::path(get, path = "/api/v1/event-types", tag = "events",
    responses(
        (status = 200, description = "Every type with its fields and a sample of `data`", body = EventTypeList),
        Refused,
    ))]
pub(crate) async fn list_event_types(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
) -> Result<Json<EventTypeList>, ApiError> {
    let catalog = store.account_catalog(&account.id).await?;
    let data = catalog
        .types()
        .iter()
        .map(|t| EventTypeInfo {
            fields: catalog
                .fields(&t.name)
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.path)
                .collect(),
            sample: catalog.sample(&t.name).map(|e| e.data).unwrap_or_default(),
            event_type: t.name.clone(),
            description: t.description.clone(),
            own: t.own,
        })
        .collect();
    Ok(Json(EventTypeList { data }))
}
