//! One contact: its fields (a form for admins, facts for support), its
//! statuses, flags and assigned users, leads, to-dos, and the deliveries
//! about it. Every change is a plain form (it works without JavaScript)
//! and says which webhooks its event reached.

use engine::model::{
    ContactDetail, EmittedEvent, ItemKind, LeadType, RecordItem, Role, WebhookTitle,
};
use engine::reports::{DeliveryState, query_pair};
use engine::validate::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::contacts::ItemSelect;
use super::{ErrorPanel, Layout, StatusBadge, error_message, fmt_time};
use crate::api::records::{
    AddLead, AddTodo, ChangeContact, ChangeTodo, ContactChange, DeleteContact, ExecutePreview,
    ExecuteWebhook, Items, SaveContact, custom_fields_text, load_contact,
};
use crate::pages::RequestText;
use crate::pages::form::panels::TestResult;

/// The page's actions; a change that was done reloads the page's data.
#[derive(Clone, Copy)]
struct Actions {
    save: ServerAction<SaveContact>,
    change: ServerAction<ChangeContact>,
    lead: ServerAction<AddLead>,
    todo: ServerAction<AddTodo>,
    todo_change: ServerAction<ChangeTodo>,
    /// Bumped by each change done (not by a refused one, so a form keeps
    /// what was typed).
    done: RwSignal<u32>,
    /// The outcome of the change made last, whichever form made it.
    latest: RwSignal<Option<Result<ContactChange, ServerFnError>>>,
    /// The add-a-lead and add-a-to-do forms, emptied once their change is done.
    lead_form: NodeRef<leptos::html::Form>,
    todo_form: NodeRef<leptos::html::Form>,
    /// "Execute webhook": the webhook chosen, its request, the send.
    chosen: RwSignal<String>,
    preview: ServerAction<ExecutePreview>,
    execute: ServerAction<ExecuteWebhook>,
}

impl Actions {
    fn new() -> Actions {
        let actions = Actions {
            save: ServerAction::new(),
            change: ServerAction::new(),
            lead: ServerAction::new(),
            todo: ServerAction::new(),
            todo_change: ServerAction::new(),
            done: RwSignal::new(0),
            latest: RwSignal::new(None),
            lead_form: NodeRef::new(),
            todo_form: NodeRef::new(),
            chosen: RwSignal::new(String::new()),
            preview: ServerAction::new(),
            execute: ServerAction::new(),
        };
        // A send adds a delivery to the page's list.
        Effect::new(move |_| {
            if let Some(Ok(_)) = actions.execute.value().get() {
                actions.done.update(|n| *n += 1);
            }
        });
        let watch = move |value: Signal<Option<Result<ContactChange, ServerFnError>>>,
                          form: Option<NodeRef<leptos::html::Form>>| {
            Effect::new(move |_| {
                let Some(outcome) = value.get() else {
                    return;
                };
                if let Ok(ContactChange::Done { .. }) = &outcome {
                    if let Some(form) = form.and_then(|f| f.get_untracked()) {
                        form.reset();
                    }
                    actions.done.update(|n| *n += 1);
                }
                actions.latest.set(Some(outcome));
            });
        };
        watch(actions.save.value().into(), None);
        watch(actions.change.value().into(), None);
        watch(actions.lead.value().into(), Some(actions.lead_form));
        watch(actions.todo.value().into(), Some(actions.todo_form));
        watch(actions.todo_change.value().into(), None);
        actions
    }
}

/// The errors of the last outcome of `action`, if it was refused.
fn refused(value: Option<Result<ContactChange, ServerFnError>>) -> Vec<FieldError> {
    match value {
        Some(Ok(ContactChange::Invalid(errors))) => errors,
        Some(Err(e)) => vec![FieldError::new("", "failed", error_message(&e))],
        _ => Vec::new(),
    }
}

/// The message for `field` (or any field under it) among `errors`.
fn message_for(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
        .map(|e| e.message.clone())
}

