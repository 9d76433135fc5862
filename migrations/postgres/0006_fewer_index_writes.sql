-- Fewer index entries per delivery on the happy path (the delivery
-- engine's speed: every entry is written when a delivery is accepted and
-- again when its status changes).

-- A queued webhook's line holds only its queued deliveries; fast ones are
-- found through deliveries_webhook_due.
DROP INDEX deliveries_webhook_open;
CREATE INDEX deliveries_webhook_open ON deliveries (webhook_id, event_seq)
    WHERE status IN ('pending', 'retrying') AND queued;

-- History by status: the index holds the deliveries that have not
-- succeeded (pending, retrying, failed). One that succeeds at its first
-- attempt leaves it then instead of moving to the far end of the index;
-- succeeded deliveries, most of them, are never in it. History filtered by
-- "succeeded" walks the account's or the webhook's index instead, where
-- nearly every row matches. Queries repeat this condition word for word:
-- SQLite uses a partial index only then.
DROP INDEX deliveries_account_status_created;
CREATE INDEX deliveries_account_status_created ON deliveries (account_id, status, created_at, id)
    WHERE status IN ('pending', 'retrying', 'failed');

-- Nothing looks deliveries up by their event (the history joins the other
-- way, by the event's key), and events are never deleted, so the index
-- only cost a write per delivery.
DROP INDEX deliveries_event;
