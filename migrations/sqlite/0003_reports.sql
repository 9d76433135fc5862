-- Reports (the reports issue): the webhooks report, delivery history,
-- retry-all runs and retention.

-- History filters by event type and by record without joining events, each
-- with an index that walks newest first, so a page of a filtered history is
-- a short index range at any volume. record_id/record_label come from the
-- event's data (its id, and a name or title) when the delivery is created.
ALTER TABLE deliveries ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN record_id TEXT;
ALTER TABLE deliveries ADD COLUMN record_label TEXT;
-- The retry-all run that last made this delivery due again, so the run's
-- progress is a count of its deliveries by status.
ALTER TABLE deliveries ADD COLUMN retry_run TEXT;

UPDATE deliveries SET
    event_type = (SELECT type FROM events WHERE events.seq = deliveries.event_seq),
    record_id = (SELECT CAST(json_extract(data, '$.id') AS TEXT) FROM events WHERE events.seq = deliveries.event_seq);

DROP INDEX deliveries_account_created;
CREATE INDEX deliveries_account_created ON deliveries (account_id, created_at, id);
CREATE INDEX deliveries_webhook_created ON deliveries (webhook_id, created_at, id);
CREATE INDEX deliveries_account_status_created ON deliveries (account_id, status, created_at, id);
CREATE INDEX deliveries_account_type_created ON deliveries (account_id, event_type, created_at, id);
CREATE INDEX deliveries_account_record_created ON deliveries (account_id, record_id, created_at, id);
CREATE INDEX deliveries_retry_run ON deliveries (retry_run, status) WHERE retry_run IS NOT NULL;

-- Delivery counts per webhook, hour (of the delivery's creation) and
-- status, so the webhooks report and its chart read a few thousand rows
-- instead of every delivery. Triggers add +1/-1 as deliveries are created
-- and change status. SQLite has one writer at a time, so the triggers
-- update one row per key in place (PostgreSQL appends instead).
CREATE TABLE delivery_counts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    hour       INTEGER NOT NULL,
    status     TEXT NOT NULL,
    n          INTEGER NOT NULL
);
CREATE UNIQUE INDEX delivery_counts_key ON delivery_counts (account_id, webhook_id, hour, status);
CREATE INDEX delivery_counts_account_hour ON delivery_counts (account_id, hour);

INSERT INTO delivery_counts (account_id, webhook_id, hour, status, n)
    SELECT account_id, webhook_id, created_at - created_at % 3600000, status, COUNT(*)
    FROM deliveries GROUP BY account_id, webhook_id, created_at - created_at % 3600000, status;

CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
BEGIN
    INSERT INTO delivery_counts (account_id, webhook_id, hour, status, n)
    VALUES (NEW.account_id, NEW.webhook_id, NEW.created_at - NEW.created_at % 3600000, NEW.status, 1)
    ON CONFLICT (account_id, webhook_id, hour, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deliveries_count_status AFTER UPDATE OF status ON deliveries
WHEN OLD.status <> NEW.status
BEGIN
    INSERT INTO delivery_counts (account_id, webhook_id, hour, status, n)
    VALUES (OLD.account_id, OLD.webhook_id, OLD.created_at - OLD.created_at % 3600000, OLD.status, -1)
    ON CONFLICT (account_id, webhook_id, hour, status) DO UPDATE SET n = n - 1;
    INSERT INTO delivery_counts (account_id, webhook_id, hour, status, n)
    VALUES (NEW.account_id, NEW.webhook_id, NEW.created_at - NEW.created_at % 3600000, NEW.status, 1)
    ON CONFLICT (account_id, webhook_id, hour, status) DO UPDATE SET n = n + 1;
END;

-- "Retry all failed" for a webhook and a date range. The run marks its
-- deliveries in small batches (marked counts them; done when all are
-- marked); its progress is counted from the deliveries themselves.
CREATE TABLE retry_runs (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    range_from INTEGER NOT NULL,
    range_to   INTEGER NOT NULL,
    marked     INTEGER NOT NULL DEFAULT 0,
    marking_done BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX retry_runs_account_created ON retry_runs (account_id, created_at);
