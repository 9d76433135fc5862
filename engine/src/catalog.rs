//! The event catalog: every built-in event type (PRODUCT.md section 3), the
//! fields it carries, and a realistic sample record. It feeds the console's
//! trigger and field pickers, the live preview and the test send.
//!
//! The field list of a type is derived from its sample, so the picker can
//! never offer a field the preview cannot fill.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use crate::fields::ENVELOPE_ROOTS;
use crate::model::{AccountRef, Actor, Event, noun_of};

/// Nouns whose objects, nested in another record, are addressed by their own
/// name (`contact.first_name` inside a `lead.created`).
const NESTED_NOUNS: [&str; 6] = [
    "contact",
    "lead",
    "vehicle",
    "customer",
    "deal",
    "assigned_user",
];

#[derive(Clone, Debug, PartialEq)]
pub struct EventType {
    pub name: String,
    pub description: String,
    /// Sent by the account's own programs rather than built in.
    pub own: bool,
}

/// An event type an account's programs sent that is not built in, with
/// the data of the first such event as its sample.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OwnEventType {
    pub name: String,
    pub sample: Value,
    pub first_seen_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldInfo {
    pub path: String,
    /// The sample's value as text, shown beside the path in the picker.
    pub example: String,
}

/// The built-in event types and, for one account, the types its programs
/// sent beyond these (PRODUCT.md section 3). Any well-formed type is
/// accepted; the catalog is what the pickers offer.
#[derive(Debug)]
pub struct Catalog {
    types: Vec<EventType>,
    /// The sample data of each own type, by name.
    own_samples: std::collections::HashMap<String, Value>,
}

const TYPES: &[(&str, &str)] = &[
    ("contact.created", "A contact was created"),
    (
        "contact.updated",
        "A contact was changed by a secondary source (import, API)",
    ),
    ("contact.saved", "A contact was saved in the console"),
    ("contact.deleted", "A contact was deleted"),
    ("contact.status_added", "A status was added to a contact"),
    (
        "contact.status_removed",
        "A status was removed from a contact",
    ),
    ("contact.flag_added", "A flag was added to a contact"),
    ("contact.flag_removed", "A flag was removed from a contact"),
    ("contact.assigned", "A user was assigned to a contact"),
    ("lead.created", "A lead came in (call, chat, form or email)"),
    ("todo.created", "A to-do was created"),
    ("todo.updated", "A to-do was changed"),
    ("todo.deleted", "A to-do was deleted"),
    (
        "workflow.disposition_changed",
        "A contact's disposition changed",
    ),
    ("source.created", "A lead source was created"),
    ("source.updated", "A lead source was changed"),
    ("source.deleted", "A lead source was deleted"),
    ("category.created", "A category was created"),
    ("category.updated", "A category was changed"),
    ("category.deleted", "A category was deleted"),
    ("custom_category.created", "A custom category was created"),
    ("custom_category.updated", "A custom category was changed"),
    ("custom_category.deleted", "A custom category was deleted"),
    ("flag.created", "A flag was created"),
    ("flag.updated", "A flag was changed"),
    ("flag.deleted", "A flag was deleted"),
    ("vehicle.added", "A vehicle was added to stock"),
    ("vehicle.status_changed", "A vehicle's status changed"),
    ("vehicle.sold", "A vehicle was sold"),
    ("deal.enquiry_created", "An enquiry was opened for a deal"),
    ("deal.created", "A deal was created"),
    ("deal.status_changed", "A deal's status changed"),
    ("deal.completed", "A deal was completed"),
    ("job.created", "A workshop job was created"),
    ("job.invoiced", "A workshop job was invoiced"),
    ("job.completed", "A workshop job was completed"),
    ("customer.created", "A dealer customer was created"),
    ("customer.updated", "A dealer customer was changed"),
    ("webhook.test", "The sample a test send uses"),
    (
        "webhook.disabled",
        "A webhook was turned off because its receiver kept failing",
    ),
];

impl Catalog {
    pub fn builtin() -> Self {
        Catalog {
            types: TYPES
                .iter()
                .map(|&(name, description)| EventType {
                    name: name.into(),
                    description: description.into(),
                    own: false,
                })
                .collect(),
            own_samples: Default::default(),
        }
    }

