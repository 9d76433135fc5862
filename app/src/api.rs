//! Server functions: each checks the session and role, then calls one
//! engine function. Server-only code lives in [`ssr`].

use engine::model::{User, WebhookInput, WebhookTitle, WebhookView};
use engine::reports::{
    AttemptRecord, DeliveryPage, DeliveryState, HistoryQuery, RangeQuery, Report, RetryRun,
};
use engine::validate::FieldError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

pub mod jobs;
pub mod records;

/// What saving the webhook form gives the page back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SaveOutcome {
    /// Saved. `signing_secret` is set only on create: shown this once.
    Saved {
        id: String,
        signing_secret: Option<String>,
    },
    /// Rejected; each error names its field. Nothing was stored.
    Invalid(Vec<FieldError>),
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! The state server functions share and the session helpers.

    use engine::model::{Role, User};
    use engine::store::{Error, Store};
    use leptos::prelude::*;
    use tower_sessions::Session;

    /// Everything a server function needs, put into context by the router.
    #[derive(Clone, Debug)]
    pub struct AppState {
        pub store: Store,
        /// Test sends, resends and retries go through it.
        pub engine: engine::Engine,
        pub leptos_options: LeptosOptions,
        /// How long deliveries are kept, for the report to say.
        pub retention_days: u32,
        /// A sign-in ends this long after it began, however active.
        pub session_lifetime: std::time::Duration,
        /// Sign-in and setup attempts by address and by email.
        pub sign_ins: std::sync::Arc<crate::throttle::SignInThrottle>,
        /// The one-time token the first admin's page asks for, when
        /// Postback may be reached from beyond this machine.
        pub setup_token: Option<SetupToken>,
    }

    /// The one-time setup token; never shown by `Debug`.
    #[derive(Clone)]
    pub struct SetupToken(pub std::sync::Arc<str>);

    impl std::fmt::Debug for SetupToken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("SetupToken(hidden)")
        }
    }

    impl axum::extract::FromRef<AppState> for LeptosOptions {
        fn from_ref(state: &AppState) -> Self {
            state.leptos_options.clone()
        }
    }

    /// The session key that holds the signed-in user's id.
    pub const USER_ID: &str = "user_id";

    /// The session key that holds when the user signed in (ms since 1970).
    pub const SIGNED_IN_AT: &str = "signed_in_at";

    /// The signed-in user's id; `None` when nobody is signed in, or the
    /// sign-in is `lifetime` old or older (the session then ends).
    pub async fn signed_in_user_id(
        session: &Session,
        lifetime: std::time::Duration,
    ) -> Result<Option<String>, tower_sessions::session::Error> {
        let Some(id) = session.get::<String>(USER_ID).await? else {
            return Ok(None);
        };
        let at = session.get::<i64>(SIGNED_IN_AT).await?.unwrap_or(0);
        let age = chrono::Utc::now().timestamp_millis().saturating_sub(at);
        let lifetime = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        if age >= lifetime {
            session.flush().await?;
            return Ok(None);
        }
        Ok(Some(id))
    }

    pub fn state() -> Result<AppState, ServerFnError> {
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state is missing"))
    }

    pub async fn session() -> Result<Session, ServerFnError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|e| ServerFnError::new(format!("no session: {e}")))
    }

    /// The signed-in user, or `None`.
    pub async fn current_user(store: &Store) -> Result<Option<User>, ServerFnError> {
        let session = session().await?;
        let lifetime = state()?.session_lifetime;
        let Some(id) = signed_in_user_id(&session, lifetime)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        store.user(&id).await.map_err(internal)
    }

    /// The signed-in user; answers 401 when there is none.
    pub async fn require_user() -> Result<(Store, User), ServerFnError> {
        let store = state()?.store;
        match current_user(&store).await? {
            Some(user) => Ok((store, user)),
            None => Err(status(http::StatusCode::UNAUTHORIZED, "Sign in first.")),
        }
    }

    /// A signed-in admin; answers 403 to support users.
    pub async fn require_admin() -> Result<(Store, User), ServerFnError> {
        let (store, user) = require_user().await?;
        if user.role != Role::Admin {
            return Err(status(
                http::StatusCode::FORBIDDEN,
                "Your role (support) can read webhooks but not change them.",
            ));
        }
        Ok((store, user))
    }

    /// Sets the HTTP status of the server function's answer.
    pub fn status(code: http::StatusCode, message: &str) -> ServerFnError {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(code);
        }
        ServerFnError::new(message)
    }

    /// The address the request came from (the peer of its connection).
    pub async fn peer_address() -> Option<std::net::IpAddr> {
        leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .await
            .ok()
            .map(|info| info.0.ip())
    }

    /// Takes one sign-in attempt from the request's address for `email`;
    /// answers 429 with `Retry-After` once either has used its allowance.
    pub async fn sign_in_attempt(email: &str) -> Result<Option<std::net::IpAddr>, ServerFnError> {
        let address = peer_address().await;
        let Err(wait) = state()?.sign_ins.attempt(address, email) else {
            return Ok(address);
        };
        let seconds = wait.as_secs().max(1);
        tracing::warn!(email = ?email.trim(), address = ?address, "sign-in refused: too many attempts");
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        Err(status(
            http::StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many sign-in attempts. Try again in {seconds} seconds."),
        ))
    }

    /// Logs an internal cause and gives the page a plain message.
    pub fn internal(e: impl std::fmt::Display) -> ServerFnError {
        tracing::error!(error = %e, "server function failed");
        status(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server; it is logged.",
        )
    }

    /// Not found with a message that names what is missing.
    pub fn not_found(e: Error, message: &str) -> ServerFnError {
        match e {
            Error::NotFound => status(http::StatusCode::NOT_FOUND, message),
            other => engine_error(other),
        }
    }

    /// Engine errors a page can show: validation stays typed.
    pub fn engine_error(e: Error) -> ServerFnError {
        match e {
            Error::NotFound => status(http::StatusCode::NOT_FOUND, "That webhook does not exist."),
            Error::Validation(errors) => status(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                &errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            other => internal(other),
        }
    }
}

