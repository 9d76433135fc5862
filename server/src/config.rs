//! The command line and configuration: defaults, then flags, then
//! `POSTBACK_…` environment variables, all listed in `--help`.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use engine::EngineConfig;
use engine::delivery::DeliveryConfig;
use engine::store::DisablePolicy;
use engine::upkeep::UpkeepConfig;

#[derive(Debug, Parser)]
#[command(
    name = "postback",
    version,
    about = "Webhook integrations console and delivery engine for CRMs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console and the API, and deliver (the default).
    Serve(ServeArgs),
    /// Deliver only: claim due deliveries and send them (PostgreSQL lets
    /// any number of these share the work).
    Worker(WorkerArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Manage console users.
    #[command(subcommand)]
    User(UserCommand),
    /// Measure delivery speed against a loopback receiver this starts itself.
    Bench(crate::bench::delivery::BenchArgs),
    /// Seed a large delivery history and time the report pages' rendering.
    #[command(name = "bench-reports")]
    BenchReports(crate::bench::reports::BenchReportsArgs),
    /// Time a CSV import, a mass post and the contacts list at scale.
    #[command(name = "bench-records")]
    BenchRecords(crate::bench::records::BenchRecordsArgs),
    /// Start a server and measure its memory and delivery speed under
    /// sign-in and connection floods, all on loopback.
    #[command(name = "bench-floods")]
    BenchFloods(crate::bench::floods::BenchFloodsArgs),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// The key that seals webhooks' secrets in the database.
    #[command(subcommand, name = "secret-key")]
    SecretKey(SecretKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretKeyCommand {
    /// Print a new random key (64 hex digits) for POSTBACK_SECRET_KEY.
    New,
    /// Seal every secret again with a new key. With a key file (SQLite,
    /// no POSTBACK_SECRET_KEY) a new key is made and the file updated;
    /// otherwise set POSTBACK_SECRET_KEY to the new key and
    /// POSTBACK_SECRET_KEY_PREVIOUS to the old one first.
    Rotate(DbArgs),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; prints the key alone on stdout (shown only this once).
    Create(ApiKeyCreateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ApiKeyCreateArgs {
    /// The account the key acts for.
    #[arg(long, default_value = "default")]
    pub account: String,
    /// A label to recognise the key by.
    #[arg(long, default_value = "api")]
    pub name: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add(UserAddArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// sqlite://PATH (created when missing) or postgres://USER:PASS@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/postback.db?mode=rwc"
    )]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the console listens on.
    #[arg(long, env = "POSTBACK_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub delivery: DeliveryArgs,

    /// Serve the console and the API only; leave delivering to `postback worker`.
    #[arg(long, env = "POSTBACK_NO_WORKER", default_value_t = false)]
    pub no_worker: bool,

    /// Reject plain http:// payload URLs (production setting).
    #[arg(long, env = "POSTBACK_HTTPS_ONLY", default_value_t = false)]
    pub https_only: bool,

    /// Mark the session cookie Secure (browsers then send it over https
    /// only). Default: on, unless the console listens on loopback.
    #[arg(long, env = "POSTBACK_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,

    /// API requests handled at once; one more answers 503 with
    /// `Retry-After` at once instead of queueing.
    #[arg(long, env = "POSTBACK_API_CONCURRENCY", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub api_concurrency: u32,

    /// Any request still unanswered after this many seconds answers 408
    /// (above the longest webhook timeout, which a test send waits for).
    #[arg(long, env = "POSTBACK_REQUEST_TIMEOUT_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_seconds: u64,

    /// A connection that has not sent a whole request head this many
    /// seconds after it opened (or after its last answer) is closed, so
    /// slow senders cannot hold connections open (slowloris).
    #[arg(long, env = "POSTBACK_HEADER_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout_seconds: u64,

    /// Ask the first admin's page for a one-time token printed in the
    /// log. Default: asked unless the console listens on loopback; set it
    /// on behind a proxy on this machine that the network reaches.
    #[arg(long, env = "POSTBACK_SETUP_TOKEN")]
    pub setup_token: Option<bool>,

    /// Sign-in lasts this many hours of inactivity.
    #[arg(long, env = "POSTBACK_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,

    /// A sign-in ends this many hours after it began, however active.
    #[arg(long, env = "POSTBACK_SESSION_MAX_HOURS", default_value_t = 24)]
    pub session_max_hours: u32,

    /// Folder with the built console assets (pkg/ with the WASM, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Send to loopback, private and link-local addresses (development and
    /// tests). Off in production: a webhook could otherwise reach internal services.
    #[arg(
        long,
        env = "POSTBACK_ALLOW_PRIVATE_DESTINATIONS",
        default_value_t = false
    )]
    pub allow_private_destinations: bool,

    /// Attempts in flight at once.
    #[arg(long, env = "POSTBACK_CONCURRENCY", default_value_t = DeliveryConfig::default().concurrency)]
    pub concurrency: usize,

    /// Attempts in flight at once to one webhook (fast mode), so a slow
    /// receiver cannot take every slot.
    #[arg(long, env = "POSTBACK_WEBHOOK_CONCURRENCY",
          default_value_t = DeliveryConfig::default().per_webhook)]
    pub webhook_concurrency: usize,

    /// Turn a webhook off after this many of its deliveries in a row were given up.
    #[arg(long, env = "POSTBACK_DISABLE_AFTER_GIVEN_UP",
          default_value_t = DisablePolicy::default().after_given_up)]
    pub disable_after_given_up: u32,

    /// Turn a webhook off after every attempt failed for this many hours.
    #[arg(long, env = "POSTBACK_DISABLE_AFTER_HOURS",
          default_value_t = (DisablePolicy::default().after_failing_ms / HOUR_MS) as u32)]
    pub disable_after_hours: u32,

    /// How long a claimed delivery belongs to the worker that claimed it;
    /// if that process dies mid-attempt, another takes the delivery after
    /// this. Keep it above the longest webhook timeout.
    #[arg(long, env = "POSTBACK_LEASE_SECONDS",
          default_value_t = DeliveryConfig::default().lease.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_seconds: u64,

    /// This process's name for the deliveries it claims. Started again
    /// under the same name, it sends at once what it held when it stopped
    /// (on PostgreSQL; on SQLite every claim is released at start); two
    /// running processes must never share a name. Default: `serve` is
    /// named after this machine and its port; each `worker` start gets a
    /// new name, so its earlier claims wait out their leases.
    #[arg(long, env = "POSTBACK_WORKER_NAME")]
    pub worker_name: Option<String>,

    /// Keep deliveries and their attempts this many days; older ones are
    /// purged in the background, in small batches.
    #[arg(long, env = "POSTBACK_RETENTION_DAYS",
          default_value_t = UpkeepConfig::default().retention_days,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retention_days: u32,
}

