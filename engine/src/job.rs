//! The delivery vocabulary: a job (one attempt to make), its outcome, and
//! the step that outcome leads to (success, a retry at its time, or giving
//! up), decided here by the webhook's retry policy and the receiver's
//! answer. The store records steps; it does not choose them.

use std::sync::Arc;

use crate::model::{DeliveryStatus, Event, ReceivedResponse, SentRequest, WebhookInput};

/// One attempt to make: the delivery, the event and the webhook's shape
/// with its real secrets.
#[derive(Clone, Debug)]
pub struct Job {
    pub delivery_id: String,
    /// A test send or a manual one (execute webhook): recorded, but it says
    /// nothing about the webhook's health.
    pub test: bool,
    pub account_id: String,
    pub webhook_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Shared by the jobs of one event (and of one webhook): a turn's jobs
    /// copy no payloads or settings.
    pub event: Arc<Event>,
    pub webhook: Arc<WebhookInput>,
    /// The current signing secret first; during a rotation also the old one.
    pub signing_secrets: Arc<[String]>,
}

pub const MAX_RECORDED_BODY: usize = 8 * 1024;

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub job: Job,
    pub at_ms: i64,
    pub duration_ms: i64,
    pub request: SentRequest,
    pub response: Option<ReceivedResponse>,
    /// The transport failure in plain words when there was no response;
    /// beside a response, what else went wrong (a redirect not followed,
    /// a body cut off).
    pub error: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.response
            .as_ref()
            .is_some_and(|r| (200..300).contains(&r.status))
    }
}

/// An attempt's outcome beside the step it leads to: what a writer turn
/// records.
#[derive(Clone, Debug)]
pub struct Finished {
    pub outcome: Outcome,
    pub step: Step,
}

impl Finished {
    /// The outcome with its next step, as of `now` (milliseconds).
    pub fn new(outcome: Outcome, now: i64) -> Finished {
        let step = next_step(&outcome, now);
        Finished { outcome, step }
    }

    pub fn job(&self) -> &Job {
        &self.outcome.job
    }
}

/// The longest a `Retry-After` may push an attempt back.
const MAX_RETRY_AFTER_MS: i64 = 24 * 3600 * 1000;

/// What an attempt's outcome means for its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Succeeded,
    /// Given up; `disable` when the receiver asked never to be called again.
    Failed {
        disable: Option<&'static str>,
    },
    Retry {
        at: i64,
    },
}

impl Step {
    /// The delivery's status after this step.
    pub fn status(&self) -> DeliveryStatus {
        match self {
            Step::Succeeded => DeliveryStatus::Succeeded,
            Step::Failed { .. } => DeliveryStatus::Failed,
            Step::Retry { .. } => DeliveryStatus::Retrying,
        }
    }

    pub fn next_attempt_at(&self) -> Option<i64> {
        match self {
            Step::Retry { at } => Some(*at),
            _ => None,
        }
    }
}

