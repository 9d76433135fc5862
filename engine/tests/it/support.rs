//! Fresh databases of both kinds.

pub use engine::testing::{TestReceiver, eventually, fresh_postgres_url};

use engine::store::Store;

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
