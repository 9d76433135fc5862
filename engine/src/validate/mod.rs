//! Webhook validation: every rule the console and the API enforce, each
//! failure tied to the field it belongs to so the form can show it there.
//! Field names follow the API's JSON paths: `url`, `headers[1].value`,
//! `mapping[0].key`, `triggers[0].filters[2].field`. An incoming event's
//! own checks ([`check_event`]) live here too.
//!
//! # Layout
//! One file per part of the webhook form, in its order: `address` (title,
//! URL, port), `headers` (authentication, extra headers), `triggers`,
//! `mapping`, `delivery` (format, method, timeout, retries).

mod address;
mod delivery;
mod headers;
mod mapping;
pub mod records;
mod triggers;

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::model::{NewEvent, WebhookInput};

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The API's JSON path of the field, e.g. `mapping[2].key`.
    pub field: String,
    /// A stable machine-readable code, e.g. `invalid_url`.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ValidateOptions {
    /// Production setting: reject plain `http://` payload URLs.
    pub https_only: bool,
}

pub const MAX_TITLE: usize = 200;
pub const MAX_URL: usize = 2048;
pub const MAX_TIMEOUT_MS: u32 = 60_000;
pub const MAX_ATTEMPTS: u32 = 50;

/// Checks a webhook; an empty list means it may be saved. Title uniqueness
/// needs the store and is checked there.
pub fn validate_webhook(
    input: &WebhookInput,
    catalog: &Catalog,
    options: ValidateOptions,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |field: String, code: &str, message: String| {
        errors.push(FieldError::new(field, code, message))
    };
    address::title(input, &mut err);
    address::url_and_port(input, options, &mut err);
    headers::authentication(input, &mut err);
    headers::extra_headers(input, &mut err);
    triggers::triggers(input, catalog, &mut err);
    mapping::mapping(input, catalog, &mut err);
    delivery::format_method_and_delivery(input, &mut err);
    if let Ok(value) = serde_json::to_value(input) {
        for field in nul_fields(&value, "") {
            if !errors.iter().any(|e| e.field == field) {
                let message = nul_message(&field);
                errors.push(FieldError::new(field, "invalid_text", message));
            }
        }
    }
    errors
}

