//! Recording finished attempts: every attempt's row, and each delivery
//! moved to the step its outcome leads to, a few hundred rows per
//! statement.

use crate::job::Finished;
use crate::store::Result;
use crate::store::db::{WriteTx, statement_chunks};

/// Rows per multi-row statement when recording: well under both databases'
/// limits on bound parameters.
const RECORD_CHUNK: usize = 500;

/// Records the attempts and the deliveries' new states in `tx`.
pub(super) async fn record_in(tx: &mut WriteTx, finished: &[Finished], now: i64) -> Result<()> {
    if finished.is_empty() {
        return Ok(());
    }
    let written: Vec<(&Finished, String, Option<String>)> = finished
        .iter()
        .map(|f| {
            let o = &f.outcome;
            (
                f,
                serde_json::to_string(&o.request).unwrap_or_default(),
                o.response
                    .as_ref()
                    .map(|r| serde_json::to_string(&r.headers).unwrap_or_default()),
            )
        })
        .collect();
    for chunk in statement_chunks(&written, RECORD_CHUNK) {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO attempts (delivery_id, attempt, at, duration_ms, request, response_status, \
                 response_headers, response_body, error) ",
            );
            q.push_values(chunk, |mut row, (f, request, headers)| {
                let o = &f.outcome;
                row.push_bind(&o.job.delivery_id)
                    .push_bind(o.job.attempt as i32)
                    .push_bind(o.at_ms)
                    .push_bind(i32::try_from(o.duration_ms).unwrap_or(i32::MAX))
                    .push_bind(request)
                    .push_bind(o.response.as_ref().map(|r| i32::from(r.status)))
                    .push_bind(headers)
                    .push_bind(o.response.as_ref().map(|r| r.body_bytes()))
                    .push_bind(&o.error);
            });
            q.build().persistent(true).execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    for chunk in statement_chunks(finished, RECORD_CHUNK) {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE deliveries SET status = v.column2, attempts = v.column3, next_attempt_at = v.column4, \
                 last_response_status = v.column5, last_error = v.column6, claimed_until = 0, updated_at = ",
            );
            q.push_bind(now).push(" FROM (");
            q.push_values(chunk, |mut row, f| {
                let o = &f.outcome;
                row.push_bind(&o.job.delivery_id)
                    .push_bind(f.step.status().as_str())
                    .push_bind(o.job.attempt as i32)
                    .push_bind(f.step.next_attempt_at())
                    .push_bind(o.response.as_ref().map(|r| i32::from(r.status)))
                    .push_bind(&o.error);
            });
            q.push(") AS v WHERE deliveries.id = v.column1");
            q.build().persistent(true).execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
