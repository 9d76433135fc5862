//! Which webhooks an event fires: a trigger names the event type, and each
//! of its filters must hold on the event's fields (all of them, "and").

use serde_json::Value;

use crate::fields::resolve;
use crate::model::{Event, Filter, FilterOp, Trigger, WebhookInput};

/// True when one of the webhook's triggers matches the event.
pub fn fires(webhook: &WebhookInput, event: &Event) -> bool {
    webhook.triggers.iter().any(|t| trigger_matches(t, event))
}

pub fn trigger_matches(trigger: &Trigger, event: &Event) -> bool {
    trigger.event_type == event.event_type && trigger.filters.iter().all(|f| filter_holds(f, event))
}

fn filter_holds(filter: &Filter, event: &Event) -> bool {
    let actual = resolve(event, filter.field.trim());
    match filter.op {
        FilterOp::Exists => actual.is_some_and(|v| !v.is_null()),
        FilterOp::Eq => actual.is_some_and(|v| same(&v, &filter.value)),
        FilterOp::In => match (&filter.value, actual) {
            (Value::Array(options), Some(v)) => options.iter().any(|o| same(&v, o)),
            _ => false,
        },
    }
}

/// Strings compare without regard to case or surrounding spaces ("Call" is
/// "call"); a list field matches when any of its items does; numbers and
/// booleans match their text too, since filters are typed as text.
fn same(actual: &Value, wanted: &Value) -> bool {
    match actual {
        Value::Array(items) => items.iter().any(|item| same(item, wanted)),
        Value::String(a) => match wanted {
            Value::String(w) => a.trim().eq_ignore_ascii_case(w.trim()),
            other => {
                let text = other.to_string();
                a.trim() == text
            }
        },
        Value::Null => wanted.is_null(),
        other => match wanted {
            Value::String(w) => {
                let text = other.to_string();
                text == w.trim()
            }
            w => other == w,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use serde_json::json;

    fn lead() -> Event {
        Catalog::builtin().sample("lead.created").unwrap()
    }

    fn trigger(event_type: &str, filters: Vec<Filter>) -> Trigger {
        Trigger {
            event_type: event_type.into(),
            filters,
        }
    }

    fn filter(field: &str, op: FilterOp, value: Value) -> Filter {
        Filter {
            field: field.into(),
            op,
            value,
        }
    }

    #[test]
    fn type_must_match() {
        assert!(trigger_matches(&trigger("lead.created", vec![]), &lead()));
        assert!(!trigger_matches(
            &trigger("contact.created", vec![]),
            &lead()
        ));
    }

    #[test]
    fn one_of_ignores_case_like_the_product_example() {
        let t = trigger(
            "lead.created",
            vec![filter(
                "lead.type",
                FilterOp::In,
                json!(["Call", "Chat", "Form", "Email"]),
            )],
        );
        assert!(trigger_matches(&t, &lead()));
        let t = trigger(
            "lead.created",
            vec![filter("lead.type", FilterOp::In, json!(["Chat"]))],
        );
        assert!(!trigger_matches(&t, &lead()));
    }

    #[test]
    fn equals_exists_lists_and_numbers() {
        let e = lead();
        let holds = |f: Filter| trigger_matches(&trigger("lead.created", vec![f]), &e);
        assert!(holds(filter(
            "contact.first_name",
            FilterOp::Eq,
            json!("jane")
        )));
        assert!(!holds(filter(
            "contact.first_name",
            FilterOp::Eq,
            json!("john")
        )));
        assert!(
            holds(filter("contact.statuses", FilterOp::Eq, json!("New"))),
            "any list item"
        );
        assert!(
            holds(filter("vehicle.year", FilterOp::Eq, json!("2023"))),
            "numbers as text"
        );
        assert!(holds(filter(
            "lead.contact_is_new",
            FilterOp::Eq,
            json!("true")
        )));
        assert!(holds(filter(
            "contact.email",
            FilterOp::Exists,
            Value::Null
        )));
        assert!(!holds(filter("contact.fax", FilterOp::Exists, Value::Null)));
        assert!(!holds(filter("contact.fax", FilterOp::Eq, json!(""))));
    }

    #[test]
    fn every_filter_must_hold() {
        let t = trigger(
            "lead.created",
            vec![
                filter("lead.type", FilterOp::Eq, json!("call")),
                filter("contact.first_name", FilterOp::Eq, json!("Someone else")),
            ],
        );
        assert!(!trigger_matches(&t, &lead()));
    }

    #[test]
    fn a_webhook_fires_when_any_trigger_matches() {
        let hook = WebhookInput {
            triggers: vec![
                trigger("contact.created", vec![]),
                trigger("lead.created", vec![]),
            ],
            ..WebhookInput::default()
        };
        assert!(fires(&hook, &lead()));
    }
}