#[component]
pub fn NewContactPage() -> impl IntoView {
    let actions = Actions::new();
    let data = Resource::new(|| (), |_| load_contact(None));
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! {
                        <Layout user=view.user>
                            <p class="crumbs"><a href="/contacts">"Contacts"</a></p>
                            <h1>"New contact"</h1>
                            <ContactForm contact=None items=view.items actions />
                        </Layout>
                    }
                        .into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn ContactPage() -> impl IntoView {
    let params = use_params_map();
    let actions = Actions::new();
    let data = Resource::new(
        move || {
            (
                params.get().get("id").unwrap_or_default(),
                actions.done.get(),
            )
        },
        |(id, _)| load_contact(Some(id)),
    );
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let Some(detail) = view.contact else {
                            return view! { <p class="page">"No contact."</p> }.into_any();
                        };
                        let admin = view.user.role == Role::Admin;
                        let name = detail.contact.display_name();
                        let id = detail.contact.id.clone();
                        view! {
                            <Layout user=view.user>
                                <p class="crumbs"><a href="/contacts">"Contacts"</a></p>
                                <div class="page-head">
                                    <h1 data-testid="contact-name">{name}</h1>
                                    {admin.then(|| view! { <DeleteButton id=id.clone() /> })}
                                </div>
                                <Outcome actions webhooks=view.webhooks.clone() />
                                <div class="contact-grid">
                                    <section aria-labelledby="details-h">
                                        <h2 id="details-h">"Details"</h2>
                                        {if admin {
                                            view! { <ContactForm contact=Some(detail.clone()) items=view.items.clone() actions /> }.into_any()
                                        } else {
                                            view! { <Facts detail=detail.clone() /> }.into_any()
                                        }}
                                    </section>
                                    <div>
                                        {admin.then(|| view! { <ExecutePanel id=id.clone() webhooks=view.webhooks.clone() actions /> })}
                                        <Labels detail=detail.clone() items=view.items.clone() admin actions />
                                        <Leads detail=detail.clone() items=view.items.clone() admin actions />
                                        <Todos detail=detail.clone() items=view.items.clone() admin actions />
                                    </div>
                                </div>
                                <Deliveries id deliveries=view.deliveries webhooks=view.webhooks />
                            </Layout>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the last change did: its events and where they went (inline
/// webhooks with their answer), or why it was refused.
#[component]
fn Outcome(actions: Actions, webhooks: Vec<WebhookTitle>) -> impl IntoView {
    move || {
        let mut events: Vec<EmittedEvent> = Vec::new();
        let mut errors = Vec::new();
        match actions.latest.get() {
            Some(Ok(ContactChange::Done { events: e, .. })) => events.extend(e),
            // Errors of a form's own fields show beside them; the rest here.
            Some(Ok(ContactChange::Invalid(e))) => errors.extend(e.into_iter().filter(|e| {
                e.field.is_empty()
                    || e.code.starts_with("unknown_")
                    || e.code == "not_on_contact"
                    || e.code == "conflict"
            })),
            Some(Err(e)) => errors.push(FieldError::new("", "failed", error_message(&e))),
            None => {}
        }
        let webhooks = webhooks.clone();
        view! {
            {errors.into_iter().map(|e| view! { <p class="form-error" role="alert" data-testid="change-error">{e.message}</p> }).collect_view()}
            {(!events.is_empty()).then(|| view! {
                <div class="notice" role="status" data-testid="change-outcome">
                    <strong>"Saved."</strong>
                    <ul>
                        {events.into_iter().map(|event| {
                            let sent = if event.deliveries.is_empty() {
                                "no webhook asked for it".to_string()
                            } else {
                                event.deliveries.iter().map(|d| {
                                    let title = WebhookTitle::of(&webhooks, &d.webhook_id).unwrap_or(&d.webhook_id).to_string();
                                    match d.response_status {
                                        Some(code) => format!("{title}: {} ({code})", d.status.as_str()),
                                        None => format!("{title}: {}", d.status.as_str()),
                                    }
                                }).collect::<Vec<_>>().join("; ")
                            };
                            view! { <li><code>{event.event_type}</code>" → "{sent}</li> }
                        }).collect_view()}
                    </ul>
                </div>
            })}
        }
    }
}

/// A text input of the contact form with its label and message.
#[component]
fn Field(
    name: &'static str,
    label: &'static str,
    value: String,
    #[prop(optional)] kind: Option<&'static str>,
    /// The engine's field name, when it is not `name`.
    #[prop(optional)]
    field: Option<&'static str>,
    errors: Signal<Vec<FieldError>>,
) -> impl IntoView {
    let id = format!("contact-{name}");
    let error_id = format!("{id}-error");
    let field = field.unwrap_or(name);
    let message = move || message_for(&errors.get(), field);
    view! {
        <div>
            <label for=id.clone()>{label}</label>
            <input id=id.clone() name=name type=kind.unwrap_or("text") value=value data-testid=id.clone()
                aria-invalid=move || message().is_some().then_some("true")
                aria-describedby=move || message().is_some().then_some(error_id.clone()) />
            {move || message().map(|m| view! { <p class="field-error" id=format!("contact-{name}-error")>{m}</p> })}
        </div>
    }
}

#[component]
fn ContactForm(contact: Option<ContactDetail>, items: Items, actions: Actions) -> impl IntoView {
    let save = actions.save;
    let errors = Signal::derive(move || refused(save.value().get()));
    let c = contact.as_ref().map(|d| d.contact.clone());
    let v = |f: fn(&engine::model::Contact) -> Option<String>| {
        c.as_ref().and_then(f).unwrap_or_default()
    };
    let (first, last, email, phone) = (
        v(|c| Some(c.first_name.clone())),
        v(|c| Some(c.last_name.clone())),
        v(|c| c.email.clone()),
        v(|c| c.phone.clone()),
    );
    let (street, city, region, postcode, country) = (
        v(|c| c.address.street.clone()),
        v(|c| c.address.city.clone()),
        v(|c| c.address.state.clone()),
        v(|c| c.address.postcode.clone()),
        v(|c| c.address.country.clone()),
    );
    let (state, external_id) = (v(|c| c.state.clone()), v(|c| c.external_id.clone()));
    let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    let custom = c
        .as_ref()
        .map(|c| custom_fields_text(&c.custom_fields))
        .unwrap_or_default();
    let custom_error = move || message_for(&errors.get(), "custom_fields");
    let form_error = move || {
        errors
            .get()
            .into_iter()
            .find(|e| e.field.is_empty())
            .map(|e| e.message)
    };
    let select = move |kind: ItemKind,
                       id: &'static str,
                       name: &'static str,
                       label: &'static str,
                       chosen: Option<String>| {
        let message = move || message_for(&errors.get(), name);
        view! {
            <div>
                <ItemSelect id name label items=items.of(kind).to_vec() chosen by_id=false none="None" />
                {move || message().map(|m| view! { <p class="field-error">{m}</p> })}
            </div>
        }
    };
    let source = select(
        ItemKind::Source,
        "contact-source",
        "source",
        "Source",
        c.as_ref().and_then(|c| c.source.clone()),
    );
    let category = select(
        ItemKind::Category,
        "contact-category",
        "category",
        "Category",
        c.as_ref().and_then(|c| c.category.clone()),
    );
    view! {
        <ActionForm action=save attr:class="contact-form" attr:data-testid="contact-form">
            <input type="hidden" name="id" value=id.clone() />
            <div class="row">
                <Field name="first_name" label="First name" value=first errors />
                <Field name="last_name" label="Last name" value=last errors />
            </div>
            <div class="row">
                <Field name="email" label="Email" kind="email" value=email errors />
                <Field name="phone" label="Phone" kind="tel" value=phone errors />
            </div>
            <div class="row">
                <Field name="street" field="address.street" label="Street" value=street errors />
                <Field name="city" field="address.city" label="City" value=city errors />
            </div>
            <div class="row">
                <Field name="region" field="address.state" label="State / region" value=region errors />
                <Field name="postcode" field="address.postcode" label="Postcode" value=postcode errors />
                <Field name="country" field="address.country" label="Country" value=country errors />
            </div>
            <div class="row">
                <Field name="state" label="State" value=state errors />
                {source}
                {category}
            </div>
            <Field name="external_id" label="External id (the contact's id in another system)" value=external_id errors />
            <label for="contact-custom">"Custom fields"</label>
            <textarea id="contact-custom" name="custom_fields" rows="3" data-testid="contact-custom"
                aria-describedby="contact-custom-hint">{custom}</textarea>
            <p class="hint" id="contact-custom-hint">"One per line: " <code>"name = value"</code> ", e.g. " <code>"preferred_time = Morning"</code></p>
            {move || custom_error().map(|m| view! { <p class="field-error">{m}</p> })}
            {move || form_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            <div class="actions">
                <button type="submit" class="primary" data-testid="contact-save" disabled=move || save.pending().get()>
                    {if id.is_empty() { "Create contact" } else { "Save contact" }}
                </button>
            </div>
        </ActionForm>
    }
}

/// The contact's fields, read-only (support users).
#[component]
fn Facts(detail: ContactDetail) -> impl IntoView {
    let c = detail.contact;
    let address = [
        &c.address.street,
        &c.address.city,
        &c.address.state,
        &c.address.postcode,
        &c.address.country,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect::<Vec<_>>()
    .join(", ");
    let rows = [
        ("Email", c.email.clone().unwrap_or_default()),
        ("Phone", c.phone.clone().unwrap_or_default()),
        ("Address", address),
        ("State", c.state.clone().unwrap_or_default()),
        ("Source", c.source.clone().unwrap_or_default()),
        ("Category", c.category.clone().unwrap_or_default()),
        ("External id", c.external_id.clone().unwrap_or_default()),
        ("Custom fields", custom_fields_text(&c.custom_fields)),
        ("Created", fmt_time(c.created_at)),
        ("Changed", fmt_time(c.updated_at)),
    ];
    view! {
        <dl class="facts" data-testid="contact-facts">
            {rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{if v.is_empty() { "—".to_string() } else { v }}</dd> }).collect_view()}
        </dl>
    }
}

/// One chip per status, flag or user, with a remove button for admins,
/// and a select to add one.
#[component]
fn LabelGroup(
    id: String,
    title: &'static str,
    /// `status`, `flag` or `user`.
    kind: &'static str,
    /// What the contact has: (value sent to remove, text shown).
    has: Vec<(String, String)>,
    items: Vec<RecordItem>,
    admin: bool,
    change: ServerAction<ChangeContact>,
) -> impl IntoView {
    let (add, remove) = match kind {
        "status" => ("add_status", "remove_status"),
        "flag" => ("add_flag", "remove_flag"),
        _ => ("assign", "unassign"),
    };
    let by_id = kind == "user";
    let present: Vec<String> = has.iter().map(|(v, _)| v.clone()).collect();
    let offered: Vec<RecordItem> = items
        .into_iter()
        .filter(|i| i.active && !present.contains(if by_id { &i.id } else { &i.name }))
        .collect();
    let select_id = format!("add-{kind}");
    view! {
        <h3>{title}</h3>
        <ul class="chips" data-testid=format!("{kind}-chips")>
            {if has.is_empty() { Some(view! { <li class="muted">"None"</li> }) } else { None }}
            {has.into_iter().map(|(value, text)| {
                let label = format!("Remove {text}");
                let id = id.clone();
                view! {
                    <li class="chip" data-testid=format!("{kind}-chip")>
                        {text.clone()}
                        {admin.then(|| view! {
                            <ActionForm action=change>
                                <input type="hidden" name="id" value=id.clone() />
                                <input type="hidden" name="change" value=remove />
                                <input type="hidden" name="value" value=value.clone() />
                                <button type="submit" class="chip-remove" aria-label=label.clone() title=label.clone()>"×"</button>
                            </ActionForm>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
        {(admin && !offered.is_empty()).then(|| view! {
            <ActionForm action=change attr:class="row add-row">
                <input type="hidden" name="id" value=id.clone() />
                <input type="hidden" name="change" value=add />
                <label for=select_id.clone() class="visually-hidden">{format!("{title} to add")}</label>
                <select id=select_id.clone() name="value" data-testid=select_id.clone()>
                    {offered.into_iter().map(|i| {
                        let value = if by_id { i.id.clone() } else { i.name.clone() };
                        let text = match &i.company { Some(c) if by_id => format!("{} ({c})", i.name), _ => i.name.clone() };
                        view! { <option value=value>{text}</option> }
                    }).collect_view()}
                </select>
                <button type="submit" class="small" data-testid=format!("{select_id}-submit")>
                    {match kind { "user" => "Assign", _ => "Add" }}
                </button>
            </ActionForm>
        })}
    }
}

#[component]
fn Labels(detail: ContactDetail, items: Items, admin: bool, actions: Actions) -> impl IntoView {
    let c = detail.contact;
    let pairs = |v: &[String]| v.iter().map(|s| (s.clone(), s.clone())).collect::<Vec<_>>();
    let users = c
        .assigned_users
        .iter()
        .map(|u| {
            let text = match &u.company {
                Some(company) => format!("{} ({company})", u.name),
                None => u.name.clone(),
            };
            (u.id.clone(), text)
        })
        .collect();
    view! {
        <section class="panel" aria-label="Statuses, flags and assigned users">
            <LabelGroup id=c.id.clone() title="Statuses" kind="status" has=pairs(&c.statuses) items=items.statuses admin change=actions.change />
            <LabelGroup id=c.id.clone() title="Flags" kind="flag" has=pairs(&c.flags) items=items.flags admin change=actions.change />
            <LabelGroup id=c.id.clone() title="Assigned users" kind="user" has=users items=items.users admin change=actions.change />
        </section>
    }
}

#[component]
fn Leads(detail: ContactDetail, items: Items, admin: bool, actions: Actions) -> impl IntoView {
    let id = detail.contact.id.clone();
    view! {
        <section class="panel" aria-labelledby="leads-h">
            <h2 id="leads-h">"Leads"</h2>
            {if detail.leads.is_empty() {
                view! { <p class="muted">"No leads yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain" data-testid="leads">
                        {detail.leads.into_iter().map(|l| view! {
                            <li data-testid="lead">
                                <strong>{l.lead_type.as_str()}</strong>
                                {l.contact_is_new.then_some(" (new contact)")}
                                {l.source.map(|s| format!(" from {s}"))}
                                " · "<span class="muted">{fmt_time(l.created_at)}</span>
                                {(!l.comments.is_empty()).then(|| view! { <br/><span>{l.comments.clone()}</span> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {admin.then(|| view! {
                <ActionForm action=actions.lead node_ref=actions.lead_form attr:class="row add-row" attr:data-testid="lead-form">
                    <input type="hidden" name="id" value=id.clone() />
                    <div>
                        <label for="lead-type">"Type"</label>
                        <select id="lead-type" name="lead_type" data-testid="lead-type">
                            {LeadType::ALL.map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).into_iter().collect_view()}
                        </select>
                    </div>
                    <ItemSelect id="lead-source" name="source" label="Source" items=items.sources chosen=None by_id=false none="None" />
                    <div>
                        <label for="lead-comments">"Comments"</label>
                        <input id="lead-comments" name="comments" data-testid="lead-comments" />
                    </div>
                    <button type="submit" class="small" data-testid="lead-add">"Add lead"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn Todos(detail: ContactDetail, items: Items, admin: bool, actions: Actions) -> impl IntoView {
    let id = detail.contact.id.clone();
    let todo_errors = Signal::derive(move || refused(actions.todo.value().get()));
    let title_error = move || message_for(&todo_errors.get(), "title");
    view! {
        <section class="panel" aria-labelledby="todos-h">
            <h2 id="todos-h">"To-dos"</h2>
            {if detail.todos.is_empty() {
                view! { <p class="muted">"No to-dos."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain" data-testid="todos">
                        {detail.todos.into_iter().map(|t| {
                            let (next, label) = if t.done { ("undone", "Not done") } else { ("done", "Done") };
                            let contact = id.clone();
                            let todo_id = t.id.clone();
                            let (contact2, todo_id2) = (contact.clone(), todo_id.clone());
                            let delete_label = format!("Delete {}", t.title);
                            view! {
                                <li data-testid="todo" data-done=t.done.to_string()>
                                    <span class:done=t.done>{t.title.clone()}</span>
                                    {t.due_at.map(|d| format!(" · due {}", d.format("%Y-%m-%d")))}
                                    {t.assigned_user.map(|u| format!(" · {}", u.name))}
                                    {admin.then(move || view! {
                                        <span class="inline-actions">
                                            <ActionForm action=actions.todo_change>
                                                <input type="hidden" name="id" value=contact.clone() />
                                                <input type="hidden" name="todo_id" value=todo_id.clone() />
                                                <input type="hidden" name="change" value=next />
                                                <button type="submit" class="small" data-testid="todo-toggle">{label}</button>
                                            </ActionForm>
                                            <ActionForm action=actions.todo_change>
                                                <input type="hidden" name="id" value=contact2 />
                                                <input type="hidden" name="todo_id" value=todo_id2 />
                                                <input type="hidden" name="change" value="delete" />
                                                <button type="submit" class="small" data-testid="todo-delete"
                                                    aria-label=delete_label>"Delete"</button>
                                            </ActionForm>
                                        </span>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {admin.then(|| view! {
                <ActionForm action=actions.todo node_ref=actions.todo_form attr:class="row add-row" attr:data-testid="todo-form">
                    <input type="hidden" name="id" value=id.clone() />
                    <div>
                        <label for="todo-title">"To-do"</label>
                        <input id="todo-title" name="title" data-testid="todo-title"
                            aria-invalid=move || title_error().is_some().then_some("true") />
                        {move || title_error().map(|m| view! { <p class="field-error">{m}</p> })}
                    </div>
                    <div>
                        <label for="todo-due">"Due"</label>
                        <input id="todo-due" name="due" type="date" data-testid="todo-due" />
                    </div>
                    <ItemSelect id="todo-user" name="assigned_user_id" label="For" items=items.users chosen=None by_id=true none="Nobody" />
                    <button type="submit" class="small" data-testid="todo-add">"Add to-do"</button>
                </ActionForm>
            })}
        </section>
    }
}

/// "Execute webhook": pick a webhook, see the exact request it will send
/// for this contact (secrets masked), send it, see the answer.
#[component]
fn ExecutePanel(id: String, webhooks: Vec<WebhookTitle>, actions: Actions) -> impl IntoView {
    let live: Vec<WebhookTitle> = webhooks.into_iter().filter(|w| !w.deleted).collect();
    let Actions {
        chosen,
        preview,
        execute,
        ..
    } = actions;
    if chosen.get_untracked().is_empty()
        && let Some(first) = live.first()
    {
        chosen.set(first.id.clone());
    }
    let preview_id = id.clone();
    let show = move || {
        preview.dispatch(ExecutePreview {
            id: preview_id.clone(),
            webhook_id: chosen.get_untracked(),
        });
    };
    let send = move |_| {
        execute.dispatch(ExecuteWebhook {
            id: id.clone(),
            webhook_id: chosen.get_untracked(),
        });
    };
    let empty = live.is_empty();
    view! {
        <section class="panel" aria-labelledby="execute-h" data-testid="execute-panel">
            <h2 id="execute-h">"Execute webhook"</h2>
            {if empty {
                view! { <p class="muted">"No webhooks yet: create one under Webhooks."</p> }.into_any()
            } else {
                let show_now = show.clone();
                view! {
                    <p class="hint">"Sends this contact through a webhook now, whatever its triggers; recorded in the history as a manual delivery."</p>
                    <div class="row add-row">
                        <div>
                            <label for="execute-webhook">"Webhook"</label>
                            <select id="execute-webhook" data-testid="execute-webhook"
                                on:change=move |ev| { chosen.set(event_target_value(&ev)); show_now(); }>
                                {live.into_iter().map(|w| {
                                    let selected = w.id == chosen.get_untracked();
                                    view! { <option value=w.id selected=selected>{w.title}</option> }
                                }).collect_view()}
                            </select>
                        </div>
                        <button type="button" class="small" data-testid="execute-preview"
                            on:click=move |_| show()>"Show request"</button>
                        <button type="button" class="primary" data-testid="execute-send"
                            disabled=move || execute.pending().get() on:click=send>
                            {move || if execute.pending().get() { "Sending…" } else { "Send now" }}
                        </button>
                    </div>
                    {move || preview.value().get().map(|r| match r {
                        Ok(request) => view! {
                            <h3>"The request"</h3>
                            <RequestText request testid="execute-request" />
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{error_message(&e)}</p> }.into_any(),
                    })}
                    {move || execute.value().get().map(|r| match r {
                        Ok(sent) => view! { <TestResult sent /> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert" data-testid="execute-error">{error_message(&e)}</p> }.into_any(),
                    })}
                }.into_any()
            }}
        </section>
    }
}

/// The latest deliveries about this contact, and a link to all of them.
#[component]
fn Deliveries(
    id: String,
    deliveries: Vec<DeliveryState>,
    webhooks: Vec<WebhookTitle>,
) -> impl IntoView {
    let all = format!("/reports/history?{}", query_pair("record", &id));
    view! {
        <section aria-labelledby="deliveries-h">
            <div class="page-head">
                <h2 id="deliveries-h" class="section">"Deliveries about this contact"</h2>
                <a href=all data-testid="contact-history">"All of them in the history"</a>
            </div>
            {if deliveries.is_empty() {
                view! { <p class="muted" data-testid="no-contact-deliveries">"None yet: no webhook has sent an event about this contact."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="list compact" data-testid="contact-deliveries">
                            <thead><tr>
                                <th scope="col">"Time (UTC)"</th>
                                <th scope="col">"Webhook"</th>
                                <th scope="col">"Event"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col">"Last response"</th>
                            </tr></thead>
                            <tbody>
                                {deliveries.into_iter().map(|d| {
                                    let title = WebhookTitle::of(&webhooks, &d.webhook_id).unwrap_or(&d.webhook_id).to_string();
                                    let last = d.last_outcome().unwrap_or_else(|| "—".into());
                                    view! {
                                        <tr data-testid="contact-delivery">
                                            <td class="nowrap"><a href=format!("/reports/deliveries/{}", d.id)>{fmt_time(d.created_at)}</a></td>
                                            <td>{title}</td>
                                            <td>
                                                {d.event_type.clone()}
                                                {d.manual.then(|| view! { <span class="badge off" title="Sent by hand: execute webhook">"manual"</span> })}
                                            </td>
                                            <td><StatusBadge status=d.status /></td>
                                            <td class="last-response">{last}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// Deleting asks once more, in a disclosure (no script needed).
#[component]
fn DeleteButton(id: String) -> impl IntoView {
    let delete = ServerAction::<DeleteContact>::new();
    view! {
        <details class="delete-box">
            <summary data-testid="contact-delete">"Delete…"</summary>
            <ActionForm action=delete>
                <input type="hidden" name="id" value=id />
                <p>"The contact, its leads and to-dos go; its deliveries stay in the history."</p>
                <button type="submit" class="danger" data-testid="contact-delete-confirm">"Delete contact"</button>
            </ActionForm>
            {move || delete.value().get().and_then(Result::err).map(|e| view! { <p class="form-error">{error_message(&e)}</p> })}
        </details>
    }
}
