//! The store: one interface over SQLite (the default, one process) and
//! PostgreSQL (scale-out). Queries are written once with `$n` placeholders,
//! which both drivers accept, and [`on_writer!`] and [`on_reader!`] run them on whichever pool
//! this store holds; each backend has its own migrations. The conformance
//! suite in `tests/` runs every operation against both.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::catalog::Catalog;
use crate::model::{Auth, Role, User, WebhookInput, WebhookView};
use crate::validate::{FieldError, ValidateOptions, validate_webhook};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks one or more rules; each error names its field.
    #[error("invalid input: {}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// The database could not apply the migrations; start-up stops.
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the database URL {0:?} is not sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// The same error for another caller of a shared transaction that failed.
    pub fn for_another_caller(&self) -> Error {
        match self {
            Error::Validation(errors) => Error::Validation(errors.clone()),
            Error::NotFound => Error::NotFound,
            other => Error::Database(sqlx::Error::Protocol(other.to_string())),
        }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, code, message)])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite has one writer at a time. Writes go through a pool of one
/// connection, so they queue in order in the process instead of spinning in
/// SQLite's busy handler (which sleeps up to 100 ms a turn); reads use a
/// pool of read-only connections, which WAL lets run beside the writer.
#[derive(Clone, Debug)]
struct SqlitePools {
    write: SqlitePool,
    read: SqlitePool,
    /// Copies the WAL into the database file beside the writer (a file
    /// database only).
    checkpoint: Option<Checkpointer>,
}

/// Checkpoints on a connection of its own, woken once the delivery
/// engine's commits have written [`CHECKPOINT_AFTER_ROWS`] rows: the copy
/// from the WAL into the database file and its sync run beside the writer
/// instead of inside one of its commits (SQLite checkpoints every 1,000
/// pages otherwise, taking about a tenth of the writer's time in the
/// ten-webhook benchmark). The writer checkpoints
/// itself only once the WAL passes [`WAL_PAGES_BEFORE_WRITER_CHECKPOINTS`],
/// which finishes what the checkpointer started so the WAL starts over.
/// Stops when the last clone of its store is gone.
#[derive(Clone, Debug)]
struct Checkpointer {
    pool: SqlitePool,
    wake: std::sync::Arc<tokio::sync::Notify>,
    /// Rows written since the last wake.
    rows: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _task: std::sync::Arc<AbortOnDrop>,
}

/// Rows the engine writes between checkpoints: a few hundred pages, so a
/// burst is copied turn by turn while a steady trickle is not synced into
/// the database file after every small commit.
const CHECKPOINT_AFTER_ROWS: usize = 1000;

/// Pages in the WAL before the writer checkpoints itself, finishing what
/// the [`Checkpointer`] started (32 MiB of 8 KiB pages).
const WAL_PAGES_BEFORE_WRITER_CHECKPOINTS: u32 = 4000;

#[derive(Debug)]
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Checkpointer {
    async fn start(options: SqliteConnectOptions) -> Result<Checkpointer> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn({
            let (pool, wake) = (pool.clone(), wake.clone());
            async move {
                loop {
                    wake.notified().await;
                    // PASSIVE: copies what no reader still needs, never
                    // waits for the writer or a reader.
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&pool)
                        .await
                    {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(error = %e, "checkpointing the SQLite WAL failed");
                    }
                }
            }
        });
        Ok(Checkpointer {
            pool,
            wake,
            rows: Default::default(),
            _task: std::sync::Arc::new(AbortOnDrop(task.abort_handle())),
        })
    }
}

/// How a write transaction starts. SQLite takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that read first fails with
/// "database is locked" when another connection committed a write meanwhile.
trait WriteBegin {
    const BEGIN: &'static str;
}

impl WriteBegin for sqlx::Sqlite {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}

impl WriteBegin for sqlx::Postgres {
    const BEGIN: &'static str = "BEGIN";
}

fn begin_write<DB: sqlx::Database + WriteBegin>(_: &sqlx::Pool<DB>) -> &'static str {
    DB::BEGIN
}

