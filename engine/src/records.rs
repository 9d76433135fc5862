//! Record changes into events: the engine accepts the events a change wrote
//! to the outbox through the same fan-out as `POST /events` (inline webhooks
//! attempted at once), then clears them. If the engine cannot take them
//! now, the change stands and the upkeep sends them shortly.

use crate::handle::Engine;
use crate::model::{Account, EmittedEvent, Saved};
use crate::store::{Outbox, Result, Store};

/// Outbox rows older than this are taken as left by a stopped process or
/// a busy moment, and accepted by the upkeep.
pub const LEFT_AFTER_MS: i64 = 10_000;

impl Engine {
    /// Accepts the events of a change and clears them from the outbox;
    /// each with its deliveries, inline ones with their first outcome.
    pub async fn emit(&self, account: &Account, outbox: Outbox) -> Vec<EmittedEvent> {
        if outbox.is_empty() {
            return Vec::new();
        }
        let keys = outbox.keys();
        let types: Vec<String> = outbox.events.iter().map(|e| e.event_type.clone()).collect();
        match self.accept_events(account, outbox.events).await {
            Ok(answers) => {
                if let Err(e) = self.store().clear_outbox(&keys).await {
                    tracing::warn!(error = %e, "clearing accepted record events failed; the upkeep will");
                }
                answers
                    .into_iter()
                    .zip(types)
                    .map(|(a, event_type)| EmittedEvent {
                        id: Some(a.id),
                        event_type,
                        deliveries: a.deliveries,
                    })
                    .collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "record events wait in the outbox; the upkeep sends them");
                types
                    .into_iter()
                    .map(|event_type| EmittedEvent {
                        id: None,
                        event_type,
                        deliveries: Vec::new(),
                    })
                    .collect()
            }
        }
    }

    /// A changed record with its events accepted.
    pub async fn saved<T>(&self, account: &Account, (record, outbox): (T, Outbox)) -> Saved<T> {
        Saved {
            record,
            events: self.emit(account, outbox).await,
        }
    }
}

/// Accepts the events stopped processes and busy moments left in the
/// outbox (their idempotency keys make a second acceptance return the
/// first), and clears them: those written more than `older_than_ms` ago
/// (the upkeep gives [`LEFT_AFTER_MS`]). Returns how many.
pub async fn flush_outbox(store: &Store, older_than_ms: i64) -> Result<usize> {
    let mut flushed = 0;
    loop {
        let left = store.left_in_outbox(older_than_ms, 500).await?;
        if left.is_empty() {
            return Ok(flushed);
        }
        for group in left {
            let account = store.account(&group.account_id).await?;
            let keys: Vec<String> = group
                .events
                .iter()
                .filter_map(|e| e.idempotency_key.clone())
                .collect();
            store.accept_events(&account, group.events).await?;
            store.clear_outbox(&keys).await?;
            flushed += keys.len();
        }
    }
}
