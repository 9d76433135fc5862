//! Webhook health, recorded in the writer's turn: a success ends a
//! webhook's failure run; failures lengthen it and count deliveries given
//! up in a row; past the limits of the caller's [`DisablePolicy`], or when
//! a step says the receiver asked never to be called again, the webhook is
//! turned off with its reason. The turn returns those webhooks, for the
//! engine to announce.

use std::collections::{HashMap, HashSet};

use super::Result;
use super::db::WriteTx;
use crate::job::{Finished, Step};

/// When a webhook whose deliveries keep failing is turned off automatically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisablePolicy {
    /// After this many deliveries in a row were given up.
    pub after_given_up: u32,
    /// After every attempt failed for this long.
    pub after_failing_ms: i64,
}

impl Default for DisablePolicy {
    fn default() -> Self {
        DisablePolicy {
            after_given_up: 100,
            after_failing_ms: 5 * 24 * 3600 * 1000,
        }
    }
}

/// A webhook a batch of attempts turned off.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TurnedOff {
    pub account_id: String,
    pub id: String,
    pub title: String,
    pub disabled_reason: Option<String>,
    /// When (milliseconds).
    pub updated_at: i64,
}

/// Updates the health of every webhook with an attempt in `finished`
/// (test sends say nothing about it) in `tx`; the webhooks this turned
/// off, to announce once committed.
pub(crate) async fn record_health_in(
    tx: &mut WriteTx,
    finished: &[Finished],
    policy: DisablePolicy,
    now: i64,
) -> Result<Vec<TurnedOff>> {
    let counted = || finished.iter().filter(|f| !f.job().test);
    // Webhooks with nothing but successes here: their failure run ends,
    // in one statement for all of them.
    let mut all_good: HashMap<&str, bool> = HashMap::new();
    for f in counted() {
        *all_good.entry(f.job().webhook_id.as_str()).or_insert(true) &= f.step == Step::Succeeded;
    }
    all_good.retain(|_, good| *good);
    if !all_good.is_empty() {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE webhooks SET failing_since = NULL, given_up_in_a_row = 0 \
                 WHERE (failing_since IS NOT NULL OR given_up_in_a_row > 0) AND id IN (",
            );
            let mut ids = q.separated(", ");
            for id in all_good.keys() {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build().persistent(super::db::keep_prepared(all_good.len())).execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    // With failures in the batch too, the outcomes count in their order.
    let mut disabled = Vec::new();
    let mut healthy: HashSet<&str> = HashSet::new();
    for f in finished {
        let webhook_id = f.job().webhook_id.as_str();
        if !f.job().test && !all_good.contains_key(webhook_id) {
            if f.step == Step::Succeeded {
                if healthy.insert(webhook_id) {
                    healthy_again_in(tx, webhook_id).await?;
                }
            } else {
                healthy.remove(webhook_id);
                disabled.extend(failed_in(tx, webhook_id, f.step, policy, now).await?);
            }
        }
        if let Step::Failed {
            disable: Some(reason),
        } = f.step
        {
            disabled.extend(turn_off_in(tx, webhook_id, reason, now).await?);
        }
    }
    Ok(disabled)
}

/// One failed attempt: the failure run goes on (one more delivery
/// given up, if it was), and the webhook is turned off once the run
/// reaches the policy's limits. A success resets the run, so only a
/// failure can bring a webhook to its limit.
async fn failed_in(
    tx: &mut WriteTx,
    webhook_id: &str,
    step: Step,
    policy: DisablePolicy,
    now: i64,
) -> Result<Option<TurnedOff>> {
    in_tx!(tx, t => sqlx::query(
        "UPDATE webhooks SET failing_since = COALESCE(failing_since, $2), \
         given_up_in_a_row = given_up_in_a_row + $3 WHERE id = $1",
    )
    .bind(webhook_id)
    .bind(now)
    .bind(i32::from(matches!(step, Step::Failed { .. })))
    .execute(&mut **t)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(in_tx!(tx, t => sqlx::query_as::<_, TurnedOff>(
        "UPDATE webhooks SET active = FALSE, updated_at = $2, disabled_reason = CASE \
         WHEN given_up_in_a_row >= $3 THEN $5 ELSE $6 END \
         WHERE id = $1 AND active AND (given_up_in_a_row >= $3 OR failing_since <= $4) \
         RETURNING account_id, id, title, disabled_reason, updated_at",
    )
    .bind(webhook_id)
    .bind(now)
    .bind(policy.after_given_up as i32)
    .bind(now - policy.after_failing_ms)
    .bind(format!(
        "Turned off automatically: {} deliveries in a row were given up.",
        policy.after_given_up
    ))
    .bind(format!(
        "Turned off automatically: every attempt failed for {}.",
        human_duration(policy.after_failing_ms)
    ))
    .fetch_optional(&mut **t)
    .await)?)
}

/// A success ends the webhook's failure run.
async fn healthy_again_in(tx: &mut WriteTx, webhook_id: &str) -> Result<()> {
    in_tx!(tx, t => sqlx::query(
        "UPDATE webhooks SET failing_since = NULL, given_up_in_a_row = 0 WHERE id = $1 \
         AND (failing_since IS NOT NULL OR given_up_in_a_row > 0)",
    )
    .bind(webhook_id)
    .execute(&mut **t)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Turns the webhook off at its receiver's word.
async fn turn_off_in(
    tx: &mut WriteTx,
    webhook_id: &str,
    reason: &str,
    now: i64,
) -> Result<Option<TurnedOff>> {
    Ok(in_tx!(tx, t => sqlx::query_as::<_, TurnedOff>(
        "UPDATE webhooks SET active = FALSE, disabled_reason = $2, updated_at = $3 \
         WHERE id = $1 AND active RETURNING account_id, id, title, disabled_reason, updated_at",
    )
    .bind(webhook_id)
    .bind(reason)
    .bind(now)
    .fetch_optional(&mut **t)
    .await)?)
}

/// A duration as the reason for turning a webhook off says it.
fn human_duration(ms: i64) -> String {
    let hours = ms / 3_600_000;
    match (hours / 24, hours % 24) {
        (0, 0) if ms < 2000 => "1 second".to_string(),
        (0, 0) => format!("{} seconds", ms / 1000),
        (0, h) => format!("{h} hours"),
        (1, 0) => "1 day".to_string(),
        (d, 0) => format!("{d} days"),
        (d, h) => format!("{d} days {h} hours"),
    }
}
