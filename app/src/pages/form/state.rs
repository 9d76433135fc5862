//! The form's editable state: one signal per control, rows with stable
//! ids so they can be added, removed and reordered, and the reading of it
//! all back into a webhook (with the errors that only the browser sees).

use std::sync::atomic::{AtomicUsize, Ordering};

use engine::model::{
    Auth, DeliveryMode, ExecutionMode, Filter, FilterOp, Format, Header, MappingRow, MappingValue,
    Method, RetryPolicy, Trigger, WebhookInput,
};
use engine::validate::FieldError;
use leptos::prelude::*;

static NEXT_ROW: AtomicUsize = AtomicUsize::new(1);

fn row_id() -> usize {
    NEXT_ROW.fetch_add(1, Ordering::Relaxed)
}

#[derive(Clone, Copy)]
pub(super) struct HeaderRow {
    pub(super) id: usize,
    pub(super) name: RwSignal<String>,
    pub(super) value: RwSignal<String>,
}

#[derive(Clone, Copy)]
pub(super) struct FilterRow {
    pub(super) id: usize,
    pub(super) field: RwSignal<String>,
    pub(super) op: RwSignal<String>,
    pub(super) value: RwSignal<String>,
}

#[derive(Clone, Copy)]
pub(super) struct TriggerRow {
    pub(super) id: usize,
    pub(super) event_type: RwSignal<String>,
    pub(super) filters: RwSignal<Vec<FilterRow>>,
}

#[derive(Clone, Copy)]
pub(super) struct MapRow {
    pub(super) id: usize,
    pub(super) key: RwSignal<String>,
    pub(super) kind: RwSignal<String>,
    pub(super) value: RwSignal<String>,
}

/// The form's editable state, one signal per control.
#[derive(Clone, Copy)]
pub(super) struct FormState {
    pub(super) title: RwSignal<String>,
    pub(super) url: RwSignal<String>,
    pub(super) port: RwSignal<String>,
    pub(super) method: RwSignal<String>,
    pub(super) format: RwSignal<String>,
    pub(super) auth_type: RwSignal<String>,
    pub(super) auth_name: RwSignal<String>,
    pub(super) auth_value: RwSignal<String>,
    pub(super) auth_username: RwSignal<String>,
    pub(super) auth_password: RwSignal<String>,
    pub(super) headers: RwSignal<Vec<HeaderRow>>,
    pub(super) triggers: RwSignal<Vec<TriggerRow>>,
    pub(super) mapping: RwSignal<Vec<MapRow>>,
    pub(super) execution_mode: RwSignal<String>,
    pub(super) delivery_mode: RwSignal<String>,
    pub(super) max_attempts: RwSignal<String>,
    pub(super) schedule: RwSignal<String>,
    pub(super) timeout_ms: RwSignal<String>,
    pub(super) active: RwSignal<bool>,
}

pub(super) fn header_row(name: &str, value: &str) -> HeaderRow {
    HeaderRow {
        id: row_id(),
        name: RwSignal::new(name.into()),
        value: RwSignal::new(value.into()),
    }
}

