//! Console sessions: the tower-sessions store of the server writes and
//! reads them through these.

use chrono::{DateTime, Utc};

use super::{Result, Store};
use crate::clock::now_ms;

/// A session saved over any with its id.
const SAVE: &str = "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at";

/// A new session, unless its id is taken.
const CREATE: &str = "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO NOTHING";

impl Store {
    /// Writes a session, replacing one with the same id.
    pub async fn session_save(
        &self,
        id: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.session_insert(id, data, expires_at, SAVE)
            .await
            .map(drop)
    }

    /// Inserts a new session; `false` when the id is taken.
    pub async fn session_create(
        &self,
        id: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.session_insert(id, data, expires_at, CREATE).await? == 1)
    }

    /// Runs one of the session inserts; how many rows it wrote.
    async fn session_insert(
        &self,
        id: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
        sql: &'static str,
    ) -> Result<u64> {
        Ok(on_writer!(&self.db, pool => sqlx::query(sql)
            .bind(id)
            .bind(data)
            .bind(expires_at.timestamp_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
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
}
