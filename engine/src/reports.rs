//! What the reports show, in shapes shared by the server and the pages: the
//! date range a report covers, one webhook's counts, the chart's buckets,
//! the record an event is about, and a retry-all run's progress. The
//! queries behind them live in the store.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::DeliveryStatus;
use crate::validate::FieldError;

/// The longest range a report covers, so a typo cannot ask for a century.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A half-open range `[from, to)` on whole hours (UTC): counts are kept per
/// hour, so a report and the history it links to count the same deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The range choices offered above a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    Today,
    Last7Days,
    Last30Days,
    Custom,
}

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::Today,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::Custom,
    ];

    /// The value in the URL query (`?range=7d`).
    pub fn key(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Last7Days => "7d",
            Preset::Last30Days => "30d",
            Preset::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Today => "Today",
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::Custom => "Custom",
        }
    }

    pub fn from_key(key: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// The range a report's query asks for, as the URL carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQuery {
    /// A [`Preset`] key; absent means the last 7 days.
    pub range: Option<String>,
    /// `YYYY-MM-DD`, first day included (custom ranges).
    pub from: Option<String>,
    /// `YYYY-MM-DD`, last day included (custom ranges).
    pub to: Option<String>,
}

impl RangeQuery {
    pub fn preset(&self) -> Preset {
        match self.range.as_deref().filter(|r| !r.is_empty()) {
            None => {
                if self.from.as_deref().is_some_and(|f| !f.is_empty()) {
                    Preset::Custom
                } else {
                    Preset::Last7Days
                }
            }
            Some(key) => Preset::from_key(key).unwrap_or(Preset::Last7Days),
        }
    }

    /// The range at `now`; a custom range's bad dates are field errors.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<Range, FieldError> {
        let today = midnight(now.date_naive());
        let tomorrow = today + Duration::days(1);
        match self.preset() {
            Preset::Today => Ok(Range {
                from: today,
                to: tomorrow,
            }),
            Preset::Last7Days => Ok(Range {
                from: tomorrow - Duration::days(7),
                to: tomorrow,
            }),
            Preset::Last30Days => Ok(Range {
                from: tomorrow - Duration::days(30),
                to: tomorrow,
            }),
            Preset::Custom => {
                let from = parse_day("from", self.from.as_deref())?;
                let to = match self.to.as_deref().filter(|t| !t.is_empty()) {
                    None => now.date_naive(),
                    Some(_) => parse_day("to", self.to.as_deref())?,
                };
                if to < from {
                    return Err(FieldError::new(
                        "to",
                        "range_reversed",
                        "The end date is before the start date.",
                    ));
                }
                if (to - from).num_days() >= MAX_RANGE_DAYS {
                    return Err(FieldError::new(
                        "to",
                        "range_too_long",
                        format!("A report covers at most {MAX_RANGE_DAYS} days."),
                    ));
                }
                Ok(Range {
                    from: midnight(from),
                    to: midnight(to) + Duration::days(1),
                })
            }
        }
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn parse_day(field: &str, value: Option<&str>) -> Result<NaiveDate, FieldError> {
    let value = value.unwrap_or("").trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Pick a date for a custom range.",
        ));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        FieldError::new(
            field,
            "invalid_date",
            format!("{value:?} is not a date like 2026-11-23."),
        )
    })
}

impl Range {
    /// Hourly bars for up to two days, daily bars beyond.
    pub fn bucket(&self) -> Bucket {
        if self.to - self.from <= Duration::days(2) {
            Bucket::Hour
        } else {
            Bucket::Day
        }
    }

