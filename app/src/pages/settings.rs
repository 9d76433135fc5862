//! The account's settings: its name and the receiver's id for it
//! (`external_ref`, in every payload), and its items: statuses, flags,
//! sources, categories, custom categories and users to assign. Admins
//! change them; support reads.

use engine::model::{ItemKind, RecordItem, Role};
use engine::validate::FieldError;
use leptos::prelude::*;

use super::{ErrorPanel, Layout, error_message};
use crate::api::records::{SaveAccount, SaveItem, load_settings};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let account = ServerAction::<SaveAccount>::new();
    let item = ServerAction::<SaveItem>::new();
    let done = RwSignal::new(0u32);
    Effect::new(move |_| {
        let ok = |v: Option<Result<Vec<FieldError>, ServerFnError>>| matches!(v, Some(Ok(errors)) if errors.is_empty());
        if ok(account.value().get()) || ok(item.value().get()) {
            done.update(|n| *n += 1);
        }
    });
    let data = Resource::new(move || done.get(), |_| load_settings());
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let admin = view.user.role == Role::Admin;
                        let groups = [
                            (ItemKind::Status, view.items.statuses.clone(), "Statuses a contact can have; triggers such as \"status added is Thank You Note\" pick from them."),
                            (ItemKind::Flag, view.items.flags.clone(), "Flags a contact can have."),
                            (ItemKind::Source, view.items.sources.clone(), "Where contacts and leads come from."),
                            (ItemKind::Category, view.items.categories.clone(), "Categories of contacts."),
                            (ItemKind::CustomCategory, view.custom_categories.clone(), "Categories of your own."),
                            (ItemKind::User, view.items.users.clone(), "The people contacts are assigned to, with their company: a trigger can ask for the first assigned from a company."),
                        ];
                        view! {
                            <Layout user=view.user>
                                <h1>"Settings"</h1>
                                <AccountForm account=view.account admin action=account />
                                {move || item.value().get().and_then(|r| match r {
                                    Ok(errors) => errors.into_iter().next().map(|e| e.message),
                                    Err(e) => Some(error_message(&e)),
                                }).map(|m| view! { <p class="form-error" role="alert" data-testid="item-error">{m}</p> })}
                                <div class="settings-grid">
                                    {groups.into_iter().map(|(kind, items, hint)| view! {
                                        <ItemGroup kind items hint admin action=item />
                                    }).collect_view()}
                                </div>
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

#[component]
fn AccountForm(
    account: engine::model::Account,
    admin: bool,
    action: ServerAction<SaveAccount>,
) -> impl IntoView {
    let errors = move || match action.value().get() {
        Some(Ok(errors)) => errors,
        Some(Err(e)) => vec![FieldError::new("", "failed", error_message(&e))],
        None => Vec::new(),
    };
    let message = move |field: &str| {
        errors()
            .into_iter()
            .find(|e| e.field == field || e.field.is_empty())
            .map(|e| e.message)
    };
    let saved = move || matches!(action.value().get(), Some(Ok(errors)) if errors.is_empty());
    view! {
        <section class="panel" aria-labelledby="account-h">
            <h2 id="account-h">"Account"</h2>
            <ActionForm action attr:class="row" attr:data-testid="account-form">
                <div>
                    <label for="account-name">"Name"</label>
                    <input id="account-name" name="name" value=account.name.clone() disabled=!admin
                        data-testid="account-name" />
                    {move || message("name").map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                <div>
                    <label for="account-ref">"The receiver's id for this account (external_ref)"</label>
                    <input id="account-ref" name="external_ref" value=account.external_ref.clone().unwrap_or_default()
                        disabled=!admin placeholder="e.g. DEALER-42" data-testid="account-ref"
                        aria-describedby="account-ref-hint" />
                    <p class="hint" id="account-ref-hint">"Every payload carries it as "<code>"account.external_ref"</code>"."</p>
                    {move || message("external_ref").map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                {admin.then(|| view! {
                    <button type="submit" class="primary" data-testid="account-save">"Save"</button>
                })}
            </ActionForm>
            {move || saved().then(|| view! { <p class="notice" role="status" data-testid="account-saved">"Saved."</p> })}
        </section>
    }
}

#[component]
fn ItemGroup(
    kind: ItemKind,
    items: Vec<RecordItem>,
    hint: &'static str,
    admin: bool,
    action: ServerAction<SaveItem>,
) -> impl IntoView {
    let plural = kind.plural();
    let users = kind == ItemKind::User;
    let heading = format!("{plural}-h");
    let labelled_by = heading.clone();
    view! {
        <section class="panel" aria-labelledby=labelled_by data-testid=format!("items-{plural}")>
            <h2 id=heading>{match kind {
                ItemKind::Status => "Statuses",
                ItemKind::Flag => "Flags",
                ItemKind::Source => "Sources",
                ItemKind::Category => "Categories",
                ItemKind::CustomCategory => "Custom categories",
                ItemKind::User => "Users to assign",
            }}</h2>
            <p class="hint">{hint}</p>
            {if items.is_empty() {
                Some(view! { <p class="muted">"None yet."</p> })
            } else {
                None
            }}
            <ul class="plain items">
                {items.into_iter().map(|item| {
                    let label = item.name.clone();
                    let data_name = item.name.clone();
                    view! {
                        <li data-testid="item" data-name=data_name>
                            {if admin {
                                view! {
                                    <ActionForm action attr:class="row item-row">
                                        <input type="hidden" name="kind" value=plural />
                                        <input type="hidden" name="id" value=item.id.clone() />
                                        <label class="visually-hidden" for=format!("name-{}", item.id)>{format!("Name of {label}")}</label>
                                        <input id=format!("name-{}", item.id) name="name" value=item.name.clone() />
                                        {users.then(|| view! {
                                            <label class="visually-hidden" for=format!("company-{}", item.id)>{format!("Company of {label}")}</label>
                                            <input id=format!("company-{}", item.id) name="company" placeholder="Company"
                                                value=item.company.clone().unwrap_or_default() />
                                        })}
                                        <label class="check"><input type="checkbox" name="active" value="on" checked=item.active />"On"</label>
                                        <button type="submit" class="small">"Save"</button>
                                        <button type="submit" class="small" name="delete" value="1"
                                            aria-label=format!("Delete {label}")>"Delete"</button>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! {
                                    <span>{item.name.clone()}</span>
                                    {item.company.clone().map(|c| format!(" ({c})"))}
                                    {(!item.active).then_some(" (off)")}
                                }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {admin.then(|| view! {
                <ActionForm action attr:class="row add-row" attr:data-testid=format!("add-{plural}")>
                    <input type="hidden" name="kind" value=plural />
                    <div>
                        <label for=format!("new-{plural}")>{format!("New {}", kind.label().to_lowercase())}</label>
                        <input id=format!("new-{plural}") name="name" data-testid=format!("new-{plural}") />
                    </div>
                    {users.then(|| view! {
                        <div>
                            <label for="new-users-company">"Company"</label>
                            <input id="new-users-company" name="company" data-testid="new-users-company" />
                        </div>
                    })}
                    <button type="submit" class="small" data-testid=format!("add-{plural}-submit")>"Add"</button>
                </ActionForm>
            })}
        </section>
    }
}