/// The next step after an attempt: success ends it; 410 Gone gives up and
/// turns the webhook off; otherwise the webhook's schedule (with up to 10%
/// jitter, so many retries do not arrive at once), pushed back by a
/// `Retry-After` on 429 and 503, until the attempts are used up.
pub fn next_step(outcome: &Outcome, now: i64) -> Step {
    let job = &outcome.job;
    if outcome.succeeded() {
        return Step::Succeeded;
    }
    if outcome.response.as_ref().is_some_and(|r| r.status == 410) {
        return Step::Failed {
            disable: Some("The receiver answered 410 Gone: it asked not to be called again."),
        };
    }
    let retry = &job.webhook.retry;
    if job.attempt >= retry.max_attempts {
        return Step::Failed { disable: None };
    }
    let delay_s = retry
        .schedule_s
        .get(job.attempt as usize)
        .copied()
        .unwrap_or(0);
    let delay_ms = i64::try_from(delay_s.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let jitter = if delay_ms > 0 {
        use rand::Rng;
        rand::rng().random_range(0..=delay_ms / 10)
    } else {
        0
    };
    let asked = outcome
        .response
        .as_ref()
        .filter(|r| r.status == 429 || r.status == 503)
        .and_then(|r| retry_after_ms(r, now))
        .unwrap_or(0);
    Step::Retry {
        at: now + (delay_ms + jitter).max(asked),
    }
}

/// A `Retry-After` header, in seconds or as an HTTP date, as milliseconds from now.
fn retry_after_ms(response: &ReceivedResponse, now: i64) -> Option<i64> {
    let value = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim())?;
    let ms = match value.parse::<i64>() {
        Ok(seconds) => seconds.saturating_mul(1000),
        Err(_) => {
            chrono::DateTime::parse_from_rfc2822(value)
                .ok()?
                .timestamp_millis()
                - now
        }
    };
    Some(ms.clamp(0, MAX_RETRY_AFTER_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> ReceivedResponse {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ReceivedResponse::new(status, headers, b"")
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            retry_after_ms(&response(429, &[("Retry-After", "120")]), now),
            Some(120_000)
        );
        assert_eq!(
            retry_after_ms(
                &response(503, &[("retry-after", "Wed, 21 Oct 2015 07:29:00 GMT")]),
                now
            ),
            Some(60_000)
        );
        assert_eq!(
            retry_after_ms(&response(503, &[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(
            retry_after_ms(&response(503, &[("retry-after", "99999999")]), now),
            Some(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(retry_after_ms(&response(503, &[]), now), None);
    }

    fn outcome(attempt: u32, answer: Option<ReceivedResponse>) -> Outcome {
        let webhook = WebhookInput {
            retry: crate::model::RetryPolicy {
                max_attempts: 4,
                schedule_s: vec![0, 5, 300, 1800],
            },
            ..WebhookInput::default()
        };
        Outcome {
            job: Job {
                delivery_id: "dlv_1".into(),
                test: false,
                account_id: "acc_1".into(),
                webhook_id: "wh_1".into(),
                attempt,
                event: Arc::new(
                    crate::catalog::Catalog::builtin()
                        .sample("contact.created")
                        .unwrap(),
                ),
                webhook: Arc::new(webhook),
                signing_secrets: Arc::new([]),
            },
            at_ms: 0,
            duration_ms: 1,
            request: SentRequest {
                method: "POST".into(),
                url: "https://crm.example.com/hook".into(),
                headers: vec![],
                body: None,
            },
            response: answer,
            error: None,
        }
    }

    /// The schedule on a fixed clock: no sleeping, every time exact.
    #[test]
    fn each_retry_follows_the_schedule_with_at_most_ten_percent_jitter() {
        let now = 1_000_000_000;
        for (attempt, delay_s) in [(1u32, 5i64), (2, 300), (3, 1800)] {
            for _ in 0..50 {
                let o = outcome(attempt, Some(response(500, &[])));
                let Step::Retry { at } = next_step(&o, now) else {
                    panic!("attempt {attempt} of 4 is retried");
                };
                let delay = at - now;
                assert!(
                    (delay_s * 1000..=delay_s * 1100).contains(&delay),
                    "attempt {attempt}: {delay} ms is not {delay_s} s + up to 10 %"
                );
            }
        }
        let last = outcome(4, Some(response(500, &[])));
        assert_eq!(next_step(&last, now), Step::Failed { disable: None });
        let timed_out = Outcome {
            error: Some("timed out".into()),
            ..outcome(1, None)
        };
        assert!(matches!(next_step(&timed_out, now), Step::Retry { .. }));
        let ok = outcome(1, Some(response(204, &[])));
        assert_eq!(next_step(&ok, now), Step::Succeeded);
        let redirect = outcome(1, Some(response(302, &[])));
        assert!(matches!(next_step(&redirect, now), Step::Retry { .. }));
    }

    #[test]
    fn retry_after_pushes_the_schedule_back_and_gone_gives_up_at_once() {
        let now = 1_000_000_000;
        let busy = outcome(1, Some(response(429, &[("Retry-After", "600")])));
        assert_eq!(
            next_step(&busy, now),
            Step::Retry { at: now + 600_000 },
            "the receiver's 10 minutes beat the schedule's 5 seconds"
        );
        // Retry-After on a 500 is not a rate limit: the schedule stands.
        let failing = outcome(2, Some(response(500, &[("Retry-After", "5")])));
        let Step::Retry { at } = next_step(&failing, now) else {
            panic!("retried");
        };
        assert!(at - now >= 300_000);
        let gone = outcome(1, Some(response(410, &[])));
        assert!(matches!(
            next_step(&gone, now),
            Step::Failed { disable: Some(_) }
        ));
    }
}
