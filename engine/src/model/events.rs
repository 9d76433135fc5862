//! Events as the REST API takes them in and gives them back: a new event,
//! the 202 answer with its deliveries, and the ordered event log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Actor, DeliveryStatus};

/// An event as the API receives it (PRODUCT.md section 8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: Value,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub actor: Option<Actor>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    /// An event of `event_type` about `data`, now, with no actor or key.
    pub fn new(event_type: &str, data: Value) -> Self {
        NewEvent {
            event_type: event_type.into(),
            data,
            occurred_at: None,
            actor: None,
            idempotency_key: None,
        }
    }
}

/// The 202 answer to an accepted event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accepted {
    pub id: String,
    pub deliveries: Vec<DeliveryRef>,
}

/// One delivery an accepted event made, in its answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRef {
    pub id: String,
    pub webhook_id: String,
    pub status: DeliveryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// Held for the request that made it, to attempt at once (inline
    /// webhooks). Not part of the answer; a repeated answer has it false.
    #[serde(skip)]
    pub inline: bool,
}

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub account_id: String,
    pub actor: Option<Actor>,
    pub data: Value,
}

/// A page of the event log, and where to continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub data: Vec<LoggedEvent>,
    pub next_cursor: Option<String>,
}
