//! What is checked before the console answers: page access (an empty
//! installation goes to setup, a visitor who is not signed in goes to
//! sign-in; server functions check the session and role themselves),
//! requests forged by other sites, and the headers every answer carries.

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
    /// A sign-in ends this long after it began.
    pub session_lifetime: std::time::Duration,
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
        app::api::ssr::signed_in_user_id(&session, state.session_lifetime).await,
        Ok(Some(_))
    );
    match (signed_in, path.as_str()) {
        (_, "/setup") | (true, "/login") | (true, "/") => Redirect::to("/webhooks").into_response(),
        (false, "/login") => next.run(request).await,
        (false, _) => Redirect::to("/login").into_response(),
        (true, _) => next.run(request).await,
    }
}

/// Refuses a state-changing console request that another site made in
/// the user's name (a form or `fetch` from another origin, sibling
/// subdomains and other ports of this host included, carrying the session
/// cookie): the browser says where a request comes from in
/// `Sec-Fetch-Site`, or failing that in `Origin`. Requests with neither
/// come from programs, which have no user's cookie to abuse. The REST API
/// is not a console request: it authenticates by key, not cookie.
pub async fn same_origin(request: Request, next: Next) -> Response {
    let method = request.method();
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if reads || request.uri().path().starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let headers = request.headers();
    let header = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let allowed = match (
        header(http::HeaderName::from_static("sec-fetch-site")),
        header(http::header::ORIGIN),
    ) {
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => {
            let host = header(http::header::HOST).unwrap_or_default();
            origin_host(&origin).is_some_and(|o| o.eq_ignore_ascii_case(&host))
        }
        (None, None) => true,
    };
    if allowed {
        next.run(request).await
    } else {
        tracing::warn!(path = %request.uri().path(), "refused a request from another site");
        (
            http::StatusCode::FORBIDDEN,
            "This request came from another site, so it was refused. Open Postback itself and try again.",
        )
            .into_response()
    }
}

/// `host[:port]` of an `Origin` value (`scheme://host[:port]`).
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// Refuses an address holding a NUL character (`%00`) in its path or
/// query: no id, filter or page name has one, and the databases' text
/// cannot hold one. The REST API answers in its error shape.
pub async fn no_nul_in_address(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let has_nul = |part: &str| {
        part.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    if !has_nul(uri.path()) && !uri.query().is_some_and(has_nul) {
        return next.run(request).await;
    }
    let message = "The address holds a NUL character (%00), which no Postback address has.";
    if uri.path().starts_with("/api/v1/") {
        crate::api::ApiError::new(http::StatusCode::BAD_REQUEST, "invalid_address", message)
            .into_response()
    } else {
        (http::StatusCode::BAD_REQUEST, message).into_response()
    }
}

/// The largest console request body read (server-function arguments; the
/// webhook form is the largest, a few KiB).
const MAX_CONSOLE_BODY: usize = 2 << 20;

/// Refuses a console request (a server function's form or JSON
/// arguments) with a NUL character in any text: no field has one, and the
/// databases' text cannot hold one, so it would end in a generic error
/// deep inside instead of this clear one. The REST API checks its own
/// fields and names them.
pub async fn no_nul_in_console_body(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() != Method::POST
        || !path.starts_with("/api/")
        || path.starts_with("/api/v1/")
    {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_CONSOLE_BODY).await else {
        return server_fn_error(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "This request is too large.",
        );
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if holds_nul(content_type, &bytes) {
        return server_fn_error(
            http::StatusCode::BAD_REQUEST,
            "A NUL character (\\0) is not allowed in any field.",
        );
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Whether a form or JSON body holds a NUL in any name or value.
fn holds_nul(content_type: &str, body: &[u8]) -> bool {
    if body.contains(&0) {
        return true;
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return form_urlencoded::parse(body).any(|(k, v)| k.contains('\0') || v.contains('\0'));
    }
    if content_type.starts_with("application/json") {
        fn any_nul(value: &serde_json::Value) -> bool {
            match value {
                serde_json::Value::String(s) => s.contains('\0'),
                serde_json::Value::Array(items) => items.iter().any(any_nul),
                serde_json::Value::Object(map) => {
                    map.iter().any(|(k, v)| k.contains('\0') || any_nul(v))
                }
                _ => false,
            }
        }
        return serde_json::from_slice(body).is_ok_and(|v| any_nul(&v));
    }
    false
}

/// An error as a server function answers it, which the console shows.
fn server_fn_error(status: http::StatusCode, message: &str) -> Response {
    (status, format!("ServerError|{message}")).into_response()
}

/// Headers every answer carries: no MIME sniffing, no referrer to other
/// sites, never inside another site's frame.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        http::HeaderValue::from_static("DENY"),
    );
    response
}

/// `Strict-Transport-Security` for a year: once a browser has reached the
/// console over https, it never asks for it over http again.
pub async fn strict_transport(mut response: Response) -> Response {
    response.headers_mut().insert(
        http::header::STRICT_TRANSPORT_SECURITY,
        http::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::origin_host;

    #[test]
    fn an_origin_names_its_host_and_port() {
        assert_eq!(origin_host("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(
            origin_host("https://crm.example.com"),
            Some("crm.example.com")
        );
        assert_eq!(origin_host("null"), None);
        assert_eq!(origin_host("http://a/b"), None);
    }
}
