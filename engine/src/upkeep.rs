//! Background upkeep beside delivery: folding the report counts, purging
//! deliveries and events past the retention age in small batches,
//! finishing abandoned test sends, accepting record events left in the
//! outbox, and marking the
//! deliveries of retry-all runs (resuming runs a stopped process left).

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::store::{Result, Store};

/// Deliveries removed per purge transaction: small, so the delivery
/// engine's writes never wait long behind one.
pub const PURGE_BATCH: i64 = 500;
/// Deliveries a retry-all run makes due per transaction.
pub const RETRY_BATCH: i64 = 200;

#[derive(Clone, Copy, Debug)]
pub struct UpkeepConfig {
    /// Deliveries and their attempts older than this are purged, and the
    /// events no delivery refers to any more.
    pub retention_days: u32,
    /// How often counts are folded and old deliveries purged.
    pub every: Duration,
}

impl Default for UpkeepConfig {
    fn default() -> Self {
        UpkeepConfig {
            retention_days: 30,
            every: Duration::from_secs(30),
        }
    }
}

/// Runs upkeep every `config.every` until `stop` turns true.
pub async fn run(store: Store, config: UpkeepConfig, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = once(&store, config, &stop).await {
            tracing::error!(error = %e, "upkeep failed; trying again later");
        }
        tokio::select! {
            () = tokio::time::sleep(config.every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// One round: resume unfinished retry-all runs, purge, fold counts.
pub async fn once(store: &Store, config: UpkeepConfig, stop: &watch::Receiver<bool>) -> Result<()> {
    let flushed = crate::records::flush_outbox(store, crate::records::LEFT_AFTER_MS).await?;
    if flushed > 0 {
        tracing::info!(
            flushed,
            "accepted record events a stopped process or a busy moment left"
        );
    }
    for run in store.unmarked_retry_runs().await? {
        mark_retry_run(store, &run).await?;
    }
    let cutoff = now_ms() - i64::from(config.retention_days) * 86_400_000;
    for account in store.account_ids().await? {
        let mut purged = 0;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let gone = store.purge_batch(&account, cutoff, PURGE_BATCH).await?;
            purged += gone;
            if gone < PURGE_BATCH as u64 {
                break;
            }
            // Let deliveries write between batches.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut events = 0;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let gone = store
                .purge_events_batch(&account, cutoff, PURGE_BATCH)
                .await?;
            events += gone;
            if gone < PURGE_BATCH as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if purged > 0 || events > 0 {
            tracing::info!(account = %account, purged, events, "purged deliveries and events past retention");
        }
    }
    let jobs = store.purge_jobs(cutoff, now_ms() - DRAFT_KEPT_MS).await?;
    if jobs > 0 {
        tracing::info!(
            jobs,
            "purged finished jobs past retention and abandoned import drafts"
        );
    }
    let abandoned = store
        .abandon_stale_test_sends(now_ms() - crate::store::ABANDONED_TEST_AFTER_MS)
        .await?;
    if abandoned > 0 {
        tracing::info!(abandoned, "marked abandoned test sends failed");
    }
    store.compact_counts().await
}

/// How long an uploaded import waits for its mapping before it goes.
pub const DRAFT_KEPT_MS: i64 = 86_400_000;

/// Makes every failed delivery of a retry-all run due again, a batch at a
/// time; the delivery engine sends them as they come due.
pub async fn mark_retry_run(store: &Store, run_id: &str) -> Result<()> {
    while !store.mark_retry_batch(run_id, RETRY_BATCH).await? {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
