//! Fresh databases of both kinds.

pub use engine::testing::{TestReceiver, eventually, fresh_postgres_url};

use engine::store::Store;

/// A fresh SQLite database in a folder of its own, and the guard that
/// removes the folder when the test is done with it.
pub async fn sqlite() -> (Store, TempDir) {
    let dir =
        TempDir(std::env::temp_dir().join(format!("postback-test-{}", engine::ids::new_id("db"))));
    let url = format!("sqlite://{}?mode=rwc", dir.db_path().display());
    let store = Store::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    (store, dir)
}

/// A test database's folder, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn db_path(&self) -> std::path::PathBuf {
        self.0.join("postback.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn postgres() -> Option<Store> {
    let url = fresh_postgres_url().await?;
    let store = Store::connect(&url).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(store)
}
