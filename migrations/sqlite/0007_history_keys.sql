-- The history's indexes end at created_at: deliveries of the same
-- millisecond are kept in order by the rowid every index entry carries
-- anyway, so the 24-character id no longer goes into each entry (a third
-- of an entry; every one is written when a delivery is accepted).
-- PostgreSQL, which has no rowid, keeps id in its keys.
DROP INDEX deliveries_account_created;
CREATE INDEX deliveries_account_created ON deliveries (account_id, created_at);
DROP INDEX deliveries_webhook_created;
CREATE INDEX deliveries_webhook_created ON deliveries (webhook_id, created_at);
DROP INDEX deliveries_account_status_created;
CREATE INDEX deliveries_account_status_created ON deliveries (account_id, status, created_at)
    WHERE status IN ('pending', 'retrying', 'failed');
DROP INDEX deliveries_account_type_created;
CREATE INDEX deliveries_account_type_created ON deliveries (account_id, event_type, created_at);
DROP INDEX deliveries_account_record_created;
CREATE INDEX deliveries_account_record_created ON deliveries (account_id, record_id, created_at);
