//! Loading what a turn took for sending, after its commit: each
//! delivery's event (one query for all of them) and its webhook's settings
//! and secrets (once per webhook). Deliveries of webhooks deleted or
//! turned off meanwhile are given up, or handed back to be.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::accept::TakenDelivery;
use super::claim::Claimed;
use crate::clock::from_ms;
use crate::job::Job;
use crate::model::{Account, AccountRef, Actor, Event, WebhookInput};
use crate::store::db::keep_prepared;
use crate::store::{Error, Result, Store};

/// A webhook's settings and signing secrets, as its jobs share them.
#[derive(Clone)]
struct Sending {
    webhook: Arc<WebhookInput>,
    /// The current signing secret first; during a rotation also the old one.
    signing_secrets: Arc<[String]>,
}

/// The webhooks a batch of jobs loaded, by id: `None` for one that is gone.
type Webhooks = HashMap<String, Option<Sending>>;

/// An event row with its sequence number, to match claimed deliveries.
#[derive(sqlx::FromRow)]
struct SeqEventRow {
    seq: i64,
    #[sqlx(flatten)]
    event: StoredEvent,
}

/// An event as stored, read back to be sent or shown.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct StoredEvent {
    id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    occurred_at: i64,
    actor: Option<String>,
    data: String,
}

impl StoredEvent {
    pub(crate) fn into_event(self, account: &Account) -> Event {
        Event {
            id: self.id,
            event_type: self.event_type,
            account: AccountRef::from(account),
            occurred_at: from_ms(self.occurred_at),
            actor: self
                .actor
                .and_then(|a| serde_json::from_str::<Actor>(&a).ok()),
            data: serde_json::from_str(&self.data).unwrap_or(Value::Null),
        }
    }
}

impl Store {
    /// A live webhook's settings and secrets for sending, loaded once per
    /// batch; `None` when it was deleted or turned off.
    async fn sending_webhook(
        &self,
        loaded: &mut Webhooks,
        account_id: &str,
        webhook_id: &str,
    ) -> Result<Option<Sending>> {
        if !loaded.contains_key(webhook_id) {
            let hook = match self.webhook_with_secrets(account_id, webhook_id).await {
                Ok(found) => Some(Sending {
                    webhook: Arc::new(found.webhook),
                    signing_secrets: found.signing_secrets.into(),
                }),
                Err(Error::NotFound) => None,
                Err(e) => return Err(e),
            };
            loaded.insert(webhook_id.to_string(), hook);
        }
        Ok(loaded[webhook_id]
            .clone()
            .filter(|hook| hook.webhook.active))
    }

    /// Loads what claimed deliveries need to be sent.
    pub(super) async fn jobs_for(&self, claimed: Vec<Claimed>) -> Result<Vec<Job>> {
        let mut hooks = Webhooks::new();
        let mut accounts: HashMap<String, Account> = HashMap::new();
        let mut jobs = Vec::with_capacity(claimed.len());
        // Every claimed delivery's event in one query.
        let mut events: HashMap<i64, StoredEvent> = HashMap::new();
        let mut parsed: HashMap<i64, Arc<Event>> = HashMap::new();
        if !claimed.is_empty() {
            let rows = on_reader!(&self.db, pool => {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT seq, id, type, occurred_at, actor, data FROM events WHERE seq IN (",
                );
                let mut seqs = q.separated(", ");
                for c in &claimed {
                    seqs.push_bind(c.event_seq);
                }
                q.push(")");
                q.build_query_as::<SeqEventRow>().persistent(keep_prepared(claimed.len())).fetch_all(pool).await
            })?;
            events.extend(rows.into_iter().map(|r| (r.seq, r.event)));
        }
        for c in claimed {
            let Some(hook) = self
                .sending_webhook(&mut hooks, &c.account_id, &c.webhook_id)
                .await?
            else {
                self.give_up(
                    &c.id,
                    "The webhook was deleted or turned off before this delivery was sent.",
                )
                .await?;
                continue;
            };
            if !accounts.contains_key(&c.account_id) {
                accounts.insert(c.account_id.clone(), self.account(&c.account_id).await?);
            }
            let account = &accounts[&c.account_id];
            let event = match parsed.get(&c.event_seq) {
                Some(event) => event.clone(),
                None => {
                    let Some(row) = events.remove(&c.event_seq) else {
                        return Err(Error::Corrupt(format!(
                            "delivery {}: its event is missing",
                            c.id
                        )));
                    };
                    let event = Arc::new(row.into_event(account));
                    parsed.insert(c.event_seq, event.clone());
                    event
                }
            };
            jobs.push(Job {
                delivery_id: c.id,
                test: false,
                account_id: c.account_id,
                webhook_id: c.webhook_id,
                attempt: u32::try_from(c.attempts).unwrap_or(0) + 1,
                event,
                webhook: hook.webhook,
                signing_secrets: hook.signing_secrets,
            });
        }
        Ok(jobs)
    }

    /// The jobs of deliveries claimed at acceptance, from what is in hand
    /// and each webhook's settings. Those whose webhook went away meanwhile
    /// go back to be claimed (and given up) as usual.
    pub(super) async fn taken_jobs(&self, taken: Vec<TakenDelivery>) -> Result<Vec<Job>> {
        let mut hooks = Webhooks::new();
        let mut jobs = Vec::with_capacity(taken.len());
        let mut back = Vec::new();
        for t in taken {
            match self
                .sending_webhook(&mut hooks, &t.event.account.id, &t.webhook_id)
                .await?
            {
                Some(hook) => jobs.push(Job {
                    delivery_id: t.delivery_id,
                    test: false,
                    account_id: t.event.account.id.clone(),
                    webhook_id: t.webhook_id,
                    attempt: 1,
                    event: t.event,
                    webhook: hook.webhook,
                    signing_secrets: hook.signing_secrets,
                }),
                None => back.push(t.delivery_id),
            }
        }
        if !back.is_empty() {
            self.release_claims(&back, 0).await?;
        }
        Ok(jobs)
    }
}
