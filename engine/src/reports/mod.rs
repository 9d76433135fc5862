//! What the reports show, in shapes shared by the server and the pages: the
//! date range a report covers, one webhook's counts, the chart's buckets,
//! the record an event is about, and a retry-all run's progress. The
//! queries behind them live in the store.

mod history;
mod range;

pub use history::{
    AttemptRecord, DeliveryPage, DeliveryState, HistoryQuery, query_pair, query_pairs,
};
pub use range::{Bucket, MAX_RANGE_DAYS, Preset, Range, RangeQuery};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::DeliveryStatus;

/// One webhook's row in the webhooks report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookCounts {
    pub webhook_id: String,
    pub title: String,
    pub triggers: Vec<String>,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub active: bool,
    pub disabled_reason: Option<String>,
    /// Deleted webhooks keep their history; they are listed while they
    /// have deliveries in the range.
    pub deleted: bool,
    /// Deliveries created in the range.
    pub fired: i64,
    /// Of those, how many ended in success so far.
    pub succeeded: i64,
    /// Of those, how many were given up.
    pub failed: i64,
    /// Of those, how many are still pending or retrying.
    pub open: i64,
    /// The newest delivery of the webhook, in or after the range.
    pub last_fired: Option<DateTime<Utc>>,
}

impl WebhookCounts {
    /// Succeeded out of finished (succeeded + failed), as a percentage.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.succeeded + self.failed;
        (finished > 0).then(|| self.succeeded as f64 * 100.0 / finished as f64)
    }
}

/// One bar of the chart: deliveries created in `[start, start + bucket)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartBar {
    pub start: DateTime<Utc>,
    pub succeeded: i64,
    pub failed: i64,
    pub open: i64,
}

impl ChartBar {
    /// Every delivery the bar counts.
    pub fn total(&self) -> i64 {
        self.succeeded + self.failed + self.open
    }
}

/// The webhooks report for one account and range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub range: Range,
    pub rows: Vec<WebhookCounts>,
    /// Every bucket of the range, empty ones included, for the chart's
    /// webhook (all when `chart_webhook` is `None`).
    pub chart: Vec<ChartBar>,
    pub bucket: Bucket,
    pub chart_webhook: Option<String>,
    /// The oldest delivery still kept, and how long deliveries are kept.
    pub oldest: Option<DateTime<Utc>>,
    pub retention_days: u32,
}

/// How many deliveries of one status one hour holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "store", derive(sqlx::FromRow))]
pub struct HourCount {
    /// The hour's start, in milliseconds.
    pub hour: i64,
    pub status: String,
    pub n: i64,
}

/// Fills every bucket of `range` from hourly counts.
pub fn chart_bars(range: &Range, hourly: &[HourCount]) -> Vec<ChartBar> {
    let size = range.bucket().millis();
    let from = range.from.timestamp_millis();
    let count = ((range.to.timestamp_millis() - from) / size).max(0) as usize;
    let mut bars: Vec<ChartBar> = (0..count)
        .map(|i| ChartBar {
            start: range.from + Duration::milliseconds(i as i64 * size),
            succeeded: 0,
            failed: 0,
            open: 0,
        })
        .collect();
    for HourCount { hour, status, n } in hourly {
        let Some(bar) = usize::try_from((hour - from).div_euclid(size))
            .ok()
            .and_then(|i| bars.get_mut(i))
        else {
            continue;
        };
        match DeliveryStatus::parse(status) {
            Some(DeliveryStatus::Succeeded) => bar.succeeded += n,
            Some(DeliveryStatus::Failed) => bar.failed += n,
            _ => bar.open += n,
        }
    }
    bars
}

/// The record an event is about, for the history's record column and
/// filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordRef {
    pub id: Option<String>,
    /// A name to read: a person's name, a title, a VIN.
    pub label: Option<String>,
}

/// The fields of an event's data that [`record_of`] reads.
pub(crate) const RECORD_FIELDS: [&str; 12] = [
    "id",
    "contact_id",
    "contact.id",
    "first_name",
    "last_name",
    "name",
    "title",
    "contact.first_name",
    "contact.last_name",
    "make",
    "model",
    "number",
];

