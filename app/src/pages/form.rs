//! Create and edit a webhook: every field of PRODUCT.md section 2, mapping
//! rows that can be added, removed and reordered, and a live preview of the
//! exact request for a sample record, rendered in the browser by the same
//! engine code that delivers it.

use std::sync::atomic::{AtomicUsize, Ordering};

use engine::catalog::Catalog;
use engine::model::{
    Auth, DeliveryMode, ExecutionMode, Filter, FilterOp, Format, Header, MappingRow, MappingValue,
    Method, RetryPolicy, Role, Trigger, User, WebhookInput, WebhookView,
};
use engine::validate::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::inputs::{CheckInput, SelectInput, TextInput};
use super::{ErrorPanel, Layout, error_message};
use crate::api::{DeleteWebhook, RotateSecret, SaveOutcome, SaveWebhook, TestWebhook, get_webhook};
use engine::model::TestSend;

#[component]
pub fn NewWebhookPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_webhook(None));
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, _)) => view! { <Layout user=user.clone()><WebhookForm user hook=None /></Layout> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn EditWebhookPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("id"), get_webhook);
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, hook)) => view! { <Layout user=user.clone()><WebhookForm user hook /></Layout> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

static NEXT_ROW: AtomicUsize = AtomicUsize::new(1);

fn row_id() -> usize {
    NEXT_ROW.fetch_add(1, Ordering::Relaxed)
}

#[derive(Clone, Copy)]
struct HeaderRow {
    id: usize,
    name: RwSignal<String>,
    value: RwSignal<String>,
}

#[derive(Clone, Copy)]
struct FilterRow {
    id: usize,
    field: RwSignal<String>,
    op: RwSignal<String>,
    value: RwSignal<String>,
}

#[derive(Clone, Copy)]
struct TriggerRow {
    id: usize,
    event_type: RwSignal<String>,
    filters: RwSignal<Vec<FilterRow>>,
}

#[derive(Clone, Copy)]
struct MapRow {
    id: usize,
    key: RwSignal<String>,
    kind: RwSignal<String>,
    value: RwSignal<String>,
}

/// The form's editable state, one signal per control.
#[derive(Clone, Copy)]
struct FormState {
    title: RwSignal<String>,
    url: RwSignal<String>,
    port: RwSignal<String>,
    method: RwSignal<String>,
    format: RwSignal<String>,
    auth_type: RwSignal<String>,
    auth_name: RwSignal<String>,
    auth_value: RwSignal<String>,
    auth_username: RwSignal<String>,
    auth_password: RwSignal<String>,
    headers: RwSignal<Vec<HeaderRow>>,
    triggers: RwSignal<Vec<TriggerRow>>,
    mapping: RwSignal<Vec<MapRow>>,
    execution_mode: RwSignal<String>,
    delivery_mode: RwSignal<String>,
    max_attempts: RwSignal<String>,
    schedule: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    active: RwSignal<bool>,
}

fn header_row(name: &str, value: &str) -> HeaderRow {
    HeaderRow {
        id: row_id(),
        name: RwSignal::new(name.into()),
        value: RwSignal::new(value.into()),
    }
}

fn filter_row(f: &Filter) -> FilterRow {
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

fn trigger_row(t: &Trigger) -> TriggerRow {
    TriggerRow {
        id: row_id(),
        event_type: RwSignal::new(t.event_type.clone()),
        filters: RwSignal::new(t.filters.iter().map(filter_row).collect()),
    }
}

fn map_row(key: &str, value: &MappingValue) -> MapRow {
    MapRow {
        id: row_id(),
        key: RwSignal::new(key.into()),
        kind: RwSignal::new(value.kind().into()),
        value: RwSignal::new(value.text().into()),
    }
}

impl FormState {
    fn new(input: &WebhookInput) -> Self {
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
    fn read(&self) -> (WebhookInput, Vec<FieldError>) {
        let mut errors = Vec::new();
        let number = |text: String, field: &str, errors: &mut Vec<FieldError>| -> Option<u64> {
            let text = text.trim().to_string();
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
        };
        let port = match number(self.port.get(), "port", &mut errors) {
            Some(p) if p > 65535 => {
                errors.push(FieldError::new(
                    "port",
                    "invalid_port",
                    "The port must be between 1 and 65535.",
                ));
                None
            }
            other => other.map(|p| p as u16),
        };
        let timeout_ms = number(self.timeout_ms.get(), "timeout_ms", &mut errors).unwrap_or(0);
        let max_attempts =
            number(self.max_attempts.get(), "retry.max_attempts", &mut errors).unwrap_or(0);
        let mut schedule_s = Vec::new();
        for part in self
            .schedule
            .get()
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            match part.trim().parse::<u64>() {
                Ok(s) => schedule_s.push(s),
                Err(_) => {
                    errors.push(FieldError::new(
                        "retry.schedule_s",
                        "not_a_number",
                        "List the delays in seconds, separated by commas, e.g. 0, 5, 300.",
                    ));
                    break;
                }
            }
        }
        let auth = match self.auth_type.get().as_str() {
            "header" => Auth::Header {
                name: self.auth_name.get(),
                value: self.auth_value.get(),
            },
            "basic" => Auth::Basic {
                username: self.auth_username.get(),
                password: self.auth_password.get(),
            },
            _ => Auth::None,
        };
        let triggers = self
            .triggers
            .get()
            .iter()
            .map(|t| Trigger {
                event_type: t.event_type.get().trim().to_string(),
                filters: t
                    .filters
                    .get()
                    .iter()
                    .map(|f| {
                        let op = FilterOp::parse(&f.op.get()).unwrap_or_default();
                        let text = f.value.get();
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
                            field: f.field.get().trim().to_string(),
                            op,
                            value,
                        }
                    })
                    .collect(),
            })
            .collect();
        let input = WebhookInput {
            title: self.title.get(),
            url: self.url.get(),
            port,
            method: Method::parse(&self.method.get()).unwrap_or_default(),
            format: Format::parse(&self.format.get()).unwrap_or_default(),
            auth,
            headers: self
                .headers
                .get()
                .iter()
                .map(|h| Header {
                    name: h.name.get(),
                    value: h.value.get(),
                })
                .collect(),
            triggers,
            mapping: self
                .mapping
                .get()
                .iter()
                .map(|m| MappingRow {
                    key: m.key.get(),
                    value: MappingValue::from_kind(&m.kind.get(), m.value.get()),
                })
                .collect(),
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
}

fn options<T: Copy>(
    all: &[T],
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|&x| (value(x).to_string(), label(x).to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

/// Shows the error for one field, if there is one.
#[component]
fn FieldErr(errors: RwSignal<Vec<FieldError>>, #[prop(into)] field: String) -> impl IntoView {
    let testid = format!("error-{field}");
    move || {
        errors
            .with(|es| es.iter().find(|e| e.field == field).map(|e| e.message.clone()))
            .map(|message| view! { <p class="field-error" role="alert" data-testid=testid.clone()>{message}</p> })
    }
}

fn has_error(errors: RwSignal<Vec<FieldError>>, field: String) -> Signal<bool> {
    Signal::derive(move || errors.with(|es| es.iter().any(|e| e.field == field)))
}

/// A label, a text input and the input's error, tied together by `field`.
#[component]
fn LabeledText(
    #[prop(into)] label: String,
    value: RwSignal<String>,
    #[prop(into)] id: String,
    #[prop(into)] testid: String,
    errors: RwSignal<Vec<FieldError>>,
    #[prop(into)] field: String,
    #[prop(into, default = "text".to_string())] kind: String,
    #[prop(into, optional)] placeholder: String,
) -> impl IntoView {
    view! {
        <label for=id.clone()>{label}</label>
        <TextInput value id testid kind placeholder invalid=has_error(errors, field.clone()) />
        <FieldErr errors field />
    }
    .into_any()
}

#[component]
pub fn WebhookForm(user: User, hook: Option<WebhookView>) -> impl IntoView {
    let readonly = user.role != Role::Admin;
    let id = hook.as_ref().map(|h| h.id.clone());
    let initial = hook
        .as_ref()
        .map(|h| h.input.clone())
        .unwrap_or_else(|| WebhookInput {
            triggers: vec![Trigger {
                event_type: "contact.created".into(),
                filters: vec![],
            }],
            ..WebhookInput::default()
        });
    let disabled_reason = hook.as_ref().and_then(|h| h.disabled_reason.clone());
    let title_text = hook.as_ref().map(|h| h.input.title.clone());
    let form = FormState::new(&initial);
    let errors: RwSignal<Vec<FieldError>> = RwSignal::new(Vec::new());
    let catalog = StoredValue::new(Catalog::builtin());
    let preview_type = RwSignal::new(String::new());
    let save = ServerAction::<SaveWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let confirm_delete = RwSignal::new(false);
    let created_secret: RwSignal<Option<String>> = RwSignal::new(None);
    let general_error: RwSignal<Option<String>> = RwSignal::new(None);
    let navigate = use_navigate();

    // The outcome of a save: errors beside their fields, or on to the list.
    Effect::new({
        let navigate = navigate.clone();
        move |_| match save.value().get() {
            Some(Ok(SaveOutcome::Saved {
                signing_secret: Some(secret),
                ..
            })) => {
                errors.set(Vec::new());
                created_secret.set(Some(secret));
            }
            Some(Ok(SaveOutcome::Saved {
                signing_secret: None,
                ..
            })) => {
                errors.set(Vec::new());
                navigate("/webhooks", Default::default());
            }
            Some(Ok(SaveOutcome::Invalid(list))) => {
                general_error.set(None);
                errors.set(list);
            }
            Some(Err(e)) => general_error.set(Some(error_message(&e))),
            None => {}
        }
    });
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => navigate("/webhooks", Default::default()),
        Some(Err(e)) => general_error.set(Some(error_message(&e))),
        None => {}
    });

    let on_submit = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let (input, local) = form.read();
            if !local.is_empty() {
                errors.set(local);
                return;
            }
            save.dispatch(SaveWebhook {
                id: id.clone(),
                input,
            });
        }
    };

    // Every field any trigger's events carry, for the pickers.
    let all_fields = Memo::new(move |_| {
        let types: Vec<String> = form
            .triggers
            .get()
            .iter()
            .map(|t| t.event_type.get())
            .collect();
        let mut fields: Vec<(String, String)> = Vec::new();
        catalog.with_value(|c| {
            for t in &types {
                for f in c.fields(t.trim()).unwrap_or_default() {
                    if !fields.iter().any(|(p, _)| *p == f.path) {
                        fields.push((f.path, f.example));
                    }
                }
            }
        });
        fields
    });

    // The request for the chosen sample, re-rendered on every keystroke.
    // Secrets show masked even while being typed.
    let preview = Memo::new(move |_| {
        let (mut input, _) = form.read();
        input.auth = input.auth.masked();
        let chosen = preview_type.get();
        let event_type =
            if chosen.is_empty() || !input.triggers.iter().any(|t| t.event_type == chosen) {
                input
                    .triggers
                    .first()
                    .map(|t| t.event_type.clone())
                    .unwrap_or_else(|| "webhook.test".into())
            } else {
                chosen
            };
        let event = catalog
            .with_value(|c| c.sample(&event_type))
            .unwrap_or_else(|| engine::catalog::event_of(&event_type, serde_json::Map::new()));
        engine::render::render(&input, &event).map_err(|e| e.to_string())
    });

    let field_options = move || {
        all_fields
            .get()
            .into_iter()
            .map(|(path, example)| view! { <option value=path>{example}</option> })
            .collect_view()
    };
    let type_options = catalog.with_value(|c| {
        c.types()
            .iter()
            .map(|t| view! { <option value=t.name>{t.description}</option> })
            .collect_view()
    });

    let heading = match &title_text {
        Some(t) => format!("Edit webhook: {t}"),
        None => "New webhook".to_string(),
    };
    let is_new = id.is_none();
    let id_for_test = id.clone();
    let initial_types: Vec<String> = initial
        .triggers
        .iter()
        .map(|t| t.event_type.clone())
        .collect();

    view! {
        <div class="page-head"><h1 data-testid="form-heading">{heading}</h1></div>
        {readonly.then(|| view! {
            <p class="notice" data-testid="readonly-notice">
                "You have the support role: you can read this webhook but not change it."
            </p>
        })}
        {disabled_reason.map(|r| view! {
            <p class="notice warn" data-testid="disabled-reason">"Disabled automatically: " {r}</p>
        })}
        {move || created_secret.get().map(|secret| view! {
            <div class="secret-panel" role="status" data-testid="created-panel">
                <h2>"Webhook created"</h2>
                <p>"Its signing secret is shown this once. Give it to the receiving system so it can verify each request's "
                    <code>"webhook-signature"</code> " header."</p>
                <p><code class="secret" data-testid="signing-secret">{secret}</code></p>
                <a class="button primary" href="/webhooks" data-testid="done">"Done"</a>
            </div>
        })}
        <datalist id="event-types">{type_options}</datalist>
        <datalist id="field-options">{field_options}</datalist>
        <div class="form-grid" class:hidden=move || created_secret.get().is_some()>
        <form class="webhook-form" on:submit=on_submit novalidate data-testid="webhook-form">
            {move || {
                let count = errors.with(Vec::len);
                (count > 0).then(|| view! {
                    <p class="form-error" role="alert" data-testid="form-errors">
                        {if count == 1 { "Fix the problem marked below.".to_string() } else { format!("Fix the {count} problems marked below.") }}
                    </p>
                })
            }}
            {move || general_error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="general-error">{e}</p> })}
            <fieldset disabled=readonly>
                <legend>"Destination"</legend>
                <LabeledText label="Title" value=form.title id="f-title" testid="title" errors field="title" />

                <LabeledText label="Payload URL" value=form.url id="f-url" testid="url" kind="url" placeholder="https://example.com/hook" errors field="url" />

                <div class="row">
                    <div>
                        <LabeledText label="Port (optional)" value=form.port id="f-port" testid="port" kind="number" placeholder="from the URL" errors field="port" />
                    </div>
                    <div>
                        <label for="f-method">"Method"</label>
                        <SelectInput value=form.method id="f-method" testid="method" options=options(&Method::ALL, Method::as_str, Method::as_str) />
                    </div>
                    <div>
                        <label for="f-format">"Payload format"</label>
                        <SelectInput value=form.format id="f-format" testid="format" options=options(&Format::ALL, Format::as_str, Format::label) />
                        <FieldErr errors field="format" />
                    </div>
                </div>
            </fieldset>

            <fieldset disabled=readonly>
                <legend>"Authentication"</legend>
                <SelectInput value=form.auth_type testid="auth-type" label="Authentication type"
                    options=pairs(&[("none", "None"), ("header", "Authentication header"), ("basic", "HTTP Basic")]) />
                {move || match form.auth_type.get().as_str() {
                    "header" => view! {
                        <div class="row">
                            <div>
                                <LabeledText label="Header name" value=form.auth_name id="f-auth-name" testid="auth-name" placeholder="Authorization" errors field="auth.name" />
                            </div>
                            <div>
                                <LabeledText label="Header value (secret)" value=form.auth_value id="f-auth-value" testid="auth-value" kind="password" placeholder="Bearer …" errors field="auth.value" />
                            </div>
                        </div>
                    }.into_any(),
                    "basic" => view! {
                        <div class="row">
                            <div>
                                <LabeledText label="Username" value=form.auth_username id="f-auth-user" testid="auth-username" errors field="auth.username" />
                            </div>
                            <div>
                                <LabeledText label="Password (secret)" value=form.auth_password id="f-auth-pass" testid="auth-password" kind="password" errors field="auth.password" />
                            </div>
                        </div>
                    }.into_any(),
                    _ => ().into_any(),
                }}
                <p class="hint">"Secrets are write-only: a saved secret shows as ******** and is kept unless you type a new one."</p>

                <h3>"Extra headers"</h3>
                <For each=move || form.headers.get() key=|h| h.id let:h>
                    {
                        let index = move || form.headers.with(|hs| hs.iter().position(|x| x.id == h.id).unwrap_or(0));
                        view! {
                            <div class="row header-row" data-testid="header-row">
                                <div>
                                    <TextInput value=h.name testid="header-name" label="Header name" placeholder="X-Source" />
                                    {move || view! { <FieldErr errors field=format!("headers[{}].name", index()) /> }}
                                </div>
                                <div>
                                    <TextInput value=h.value testid="header-value" label="Header value" />
                                    {move || view! { <FieldErr errors field=format!("headers[{}].value", index()) /> }}
                                </div>
                                <button type="button" class="small" data-testid="remove-header"
                                    on:click=move |_| form.headers.update(|hs| hs.retain(|x| x.id != h.id))>"Remove"</button>
                            </div>
                        }
                    }
                </For>
                <button type="button" class="small" data-testid="add-header"
                    on:click=move |_| form.headers.update(|hs| hs.push(header_row("", "")))>"Add header"</button>
            </fieldset>

            <fieldset disabled=readonly>
                <legend>"Triggers"</legend>
                <p class="hint">"The events that fire this webhook, each with optional filters on its fields."</p>
                <FieldErr errors field="triggers" />
                <For each=move || form.triggers.get() key=|t| t.id let:t>
                    {
                        let index = move || form.triggers.with(|ts| ts.iter().position(|x| x.id == t.id).unwrap_or(0));
                        view! {
                            <div class="trigger" data-testid="trigger-row">
                                <div class="row">
                                    <TextInput value=t.event_type testid="trigger-type" list="event-types" label="Event type" placeholder="contact.created" />
                                    <button type="button" class="small" data-testid="add-filter"
                                        on:click=move |_| t.filters.update(|fs| fs.push(filter_row(&Filter::default())))>"Add filter"</button>
                                    <button type="button" class="small" data-testid="remove-trigger"
                                        on:click=move |_| form.triggers.update(|ts| ts.retain(|x| x.id != t.id))>"Remove"</button>
                                </div>
                                {move || view! { <FieldErr errors field=format!("triggers[{}].event_type", index()) /> }}
                                <For each=move || t.filters.get() key=|f| f.id let:f>
                                    {
                                        let findex = move || t.filters.with(|fs| fs.iter().position(|x| x.id == f.id).unwrap_or(0));
                                        view! {
                                            <div class="row filter-row" data-testid="filter-row">
                                                <TextInput value=f.field testid="filter-field" list="field-options" label="Filter field" placeholder="lead.type" />
                                                <SelectInput value=f.op testid="filter-op" label="Filter operator" options=options(&FilterOp::ALL, FilterOp::as_str, FilterOp::label) />
                                                {move || (f.op.get() != "exists").then(|| view! {
                                                    <TextInput value=f.value testid="filter-value" label="Filter value"
                                                        placeholder=if f.op.get() == "in" { "call, chat, form" } else { "value" } />
                                                })}
                                                <button type="button" class="small" data-testid="remove-filter"
                                                    on:click=move |_| t.filters.update(|fs| fs.retain(|x| x.id != f.id))>"Remove"</button>
                                            </div>
                                            {move || view! { <FieldErr errors field=format!("triggers[{}].filters[{}].field", index(), findex()) /> }}
                                            {move || view! { <FieldErr errors field=format!("triggers[{}].filters[{}].value", index(), findex()) /> }}
                                        }
                                    }
                                </For>
                            </div>
                        }
                    }
                </For>
                <button type="button" class="small" data-testid="add-trigger"
                    on:click=move |_| form.triggers.update(|ts| ts.push(trigger_row(&Trigger::default())))>"Add trigger"</button>
            </fieldset>

            <fieldset disabled=readonly>
                <legend>"Field mapping"</legend>
                <p class="hint">"Keys are sent exactly as typed. A value is a record field, a constant, or a template such as "
                    <code>"{account.id}-{contact.id}"</code> ". With no rows the whole event is sent."</p>
                <For each=move || form.mapping.get() key=|m| m.id let:m>
                    {
                        let index = move || form.mapping.with(|ms| ms.iter().position(|x| x.id == m.id).unwrap_or(0));
                        let count = move || form.mapping.with(Vec::len);
                        let warning = move || {
                            let key = m.key.get();
                            if !key.is_empty() && key.trim() != key {
                                Some("This key starts or ends with a space; it will be sent like that.".to_string())
                            } else if !key.is_empty() && form.mapping.with(|ms| ms.iter().filter(|x| x.key.get() == key).count() > 1) {
                                Some("This key is used more than once.".to_string())
                            } else {
                                None
                            }
                        };
                        let placeholder = move || match m.kind.get().as_str() {
                            "constant" => "fixed text",
                            "template" => "{account.id}-{contact.id}",
                            _ => "contact.first_name",
                        };
                        view! {
                            <div class="row mapping-row" data-testid="mapping-row">
                                <div>
                                    <TextInput value=m.key testid="mapping-key" label="Key" placeholder="key" invalid=Signal::derive(move || errors.with(|es| es.iter().any(|e| e.field == format!("mapping[{}].key", index())))) />
                                    {move || view! { <FieldErr errors field=format!("mapping[{}].key", index()) /> }}
                                    {move || warning().map(|w| view! { <p class="field-warning" data-testid="mapping-warning">{w}</p> })}
                                </div>
                                <SelectInput value=m.kind testid="mapping-kind" label="Value type"
                                    options=pairs(&[("field", "Field"), ("constant", "Constant"), ("template", "Template")]) />
                                <div>
                                    {move || view! {
                                        <TextInput value=m.value testid="mapping-value" label="Value" placeholder=placeholder()
                                            list=if m.kind.get() == "field" { "field-options" } else { "" } />
                                    }}
                                    {move || view! { <FieldErr errors field=format!("mapping[{}].value", index()) /> }}
                                </div>
                                <div class="row-actions">
                                    <button type="button" class="small" data-testid="move-up" aria-label="Move up"
                                        disabled=move || index() == 0
                                        on:click=move |_| { let i = index(); form.mapping.update(|ms| if i > 0 { ms.swap(i, i - 1) }) }>"↑"</button>
                                    <button type="button" class="small" data-testid="move-down" aria-label="Move down"
                                        disabled=move || { index() + 1 >= count() }
                                        on:click=move |_| { let i = index(); form.mapping.update(|ms| if i + 1 < ms.len() { ms.swap(i, i + 1) }) }>"↓"</button>
                                    <button type="button" class="small" data-testid="remove-mapping"
                                        on:click=move |_| form.mapping.update(|ms| ms.retain(|x| x.id != m.id))>"Remove"</button>
                                </div>
                            </div>
                        }
                    }
                </For>
                <button type="button" class="small" data-testid="add-mapping"
                    on:click=move |_| form.mapping.update(|ms| ms.push(map_row("", &MappingValue::Field(String::new()))))>"Add mapping row"</button>
            </fieldset>

            <fieldset disabled=readonly>
                <legend>"Delivery"</legend>
                <div class="row">
                    <div>
                        <label for="f-exec">"Execution"</label>
                        <SelectInput value=form.execution_mode id="f-exec" testid="execution-mode"
                            options=pairs(&[("background", "Background (never slows the action)"), ("inline", "Inline (the action waits for the first attempt)")]) />
                    </div>
                    <div>
                        <label for="f-delivery">"Delivery"</label>
                        <SelectInput value=form.delivery_mode id="f-delivery" testid="delivery-mode"
                            options=pairs(&[("fast", DeliveryMode::Fast.label()), ("queued", DeliveryMode::Queued.label())]) />
                    </div>
                </div>
                <div class="row">
                    <div>
                        <LabeledText label="Max attempts" value=form.max_attempts id="f-attempts" testid="max-attempts" kind="number" errors field="retry.max_attempts" />
                    </div>
                    <div>
                        <LabeledText label="Retry schedule (seconds)" value=form.schedule id="f-schedule" testid="schedule" errors field="retry.schedule_s" />
                    </div>
                    <div>
                        <LabeledText label="Timeout (ms)" value=form.timeout_ms id="f-timeout" testid="timeout" kind="number" errors field="timeout_ms" />
                    </div>
                </div>
                <label class="check" for="f-active">
                    <CheckInput value=form.active id="f-active" testid="active" />
                    "Active"
                </label>
            </fieldset>

            {(!readonly).then(|| view! {
                <div class="actions">
                    <button type="submit" class="primary" data-testid="save" disabled=move || save.pending().get()>
                        {if is_new { "Create webhook" } else { "Save changes" }}
                    </button>
                    <a href="/webhooks" class="button">"Cancel"</a>
                    {(!is_new).then(|| view! {
                        <button type="button" class="danger" data-testid="delete" on:click=move |_| confirm_delete.set(true)>"Delete"</button>
                    })}
                </div>
            })}
            {move || confirm_delete.get().then(|| {
                let id = id.clone().unwrap_or_default();
                view! {
                    <div class="confirm" role="alertdialog" aria-label="Confirm delete" data-testid="confirm-delete">
                        <p>"Delete this webhook? It stops firing at once; its delivery history is kept."</p>
                        <button type="button" class="danger" data-testid="confirm-delete-yes"
                            on:click=move |_| { delete.dispatch(DeleteWebhook { id: id.clone() }); }>"Delete webhook"</button>
                        <button type="button" data-testid="confirm-delete-no" on:click=move |_| confirm_delete.set(false)>"Keep it"</button>
                    </div>
                }
            })}
        </form>

        <aside class="preview" aria-label="Request preview" data-testid="preview">
            <h2>"Preview"</h2>
            <label for="f-sample">"Sample event"</label>
            <select id="f-sample" data-testid="preview-type" on:change=move |ev| preview_type.set(event_target_value(&ev))>
                {move || form.triggers.get().iter().map(|t| {
                    let name = t.event_type.get();
                    view! { <option value=name.clone()>{name.clone()}</option> }
                }).collect_view()}
            </select>
            {move || match preview.get() {
                Ok(request) => view! {
                    <pre class="request-line" data-testid="preview-request-line">{format!("{} {}", request.method, request.url)}</pre>
                    <pre class="headers" data-testid="preview-headers">{request.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>()}
                        "webhook-id: evt_…\nwebhook-timestamp: …\nwebhook-signature: v1,…\n"</pre>
                    <pre class="body" data-testid="preview-body">{request.body.unwrap_or_else(|| "(no body: GET sends the fields in the query string)".into())}</pre>
                }.into_any(),
                Err(e) => view! { <p class="field-warning" data-testid="preview-error">{e}</p> }.into_any(),
            }}
        </aside>
        </div>
        {(!is_new && !readonly).then(|| {
            let types: Vec<String> = initial_types.clone();
            let id = id_for_test.clone().unwrap_or_default();
            view! {
                <TestPanel id=id.clone() types />
                <RotatePanel id />
            }
        })}
    }
}

