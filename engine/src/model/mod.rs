//! The webhook and event types, in the exact shapes of the REST API
//! (PRODUCT.md section 8). The console and the API both speak these.
//! [`events`] holds the event API's own shapes (in, answered, logged).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod events;
pub mod imports;
pub mod jobs;
pub mod records;
pub use events::{Accepted, DeliveryRef, EventPage, LoggedEvent, NewEvent};
pub use jobs::{JobError, JobKind, JobState, JobView, MassPostInput, Selection};
pub use records::{
    Address, AssignedUser, ChangedBy, Contact, ContactDetail, ContactFilter, ContactInput,
    ContactPage, EmittedEvent, ItemInput, ItemKind, Lead, LeadInput, LeadType, RecordItem, Saved,
    Todo, TodoInput, Via,
};

/// What the console and API show in place of a stored secret. Saving this
/// value back means "keep the secret that is stored".
pub const SECRET_MASK: &str = "********";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Post,
    Put,
    Patch,
    Get,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Post, Method::Put, Method::Patch, Method::Get];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Get => "GET",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The whole event envelope; with mapping rows, `data` is the mapped object.
    #[default]
    Json,
    /// Only the mapped fields, as one JSON object.
    JsonMapped,
    /// `application/x-www-form-urlencoded` key/value pairs.
    Form,
    /// Generic XML.
    Xml,
    /// ADF 1.0 (Auto-Lead Data Format), for lead and contact events.
    Adf,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::JsonMapped,
        Format::Form,
        Format::Xml,
        Format::Adf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::JsonMapped => "json_mapped",
            Format::Form => "form",
            Format::Xml => "xml",
            Format::Adf => "adf",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Json => "JSON envelope",
            Format::JsonMapped => "JSON of mapped fields",
            Format::Form => "Form (x-www-form-urlencoded)",
            Format::Xml => "XML",
            Format::Adf => "ADF 1.0 XML (leads and contacts)",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How the receiver authenticates Postback.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Auth {
    #[default]
    None,
    /// One header, e.g. `Authorization: Bearer …` or `X-Api-Key: …`.
    Header { name: String, value: String },
    /// HTTP Basic.
    Basic { username: String, password: String },
}

impl Auth {
    /// The same auth with its secret replaced by [`SECRET_MASK`], for pages,
    /// API answers and reports.
    pub fn masked(&self) -> Auth {
        match self {
            Auth::None => Auth::None,
            Auth::Header { name, value } => Auth::Header {
                name: name.clone(),
                value: mask_if_set(value),
            },
            Auth::Basic { username, password } => Auth::Basic {
                username: username.clone(),
                password: mask_if_set(password),
            },
        }
    }

    /// Whether [`Auth::merge_secret`] would keep a secret of `stored`.
    pub fn keeps_stored_secret(&self, stored: &Auth) -> bool {
        match (self, stored) {
            (Auth::Header { value, .. }, Auth::Header { value: old, .. }) => {
                value == SECRET_MASK && !old.is_empty()
            }
            (Auth::Basic { password, .. }, Auth::Basic { password: old, .. }) => {
                password == SECRET_MASK && !old.is_empty()
            }
            _ => false,
        }
    }

    /// Keeps the stored secret where the submitted one is the mask.
    pub fn merge_secret(self, stored: &Auth) -> Auth {
        match (self, stored) {
            (Auth::Header { name, value }, Auth::Header { value: old, .. })
                if value == SECRET_MASK =>
            {
                Auth::Header {
                    name,
                    value: old.clone(),
                }
            }
            (Auth::Basic { username, password }, Auth::Basic { password: old, .. })
                if password == SECRET_MASK =>
            {
                Auth::Basic {
                    username,
                    password: old.clone(),
                }
            }
            (auth, _) => auth,
        }
    }
}