    /// The built-in types followed by an account's own, oldest first.
    pub fn with_own(own: Vec<OwnEventType>) -> Self {
        let mut catalog = Catalog::builtin();
        for t in own {
            if catalog.contains(&t.name) {
                continue;
            }
            catalog.types.push(EventType {
                description: format!(
                    "Sent by your programs, first on {}",
                    t.first_seen_at.format("%-d %b %Y")
                ),
                name: t.name.clone(),
                own: true,
            });
            catalog.own_samples.insert(t.name, t.sample);
        }
        catalog
    }

    pub fn types(&self) -> &[EventType] {
        &self.types
    }

    pub fn contains(&self, event_type: &str) -> bool {
        self.types.iter().any(|t| t.name == event_type)
    }

    /// Whether a type is one of the built-in ones.
    pub fn is_builtin(event_type: &str) -> bool {
        TYPES.iter().any(|&(name, _)| name == event_type)
    }

    /// A sample event of a type: a realistic record for a built-in type,
    /// the first event's data for an account's own.
    pub fn sample(&self, event_type: &str) -> Option<Event> {
        if Catalog::is_builtin(event_type) {
            return Some(sample_event(event_type));
        }
        let data = self.own_samples.get(event_type)?;
        let data = data.as_object().cloned().unwrap_or_default();
        Some(event_of(event_type, data))
    }

    /// The fields an event type carries, envelope first.
    pub fn fields(&self, event_type: &str) -> Option<Vec<FieldInfo>> {
        let event = self.sample(event_type)?;
        let mut fields = vec![
            field("event.id", &event.id),
            field("event.type", &event.event_type),
            field("event.occurred_at", &event.occurred_at.to_rfc3339()),
            field("account.id", &event.account.id),
            field("account.name", &event.account.name),
            field(
                "account.external_ref",
                event.account.external_ref.as_deref().unwrap_or(""),
            ),
            field("actor.id", "u_7"),
            field("actor.name", "Sam Seller"),
        ];
        let noun = event.noun().to_string();
        if let Value::Object(map) = &event.data {
            for (key, value) in map {
                let prefix = if value.is_object() && NESTED_NOUNS.contains(&key.as_str()) {
                    key.clone()
                } else {
                    format!("{noun}.{key}")
                };
                flatten(&prefix, value, &mut fields);
            }
        }
        Some(fields)
    }

    /// Whether a field path is one an event of this type carries. Types
    /// not built in (sent by the API) may carry anything: one event's
    /// data does not bound the next one's.
    pub fn has_field(&self, event_type: &str, path: &str) -> bool {
        if !Catalog::is_builtin(event_type) {
            return is_plausible_path(path);
        }
        self.fields(event_type).is_some_and(|fields| {
            fields
                .iter()
                .any(|f| f.path == path || is_inside(&f.path, path))
        })
    }
}

/// The account's own values a trigger's ready-made filters offer.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilterChoices {
    pub statuses: Vec<String>,
    pub flags: Vec<String>,
    pub sources: Vec<String>,
    /// Users to assign: id and name.
    pub users: Vec<(String, String)>,
}

/// A filter for a common case, with the words the picker shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadyFilter {
    pub label: String,
    pub filter: crate::model::Filter,
}

