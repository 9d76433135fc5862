//! Record changes into events: the engine accepts the events a change wrote
//! to the outbox through the same fan-out as `POST /events` (inline webhooks
//! attempted at once), then clears them. If the engine cannot take them
//! now, the change stands and the upkeep sends them shortly.

use serde_json::{Value, json};

use crate::clock::{from_ms, now_ms};
use crate::handle::Engine;
use crate::ids::new_id;
use crate::model::{
    Account, AccountRef, Actor, ContactDetail, EmittedEvent, Event, Saved, TestSend, WebhookInput,
    noun_of,
};
use crate::render::RenderedRequest;
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

/// The event a webhook sends when it is run on one contact ("execute
/// webhook"): of the webhook's first trigger's type (`contact.updated`
/// when it has none), with the data that type carries: the contact itself
/// for contact events; the contact's latest lead or to-do with the contact
/// inside for lead and to-do events; the contact inside for any other.
pub fn contact_event_for(
    webhook: &WebhookInput,
    detail: &ContactDetail,
    account: &Account,
    actor: Option<Actor>,
) -> Event {
    let event_type = webhook
        .triggers
        .first()
        .map(|t| t.event_type.clone())
        .unwrap_or_else(|| "contact.updated".into());
    let contact = serde_json::to_value(&detail.contact).unwrap_or(Value::Null);
    let with_contact = |record: Option<Value>| {
        let mut data = record.unwrap_or_else(|| json!({"contact_id": detail.contact.id}));
        data["contact"] = contact.clone();
        data
    };
    let data = match noun_of(&event_type) {
        "contact" => contact.clone(),
        "lead" => with_contact(
            detail
                .leads
                .first()
                .and_then(|l| serde_json::to_value(l).ok()),
        ),
        "todo" => with_contact(
            detail
                .todos
                .first()
                .and_then(|t| serde_json::to_value(t).ok()),
        ),
        _ => json!({ "contact": contact }),
    };
    Event {
        id: new_id("evt"),
        event_type,
        account: AccountRef::from(account),
        occurred_at: from_ms(now_ms()),
        actor,
        data,
    }
}

impl Engine {
    /// The request a webhook would send for this contact, secrets masked:
    /// what "execute webhook" shows before it sends.
    pub async fn execute_preview(
        &self,
        account_id: &str,
        webhook_id: &str,
        contact_id: &str,
    ) -> Result<RenderedRequest> {
        let store = self.store();
        let detail = store.contact_detail(account_id, contact_id).await?;
        let webhook = store.chosen_webhook(account_id, webhook_id).await?;
        let account = store.account(account_id).await?;
        let event = contact_event_for(&webhook.input, &detail, &account, None);
        crate::render::render(&webhook.input, &event).map_err(|e| {
            crate::Error::field(
                "webhook_id",
                "cannot_render",
                format!("This webhook cannot render the contact: {e}"),
            )
        })
    }

    /// Runs a webhook on one contact now (active or not, whatever its
    /// triggers): one attempt, recorded as a manual delivery about the
    /// contact, and what the receiver answered.
    pub async fn execute(
        &self,
        account_id: &str,
        webhook_id: &str,
        contact_id: &str,
        actor: Option<Actor>,
    ) -> Result<TestSend> {
        let store = self.store();
        let detail = store.contact_detail(account_id, contact_id).await?;
        let webhook = store.chosen_webhook(account_id, webhook_id).await?;
        let account = store.account(account_id).await?;
        let event = contact_event_for(&webhook.input, &detail, &account, actor);
        let about = crate::reports::RecordRef {
            id: Some(detail.contact.id.clone()),
            label: Some(detail.contact.display_name()),
        };
        let job = store
            .create_direct_delivery(account_id, webhook_id, event, Some(about))
            .await?;
        self.send_now(job).await
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
