//! API keys: made once (only their hash is kept), and the account a
//! request's key belongs to.

use sha2::{Digest, Sha256};

use super::{Result, Store};
use crate::clock::now_ms;
use crate::ids::{new_id, random_base36};
use crate::model::Account;

impl Store {
    /// Creates an API key and returns it in full: this is the only time it
    /// is seen. Only its hash is stored.
    pub async fn create_api_key(&self, account_id: &str, name: &str) -> Result<String> {
        // 40 random characters: about 206 bits.
        let key = format!("pbk_{}", random_base36(40));
        on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_id("key"))
        .bind(account_id)
        .bind(name.trim())
        .bind(key_hash(&key))
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(key)
    }

    /// The account an API key belongs to, or `None` for an unknown key.
    pub async fn account_for_api_key(&self, key: &str) -> Result<Option<Account>> {
        Ok(on_reader!(&self.db, pool => sqlx::query_as::<_, Account>(
            "SELECT a.id, a.name, a.external_ref FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.key_hash = $1",
        )
        .bind(key_hash(key))
        .fetch_optional(pool)
        .await)?)
    }
}

/// A key's SHA-256 in hex: keys are long and random, so no salt or slow
/// hash is needed, and a lookup is one index probe.
fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
