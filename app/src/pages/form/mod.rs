//! Create and edit a webhook: every field of PRODUCT.md section 2, mapping
//! rows that can be added, removed and reordered, and a live preview of the
//! exact request for a sample record, rendered in the browser by the same
//! engine code that delivers it.
//!
//! # Layout
//! - `state`: the form's signals and reading them back into a webhook.
//! - One component per fieldset, in the form's order: `destination`,
//!   `authentication` (with the extra headers), `triggers`, `mapping`,
//!   `delivery`.
//! - `preview`: the live request preview beside the form.
//! - `panels`: test send and secret rotation below a saved webhook.

mod authentication;
mod delivery;
mod destination;
mod mapping;
pub(crate) mod panels;
mod preview;
mod state;
mod triggers;

use engine::catalog::{Catalog, FilterChoices, OwnEventType};
use engine::model::{Role, Trigger, User, WebhookInput, WebhookView};
use engine::validate::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::inputs::TextInput;
use super::{ErrorPanel, Layout, error_message};
use crate::api::{DeleteWebhook, SaveOutcome, SaveWebhook, get_webhook};
use authentication::AuthenticationFields;
use delivery::DeliveryFields;
use destination::DestinationFields;
use mapping::MappingFields;
use panels::{RotatePanel, TestPanel};
use preview::Preview;
use state::FormState;
use triggers::TriggerFields;

