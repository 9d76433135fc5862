//! The engine's integration tests, in one binary. Store tests run on SQLite
//! and, when `POSTBACK_TEST_POSTGRES_URL` names a server (CI always gives
//! one), on PostgreSQL too; each test gets a fresh database.

mod conformance;
mod delivery;
mod support;