/// Rotates the signing secret and shows the new one once.
#[component]
fn RotatePanel(id: String) -> impl IntoView {
    let action = ServerAction::<RotateSecret>::new();
    let confirm = RwSignal::new(false);
    view! {
        <section class="test-panel" aria-label="Signing secret" data-testid="rotate-panel">
            <h2>"Signing secret"</h2>
            <p class="hint">"Every request is signed (Standard Webhooks). Rotating makes a new secret; for 24 hours requests carry signatures with both, so the receiver can switch over."</p>
            {move || match action.value().get() {
                Some(Ok(secret)) => view! {
                    <p>"New signing secret, shown this once:"</p>
                    <p><code class="secret" data-testid="rotated-secret">{secret}</code></p>
                }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{error_message(&e)}</p> }.into_any(),
                None if confirm.get() => {
                    let id = id.clone();
                    view! {
                        <p>"Rotate now? The receiver must learn the new secret within 24 hours."</p>
                        <button type="button" class="danger" data-testid="rotate-yes"
                            on:click=move |_| { action.dispatch(RotateSecret { id: id.clone() }); }>"Rotate secret"</button>
                        <button type="button" on:click=move |_| confirm.set(false)>"Cancel"</button>
                    }.into_any()
                }
                None => view! {
                    <button type="button" data-testid="rotate" on:click=move |_| confirm.set(true)>"Rotate signing secret…"</button>
                }.into_any(),
            }}
        </section>
    }
}

