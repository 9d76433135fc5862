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
    Import,
}

impl JobKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::MassPost => "mass_post",
            JobKind::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobKind::MassPost, JobKind::Import]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// An import uploaded in the console, waiting for its mapping.
    Draft,
    Running,
    Done,
    Cancelled,
    Failed,
}

impl JobState {
    const ALL: [JobState; 5] = [
        JobState::Draft,
        JobState::Running,
        JobState::Done,
        JobState::Cancelled,
        JobState::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Draft => "draft",
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
    /// The uploaded file's name (imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

impl JobView {
    /// Most errors a job's answer lists.
    pub const MAX_ERRORS: i64 = 1000;

    /// Records with an outcome: delivered, failed, or not posted (an
    /// error).
    pub fn outcomes(&self) -> i64 {
        self.succeeded + self.failed + self.error_count
    }

    /// Whole percent of the records with an outcome: what a progress bar
    /// shows, so it fills as receivers answer, not only as deliveries are
    /// made. Without a webhook (an import that posts nothing), the records
    /// handled.
    pub fn percent(&self) -> i64 {
        let outcomes = match self.webhook_id {
            Some(_) => self.outcomes(),
            None => self.done,
        };
        if self.total <= 0 {
            100
        } else {
            (outcomes * 100 / self.total).clamp(0, 100)
        }
    }

    pub fn finished(&self) -> bool {
        matches!(
            self.state,
            JobState::Done | JobState::Cancelled | JobState::Failed
        )
    }

    /// Deliveries made: succeeded, failed or still on their way.
    pub fn sent(&self) -> i64 {
        self.succeeded + self.failed + self.pending
    }

    /// Whether anything can still change: records to post or deliveries
    /// on their way.
    pub fn settled(&self) -> bool {
        self.finished() && self.pending == 0
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

/// The contacts of a mass post as the console's links carry them:
/// `with=list` and the list's filters, or `with=selected` and an `id`
/// per checked row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Selection {
    List(ContactFilter),
    Selected(Vec<String>),
}

impl Selection {
    /// The selection in a query string; `None` without a known `with`.
    pub fn from_query(query: &str) -> Option<Self> {
        let pairs = crate::reports::query_pairs(query);
        let with = pairs.iter().find(|(k, _)| k == "with").map(|(_, v)| v);
        match with.map(String::as_str) {
            Some("list") => Some(Selection::List(ContactFilter::from_query(query))),
            Some("selected") => {
                let mut ids: Vec<String> = Vec::new();
                for (_, id) in pairs.into_iter().filter(|(k, _)| k == "id") {
                    let id = id.trim().to_string();
                    if !id.is_empty() && !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Some(Selection::Selected(ids))
            }
            _ => None,
        }
    }

    /// The selection as a query string, for links and forms.
    pub fn to_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        match self {
            Selection::List(filter) => {
                query.append_pair("with", "list");
                for (k, v) in filter.pairs() {
                    query.append_pair(k, v);
                }
            }
            Selection::Selected(ids) => {
                query.append_pair("with", "selected");
                for id in ids {
                    query.append_pair("id", id);
                }
            }
        }
        query.finish()
    }

    /// The mass post of these contacts through `webhook_id`.
    pub fn into_input(self, webhook_id: String) -> MassPostInput {
        match self {
            Selection::List(filter) => MassPostInput {
                webhook_id,
                filter: Some(filter),
                contact_ids: None,
            },
            Selection::Selected(ids) => MassPostInput {
                webhook_id,
                filter: None,
                contact_ids: Some(ids),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_round_trip_through_their_query_strings() {
        let list = Selection::List(ContactFilter {
            q: Some("ann & co".into()),
            status: Some("Thank You Note".into()),
            ..ContactFilter::default()
        });
        assert_eq!(Selection::from_query(&list.to_query()), Some(list.clone()));
        let chosen = Selection::Selected(vec!["con_1".into(), "con_2".into()]);
        assert_eq!(Selection::from_query(&chosen.to_query()), Some(chosen));
        assert_eq!(
            Selection::from_query("?with=selected&id=con_1&id=&id=con_1&id=con_3&q=x"),
            Some(Selection::Selected(vec!["con_1".into(), "con_3".into()])),
            "empty and repeated ids are dropped; filters ignored"
        );
        assert_eq!(
            Selection::from_query("with=list&status=&flag=VIP&webhook=wh_1&n=3"),
            Some(Selection::List(ContactFilter {
                flag: Some("VIP".into()),
                ..ContactFilter::default()
            })),
            "empty filters count as not given, other names are not filters"
        );
        assert_eq!(Selection::from_query("q=ann"), None);
        assert_eq!(Selection::from_query("with=everything"), None);
    }
}
