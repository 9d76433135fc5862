//! Past deliveries stored as they were: benchmarks that need a realistic
//! history, and tests of ranges and boundaries. They go in through the same
//! tables and triggers as live deliveries.

use std::collections::HashMap;

use super::db::begin_write;
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

impl Store {
    /// Stores past deliveries of one webhook (one event each) in one
    /// transaction; returns their ids in order.
    pub async fn import_past_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        past: &[PastDelivery],
    ) -> Result<Vec<String>> {
        let ids: Vec<(String, String)> = past
            .iter()
            .map(|_| (new_id("evt"), new_id("dlv")))
            .collect();
        on_writer!(&self.db, pool => {
            let mut tx = pool.begin_with(begin_write(pool)).await?;
            // 1,000 rows per statement stays under both drivers' bind limits.
            for (chunk, chunk_ids) in past.chunks(1000).zip(ids.chunks(1000)) {
                let mut events = sqlx::QueryBuilder::new(
                    "INSERT INTO events (id, account_id, type, occurred_at, data, created_at) ",
                );
                events.push_values(chunk.iter().zip(chunk_ids), |mut row, (p, (event_id, _))| {
                    row.push_bind(event_id)
                        .push_bind(account_id)
                        .push_bind(&p.event_type)
                        .push_bind(p.created_at_ms)
                        .push_bind(p.data.to_string())
                        .push_bind(p.created_at_ms);
                });
                events.push(" RETURNING id, seq");
                let seqs: HashMap<String, i64> = events
                    .build_query_as::<(String, i64)>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let mut deliveries = sqlx::QueryBuilder::new(
                    "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, status, attempts, \
                     next_attempt_at, last_response_status, last_error, created_at, updated_at, event_type, \
                     record_id, record_label) ",
                );
                deliveries.push_values(chunk.iter().zip(chunk_ids), |mut row, (p, (event_id, id))| {
                    let last = p.attempts.last();
                    let (record_id, record_label) = crate::reports::record_of(&p.data);
                    let open = p.status.is_open();
                    row.push_bind(id)
                        .push_bind(account_id)
                        .push_bind(webhook_id)
                        .push_bind(seqs.get(event_id).copied().unwrap_or_default())
                        .push_bind(p.status.as_str())
                        .push_bind(p.attempts.len() as i32)
                        .push_bind(open.then(|| last.map_or(p.created_at_ms, |a| a.at_ms) + 300_000))
                        .push_bind(last.and_then(|a| a.response.as_ref()).map(|r| i32::from(r.status)))
                        .push_bind(last.and_then(|a| a.error.clone()))
                        .push_bind(p.created_at_ms)
                        .push_bind(last.map_or(p.created_at_ms, |a| a.at_ms))
                        .push_bind(&p.event_type)
                        .push_bind(record_id)
                        .push_bind(record_label);
                });
                deliveries.build().execute(&mut *tx).await?;
                let attempts: Vec<(&String, usize, &PastAttempt)> = chunk
                    .iter()
                    .zip(chunk_ids)
                    .flat_map(|(p, (_, id))| p.attempts.iter().enumerate().map(move |(i, a)| (id, i + 1, a)))
                    .collect();
                for part in attempts.chunks(1000) {
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
                            .push_bind(a.response.as_ref().map(|r| r.body.clone()))
                            .push_bind(a.error.clone());
                    });
                    insert.build().execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(ids.into_iter().map(|(_, id)| id).collect())
        })
    }
}