/// The signed-in user, for the layout.
#[server(endpoint = "me")]
pub async fn me() -> Result<Option<User>, ServerFnError> {
    let state = ssr::state()?;
    ssr::current_user(&state.store).await
}

/// Whether the first admin's page asks for the setup token.
#[server(endpoint = "setup_asks_token")]
pub async fn setup_asks_token() -> Result<bool, ServerFnError> {
    Ok(ssr::state()?.setup_token.is_some())
}

/// Creates the first admin of an empty installation and signs them in.
/// When Postback may be reached from beyond this machine, only someone
/// who can read its log may: the one-time `token` it printed is asked.
#[server(endpoint = "setup")]
pub async fn setup_admin(
    email: String,
    password: String,
    #[server(default)] token: Option<String>,
) -> Result<(), ServerFnError> {
    let state = ssr::state()?;
    let address = ssr::sign_in_attempt(&email).await?;
    if let Some(expected) = &state.setup_token
        && token.as_deref().map(str::trim) != Some(&*expected.0)
    {
        tracing::warn!(address = ?address, "setup refused: wrong setup token");
        return Err(ssr::status(
            http::StatusCode::FORBIDDEN,
            "Enter the setup token Postback printed in its log when it started.",
        ));
    }
    let user = state
        .store
        .create_first_admin(&email, &password)
        .await
        .map_err(ssr::engine_error)?;
    sign_in(&user).await?;
    leptos_axum::redirect("/webhooks");
    Ok(())
}

/// Signs in with email and password; the session id is cycled.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), ServerFnError> {
    let state = ssr::state()?;
    let address = ssr::sign_in_attempt(&email).await?;
    match state
        .store
        .authenticate(&email, &password)
        .await
        .map_err(ssr::internal)?
    {
        Some(user) => {
            sign_in(&user).await?;
            leptos_axum::redirect("/webhooks");
            Ok(())
        }
        None => {
            tracing::warn!(email = ?email.trim(), address = ?address, "sign-in failed: wrong email or password");
            Err(ssr::status(
                http::StatusCode::UNAUTHORIZED,
                "Wrong email or password.",
            ))
        }
    }
}

