//! The store: one interface over SQLite (the default, one process) and
//! PostgreSQL (scale-out). Queries are written once with `$n` placeholders,
//! which both drivers accept, and `on_writer!` and `on_reader!` run them
//! on whichever pool this store holds; each backend has its own
//! migrations. The conformance suite in `tests/` runs every operation
//! against both. The store stores: what a delivery's next step is, and
//! when to turn a failing webhook off, is decided by its callers.
//!
//! # Layout
//! - `db`: pools, the checkpointer, write transactions, statement chunks.
//! - `accounts`, `users` (with passwords), `sessions`, `api_keys`.
//! - `contacts`: CRM contacts with their statuses, flags, assigned users,
//!   leads and to-dos (`activity`); `items` the account's settings items (sources,
//!   statuses …); `outbox` the events their changes emit, on the way to
//!   the engine; `search` the words the contacts list's `q` finds them by.
//! - `webhooks`: webhooks and their stored row, signing-secret rotation.
//! - `turn`: the delivery engine's writer turn: accepting events into
//!   deliveries, recording attempts, claiming what is due, and loading
//!   what a turn took for sending.
//! - `health`: webhook health and automatic disable, recorded in a turn
//!   by the caller's policy.
//! - `test_sends`: the delivery of a console or API test send.
//! - `history`: deliveries and attempts as support reads them.
//! - `event_log`: the ordered event log; `event_types` the types an
//!   account's programs sent beyond the built-in ones.
//! - `jobs`: background jobs (mass posts), where each stopped and who
//!   holds it.
//! - `retries`: one delivery made due again, and retry-all runs.
//! - `reports`: the webhooks report and its hourly counts.
//! - `retention`: the purge of deliveries past retention.
//! - `import`: past deliveries, for benchmarks and range tests.

#[macro_use]
pub(crate) mod db;

mod accounts;
mod activity;
mod api_keys;
mod contacts;
mod event_log;
mod event_types;
mod health;
mod history;
mod import;
pub mod imports;
mod items;
pub mod jobs;
mod outbox;
mod reports;
mod retention;
mod retries;
mod search;
mod sessions;
mod test_sends;
mod turn;
mod users;
mod webhooks;

use std::sync::Arc;

use crate::validate::ValidateOptions;
use db::{Db, WriteTx};

pub use crate::error::{Error, Result};
pub use accounts::DEFAULT_ACCOUNT;
pub use contacts::MAX_CONTACT_PAGE;
pub use db::Backend;
pub use event_types::MAX_OWN_TYPES;
pub use health::{DisablePolicy, TurnedOff};
pub use history::DeliveryFilter;
pub use import::{PastAttempt, PastDelivery};
pub use outbox::{LeftOver, Outbox};
pub use retention::ABANDONED_TEST_AFTER_MS;
pub use turn::{Calls, Ready, ToSend, Turn, TurnDone};
pub use users::MIN_PASSWORD;
pub use webhooks::{ROTATION_OVERLAP_MS, WebhookSecrets};

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    validate: ValidateOptions,
    /// Who this process's claims belong to (see [`Store::with_worker`]).
    worker: Arc<str>,
    /// Seals and opens the secrets stored with webhooks.
    sealer: Arc<crate::seal::Sealer>,
    /// The accounts' own event types this process knows are stored.
    seen_types: Arc<event_types::SeenTypes>,
    /// When a search reads words and when the newest contacts.
    search: search::Limits,
}

impl Store {
    /// Opens a pool for `sqlite://…` or `postgres://…`. A SQLite file (and
    /// its folder) is created when missing, in WAL mode with
    /// `synchronous=FULL`: a commit is on disk before it returns.
    ///
    /// Secrets are sealed with the key [`crate::seal`] describes: from
    /// `POSTBACK_SECRET_KEY`, or the key file beside a SQLite file.
    pub async fn connect(url: &str) -> Result<Store> {
        let var = |name: &str| std::env::var(name).ok();
        let sealer = crate::seal::Sealer::for_database(
            url,
            var(crate::seal::KEY_VAR).as_deref(),
            var(crate::seal::PREVIOUS_KEY_VAR).as_deref(),
        )?;
        Ok(Store {
            sealer: Arc::new(sealer),
            db: Db::open(url).await?,
            validate: ValidateOptions::default(),
            worker: crate::ids::new_id("worker").into(),
            seen_types: Default::default(),
            search: search::Limits::default(),
        })
    }

    /// Names the process for its claims. A worker that starts again under
    /// its earlier name takes back at once what it held when it stopped
    /// ([`Store::release_stale_claims`]); two live processes must never
    /// share one. Without a name, each process gets a new one.
    pub fn with_worker(mut self, name: &str) -> Self {
        self.worker = name.into();
        self
    }

    /// This store with other search limits, so tests reach each way a
    /// search reads with a few contacts.
    #[cfg(feature = "testing")]
    pub fn with_search_limits(mut self, words_read: i64, newest_walked: i64) -> Self {
        self.search = search::Limits {
            words_read,
            newest_walked,
        };
        self
    }

    /// The name this process's claims are made under.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Applies the validation settings (e.g. `https_only`) to every save.
    pub fn with_validation(mut self, options: ValidateOptions) -> Self {
        self.validate = options;
        self
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Applies pending migrations. An error here must stop start-up.
    /// Secrets stored in clear (before sealing existed) are sealed then.
    pub async fn migrate(&self) -> Result<()> {
        self.db.migrate().await?;
        // Accounts made before settings items existed get the starter set.
        self.add_starter_items().await?;
        let indexed = self.index_contact_words().await?;
        if indexed > 0 {
            tracing::info!(
                contacts = indexed,
                "wrote the search words of contacts stored before them"
            );
        }
        let resealed = self.reseal_secrets().await?;
        if resealed > 0 {
            tracing::info!(
                webhooks = resealed,
                "sealed the secrets of webhooks stored before sealing"
            );
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.db.close().await
    }

    /// Starts a write transaction (on SQLite, on its one writer).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        self.db.begin_write().await
    }

    /// Runs SQL text as it is, on the writer: for tests that make the
    /// database itself refuse something (a trigger), never for the product.
    #[cfg(feature = "testing")]
    pub async fn run_sql_for_tests(&self, sql: &'static str) -> Result<()> {
        on_writer!(&self.db, pool => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

/// `Ok` when a statement changed a row; [`Error::NotFound`] when it
/// matched none.
fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}
