//! How it is sent: a format that fits the events and the method, a
//! timeout, and a retry schedule with a delay for each attempt.

use super::{MAX_ATTEMPTS, MAX_TIMEOUT_MS};
use crate::model::{Format, Method, WebhookInput};

pub(super) fn format_method_and_delivery(
    input: &WebhookInput,
    err: &mut impl FnMut(String, &str, String),
) {
    if input.format == Format::Adf
        && input
            .triggers
            .iter()
            .any(|t| !matches!(crate::model::noun_of(&t.event_type), "lead" | "contact"))
    {
        err(
            "format".into(),
            "invalid_format",
            "ADF is for lead and contact events; use generic XML for the others.".into(),
        );
    }
    if input.method == Method::Get && input.format != Format::Json && input.format != Format::Form {
        err(
            "format".into(),
            "invalid_format",
            "A GET request has no body: its fields go into the query string. Pick JSON or form."
                .into(),
        );
    }
    if input.timeout_ms < 100 || input.timeout_ms > MAX_TIMEOUT_MS {
        err(
            "timeout_ms".into(),
            "invalid_timeout",
            format!("The timeout must be between 100 ms and {MAX_TIMEOUT_MS} ms."),
        );
    }
    let retry = &input.retry;
    if retry.max_attempts == 0 || retry.max_attempts > MAX_ATTEMPTS {
        err(
            "retry.max_attempts".into(),
            "invalid_retry",
            format!("Attempts must be between 1 and {MAX_ATTEMPTS}."),
        );
    }
    if retry.schedule_s.len() < retry.max_attempts as usize {
        err(
            "retry.schedule_s".into(),
            "invalid_retry",
            format!(
                "The schedule needs a delay for each of the {} attempts (it has {}).",
                retry.max_attempts,
                retry.schedule_s.len()
            ),
        );
    } else if retry.schedule_s.iter().any(|&s| s > 7 * 24 * 3600) {
        err(
            "retry.schedule_s".into(),
            "invalid_retry",
            "A delay cannot be longer than 7 days.".into(),
        );
    }
}
