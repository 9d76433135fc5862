//! Page access: an empty installation goes to setup, a visitor who is not
//! signed in goes to sign-in. Server functions check the session and role
//! themselves; this only steers page loads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use engine::store::Store;
use http::Method;
use tower_sessions::Session;

#[derive(Clone)]
pub struct GuardState {
    pub store: Store,
    /// Once a user exists there always is one; saves a query per page.
    pub has_users: Arc<AtomicBool>,
}

/// Paths that are not pages: assets, server functions, health.
fn is_page(path: &str) -> bool {
    !(path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || path == "/healthz"
        || path.contains('.'))
}

pub async fn pages(
    State(state): State<GuardState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if request.method() != Method::GET || !is_page(&path) {
        return next.run(request).await;
    }
    let has_users = if state.has_users.load(Ordering::Relaxed) {
        true
    } else {
        match state.store.count_users().await {
            Ok(n) if n > 0 => {
                state.has_users.store(true, Ordering::Relaxed);
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = %e, "cannot count users");
                return (
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "The database is unavailable.",
                )
                    .into_response();
            }
        }
    };
    if !has_users {
        return if path == "/setup" {
            next.run(request).await
        } else {
            Redirect::to("/setup").into_response()
        };
    }
    let signed_in = matches!(
        session.get::<String>(app::api::ssr::USER_ID).await,
        Ok(Some(_))
    );
    match (signed_in, path.as_str()) {
        (_, "/setup") | (true, "/login") | (true, "/") => Redirect::to("/webhooks").into_response(),
        (false, "/login") => next.run(request).await,
        (false, _) => Redirect::to("/login").into_response(),
        (true, _) => next.run(request).await,
    }
}