/// Runs the same query code on either backend's pool: on SQLite its one
/// writing connection. Anything that writes goes here.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite(pools) => {
                let $pool = &pools.write;
                $body
            }
            Db::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_writer!`] for queries that only read: on SQLite they run on the
/// read-only connections, beside the writer.
macro_rules! on_reader {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            Db::Postgres($pool) => $body,
        }
    };
}

/// A write transaction on either backend, for work that spans several
/// functions and commits once (the delivery engine's turn: acceptance,
/// recording and claiming share one commit and its sync).
pub(crate) enum WriteTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same statement code in a [`WriteTx`] of either backend: `$t` is
/// the `&mut Transaction`, so statements execute on `&mut **$t`.
macro_rules! in_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            WriteTx::Sqlite($t) => $body,
            WriteTx::Postgres($t) => $body,
        }
    };
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await?,
            WriteTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Binds the columns `title` to `active` of a [`WebhookRow`], in the order
/// the insert and the update both number them ($3 to $16).
macro_rules! bind_webhook_columns {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.title)
            .bind(&$row.url)
            .bind($row.port)
            .bind(&$row.method)
            .bind(&$row.format)
            .bind(&$row.auth)
            .bind(&$row.headers)
            .bind(&$row.triggers)
            .bind(&$row.mapping)
            .bind(&$row.execution_mode)
            .bind(&$row.delivery_mode)
            .bind(&$row.retry)
            .bind($row.timeout_ms)
            .bind($row.active)
    };
}

mod deliveries;
mod events;
mod reports;
pub use deliveries::{
    AttemptRecord, DeliveryFilter, DeliveryPage, DeliveryState, Job, MAX_RECORDED_BODY, Outcome,
    ToSend, Turn, TurnDone,
};
pub use events::{Accepted, DeliveryRef, EventPage, LoggedEvent, NewEvent, check_event};
pub use reports::{PastAttempt, PastDelivery};

/// The columns [`WebhookRow`] reads, as a literal for `concat!`.
macro_rules! webhook_columns {
    () => {
        "id, account_id, title, url, port, method, format, auth, headers, triggers, mapping, \
         execution_mode, delivery_mode, retry, timeout_ms, active, disabled_reason, \
         signing_secret, previous_secret, previous_secret_until, created_at, updated_at"
    };
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    catalog: std::sync::Arc<Catalog>,
    validate: ValidateOptions,
    disable: DisablePolicy,
}

/// When a webhook whose deliveries keep failing is turned off automatically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisablePolicy {
    /// After this many deliveries in a row were given up.
    pub after_given_up: u32,
    /// After every attempt failed for this long.
    pub after_failing_ms: i64,
}

impl Default for DisablePolicy {
    fn default() -> Self {
        DisablePolicy {
            after_given_up: 100,
            after_failing_ms: 5 * 24 * 3600 * 1000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub external_ref: Option<String>,
}

pub const DEFAULT_ACCOUNT: &str = "default";

/// How long the secret before a rotation keeps signing beside the new one.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

/// Whether a statement built for `rows` rows stays prepared in its
/// connection's statement cache. Small ones repeat (one event per API
/// call) and are cheap to keep; larger ones change size from turn to turn,
/// and each size would keep its own compiled program: about 40 MB of them
/// in the ten-webhook benchmark. Multi-row writes use [`statement_chunks`]
/// instead, whose sizes repeat.
pub(crate) fn keep_prepared(rows: usize) -> bool {
    rows <= SMALL_STATEMENT
}

/// Prepared statements a connection keeps (sqlx's default is 100): each
/// multi-row write comes in about 20 sizes (see [`statement_chunks`]).
const STATEMENTS_KEPT: usize = 300;

/// Statements of up to this many rows are kept prepared whatever their size.
const SMALL_STATEMENT: usize = 16;

/// Splits `rows` into the chunks of multi-row statements, in order: `full`
/// rows while there are that many, then powers of two down to 16, then the
/// rest. The sizes repeat from batch to batch, so each statement is
/// compiled once per connection and kept (a few MB in all) instead of
/// parsed anew for every batch, which took about 7% of the writer's time.
pub(crate) fn statement_chunks<T>(mut rows: &[T], full: usize) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let n = match rows.len() {
            0 => return None,
            len if len >= full => full,
            len if len > SMALL_STATEMENT => 1 << len.ilog2(),
            len => len,
        };
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

impl Store {
    /// Opens a pool for `sqlite://…` or `postgres://…`. A SQLite file (and
    /// its folder) is created when missing, in WAL mode with
    /// `synchronous=FULL`: a commit is on disk before it returns.
    pub async fn connect(url: &str) -> Result<Store> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // 8 KiB pages for a new database (an existing one keeps its
                // own): a turn of the engine writes about half as many
                // pages to the WAL, one system call each. Measured against
                // 4 KiB, interleaved: 10-13% more deliveries/s to one
                // webhook and to ten; 16 KiB helped ten webhooks more but
                // cost one webhook 8-18% (each small commit writes whole
                // pages).
                .page_size(8192)
                // Statement journals (a statement's undo within a larger
                // transaction) in memory, not in temporary files.
                .pragma("temp_store", "memory");
            let path = options.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::Database(sqlx::Error::Configuration(
                        format!("cannot create the folder {}: {e}", dir.display()).into(),
                    ))
                })?;
            }
            let in_memory = options.get_filename() == std::path::Path::new(":memory:");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                // 16 MiB of pages (the default is 2 MiB): the indexes the
                // hot path touches stay in memory (32 MiB measured no
                // faster and cost 15-25 MB more). Readers keep the default:
                // their cache starts over after every write anyway.
                .connect_with(
                    options
                        .clone()
                        .pragma("cache_size", "-16384")
                        .pragma(
                            "wal_autocheckpoint",
                            WAL_PAGES_BEFORE_WRITER_CHECKPOINTS.to_string(),
                        )
                        .statement_cache_capacity(STATEMENTS_KEPT),
                )
                .await?;
            // An in-memory database exists once per connection: it reads
            // through its writer.
            let (read, checkpoint) = if in_memory {
                (write.clone(), None)
            } else {
                let options = options.create_if_missing(false);
                let read = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options.clone().read_only(true))
                    .await?;
                (read, Some(Checkpointer::start(options).await?))
            };
            Db::Sqlite(SqlitePools {
                write,
                read,
                checkpoint,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(
                        PgConnectOptions::from_str(url)?.statement_cache_capacity(STATEMENTS_KEPT),
                    )
                    .await?,
            )
        } else {
            return Err(Error::UnsupportedUrl(url.to_string()));
        };
        Ok(Store {
            db,
            catalog: std::sync::Arc::new(Catalog::builtin()),
            validate: ValidateOptions::default(),
            disable: DisablePolicy::default(),
        })
    }

    /// Starts a write transaction (on SQLite, on its one writer).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        Ok(match &self.db {
            Db::Sqlite(pools) => {
                WriteTx::Sqlite(pools.write.begin_with(begin_write(&pools.write)).await?)
            }
            Db::Postgres(pool) => WriteTx::Postgres(pool.begin_with(begin_write(pool)).await?),
        })
    }

    /// The delivery engine committed `rows` rows: the checkpointer, if
    /// any, copies them once there are enough.
    pub(crate) fn wal_grew(&self, rows: usize) {
        use std::sync::atomic::Ordering;
        if let Db::Sqlite(SqlitePools {
            checkpoint: Some(checkpoint),
            ..
        }) = &self.db
            && checkpoint.rows.fetch_add(rows, Ordering::Relaxed) + rows >= CHECKPOINT_AFTER_ROWS
        {
            checkpoint.rows.store(0, Ordering::Relaxed);
            checkpoint.wake.notify_one();
        }
    }

    /// Applies the validation settings (e.g. `https_only`) to every save.
    pub fn with_validation(mut self, options: ValidateOptions) -> Self {
        self.validate = options;
        self
    }

    /// Sets when failing webhooks are turned off automatically.
    pub fn with_disable_policy(mut self, policy: DisablePolicy) -> Self {
        self.disable = policy;
        self
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Applies pending migrations. An error here must stop start-up.
    pub async fn migrate(&self) -> Result<()> {
        let result = match &self.db {
            Db::Sqlite(pools) => {
                sqlx::migrate!("../migrations/sqlite")
                    .run(&pools.write)
                    .await
            }
            Db::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
        };
        result.map_err(|e| Error::Migration(e.to_string()))
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pools) => {
                if let Some(checkpoint) = &pools.checkpoint {
                    checkpoint.pool.close().await;
                }
                pools.read.close().await;
                pools.write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    // ---- accounts -------------------------------------------------------

    /// The account `default`, created on the first start.
    pub async fn ensure_default_account(&self) -> Result<Account> {
        match self.account_by_name(DEFAULT_ACCOUNT).await? {
            Some(account) => Ok(account),
            None => self.create_account(DEFAULT_ACCOUNT, None).await,
        }
    }

    pub async fn create_account(&self, name: &str, external_ref: Option<&str>) -> Result<Account> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::field("name", "required", "Give the account a name."));
        }
        let account = Account {
            id: new_id("acc"),
            name: name.to_string(),
            external_ref: external_ref.map(str::to_string),
        };
        let result = on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO accounts (id, name, external_ref, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&account.id)
        .bind(&account.name)
        .bind(&account.external_ref)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
        match result {
            Ok(_) => Ok(account),
            Err(e) if is_unique_violation(&e) => Err(Error::field(
                "name",
                "duplicate_name",
                format!("An account named {name} exists."),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        Ok(on_reader!(&self.db, pool => sqlx::query_as::<_, Account>(
            "SELECT id, name, external_ref FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn account(&self, id: &str) -> Result<Account> {
        on_reader!(&self.db, pool => sqlx::query_as::<_, Account>(
            "SELECT id, name, external_ref FROM accounts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)
    }

    // ---- users ----------------------------------------------------------

    pub async fn count_users(&self) -> Result<i64> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await)?,
        )
    }

    /// Adds a user; fails with a field error on a bad or taken email or a
    /// short password.
    pub async fn create_user(
        &self,
        account_id: &str,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User> {
        self.insert_user(account_id, email, password, role, false)
            .await
    }

    /// Creates the installation's first admin, only while there are no users
    /// at all (the check and the insert are one statement).
    pub async fn create_first_admin(&self, email: &str, password: &str) -> Result<User> {
        let account = self.ensure_default_account().await?;
        self.insert_user(&account.id, email, password, Role::Admin, true)
            .await
    }

    async fn insert_user(
        &self,
        account_id: &str,
        email: &str,
        password: &str,
        role: Role,
        only_if_first: bool,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        check_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let user = User {
            id: new_id("usr"),
            account_id: account_id.to_string(),
            email,
            role,
        };
        let sql = if only_if_first {
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM users)"
        } else {
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        };
        let result = on_writer!(&self.db, pool => sqlx::query(sql)
            .bind(&user.id)
            .bind(&user.account_id)
            .bind(&user.email)
            .bind(&hash)
            .bind(user.role.as_str())
            .bind(now_ms())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        match result {
            Ok(1) => Ok(user),
            Ok(_) => Err(Error::field(
                "email",
                "already_set_up",
                "An admin already exists; sign in instead.",
            )),
            Err(e) if is_unique_violation(&e) => Err(Error::field(
                "email",
                "duplicate_email",
                format!("A user with the email {} already exists.", user.email),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this email and password, or `None`. Hashing runs off the
    /// async threads; an unknown email costs the same time as a wrong password.
    pub async fn authenticate(&self, email: &str, password: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, UserRow>(
            "SELECT id, account_id, email, role, password_hash FROM users WHERE email = $1",
        )
        .bind(&email)
        .fetch_optional(pool)
        .await)?;
        let hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = verify_password(password.to_string(), hash).await?;
        Ok(row.filter(|_| ok).and_then(UserRow::into_user))
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, UserRow>(
            "SELECT id, account_id, email, role, password_hash FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.and_then(UserRow::into_user))
    }

    // ---- sessions (the tower-sessions store writes through these) --------

    pub async fn session_save(
        &self,
        id: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(id)
        .bind(data)
        .bind(expires_at.timestamp_millis())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Inserts a new session; `false` when the id is taken.
    pub async fn session_create(
        &self,
        id: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let inserted = on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(data)
        .bind(expires_at.timestamp_millis())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(inserted == 1)
    }

    /// The session's data while it has not expired.
    pub async fn session_load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT data FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(pool)
        .await)?,
        )
    }

    pub async fn session_delete(&self, id: &str) -> Result<()> {
        on_writer!(&self.db, pool => sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn session_purge_expired(&self) -> Result<u64> {
        let done = on_writer!(&self.db, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    // ---- webhooks -------------------------------------------------------

    /// Validates and stores a new webhook. Returns it with its signing
    /// secret, which is shown to the admin this once.
    pub async fn create_webhook(
        &self,
        account_id: &str,
        input: WebhookInput,
    ) -> Result<(WebhookView, String)> {
        let input = self.checked(account_id, None, input).await?;
        let id = new_id("wh");
        let secret = new_signing_secret();
        let now = now_ms();
        let row = WebhookRow::from_input(&id, account_id, &input, &secret, now)?;
        let result = on_writer!(&self.db, pool => bind_webhook_columns!(
            sqlx::query(
                "INSERT INTO webhooks (id, account_id, title, url, port, method, format, auth, headers, \
                 triggers, mapping, execution_mode, delivery_mode, retry, timeout_ms, active, \
                 disabled_reason, signing_secret, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, $17, $18, $18)",
            )
            .bind(&row.id)
            .bind(&row.account_id),
            row
        )
        .bind(&secret)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
        result.map_err(title_taken)?;
        Ok((self.webhook(account_id, &id).await?, secret))
    }

    /// Replaces a webhook's settings. A masked secret keeps the stored one.
    pub async fn update_webhook(
        &self,
        account_id: &str,
        id: &str,
        input: WebhookInput,
    ) -> Result<WebhookView> {
        let stored = self.webhook_row(account_id, id).await?;
        let stored_auth: Auth = serde_json::from_str(&stored.auth).unwrap_or_default();
        let input = WebhookInput {
            auth: input.auth.merge_secret(&stored_auth),
            ..input
        };
        let input = self.checked(account_id, Some(id), input).await?;
        let row = WebhookRow::from_input(id, account_id, &input, &stored.signing_secret, now_ms())?;
        // Turning a webhook back on clears the reason it was turned off.
        let result = on_writer!(&self.db, pool => bind_webhook_columns!(
            sqlx::query(
                "UPDATE webhooks SET title = $3, url = $4, port = $5, method = $6, format = $7, auth = $8, \
                 headers = $9, triggers = $10, mapping = $11, execution_mode = $12, delivery_mode = $13, \
                 retry = $14, timeout_ms = $15, active = $16, updated_at = $17, \
                 disabled_reason = CASE WHEN $16 THEN NULL ELSE disabled_reason END \
                 WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
            )
            .bind(account_id)
            .bind(id),
            row
        )
        .bind(row.updated_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
        if result.map_err(title_taken)? == 0 {
            return Err(Error::NotFound);
        }
        self.webhook(account_id, id).await
    }

    /// Turns a webhook on or off without touching anything else.
    pub async fn set_webhook_active(
        &self,
        account_id: &str,
        id: &str,
        active: bool,
    ) -> Result<WebhookView> {
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE webhooks SET active = $3, updated_at = $4, \
             disabled_reason = CASE WHEN $3 THEN NULL ELSE disabled_reason END \
             WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(account_id)
        .bind(id)
        .bind(active)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(Error::NotFound);
        }
        self.webhook(account_id, id).await
    }

    /// Deletes a webhook. Its row stays (marked deleted) so that delivery
    /// history still names it; its title is free again.
    pub async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<()> {
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE webhooks SET deleted_at = $3, active = FALSE \
             WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(account_id)
        .bind(id)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            Err(Error::NotFound)
        } else {
            Ok(())
        }
    }

    /// One live webhook of the account, secrets masked.
    pub async fn webhook(&self, account_id: &str, id: &str) -> Result<WebhookView> {
        self.webhook_row(account_id, id).await?.into_view()
    }

    /// A webhook as the sender needs it: real auth secrets, and the secrets
    /// requests are signed with (the current one first; during the 24 hours
    /// after a rotation also the one before). Never hand this to a page or an
    /// API answer.
    pub async fn webhook_with_secrets(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<(WebhookInput, Vec<String>)> {
        let row = self.webhook_row(account_id, id).await?;
        let auth: Auth = serde_json::from_str(&row.auth).unwrap_or_default();
        let mut secrets = vec![row.signing_secret.clone()];
        if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until)
            && until > now_ms()
        {
            secrets.push(previous.clone());
        }
        let view = row.into_view()?;
        Ok((WebhookInput { auth, ..view.input }, secrets))
    }

    /// Replaces the signing secret; the old one keeps signing too for
    /// [`ROTATION_OVERLAP_MS`]. Returns the new secret: shown this once.
    pub async fn rotate_signing_secret(&self, account_id: &str, id: &str) -> Result<String> {
        let secret = new_signing_secret();
        let now = now_ms();
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE webhooks SET previous_secret = signing_secret, previous_secret_until = $3, \
             signing_secret = $4, updated_at = $5 WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(account_id)
        .bind(id)
        .bind(now + ROTATION_OVERLAP_MS)
        .bind(&secret)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            Err(Error::NotFound)
        } else {
            Ok(secret)
        }
    }

    /// The account's live webhooks, newest first, secrets masked.
    pub async fn list_webhooks(&self, account_id: &str) -> Result<Vec<WebhookView>> {
        let rows = on_reader!(&self.db, pool => sqlx::query_as::<_, WebhookRow>(concat!(
            "SELECT ", webhook_columns!(), " FROM webhooks WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(account_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(WebhookRow::into_view).collect()
    }

    async fn webhook_row(&self, account_id: &str, id: &str) -> Result<WebhookRow> {
        on_reader!(&self.db, pool => sqlx::query_as::<_, WebhookRow>(concat!(
            "SELECT ", webhook_columns!(), " FROM webhooks WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)
    }

    /// Runs every validation rule, including the title's uniqueness.
    async fn checked(
        &self,
        account_id: &str,
        id: Option<&str>,
        mut input: WebhookInput,
    ) -> Result<WebhookInput> {
        input.title = input.title.trim().to_string();
        input.url = input.url.trim().to_string();
        let mut errors = validate_webhook(&input, &self.catalog, self.validate);
        if !input.title.is_empty() {
            let taken = on_reader!(&self.db, pool => sqlx::query_scalar::<_, String>(
                "SELECT id FROM webhooks WHERE account_id = $1 AND title = $2 AND deleted_at IS NULL",
            )
            .bind(account_id)
            .bind(&input.title)
            .fetch_optional(pool)
            .await)?;
            if taken.is_some_and(|other| Some(other.as_str()) != id) {
                errors.insert(0, duplicate_title(&input.title));
            }
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(Error::Validation(errors))
        }
    }
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    account_id: String,
    title: String,
    url: String,
    port: Option<i32>,
    method: String,
    format: String,
    auth: String,
    headers: String,
    triggers: String,
    mapping: String,
    execution_mode: String,
    delivery_mode: String,
    retry: String,
    timeout_ms: i32,
    active: bool,
    disabled_reason: Option<String>,
    signing_secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl WebhookRow {
    fn from_input(
        id: &str,
        account_id: &str,
        input: &WebhookInput,
        secret: &str,
        now: i64,
    ) -> Result<Self> {
        Ok(WebhookRow {
            id: id.to_string(),
            account_id: account_id.to_string(),
            title: input.title.clone(),
            url: input.url.clone(),
            port: input.port.map(i32::from),
            method: input.method.as_str().to_string(),
            format: input.format.as_str().to_string(),
            auth: to_json(&input.auth)?,
            headers: to_json(&input.headers)?,
            triggers: to_json(&input.triggers)?,
            mapping: to_json(&input.mapping)?,
            execution_mode: input.execution_mode.as_str().to_string(),
            delivery_mode: input.delivery_mode.as_str().to_string(),
            retry: to_json(&input.retry)?,
            timeout_ms: i32::try_from(input.timeout_ms).unwrap_or(i32::MAX),
            active: input.active,
            disabled_reason: None,
            signing_secret: secret.to_string(),
            previous_secret: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
        })
    }

    fn into_view(self) -> Result<WebhookView> {
        let corrupt = |what: &str| {
            Error::Database(sqlx::Error::Decode(
                format!("webhook {}: bad {what}", self.id).into(),
            ))
        };
        let auth: Auth = serde_json::from_str(&self.auth).map_err(|_| corrupt("auth"))?;
        let input = WebhookInput {
            title: self.title.clone(),
            url: self.url.clone(),
            port: self.port.and_then(|p| u16::try_from(p).ok()),
            method: crate::model::Method::parse(&self.method).ok_or_else(|| corrupt("method"))?,
            format: crate::model::Format::parse(&self.format).ok_or_else(|| corrupt("format"))?,
            auth: auth.masked(),
            headers: serde_json::from_str(&self.headers).map_err(|_| corrupt("headers"))?,
            triggers: serde_json::from_str(&self.triggers).map_err(|_| corrupt("triggers"))?,
            mapping: serde_json::from_str(&self.mapping).map_err(|_| corrupt("mapping"))?,
            execution_mode: crate::model::ExecutionMode::parse(&self.execution_mode)
                .ok_or_else(|| corrupt("execution_mode"))?,
            delivery_mode: crate::model::DeliveryMode::parse(&self.delivery_mode)
                .ok_or_else(|| corrupt("delivery_mode"))?,
            retry: serde_json::from_str(&self.retry).map_err(|_| corrupt("retry"))?,
            timeout_ms: u32::try_from(self.timeout_ms).unwrap_or_default(),
            active: self.active,
        };
        Ok(WebhookView {
            id: self.id,
            input,
            disabled_reason: self.disabled_reason,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Database(sqlx::Error::Encode(e.to_string().into())))
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    account_id: String,
    email: String,
    role: String,
    password_hash: String,
}

impl UserRow {
    fn into_user(self) -> Option<User> {
        Some(User {
            id: self.id,
            account_id: self.account_id,
            email: self.email,
            role: Role::parse(&self.role)?,
        })
    }
}

fn duplicate_title(title: &str) -> FieldError {
    FieldError::new(
        "title",
        "duplicate_title",
        format!("Another webhook is already called {title:?}."),
    )
}

fn title_taken(e: sqlx::Error) -> Error {
    if is_unique_violation(&e) {
        Error::Validation(vec![FieldError::new(
            "title",
            "duplicate_title",
            "Another webhook already has this title.",
        )])
    } else {
        e.into()
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A random id with a readable prefix, e.g. `wh_3k9x…`.
pub fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // Nine base-36 digits of the millisecond clock, then eleven random ones:
    // ids made later sort later, so new rows land at the end of every index
    // on an id instead of on random pages (a batch then writes a few pages
    // to the WAL, not one per row).
    let mut clock = u64::try_from(now_ms()).unwrap_or(0);
    let mut head = [b'0'; 9];
    for digit in head.iter_mut().rev() {
        *digit = ALPHABET[(clock % 36) as usize];
        clock /= 36;
    }
    format!(
        "{prefix}_{}{}",
        String::from_utf8_lossy(&head),
        random_base36(11)
    )
}

/// `len` random characters of `0-9a-z`.
pub fn random_base36(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
pub fn new_signing_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && !email.contains(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(Error::field(
            "email",
            "invalid_email",
            "Enter an email address like jane@example.com.",
        ))
    }
}

pub const MIN_PASSWORD: usize = 8;

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        Err(Error::field(
            "password",
            "weak_password",
            format!("Use at least {MIN_PASSWORD} characters."),
        ))
    } else if password.len() > 1024 {
        Err(Error::field(
            "password",
            "weak_password",
            "Use at most 1024 bytes.",
        ))
    } else {
        Ok(())
    }
}

/// A real argon2 hash of a random password, verified against when the email
/// is unknown so that a login takes the same time either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5tiNgILNm4NkEzrHDeMNn5PYBGd1I6vMMpkxTQ1Ou0A";

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| Error::Hash(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Hash(e.to_string()))
    })
    .await
    .map_err(|e| Error::Hash(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::Hash(e.to_string()))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| Error::Hash(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::statement_chunks;

    #[test]
    fn statement_chunks_keep_every_row_in_order_in_sizes_that_repeat() {
        for len in [0, 1, 15, 16, 17, 255, 499, 500, 501, 1234, 2000] {
            let rows: Vec<usize> = (0..len).collect();
            let chunks: Vec<&[usize]> = statement_chunks(&rows, 500).collect();
            assert_eq!(chunks.concat(), rows, "{len} rows");
            for chunk in &chunks {
                let n = chunk.len();
                assert!(
                    (1..=16).contains(&n) || [32, 64, 128, 256, 500].contains(&n),
                    "{len} rows gave a chunk of {n}"
                );
            }
        }
        let sizes: Vec<usize> = statement_chunks(&[0u8; 1234], 500)
            .map(<[u8]>::len)
            .collect();
        assert_eq!(sizes, [500, 500, 128, 64, 32, 10]);
    }
}
