//! Postback's domain: webhooks, events and how an event becomes an HTTP
//! request; with the `store` feature also the database and the delivery
//! engine. No UI lives here.
//!
//! # Layout
//! - [`model`]: webhooks, events, accounts, users and delivery statuses in
//!   the API's shapes; `model::events` holds the event API's own.
//! - [`catalog`]: the built-in event types, their fields and sample records.
//! - [`fields`]: field paths and `{field}` templates resolved against an event.
//! - [`render`]: an event plus a webhook's shape gives the exact request
//!   (JSON, form, query string; `render::xml` for XML and ADF). Compiles to
//!   WASM for the preview.
//! - [`validate`]: every webhook rule, each error tied to its field; an
//!   incoming event's checks.
//! - [`matching`]: which webhooks an event fires (triggers and filters).
//! - [`reports`]: per-webhook counts, chart bars, the record an event is
//!   about, retry-all progress; `reports::range` the date ranges and
//!   buckets, `reports::history` a delivery's state, its attempts and the
//!   history's filters.
//! - `error` (feature `store`): the engine's one error type.
//! - `clock`, `ids` (feature `store`): stored times; ids and signing secrets.
//! - `job` (feature `store`): the delivery vocabulary: a job, its outcome,
//!   and the step it leads to (retry schedule, `Retry-After`, giving up).
//! - `signing` (feature `store`): Standard Webhooks signatures.
//! - `seal` (feature `store`): secrets encrypted at rest (AES-256-GCM) and
//!   where the key comes from.
//! - `delivery` (feature `store`): claims due deliveries, sends them signed,
//!   records every attempt.
//! - `handle` (feature `store`): [`Engine`], the one handle the server and
//!   the console hold: accept events, test send, resend, retry, wake.
//! - `mass_post` (feature `store`): mass posts and the runner of
//!   background jobs.
//! - `records` (feature `store`): the events of record changes (contacts,
//!   settings items) accepted through the engine's fan-out.
//! - `upkeep` (feature `store`): folds report counts, purges deliveries
//!   past retention, marks retry-all runs.
//! - `testing` (feature `testing`): a recording HTTP receiver for tests.
//! - `store` (feature `store`): the database, one file per subject (see
//!   its Layout), on SQLite or PostgreSQL behind one interface.

pub mod catalog;
pub mod fields;
pub mod matching;
pub mod model;
pub mod render;
pub mod reports;
pub mod validate;

#[cfg(feature = "store")]
pub mod clock;
#[cfg(feature = "store")]
pub mod delivery;
#[cfg(feature = "store")]
pub mod error;
#[cfg(feature = "store")]
mod handle;
#[cfg(feature = "store")]
pub mod ids;
#[cfg(feature = "store")]
pub mod import;
#[cfg(feature = "store")]
pub mod job;
#[cfg(feature = "store")]
pub mod mass_post;
#[cfg(feature = "store")]
pub mod records;
#[cfg(feature = "store")]
pub mod seal;
#[cfg(feature = "store")]
pub mod signing;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "store")]
pub mod upkeep;

#[cfg(feature = "store")]
pub use error::{Error, Result};
#[cfg(feature = "store")]
pub use handle::{Engine, EngineConfig};
#[cfg(feature = "store")]
pub use store::Store;
