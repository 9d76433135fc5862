//! Server functions of the records pages: contacts (list, page, form,
//! statuses, flags, assigned users, leads, to-dos) and the account's
//! settings. Support users read; admins change. Every change goes through
//! the same store calls as the REST API and emits its event
//! (`contact.saved` from here).

use engine::model::{
    ContactDetail, ContactFilter, ContactPage, EmittedEvent, ItemKind, RecordItem, User,
    WebhookTitle,
};
use engine::reports::DeliveryState;
use engine::validate::FieldError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// The account's settings items a contact form and filters offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Items {
    pub statuses: Vec<RecordItem>,
    pub flags: Vec<RecordItem>,
    pub sources: Vec<RecordItem>,
    pub categories: Vec<RecordItem>,
    pub users: Vec<RecordItem>,
}

impl Items {
    pub fn of(&self, kind: ItemKind) -> &[RecordItem] {
        match kind {
            ItemKind::Status => &self.statuses,
            ItemKind::Flag => &self.flags,
            ItemKind::Source => &self.sources,
            ItemKind::Category => &self.categories,
            ItemKind::User => &self.users,
            ItemKind::CustomCategory => &[],
        }
    }
}

/// The contacts list page's data. A bad cursor comes back as a field
/// error; the filters still render.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactsView {
    pub user: User,
    pub page: Result<ContactPage, FieldError>,
    pub items: Items,
}

/// Contacts on one page of the list.
pub const CONTACTS_PAGE: i64 = 50;

/// One contact's page: the contact with leads and to-dos, its latest
/// deliveries, and what its forms offer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactView {
    pub user: User,
    /// `None` on the new-contact page.
    pub contact: Option<ContactDetail>,
    pub deliveries: Vec<DeliveryState>,
    pub webhooks: Vec<WebhookTitle>,
    pub items: Items,
}

/// What a change on the contact page gives back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ContactChange {
    /// Done; the events it emitted with their deliveries (inline webhooks
    /// with their first outcome).
    Done {
        id: String,
        events: Vec<EmittedEvent>,
    },
    /// Refused; each error names its field. Nothing was stored.
    Invalid(Vec<FieldError>),
}

/// The settings page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub user: User,
    pub account: engine::model::Account,
    pub items: Items,
    pub custom_categories: Vec<RecordItem>,
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use engine::model::{Actor, ChangedBy, ItemKind, User, Via};
    use engine::store::{Error, Outbox, Store};
    use leptos::prelude::*;

    use super::{ContactChange, Items};
    use crate::api::ssr::{engine_error, state, status};

    /// A change made by this console user.
    pub fn by(user: &User) -> ChangedBy {
        ChangedBy {
            actor: Some(Actor {
                id: user.id.clone(),
                name: user.email.clone(),
            }),
            via: Via::Console,
        }
    }

    pub async fn items(store: &Store, account_id: &str) -> Result<Items, ServerFnError> {
        let of = |kind| store.items(account_id, kind);
        Ok(Items {
            statuses: of(ItemKind::Status).await.map_err(engine_error)?,
            flags: of(ItemKind::Flag).await.map_err(engine_error)?,
            sources: of(ItemKind::Source).await.map_err(engine_error)?,
            categories: of(ItemKind::Category).await.map_err(engine_error)?,
            users: of(ItemKind::User).await.map_err(engine_error)?,
        })
    }

    /// A contact that is not there, in words.
    pub fn missing(e: Error) -> ServerFnError {
        match e {
            Error::NotFound => status(
                http::StatusCode::NOT_FOUND,
                "That contact does not exist (or was deleted).",
            ),
            other => engine_error(other),
        }
    }

    /// Accepts the events a change wrote, through the engine.
    pub async fn emit(
        user: &User,
        outbox: Outbox,
    ) -> Result<Vec<engine::model::EmittedEvent>, ServerFnError> {
        let state = state()?;
        let account = state
            .store
            .account(&user.account_id)
            .await
            .map_err(engine_error)?;
        Ok(state.engine.emit(&account, outbox).await)
    }

    /// A change's events accepted, or its field errors for the form.
    pub async fn changed<T>(
        user: &User,
        id: impl FnOnce(&T) -> String,
        change: Result<(T, Outbox), Error>,
    ) -> Result<ContactChange, ServerFnError> {
        match change {
            Ok((record, outbox)) => Ok(ContactChange::Done {
                id: id(&record),
                events: emit(user, outbox).await?,
            }),
            Err(Error::Validation(errors)) => Ok(ContactChange::Invalid(errors)),
            Err(e) => Err(missing(e)),
        }
    }
}

