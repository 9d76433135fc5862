//! Authentication and the extra headers: valid names and values, none
//! that Postback writes itself, none set twice.

use crate::model::{Auth, WebhookInput};

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

pub(super) fn authentication(input: &WebhookInput, err: &mut impl FnMut(String, &str, String)) {
    match &input.auth {
        Auth::None => {}
        Auth::Header { name, value } => {
            check_header_name("auth.name", name, err);
            check_header_value("auth.value", value, true, err);
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
            check_header_value("auth.username", username, false, err);
            check_header_value("auth.password", password, false, err);
        }
    }
}

pub(super) fn extra_headers(input: &WebhookInput, err: &mut impl FnMut(String, &str, String)) {
    let mut seen_headers: Vec<String> = Vec::new();
    for (i, h) in input.headers.iter().enumerate() {
        let field = format!("headers[{i}].name");
        check_header_name(&field, &h.name, err);
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
        check_header_value(&format!("headers[{i}].value"), &h.value, false, err);
    }
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
