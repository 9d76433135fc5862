#![recursion_limit = "512"]
//! The `postback` server: configuration, start-up (database, migrations,
//! default account), the axum router with the console and sessions, and
//! graceful shutdown. `main.rs` only parses the command line.
//!
//! # Layout
//! - [`api`]: the REST API under `/api/v1`.
//! - [`bench`]: `postback bench` (delivery speed) and `postback
//!   bench-reports` (report pages at volume).
//! - [`config`]: the command line and environment variables.
//! - [`export`]: the delivery history as a streamed CSV download.
//! - [`sessions`]: tower-sessions records kept in Postback's own database.
//! - [`guard`]: sends page requests to setup or sign-in when needed,
//!   refuses console requests forged by other sites, and adds the security
//!   headers every answer carries.
//! - [`openapi`]: the API's OpenAPI document, generated from the code.
//! - `listen`: the connection loop, with a header-read timeout.

pub mod api;
pub mod bench;
pub mod config;
pub mod export;
pub mod guard;
mod listen;
pub mod openapi;
pub mod sessions;
pub mod upload;

use std::future::Future;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use app::api::ssr::AppState;
use axum::Router;
use engine::Engine;
use engine::model::Role;
use engine::store::Store;
use engine::validate::ValidateOptions;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

use config::{ApiKeyCommand, Cli, Command, RoleArg, SecretKeyCommand, ServeArgs, UserCommand};

/// Logs as text to stderr; `RUST_LOG` sets the level (default info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs one command of the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let listener = TcpListener::bind(args.addr)
                .await
                .with_context(|| format!("cannot listen on {}", args.addr))?;
            let store = open_store(&args.db.database_url).await?;
            serve(args, store, listener, shutdown_signal()).await
        }
        Command::Worker(args) => {
            let mut store = open_store(&args.db.database_url).await?;
            if let Some(name) = &args.delivery.worker_name {
                store = store.with_worker(name);
            }
            let engine = Engine::start(store.clone(), args.delivery.engine_config(false))
                .context("starting the delivery engine")?;
            tracing::info!(database = %store.backend(), "Postback is delivering");
            shutdown_signal().await;
            engine.shutdown().await;
            store.close().await;
            Ok(())
        }
        Command::Bench(args) => bench::delivery::run(args).await,
        Command::BenchReports(args) => bench::reports::run(args).await,
        Command::BenchRecords(args) => bench::records::run(args).await,
        Command::BenchFloods(args) => bench::floods::run(args).await,
        Command::Migrate(db) => {
            open_store(&db.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::SecretKey(SecretKeyCommand::New) => {
            println!("{}", engine::seal::new_key());
            Ok(())
        }
        Command::SecretKey(SecretKeyCommand::Rotate(db)) => {
            rotate_secret_key(&db.database_url).await
        }
        Command::ApiKey(ApiKeyCommand::Create(args)) => {
            let store = open_store(&args.db.database_url).await?;
            let account = store
                .account_by_name(&args.account)
                .await?
                .with_context(|| format!("there is no account named {:?}", args.account))?;
            let key = store.create_api_key(&account.id, &args.name).await?;
            println!("{key}");
            Ok(())
        }
        Command::User(UserCommand::Add(args)) => {
            let store = open_store(&args.db.database_url).await?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let account = match store.account_by_name(&args.account).await? {
                Some(account) => account,
                None => store
                    .create_account(&args.account, None)
                    .await
                    .map_err(user_error)?,
            };
            let role = match args.role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Support => Role::Support,
            };
            let user = store
                .create_user(&account.id, &args.email, password, role)
                .await
                .map_err(user_error)?;
            println!(
                "added {} ({}) to account {}",
                user.email,
                role.as_str(),
                account.name
            );
            Ok(())
        }
    }
}

/// Field errors read as sentences on the command line.
fn user_error(e: engine::Error) -> anyhow::Error {
    match e {
        engine::Error::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => other.into(),
    }
}

/// Connects, migrates and makes sure the `default` account exists. A failed
/// migration stops start-up with the database's own words.
pub async fn open_store(database_url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(database_url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(database_url)))?;
    store
        .migrate()
        .await
        .context("start-up stopped: the database could not be migrated")?;
    store.ensure_default_account().await?;
    Ok(store)
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// `postback secret-key rotate`: seals every webhook's secrets with a new
/// key. With a key file, the new key goes first in the file and the old
/// one stays on its second line until every secret is sealed again, so a
/// crash midway loses nothing (the next start finishes the job).
async fn rotate_secret_key(url: &str) -> anyhow::Result<()> {
    use engine::seal;
    let from_env = std::env::var(seal::KEY_VAR).is_ok_and(|k| !k.trim().is_empty());
    // With a key file: the new key, written first with the old one after
    // it until every secret is sealed again.
    let mut rotating = None;
    if let Some(file) = seal::key_file_of(url).filter(|_| !from_env) {
        let old = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the key file {}", file.display()))?;
        let old = old.lines().next().unwrap_or_default().trim().to_string();
        let new = seal::new_key();
        seal::write_key_file(&file, &[&new, &old])
            .with_context(|| format!("writing the key file {}", file.display()))?;
        rotating = Some((file, new));
    } else if std::env::var(seal::PREVIOUS_KEY_VAR).is_err() {
        anyhow::bail!(
            "set {} to the new key (`postback secret-key new` makes one) and {} to the key in use, then run this again",
            seal::KEY_VAR,
            seal::PREVIOUS_KEY_VAR
        );
    }
    // Opening the store seals again whatever the new key did not seal.
    let store = open_store(url).await?;
    if let Some((file, new)) = &rotating {
        seal::write_key_file(file, &[new])?;
        println!(
            "every secret is sealed with the new key in {}",
            file.display()
        );
    } else {
        println!(
            "every secret is sealed with the key in {}; {} can be removed",
            seal::KEY_VAR,
            seal::PREVIOUS_KEY_VAR
        );
    }
    store.close().await;
    Ok(())
}

