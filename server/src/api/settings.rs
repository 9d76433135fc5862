//! The account's settings items: sources, categories, custom categories,
//! flags, statuses and users to assign. Contacts name them; sources,
//! categories, custom categories and flags emit `source.created` and the
//! like.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use engine::Engine;
use engine::model::{EmittedEvent, ItemInput, ItemKind, RecordItem};
use engine::store::Store;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::contacts::{Deleted, by_api};
use super::error::{ErrorBody, NotFound, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/settings/{kind}", get(list_items).post(create_item))
        .route(
            "/settings/{kind}/{id}",
            get(get_item).patch(patch_item).delete(delete_item),
        )
}

/// The items of one kind, by name.
#[derive(Serialize, ToSchema)]
pub struct ItemList {
    pub data: Vec<RecordItem>,
}

/// An item after a change, with the event it emitted (none for statuses
/// and users to assign).
#[derive(Serialize, ToSchema)]
pub struct SavedItem {
    #[serde(flatten)]
    pub item: RecordItem,
    pub events: Vec<EmittedEvent>,
}

/// `sources`, `categories` … as the kind, or 404 naming the kinds there are.
fn kind_of(plural: &str) -> Result<ItemKind, ApiError> {
    ItemKind::from_plural(plural).ok_or_else(|| {
        let kinds: Vec<&str> = ItemKind::ALL.iter().map(|k| k.plural()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "No settings named {plural}; there are {}.",
                kinds.join(", ")
            ),
        )
    })
}

const KIND: &str =
    "sources, categories, custom_categories, flags, statuses or users (users to assign)";

/// The account's items of one kind.
#[utoipa::path(get, path = "/api/v1/settings/{kind}", tag = "settings",
    params(("kind" = String, Path, description = KIND)),
    responses(
        (status = 200, description = "Every item of the kind, by name", body = ItemList),
        Refused,
        NotFound,
    ))]
pub(crate) async fn list_items(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(kind): Path<String>,
) -> Result<Json<ItemList>, ApiError> {
    let data = store.items(&account.id, kind_of(&kind)?).await?;
    Ok(Json(ItemList { data }))
}

/// Adds an item; names are unique within a kind.
#[utoipa::path(post, path = "/api/v1/settings/{kind}", tag = "settings",
    params(("kind" = String, Path, description = KIND)),
    request_body(content = engine::model::ItemInput, example = json!({"name": "Sam Seller", "company": "Springfield Motors"})),
    responses(
        (status = 201, description = "Created, with the event it emitted", body = SavedItem),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid, or the name is taken", body = ErrorBody),
    ))]
pub(crate) async fn create_item(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(kind): Path<String>,
    body: Result<Json<ItemInput>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedItem>), ApiError> {
    let kind = kind_of(&kind)?;
    let Json(input) = body?;
    let change = store
        .create_item(&account.id, kind, input, &by_api())
        .await?;
    let saved = engine.saved(&account, change).await;
    Ok((
        StatusCode::CREATED,
        Json(SavedItem {
            item: saved.record,
            events: saved.events,
        }),
    ))
}

/// One item.
#[utoipa::path(get, path = "/api/v1/settings/{kind}/{id}", tag = "settings",
    params(
        ("kind" = String, Path, description = KIND),
        ("id" = String, Path, description = "The item's id (`itm_…`)"),
    ),
    responses(
        (status = 200, description = "The item", body = engine::model::RecordItem),
        Refused,
        NotFound,
    ))]
pub(crate) async fn get_item(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<RecordItem>, ApiError> {
    Ok(Json(store.item(&account.id, kind_of(&kind)?, &id).await?))
}

/// Renames an item (contacts that have it follow), changes its company or
/// turns it off.
#[utoipa::path(patch, path = "/api/v1/settings/{kind}/{id}", tag = "settings",
    params(
        ("kind" = String, Path, description = KIND),
        ("id" = String, Path, description = "The item's id"),
    ),
    request_body(content = Object, description = "Any fields of an item; the others keep their values"),
    responses(
        (status = 200, description = "The item, with the event it emitted", body = SavedItem),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid, or the name is taken", body = ErrorBody),
    ))]
pub(crate) async fn patch_item(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((kind, id)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<SavedItem>, ApiError> {
    let kind = kind_of(&kind)?;
    let Json(patch) = body?;
    let current = store.item(&account.id, kind, &id).await?;
    let input: ItemInput = super::merge_patch(&current.input(), patch)?;
    let change = store
        .update_item(&account.id, kind, &id, input, &by_api())
        .await?;
    let saved = engine.saved(&account, change).await;
    Ok(Json(SavedItem {
        item: saved.record,
        events: saved.events,
    }))
}

/// Deletes an item. Contacts keep a deleted status or flag by name; a user
/// still assigned to contacts cannot be deleted (turn them off instead).
#[utoipa::path(delete, path = "/api/v1/settings/{kind}/{id}", tag = "settings",
    params(
        ("kind" = String, Path, description = KIND),
        ("id" = String, Path, description = "The item's id"),
    ),
    responses(
        (status = 200, description = "Deleted, with the event it emitted", body = Deleted),
        Refused,
        NotFound,
        (status = 422, description = "A user still assigned to contacts", body = ErrorBody),
    ))]
pub(crate) async fn delete_item(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Deleted>, ApiError> {
    let outbox = store
        .delete_item(&account.id, kind_of(&kind)?, &id, &by_api())
        .await?;
    Ok(Json(Deleted {
        events: engine.emit(&account, outbox).await,
    }))
}