#[component]
pub fn NewWebhookPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| with_choices(None));
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, _, choices, own_types)) => view! { <Layout user=user.clone()><WebhookForm user hook=None choices own_types /></Layout> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn EditWebhookPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("id"), with_choices);
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, hook, choices, own_types)) => view! { <Layout user=user.clone()><WebhookForm user hook choices own_types /></Layout> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The webhook (none: a new one) and the account's values for the
/// triggers' ready-made filters.
/// A webhook (none for a new one) and what the form's pickers offer: the
/// account's own values and its own event types.
async fn with_choices(id: Option<String>) -> Result<FormData, ServerFnError> {
    let (user, hook) = get_webhook(id).await?;
    let choices = crate::api::records::filter_choices().await?;
    let own_types = crate::api::records::own_event_types().await?;
    Ok((user, hook, choices, own_types))
}

type FormData = (User, Option<WebhookView>, FilterChoices, Vec<OwnEventType>);

pub(super) fn options<T: Copy>(
    all: &[T],
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|&x| (value(x).to_string(), label(x).to_string()))
        .collect()
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

/// What each fieldset of the form works on.
#[derive(Clone, Copy)]
pub(super) struct Fieldset {
    form: FormState,
    errors: RwSignal<Vec<FieldError>>,
    /// A support user reads the form but cannot change it.
    readonly: bool,
}

/// Shows the error for one field, if there is one.
#[component]
pub(super) fn FieldErr(
    errors: RwSignal<Vec<FieldError>>,
    #[prop(into)] field: String,
) -> impl IntoView {
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
pub(super) fn LabeledText(
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
pub fn WebhookForm(
    user: User,
    hook: Option<WebhookView>,
    choices: FilterChoices,
    own_types: Vec<OwnEventType>,
) -> impl IntoView {
    let readonly = user.role != Role::Admin;
    // The triggers' ready-made filters offer the account's own values.
    provide_context(StoredValue::new(choices));
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
    let form = FormState::new(&initial);
    let errors: RwSignal<Vec<FieldError>> = RwSignal::new(Vec::new());
    let fieldset = Fieldset {
        form,
        errors,
        readonly,
    };
    let catalog = StoredValue::new(Catalog::with_own(own_types));
    let save = ServerAction::<SaveWebhook>::new();
    let created_secret: RwSignal<Option<String>> = RwSignal::new(None);
    let general_error: RwSignal<Option<String>> = RwSignal::new(None);
    follow_save(save, errors, created_secret, general_error);

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
    let heading = match &hook {
        Some(h) => format!("Edit webhook: {}", h.input.title),
        None => "New webhook".to_string(),
    };
    let types: Vec<String> = initial
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
        {move || created_secret.get().map(|secret| view! { <CreatedPanel secret /> })}
        <Pickers form catalog />
        <div class="form-grid" class:hidden=move || created_secret.get().is_some()>
        <form class="webhook-form" on:submit=on_submit novalidate data-testid="webhook-form">
            <FormProblems errors general_error />
            <DestinationFields of=fieldset />

            <AuthenticationFields of=fieldset />

            <TriggerFields of=fieldset />

            <MappingFields of=fieldset />

            <DeliveryFields of=fieldset />

            {(!readonly).then(|| view! { <FormActions id=id.clone() save general_error /> })}
        </form>

        <Preview form catalog />
        </div>
        {id.filter(|_| !readonly).map(|id| view! {
            <TestPanel id=id.clone() types />
            <RotatePanel id />
        })}
    }
}

/// The outcome of a save: errors beside their fields, the new webhook's
/// secret, or on to the list.
fn follow_save(
    save: ServerAction<SaveWebhook>,
    errors: RwSignal<Vec<FieldError>>,
    created_secret: RwSignal<Option<String>>,
    general_error: RwSignal<Option<String>>,
) {
    let navigate = use_navigate();
    Effect::new(move |_| match save.value().get() {
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
    });
}

/// The signing secret of a webhook just created, shown this once.
#[component]
fn CreatedPanel(secret: String) -> impl IntoView {
    view! {
        <div class="secret-panel" role="status" data-testid="created-panel">
            <h2>"Webhook created"</h2>
            <p>"Its signing secret is shown this once. Give it to the receiving system so it can verify each request's "
                <code>"webhook-signature"</code> " header."</p>
            <p><code class="secret" data-testid="signing-secret">{secret}</code></p>
            <a class="button primary" href="/webhooks" data-testid="done">"Done"</a>
        </div>
    }
}

/// The event types and, for the triggers chosen, every field their events
/// carry: the lists the form's pickers offer.
#[component]
fn Pickers(form: FormState, catalog: StoredValue<Catalog>) -> impl IntoView {
    let fields = Memo::new(move |_| {
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
    let field_options = move || {
        fields
            .get()
            .into_iter()
            .map(|(path, example)| view! { <option value=path>{example}</option> })
            .collect_view()
    };
    let type_options = catalog.with_value(|c| {
        c.types()
            .iter()
            .map(|t| view! { <option value=t.name.clone()>{t.description.clone()}</option> })
            .collect_view()
    });
    view! {
        <datalist id="event-types">{type_options}</datalist>
        <datalist id="field-options">{field_options}</datalist>
    }
}

/// How many problems the last save found, and any error not tied to a field.
#[component]
fn FormProblems(
    errors: RwSignal<Vec<FieldError>>,
    general_error: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        {move || {
            let count = errors.with(Vec::len);
            (count > 0).then(|| view! {
                <p class="form-error" role="alert" data-testid="form-errors">
                    {if count == 1 { "Fix the problem marked below.".to_string() } else { format!("Fix the {count} problems marked below.") }}
                </p>
            })
        }}
        {move || general_error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="general-error">{e}</p> })}
    }
}

/// Save, cancel and, for a saved webhook, delete after a confirmation.
#[component]
fn FormActions(
    id: Option<String>,
    save: ServerAction<SaveWebhook>,
    general_error: RwSignal<Option<String>>,
) -> impl IntoView {
    let delete = ServerAction::<DeleteWebhook>::new();
    let confirm_delete = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => navigate("/webhooks", Default::default()),
        Some(Err(e)) => general_error.set(Some(error_message(&e))),
        None => {}
    });
    let is_new = id.is_none();
    view! {
        <div class="actions">
            <button type="submit" class="primary" data-testid="save" disabled=move || save.pending().get()>
                {if is_new { "Create webhook" } else { "Save changes" }}
            </button>
            <a href="/webhooks" class="button">"Cancel"</a>
            {(!is_new).then(|| view! {
                <button type="button" class="danger" data-testid="delete" on:click=move |_| confirm_delete.set(true)>"Delete"</button>
            })}
        </div>
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
    }
}