const HOUR_MS: i64 = 3_600_000;

impl DeliveryArgs {
    /// The engine these flags ask for; `no_delivery` when another process
    /// delivers.
    pub fn engine_config(&self, no_delivery: bool) -> EngineConfig {
        EngineConfig {
            delivery: DeliveryConfig {
                allow_private: self.allow_private_destinations,
                concurrency: self.concurrency.max(1),
                per_webhook: self.webhook_concurrency.max(1),
                lease: std::time::Duration::from_secs(self.lease_seconds),
                disable: DisablePolicy {
                    after_given_up: self.disable_after_given_up.max(1),
                    after_failing_ms: i64::from(self.disable_after_hours.max(1)) * HOUR_MS,
                },
                ..DeliveryConfig::default()
            },
            upkeep: UpkeepConfig {
                retention_days: self.retention_days,
                ..UpkeepConfig::default()
            },
            no_delivery,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Support,
}

#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (one line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The account the user belongs to; created when missing.
    #[arg(long, default_value = "default")]
    pub account: String,
    #[command(flatten)]
    pub db: DbArgs,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs::from_env_and_defaults()
    }
}

impl ServeArgs {
    /// `serve` with no flags: defaults overridden by the environment.
    pub fn from_env_and_defaults() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["postback"]).serve
    }

    /// Whether the session cookie is Secure: as set, or on unless the
    /// console listens on loopback (where browsers treat plain http as
    /// secure anyway, and a trial needs no certificate).
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies.unwrap_or(!self.addr.ip().is_loopback())
    }

    /// Whether an empty installation's setup asks for a token.
    pub fn setup_asks_token(&self) -> bool {
        self.setup_token.unwrap_or(!self.addr.ip().is_loopback())
    }

    /// How long a sign-in lasts at most.
    pub fn session_lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.session_max_hours) * 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::ServeArgs;

    #[test]
    fn cookies_are_secure_unless_served_on_loopback_or_told_otherwise() {
        let on = |addr: &str, secure: Option<bool>| {
            ServeArgs {
                addr: addr.parse().unwrap(),
                secure_cookies: secure,
                ..ServeArgs::from_env_and_defaults()
            }
            .cookies_secure()
        };
        assert!(!on("127.0.0.1:3000", None));
        assert!(!on("[::1]:3000", None));
        assert!(on("0.0.0.0:3000", None));
        assert!(on("[::]:3000", None));
        assert!(!on("0.0.0.0:3000", Some(false)));
        assert!(on("127.0.0.1:3000", Some(true)));
    }
}