#[cfg(feature = "ssr")]
async fn sign_in(user: &User) -> Result<(), ServerFnError> {
    let session = ssr::session().await?;
    session.cycle_id().await.map_err(ssr::internal)?;
    session
        .insert(ssr::USER_ID, &user.id)
        .await
        .map_err(ssr::internal)?;
    session
        .insert(ssr::SIGNED_IN_AT, chrono::Utc::now().timestamp_millis())
        .await
        .map_err(ssr::internal)?;
    tracing::info!(user = %user.id, "signed in");
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let session = ssr::session().await?;
    session.flush().await.map_err(ssr::internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The webhooks list page's data.
#[server(endpoint = "webhooks")]
pub async fn list_webhooks() -> Result<(User, Vec<WebhookView>), ServerFnError> {
    let (store, user) = ssr::require_user().await?;
    let hooks = store
        .list_webhooks(&user.account_id)
        .await
        .map_err(ssr::engine_error)?;
    Ok((user, hooks))
}

/// The edit page's data; `None` id is a new webhook, which only admins
/// may make.
#[server(endpoint = "webhook")]
pub async fn get_webhook(id: Option<String>) -> Result<(User, Option<WebhookView>), ServerFnError> {
    let (store, user) = match id {
        Some(_) => ssr::require_user().await?,
        None => ssr::require_admin().await?,
    };
    let hook = match id {
        Some(id) => Some(
            store
                .webhook(&user.account_id, &id)
                .await
                .map_err(ssr::engine_error)?,
        ),
        None => None,
    };
    Ok((user, hook))
}

/// Creates (no id) or updates a webhook. Admins only.
#[server(endpoint = "save_webhook", input = Json)]
pub async fn save_webhook(
    id: Option<String>,
    input: WebhookInput,
) -> Result<SaveOutcome, ServerFnError> {
    let (store, user) = ssr::require_admin().await?;
    let result = match id {
        None => store
            .create_webhook(&user.account_id, input)
            .await
            .map(|(view, secret)| SaveOutcome::Saved {
                id: view.id,
                signing_secret: Some(secret),
            }),
        Some(id) => store
            .update_webhook(&user.account_id, &id, input)
            .await
            .map(|view| SaveOutcome::Saved {
                id: view.id,
                signing_secret: None,
            }),
    };
    match result {
        Ok(outcome) => Ok(outcome),
        Err(engine::store::Error::Validation(errors)) => Ok(SaveOutcome::Invalid(errors)),
        Err(e) => Err(ssr::engine_error(e)),
    }
}

/// Turns a webhook on or off. Admins only.
#[server(endpoint = "set_webhook_active")]
pub async fn set_webhook_active(id: String, active: bool) -> Result<bool, ServerFnError> {
    let (store, user) = ssr::require_admin().await?;
    let view = store
        .set_webhook_active(&user.account_id, &id, active)
        .await
        .map_err(ssr::engine_error)?;
    Ok(view.input.active)
}

/// Sends a sample event of `event_type` to the saved webhook now. Admins only.
#[server(endpoint = "test_webhook")]
pub async fn test_webhook(
    id: String,
    event_type: String,
) -> Result<engine::model::TestSend, ServerFnError> {
    let (_, user) = ssr::require_admin().await?;
    let engine = ssr::state()?.engine;
    engine
        .test_send(&user.account_id, &id, &event_type)
        .await
        .map_err(ssr::engine_error)
}

/// Rotates the signing secret; returns the new one (shown once). Admins only.
#[server(endpoint = "rotate_secret")]
pub async fn rotate_secret(id: String) -> Result<String, ServerFnError> {
    let (store, user) = ssr::require_admin().await?;
    store
        .rotate_signing_secret(&user.account_id, &id)
        .await
        .map_err(ssr::engine_error)
}

/// Deletes a webhook. Admins only.
#[server(endpoint = "delete_webhook")]
pub async fn delete_webhook(id: String) -> Result<(), ServerFnError> {
    let (store, user) = ssr::require_admin().await?;
    store
        .delete_webhook(&user.account_id, &id)
        .await
        .map_err(ssr::engine_error)
}

/// The webhooks report page's data. A bad custom range comes back as a
/// field error for the range form; the rest of the page still renders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportView {
    pub user: User,
    pub report: Result<Report, FieldError>,
    pub runs: Vec<RetryRun>,
}

#[server(endpoint = "report", input = Json)]
pub async fn webhooks_report(
    range: RangeQuery,
    chart: Option<String>,
) -> Result<ReportView, ServerFnError> {
    let (store, user) = ssr::require_user().await?;
    let retention_days = ssr::state()?.retention_days;
    let report = match range.resolve(chrono::Utc::now()) {
        Ok(range) => Ok(store
            .report(
                &user.account_id,
                range,
                chart.as_deref().filter(|c| !c.is_empty()),
                retention_days,
            )
            .await
            .map_err(ssr::engine_error)?),
        Err(e) => Err(e),
    };
    let runs = store
        .recent_retry_runs(&user.account_id, 5)
        .await
        .map_err(ssr::engine_error)?;
    Ok(ReportView { user, report, runs })
}

/// The history page's data: one page of deliveries and the webhook names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    pub user: User,
    pub page: Result<DeliveryPage, FieldError>,
    /// Every webhook's title, for names and the filter.
    pub webhooks: Vec<WebhookTitle>,
}

