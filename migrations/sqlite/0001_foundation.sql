-- The foundation: accounts, console users, their sessions, and webhooks.
-- Times are unix milliseconds (INTEGER) so SQLite and PostgreSQL store and
-- compare them the same way; structured webhook parts are JSON text.

-- A tenant (a company, e.g. a dealer). external_ref is the receiver's id
-- for it (e.g. its DealerID), carried in every payload.
CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    external_ref TEXT,
    created_at   INTEGER NOT NULL
);
-- `postback user add --account NAME` and start-up look accounts up by name.
CREATE UNIQUE INDEX accounts_name_key ON accounts (name);

-- Console users. email is stored trimmed and lower-cased, so the unique
-- index is what makes "one login per address" true.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'support')),
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- tower-sessions records: the session id, its serialized data and expiry.
-- The expiry index lets the background purge delete old sessions cheaply.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Webhooks, every field of PRODUCT.md section 2. auth holds secrets and is
-- only ever shown masked. Deleting sets deleted_at so delivery history keeps
-- its webhook; the title is unique among the webhooks not deleted.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    title           TEXT NOT NULL,
    url             TEXT NOT NULL,
    port            INTEGER,
    method          TEXT NOT NULL,
    format          TEXT NOT NULL,
    auth            TEXT NOT NULL,
    headers         TEXT NOT NULL,
    triggers        TEXT NOT NULL,
    mapping         TEXT NOT NULL,
    execution_mode  TEXT NOT NULL,
    delivery_mode   TEXT NOT NULL,
    retry           TEXT NOT NULL,
    timeout_ms      INTEGER NOT NULL,
    active          BOOLEAN NOT NULL,
    disabled_reason TEXT,
    signing_secret  TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER
);
CREATE UNIQUE INDEX webhooks_title_key ON webhooks (account_id, title) WHERE deleted_at IS NULL;
-- The console's list: one account's live webhooks, newest first.
CREATE INDEX webhooks_account_created ON webhooks (account_id, created_at) WHERE deleted_at IS NULL;
