//! CRM records built in (PRODUCT.md section 4): contacts with their
//! statuses, flags and assigned users, leads, to-dos, and the account's
//! settings items, in the shapes of the REST API. An event a change emits
//! carries the record as serialized here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::DeliveryRef;

/// A contact's postal address; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postcode: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

/// A contact's own fields, as created and changed. Statuses, flags and
/// assigned users change through their own calls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// Stored trimmed and lower-cased; at most one contact per address.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Address,
    /// Where the contact stands, e.g. `active`.
    #[serde(default)]
    pub state: Option<String>,
    /// One of the account's sources, e.g. `Website`.
    #[serde(default)]
    pub source: Option<String>,
    /// One of the account's categories.
    #[serde(default)]
    pub category: Option<String>,
    /// The contact's id in another system; at most one contact per id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Any other fields: names to text, numbers, true/false or null.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: Map<String, Value>,
}

/// A user assigned to a contact: one of the account's users to assign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssignedUser {
    pub id: String,
    pub name: String,
    pub company: Option<String>,
}

/// A contact as the API answers and its events carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Address,
    pub state: Option<String>,
    pub source: Option<String>,
    pub category: Option<String>,
    pub external_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: Map<String, Value>,
    /// In the order they were added.
    pub statuses: Vec<String>,
    pub flags: Vec<String>,
    pub assigned_users: Vec<AssignedUser>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// The contact's own fields, as a change starts from them.
    pub fn input(&self) -> ContactInput {
        ContactInput {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            state: self.state.clone(),
            source: self.source.clone(),
            category: self.category.clone(),
            external_id: self.external_id.clone(),
            custom_fields: self.custom_fields.clone(),
        }
    }

    /// "Jane Doe", or the email, or the id.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name);
        let name = name.trim();
        if !name.is_empty() {
            name.to_string()
        } else {
            self.email.clone().unwrap_or_else(|| self.id.clone())
        }
    }
}

/// A page of contacts, newest first, and where to continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactPage {
    pub data: Vec<Contact>,
    pub next_cursor: Option<String>,
}

/// Which contacts a list, a mass post or a count takes: every filter given
/// must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactFilter {
    /// Words, each the start of a word of the name, email, email domain,
    /// phone digits or external id (any case); see `store::search`.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub flag: Option<String>,
    /// A user to assign's id.
    #[serde(default)]
    pub assigned_user: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl ContactFilter {
    /// The filters' names in a query string, in the list's order.
    const KEYS: [&'static str; 6] = ["q", "status", "flag", "assigned_user", "state", "source"];

    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        Some(match key {
            "q" => &mut self.q,
            "status" => &mut self.status,
            "flag" => &mut self.flag,
            "assigned_user" => &mut self.assigned_user,
            "state" => &mut self.state,
            "source" => &mut self.source,
            _ => return None,
        })
    }

    /// The filters given (not empty), as `(name, value)`.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let values = [
            &self.q,
            &self.status,
            &self.flag,
            &self.assigned_user,
            &self.state,
            &self.source,
        ];
        Self::KEYS
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
            .collect()
    }

    /// Whether it matches every contact.
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// The filters as a link's query string (`status=Sold&q=ann`).
    pub fn to_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            query.append_pair(k, v);
        }
        query.finish()
    }

    /// The filters in a query string; other names are left out, empty
    /// values count as not given.
    pub fn from_query(query: &str) -> Self {
        let mut filter = ContactFilter::default();
        for (k, v) in crate::reports::query_pairs(query) {
            if let Some(slot) = filter.slot(&k)
                && !v.is_empty()
            {
                *slot = Some(v);
            }
        }
        filter
    }
}

/// How a lead came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LeadType {
    Call,
    Chat,
    Form,
    Email,
}

impl LeadType {
    pub const ALL: [LeadType; 4] = [
        LeadType::Call,
        LeadType::Chat,
        LeadType::Form,
        LeadType::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadType::Call => "call",
            LeadType::Chat => "chat",
            LeadType::Form => "form",
            LeadType::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A new lead on a contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    #[serde(rename = "type")]
    pub lead_type: LeadType,
    /// One of the account's sources.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub comments: String,
    /// Whatever else the lead carried (e.g. the vehicle asked about).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lead {
    pub id: String,
    pub contact_id: String,
    #[serde(rename = "type")]
    pub lead_type: LeadType,
    /// True for the contact's first lead: someone new came in.
    pub contact_is_new: bool,
    pub source: Option<String>,
    pub comments: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Map<String, Value>,
    pub created_at: DateTime<Utc>,
}

/// A new to-do, or a to-do's fields as changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TodoInput {
    pub title: String,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub done: bool,
    /// A user to assign's id.
    #[serde(default)]
    pub assigned_user_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Todo {
    pub id: String,
    pub contact_id: String,
    pub title: String,
    pub due_at: Option<DateTime<Utc>>,
    pub done: bool,
    pub assigned_user: Option<AssignedUser>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Todo {
    pub fn input(&self) -> TodoInput {
        TodoInput {
            title: self.title.clone(),
            due_at: self.due_at,
            done: self.done,
            assigned_user_id: self.assigned_user.as_ref().map(|u| u.id.clone()),
        }
    }
}

/// A contact with everything on its page: leads and to-dos, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactDetail {
    #[serde(flatten)]
    pub contact: Contact,
    pub leads: Vec<Lead>,
    pub todos: Vec<Todo>,
}

/// The kinds of an account's settings items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Source,
    Category,
    CustomCategory,
    Flag,
    Status,
    /// A user contacts are assigned to (a salesperson), with their company.
    User,
}

