//! The engine's integration tests, in one binary. Store tests run on SQLite
//! and, when `POSTBACK_TEST_POSTGRES_URL` names a server (CI always gives
//! one), on PostgreSQL too; each test gets a fresh database.

/// Runs each named `async fn(Store)` of the calling module as two tests,
/// `sqlite::name` and `postgres::name`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let (store, _dir) = super::sqlite().await;
                super::$name(store).await
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() {
                if let Some(store) = super::postgres().await { super::$name(store).await }
            })*
        }
    };
}

/// Runs each named `async fn(Store)` of the calling module as two tests on
/// a runtime with two threads (the engine's tasks run beside the test's).
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _dir) = super::sqlite().await;
                super::$name(store).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = super::postgres().await { super::$name(store).await }
            })*
        }
    };
}

mod conformance;
mod delivery;
mod event_log;
mod faults;
mod imports;
mod isolation;
mod jobs;
mod properties;
mod records;
mod reports;
mod restart;
mod support;
