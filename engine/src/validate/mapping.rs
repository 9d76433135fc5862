//! The key/value mapping: unique keys, and fields and templates that the
//! triggers' events have.

use crate::catalog::{Catalog, is_envelope_path, is_plausible_path};
use crate::fields::TemplateError;
use crate::model::{MappingValue, WebhookInput};
use crate::render::template_fields;

pub(super) fn mapping(
    input: &WebhookInput,
    catalog: &Catalog,
    err: &mut impl FnMut(String, &str, String),
) {
    let types: Vec<&str> = input
        .triggers
        .iter()
        .map(|t| t.event_type.as_str())
        .collect();
    let known = |path: &str| {
        is_envelope_path(path) && catalog.has_field("webhook.test", path)
            || types.iter().any(|t| catalog.has_field(t, path))
    };
    let mut seen_keys: Vec<&str> = Vec::new();
    for (i, row) in input.mapping.iter().enumerate() {
        let key_field = format!("mapping[{i}].key");
        if row.key.trim().is_empty() {
            err(
                key_field,
                "required",
                "Enter the key to send this value as.".into(),
            );
        } else if seen_keys.contains(&row.key.as_str()) {
            err(
                key_field,
                "duplicate_key",
                format!("The key {:?} is already used above.", row.key),
            );
        } else if row.key.contains(['\r', '\n']) {
            err(
                key_field,
                "invalid_key",
                "A key cannot contain a line break.".into(),
            );
        }
        seen_keys.push(&row.key);
        let value_field = format!("mapping[{i}].value");
        match &row.value {
            MappingValue::Field(path) => {
                let path = path.trim();
                if path.is_empty() {
                    err(value_field, "required", "Pick the field to send.".into());
                } else if !is_plausible_path(path) || (!types.is_empty() && !known(path)) {
                    err(
                        value_field,
                        "unknown_field",
                        format!("The triggers' events have no field {path:?}."),
                    );
                }
            }
            MappingValue::Constant(_) => {}
            MappingValue::Template(text) => match template_fields(text) {
                Err(e) => err(value_field, "invalid_template", template_message(&e)),
                Ok(paths) => {
                    if let Some(bad) = paths.iter().find(|p| !types.is_empty() && !known(p)) {
                        err(
                            value_field,
                            "unknown_field",
                            format!("Unknown field {{{bad}}} in the template."),
                        );
                    }
                }
            },
        }
    }
}

fn template_message(e: &TemplateError) -> String {
    format!("The template is not valid: {e}.")
}
