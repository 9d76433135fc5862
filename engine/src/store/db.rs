//! The connection layer: a SQLite file (one writing connection, read-only
//! ones beside it, a checkpointer) or a PostgreSQL pool; write
//! transactions of either; the macros that run one query text on whichever
//! pool a store holds; and the multi-row statement sizes that stay
//! prepared.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::error::{Error, Result};

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One process; writes queue on one connection.
    Sqlite,
    /// Several processes may share it; writers run side by side.
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite has one writer at a time. Writes go through a pool of one
/// connection, so they queue in order in the process instead of spinning in
/// SQLite's busy handler (which sleeps up to 100 ms a turn); reads use a
/// pool of read-only connections, which WAL lets run beside the writer.
#[derive(Clone, Debug)]
pub(crate) struct SqlitePools {
    pub(crate) write: SqlitePool,
    pub(crate) read: SqlitePool,
    /// Copies the WAL into the database file beside the writer (a file
    /// database only).
    checkpoint: Option<Checkpointer>,
}

/// Checkpoints on a connection of its own, woken once the delivery
/// engine's commits have written [`CHECKPOINT_AFTER_ROWS`] rows: the copy
/// from the WAL into the database file and its sync run beside the writer
/// instead of inside one of its commits (SQLite checkpoints every 1,000
/// pages otherwise). The writer checkpoints itself only once the WAL
/// passes [`WAL_PAGES_BEFORE_WRITER_CHECKPOINTS`], which finishes what the
/// checkpointer started so the WAL starts over. Stops when the last clone
/// of its store is gone.
#[derive(Clone, Debug)]
struct Checkpointer {
    pool: SqlitePool,
    wake: Arc<Notify>,
    /// Rows written since the last wake.
    rows: Arc<AtomicUsize>,
    _task: Arc<AbortOnDrop>,
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
        let wake = Arc::new(Notify::new());
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
            _task: Arc::new(AbortOnDrop(task.abort_handle())),
        })
    }
}

/// How a write transaction starts. SQLite takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that read first fails with
/// "database is locked" when another connection committed a write meanwhile.
pub(crate) trait WriteBegin {
    const BEGIN: &'static str;
}

impl WriteBegin for sqlx::Sqlite {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}

impl WriteBegin for sqlx::Postgres {
    const BEGIN: &'static str = "BEGIN";
}

/// The statement that starts a write transaction on `pool`'s database.
pub(crate) fn begin_write<DB: sqlx::Database + WriteBegin>(_: &sqlx::Pool<DB>) -> &'static str {
    DB::BEGIN
}

/// Runs the same query code on either backend's pool: on SQLite its one
/// writing connection. Anything that writes goes here.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::db::Db::Sqlite(pools) => {
                let $pool = &pools.write;
                $body
            }
            $crate::store::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_writer!`] for queries that only read: on SQLite they run on the
/// read-only connections, beside the writer.
macro_rules! on_reader {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::db::Db::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            $crate::store::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs the same statement code in a [`WriteTx`] of either backend: `$t` is
/// the `&mut Transaction`, so statements execute on `&mut **$t`.
macro_rules! in_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            $crate::store::db::WriteTx::Sqlite($t) => $body,
            $crate::store::db::WriteTx::Postgres($t) => $body,
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

impl WriteTx {
    /// Starts a part of the transaction that can be undone alone. Parts
    /// do not nest: each ends with [`WriteTx::release_savepoint`] or
    /// [`WriteTx::roll_back_to_savepoint`] before the next starts.
    pub(crate) async fn savepoint(&mut self) -> Result<()> {
        self.simple("SAVEPOINT part").await
    }

    /// Keeps what the part did.
    pub(crate) async fn release_savepoint(&mut self) -> Result<()> {
        self.simple("RELEASE SAVEPOINT part").await
    }

    /// Undoes what the part did; the transaction goes on.
    pub(crate) async fn roll_back_to_savepoint(&mut self) -> Result<()> {
        self.simple("ROLLBACK TO SAVEPOINT part; RELEASE SAVEPOINT part")
            .await
    }

    async fn simple(&mut self, sql: &'static str) -> Result<()> {
        in_tx!(self, t => sqlx::raw_sql(sql).execute(&mut **t).await.map(|_| ()))?;
        Ok(())
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await?,
            WriteTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Whether a statement built for `rows` rows stays prepared in its
/// connection's statement cache. Small ones repeat (one event per API
/// call) and are cheap to keep; larger ones change size from turn to turn,
/// and each size would keep its own compiled program (tens of MB of them
/// under load). Multi-row writes use [`statement_chunks`] instead, whose
/// sizes repeat.
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
/// parsed anew for every batch.
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

impl Db {
    /// Opens a pool for `sqlite://…` or `postgres://…`. A SQLite file (and
    /// its folder) is created when missing, in WAL mode with
    /// `synchronous=FULL`: a commit is on disk before it returns.
    pub(crate) async fn open(url: &str) -> Result<Db> {
        if url.starts_with("sqlite:") {
            Ok(Db::Sqlite(open_sqlite(url).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(
                        PgConnectOptions::from_str(url)?.statement_cache_capacity(STATEMENTS_KEPT),
                    )
                    .await?,
            ))
        } else {
            Err(Error::UnsupportedUrl(url.to_string()))
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Starts a write transaction (on SQLite, on its one writer).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        Ok(match self {
            Db::Sqlite(pools) => {
                WriteTx::Sqlite(pools.write.begin_with(begin_write(&pools.write)).await?)
            }
            Db::Postgres(pool) => WriteTx::Postgres(pool.begin_with(begin_write(pool)).await?),
        })
    }

    /// The delivery engine committed `rows` rows: the checkpointer, if
    /// any, copies them once there are enough.
    pub(crate) fn wal_grew(&self, rows: usize) {
        if let Db::Sqlite(SqlitePools {
            checkpoint: Some(checkpoint),
            ..
        }) = self
            && checkpoint.rows.fetch_add(rows, Ordering::Relaxed) + rows >= CHECKPOINT_AFTER_ROWS
        {
            checkpoint.rows.store(0, Ordering::Relaxed);
            checkpoint.wake.notify_one();
        }
    }

    /// Applies pending migrations. An error here must stop start-up.
    pub(crate) async fn migrate(&self) -> Result<()> {
        let result = match self {
            Db::Sqlite(pools) => {
                sqlx::migrate!("../migrations/sqlite")
                    .run(&pools.write)
                    .await
            }
            Db::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
        };
        result.map_err(|e| Error::Migration(e.to_string()))
    }

    pub(crate) async fn close(&self) {
        match self {
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
}

async fn open_sqlite(url: &str) -> Result<SqlitePools> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // 8 KiB pages for a new database (an existing one keeps its own):
        // a turn of the engine writes about half as many pages to the WAL,
        // one system call each. Larger pages cost the one-webhook case,
        // whose small commits each write whole pages.
        .page_size(8192)
        // Statement journals (a statement's undo within a larger
        // transaction) in memory, not in temporary files.
        .pragma("temp_store", "memory");
    let path = options.get_filename();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot create the folder {}: {e}", dir.display()),
            ))
        })?;
    }
    let in_memory = options.get_filename() == std::path::Path::new(":memory:");
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // 16 MiB of pages (the default is 2 MiB): the indexes the hot path
        // touches stay in memory. Readers keep the default: their cache
        // starts over after every write anyway.
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
    // An in-memory database exists once per connection: it reads through
    // its writer.
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
    Ok(SqlitePools {
        write,
        read,
        checkpoint,
    })
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
