-- The event log in commit-safe order (PostgreSQL only; SQLite has one
-- writer at a time, so its seq order is its commit order).
--
-- Sequence numbers are taken when a transaction inserts, not when it
-- commits: a reader paging by seq could pass seq 10 while the transaction
-- holding it is still open, and never see it. So the log is read in the
-- order of the inserting transaction's id, and only up to the oldest
-- transaction still running (pg_snapshot_xmin): every event it returns is
-- final, and every event that commits later sorts after the cursor.
ALTER TABLE events ADD COLUMN tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX events_account_tx_seq ON events (account_id, tx, seq);
CREATE INDEX events_account_type_tx_seq ON events (account_id, type, tx, seq);
