//! The webhooks list: title, URL, triggers, delivery mode, active.

use engine::model::{Role, WebhookView};
use leptos::prelude::*;

use super::{ErrorPanel, Layout, error_message};
use crate::api::{SetWebhookActive, list_webhooks};

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let toggle = ServerAction::<SetWebhookActive>::new();
    let data = Resource::new(move || toggle.version().get(), |_| list_webhooks());
    let toggle_error = move || {
        toggle
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_message(&e))
    };
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, hooks)) => {
                        let admin = user.role == Role::Admin;
                        view! {
                            <Layout user>
                                <div class="page-head">
                                    <h1>"Webhooks"</h1>
                                    {admin.then(|| view! {
                                        <a class="button primary" href="/webhooks/new" data-testid="new-webhook">"New webhook"</a>
                                    })}
                                </div>
                                {move || toggle_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                                <DisabledBanner hooks=hooks.clone() />
                                <WebhookTable hooks admin toggle />
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
fn WebhookTable(
    hooks: Vec<WebhookView>,
    admin: bool,
    toggle: ServerAction<SetWebhookActive>,
) -> impl IntoView {
    if hooks.is_empty() {
        return view! {
            <div class="empty" data-testid="no-webhooks">
                <p>"No webhooks yet."</p>
                {if admin {
                    "Create one to push CRM events to another system."
                } else {
                    "An admin of your account can create them."
                }}
            </div>
        }
        .into_any();
    }
    view! {
        <table class="list" data-testid="webhooks-table">
            <thead>
                <tr>
                    <th scope="col">"Title"</th>
                    <th scope="col">"URL"</th>
                    <th scope="col">"Triggers"</th>
                    <th scope="col">"Delivery"</th>
                    <th scope="col">"Active"</th>
                </tr>
            </thead>
            <tbody>
                {hooks
                    .into_iter()
                    .map(|hook| {
                        let id = hook.id.clone();
                        let active = hook.input.active;
                        let triggers = hook
                            .input
                            .triggers
                            .iter()
                            .map(|t| t.event_type.clone())
                            .collect::<Vec<_>>()
                            .join(", ");
                        let url = engine::render::effective_url(&hook.input.url, hook.input.port)
                            .map(|u| u.to_string())
                            .unwrap_or(hook.input.url.clone());
                        let state = if active { "Active" } else { "Inactive" };
                        let title = hook.input.title.clone();
                        view! {
                            <tr data-testid="webhook-row" data-title=title.clone()>
                                <td><a href=format!("/webhooks/{id}") data-testid="webhook-link">{title.clone()}</a></td>
                                <td class="mono">{url}</td>
                                <td>{triggers}</td>
                                <td>{hook.input.delivery_mode.label()}</td>
                                <td>
                                    <span class=if active { "badge on" } else { "badge off" } data-testid="active-state">{state}</span>
                                    {hook.disabled_reason.clone().map(|r| view! { <span class="reason">{r}</span> })}
                                    {admin.then(|| view! {
                                        <button
                                            type="button"
                                            class="small"
                                            data-testid="toggle-active"
                                            aria-label=format!("{} {}", if active { "Deactivate" } else { "Activate" }, title)
                                            disabled=move || toggle.pending().get()
                                            on:click=move |_| {
                                                toggle.dispatch(SetWebhookActive { id: id.clone(), active: !active });
                                            }
                                        >
                                            {if active { "Deactivate" } else { "Activate" }}
                                        </button>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}

/// Says which webhooks were turned off for failing, so nobody misses it.
#[component]
fn DisabledBanner(hooks: Vec<WebhookView>) -> impl IntoView {
    let off: Vec<(String, String)> = hooks
        .into_iter()
        .filter(|h| !h.input.active)
        .filter_map(|h| h.disabled_reason.map(|r| (h.input.title, r)))
        .collect();
    (!off.is_empty()).then(|| {
        let count = off.len();
        view! {
            <div class="notice warn" role="alert" data-testid="disabled-banner">
                <strong>
                    {if count == 1 {
                        "1 webhook was turned off because its receiver kept failing.".to_string()
                    } else {
                        format!("{count} webhooks were turned off because their receivers kept failing.")
                    }}
                </strong>
                <ul>
                    {off.into_iter().map(|(title, reason)| view! { <li>{format!("{title}: {reason}")}</li> }).collect_view()}
                </ul>
                <p>"Fix the receiving side, then activate the webhook again."</p>
            </div>
        }
    })
}