/// The common filters of an event type, with the account's own values
/// (PRODUCT.md section 2): lead type is call / chat / form / email, the
/// contact is new or existing, status added is one of the account's
/// statuses, assigned user is one of its users or the first from the
/// company, and the like. Each names a field the type carries.
pub fn ready_filters(event_type: &str, choices: &FilterChoices) -> Vec<ReadyFilter> {
    use crate::model::{Filter, FilterOp};
    let eq = |label: String, field: &str, value: Value| ReadyFilter {
        label,
        filter: Filter {
            field: field.into(),
            op: FilterOp::Eq,
            value,
        },
    };
    let mut out = Vec::new();
    match event_type {
        "lead.created" => {
            for t in ["call", "chat", "form", "email"] {
                out.push(eq(format!("Lead type is {t}"), "lead.type", json!(t)));
            }
            out.push(eq(
                "The contact is new".into(),
                "lead.contact_is_new",
                json!("true"),
            ));
            out.push(eq(
                "The contact is existing".into(),
                "lead.contact_is_new",
                json!("false"),
            ));
            for s in &choices.sources {
                out.push(eq(format!("Lead source is {s}"), "lead.source", json!(s)));
            }
        }
        "contact.status_added"
        | "contact.status_removed"
        | "contact.flag_added"
        | "contact.flag_removed" => {
            let (noun, field, values) = if event_type.contains("status") {
                ("Status", "contact.status", &choices.statuses)
            } else {
                ("Flag", "contact.flag", &choices.flags)
            };
            let verb = if event_type.ends_with("added") {
                "added"
            } else {
                "removed"
            };
            for v in values {
                out.push(eq(format!("{noun} {verb} is {v}"), field, json!(v)));
            }
        }
        "contact.assigned" => {
            out.push(eq(
                "Assigned user is the first from the company".into(),
                "assigned_user.first_from_company",
                json!("true"),
            ));
            for (id, name) in &choices.users {
                out.push(eq(
                    format!("Assigned user is {name}"),
                    "assigned_user.id",
                    json!(id),
                ));
            }
        }
        _ => {}
    }
    if event_type.starts_with("contact.") {
        for s in &choices.statuses {
            out.push(eq(
                format!("The contact has the status {s}"),
                "contact.statuses",
                json!(s),
            ));
        }
        for s in &choices.sources {
            out.push(eq(
                format!("The contact's source is {s}"),
                "contact.source",
                json!(s),
            ));
        }
    }
    out
}

/// `contact.address` names an object whose leaves are in the list.
fn is_inside(leaf: &str, path: &str) -> bool {
    leaf.strip_prefix(path)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// A dotted path of non-empty segments without spaces or braces.
pub fn is_plausible_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('.')
            .all(|s| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || "{}".contains(c)))
}

fn field(path: &str, example: &str) -> FieldInfo {
    FieldInfo {
        path: path.to_string(),
        example: example.to_string(),
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<FieldInfo>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                flatten(&format!("{prefix}.{key}"), inner, out);
            }
        }
        other => out.push(field(prefix, &crate::fields::to_text(Some(other)))),
    }
}

/// True when the first segment of a path is one every event has.
pub fn is_envelope_path(path: &str) -> bool {
    ENVELOPE_ROOTS.contains(&path.split('.').next().unwrap_or(""))
}

fn sample_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

pub fn sample_account() -> AccountRef {
    AccountRef {
        id: "acc_demo".into(),
        name: "Springfield Motors".into(),
        external_ref: Some("DEALER-42".into()),
    }
}

