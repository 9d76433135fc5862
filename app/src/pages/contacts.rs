//! The contacts list: search and filters from the URL's query (a plain GET
//! form), newest first, paged by cursor.

use engine::model::{Contact, ContactFilter, RecordItem, Role};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{ErrorPanel, Layout};
use crate::api::records::{Items, load_contacts};

/// The filters and cursor in the current URL.
fn asked(q: &leptos_router::params::ParamsMap) -> (ContactFilter, Option<String>) {
    (
        ContactFilter {
            q: q.get("q"),
            status: q.get("status"),
            flag: q.get("flag"),
            assigned_user: q.get("assigned_user"),
            state: q.get("state"),
            source: q.get("source"),
        },
        q.get("cursor"),
    )
}

#[component]
pub fn ContactsPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(move || asked(&query.get()), |(f, c)| load_contacts(f, c));
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let (filter, _) = asked(&query.get_untracked());
                        let admin = view.user.role == Role::Admin;
                        view! {
                            <Layout user=view.user>
                                <div class="page-head">
                                    <h1>"Contacts"</h1>
                                    {admin.then(|| view! {
                                        <div class="actions">
                                            <a class="button" href="/contacts/import" data-testid="import-contacts">"Import CSV"</a>
                                            <a class="button primary" href="/contacts/new" data-testid="new-contact">"New contact"</a>
                                        </div>
                                    })}
                                </div>
                                <Filters filter=filter.clone() items=view.items />
                                {match view.page {
                                    Ok(page) => view! {
                                        {admin.then(|| view! { <MassPostBar filter=filter.clone() /> })}
                                        <Rows rows=page.data admin />
                                        <nav class="pager" aria-label="Pages">
                                            <a href="/contacts">"First page"</a>
                                            {match page.next_cursor {
                                                Some(next) => {
                                                    let base = filter.to_query();
                                                    let sep = if base.is_empty() { "" } else { "&" };
                                                    let href = format!(
                                                        "/contacts?{base}{sep}{}",
                                                        engine::reports::query_pair("cursor", &next)
                                                    );
                                                    view! { <a href=href rel="next" data-testid="page-older">"Older →"</a> }.into_any()
                                                }
                                                None => view! { <span class="muted">"Older →"</span> }.into_any(),
                                            }}
                                        </nav>
                                    }
                                        .into_any(),
                                    Err(e) => view! {
                                        <p class="form-error" role="alert" data-testid="filter-error">{e.message}</p>
                                    }
                                        .into_any(),
                                }}
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

/// A select of items by name (or id, for users), with "Any" first.
#[component]
pub fn ItemSelect(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    items: Vec<RecordItem>,
    chosen: Option<String>,
    /// Users are chosen by id; the rest by name.
    by_id: bool,
    none: &'static str,
) -> impl IntoView {
    let chosen = chosen.unwrap_or_default();
    view! {
        <div>
            <label for=id>{label}</label>
            <select id=id name=name data-testid=id>
                <option value="">{none}</option>
                {items
                    .into_iter()
                    .map(|item| {
                        let value = if by_id { item.id.clone() } else { item.name.clone() };
                        let selected = value == chosen;
                        let text = match (&item.company, item.active) {
                            (Some(company), true) => format!("{} ({company})", item.name),
                            (_, false) => format!("{} (off)", item.name),
                            _ => item.name.clone(),
                        };
                        view! { <option value=value selected=selected>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}

#[component]
fn Filters(filter: ContactFilter, items: Items) -> impl IntoView {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    view! {
        <form method="get" action="/contacts" class="filters" data-testid="contact-filters" role="search">
            <div>
                <label for="c-q">"Search"</label>
                <input id="c-q" type="search" name="q" value=value(&filter.q) data-testid="c-q"
                    placeholder="Name, email, phone or id" />
            </div>
            <ItemSelect id="c-status" name="status" label="Status" items=items.statuses chosen=filter.status.clone() by_id=false none="Any status" />
            <ItemSelect id="c-flag" name="flag" label="Flag" items=items.flags chosen=filter.flag.clone() by_id=false none="Any flag" />
            <ItemSelect id="c-user" name="assigned_user" label="Assigned user" items=items.users chosen=filter.assigned_user.clone() by_id=true none="Anyone" />
            <ItemSelect id="c-source" name="source" label="Source" items=items.sources chosen=filter.source.clone() by_id=false none="Any source" />
            <div>
                <label for="c-state">"State"</label>
                <input id="c-state" name="state" value=value(&filter.state) data-testid="c-state" placeholder="active" />
            </div>
            <div class="actions">
                <button type="submit" class="primary" data-testid="contact-filter-apply">"Filter"</button>
                <a href="/contacts" class="button">"Clear"</a>
            </div>
        </form>
    }
}

/// "Mass post selected" (the rows checked on this page) and "Mass post
/// list" (every contact the filters match): a GET form the rows'
/// checkboxes belong to, opening the mass post page.
#[component]
fn MassPostBar(filter: ContactFilter) -> impl IntoView {
    view! {
        <form method="get" action="/contacts/mass-post" id="mass-post-form" class="bulk-bar"
            data-testid="mass-post-bar">
            {filter
                .pairs()
                .into_iter()
                .map(|(name, value)| view! { <input type="hidden" name=name value=value.to_string() /> })
                .collect_view()}
            <span class="hint">"Mass post:"</span>
            <button type="submit" name="with" value="selected" class="small" data-testid="mass-post-selected">
                "Mass post selected"
            </button>
            <button type="submit" name="with" value="list" class="small" data-testid="mass-post-list">
                "Mass post list"
            </button>
        </form>
    }
}

#[component]
fn Rows(rows: Vec<Contact>, admin: bool) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <div class="empty" data-testid="no-contacts"><p>"No contacts match."</p></div>
        }
        .into_any();
    }
    // The header's box checks or clears every row (with JavaScript).
    let all = RwSignal::new(false);
    view! {
        <div class="table-scroll">
            <table class="list" data-testid="contacts-table">
                <caption class="visually-hidden">"Contacts, newest first"</caption>
                <thead>
                    <tr>
                        {admin.then(|| view! {
                            <th scope="col" class="check">
                                <input type="checkbox" aria-label="Select every contact on this page"
                                    data-testid="select-all"
                                    on:change=move |ev| all.set(event_target_checked(&ev)) />
                            </th>
                        })}
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Phone"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Source"</th>
                        <th scope="col">"Statuses"</th>
                        <th scope="col">"Flags"</th>
                        <th scope="col">"Assigned"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|c| {
                            let name = c.display_name();
                            let assigned = c
                                .assigned_users
                                .iter()
                                .map(|u| u.name.clone())
                                .collect::<Vec<_>>()
                                .join(", ");
                            view! {
                                <tr data-testid="contact-row" data-id=c.id.clone()>
                                    {admin.then(|| view! {
                                        <td class="check">
                                            <input type="checkbox" name="id" value=c.id.clone() form="mass-post-form"
                                                aria-label=format!("Select {name}") data-testid="select-contact"
                                                prop:checked=move || all.get() />
                                        </td>
                                    })}
                                    <td><a href=format!("/contacts/{}", c.id) data-testid="contact-link">{name}</a></td>
                                    <td>{c.email.clone().unwrap_or_default()}</td>
                                    <td class="nowrap">{c.phone.clone().unwrap_or_default()}</td>
                                    <td>{c.state.clone().unwrap_or_default()}</td>
                                    <td>{c.source.clone().unwrap_or_default()}</td>
                                    <td>{c.statuses.join(", ")}</td>
                                    <td>{c.flags.join(", ")}</td>
                                    <td>{assigned}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