/// The contacts list: a page of contacts matching the filters.
#[server(endpoint = "contacts", input = Json)]
pub async fn load_contacts(
    filter: ContactFilter,
    cursor: Option<String>,
) -> Result<ContactsView, ServerFnError> {
    use crate::api::ssr::{engine_error, require_user};
    let (store, user) = require_user().await?;
    let items = ssr::items(&store, &user.account_id).await?;
    let page = match store
        .list_contacts(
            &user.account_id,
            &filter,
            cursor.as_deref().filter(|c| !c.is_empty()),
            CONTACTS_PAGE,
        )
        .await
    {
        Ok(page) => Ok(page),
        Err(engine::store::Error::Validation(mut errors)) => Err(errors.remove(0)),
        Err(e) => return Err(engine_error(e)),
    };
    Ok(ContactsView { user, page, items })
}

/// A contact's page; `None` is the new-contact form, for admins only.
#[server(endpoint = "contact", input = Json)]
pub async fn load_contact(id: Option<String>) -> Result<ContactView, ServerFnError> {
    use crate::api::ssr::{engine_error, require_admin, require_user};
    let (store, user) = match id {
        Some(_) => require_user().await?,
        None => require_admin().await?,
    };
    let items = ssr::items(&store, &user.account_id).await?;
    let Some(id) = id else {
        return Ok(ContactView {
            user,
            contact: None,
            deliveries: Vec::new(),
            webhooks: Vec::new(),
            items,
        });
    };
    let contact = store
        .contact_detail(&user.account_id, &id)
        .await
        .map_err(ssr::missing)?;
    let filter = engine::store::DeliveryFilter {
        record: Some(id),
        limit: 10,
        ..Default::default()
    };
    let deliveries = store
        .list_deliveries(&user.account_id, &filter)
        .await
        .map_err(engine_error)?
        .data;
    let webhooks = store
        .webhook_titles(&user.account_id)
        .await
        .map_err(engine_error)?;
    Ok(ContactView {
        user,
        contact: Some(contact),
        deliveries,
        webhooks,
        items,
    })
}

/// Custom fields typed one per line as `name = value`.
pub fn parse_custom_fields(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, FieldError> {
    let mut fields = serde_json::Map::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(FieldError::new(
                "custom_fields",
                "invalid_line",
                format!("Line {}: write name = value.", n + 1),
            ));
        };
        fields.insert(
            name.trim().to_string(),
            serde_json::Value::String(value.trim().to_string()),
        );
    }
    Ok(fields)
}

/// Custom fields as the form shows them, one `name = value` per line.
pub fn custom_fields_text(fields: &serde_json::Map<String, serde_json::Value>) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k} = {}", engine::fields::to_text(Some(v))))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The contact form's save: one argument per form field, as the form
/// posts them (so it works without JavaScript).
mod form {
    #![allow(clippy::too_many_arguments)]
    use super::ContactChange;
    use leptos::prelude::*;

