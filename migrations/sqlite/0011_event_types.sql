-- Event types an account's host programs sent that are not built in: they
-- join that account's catalog and the trigger picker. The first event's
-- data is kept as the type's sample, for the field picker and the preview.
CREATE TABLE event_types (
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    event_type    TEXT NOT NULL,
    sample        TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_type)
);
