//! Triggers: real event types, each once, and filters on fields those
//! events have, with a value to compare with.

use super::is_event_type;
use crate::catalog::Catalog;
use crate::model::{FilterOp, WebhookInput};

pub(super) fn triggers(
    input: &WebhookInput,
    catalog: &Catalog,
    err: &mut impl FnMut(String, &str, String),
) {
    if input.triggers.is_empty() {
        err(
            "triggers".into(),
            "required",
            "Pick at least one event that triggers this webhook.".into(),
        );
    }
    let mut seen_types: Vec<&str> = Vec::new();
    for (i, t) in input.triggers.iter().enumerate() {
        let field = format!("triggers[{i}].event_type");
        if !is_event_type(&t.event_type) {
            err(
                field,
                "invalid_event_type",
                "An event type looks like noun.verb, e.g. contact.created.".into(),
            );
            continue;
        }
        if seen_types.contains(&t.event_type.as_str()) {
            err(
                field,
                "duplicate_trigger",
                format!("{} is already a trigger.", t.event_type),
            );
        }
        seen_types.push(&t.event_type);
        for (j, f) in t.filters.iter().enumerate() {
            let field = format!("triggers[{i}].filters[{j}].field");
            if !catalog.has_field(&t.event_type, f.field.trim()) {
                err(
                    field,
                    "unknown_field",
                    format!("{} events have no field {:?}.", t.event_type, f.field),
                );
            }
            let value_field = format!("triggers[{i}].filters[{j}].value");
            match f.op {
                FilterOp::Eq
                    if !f.value.is_string() && !f.value.is_number() && !f.value.is_boolean() =>
                {
                    err(
                        value_field,
                        "required",
                        "Enter the value to compare with.".into(),
                    )
                }
                FilterOp::In
                    if !f
                        .value
                        .as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(|v| !v.is_object())) =>
                {
                    err(
                        value_field,
                        "required",
                        "List at least one value, separated by commas.".into(),
                    )
                }
                _ => {}
            }
        }
    }
}