fn mask_if_set(secret: &str) -> String {
    if secret.is_empty() {
        String::new()
    } else {
        SECRET_MASK.to_string()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trigger {
    pub event_type: String,
    #[serde(default)]
    pub filters: Vec<Filter>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// The field equals the value (strings compare without regard to case).
    #[default]
    Eq,
    /// The field equals one of the values in a list.
    In,
    /// The field is present and not null.
    Exists,
}

impl FilterOp {
    pub const ALL: [FilterOp; 3] = [FilterOp::Eq, FilterOp::In, FilterOp::Exists];

    pub fn as_str(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::In => "in",
            FilterOp::Exists => "exists",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FilterOp::Eq => "equals",
            FilterOp::In => "is one of",
            FilterOp::Exists => "exists",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Filter {
    pub field: String,
    pub op: FilterOp,
    /// A string for `eq`, a list for `in`, nothing for `exists`.
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MappingRow {
    /// Sent verbatim: case, spaces and spelling exactly as typed.
    pub key: String,
    pub value: MappingValue,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MappingValue {
    /// A record field from the catalog, e.g. `contact.first_name`.
    Field(String),
    /// A fixed value ("custom value"), e.g. an API hash.
    Constant(String),
    /// Text with `{field}` placeholders, e.g. `{account.id}-{contact.id}`.
    Template(String),
}

impl MappingValue {
    pub fn kind(&self) -> &'static str {
        match self {
            MappingValue::Field(_) => "field",
            MappingValue::Constant(_) => "constant",
            MappingValue::Template(_) => "template",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            MappingValue::Field(s) | MappingValue::Constant(s) | MappingValue::Template(s) => s,
        }
    }

    pub fn from_kind(kind: &str, text: String) -> Self {
        match kind {
            "constant" => MappingValue::Constant(text),
            "template" => MappingValue::Template(text),
            _ => MappingValue::Field(text),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// Queued; never slows the action that triggered it.
    #[default]
    Background,
    /// The triggering action waits for the first attempt and shows its outcome.
    Inline,
}

impl ExecutionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionMode::Background => "background",
            ExecutionMode::Inline => "inline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "background" => Some(Self::Background),
            "inline" => Some(Self::Inline),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Concurrent, up to a per-webhook limit.
    #[default]
    Fast,
    /// One at a time, in event order.
    Queued,
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Fast => "fast",
            DeliveryMode::Queued => "queued",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DeliveryMode::Fast => "As fast as possible",
            DeliveryMode::Queued => "Queued (in order)",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fast" => Some(Self::Fast),
            "queued" => Some(Self::Queued),
            _ => None,
        }
    }
}

/// Where a delivery stands. Pending and retrying ones are still open:
/// an attempt is due now or later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Made, not attempted yet.
    Pending,
    /// Attempted and failed; another attempt is due.
    Retrying,
    Succeeded,
    /// Given up: its attempts are used up or the receiver said never again.
    Failed,
}

impl DeliveryStatus {
    /// In the order the history's filter offers them.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
        DeliveryStatus::Retrying,
        DeliveryStatus::Pending,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Still open: an attempt is due now or later.
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryStatus::Pending | DeliveryStatus::Retrying)
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for DeliveryStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Seconds to wait before each attempt; the first is usually 0.
    pub schedule_s: Vec<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            schedule_s: vec![0, 5, 300, 1800, 7200, 18000, 36000, 36000],
        }
    }
}

pub const DEFAULT_TIMEOUT_MS: u32 = 15_000;

/// What an admin submits to create or change a webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct WebhookInput {
    pub title: String,
    pub url: String,
    pub port: Option<u16>,
    pub method: Method,
    pub format: Format,
    pub auth: Auth,
    pub headers: Vec<Header>,
    pub triggers: Vec<Trigger>,
    pub mapping: Vec<MappingRow>,
    pub execution_mode: ExecutionMode,
    pub delivery_mode: DeliveryMode,
    pub retry: RetryPolicy,
    pub timeout_ms: u32,
    pub active: bool,
}