/// The paths (`headers[1].value`) of the strings in `value` holding a NUL
/// character, which the databases' text columns cannot keep.
pub(crate) fn nul_fields(value: &serde_json::Value, path: &str) -> Vec<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => vec![path.to_string()],
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(n, v)| nul_fields(v, &format!("{path}[{n}]")))
            .collect(),
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(k, v)| {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                nul_fields(v, &path)
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn nul_message(field: &str) -> String {
    format!("{field} holds a NUL character (\\u0000), which cannot be stored as text.")
}

/// `noun.verb`, lower-case letters, digits and underscores.
pub fn is_event_type(s: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    matches!(s.split_once('.'), Some((noun, verb)) if ok(noun) && ok(verb))
}

pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Checks an incoming event; errors name the JSON field.
pub fn check_event(event: &NewEvent) -> Result<(), FieldError> {
    if !is_event_type(&event.event_type) {
        return Err(FieldError::new(
            "type",
            "invalid_event_type",
            "An event type looks like noun.verb in lower case, e.g. contact.created.",
        ));
    }
    if !event.data.is_object() {
        return Err(FieldError::new(
            "data",
            "invalid_data",
            "data must be a JSON object: the record.",
        ));
    }
    if let Some(key) = &event.idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY)
    {
        return Err(FieldError::new(
            "idempotency_key",
            "invalid_idempotency_key",
            format!("An idempotency key has 1 to {MAX_IDEMPOTENCY_KEY} characters."),
        ));
    }
    if event
        .idempotency_key
        .as_ref()
        .is_some_and(|k| k.contains('\0'))
    {
        return Err(FieldError::new(
            "idempotency_key",
            "invalid_text",
            nul_message("idempotency_key"),
        ));
    }
    // The record's id and name are kept as text beside the event.
    for path in crate::reports::RECORD_FIELDS {
        let value = path.split('.').try_fold(&event.data, |v, key| v.get(key));
        if let Some(value) = value
            && let Some(field) = nul_fields(value, &format!("data.{path}")).pop()
        {
            return Err(FieldError::new(&field, "invalid_text", nul_message(&field)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Auth, Filter, FilterOp, Format, Header, MappingRow, MappingValue, Method, Trigger,
    };

    fn valid() -> WebhookInput {
        WebhookInput {
            title: "Dialer".into(),
            url: "https://example.com/hook".into(),
            triggers: vec![Trigger {
                event_type: "lead.created".into(),
                filters: vec![],
            }],
            mapping: vec![MappingRow {
                key: "First Name".into(),
                value: MappingValue::Field("contact.first_name".into()),
            }],
            ..WebhookInput::default()
        }
    }

    fn fields(input: &WebhookInput) -> Vec<(String, String)> {
        validate_webhook(input, &Catalog::builtin(), ValidateOptions::default())
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn one(field: &str, code: &str) -> Vec<(String, String)> {
        vec![(field.into(), code.into())]
    }

    #[test]
    fn a_complete_webhook_is_valid() {
        assert_eq!(fields(&valid()), vec![]);
    }

    #[test]
    fn urls() {
        for (url, code) in [
            ("", "required"),
            ("example.com/hook", "invalid_url"),
            ("ftp://example.com/x", "invalid_url"),
            ("https://user:pw@example.com/", "invalid_url"),
            ("http://", "invalid_url"),
            ("https://example.com/#frag", "invalid_url"),
        ] {
            let mut w = valid();
            w.url = url.into();
            assert_eq!(fields(&w), one("url", code), "{url}");
        }
        let mut w = valid();
        w.url = "http://example.com".into();
        let errs = validate_webhook(
            &w,
            &Catalog::builtin(),
            ValidateOptions { https_only: true },
        );
        assert_eq!(errs[0].code, "https_required");
    }

    #[test]
    fn port_must_agree_with_the_url() {
        let mut w = valid();
        w.url = "https://example.com:8443/hook".into();
        w.port = Some(9000);
        assert_eq!(fields(&w), one("port", "port_conflict"));
        w.port = Some(8443);
        assert_eq!(fields(&w), vec![]);
        w.url = "https://example.com/hook".into();
        w.port = Some(0);
        assert_eq!(fields(&w), one("port", "invalid_port"));
    }

    #[test]
    fn headers_reject_line_breaks_bad_names_and_reserved_ones() {
        let mut w = valid();
        w.headers = vec![Header {
            name: "X-Ok".into(),
            value: "a\r\nInjected: yes".into(),
        }];
        assert_eq!(fields(&w), one("headers[0].value", "invalid_header"));
        w.headers = vec![Header {
            name: "Bad Name".into(),
            value: "v".into(),
        }];
        assert_eq!(fields(&w), one("headers[0].name", "invalid_header"));
        w.headers = vec![Header {
            name: "Webhook-Signature".into(),
            value: "v".into(),
        }];
        assert_eq!(fields(&w), one("headers[0].name", "reserved_header"));
        w.auth = Auth::Header {
            name: "X-Api-Key\n".into(),
            value: "k".into(),
        };
        w.headers = vec![];
        assert_eq!(fields(&w), one("auth.name", "invalid_header"));
        w.auth = Auth::Header {
            name: "X-Api-Key".into(),
            value: String::new(),
        };
        assert_eq!(fields(&w), one("auth.value", "required"));
        w.auth = Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        w.headers = vec![Header {
            name: "authorization".into(),
            value: "x".into(),
        }];
        assert_eq!(fields(&w), one("headers[0].name", "duplicate_header"));
    }

    #[test]
    fn mapping_keys_must_be_present_and_unique_but_are_verbatim() {
        let mut w = valid();
        let row = |key: &str| MappingRow {
            key: key.into(),
            value: MappingValue::Constant("c".into()),
        };
        w.mapping = vec![row("a"), row(" "), row("a"), row("A"), row(" a ")];
        assert_eq!(
            fields(&w),
            vec![
                ("mapping[1].key".into(), "required".into()),
                ("mapping[2].key".into(), "duplicate_key".into())
            ]
        );
    }

    #[test]
    fn mapping_values_must_name_fields_the_triggers_carry() {
        let mut w = valid();
        w.mapping = vec![
            MappingRow {
                key: "a".into(),
                value: MappingValue::Field("contact.shoe_size".into()),
            },
            MappingRow {
                key: "b".into(),
                value: MappingValue::Template("{account.id}-{contact.nope}".into()),
            },
            MappingRow {
                key: "c".into(),
                value: MappingValue::Template("{contact.id".into()),
            },
            MappingRow {
                key: "d".into(),
                value: MappingValue::Template("{account.id}-{contact.id}".into()),
            },
            MappingRow {
                key: "e".into(),
                value: MappingValue::Field("".into()),
            },
        ];
        assert_eq!(
            fields(&w),
            vec![
                ("mapping[0].value".into(), "unknown_field".into()),
                ("mapping[1].value".into(), "unknown_field".into()),
                ("mapping[2].value".into(), "invalid_template".into()),
                ("mapping[4].value".into(), "required".into()),
            ]
        );
    }

    #[test]
    fn triggers_and_filters() {
        let mut w = valid();
        w.triggers = vec![];
        w.mapping = vec![];
        assert_eq!(fields(&w), one("triggers", "required"));
        w.triggers = vec![Trigger {
            event_type: "lead.created".into(),
            filters: vec![
                Filter {
                    field: "lead.type".into(),
                    op: FilterOp::In,
                    value: serde_json::json!(["call", "chat"]),
                },
                Filter {
                    field: "lead.colour".into(),
                    op: FilterOp::Exists,
                    value: serde_json::Value::Null,
                },
                Filter {
                    field: "lead.type".into(),
                    op: FilterOp::In,
                    value: serde_json::json!([]),
                },
            ],
        }];
        assert_eq!(
            fields(&w),
            vec![
                (
                    "triggers[0].filters[1].field".into(),
                    "unknown_field".into()
                ),
                ("triggers[0].filters[2].value".into(), "required".into()),
            ]
        );
        w.triggers = vec![Trigger {
            event_type: "Lead Created".into(),
            filters: vec![],
        }];
        assert_eq!(
            fields(&w),
            one("triggers[0].event_type", "invalid_event_type")
        );
    }

    #[test]
    fn adf_only_for_leads_and_contacts_and_get_has_no_xml() {
        let mut w = valid();
        w.format = Format::Adf;
        assert_eq!(fields(&w), vec![]);
        w.triggers.push(Trigger {
            event_type: "vehicle.sold".into(),
            filters: vec![],
        });
        w.mapping = vec![];
        assert_eq!(fields(&w), one("format", "invalid_format"));
        let mut w = valid();
        w.method = Method::Get;
        w.format = Format::Xml;
        assert_eq!(fields(&w), one("format", "invalid_format"));
    }

    #[test]
    fn a_nul_character_is_refused_where_it_is() {
        let mut w = valid();
        w.headers = vec![Header {
            name: "X-Tenant".into(),
            value: "a\0b".into(),
        }];
        w.mapping[0].key = "First\0Name".into();
        w.triggers[0].filters = vec![Filter {
            field: "lead.type".into(),
            op: FilterOp::In,
            value: serde_json::json!(["call", "chat\0"]),
        }];
        assert_eq!(
            fields(&w),
            vec![
                ("headers[0].value".into(), "invalid_header".into()),
                (
                    "triggers[0].filters[0].value[1]".into(),
                    "invalid_text".into()
                ),
                ("mapping[0].key".into(), "invalid_text".into())
            ]
        );
        let mut event = NewEvent::new(
            "contact.created",
            serde_json::json!({"contact": {"id": "c1", "first_name": "A\0n"}, "note": "x\0"}),
        );
        let refused = check_event(&event).unwrap_err();
        assert_eq!(refused.field, "data.contact.first_name");
        assert!(refused.message.contains("NUL"), "{}", refused.message);
        event.data["contact"]["first_name"] = "Ann".into();
        assert_eq!(check_event(&event), Ok(()), "elsewhere in data it is kept");
        event.idempotency_key = Some("k\0".into());
        assert_eq!(check_event(&event).unwrap_err().field, "idempotency_key");
    }

    #[test]
    fn retry_and_timeout_bounds() {
        let mut w = valid();
        w.timeout_ms = 10;
        w.retry.max_attempts = 9;
        assert_eq!(
            fields(&w),
            vec![
                ("timeout_ms".into(), "invalid_timeout".into()),
                ("retry.schedule_s".into(), "invalid_retry".into())
            ]
        );
    }
}
