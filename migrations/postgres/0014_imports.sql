-- A data source import's rows, as uploaded: each good row of the CSV with
-- its line, its fields as a JSON array of text. The import job reads them a
-- batch at a time and deletes each batch in the transaction that imports
-- it, so a restart resumes after the last batch imported.
CREATE TABLE import_rows (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    line   BIGINT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);
