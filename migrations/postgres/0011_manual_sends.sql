-- Sends a user made by hand ("execute webhook" on a contact): stored like a
-- test send, out of the event log, but shown as manual in the history.
ALTER TABLE events ADD COLUMN manual BOOLEAN NOT NULL DEFAULT FALSE;