/// This machine's name, for naming its `serve` process's claims.
fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The one-time token an empty installation's setup asks for, printed in
/// the log (see [`ServeArgs::setup_asks_token`]); none once a user exists.
async fn setup_token(
    args: &ServeArgs,
    store: &Store,
) -> anyhow::Result<Option<app::api::ssr::SetupToken>> {
    if !args.setup_asks_token() || store.count_users().await? > 0 {
        return Ok(None);
    }
    let token = engine::ids::random_base36(26);
    tracing::warn!(
        "no user exists yet: the first admin's page asks for this one-time setup token: {token}"
    );
    Ok(Some(app::api::ssr::SetupToken(token.into())))
}

/// Serves the console on `listener` until `shutdown` completes.
pub async fn serve(
    args: ServeArgs,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let worker = match &args.delivery.worker_name {
        Some(name) => name.clone(),
        None => format!("{}:{}", machine_name(), addr.port()),
    };
    let store = store
        .with_validation(ValidateOptions {
            https_only: args.https_only,
        })
        .with_worker(&worker);
    let mut leptos_options = get_configuration(None)
        .map(|c| c.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("postback").build());
    leptos_options.site_addr = addr;
    leptos_options.site_root = args.site_root.clone().into();
    let engine = Engine::start(store.clone(), args.delivery.engine_config(args.no_worker))
        .context("starting the delivery engine")?;
    let sign_ins = Arc::new(app::throttle::SignInThrottle::default());
    let state = AppState {
        store: store.clone(),
        engine: engine.clone(),
        leptos_options,
        retention_days: args.delivery.retention_days,
        session_lifetime: args.session_lifetime(),
        sign_ins: sign_ins.clone(),
        setup_token: setup_token(&args, &store).await?,
    };
    let api_state = api::ApiState {
        store: store.clone(),
        engine: engine.clone(),
    };
    let router = router(state, &args, api_state);

    let purge = tokio::spawn(sessions::purge_expired(store.clone()));
    let forget = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            sign_ins.forget_old();
        }
    });
    tracing::info!(%addr, database = %store.backend(), "Postback is serving the console at http://{addr}");
    if args.cookies_secure() && !addr.ip().is_loopback() {
        tracing::warn!(
            "session cookies are Secure: browsers sign in only over https (put a TLS proxy in front), \
             or set --secure-cookies=false to serve plain http on a network you trust"
        );
    }
    listen::serve(
        listener,
        router,
        std::time::Duration::from_secs(args.header_timeout_seconds),
        shutdown,
    )
    .await;
    purge.abort();
    forget.abort();
    // In-flight attempts finish and are recorded before the database closes.
    engine.shutdown().await;
    store.close().await;
    Ok(())
}

fn router(state: AppState, args: &ServeArgs, api_state: api::ApiState) -> Router {
    let routes = generate_route_list(app::App);
    let session_layer =
        SessionManagerLayer::new(sessions::DbSessionStore::new(state.store.clone()))
            .with_name("postback_session")
            .with_secure(args.cookies_secure())
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_expiry(Expiry::OnInactivity(time::Duration::hours(i64::from(
                args.session_hours,
            ))));
    let guard_state = guard::GuardState {
        store: state.store.clone(),
        has_users: Arc::new(AtomicBool::new(false)),
        session_lifetime: args.session_lifetime(),
    };
    let router = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/reports/history.csv",
            axum::routing::get(export::history_csv),
        )
        .route(
            "/jobs/{id}/errors.csv",
            axum::routing::get(export::job_errors_csv),
        )
        .route(
            "/contacts/import",
            axum::routing::post(upload::upload_import).layer(axum::extract::DefaultBodyLimit::max(
                upload::MAX_UPLOAD_BYTES,
            )),
        )
        .nest(
            "/api/v1",
            api::router(api_state).layer(
                tower::ServiceBuilder::new()
                    .layer(axum::error_handling::HandleErrorLayer::new(
                        |_: tower::BoxError| async { api::ApiError::busy() },
                    ))
                    .load_shed()
                    // One limit shared by every route (a router's layer
                    // wraps each route apart).
                    .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                        args.api_concurrency as usize,
                    )),
            ),
        )
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            guard_state,
            guard::pages,
        ))
        .layer(session_layer)
        .layer(axum::middleware::from_fn(guard::same_origin))
        .layer(axum::middleware::from_fn(guard::no_nul_in_console_body))
        .layer(axum::middleware::from_fn(guard::no_nul_in_address))
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(args.request_timeout_seconds),
        ))
        .with_state(state);
    // Secure cookies mean the console is reached over https (a TLS proxy
    // in front): browsers are told to keep to https. Over plain http they
    // ignore the header.
    if args.cookies_secure() {
        router.layer(axum::middleware::map_response(guard::strict_transport))
    } else {
        router
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_never_reach_messages() {
        assert_eq!(
            super::redact_url("postgres://pb:hunter2@db.local:5432/pb"),
            "postgres://pb:***@db.local:5432/pb"
        );
        assert_eq!(
            super::redact_url("sqlite://./data/p.db"),
            "sqlite://./data/p.db"
        );
    }
}
