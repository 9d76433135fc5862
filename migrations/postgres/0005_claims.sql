-- Claims go webhook by webhook (the delivery engine's speed). A webhook at
-- its in-flight limit is skipped before any of its deliveries is read, and
-- a queued webhook costs one probe for the head of its line, so a claim
-- never walks a backlog it cannot take. The global due index served the
-- old claim only.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, next_attempt_at)
    WHERE status IN ('pending', 'retrying') AND NOT queued;
