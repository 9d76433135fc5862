//! Contacts: list (filters, pages), create, read with leads and to-dos,
//! change some fields, delete; statuses, flags, assigned users, leads and
//! to-dos on a contact. Every change emits its event (`contact.updated`
//! through the API) and answers with the events and their deliveries.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use engine::Engine;
use engine::model::{
    ChangedBy, Contact, ContactDetail, ContactFilter, ContactInput, ContactPage, EmittedEvent,
    ItemKind, Lead, LeadInput, Saved, TestSend, Todo, TodoInput, Via,
};
use engine::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ErrorBody, NotFound, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/contacts", get(list_contacts).post(create_contact))
        .route(
            "/contacts/{id}",
            get(get_contact).patch(patch_contact).delete(delete_contact),
        )
        .route("/contacts/{id}/statuses", post(add_status))
        .route("/contacts/{id}/statuses/{status}", delete(remove_status))
        .route("/contacts/{id}/flags", post(add_flag))
        .route("/contacts/{id}/flags/{flag}", delete(remove_flag))
        .route("/contacts/{id}/assignments", post(assign))
        .route("/contacts/{id}/assignments/{user_id}", delete(unassign))
        .route("/contacts/{id}/leads", post(add_lead))
        .route("/contacts/{id}/todos", post(add_todo))
        .route("/contacts/{id}/execute", post(execute))
        .route(
            "/contacts/{id}/todos/{todo_id}",
            patch(patch_todo).delete(delete_todo),
        )
}

/// Changes through the API: `contact.updated`, no console user.
pub(crate) fn by_api() -> ChangedBy {
    ChangedBy {
        actor: None,
        via: Via::Api,
    }
}

/// A contact after a change, with the events it emitted.
#[derive(Serialize, ToSchema)]
pub struct SavedContact {
    #[serde(flatten)]
    pub contact: Contact,
    pub events: Vec<EmittedEvent>,
}

impl From<Saved<Contact>> for SavedContact {
    fn from(saved: Saved<Contact>) -> Self {
        SavedContact {
            contact: saved.record,
            events: saved.events,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SavedLead {
    #[serde(flatten)]
    pub lead: Lead,
    pub events: Vec<EmittedEvent>,
}

#[derive(Serialize, ToSchema)]
pub struct SavedTodo {
    #[serde(flatten)]
    pub todo: Todo,
    pub events: Vec<EmittedEvent>,
}

/// What a delete emitted.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub events: Vec<EmittedEvent>,
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(flatten)]
    filter: ContactFilterQuery,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// The list's filters as query parameters.
#[derive(Deserialize)]
struct ContactFilterQuery {
    q: Option<String>,
    status: Option<String>,
    flag: Option<String>,
    assigned_user: Option<String>,
    state: Option<String>,
    source: Option<String>,
}

impl From<ContactFilterQuery> for ContactFilter {
    fn from(q: ContactFilterQuery) -> Self {
        ContactFilter {
            q: q.q,
            status: q.status,
            flag: q.flag,
            assigned_user: q.assigned_user,
            state: q.state,
            source: q.source,
        }
    }
}

/// The account's contacts, newest first, every filter given holding.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts",
    params(
        ("q" = Option<String>, Query, description = "Words, each the start of a word of the contact's name, email, email domain, phone digits or external id, in any case: `ann lee`, `ann@ex`, `@example.com`, `555-0100` (a word in the middle of another is not found)"),
        ("status" = Option<String>, Query, description = "Has this status"),
        ("flag" = Option<String>, Query, description = "Has this flag"),
        ("assigned_user" = Option<String>, Query, description = "Assigned to this user to assign (`itm_…`)"),
        ("state" = Option<String>, Query, description = "In this state"),
        ("source" = Option<String>, Query, description = "From this source"),
        ("cursor" = Option<String>, Query, description = "A `next_cursor` from the page before"),
        ("limit" = Option<i64>, Query, description = "Contacts per page, 1–500 (default 50)"),
    ),
    responses(
        (status = 200, description = "A page of contacts; `next_cursor` is where to continue", body = engine::model::ContactPage),
        Refused,
        (status = 422, description = "The cursor is not one this server gave out", body = ErrorBody),
    ))]
pub(crate) async fn list_contacts(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Query(q): Query<ListQuery>,
) -> Result<Json<ContactPage>, ApiError> {
    let filter = ContactFilter::from(q.filter);
    let page = store
        .list_contacts(
            &account.id,
            &filter,
            q.cursor.as_deref(),
            q.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(page))
}

/// Creates a contact (`contact.created`).
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts",
    request_body(content = engine::model::ContactInput, example = json!({
        "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com",
        "phone": "+1 555 0100", "address": {"city": "Springfield", "state": "IL"},
        "state": "active", "source": "Website", "external_id": "crm-1001",
        "custom_fields": {"preferred_time": "Morning"}
    })),
    responses(
        (status = 201, description = "Created, with the event it emitted", body = SavedContact),
        Refused,
        (status = 422, description = "Fields are invalid; `errors` lists each", body = ErrorBody),
    ))]
