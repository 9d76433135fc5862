-- Background jobs an admin starts (mass posts; imports and replays later):
-- where each stopped, so a restart resumes it, and who holds it now, so two
-- processes never run one job at once. A job's deliveries name it, for its
-- succeeded and failed counts and the history of the run.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    webhook_id    TEXT,
    params        TEXT NOT NULL,
    position      TEXT,
    total         BIGINT NOT NULL,
    done          BIGINT NOT NULL DEFAULT 0,
    claimed_by    TEXT,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    created_by    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    finished_at   BIGINT
);
CREATE INDEX jobs_running ON jobs (claimed_until) WHERE state = 'running';
CREATE INDEX jobs_account ON jobs (account_id, created_at);

-- What a job could not do, by the line (or position) it concerns.
CREATE TABLE job_errors (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    line   BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);

ALTER TABLE deliveries ADD COLUMN job_id TEXT;
CREATE INDEX deliveries_job ON deliveries (job_id, status) WHERE job_id IS NOT NULL;
