//! Webhook validation: every rule the console and the API enforce, each
//! failure tied to the field it belongs to so the form can show it there.
//! Field names follow the API's JSON paths: `url`, `headers[1].value`,
//! `mapping[0].key`, `triggers[0].filters[2].field`.

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, is_envelope_path, is_plausible_path};
use crate::fields::TemplateError;
use crate::model::{Auth, FilterOp, Format, MappingValue, Method, NewEvent, WebhookInput};
use crate::render::{effective_url, template_fields};

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
/// Headers the delivery engine writes itself.
const RESERVED_HEADERS: [&str; 8] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "user-agent",
];

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

    // Title
    let title = input.title.trim();
    if title.is_empty() {
        err(
            "title".into(),
            "required",
            "Give the webhook a title.".into(),
        );
    } else if title.chars().count() > MAX_TITLE {
        err(
            "title".into(),
            "too_long",
            format!("Keep the title under {MAX_TITLE} characters."),
        );
    }

    // URL and port
    let url_text = input.url.trim();
    if url_text.is_empty() {
        err(
            "url".into(),
            "required",
            "Enter the payload URL, e.g. https://example.com/hook.".into(),
        );
    } else if url_text.len() > MAX_URL {
        err(
            "url".into(),
            "invalid_url",
            format!("The URL is longer than {MAX_URL} characters."),
        );
    } else {
        match url::Url::parse(url_text) {
            Err(e) => err(
                "url".into(),
                "invalid_url",
                format!(
                    "This is not a valid URL ({e}); it should look like https://example.com/hook."
                ),
            ),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => err(
                "url".into(),
                "invalid_url",
                format!(
                    "The URL must start with http:// or https://, not {}://.",
                    url.scheme()
                ),
            ),
            Ok(url) if url.host_str().is_none_or(str::is_empty) => err(
                "url".into(),
                "invalid_url",
                "The URL has no host name.".into(),
            ),
            Ok(url) if !url.username().is_empty() || url.password().is_some() => err(
                "url".into(),
                "invalid_url",
                "Put credentials in Authentication, not in the URL, so they stay secret.".into(),
            ),
            Ok(url) if url.fragment().is_some() => err(
                "url".into(),
                "invalid_url",
                "Remove the #fragment: it is never sent to the server.".into(),
            ),
            Ok(url) => {
                if options.https_only && url.scheme() == "http" {
                    err(
                        "url".into(),
                        "https_required",
                        "This server only sends to https:// URLs.".into(),
                    );
                }
                if let Some(port) = input.port {
                    match url.port() {
                        Some(in_url) if in_url != port => err(
                            "port".into(),
                            "port_conflict",
                            format!(
                                "The URL says port {in_url} but this field says {port}; use one."
                            ),
                        ),
                        _ => {}
                    }
                    if port == 0 {
                        err(
                            "port".into(),
                            "invalid_port",
                            "The port must be between 1 and 65535.".into(),
                        );
                    }
                }
                if effective_url(url_text, input.port).is_err() {
                    err(
                        "port".into(),
                        "invalid_port",
                        "This URL cannot take a port.".into(),
                    );
                }
            }
        }
    }

    // Authentication
    match &input.auth {
        Auth::None => {}
        Auth::Header { name, value } => {
            check_header_name("auth.name", name, &mut err);
            check_header_value("auth.value", value, true, &mut err);
        }
        Auth::Basic { username, password } => {
            if username.is_empty() {
                err(
                    "auth.username".into(),
                    "required",
                    "Enter the username.".into(),
                );
            } else if username.contains(':') {
                err(
                    "auth.username".into(),
                    "invalid_username",
                    "A Basic username cannot contain ':'.".into(),
                );
            }
            check_header_value("auth.username", username, false, &mut err);
            check_header_value("auth.password", password, false, &mut err);
        }
    }

    // Extra headers
    let mut seen_headers: Vec<String> = Vec::new();
    for (i, h) in input.headers.iter().enumerate() {
        let field = format!("headers[{i}].name");
        check_header_name(&field, &h.name, &mut err);
        let lower = h.name.trim().to_ascii_lowercase();
        if seen_headers.contains(&lower) {
            err(
                field,
                "duplicate_header",
                format!("The header {} is already set above.", h.name.trim()),
            );
        } else if matches!(&input.auth, Auth::Header { name, .. } if name.trim().eq_ignore_ascii_case(&lower))
            || (matches!(input.auth, Auth::Basic { .. }) && lower == "authorization")
        {
            err(
                field,
                "duplicate_header",
                "Authentication already sets this header.".into(),
            );
        }
        seen_headers.push(lower);
        check_header_value(&format!("headers[{i}].value"), &h.value, false, &mut err);
    }

    // Triggers
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

    // Mapping
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

    // Format, method and delivery
    if input.format == Format::Adf
        && input
            .triggers
            .iter()
            .any(|t| !matches!(crate::model::noun_of(&t.event_type), "lead" | "contact"))
    {
        err(
            "format".into(),
            "invalid_format",
            "ADF is for lead and contact events; use generic XML for the others.".into(),
        );
    }
    if input.method == Method::Get && input.format != Format::Json && input.format != Format::Form {
        err(
            "format".into(),
            "invalid_format",
            "A GET request has no body: its fields go into the query string. Pick JSON or form."
                .into(),
        );
    }
    if input.timeout_ms < 100 || input.timeout_ms > MAX_TIMEOUT_MS {
        err(
            "timeout_ms".into(),
            "invalid_timeout",
            format!("The timeout must be between 100 ms and {MAX_TIMEOUT_MS} ms."),
        );
    }
    let retry = &input.retry;
    if retry.max_attempts == 0 || retry.max_attempts > MAX_ATTEMPTS {
        err(
            "retry.max_attempts".into(),
            "invalid_retry",
            format!("Attempts must be between 1 and {MAX_ATTEMPTS}."),
        );
    }
    if retry.schedule_s.len() < retry.max_attempts as usize {
        err(
            "retry.schedule_s".into(),
            "invalid_retry",
            format!(
                "The schedule needs a delay for each of the {} attempts (it has {}).",
                retry.max_attempts,
                retry.schedule_s.len()
            ),
        );
    } else if retry.schedule_s.iter().any(|&s| s > 7 * 24 * 3600) {
        err(
            "retry.schedule_s".into(),
            "invalid_retry",
            "A delay cannot be longer than 7 days.".into(),
        );
    }
    errors
}

