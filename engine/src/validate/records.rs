//! The rules for CRM records' fields: text trimmed, bounded and free of NUL
//! characters, emails that look like emails, custom fields of plain values.
//! Each failure names its field, as the API's JSON path.

use serde_json::{Map, Value};

use super::{FieldError, nul_fields, nul_message};
use crate::model::{ContactInput, LeadInput, TodoInput};

/// Longest name, phone, address part, state or id.
pub const MAX_SHORT: usize = 200;
/// Longest comment or custom field value.
pub const MAX_LONG: usize = 10_000;
/// Most custom fields on one contact.
pub const MAX_CUSTOM_FIELDS: usize = 100;

/// `value` trimmed, or an error when it holds a NUL or is longer than `max`
/// characters.
pub fn clean_text(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let value = value.trim();
    if value.contains('\0') {
        errors.push(FieldError::new(field, "invalid_text", nul_message(field)));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("Keep {field} to {max} characters or fewer."),
        ));
    }
    value.to_string()
}

/// Like [`clean_text`]; empty text is `None`.
pub fn clean_optional(
    field: &str,
    value: Option<&str>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = clean_text(field, value?, max, errors);
    (!value.is_empty()).then_some(value)
}

/// A contact's fields as stored: trimmed, the email lower-cased, empty
/// text as none; or every field's problem.
pub fn clean_contact(input: ContactInput) -> Result<ContactInput, Vec<FieldError>> {
    let mut e = Vec::new();
    let short = |field: &str, v: Option<&str>, e: &mut Vec<FieldError>| {
        clean_optional(field, v, MAX_SHORT, e)
    };
    let email = short("email", input.email.as_deref(), &mut e).map(|m| m.to_lowercase());
    if let Some(email) = &email
        && !looks_like_email(email)
    {
        e.push(FieldError::new(
            "email",
            "invalid_email",
            format!("\"{email}\" is not an email address (name@example.com)."),
        ));
    }
    let address = crate::model::Address {
        street: short("address.street", input.address.street.as_deref(), &mut e),
        city: short("address.city", input.address.city.as_deref(), &mut e),
        state: short("address.state", input.address.state.as_deref(), &mut e),
        postcode: short(
            "address.postcode",
            input.address.postcode.as_deref(),
            &mut e,
        ),
        country: short("address.country", input.address.country.as_deref(), &mut e),
    };
    let cleaned = ContactInput {
        first_name: clean_text("first_name", &input.first_name, MAX_SHORT, &mut e),
        last_name: clean_text("last_name", &input.last_name, MAX_SHORT, &mut e),
        email,
        phone: short("phone", input.phone.as_deref(), &mut e),
        address,
        state: short("state", input.state.as_deref(), &mut e),
        source: short("source", input.source.as_deref(), &mut e),
        category: short("category", input.category.as_deref(), &mut e),
        external_id: short("external_id", input.external_id.as_deref(), &mut e),
        custom_fields: custom_fields("custom_fields", input.custom_fields, &mut e),
    };
    if cleaned.first_name.is_empty()
        && cleaned.last_name.is_empty()
        && cleaned.email.is_none()
        && cleaned.phone.is_none()
        && !e
            .iter()
            .any(|x| ["first_name", "last_name", "email", "phone"].contains(&x.field.as_str()))
    {
        e.push(FieldError::new(
            "first_name",
            "required",
            "Give the contact a name, an email or a phone number.",
        ));
    }
    if e.is_empty() { Ok(cleaned) } else { Err(e) }
}

/// A lead's fields trimmed, or every field's problem.
pub fn clean_lead(input: LeadInput) -> Result<LeadInput, Vec<FieldError>> {
    let mut e = Vec::new();
    let cleaned = LeadInput {
        lead_type: input.lead_type,
        source: clean_optional("source", input.source.as_deref(), MAX_SHORT, &mut e),
        comments: clean_text("comments", &input.comments, MAX_LONG, &mut e),
        details: plain_json("details", input.details, &mut e),
    };
    if e.is_empty() { Ok(cleaned) } else { Err(e) }
}

/// A to-do's fields trimmed, or every field's problem.
pub fn clean_todo(input: TodoInput) -> Result<TodoInput, Vec<FieldError>> {
    let mut e = Vec::new();
    let title = clean_text("title", &input.title, MAX_SHORT, &mut e);
    if title.is_empty() && e.is_empty() {
        e.push(FieldError::new(
            "title",
            "required",
            "Say what is to be done.",
        ));
    }
    let cleaned = TodoInput {
        title,
        assigned_user_id: clean_optional(
            "assigned_user_id",
            input.assigned_user_id.as_deref(),
            MAX_SHORT,
            &mut e,
        ),
        ..input
    };
    if e.is_empty() { Ok(cleaned) } else { Err(e) }
}

/// Something, an `@`, a dot in what follows, and no spaces.
pub fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Custom fields: names of letters, digits, `_` and `-` (so a mapping can
/// name them as `contact.custom_fields.NAME`), values text, numbers,
/// true/false or null.
fn custom_fields(
    field: &str,
    fields: Map<String, Value>,
    e: &mut Vec<FieldError>,
) -> Map<String, Value> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        e.push(FieldError::new(
            field,
            "too_many",
            format!("A contact has at most {MAX_CUSTOM_FIELDS} custom fields."),
        ));
        return fields;
    }
    let mut out = Map::new();
    for (name, value) in fields {
        let path = format!("{field}.{name}");
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            e.push(FieldError::new(
                &path,
                "invalid_name",
                format!(
                    "The custom field name \"{name}\" must be 1–64 letters, digits, _ or -, \
                     so a mapping can name it."
                ),
            ));
            continue;
        }
        let value = match value {
            Value::String(s) => Value::String(clean_text(&path, &s, MAX_LONG, e)),
            Value::Array(_) | Value::Object(_) => {
                e.push(FieldError::new(
                    &path,
                    "invalid_value",
                    format!("{path} must be text, a number, true/false or null."),
                ));
                continue;
            }
            plain => plain,
        };
        out.insert(name, value);
    }
    out
}

/// Free-form JSON (a lead's details) without NUL characters.
fn plain_json(
    field: &str,
    value: Map<String, Value>,
    e: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let as_value = Value::Object(value);
    for path in nul_fields(&as_value, field) {
        let message = nul_message(&path);
        e.push(FieldError::new(path, "invalid_text", message));
    }
    match as_value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_contact_is_trimmed_and_its_email_lower_cased() {
        let input: ContactInput = serde_json::from_value(json!({
            "first_name": "  Ann ", "email": " Ann@Example.COM ", "phone": "  ",
            "custom_fields": {"tier": " gold "}
        }))
        .unwrap();
        let c = clean_contact(input).unwrap();
        assert_eq!(c.first_name, "Ann");
        assert_eq!(c.email.as_deref(), Some("ann@example.com"));
        assert_eq!(c.phone, None);
        assert_eq!(c.custom_fields["tier"], "gold");
    }

    #[test]
    fn each_bad_field_is_named() {
        let input: ContactInput = serde_json::from_value(json!({
            "first_name": "A\u{0}", "email": "not-an-email",
            "address": {"city": "x".repeat(201)},
            "custom_fields": {"bad name": 1, "list": [1]}
        }))
        .unwrap();
        let errors = clean_contact(input).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "email",
                "address.city",
                "first_name",
                "custom_fields.bad name",
                "custom_fields.list"
            ]
        );
        assert_eq!(
            clean_contact(ContactInput::default()).unwrap_err()[0].code,
            "required"
        );
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@", "@b.co", "a@b", "a@.b", "a b@c.d", "a@b@c.d"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