/// Rows on one history page.
pub const HISTORY_PAGE: i64 = 50;

#[server(endpoint = "history", input = Json)]
pub async fn delivery_history(query: HistoryQuery) -> Result<HistoryView, ServerFnError> {
    let (store, user) = ssr::require_user().await?;
    let webhooks = store
        .webhook_titles(&user.account_id)
        .await
        .map_err(ssr::engine_error)?;
    let page =
        match engine::store::DeliveryFilter::from_query(&query, chrono::Utc::now(), HISTORY_PAGE) {
            Ok(filter) => match store.list_deliveries(&user.account_id, &filter).await {
                Ok(page) => Ok(page),
                Err(engine::store::Error::Validation(mut errors)) => Err(errors.remove(0)),
                Err(e) => return Err(ssr::engine_error(e)),
            },
            Err(e) => Err(e),
        };
    Ok(HistoryView {
        user,
        page,
        webhooks,
    })
}

/// The delivery detail page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub user: User,
    pub delivery: DeliveryState,
    pub webhook_title: String,
    /// The event envelope as JSON, pretty-printed.
    pub envelope: String,
    pub attempts: Vec<AttemptRecord>,
}

#[server(endpoint = "delivery", input = Json)]
pub async fn delivery_detail(id: String) -> Result<DeliveryView, ServerFnError> {
    let (store, user) = ssr::require_user().await?;
    let delivery = store
        .delivery(&user.account_id, &id)
        .await
        .map_err(|e| ssr::not_found(e, "That delivery does not exist (or was purged)."))?;
    let event = store
        .delivery_event(&user.account_id, &id)
        .await
        .map_err(ssr::engine_error)?;
    let attempts = store.attempts(&id).await.map_err(ssr::engine_error)?;
    let webhook_title = store
        .webhook_titles(&user.account_id)
        .await
        .map_err(ssr::engine_error)?;
    let webhook_title = WebhookTitle::of(&webhook_title, &delivery.webhook_id)
        .unwrap_or_default()
        .to_string();
    Ok(DeliveryView {
        user,
        envelope: serde_json::to_string_pretty(&engine::render::envelope(&event))
            .unwrap_or_default(),
        delivery,
        webhook_title,
        attempts,
    })
}

/// Makes one more attempt of a delivery now and waits for it. Admins only.
#[server(endpoint = "resend")]
pub async fn resend_delivery(id: String) -> Result<DeliveryState, ServerFnError> {
    let (_, user) = ssr::require_admin().await?;
    let engine = ssr::state()?.engine;
    engine
        .resend(&user.account_id, &id)
        .await
        .map_err(|e| ssr::not_found(e, "That delivery does not exist (or was purged)."))
}

/// Starts "retry all failed" for a webhook and range, then shows its
/// progress page. Admins only.
#[server(endpoint = "retry_all")]
pub async fn retry_all_failed(
    webhook_id: String,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<String, ServerFnError> {
    let (_, user) = ssr::require_admin().await?;
    let range = RangeQuery { range, from, to }
        .resolve(chrono::Utc::now())
        .map_err(|e| ssr::status(http::StatusCode::UNPROCESSABLE_ENTITY, &e.message))?;
    let run = ssr::state()?
        .engine
        .retry_all(&user.account_id, &webhook_id, range, &user.id)
        .await
        .map_err(ssr::engine_error)?;
    tracing::info!(user = %user.id, run = %run.id, webhook = %webhook_id, "retry all failed started");
    leptos_axum::redirect(&format!("/reports/retries/{}", run.id));
    Ok(run.id)
}

/// A retry-all run's progress.
#[server(endpoint = "retry_run", input = Json)]
pub async fn retry_run_progress(id: String) -> Result<(User, RetryRun), ServerFnError> {
    let (store, user) = ssr::require_user().await?;
    let run = store
        .retry_run(&user.account_id, &id)
        .await
        .map_err(|e| ssr::not_found(e, "That retry run does not exist."))?;
    Ok((user, run))
}
