//! Fresh databases of both kinds.

pub use engine::testing::{TestReceiver, eventually};

use engine::store::Store;
use sqlx::Connection;

pub async fn sqlite() -> Store {
    let dir = std::env::temp_dir().join(format!("postback-test-{}", engine::store::new_id("db")));
    let url = format!("sqlite://{}/postback.db?mode=rwc", dir.display());
    let store = Store::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    store
}

pub async fn postgres() -> Option<Store> {
    let url = fresh_postgres_url().await?;
    let store = Store::connect(&url).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(store)
}

/// A new, empty PostgreSQL database's URL, when a server is configured.
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("POSTBACK_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set POSTBACK_TEST_POSTGRES_URL"
        );
        eprintln!("PostgreSQL run skipped: POSTBACK_TEST_POSTGRES_URL is not set");
        return None;
    };
    let name = engine::store::new_id("pbtest");
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    match base.rsplit_once('/') {
        Some((server, _)) => Some(format!("{server}/{name}")),
        None => panic!("POSTBACK_TEST_POSTGRES_URL must end in /<database>"),
    }
}
