//! Background jobs an admin starts and watches: a mass post today (imports
//! and replays share the shape), in the shape of `GET /api/v1/jobs/{id}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::ContactFilter;

/// Most contacts a "with selected" mass post names.
pub const MAX_SELECTED: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    MassPost,
}

impl JobKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::MassPost => "mass_post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s == "mass_post").then_some(JobKind::MassPost)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Done,
    Cancelled,
    Failed,
}

impl JobState {
    const ALL: [JobState; 4] = [
        JobState::Running,
        JobState::Done,
        JobState::Cancelled,
        JobState::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// Something a job could not do: the line (a CSV line, or the place in a
/// list of contacts, from 1) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobError {
    pub line: i64,
    pub reason: String,
}

/// A job and how far it has come. `done` counts the records handled
/// (posted, for a mass post); `succeeded`, `failed` and `pending` count
/// the deliveries it made, as they stand now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    /// The webhook it posts through, if any.
    pub webhook_id: Option<String>,
    pub total: i64,
    pub done: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Deliveries made and not finished yet (waiting or retrying).
    pub pending: i64,
    /// The first errors, by line (at most [`JobView::MAX_ERRORS`]).
    pub errors: Vec<JobError>,
    /// How many errors there are in all.
    pub error_count: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl JobView {
    /// Most errors a job's answer lists.
    pub const MAX_ERRORS: i64 = 1000;

    /// Whole percent of the records handled.
    pub fn percent(&self) -> i64 {
        if self.total <= 0 {
            100
        } else {
            (self.done * 100 / self.total).clamp(0, 100)
        }
    }

    pub fn finished(&self) -> bool {
        self.state != JobState::Running
    }
}

/// Which contacts a mass post sends, and through which webhook: every
/// contact the filter matches ("with list") or the ones named ("with
/// selected"), one of the two.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MassPostInput {
    /// The webhook (`wh_…`); it must be on.
    pub webhook_id: String,
    /// Every contact this filter matches (`{}` for all).
    #[serde(default)]
    pub filter: Option<ContactFilter>,
    /// These contacts (`con_…`), in this order; at most 1,000.
    #[serde(default)]
    pub contact_ids: Option<Vec<String>>,
}
