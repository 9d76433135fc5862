//! The account's own event types: a type its programs send through the API
//! that is not built in joins its catalog and the trigger picker
//! (PRODUCT.md section 3), with the first such event's data as its sample.
//!
//! Accepting events stays one lookup in memory per event: each process
//! keeps the types it knows per account (loaded from the table the first
//! time an account sends events), and writes a type only the first time it
//! sees it, in the accepting transaction. The memory is bounded: at most
//! [`MAX_OWN_TYPES`] types per account are kept, further ones are
//! accepted and delivered but not listed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::db::WriteTx;
use super::turn::Incoming;
use super::{Result, Store};
use crate::catalog::{Catalog, OwnEventType};
use crate::clock::from_ms;

/// The most own types an account lists.
pub const MAX_OWN_TYPES: usize = 200;

/// A sample larger than this (as JSON) is kept as an empty record: the
/// picker then offers the envelope's fields only.
const MAX_SAMPLE_BYTES: usize = 16 * 1024;

/// The own types this process knows to be stored, per account.
#[derive(Debug, Default)]
pub(crate) struct SeenTypes(Mutex<HashMap<String, HashSet<String>>>);

impl SeenTypes {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, HashSet<String>>) -> T) -> T {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map)
    }

    /// Marks types as stored, once their transaction committed.
    pub(crate) fn mark(&self, stored: Vec<(String, String)>) {
        if stored.is_empty() {
            return;
        }
        self.with(|map| {
            for (account, event_type) in stored {
                map.entry(account).or_default().insert(event_type);
            }
        });
    }
}

#[derive(sqlx::FromRow)]
struct TypeRow {
    event_type: String,
    sample: String,
    first_seen_at: i64,
}

impl Store {
    /// The account's own event types, oldest first.
    pub async fn own_event_types(&self, account_id: &str) -> Result<Vec<OwnEventType>> {
        let rows = on_reader!(&self.db, pool => sqlx::query_as::<_, TypeRow>(
            "SELECT event_type, sample, first_seen_at FROM event_types \
             WHERE account_id = $1 ORDER BY first_seen_at, event_type",
        )
        .bind(account_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| OwnEventType {
                sample: serde_json::from_str(&r.sample).unwrap_or_default(),
                name: r.event_type,
                first_seen_at: from_ms(r.first_seen_at),
            })
            .collect())
    }

    /// The account's catalog: the built-in types and its own.
    pub async fn account_catalog(&self, account_id: &str) -> Result<Catalog> {
        Ok(Catalog::with_own(self.own_event_types(account_id).await?))
    }

    /// Stores, in the accepting transaction, the types among `events` that
    /// are neither built in nor already stored for the account, each with
    /// its first event's data. Returns what it stored, for
    /// [`SeenTypes::mark`] once the transaction commits.
    pub(crate) async fn note_types_in(
        &self,
        tx: &mut WriteTx,
        account_id: &str,
        events: &[Incoming],
        now: i64,
    ) -> Result<Vec<(String, String)>> {
        let known = self.seen_types.with(|map| map.contains_key(account_id));
        if !known {
            let stored: Vec<String> = in_tx!(tx, t => sqlx::query_scalar(
                "SELECT event_type FROM event_types WHERE account_id = $1",
            )
            .bind(account_id)
            .fetch_all(&mut **t)
            .await)?;
            self.seen_types.with(|map| {
                map.entry(account_id.to_string())
                    .or_default()
                    .extend(stored)
            });
        }
        let new: Vec<&Incoming> = self.seen_types.with(|map| {
            let seen = map.get(account_id);
            let room = MAX_OWN_TYPES.saturating_sub(seen.map_or(0, HashSet::len));
            let mut new: Vec<&Incoming> = Vec::new();
            for incoming in events {
                let t = incoming.event_type();
                if new.len() < room
                    && !Catalog::is_builtin(t)
                    && !seen.is_some_and(|s| s.contains(t))
                    && !new.iter().any(|n| n.event_type() == t)
                {
                    new.push(incoming);
                }
            }
            new
        });
        let mut stored = Vec::with_capacity(new.len());
        for incoming in new {
            let event = incoming.event();
            let mut sample = serde_json::to_string(&event.data).unwrap_or_default();
            if sample.len() > MAX_SAMPLE_BYTES || !event.data.is_object() {
                sample = "{}".into();
            }
            in_tx!(tx, t => sqlx::query(
                "INSERT INTO event_types (account_id, event_type, sample, first_seen_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, event_type) DO NOTHING",
            )
            .bind(account_id)
            .bind(&event.event_type)
            .bind(sample)
            .bind(now)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
            stored.push((account_id.to_string(), event.event_type.clone()));
        }
        Ok(stored)
    }
}
