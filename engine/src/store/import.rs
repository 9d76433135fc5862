//! Past deliveries stored as they were: benchmarks that need a realistic
//! history, and tests of ranges and boundaries. They go in through the same
//! tables and triggers as live deliveries.

use std::collections::HashMap;

use super::db::WriteTx;
use super::{Result, Store};
use crate::ids::new_id;
use crate::model::DeliveryStatus;

/// A delivery from the past, with its attempts: for benchmarks that need a
/// realistic history, and for tests of ranges and boundaries. It goes in
/// through the same tables and triggers as live deliveries.
#[derive(Clone, Debug)]
pub struct PastDelivery {
    pub created_at_ms: i64,
    pub event_type: String,
    pub data: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: Vec<PastAttempt>,
}

#[derive(Clone, Debug)]
pub struct PastAttempt {
    pub at_ms: i64,
    pub duration_ms: i64,
    pub request: crate::model::SentRequest,
    pub response: Option<crate::model::ReceivedResponse>,
    pub error: Option<String>,
}

/// The ids a past delivery is stored under.
struct PastIds {
    event: String,
    delivery: String,
}

impl Store {
    /// Stores past deliveries of one webhook (one event each) in one
    /// transaction; returns their ids in order.
    pub async fn import_past_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        past: &[PastDelivery],
    ) -> Result<Vec<String>> {
        let ids: Vec<PastIds> = past
            .iter()
            .map(|_| PastIds {
                event: new_id("evt"),
                delivery: new_id("dlv"),
            })
            .collect();
        let mut tx = self.begin_write().await?;
        // 1,000 rows per statement stays under both drivers' bind limits.
        for (chunk, chunk_ids) in past.chunks(1000).zip(ids.chunks(1000)) {
            let seqs = insert_events(&mut tx, account_id, chunk, chunk_ids).await?;
            insert_deliveries(&mut tx, account_id, webhook_id, chunk, chunk_ids, &seqs).await?;
            let attempts: Vec<(&String, usize, &PastAttempt)> = chunk
                .iter()
                .zip(chunk_ids)
                .flat_map(|(p, ids)| {
                    p.attempts
                        .iter()
                        .enumerate()
                        .map(move |(i, a)| (&ids.delivery, i + 1, a))
                })
                .collect();
            for part in attempts.chunks(1000) {
                insert_attempts(&mut tx, part).await?;
            }
        }
        tx.commit().await?;
        Ok(ids.into_iter().map(|ids| ids.delivery).collect())
    }
}

/// The events, one per past delivery; returns each event's sequence number.
async fn insert_events(
    tx: &mut WriteTx,
    account_id: &str,
    past: &[PastDelivery],
    ids: &[PastIds],
) -> Result<HashMap<String, i64>> {
    let rows = in_tx!(tx, t => {
        let mut events = sqlx::QueryBuilder::new(
            "INSERT INTO events (id, account_id, type, occurred_at, data, created_at) ",
        );
        events.push_values(past.iter().zip(ids), |mut row, (p, ids)| {
            row.push_bind(&ids.event)
                .push_bind(account_id)
                .push_bind(&p.event_type)
                .push_bind(p.created_at_ms)
                .push_bind(p.data.to_string())
                .push_bind(p.created_at_ms);
        });
        events.push(" RETURNING id, seq");
        events.build_query_as::<(String, i64)>().fetch_all(&mut **t).await?
    });
    Ok(rows.into_iter().collect())
}

async fn insert_deliveries(
    tx: &mut WriteTx,
    account_id: &str,
    webhook_id: &str,
    past: &[PastDelivery],
    ids: &[PastIds],
    seqs: &HashMap<String, i64>,
) -> Result<()> {
    in_tx!(tx, t => {
        let mut deliveries = sqlx::QueryBuilder::new(
            "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, status, attempts, \
             next_attempt_at, last_response_status, last_error, created_at, updated_at, event_type, \
             record_id, record_label) ",
        );
        deliveries.push_values(past.iter().zip(ids), |mut row, (p, ids)| {
            let last = p.attempts.last();
            let record = crate::reports::record_of(&p.data);
            let open = p.status.is_open();
            row.push_bind(&ids.delivery)
                .push_bind(account_id)
                .push_bind(webhook_id)
                .push_bind(seqs.get(&ids.event).copied().unwrap_or_default())
                .push_bind(p.status.as_str())
                .push_bind(p.attempts.len() as i32)
                .push_bind(open.then(|| last.map_or(p.created_at_ms, |a| a.at_ms) + 300_000))
                .push_bind(last.and_then(|a| a.response.as_ref()).map(|r| i32::from(r.status)))
                .push_bind(last.and_then(|a| a.error.clone()))
                .push_bind(p.created_at_ms)
                .push_bind(last.map_or(p.created_at_ms, |a| a.at_ms))
                .push_bind(&p.event_type)
                .push_bind(record.id)
                .push_bind(record.label);
        });
        deliveries.build().execute(&mut **t).await?;
    });
    Ok(())
}

/// Attempts as (delivery id, attempt number, attempt).
async fn insert_attempts(tx: &mut WriteTx, part: &[(&String, usize, &PastAttempt)]) -> Result<()> {
    in_tx!(tx, t => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO attempts (delivery_id, attempt, at, duration_ms, request, response_status, \
             response_headers, response_body, error) ",
        );
        insert.push_values(part, |mut row, (id, n, a)| {
            row.push_bind(*id)
                .push_bind(*n as i32)
                .push_bind(a.at_ms)
                .push_bind(i32::try_from(a.duration_ms).unwrap_or(i32::MAX))
                .push_bind(serde_json::to_string(&a.request).unwrap_or_default())
                .push_bind(a.response.as_ref().map(|r| i32::from(r.status)))
                .push_bind(a.response.as_ref().map(|r| serde_json::to_string(&r.headers).unwrap_or_default()))
                .push_bind(a.response.as_ref().map(|r| r.body_bytes().into_owned()))
                .push_bind(a.error.clone());
        });
        insert.build().execute(&mut **t).await?;
    });
    Ok(())
}