impl Default for WebhookInput {
    fn default() -> Self {
        WebhookInput {
            title: String::new(),
            url: String::new(),
            port: None,
            method: Method::Post,
            format: Format::Json,
            auth: Auth::None,
            headers: Vec::new(),
            triggers: Vec::new(),
            mapping: Vec::new(),
            execution_mode: ExecutionMode::Background,
            delivery_mode: DeliveryMode::Fast,
            retry: RetryPolicy::default(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            active: true,
        }
    }
}

impl WebhookInput {
    /// The webhook as it is stored: the title, the URL and every header
    /// name without the spaces around them, so what is checked, sent and
    /// redacted is what is saved.
    pub fn trimmed(mut self) -> Self {
        self.title = self.title.trim().to_string();
        self.url = self.url.trim().to_string();
        if let Auth::Header { name, .. } = &mut self.auth {
            *name = name.trim().to_string();
        }
        for header in &mut self.headers {
            header.name = header.name.trim().to_string();
        }
        self
    }
}

/// A stored webhook as pages and the API see it: secrets masked, the
/// signing secret absent (it is shown once, on create and on rotate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: String,
    #[serde(flatten)]
    pub input: WebhookInput,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook's name, deleted ones too: the history names every
/// delivery's webhook, and filters by the live ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "store", derive(sqlx::FromRow))]
pub struct WebhookTitle {
    pub id: String,
    pub title: String,
    pub deleted: bool,
    /// On (and not deleted).
    pub active: bool,
}

impl WebhookTitle {
    /// The title of webhook `id` among `titles`.
    pub fn of<'a>(titles: &'a [WebhookTitle], id: &str) -> Option<&'a str> {
        titles.iter().find(|t| t.id == id).map(|t| t.title.as_str())
    }
}

/// An account: the tenant every webhook, user, key and event belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "store", derive(sqlx::FromRow))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: String,
    pub name: String,
    /// The receiver's id for this account (e.g. its DealerID).
    pub external_ref: Option<String>,
}

impl From<&Account> for AccountRef {
    fn from(account: &Account) -> Self {
        AccountRef {
            id: account.id.clone(),
            name: account.name.clone(),
            external_ref: account.external_ref.clone(),
        }
    }
}

/// The account an event belongs to, as every payload carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountRef {
    pub id: String,
    pub name: String,
    /// The receiver's id for this account (e.g. its DealerID).
    pub external_ref: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    pub id: String,
    pub name: String,
}

/// One CRM event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub account: AccountRef,
    pub occurred_at: DateTime<Utc>,
    pub actor: Option<Actor>,
    /// The record as it is now; for updates it also has `changes`.
    pub data: serde_json::Value,
}

impl Event {
    /// `contact` for `contact.created`.
    pub fn noun(&self) -> &str {
        noun_of(&self.event_type)
    }
}

pub fn noun_of(event_type: &str) -> &str {
    event_type.split('.').next().unwrap_or(event_type)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures webhooks.
    Admin,
    /// Reads webhooks and reports; changes nothing.
    Support,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Support => "support",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "support" => Some(Role::Support),
            _ => None,
        }
    }
}

/// A signed-in console user, as the pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub role: Role,
}

/// The request as sent, for the attempt record (secrets already redacted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A receiver's answer, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceivedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text to read (truncated to 8 KiB when recorded): bytes
    /// that are not UTF-8 read as U+FFFD, a NUL byte as U+2400 (␀).
    pub body: String,
    /// The body's exact bytes in base64, when they are not plain text
    /// (not UTF-8, or with NUL bytes); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl ReceivedResponse {
    /// The answer with the body `bytes` as received: as text, and in
    /// base64 too when the text cannot show them exactly.
    pub fn new(status: u16, headers: Vec<(String, String)>, bytes: &[u8]) -> Self {
        use base64::Engine as _;
        let (body, body_base64) = match std::str::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => (text.to_string(), None),
            _ => (
                String::from_utf8_lossy(bytes).replace('\0', "\u{2400}"),
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
        };
        ReceivedResponse {
            status,
            headers,
            body,
            body_base64,
        }
    }

    /// The body's bytes as received.
    pub fn body_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        use base64::Engine as _;
        self.body_base64
            .as_ref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map_or(
                std::borrow::Cow::Borrowed(self.body.as_bytes()),
                std::borrow::Cow::Owned,
            )
    }
}

/// What a test send shows: the request as sent and the response or error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestSend {
    pub delivery_id: String,
    pub request: SentRequest,
    pub response: Option<TestResponse>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// As [`ReceivedResponse::body`].
    pub body: String,
    /// As [`ReceivedResponse::body_base64`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    pub duration_ms: i64,
}
