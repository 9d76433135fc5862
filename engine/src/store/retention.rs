//! Retention: finished deliveries past the account's retention go, with
//! their attempts and the hourly counts before the cutoff's hour, a batch
//! at a time so the writer is never held long.

use super::db::begin_write;
use super::{Result, Store};

const HOUR_MS: i64 = 3_600_000;

/// The deliveries one purge batch removes: finished ones (the work on them
/// is over) of account $1 created before $2, oldest first, $3 of them.
macro_rules! purge_chosen {
    () => {
        "SELECT id FROM deliveries WHERE account_id = $1 AND created_at < $2 \
         AND status IN ('succeeded', 'failed') ORDER BY created_at LIMIT $3"
    };
}

impl Store {
    /// Deletes up to `batch` finished deliveries (with their attempts)
    /// created before `cutoff_ms`, of one account; the hourly counts before
    /// the cutoff's hour go with them. Returns how many deliveries went.
    pub async fn purge_batch(&self, account_id: &str, cutoff_ms: i64, batch: i64) -> Result<u64> {
        let cutoff = cutoff_ms - cutoff_ms.rem_euclid(HOUR_MS);
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(begin_write(pool)).await?;
            sqlx::query(concat!("DELETE FROM attempts WHERE delivery_id IN (", purge_chosen!(), ")"))
                .bind(account_id)
                .bind(cutoff)
                .bind(batch)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query(concat!("DELETE FROM deliveries WHERE id IN (", purge_chosen!(), ")"))
                .bind(account_id)
                .bind(cutoff)
                .bind(batch)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM delivery_counts WHERE account_id = $1 AND hour < $2")
                .bind(account_id)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(gone)
        })
    }
}
