//! tower-sessions records stored in Postback's own database (SQLite or
//! PostgreSQL), so sessions survive restarts and are shared by processes.

use std::time::Duration;

use async_trait::async_trait;
use engine::store::Store;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        DbSessionStore { store }
    }
}

fn expiry(record: &Record) -> chrono::DateTime<chrono::Utc> {
    let ms = record.expiry_date.unix_timestamp_nanos() / 1_000_000;
    engine::clock::from_ms(i64::try_from(ms).unwrap_or(i64::MAX))
}

fn encode(record: &Record) -> Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|e| Error::Encode(e.to_string()))
}

fn backend(e: engine::Error) -> Error {
    Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A new id on the (astronomically rare) collision.
        loop {
            let data = encode(record)?;
            if self
                .store
                .session_create(&record.id.to_string(), &data, expiry(record))
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let data = encode(record)?;
        self.store
            .session_save(&record.id.to_string(), &data, expiry(record))
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self
            .store
            .session_load(&id.to_string())
            .await
            .map_err(backend)?
        {
            Some(data) => Ok(Some(
                rmp_serde::from_slice(&data).map_err(|e| Error::Decode(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.store
            .session_delete(&id.to_string())
            .await
            .map_err(backend)
    }
}

/// Deletes expired sessions every ten minutes, for as long as the server runs.
pub async fn purge_expired(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = store.session_purge_expired().await {
            tracing::warn!(error = %e, "could not purge expired sessions");
        }
    }
}