pub(crate) async fn create_contact(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<ContactInput>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedContact>), ApiError> {
    let Json(input) = body?;
    let change = store.create_contact(&account.id, input, &by_api()).await?;
    let saved = engine.saved(&account, change).await;
    Ok((StatusCode::CREATED, Json(saved.into())))
}

/// One contact with its leads and to-dos.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id (`con_…`)")),
    responses(
        (status = 200, description = "The contact", body = engine::model::ContactDetail),
        Refused,
        NotFound,
    ))]
pub(crate) async fn get_contact(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<ContactDetail>, ApiError> {
    Ok(Json(store.contact_detail(&account.id, &id).await?))
}

/// Changes the fields given; the others keep their values
/// (`contact.updated` with `changes`, when something changed).
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = Object, description = "Any fields of a contact (as in the create body); the others keep their values"),
    responses(
        (status = 200, description = "The changed contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid", body = ErrorBody),
    ))]
pub(crate) async fn patch_contact(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<SavedContact>, ApiError> {
    let Json(patch) = body?;
    let current = store.contact(&account.id, &id).await?;
    let input: ContactInput = super::merge_patch(&current.input(), patch)?;
    let change = store
        .update_contact(&account.id, &id, input, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Deletes a contact with its leads and to-dos (`contact.deleted`); its
/// deliveries stay in the history.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "Deleted, with the event it emitted", body = Deleted),
        Refused,
        NotFound,
    ))]
pub(crate) async fn delete_contact(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    let outbox = store.delete_contact(&account.id, &id, &by_api()).await?;
    Ok(Json(Deleted {
        events: engine.emit(&account, outbox).await,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// One of the account's statuses, e.g. `Thank You Note`.
    status: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagBody {
    /// One of the account's flags, e.g. `VIP`.
    flag: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A user to assign's id (`itm_…`, from `GET /settings/users`).
    user_id: String,
}

/// Adds a status (`contact.status_added` with `status`); adding one the
/// contact has changes nothing.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/statuses", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = StatusBody, example = json!({"status": "Thank You Note"})),
    responses(
        (status = 200, description = "The contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "Not one of the account's statuses; the message lists them", body = ErrorBody),
    ))]
pub(crate) async fn add_status(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<SavedContact>, ApiError> {
    let Json(body) = body?;
    let change = store
        .add_label(&account.id, &id, ItemKind::Status, &body.status, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Removes a status (`contact.status_removed`).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/statuses/{status}", tag = "contacts",
    params(
        ("id" = String, Path, description = "The contact's id"),
        ("status" = String, Path, description = "The status, e.g. `Thank%20You%20Note`"),
    ),
    responses(
        (status = 200, description = "The contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "The contact does not have it", body = ErrorBody),
    ))]
pub(crate) async fn remove_status(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((id, status)): Path<(String, String)>,
) -> Result<Json<SavedContact>, ApiError> {
    let change = store
        .remove_label(&account.id, &id, ItemKind::Status, &status, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Adds a flag (`contact.flag_added` with `flag`).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/flags", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = FlagBody, example = json!({"flag": "VIP"})),
    responses(
        (status = 200, description = "The contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "Not one of the account's flags; the message lists them", body = ErrorBody),
    ))]
pub(crate) async fn add_flag(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<FlagBody>, JsonRejection>,
) -> Result<Json<SavedContact>, ApiError> {
    let Json(body) = body?;
    let change = store
        .add_label(&account.id, &id, ItemKind::Flag, &body.flag, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Removes a flag (`contact.flag_removed`).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/flags/{flag}", tag = "contacts",
    params(
        ("id" = String, Path, description = "The contact's id"),
        ("flag" = String, Path, description = "The flag"),
    ),
    responses(
        (status = 200, description = "The contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "The contact does not have it", body = ErrorBody),
    ))]
pub(crate) async fn remove_flag(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((id, flag)): Path<(String, String)>,
) -> Result<Json<SavedContact>, ApiError> {
    let change = store
        .remove_label(&account.id, &id, ItemKind::Flag, &flag, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Assigns a user to assign (`contact.assigned`, with
/// `assigned_user.first_from_company`).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/assignments", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = AssignBody),
    responses(
        (status = 200, description = "The contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "Not one of the account's users to assign", body = ErrorBody),
    ))]
pub(crate) async fn assign(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<AssignBody>, JsonRejection>,
) -> Result<Json<SavedContact>, ApiError> {
    let Json(body) = body?;
    let change = store
        .assign(&account.id, &id, &body.user_id, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Takes a user off a contact (`contact.updated`, `changes.assigned_users`).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/assignments/{user_id}", tag = "contacts",
    params(
        ("id" = String, Path, description = "The contact's id"),
        ("user_id" = String, Path, description = "The assigned user's id"),
    ),
    responses(
        (status = 200, description = "The contact, with the event it emitted", body = SavedContact),
        Refused,
        NotFound,
        (status = 422, description = "The user is not assigned to the contact", body = ErrorBody),
    ))]
pub(crate) async fn unassign(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Json<SavedContact>, ApiError> {
    let change = store
        .unassign(&account.id, &id, &user_id, &by_api())
        .await?;
    Ok(Json(engine.saved(&account, change).await.into()))
}

/// Adds a lead (`lead.created`, with `contact_is_new` true for the
/// contact's first lead, and the contact).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/leads", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = engine::model::LeadInput, example = json!({
        "type": "call", "source": "Phone", "comments": "Asked about a test drive",
        "details": {"vehicle": "2023 Honda Accord"}
    })),
    responses(
        (status = 201, description = "The lead, with the event it emitted", body = SavedLead),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid", body = ErrorBody),
    ))]
pub(crate) async fn add_lead(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<LeadInput>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedLead>), ApiError> {
    let Json(input) = body?;
    let change = store.add_lead(&account.id, &id, input, &by_api()).await?;
    let saved = engine.saved(&account, change).await;
    Ok((
        StatusCode::CREATED,
        Json(SavedLead {
            lead: saved.record,
            events: saved.events,
        }),
    ))
}

/// Adds a to-do (`todo.created`).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/todos", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = engine::model::TodoInput, example = json!({
        "title": "Call back about the trade-in", "due_at": "2026-12-10T15:00:00Z"
    })),
    responses(
        (status = 201, description = "The to-do, with the event it emitted", body = SavedTodo),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid", body = ErrorBody),
    ))]
