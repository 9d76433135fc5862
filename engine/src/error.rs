//! The engine's one error type: what went wrong, in terms a caller can act
//! on. A unique index's violation becomes the field error it means, found
//! by the index's name (see [`Error::unique`]).

use crate::validate::FieldError;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks one or more rules; each error names its field.
    #[error("invalid input: {}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// The delivery engine stopped before it answered the call.
    #[error("the delivery engine has stopped")]
    Stopped,
    /// Too many calls wait for the delivery engine, or this one waited
    /// too long: try again shortly (with the same idempotency key).
    #[error("the delivery engine is busy; try again in a moment")]
    Busy,
    /// A write this call shared with others (one writer turn) failed; the
    /// cause is logged where it happened.
    #[error("a shared database write failed: {0}")]
    SharedWrite(String),
    /// Stored data that does not read back as its type, or a value that
    /// cannot be written as one.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The file system refused (the database's folder cannot be made).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The database could not apply the migrations; start-up stops.
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the database URL {0:?} is not sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Secrets cannot be sealed or opened (a missing or wrong key).
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The same error for another caller of a shared transaction that failed.
    pub fn for_another_caller(&self) -> Error {
        match self {
            Error::Validation(errors) => Error::Validation(errors.clone()),
            Error::NotFound => Error::NotFound,
            Error::Stopped => Error::Stopped,
            Error::Busy => Error::Busy,
            Error::Corrupt(what) => Error::Corrupt(what.clone()),
            other => Error::SharedWrite(other.to_string()),
        }
    }

    /// The database refused the data (not a lost connection or a full
    /// pool): the same work without the data it refused may pass.
    pub(crate) fn is_data_fault(&self) -> bool {
        matches!(
            self,
            Error::Corrupt(_) | Error::Database(sqlx::Error::Database(_) | sqlx::Error::Encode(_))
        )
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, code, message)])
    }

    /// `error`, or `meaning` when it is a violation of the unique index
    /// `index` (named as the migrations name it).
    pub(crate) fn unique(error: sqlx::Error, index: &str, meaning: FieldError) -> Error {
        if violated_index(&error) == Some(index) {
            Error::Validation(vec![meaning])
        } else {
            error.into()
        }
    }
}

/// Each unique index by its name, beside the columns SQLite names in its
/// message instead ("UNIQUE constraint failed: users.email").
const UNIQUE_INDEXES: [(&str, &str); 9] = [
    ("accounts_name_key", "accounts.name"),
    ("users_email_key", "users.email"),
    ("webhooks_title_key", "webhooks.account_id, webhooks.title"),
    ("api_keys_key_hash", "api_keys.key_hash"),
    ("events_id_key", "events.id"),
    (
        "events_idempotency_key",
        "events.account_id, events.idempotency_key",
    ),
    ("contacts_email_key", "contacts.account_id, contacts.email"),
    (
        "contacts_external_id_key",
        "contacts.account_id, contacts.external_id",
    ),
    (
        "record_items_name_key",
        "record_items.account_id, record_items.kind, record_items.name",
    ),
];

/// The name of the unique index `error` violated, if it is one of ours.
fn violated_index(error: &sqlx::Error) -> Option<&'static str> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    match db.constraint() {
        Some(name) => UNIQUE_INDEXES
            .iter()
            .find(|(index, _)| *index == name)
            .map(|(index, _)| *index),
        None => {
            let columns = db.message().strip_prefix("UNIQUE constraint failed: ")?;
            UNIQUE_INDEXES
                .iter()
                .find(|(_, c)| *c == columns)
                .map(|(index, _)| *index)
        }
    }
}