pub(super) fn filter_row(f: &Filter) -> FilterRow {
    let value = match &f.value {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| engine::fields::to_text(Some(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => engine::fields::to_text(Some(other)),
    };
    FilterRow {
        id: row_id(),
        field: RwSignal::new(f.field.clone()),
        op: RwSignal::new(f.op.as_str().into()),
        value: RwSignal::new(value),
    }
}

pub(super) fn trigger_row(t: &Trigger) -> TriggerRow {
    TriggerRow {
        id: row_id(),
        event_type: RwSignal::new(t.event_type.clone()),
        filters: RwSignal::new(t.filters.iter().map(filter_row).collect()),
    }
}

pub(super) fn map_row(key: &str, value: &MappingValue) -> MapRow {
    MapRow {
        id: row_id(),
        key: RwSignal::new(key.into()),
        kind: RwSignal::new(value.kind().into()),
        value: RwSignal::new(value.text().into()),
    }
}

impl FormState {
    pub(super) fn new(input: &WebhookInput) -> Self {
        let (auth_type, auth_name, auth_value, auth_username, auth_password) = match &input.auth {
            Auth::None => ("none", "Authorization", "", "", ""),
            Auth::Header { name, value } => ("header", name.as_str(), value.as_str(), "", ""),
            Auth::Basic { username, password } => (
                "basic",
                "Authorization",
                "",
                username.as_str(),
                password.as_str(),
            ),
        };
        FormState {
            title: RwSignal::new(input.title.clone()),
            url: RwSignal::new(input.url.clone()),
            port: RwSignal::new(input.port.map(|p| p.to_string()).unwrap_or_default()),
            method: RwSignal::new(input.method.as_str().into()),
            format: RwSignal::new(input.format.as_str().into()),
            auth_type: RwSignal::new(auth_type.into()),
            auth_name: RwSignal::new(auth_name.into()),
            auth_value: RwSignal::new(auth_value.into()),
            auth_username: RwSignal::new(auth_username.into()),
            auth_password: RwSignal::new(auth_password.into()),
            headers: RwSignal::new(
                input
                    .headers
                    .iter()
                    .map(|h| header_row(&h.name, &h.value))
                    .collect(),
            ),
            triggers: RwSignal::new(input.triggers.iter().map(trigger_row).collect()),
            mapping: RwSignal::new(
                input
                    .mapping
                    .iter()
                    .map(|m| map_row(&m.key, &m.value))
                    .collect(),
            ),
            execution_mode: RwSignal::new(input.execution_mode.as_str().into()),
            delivery_mode: RwSignal::new(input.delivery_mode.as_str().into()),
            max_attempts: RwSignal::new(input.retry.max_attempts.to_string()),
            schedule: RwSignal::new(
                input
                    .retry
                    .schedule_s
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            timeout_ms: RwSignal::new(input.timeout_ms.to_string()),
            active: RwSignal::new(input.active),
        }
    }

    /// The webhook as typed, plus the problems that cannot even be expressed
    /// in it (a port that is not a number). The server checks the rest.
    pub(super) fn read(&self) -> (WebhookInput, Vec<FieldError>) {
        let mut errors = Vec::new();
        let port = read_port(self.port.get(), &mut errors);
        let timeout_ms = read_number(self.timeout_ms.get(), "timeout_ms", &mut errors).unwrap_or(0);
        let max_attempts =
            read_number(self.max_attempts.get(), "retry.max_attempts", &mut errors).unwrap_or(0);
        let schedule_s = read_schedule(self.schedule.get(), &mut errors);
        let input = WebhookInput {
            title: self.title.get(),
            url: self.url.get(),
            port,
            method: Method::parse(&self.method.get()).unwrap_or_default(),
            format: Format::parse(&self.format.get()).unwrap_or_default(),
            auth: self.auth(),
            headers: self.headers.get().iter().map(HeaderRow::read).collect(),
            triggers: self.triggers.get().iter().map(TriggerRow::read).collect(),
            mapping: self.mapping.get().iter().map(MapRow::read).collect(),
            execution_mode: ExecutionMode::parse(&self.execution_mode.get()).unwrap_or_default(),
            delivery_mode: DeliveryMode::parse(&self.delivery_mode.get()).unwrap_or_default(),
            retry: RetryPolicy {
                max_attempts: max_attempts.min(u64::from(u32::MAX)) as u32,
                schedule_s,
            },
            timeout_ms: timeout_ms.min(u64::from(u32::MAX)) as u32,
            active: self.active.get(),
        };
        (input, errors)
    }

    fn auth(&self) -> Auth {
        match self.auth_type.get().as_str() {
            "header" => Auth::Header {
                name: self.auth_name.get(),
                value: self.auth_value.get(),
            },
            "basic" => Auth::Basic {
                username: self.auth_username.get(),
                password: self.auth_password.get(),
            },
            _ => Auth::None,
        }
    }
}

impl HeaderRow {
    fn read(&self) -> Header {
        Header {
            name: self.name.get(),
            value: self.value.get(),
        }
    }
}

impl TriggerRow {
    fn read(&self) -> Trigger {
        Trigger {
            event_type: self.event_type.get().trim().to_string(),
            filters: self.filters.get().iter().map(FilterRow::read).collect(),
        }
    }
}

impl FilterRow {
    /// "is one of" takes a comma-separated list; "exists" no value.
    fn read(&self) -> Filter {
        let op = FilterOp::parse(&self.op.get()).unwrap_or_default();
        let text = self.value.get();
        let value = match op {
            FilterOp::Eq => serde_json::Value::String(text.trim().to_string()),
            FilterOp::In => serde_json::Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| serde_json::Value::String(s.to_string()))
                    .collect(),
            ),
            FilterOp::Exists => serde_json::Value::Null,
        };
        Filter {
            field: self.field.get().trim().to_string(),
            op,
            value,
        }
    }
}

impl MapRow {
    fn read(&self) -> MappingRow {
        MappingRow {
            key: self.key.get(),
            value: MappingValue::from_kind(&self.kind.get(), self.value.get()),
        }
    }
}

/// A whole number, or nothing when the box is empty.
fn read_number(text: String, field: &str, errors: &mut Vec<FieldError>) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<u64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "not_a_number",
                format!("{text:?} is not a whole number."),
            ));
            None
        }
    }
}

fn read_port(text: String, errors: &mut Vec<FieldError>) -> Option<u16> {
    match read_number(text, "port", errors) {
        Some(p) => match u16::try_from(p) {
            Ok(p) => Some(p),
            Err(_) => {
                errors.push(FieldError::new(
                    "port",
                    "invalid_port",
                    "The port must be between 1 and 65535.",
                ));
                None
            }
        },
        None => None,
    }
}

/// Retry delays in seconds, separated by commas.
fn read_schedule(text: String, errors: &mut Vec<FieldError>) -> Vec<u64> {
    let parsed: Result<Vec<u64>, _> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse::<u64>)
        .collect();
    parsed.unwrap_or_else(|_| {
        errors.push(FieldError::new(
            "retry.schedule_s",
            "not_a_number",
            "List the delays in seconds, separated by commas, e.g. 0, 5, 300.",
        ));
        Vec::new()
    })
}