    /// The first day in the range, `YYYY-MM-DD`.
    pub fn first_day(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    /// The last day in the range (its end is exclusive), `YYYY-MM-DD`.
    pub fn last_day(&self) -> String {
        (self.to - Duration::seconds(1))
            .format("%Y-%m-%d")
            .to_string()
    }

    /// The query string that reproduces this range as a custom one.
    pub fn as_query(&self) -> String {
        format!("from={}&to={}", self.first_day(), self.last_day())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

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
/// filter: its id, and a name to read (a person's name, a title, a VIN).
pub fn record_of(data: &Value) -> (Option<String>, Option<String>) {
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
    (id.map(|i| i.chars().take(120).collect()), label)
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

/// One recorded attempt, as the API and the reports show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub duration_ms: i64,
    pub request: crate::model::SentRequest,
    pub response: Option<crate::model::ReceivedResponse>,
    pub error: Option<String>,
}

/// A delivery's current state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryState {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_response_status: Option<u16>,
    pub last_error: Option<String>,
    /// The record the event is about (see [`record_of`]).
    pub record_id: Option<String>,
    pub record_label: Option<String>,
    /// A test send from the console or the API.
    pub test: bool,
}

impl DeliveryState {
    /// The record as one line: "Jane Doe (c_1001)", or what is known.
    pub fn record_text(&self) -> Option<String> {
        match (&self.record_id, &self.record_label) {
            (Some(id), Some(label)) => Some(format!("{label} ({id})")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        }
    }

    /// The last attempt's answer: "HTTP 500", or its transport error.
    pub fn last_outcome(&self) -> Option<String> {
        match (self.last_response_status, &self.last_error) {
            (Some(status), _) => Some(format!("HTTP {status}")),
            (None, error) => error.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryPage {
    pub data: Vec<DeliveryState>,
    /// Older deliveries follow.
    pub next_cursor: Option<String>,
    /// Newer deliveries come before this page.
    #[serde(default)]
    pub prev_cursor: Option<String>,
}

/// The history's filters as the URL carries them (`?webhook=…&status=…`).
/// Empty values mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    pub webhook: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub record: Option<String>,
    /// A date range as in [`RangeQuery`]; no range and no dates mean all time.
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub prev: Option<String>,
}

/// The statuses a delivery can have, as the history filter offers them.
pub const STATUSES: [&str; 4] = [
    DeliveryStatus::ALL[0].as_str(),
    DeliveryStatus::ALL[1].as_str(),
    DeliveryStatus::ALL[2].as_str(),
    DeliveryStatus::ALL[3].as_str(),
];

impl HistoryQuery {
    fn value(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn webhook(&self) -> Option<&str> {
        Self::value(&self.webhook)
    }

    pub fn status(&self) -> Option<&str> {
        Self::value(&self.status)
    }

    pub fn event_type(&self) -> Option<&str> {
        Self::value(&self.event_type)
    }

    pub fn record(&self) -> Option<&str> {
        Self::value(&self.record)
    }

    /// The date range, if one was asked for; bad dates and unknown
    /// statuses are field errors.
    pub fn range(&self, now: DateTime<Utc>) -> Result<Option<Range>, FieldError> {
        if let Some(status) = self.status()
            && !STATUSES.contains(&status)
        {
            return Err(FieldError::new(
                "status",
                "invalid_status",
                format!(
                    "{status:?} is not a status; use one of {}.",
                    STATUSES.join(", ")
                ),
            ));
        }
        if Self::value(&self.range).is_none() && Self::value(&self.from).is_none() {
            return Ok(None);
        }
        RangeQuery {
            range: self.range.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
        .resolve(now)
        .map(Some)
    }

    /// The query string of these filters (no cursor), for links and export.
    pub fn to_query(&self) -> String {
        let pairs = [
            ("webhook", self.webhook()),
            ("status", self.status()),
            ("event_type", self.event_type()),
            ("record", self.record()),
            ("range", Self::value(&self.range)),
            ("from", Self::value(&self.from)),
            ("to", Self::value(&self.to)),
        ];
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }
}

/// `key=value`, form-encoded, for a link's query string.
pub fn query_pair(key: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn presets_cover_whole_days_up_to_the_end_of_today() {
        let now = at("2026-11-23T15:20:00Z");
        let q = |r: &str| RangeQuery {
            range: Some(r.into()),
            ..RangeQuery::default()
        };
        assert_eq!(
            q("today").resolve(now).unwrap(),
            Range {
                from: at("2026-11-23T00:00:00Z"),
                to: at("2026-11-24T00:00:00Z")
            }
        );
        assert_eq!(
            q("7d").resolve(now).unwrap().from,
            at("2026-11-17T00:00:00Z")
        );
        assert_eq!(
            q("30d").resolve(now).unwrap().from,
            at("2026-10-25T00:00:00Z")
        );
        assert_eq!(
            RangeQuery::default().resolve(now).unwrap(),
            q("7d").resolve(now).unwrap()
        );
    }

    #[test]
    fn a_custom_range_includes_its_last_day_and_rejects_bad_dates() {
        let now = at("2026-11-23T15:20:00Z");
        let custom = |from: &str, to: &str| RangeQuery {
            range: Some("custom".into()),
            from: Some(from.into()),
            to: Some(to.into()),
        };
        let range = custom("2026-11-01", "2026-11-02").resolve(now).unwrap();
        assert_eq!(range.from, at("2026-11-01T00:00:00Z"));
        assert_eq!(range.to, at("2026-11-03T00:00:00Z"));
        assert_eq!(range.as_query(), "from=2026-11-01&to=2026-11-02");
        assert_eq!(range.bucket(), Bucket::Hour);
        assert_eq!(
            custom("2026-11-05", "2026-11-01")
                .resolve(now)
                .unwrap_err()
                .code,
            "range_reversed"
        );
        assert_eq!(
            custom("yesterday", "").resolve(now).unwrap_err().field,
            "from"
        );
        assert_eq!(
            custom("2020-01-01", "2026-01-01")
                .resolve(now)
                .unwrap_err()
                .code,
            "range_too_long"
        );
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

    #[test]
    fn the_record_is_the_events_subject() {
        let contact = json!({"id": "c_1", "first_name": "Jane", "last_name": "Doe"});
        assert_eq!(
            record_of(&contact),
            (Some("c_1".into()), Some("Jane Doe".into()))
        );
        let todo = json!({"id": 301, "title": "Call back", "contact_id": "c_1"});
        assert_eq!(
            record_of(&todo),
            (Some("301".into()), Some("Call back".into()))
        );
        let workflow = json!({"contact_id": "c_1", "contact": {"first_name": "Jane"}});
        assert_eq!(
            record_of(&workflow),
            (Some("c_1".into()), Some("Jane".into()))
        );
        assert_eq!(record_of(&json!({"x": 1})), (None, None));
    }

    #[test]
    fn history_queries_round_trip_and_check_their_status() {
        let query = HistoryQuery {
            webhook: Some("wh_1".into()),
            status: Some("failed".into()),
            record: Some("Jane Doe&co".into()),
            from: Some("2026-11-01".into()),
            to: Some(String::new()),
            cursor: Some("123_dlv".into()),
            ..HistoryQuery::default()
        };
        assert_eq!(
            query.to_query(),
            "webhook=wh_1&status=failed&record=Jane+Doe%26co&from=2026-11-01"
        );
        let now = at("2026-11-23T15:20:00Z");
        assert_eq!(
            query.range(now).unwrap().map(|r| r.from),
            Some(at("2026-11-01T00:00:00Z"))
        );
        assert_eq!(HistoryQuery::default().range(now).unwrap(), None);
        let bad = HistoryQuery {
            status: Some("lost".into()),
            ..HistoryQuery::default()
        };
        assert_eq!(bad.range(now).unwrap_err().field, "status");
    }
}
