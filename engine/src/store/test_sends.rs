//! A test send's delivery: the sample event of a type (stored as a test,
//! so it stays out of the event log) and one delivery that only the caller
//! attempts, once; and the same for a manual send of a real record.

use std::sync::Arc;

use super::db::begin_write;
use super::{Error, Result, Store, WebhookSecrets};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::job::Job;
use crate::model::{AccountRef, Event};

impl Store {
    /// A test send's delivery: the sample event of `event_type` (stored as a
    /// test, so it stays out of the event log) and one delivery that only
    /// the caller will attempt, once. Works on inactive webhooks too.
    pub async fn create_test_delivery(
        &self,
        account_id: &str,
        webhook_id: &str,
        event_type: &str,
    ) -> Result<Job> {
        if !crate::validate::is_event_type(event_type) {
            return Err(Error::field(
                "event_type",
                "invalid_event_type",
                "An event type looks like noun.verb, e.g. contact.created.",
            ));
        }
        let account = self.account(account_id).await?;
        let sample = self
            .account_catalog(account_id)
            .await?
            .sample(event_type)
            .unwrap_or_else(|| crate::catalog::event_of(event_type, serde_json::Map::new()));
        let event = Event {
            id: new_id("evt"),
            account: AccountRef::from(&account),
            occurred_at: from_ms(now_ms()),
            ..sample
        };
        self.create_direct_delivery(account_id, webhook_id, event, None)
            .await
    }

    /// A delivery of `event` to one webhook that only the caller attempts,
    /// once, whatever the webhook's triggers and state: a test send, or a
    /// manual send of a real record ("execute webhook"), which names the
    /// record it is `about` (the contact, also when the event is a lead's).
    /// The event stays out of the event log.
    pub async fn create_direct_delivery(
        &self,
        account_id: &str,
        webhook_id: &str,
        event: Event,
        about: Option<crate::reports::RecordRef>,
    ) -> Result<Job> {
        let manual = about.is_some();
        let WebhookSecrets {
            mut webhook,
            signing_secrets,
        } = self.webhook_with_secrets(account_id, webhook_id).await?;
        webhook.retry = crate::model::RetryPolicy {
            max_attempts: 1,
            schedule_s: vec![0],
        };
        let now = now_ms();
        let delivery_id = new_id("dlv");
        let record = about.unwrap_or_else(|| crate::reports::record_of(&event.data));
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(begin_write(pool)).await?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO events (id, account_id, type, occurred_at, actor, data, is_test, manual, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8) RETURNING seq",
            )
            .bind(&event.id)
            .bind(account_id)
            .bind(&event.event_type)
            .bind(event.occurred_at.timestamp_millis())
            .bind(event.actor.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()))
            .bind(event.data.to_string())
            .bind(manual)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            // Claimed far ahead and never due: no worker picks it up.
            sqlx::query(
                "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, status, attempts, next_attempt_at, \
                 claimed_until, created_at, updated_at, event_type, record_id, record_label) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, NULL, $5, $6, $6, $7, $8, $9)",
            )
            .bind(&delivery_id)
            .bind(account_id)
            .bind(webhook_id)
            .bind(seq)
            .bind(i64::MAX / 2)
            .bind(now)
            .bind(&event.event_type)
            .bind(&record.id)
            .bind(&record.label)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<(), Error>(())
        })?;
        Ok(Job {
            delivery_id,
            test: true,
            account_id: account_id.to_string(),
            webhook_id: webhook_id.to_string(),
            attempt: 1,
            event: Arc::new(event),
            webhook: Arc::new(webhook),
            signing_secrets: signing_secrets.into(),
        })
    }
}
