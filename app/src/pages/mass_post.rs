//! Mass post: the contacts chosen on the list (its filters, or the rows
//! checked), a webhook, each record's request one at a time (previous /
//! next record), then the post as a background job (its page is in
//! [`super::jobs`]). Everything is a link or a form, so it works without
//! JavaScript.

use engine::model::{Selection, WebhookTitle};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::{ErrorPanel, Layout, RequestText, error_message};
use crate::api::jobs::{MassPostView, PreviewRecord, StartMassPost, load_mass_post};

/// The contacts list the selection came from.
fn list_href(selection: &Selection) -> String {
    match selection {
        Selection::List(filter) if !filter.is_empty() => {
            format!("/contacts?{}", filter.to_query())
        }
        _ => "/contacts".into(),
    }
}

/// The selection in words, with its count.
fn described(selection: &Selection, total: i64) -> String {
    let contacts = if total == 1 { "contact" } else { "contacts" };
    match selection {
        Selection::List(filter) if filter.is_empty() => {
            format!("Every contact on the list: {total} {contacts}.")
        }
        Selection::List(filter) => {
            let filters = filter
                .pairs()
                .into_iter()
                .map(|(k, v)| {
                    let name = match k {
                        "q" => "search",
                        "assigned_user" => "assigned user",
                        other => other,
                    };
                    format!("{name} “{v}”")
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("The list filtered by {filters}: {total} {contacts}.")
        }
        Selection::Selected(_) => format!("{total} selected {contacts}."),
    }
}

#[component]
pub fn MassPostPage() -> impl IntoView {
    let location = use_location();
    let data = Resource::new(move || location.search.get(), load_mass_post);
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <MassPost view /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MassPost(view: MassPostView) -> impl IntoView {
    let MassPostView {
        user,
        selection,
        total,
        webhooks,
        webhook_id,
        n,
        record,
    } = view;
    let Some(selection) = selection else {
        return view! {
            <Layout user>
                <p class="crumbs"><a href="/contacts">"Contacts"</a></p>
                <h1>"Mass post"</h1>
                <p class="form-error" role="alert" data-testid="mass-post-error">
                    "Choose the contacts first: on the contacts list, check rows and press “Mass post selected”, or filter the list and press “Mass post list”."
                </p>
            </Layout>
        }
        .into_any();
    };
    let chosen = webhook_id
        .as_deref()
        .and_then(|id| webhooks.iter().find(|w| w.id == id));
    let chosen_on = chosen.is_some_and(|w| w.active);
    let body = if total == 0 {
        let message = match &selection {
            Selection::Selected(_) => {
                "No rows were checked: check the contacts to post on the list first."
            }
            Selection::List(_) => "No contact matches these filters; there is nothing to post.",
        };
        view! { <p class="form-error" role="alert" data-testid="mass-post-error">{message}</p> }
            .into_any()
    } else if webhooks.is_empty() {
        view! { <p class="muted">"No webhooks yet: create one under Webhooks, then come back."</p> }
            .into_any()
    } else {
        let query = selection.to_query();
        let webhook = webhook_id.clone().unwrap_or_default();
        view! {
            <WebhookChoice query=query.clone() webhooks=webhooks.clone() chosen=webhook.clone() />
            {(!chosen_on).then(|| view! {
                <p class="form-error" role="alert" data-testid="mass-post-off">
                    "This webhook is turned off; turn it on before posting through it, or choose another."
                </p>
            })}
            {record.map(|record| view! {
                <Preview query=query.clone() webhook=webhook.clone() n total record />
            })}
            <Start query webhook total enabled=chosen_on />
        }
        .into_any()
    };
    view! {
        <Layout user>
            <p class="crumbs"><a href=list_href(&selection) data-testid="back-to-list">"Contacts"</a></p>
            <h1>"Mass post"</h1>
            <p data-testid="mass-post-count">{described(&selection, total)}</p>
            {body}
        </Layout>
    }
    .into_any()
}

/// The webhook to post through: a GET form, so the choice is in the URL.
#[component]
fn WebhookChoice(query: String, webhooks: Vec<WebhookTitle>, chosen: String) -> impl IntoView {
    view! {
        <form method="get" action="/contacts/mass-post" class="row webhook-choice" data-testid="mass-post-webhook-form">
            {engine::reports::query_pairs(&query)
                .into_iter()
                .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
                .collect_view()}
            <div>
                <label for="mass-post-webhook">"Webhook"</label>
                <select id="mass-post-webhook" name="webhook" data-testid="mass-post-webhook">
                    {webhooks
                        .into_iter()
                        .map(|w| {
                            let selected = w.id == chosen;
                            let text = if w.active { w.title } else { format!("{} (off)", w.title) };
                            view! { <option value=w.id selected=selected>{text}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class="small" data-testid="mass-post-choose">"Show its request"</button>
        </form>
    }
}

/// The `n`th record's request, with links to the ones before and after.
#[component]
fn Preview(
    query: String,
    webhook: String,
    n: i64,
    total: i64,
    record: Result<PreviewRecord, String>,
) -> impl IntoView {
    let href = |n: i64| {
        format!(
            "/contacts/mass-post?{query}&{}&n={n}",
            engine::reports::query_pair("webhook", &webhook)
        )
    };
    let previous = (n > 0).then(|| href(n - 1));
    let next = (n + 1 < total).then(|| href(n + 1));
    view! {
        <section class="panel" aria-labelledby="preview-h" data-testid="mass-post-preview">
            <h2 id="preview-h" data-testid="mass-post-record">
                {match &record {
                    Ok(r) => format!("Record {} of {total}: {}", n + 1, r.name),
                    Err(_) => format!("Record {} of {total}", n + 1),
                }}
            </h2>
            <nav class="pager" aria-label="Records">
                {match previous {
                    Some(href) => view! { <a href=href rel="prev" data-testid="previous-record">"← Previous record"</a> }.into_any(),
                    None => view! { <span class="muted">"← Previous record"</span> }.into_any(),
                }}
                {match next {
                    Some(href) => view! { <a href=href rel="next" data-testid="next-record">"Next record →"</a> }.into_any(),
                    None => view! { <span class="muted">"Next record →"</span> }.into_any(),
                }}
            </nav>
            {match record {
                Ok(r) => view! {
                    <p class="hint">
                        "The request this webhook will send for "
                        <a href=format!("/contacts/{}", r.contact_id) data-testid="record-link">{r.name.clone()}</a>
                        ", secrets masked."
                    </p>
                    <RequestText request=r.request testid="mass-post-request" />
                }.into_any(),
                Err(message) => view! {
                    <p class="form-error" role="alert" data-testid="record-error">{message}</p>
                }.into_any(),
            }}
        </section>
    }
}

/// "Post to all": starts the job and opens its page.
#[component]
fn Start(query: String, webhook: String, total: i64, enabled: bool) -> impl IntoView {
    let start = ServerAction::<StartMassPost>::new();
    let contacts = if total == 1 { "contact" } else { "contacts" };
    view! {
        <ActionForm action=start attr:class="actions" attr:data-testid="mass-post-start-form">
            <input type="hidden" name="selection" value=query />
            <input type="hidden" name="webhook_id" value=webhook />
            <button type="submit" class="primary" data-testid="mass-post-start"
                disabled=move || !enabled || start.pending().get()>
                {move || if start.pending().get() { "Starting…".to_string() } else { format!("Post to all {total} {contacts}") }}
            </button>
            <span class="hint">"Runs in the background; you can leave the page."</span>
        </ActionForm>
        {move || start.value().get().and_then(Result::err).map(|e| view! {
            <p class="form-error" role="alert" data-testid="mass-post-start-error">{error_message(&e)}</p>
        })}
    }
}