/// The record an event's data is about (at most 120 characters of each),
/// from the fields [`RECORD_FIELDS`] names.
pub fn record_of(data: &Value) -> RecordRef {
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = data
        .get("id")
        .and_then(text)
        .or_else(|| data.get("contact_id").and_then(text))
        .or_else(|| data.get("contact").and_then(|c| c.get("id")).and_then(text));
    let person = |v: &Value| {
        let first = v.get("first_name").and_then(text);
        let last = v.get("last_name").and_then(text);
        match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.or(l),
        }
    };
    let label = person(data)
        .or_else(|| data.get("name").and_then(text))
        .or_else(|| data.get("title").and_then(text))
        .or_else(|| data.get("contact").and_then(person))
        .or_else(|| {
            let make = data.get("make").and_then(text)?;
            let model = data.get("model").and_then(text).unwrap_or_default();
            Some(format!("{make} {model}").trim().to_string())
        })
        .or_else(|| data.get("number").and_then(text))
        .map(|l| l.chars().take(120).collect());
    RecordRef {
        id: id.map(|i| i.chars().take(120).collect()),
        label,
    }
}

/// A retry-all run: how far it has come.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryRun {
    pub id: String,
    pub webhook_id: String,
    pub webhook_title: String,
    pub range: Range,
    pub created_at: DateTime<Utc>,
    /// Failed deliveries made due again so far.
    pub marked: i64,
    /// Every failed delivery of the range has been made due.
    pub marking_done: bool,
    /// Of the marked ones: still waiting for their attempt.
    pub waiting: i64,
    pub succeeded: i64,
    pub failed: i64,
}

impl RetryRun {
    /// Sent = attempted since the run marked them.
    pub fn sent(&self) -> i64 {
        self.succeeded + self.failed
    }

    pub fn finished(&self) -> bool {
        self.marking_done && self.waiting == 0
    }

    /// 0–100, for the progress bar.
    pub fn percent(&self) -> u8 {
        if self.finished() {
            return 100;
        }
        if self.marked == 0 {
            return 0;
        }
        ((self.sent() * 100) / self.marked).clamp(0, 99) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A time written as RFC 3339, for every test of the reports.
    pub(super) fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn chart_bars_fill_every_bucket_and_sum_hours_into_days() {
        let range = Range {
            from: at("2026-11-20T00:00:00Z"),
            to: at("2026-11-23T00:00:00Z"),
        };
        let h = |s: &str| at(s).timestamp_millis();
        let bars = chart_bars(
            &range,
            &[
                (h("2026-11-20T01:00:00Z"), "succeeded", 3),
                (h("2026-11-20T23:00:00Z"), "failed", 2),
                (h("2026-11-22T05:00:00Z"), "retrying", 1),
                (h("2026-11-25T05:00:00Z"), "failed", 9),
            ]
            .map(|(hour, status, n)| HourCount {
                hour,
                status: status.into(),
                n,
            }),
        );
        assert_eq!(bars.len(), 3);
        assert_eq!((bars[0].succeeded, bars[0].failed), (3, 2));
        assert_eq!((bars[1].succeeded, bars[1].failed, bars[1].open), (0, 0, 0));
        assert_eq!(bars[2].open, 1);
    }

    fn record(id: &str, label: &str) -> RecordRef {
        RecordRef {
            id: Some(id.into()),
            label: Some(label.into()),
        }
    }

    #[test]
    fn the_record_is_the_events_subject() {
        let contact = json!({"id": "c_1", "first_name": "Jane", "last_name": "Doe"});
        assert_eq!(record_of(&contact), record("c_1", "Jane Doe"));
        let todo = json!({"id": 301, "title": "Call back", "contact_id": "c_1"});
        assert_eq!(record_of(&todo), record("301", "Call back"));
        let workflow = json!({"contact_id": "c_1", "contact": {"first_name": "Jane"}});
        assert_eq!(record_of(&workflow), record("c_1", "Jane"));
        assert_eq!(record_of(&json!({"x": 1})), RecordRef::default());
    }
}