fn template_message(e: &TemplateError) -> String {
    format!("The template is not valid: {e}.")
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

fn check_header_name(field: &str, name: &str, err: &mut impl FnMut(String, &str, String)) {
    if name.contains(['\r', '\n']) {
        err(
            field.into(),
            "invalid_header",
            "A header name cannot contain a line break (CR/LF).".into(),
        );
        return;
    }
    let name = name.trim();
    if name.is_empty() {
        err(field.into(), "required", "Enter the header name.".into());
    } else if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        err(
            field.into(),
            "invalid_header",
            "A header name may only use letters, digits and - _ . ! # $ % & ' * + ^ ` | ~.".into(),
        );
    } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        err(
            field.into(),
            "reserved_header",
            format!("Postback sets {name} itself."),
        );
    }
}

fn check_header_value(
    field: &str,
    value: &str,
    required: bool,
    err: &mut impl FnMut(String, &str, String),
) {
    if required && value.is_empty() {
        err(field.into(), "required", "Enter the header value.".into());
    } else if value.contains(['\r', '\n']) {
        err(
            field.into(),
            "invalid_header",
            "A header value cannot contain a line break (CR/LF).".into(),
        );
    } else if http::HeaderValue::from_str(value).is_err() {
        err(
            field.into(),
            "invalid_header",
            "A header value cannot contain control characters.".into(),
        );
    }
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Filter, Header, MappingRow, Trigger};

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