/// Sends a sample event to the saved webhook and shows what happened.
#[component]
fn TestPanel(id: String, types: Vec<String>) -> impl IntoView {
    let action = ServerAction::<TestWebhook>::new();
    let first = types
        .first()
        .cloned()
        .unwrap_or_else(|| "webhook.test".to_string());
    let event_type = RwSignal::new(first);
    let options: Vec<(String, String)> = types.iter().map(|t| (t.clone(), t.clone())).collect();
    view! {
        <section class="test-panel" aria-label="Test send" data-testid="test-panel">
            <h2>"Test"</h2>
            <p class="hint">"Sends a sample event to the saved webhook now and shows the full request and response. It is recorded like any delivery."</p>
            <div class="row">
                <SelectInput value=event_type testid="test-event-type" label="Sample event" options />
                <button type="button" class="primary" data-testid="send-test"
                    disabled=move || action.pending().get()
                    on:click=move |_| { action.dispatch(TestWebhook { id: id.clone(), event_type: event_type.get() }); }>
                    {move || if action.pending().get() { "Sending…" } else { "Send test" }}
                </button>
            </div>
            {move || action.value().get().map(|result| match result {
                Ok(sent) => view! { <TestResult sent /> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert" data-testid="test-error">{error_message(&e)}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn TestResult(sent: TestSend) -> impl IntoView {
    let request = &sent.request;
    let request_text = format!(
        "{} {}\n{}\n\n{}",
        request.method,
        request.url,
        request
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        request.body.clone().unwrap_or_default()
    );
    let answer = match (sent.response, sent.error) {
        (Some(r), _) => view! {
            <h3>"Response "<span data-testid="test-status">{r.status}</span>" in "{r.duration_ms}" ms"</h3>
            <pre data-testid="test-response-headers">{r.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>()}</pre>
            <pre data-testid="test-response-body">{r.body}</pre>
        }.into_any(),
        (None, Some(e)) => view! { <p class="form-error" role="alert" data-testid="test-error">{e}</p> }.into_any(),
        (None, None) => ().into_any(),
    };
    view! {
        <div class="test-result" data-testid="test-result">
            <h3>"Request"</h3>
            <pre data-testid="test-request">{request_text}</pre>
            {answer}
        </div>
    }
}
