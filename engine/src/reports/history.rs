//! The delivery history's shapes: a delivery's state and attempts, a page
//! of them, and the filters as the URL carries them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Range, RangeQuery};
use crate::model::DeliveryStatus;
use crate::validate::FieldError;

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
    /// A manual send of a real record ("execute webhook" on a contact).
    #[serde(default)]
    pub manual: bool,
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
    /// The deliveries of one job (a mass post's run).
    #[serde(default)]
    pub job: Option<String>,
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

    pub fn job(&self) -> Option<&str> {
        Self::value(&self.job)
    }

    /// The date range, if one was asked for; bad dates and unknown
    /// statuses are field errors.
    pub fn range(&self, now: DateTime<Utc>) -> Result<Option<Range>, FieldError> {
        if let Some(status) = self.status()
            && DeliveryStatus::parse(status).is_none()
        {
            return Err(FieldError::new(
                "status",
                "invalid_status",
                format!(
                    "{status:?} is not a status; use one of {}.",
                    DeliveryStatus::ALL.map(DeliveryStatus::as_str).join(", ")
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
            ("job", self.job()),
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

/// The `(name, value)` pairs of a query string (with or without its `?`).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
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
    use crate::reports::tests::at;

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