pub(crate) async fn add_todo(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<TodoInput>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedTodo>), ApiError> {
    let Json(input) = body?;
    let change = store.add_todo(&account.id, &id, input, &by_api()).await?;
    let saved = engine.saved(&account, change).await;
    Ok((
        StatusCode::CREATED,
        Json(SavedTodo {
            todo: saved.record,
            events: saved.events,
        }),
    ))
}

/// Changes the to-do's fields given (`todo.updated` with `changes`).
#[utoipa::path(patch, path = "/api/v1/contacts/{id}/todos/{todo_id}", tag = "contacts",
    params(
        ("id" = String, Path, description = "The contact's id"),
        ("todo_id" = String, Path, description = "The to-do's id"),
    ),
    request_body(content = Object, description = "Any fields of a to-do; the others keep their values"),
    responses(
        (status = 200, description = "The to-do, with the event it emitted", body = SavedTodo),
        Refused,
        NotFound,
        (status = 422, description = "Fields are invalid", body = ErrorBody),
    ))]
pub(crate) async fn patch_todo(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((id, todo_id)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<SavedTodo>, ApiError> {
    let Json(patch) = body?;
    let current = store.todo(&account.id, &id, &todo_id).await?;
    let input: TodoInput = super::merge_patch(&current.input(), patch)?;
    let change = store
        .update_todo(&account.id, &id, &todo_id, input, &by_api())
        .await?;
    let saved = engine.saved(&account, change).await;
    Ok(Json(SavedTodo {
        todo: saved.record,
        events: saved.events,
    }))
}

/// Deletes a to-do (`todo.deleted`).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/todos/{todo_id}", tag = "contacts",
    params(
        ("id" = String, Path, description = "The contact's id"),
        ("todo_id" = String, Path, description = "The to-do's id"),
    ),
    responses(
        (status = 200, description = "Deleted, with the event it emitted", body = Deleted),
        Refused,
        NotFound,
    ))]
pub(crate) async fn delete_todo(
    State(store): State<Store>,
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path((id, todo_id)): Path<(String, String)>,
) -> Result<Json<Deleted>, ApiError> {
    let outbox = store
        .delete_todo(&account.id, &id, &todo_id, &by_api())
        .await?;
    Ok(Json(Deleted {
        events: engine.emit(&account, outbox).await,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    /// The webhook to run on the contact (`wh_…`), active or not.
    webhook_id: String,
}

/// Runs a webhook on this contact now ("execute webhook"), whatever its
/// triggers: the event of its first trigger's type about the contact, one
/// attempt, recorded as a manual delivery; answers like a test send.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/execute", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body(content = ExecuteBody),
    responses(
        (status = 200, description = "The request sent and the response, or the transport error", body = engine::model::TestSend),
        Refused,
        NotFound,
        (status = 422, description = "No such webhook", body = ErrorBody),
    ))]
pub(crate) async fn execute(
    State(engine): State<Engine>,
    ApiAccount(account): ApiAccount,
    Path(id): Path<String>,
    body: Result<Json<ExecuteBody>, JsonRejection>,
) -> Result<Json<TestSend>, ApiError> {
    let Json(body) = body?;
    let sent = engine
        .execute(&account.id, &body.webhook_id, &id, None)
        .await?;
    Ok(Json(sent))
}
