-- Events in, deliveries out (the delivery engine issue).

-- API keys for /api/v1. Only a SHA-256 of the key is kept: keys are long
-- random strings, so a fast hash is enough and lookups stay one index probe.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);

-- Every accepted event, in order: seq is the event log's cursor. The 202
-- answer is kept so a repeated idempotency key gets the first answer back.
CREATE TABLE events (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    type            TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    actor           TEXT,
    data            TEXT NOT NULL,
    idempotency_key TEXT,
    response        TEXT,
    -- A test send's sample event: delivered and recorded, but not in the log.
    is_test         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_id_key ON events (id);
CREATE UNIQUE INDEX events_idempotency_key ON events (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The event log read by one account, optionally by type, after a cursor.
CREATE INDEX events_account_seq ON events (account_id, seq);
CREATE INDEX events_account_type_seq ON events (account_id, type, seq);

-- One delivery per (event, webhook) that the event fires. status is pending
-- until the first attempt, then retrying, succeeded or failed (given up).
CREATE TABLE deliveries (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    webhook_id           TEXT NOT NULL REFERENCES webhooks (id),
    event_seq            BIGINT NOT NULL REFERENCES events (seq),
    -- Copied from the webhook's delivery mode at fan-out: queued deliveries
    -- of a webhook go one at a time, in event order.
    queued               BOOLEAN NOT NULL DEFAULT FALSE,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'retrying', 'succeeded', 'failed')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      BIGINT,
    last_response_status INTEGER,
    last_error           TEXT,
    -- A worker that took the delivery owns it until then; after a crash
    -- another picks it up once the lease has passed.
    claimed_until        BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
-- The work still to do, by when it is due.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_event ON deliveries (event_seq);
-- A queued delivery waits while an earlier one of its webhook is open.
CREATE INDEX deliveries_webhook_open ON deliveries (webhook_id, event_seq)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_account_created ON deliveries (account_id, created_at);

-- Every attempt, as PRODUCT.md section 5 lists: the request as sent (secrets
-- redacted), the response (body truncated) or the transport error in words.
CREATE TABLE attempts (
    id               BIGSERIAL PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id),
    attempt          INTEGER NOT NULL,
    at               BIGINT NOT NULL,
    duration_ms      INTEGER NOT NULL,
    request          TEXT NOT NULL,
    response_status  INTEGER,
    response_headers TEXT,
    response_body    TEXT,
    error            TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);

-- Webhook health, for turning off a webhook whose deliveries keep failing:
-- when the current run of failed attempts began, and how many deliveries in
-- a row were given up. A success resets both.
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
ALTER TABLE webhooks ADD COLUMN given_up_in_a_row INTEGER NOT NULL DEFAULT 0;

-- Secret rotation: the secret before the last rotation keeps signing (beside
-- the new one) until previous_secret_until, so receivers can switch over.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until BIGINT;
