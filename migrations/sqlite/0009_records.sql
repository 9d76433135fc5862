-- CRM records built in (PRODUCT.md section 4): contacts with their statuses,
-- flags and assigned users, leads, to-dos, and the account's settings items
-- (sources, categories, custom categories, flags, statuses, users to
-- assign). Every change emits an event; the event waits in record_outbox,
-- written in the change's own transaction, until the engine has accepted
-- it, so a crash between the two loses nothing.

-- Settings items. Contacts name them by `name` (a status "Thank You Note",
-- a source "Website"); users to assign are items of kind 'user', with the
-- company they work for.
CREATE TABLE record_items (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL CHECK (kind IN ('source', 'category', 'custom_category', 'flag', 'status', 'user')),
    name       TEXT NOT NULL,
    company    TEXT,
    email      TEXT,
    active     BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX record_items_name_key ON record_items (account_id, kind, name);

-- Contacts. email is trimmed and lower-cased; email and external_id each
-- name at most one contact of an account (an import matches by them).
-- address and custom_fields are JSON objects; search is the lower-cased
-- text `q` looks in.
CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    address       TEXT NOT NULL,
    state         TEXT,
    source        TEXT,
    category      TEXT,
    external_id   TEXT,
    custom_fields TEXT NOT NULL,
    search        TEXT NOT NULL,
    -- Bumped by every change, so two changes at once never both apply
    -- to what they read.
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- The list: newest first (ids sort by creation time), page by page.
CREATE INDEX contacts_account ON contacts (account_id, id);
CREATE UNIQUE INDEX contacts_email_key ON contacts (account_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX contacts_external_id_key ON contacts (account_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX contacts_state ON contacts (account_id, state, id) WHERE state IS NOT NULL;
CREATE INDEX contacts_source ON contacts (account_id, source, id) WHERE source IS NOT NULL;

-- Statuses and flags on contacts, in the order they were added.
CREATE TABLE contact_labels (
    account_id TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('status', 'flag')),
    name       TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (contact_id, kind, name)
);
-- The list filtered by a status or flag, newest contact first.
CREATE INDEX contact_labels_filter ON contact_labels (account_id, kind, name, contact_id);

-- Users assigned to contacts (items of kind 'user').
CREATE TABLE contact_assignments (
    account_id  TEXT NOT NULL,
    contact_id  TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES record_items (id),
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (contact_id, user_id)
);
CREATE INDEX contact_assignments_filter ON contact_assignments (account_id, user_id, contact_id);

-- Leads: a call, chat, form or email about a contact. details is a JSON
-- object of whatever else the lead carried.
CREATE TABLE leads (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    contact_id     TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    type           TEXT NOT NULL CHECK (type IN ('call', 'chat', 'form', 'email')),
    contact_is_new BOOLEAN NOT NULL,
    source         TEXT,
    comments       TEXT NOT NULL,
    details        TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX leads_contact ON leads (contact_id, id);

-- To-dos on contacts.
CREATE TABLE todos (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    contact_id       TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    due_at           INTEGER,
    done             BOOLEAN NOT NULL,
    assigned_user_id TEXT REFERENCES record_items (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX todos_contact ON todos (contact_id, id);

-- Events of record changes not yet accepted by the engine (see above).
-- event is the NewEvent as JSON, its idempotency key the row's id.
CREATE TABLE record_outbox (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    event      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX record_outbox_created ON record_outbox (created_at);
