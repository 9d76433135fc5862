#![recursion_limit = "512"]
//! The console: Leptos pages rendered on the server and hydrated in the
//! browser, and the server functions behind them.
//!
//! # Layout
//! - [`api`]: server functions (session, role check, one engine call each)
//!   and, under `ssr`, the shared [`api::ssr::AppState`].
//! - [`pages`]: the layout and one module per page: setup, login, the
//!   webhooks list, the webhook form with its live preview, and the reports
//!   (webhooks report, delivery history, delivery detail, retry-all), the
//!   contacts and their settings.
//! - `throttle` (server only): sign-in attempts by address and by email.

pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod throttle;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{FlatRoutes, Route, Router},
    path,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
                <link rel="stylesheet" id="leptos" href="/pkg/postback.css" />
                <link rel="icon" href="data:," />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Scripts only from this server (the hydration script by its nonce, the
/// WASM it loads), nothing inline without the nonce, no framing, forms
/// only to this server.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&policy),
    ) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Tests and people can tell when the page has become interactive.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title text="Postback" />
        <Router>
            <FlatRoutes fallback=pages::NotFound>
                <Route path=path!("/setup") view=pages::setup::SetupPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/webhooks") view=pages::webhooks::WebhooksPage ssr=SsrMode::Async />
                <Route path=path!("/webhooks/new") view=pages::form::NewWebhookPage ssr=SsrMode::Async />
                <Route path=path!("/webhooks/:id") view=pages::form::EditWebhookPage ssr=SsrMode::Async />
                <Route path=path!("/contacts") view=pages::contacts::ContactsPage ssr=SsrMode::Async />
                <Route path=path!("/contacts/mass-post") view=pages::mass_post::MassPostPage ssr=SsrMode::Async />
                <Route path=path!("/contacts/import") view=pages::import::ImportPage ssr=SsrMode::Async />
                <Route path=path!("/contacts/import/:id") view=pages::import::MappingPage ssr=SsrMode::Async />
                <Route path=path!("/jobs/:id") view=pages::jobs::JobPage ssr=SsrMode::Async />
                <Route path=path!("/contacts/new") view=pages::contact::NewContactPage ssr=SsrMode::Async />
                <Route path=path!("/contacts/:id") view=pages::contact::ContactPage ssr=SsrMode::Async />
                <Route path=path!("/settings") view=pages::settings::SettingsPage ssr=SsrMode::Async />
                <Route path=path!("/reports") view=pages::reports::ReportPage ssr=SsrMode::Async />
                <Route path=path!("/reports/history") view=pages::history::HistoryPage ssr=SsrMode::Async />
                <Route path=path!("/reports/deliveries/:id") view=pages::delivery::DeliveryPage ssr=SsrMode::Async />
                <Route path=path!("/reports/retries/:id") view=pages::delivery::RetryRunPage ssr=SsrMode::Async />
            </FlatRoutes>
        </Router>
    }
}
