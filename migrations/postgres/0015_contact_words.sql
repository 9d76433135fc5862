-- The contacts list's search `q` finds a contact by the start of any of its
-- words (names, email, email domain, phone digits, external id). Each word
-- is a row here, so a search reads a range of this index instead of every
-- contact. contacts.search holds the same words, space-separated with a
-- space before each, for the searches that walk the newest contacts.
--
-- Contacts written before this migration get their words when the store
-- opens next: it indexes every contact whose search is empty.
CREATE TABLE contact_words (
    account_id TEXT NOT NULL,
    -- Compared byte by byte, as the prefix ranges are made.
    word       TEXT COLLATE "C" NOT NULL,
    contact_id TEXT NOT NULL,
    PRIMARY KEY (account_id, word, contact_id)
);

UPDATE contacts SET search = '';
CREATE INDEX contacts_unindexed ON contacts (account_id) WHERE search = '';
