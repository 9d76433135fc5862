//! Field paths and templates: how `contact.first_name` or
//! `{account.id}-{contact.id}` find their values in an event.
//!
//! A path's first segment names where to look:
//! - `event`, `account`, `actor`: the envelope (`event.id`, `account.external_ref`);
//! - the event's own noun (`contact` in `contact.created`): the record itself;
//! - any other noun (`contact` in `lead.created`): that object inside the record.

use serde_json::Value;

use crate::model::Event;

/// The envelope's own namespaces, available in every event.
pub const ENVELOPE_ROOTS: [&str; 3] = ["event", "account", "actor"];

/// Looks a path up in an event. `None` when any segment is missing.
pub fn resolve(event: &Event, path: &str) -> Option<Value> {
    let (root, rest) = path.split_once('.').unwrap_or((path, ""));
    match root {
        "event" => match rest {
            "id" => Some(Value::String(event.id.clone())),
            "type" => Some(Value::String(event.event_type.clone())),
            "occurred_at" => Some(Value::String(event.occurred_at.to_rfc3339())),
            _ => None,
        },
        "account" => match rest {
            "id" => Some(Value::String(event.account.id.clone())),
            "name" => Some(Value::String(event.account.name.clone())),
            "external_ref" => Some(
                event
                    .account
                    .external_ref
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            ),
            _ => None,
        },
        "actor" => {
            let actor = event.actor.as_ref()?;
            match rest {
                "id" => Some(Value::String(actor.id.clone())),
                "name" => Some(Value::String(actor.name.clone())),
                _ => None,
            }
        }
        noun if noun == event.noun() => {
            if rest.is_empty() {
                Some(event.data.clone())
            } else {
                lookup(&event.data, rest).cloned()
            }
        }
        _ => lookup(&event.data, path).cloned(),
    }
}

/// Walks dotted segments through objects (and numeric segments through arrays).
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, segment| match v {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// A value as text, for form fields, query strings, XML and templates:
/// strings as they are, null and missing as empty, objects and lists as JSON.
pub fn to_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    }
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Field(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a `{{` at position {0} is never closed (write `{{{{` for a literal brace)")]
    Unclosed(usize),
    #[error("a `}}` at position {0} has no opening brace (write `}}}}` for a literal brace)")]
    Unopened(usize),
    #[error("an empty placeholder `{{}}` at position {0}")]
    Empty(usize),
}

/// Parses `{field}` placeholders; `{{` and `}}` stand for literal braces.
pub fn parse_template(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek().map(|p| p.1) == Some('}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, ch)) => field.push(ch),
                        None => return Err(TemplateError::Unclosed(i)),
                    }
                }
                let field = field.trim().to_string();
                if field.is_empty() {
                    return Err(TemplateError::Empty(i));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(field));
            }
            '}' => return Err(TemplateError::Unopened(i)),
            ch => text.push(ch),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Fills a parsed template from an event; missing fields become empty text.
pub fn fill(pieces: &[Piece], event: &Event) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(t) => t.clone(),
            Piece::Field(f) => to_text(resolve(event, f).as_ref()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn lead() -> Event {
        Catalog::builtin()
            .sample("lead.created")
            .expect("lead.created is built in")
    }

    #[test]
    fn resolves_the_envelope_the_record_and_nested_records() {
        let event = lead();
        assert_eq!(resolve(&event, "lead.type"), Some(Value::from("call")));
        assert_eq!(
            resolve(&event, "contact.first_name"),
            Some(Value::from("Jane"))
        );
        assert_eq!(
            resolve(&event, "account.external_ref"),
            Some(Value::from("DEALER-42"))
        );
        assert_eq!(
            resolve(&event, "event.type"),
            Some(Value::from("lead.created"))
        );
        assert_eq!(
            resolve(&event, "contact.address.city"),
            Some(Value::from("Springfield"))
        );
        assert_eq!(resolve(&event, "contact.nope"), None);
        assert_eq!(resolve(&event, "vehicle.nope.deeper"), None);
    }

    #[test]
    fn templates_mix_text_and_fields_and_keep_literal_braces() {
        let event = lead();
        let pieces = parse_template("{account.id}-{contact.id} {{raw}}").unwrap();
        assert_eq!(fill(&pieces, &event), "acc_demo-c_1001 {raw}");
        let pieces = parse_template("{ contact.missing }|").unwrap();
        assert_eq!(fill(&pieces, &event), "|");
    }

    #[test]
    fn malformed_templates_say_where() {
        assert_eq!(
            parse_template("a {contact.id"),
            Err(TemplateError::Unclosed(2))
        );
        assert_eq!(parse_template("a } b"), Err(TemplateError::Unopened(2)));
        assert_eq!(parse_template("{}"), Err(TemplateError::Empty(0)));
        assert_eq!(
            parse_template("plain"),
            Ok(vec![Piece::Text("plain".into())])
        );
    }

    #[test]
    fn text_of_values() {
        assert_eq!(to_text(None), "");
        assert_eq!(to_text(Some(&Value::Null)), "");
        assert_eq!(to_text(Some(&Value::from(3))), "3");
        assert_eq!(
            to_text(Some(&serde_json::json!(["a", "b"]))),
            r#"["a","b"]"#
        );
    }
}