fn contact() -> Value {
    json!({
        "id": "c_1001",
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 555 0100",
        "address": {
            "street": "742 Evergreen Terrace",
            "city": "Springfield",
            "state": "IL",
            "postcode": "62704",
            "country": "US"
        },
        "state": "active",
        "source": "Website",
        "category": "Sales",
        "external_id": "crm-1001",
        "custom_fields": {"preferred_time": "Morning"},
        "statuses": ["New"],
        "flags": ["VIP"],
        "assigned_users": [{"id": "u_7", "name": "Sam Seller", "company": "Springfield Motors"}],
        "created_at": "2026-11-20T09:30:00Z",
        "updated_at": "2026-11-22T10:00:00Z"
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(base_map), Value::Object(extra_map)) = (&mut base, extra) {
        base_map.extend(extra_map);
    }
    base
}

fn vehicle() -> Value {
    json!({
        "id": "v_88",
        "vin": "1HGCM82633A004352",
        "stock_number": "S1234",
        "year": 2023,
        "make": "Honda",
        "model": "Accord",
        "trim": "EX-L",
        "condition": "used",
        "status": "in_stock",
        "price": 27995
    })
}

fn customer() -> Value {
    json!({
        "id": "cu_500",
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 555 0100"
    })
}

fn sample_data(event_type: &str) -> Value {
    let noun = noun_of(event_type);
    let verb = event_type.split_once('.').map(|(_, v)| v).unwrap_or("");
    match (noun, verb) {
        ("contact", "updated") | ("contact", "saved") => with(
            contact(),
            json!({"changes": {"phone": {"from": "+1 555 0199", "to": "+1 555 0100"}}}),
        ),
        ("contact", "status_added") | ("contact", "status_removed") => {
            with(contact(), json!({"status": "Thank You Note"}))
        }
        ("contact", "flag_added") | ("contact", "flag_removed") => {
            with(contact(), json!({"flag": "VIP"}))
        }
        ("contact", "assigned") => with(
            contact(),
            json!({"assigned_user": {"id": "u_9", "name": "Jane Manager", "company": "Springfield Motors", "first_from_company": true}}),
        ),
        ("contact", _) => contact(),
        ("lead", _) => json!({
            "id": "l_2001",
            "contact_id": "c_1001",
            "type": "call",
            "contact_is_new": true,
            "source": "Website",
            "comments": "Interested in a test drive on Saturday",
            "details": {"preferred_day": "Saturday"},
            "created_at": "2026-11-22T10:00:00Z",
            "contact": contact(),
            "vehicle": vehicle()
        }),
        ("todo", "updated") => json!({
            "id": "t_301", "title": "Call back about trade-in", "due_at": "2026-11-24T15:00:00Z",
            "done": true, "contact_id": "c_1001", "assigned_user": {"id": "u_7", "name": "Sam Seller"},
            "changes": {"done": {"from": false, "to": true}}
        }),
        ("todo", _) => json!({
            "id": "t_301", "title": "Call back about trade-in", "due_at": "2026-11-24T15:00:00Z",
            "done": false, "contact_id": "c_1001", "assigned_user": {"id": "u_7", "name": "Sam Seller"}
        }),
        ("workflow", _) => json!({
            "contact_id": "c_1001",
            "disposition": {"from": "New", "to": "Appointment set"},
            "contact": contact()
        }),
        ("source" | "category" | "custom_category" | "flag", _) => json!({
            "id": format!("{noun}_12"),
            "name": match noun { "source" => "Website", "flag" => "VIP", _ => "Service" },
            "active": true
        }),
        ("vehicle", "status_changed") => with(
            vehicle(),
            json!({"changes": {"status": {"from": "in_stock", "to": "reserved"}}}),
        ),
        ("vehicle", "sold") => with(
            vehicle(),
            json!({"status": "sold", "sold_at": "2026-11-22T09:45:00Z", "customer": customer()}),
        ),
        ("vehicle", _) => vehicle(),
        ("deal", verb) => json!({
            "id": "d_640",
            "stage": verb,
            "status": if verb == "completed" { "won" } else { "open" },
            "amount": 27995,
            "customer": customer(),
            "vehicle": vehicle()
        }),
        ("job", verb) => json!({
            "id": "j_77", "number": "WS-1077", "description": "Annual service",
            "status": verb, "total": 349.5, "customer": customer(), "vehicle": vehicle()
        }),
        ("customer", _) => customer(),
        ("webhook", "disabled") => json!({
            "id": "wh_8f2k1m",
            "title": "Dialer queue",
            "reason": "Turned off automatically: 100 deliveries in a row were given up.",
            "disabled_at": "2026-11-22T09:45:00Z"
        }),
        _ => json!({"message": "This is a test event from Postback", "contact": contact()}),
    }
}

fn sample_event(event_type: &str) -> Event {
    Event {
        id: "evt_sample000000000001".into(),
        event_type: event_type.to_string(),
        account: sample_account(),
        occurred_at: sample_time(),
        actor: Some(Actor {
            id: "u_7".into(),
            name: "Sam Seller".into(),
        }),
        data: sample_data(event_type),
    }
}

/// Builds an event of any type from a record, for types outside the catalog.
pub fn event_of(event_type: &str, data: Map<String, Value>) -> Event {
    Event {
        data: Value::Object(data),
        ..sample_event(event_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::resolve;

    #[test]
    fn every_built_in_type_has_a_sample_and_every_field_resolves_in_it() {
        let catalog = Catalog::builtin();
        for t in catalog.types() {
            let event = catalog.sample(&t.name).unwrap();
            assert_eq!(event.event_type, t.name);
            let fields = catalog.fields(&t.name).unwrap();
            assert!(fields.len() > 8, "{} has only envelope fields", t.name);
            for f in fields {
                assert!(
                    resolve(&event, &f.path).is_some(),
                    "{} does not resolve in {}",
                    f.path,
                    t.name
                );
            }
        }
    }

    #[test]
    fn ready_filters_offer_the_accounts_values_on_fields_the_type_carries() {
        let catalog = Catalog::builtin();
        let choices = FilterChoices {
            statuses: vec!["Thank You Note".into(), "Sold".into()],
            flags: vec!["VIP".into()],
            sources: vec!["Website".into()],
            users: vec![("itm_1".into(), "Jane".into())],
        };
        let labels = |t: &str| -> Vec<String> {
            ready_filters(t, &choices)
                .into_iter()
                .map(|r| r.label)
                .collect()
        };
        assert!(labels("lead.created").contains(&"Lead type is chat".to_string()));
        assert!(labels("lead.created").contains(&"The contact is new".to_string()));
        assert!(
            labels("contact.status_added").contains(&"Status added is Thank You Note".to_string())
        );
        assert!(labels("contact.assigned").contains(&"Assigned user is Jane".to_string()));
        assert!(
            labels("contact.assigned")
                .contains(&"Assigned user is the first from the company".to_string())
        );
        assert!(labels("deal.created").is_empty());
        for t in catalog.types() {
            for ready in ready_filters(&t.name, &choices) {
                assert!(
                    catalog.has_field(&t.name, &ready.filter.field),
                    "{}: {} has no {}",
                    ready.label,
                    t.name,
                    ready.filter.field
                );
                // Each picks the sample's own value when it is the sample's.
                let sample = catalog.sample(&t.name).unwrap();
                assert!(crate::fields::resolve(&sample, &ready.filter.field).is_some());
            }
        }
        // The new-contact pick matches a lead of a new contact.
        let new = ready_filters("lead.created", &choices)
            .into_iter()
            .find(|r| r.label == "The contact is new")
            .unwrap();
        let trigger = crate::model::Trigger {
            event_type: "lead.created".into(),
            filters: vec![new.filter],
        };
        assert!(crate::matching::trigger_matches(
            &trigger,
            &catalog.sample("lead.created").unwrap()
        ));
    }

    #[test]
    fn product_named_fields_exist() {
        let c = Catalog::builtin();
        assert!(c.has_field("contact.created", "contact.first_name"));
        assert!(c.has_field("lead.created", "lead.type"));
        assert!(c.has_field("lead.created", "contact.email"));
        assert!(c.has_field("lead.created", "account.external_ref"));
        assert!(c.has_field("contact.status_added", "contact.status"));
        assert!(c.has_field("contact.assigned", "assigned_user.first_from_company"));
        assert!(c.has_field("contact.created", "contact.address"));
        assert!(!c.has_field("contact.created", "contact.shoe_size"));
        assert!(!c.has_field("contact.created", "lead.type"));
        // Types from the API are open.
        assert!(c.has_field("invoice.paid", "invoice.total"));
        assert!(!c.has_field("invoice.paid", "invoice total"));
    }

    #[test]
    fn an_accounts_own_type_joins_with_its_first_events_fields() {
        let own = OwnEventType {
            name: "invoice.paid".into(),
            sample: json!({"id": "inv_9", "total": 120.5, "customer": {"name": "Ann"}}),
            first_seen_at: sample_time(),
        };
        // A built-in name among the own types is not listed twice.
        let shadow = OwnEventType {
            name: "contact.created".into(),
            ..own.clone()
        };
        let c = Catalog::with_own(vec![own, shadow]);
        let names: Vec<&str> = c.types().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.iter().filter(|n| **n == "contact.created").count(), 1);
        assert_eq!(names.last(), Some(&"invoice.paid"));
        let invoice = c.types().last().unwrap();
        assert!(invoice.own);
        assert_eq!(
            invoice.description,
            "Sent by your programs, first on 22 Nov 2026"
        );
        let paths: Vec<String> = c
            .fields("invoice.paid")
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert!(paths.contains(&"invoice.total".to_string()), "{paths:?}");
        assert!(paths.contains(&"customer.name".to_string()), "{paths:?}");
        assert_eq!(c.sample("invoice.paid").unwrap().data["id"], "inv_9");
        // The built-in sample still wins for a built-in name.
        assert_eq!(c.sample("contact.created").unwrap().data["id"], "c_1001");
        // One event's fields do not bound the next one's.
        assert!(c.has_field("invoice.paid", "invoice.due_date"));
    }
}