    /// Creates (no id; then opens the new contact's page) or saves a contact
    /// (`contact.saved`, with `changes`). Admins only.
    #[server(endpoint = "save_contact")]
    pub async fn save_contact(
        #[server(default)] id: Option<String>,
        #[server(default)] first_name: String,
        #[server(default)] last_name: String,
        #[server(default)] email: String,
        #[server(default)] phone: String,
        #[server(default)] street: String,
        #[server(default)] city: String,
        #[server(default)] region: String,
        #[server(default)] postcode: String,
        #[server(default)] country: String,
        #[server(default)] state: String,
        #[server(default)] source: String,
        #[server(default)] category: String,
        #[server(default)] external_id: String,
        #[server(default)] custom_fields: String,
    ) -> Result<ContactChange, ServerFnError> {
        use engine::model::{Address, ContactInput};
        let (store, user) = crate::api::ssr::require_admin().await?;
        let custom_fields = match super::parse_custom_fields(&custom_fields) {
            Ok(fields) => fields,
            Err(e) => return Ok(ContactChange::Invalid(vec![e])),
        };
        let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        let input = ContactInput {
            first_name,
            last_name,
            email: some(email),
            phone: some(phone),
            address: Address {
                street: some(street),
                city: some(city),
                state: some(region),
                postcode: some(postcode),
                country: some(country),
            },
            state: some(state),
            source: some(source),
            category: some(category),
            external_id: some(external_id),
            custom_fields,
        };
        let by = super::ssr::by(&user);
        match id.filter(|i| !i.is_empty()) {
            None => {
                let change = store.create_contact(&user.account_id, input, &by).await;
                let outcome =
                    super::ssr::changed(&user, |c: &engine::model::Contact| c.id.clone(), change)
                        .await?;
                if let ContactChange::Done { id, .. } = &outcome {
                    leptos_axum::redirect(&format!("/contacts/{id}"));
                }
                Ok(outcome)
            }
            Some(id) => {
                let change = store
                    .update_contact(&user.account_id, &id, input, &by)
                    .await;
                super::ssr::changed(&user, |c: &engine::model::Contact| c.id.clone(), change).await
            }
        }
    }
}
pub use form::{SaveContact, save_contact};

/// Deletes a contact (`contact.deleted`) and goes back to the list. Admins only.
#[server(endpoint = "delete_contact")]
pub async fn delete_contact(id: String) -> Result<(), ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let outbox = store
        .delete_contact(&user.account_id, &id, &ssr::by(&user))
        .await
        .map_err(ssr::missing)?;
    ssr::emit(&user, outbox).await?;
    leptos_axum::redirect("/contacts");
    Ok(())
}

/// Adds or removes a status or flag, or assigns or unassigns a user:
/// `change` is `add_status`, `remove_status`, `add_flag`, `remove_flag`,
/// `assign` or `unassign`; `value` the status, flag or user's id. Admins
/// only.
#[server(endpoint = "change_contact")]
pub async fn change_contact(
    id: String,
    change: String,
    #[server(default)] value: String,
) -> Result<ContactChange, ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let (account, by) = (&user.account_id, ssr::by(&user));
    let result = match change.as_str() {
        "add_status" => {
            store
                .add_label(account, &id, ItemKind::Status, &value, &by)
                .await
        }
        "remove_status" => {
            store
                .remove_label(account, &id, ItemKind::Status, &value, &by)
                .await
        }
        "add_flag" => {
            store
                .add_label(account, &id, ItemKind::Flag, &value, &by)
                .await
        }
        "remove_flag" => {
            store
                .remove_label(account, &id, ItemKind::Flag, &value, &by)
                .await
        }
        "assign" => store.assign(account, &id, &value, &by).await,
        "unassign" => store.unassign(account, &id, &value, &by).await,
        _ => {
            return Err(crate::api::ssr::status(
                http::StatusCode::BAD_REQUEST,
                "Unknown change.",
            ));
        }
    };
    ssr::changed(&user, |c: &engine::model::Contact| c.id.clone(), result).await
}

/// Adds a lead (`lead.created`). Admins only.
#[server(endpoint = "add_lead")]
pub async fn add_lead(
    id: String,
    lead_type: String,
    #[server(default)] source: String,
    #[server(default)] comments: String,
) -> Result<ContactChange, ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let Some(lead_type) = engine::model::LeadType::parse(&lead_type) else {
        return Ok(ContactChange::Invalid(vec![FieldError::new(
            "type",
            "invalid_type",
            "Choose call, chat, form or email.",
        )]));
    };
    let input = engine::model::LeadInput {
        lead_type,
        source: Some(source).filter(|s| !s.is_empty()),
        comments,
        details: Default::default(),
    };
    let result = store
        .add_lead(&user.account_id, &id, input, &ssr::by(&user))
        .await;
    ssr::changed(
        &user,
        |l: &engine::model::Lead| l.contact_id.clone(),
        result,
    )
    .await
}