impl ItemKind {
    pub const ALL: [ItemKind; 6] = [
        ItemKind::Source,
        ItemKind::Category,
        ItemKind::CustomCategory,
        ItemKind::Flag,
        ItemKind::Status,
        ItemKind::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Source => "source",
            ItemKind::Category => "category",
            ItemKind::CustomCategory => "custom_category",
            ItemKind::Flag => "flag",
            ItemKind::Status => "status",
            ItemKind::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The path segment of its API routes and settings page: `sources`.
    pub fn plural(self) -> &'static str {
        match self {
            ItemKind::Source => "sources",
            ItemKind::Category => "categories",
            ItemKind::CustomCategory => "custom_categories",
            ItemKind::Flag => "flags",
            ItemKind::Status => "statuses",
            ItemKind::User => "users",
        }
    }

    pub fn from_plural(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.plural() == s)
    }

    /// "Source", for messages and headings.
    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Source => "Source",
            ItemKind::Category => "Category",
            ItemKind::CustomCategory => "Custom category",
            ItemKind::Flag => "Flag",
            ItemKind::Status => "Status",
            ItemKind::User => "User to assign",
        }
    }

    /// Whether its changes emit events (`source.created` …): the settings
    /// items the catalog names.
    pub fn emits(self) -> bool {
        !matches!(self, ItemKind::Status | ItemKind::User)
    }
}

/// A settings item as created and changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub name: String,
    /// Users to assign: the company they work for.
    #[serde(default)]
    pub company: Option<String>,
    /// Users to assign: their email.
    #[serde(default)]
    pub email: Option<String>,
    /// An inactive item is kept on the contacts that have it but cannot be
    /// given to more.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordItem {
    pub id: String,
    pub kind: ItemKind,
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    pub active: bool,
}

impl RecordItem {
    pub fn input(&self) -> ItemInput {
        ItemInput {
            name: self.name.clone(),
            company: self.company.clone(),
            email: self.email.clone(),
            active: self.active,
        }
    }
}

/// A record after a change, with the deliveries its events made (inline
/// webhooks with their first outcome).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Saved<T> {
    #[serde(flatten)]
    pub record: T,
    /// The events this change emitted, each with its deliveries.
    pub events: Vec<EmittedEvent>,
}

/// One event a change emitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmittedEvent {
    /// The event's id; absent while it waits to be accepted (the engine
    /// was busy; it goes out within seconds).
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    pub deliveries: Vec<DeliveryRef>,
}

/// Who made a change, and through which door: the console's saves emit
/// `contact.saved`, the API's and imports' `contact.updated`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedBy {
    pub actor: Option<super::Actor>,
    pub via: Via,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Console,
    Api,
    Import,
}

impl ChangedBy {
    /// The event type of an update through this door.
    pub fn contact_changed(&self) -> &'static str {
        match self.via {
            Via::Console => "contact.saved",
            Via::Api | Via::Import => "contact.updated",
        }
    }
}

/// What changed between two JSON objects, key by key: `{"phone": {"from",
/// "to"}}`. Nested objects (the address, custom fields) list only their
/// changed keys: `{"address": {"from": {"city": "A"}, "to": {"city": "B"}}}`.
pub fn changes(before: &Value, after: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for key in keys {
        let (b, a) = (
            before.get(key).unwrap_or(&Value::Null),
            after.get(key).unwrap_or(&Value::Null),
        );
        if b == a {
            continue;
        }
        let (from, to) = match (b, a) {
            (Value::Object(bo), Value::Object(ao)) => {
                let inner = changes(b, a);
                let side = |o: &Map<String, Value>| {
                    Value::Object(
                        inner
                            .keys()
                            .map(|k| (k.clone(), o.get(k).cloned().unwrap_or(Value::Null)))
                            .collect(),
                    )
                };
                (side(bo), side(ao))
            }
            _ => (b.clone(), a.clone()),
        };
        out.insert(key.clone(), serde_json::json!({"from": from, "to": to}));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_name_each_changed_key_and_only_the_changed_parts_of_objects() {
        let before = json!({"phone": "1", "email": "a@x", "address": {"city": "A", "street": "S"}, "custom_fields": {}});
        let after = json!({"phone": "2", "email": "a@x", "address": {"city": "B", "street": "S"}, "custom_fields": {"tier": "gold"}});
        assert_eq!(
            Value::Object(changes(&before, &after)),
            json!({
                "phone": {"from": "1", "to": "2"},
                "address": {"from": {"city": "A"}, "to": {"city": "B"}},
                "custom_fields": {"from": {"tier": null}, "to": {"tier": "gold"}}
            })
        );
        assert!(changes(&before, &before).is_empty());
    }
}
