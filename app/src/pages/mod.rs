//! The console's pages and the pieces they share.
//!
//! # Layout
//! - [`setup`]: the first admin of an empty installation.
//! - [`login`]: email + password sign-in, and the fields setup shares.
//! - [`webhooks`]: the webhooks list with the active toggle.
//! - [`form`]: create/edit a webhook, with the live request preview.
//! - [`inputs`]: form controls that render their value on the server too.
//! - [`reports`]: the webhooks report with its range and chart.
//! - [`chart`]: the report's chart, drawn as SVG on the server.
//! - [`history`]: delivery history with filters, pages and CSV export.
//! - [`delivery`]: one delivery's attempts, resend; retry-all progress.
//! - [`contacts`]: the contacts list with search and filters; [`contact`]
//!   one contact with its statuses, flags, users, leads, to-dos and
//!   deliveries; [`settings`] the account and its settings items;
//!   [`mass_post`] a mass post's previews, [`import`] a CSV's upload and
//!   mapping, [`jobs`] a background job's progress.

pub mod chart;
pub mod contact;
pub mod contacts;
pub mod delivery;
pub mod form;
pub mod history;
pub mod import;
pub mod inputs;
pub mod jobs;
pub mod login;
pub mod mass_post;
pub mod reports;
pub mod settings;
pub mod setup;
pub mod webhooks;

use engine::model::{DeliveryStatus, Role, User};
use leptos::prelude::*;

use crate::api::Logout;

/// The message of a server function error, without the framework's prefix.
pub fn error_message(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The frame of every signed-in page: navigation, who is signed in, sign out.
#[component]
pub fn Layout(user: User, children: Children) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let role = match user.role {
        Role::Admin => "admin",
        Role::Support => "support",
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/webhooks">"Postback"</a>
            <nav aria-label="Main">
                <a href="/webhooks" data-testid="nav-webhooks">"Webhooks"</a>
                <a href="/contacts" data-testid="nav-contacts">"Contacts"</a>
                <a href="/reports" data-testid="nav-reports">"Reports"</a>
                <a href="/reports/history" data-testid="nav-history">"History"</a>
                <a href="/settings" data-testid="nav-settings">"Settings"</a>
            </nav>
            <div class="who">
                <span data-testid="current-user">{user.email.clone()}</span>
                <span class="badge" data-testid="current-role">{role}</span>
                <ActionForm action=logout>
                    <button type="submit" class="link" data-testid="logout">"Sign out"</button>
                </ActionForm>
            </div>
        </header>
        <main class="page">{children()}</main>
    }
}

/// Bumps `tick` every 0.7 s while `moving()` says the page's data can
/// still change: progress pages poll with it (without JavaScript, a
/// refresh tag reloads them instead).
pub fn poll_while(tick: RwSignal<u32>, moving: impl Fn() -> bool + Clone + Send + Sync + 'static) {
    Effect::new(move |_| {
        let moving = moving.clone();
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if moving() {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_millis(700),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
}

/// A time as the reports show it: minutes, UTC.
pub fn fmt_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A delivery's status as a word in a badge (never colour alone).
#[component]
pub fn StatusBadge(status: DeliveryStatus) -> impl IntoView {
    let class = match status {
        DeliveryStatus::Succeeded => "badge on",
        DeliveryStatus::Failed => "badge bad",
        DeliveryStatus::Pending | DeliveryStatus::Retrying => "badge wait",
    };
    view! { <span class=class data-testid="status">{status.as_str()}</span> }
}

/// A date input of a GET filter form, with its label and field error.
#[component]
pub fn DateField(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    testid: &'static str,
    value: String,
    error: Option<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div>
            <label for=id>{label}</label>
            <input id=id type="date" name=name data-testid=testid value=value
                aria-invalid=error.is_some().then_some("true")
                aria-describedby=error.is_some().then_some(error_id.clone()) />
            {error.map(|m| view! { <p class="field-error" id=error_id>{m}</p> })}
        </div>
    }
}

/// A request as it will go, secrets masked, with the signature headers
/// every delivery gets (their values are made at sending).
#[component]
pub fn RequestText(
    request: engine::render::RenderedRequest,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <pre class="code" data-testid=testid>
            {format!("{} {}\n", request.method, request.url)}
            {request.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>()}
            "webhook-id: evt_…\nwebhook-timestamp: …\nwebhook-signature: v1,…\n\n"
            {request.body.unwrap_or_default()}
        </pre>
    }
}

/// A page-level failure: not signed in, not found, or a server fault.
#[component]
pub fn ErrorPanel(error: ServerFnError) -> impl IntoView {
    view! {
        <main class="page">
            <div class="error-panel" role="alert" data-testid="page-error">
                <p>{error_message(&error)}</p>
                <p><a href="/webhooks">"Back to webhooks"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="page">
            <h1>"Page not found"</h1>
            <p><a href="/webhooks">"Go to webhooks"</a></p>
        </main>
    }
}