/// Adds a to-do (`todo.created`); `due` is a date (`YYYY-MM-DD`) or empty.
/// Admins only.
#[server(endpoint = "add_todo")]
pub async fn add_todo(
    id: String,
    title: String,
    #[server(default)] due: String,
    #[server(default)] assigned_user_id: String,
) -> Result<ContactChange, ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let due_at = match due.trim() {
        "" => None,
        day => match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(date) => date.and_hms_opt(9, 0, 0).map(|t| t.and_utc()),
            Err(_) => {
                return Ok(ContactChange::Invalid(vec![FieldError::new(
                    "due_at",
                    "invalid_date",
                    "Give the due date as YYYY-MM-DD.",
                )]));
            }
        },
    };
    let input = engine::model::TodoInput {
        title,
        due_at,
        done: false,
        assigned_user_id: Some(assigned_user_id).filter(|s| !s.is_empty()),
    };
    let result = store
        .add_todo(&user.account_id, &id, input, &ssr::by(&user))
        .await;
    ssr::changed(
        &user,
        |t: &engine::model::Todo| t.contact_id.clone(),
        result,
    )
    .await
}

/// Marks a to-do done or not done (`todo.updated`), or deletes it
/// (`todo.deleted`): `change` is `done`, `undone` or `delete`. Admins only.
#[server(endpoint = "change_todo")]
pub async fn change_todo(
    id: String,
    todo_id: String,
    change: String,
) -> Result<ContactChange, ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let by = ssr::by(&user);
    let account = &user.account_id;
    let result = match change.as_str() {
        "done" | "undone" => {
            let todo = store
                .todo(account, &id, &todo_id)
                .await
                .map_err(ssr::missing)?;
            let input = engine::model::TodoInput {
                done: change == "done",
                ..todo.input()
            };
            store
                .update_todo(account, &id, &todo_id, input, &by)
                .await
                .map(|(_, outbox)| outbox)
        }
        "delete" => store.delete_todo(account, &id, &todo_id, &by).await,
        _ => {
            return Err(crate::api::ssr::status(
                http::StatusCode::BAD_REQUEST,
                "Unknown change.",
            ));
        }
    }
    .map(|outbox| (id.clone(), outbox));
    ssr::changed(&user, |id: &String| id.clone(), result).await
}

/// The settings page: the account and its items.
#[server(endpoint = "settings")]
pub async fn load_settings() -> Result<SettingsView, ServerFnError> {
    use crate::api::ssr::{engine_error, require_user};
    let (store, user) = require_user().await?;
    let account = store
        .account(&user.account_id)
        .await
        .map_err(engine_error)?;
    let items = ssr::items(&store, &user.account_id).await?;
    let custom_categories = store
        .items(&user.account_id, ItemKind::CustomCategory)
        .await
        .map_err(engine_error)?;
    Ok(SettingsView {
        user,
        account,
        items,
        custom_categories,
    })
}

/// Renames the account or sets its `external_ref`. Admins only.
#[server(endpoint = "save_account")]
pub async fn save_account(
    name: String,
    #[server(default)] external_ref: String,
) -> Result<Vec<FieldError>, ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let external_ref = Some(external_ref.as_str()).filter(|r| !r.trim().is_empty());
    match store
        .update_account(&user.account_id, &name, external_ref)
        .await
    {
        Ok(_) => Ok(Vec::new()),
        Err(engine::store::Error::Validation(errors)) => Ok(errors),
        Err(e) => Err(crate::api::ssr::not_found(
            e,
            "That setting does not exist (or was deleted).",
        )),
    }
}

/// Adds (no id) or changes a settings item of `kind` (`sources` …), or
/// deletes it (`delete` set). Admins only.
#[server(endpoint = "save_item")]
pub async fn save_item(
    kind: String,
    #[server(default)] id: String,
    #[server(default)] name: String,
    #[server(default)] company: String,
    #[server(default)] active: Option<String>,
    #[server(default)] delete: Option<String>,
) -> Result<Vec<FieldError>, ServerFnError> {
    let (store, user) = crate::api::ssr::require_admin().await?;
    let Some(kind) = ItemKind::from_plural(&kind) else {
        return Err(crate::api::ssr::status(
            http::StatusCode::BAD_REQUEST,
            "Unknown kind of setting.",
        ));
    };
    let by = ssr::by(&user);
    let input = engine::model::ItemInput {
        name,
        company: Some(company).filter(|c| !c.trim().is_empty()),
        email: None,
        active: active.is_some() || id.is_empty(),
    };
    let result = if delete.is_some() {
        store.delete_item(&user.account_id, kind, &id, &by).await
    } else if id.is_empty() {
        store
            .create_item(&user.account_id, kind, input, &by)
            .await
            .map(|(_, outbox)| outbox)
    } else {
        store
            .update_item(&user.account_id, kind, &id, input, &by)
            .await
            .map(|(_, outbox)| outbox)
    };
    match result {
        Ok(outbox) => {
            ssr::emit(&user, outbox).await?;
            Ok(Vec::new())
        }
        Err(engine::store::Error::Validation(errors)) => Ok(errors),
        Err(e) => Err(crate::api::ssr::not_found(
            e,
            "That setting does not exist (or was deleted).",
        )),
    }
}

/// The request a webhook would send for this contact, secrets masked:
/// shown before "execute webhook" sends it. Admins only.
#[server(endpoint = "execute_preview")]
pub async fn execute_preview(
    id: String,
    webhook_id: String,
) -> Result<engine::render::RenderedRequest, ServerFnError> {
    let (_, user) = crate::api::ssr::require_admin().await?;
    crate::api::ssr::state()?
        .engine
        .execute_preview(&user.account_id, &webhook_id, &id)
        .await
        .map_err(ssr::missing)
}

/// Runs a webhook on this contact now and says what the receiver
/// answered; recorded as a manual delivery. Admins only.
#[server(endpoint = "execute_webhook")]
pub async fn execute_webhook(
    id: String,
    webhook_id: String,
) -> Result<engine::model::TestSend, ServerFnError> {
    let (_, user) = crate::api::ssr::require_admin().await?;
    let actor = ssr::by(&user).actor;
    let sent = crate::api::ssr::state()?
        .engine
        .execute(&user.account_id, &webhook_id, &id, actor)
        .await
        .map_err(ssr::missing)?;
    tracing::info!(user = %user.id, contact = %id, webhook = %webhook_id, delivery = %sent.delivery_id, "webhook executed on a contact");
    Ok(sent)
}

/// The account's values the webhook form's ready-made filters offer.
#[server(endpoint = "filter_choices")]
pub async fn filter_choices() -> Result<engine::catalog::FilterChoices, ServerFnError> {
    let (store, user) = crate::api::ssr::require_user().await?;
    let items = ssr::items(&store, &user.account_id).await?;
    let names = |items: &[RecordItem]| -> Vec<String> {
        items
            .iter()
            .filter(|i| i.active)
            .map(|i| i.name.clone())
            .collect()
    };
    Ok(engine::catalog::FilterChoices {
        statuses: names(&items.statuses),
        flags: names(&items.flags),
        sources: names(&items.sources),
        users: items
            .users
            .iter()
            .filter(|i| i.active)
            .map(|i| (i.id.clone(), i.name.clone()))
            .collect(),
    })
}

/// The event types the account's programs sent beyond the built-in ones,
/// for the trigger picker, the field picker and the preview.
#[server(endpoint = "own_event_types")]
pub async fn own_event_types() -> Result<Vec<engine::catalog::OwnEventType>, ServerFnError> {
    let (store, user) = crate::api::ssr::require_user().await?;
    store
        .own_event_types(&user.account_id)
        .await
        .map_err(crate::api::ssr::engine_error)
}
