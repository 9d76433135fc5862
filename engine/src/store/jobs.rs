//! Background jobs: a mass post's row, where it stopped and who runs it.
//! Each batch writes its events, its deliveries and the job's new position
//! in one transaction, so a job a restart interrupted resumes exactly after
//! the last record it posted, and a cancelled job posts nothing more. A
//! process holds a job for a lease it renews with every batch; when the
//! lease runs out (the process stopped), another takes the job over.

use serde::{Deserialize, Serialize};

use super::db::WriteTx;
use super::{Error, Result, Store, found};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::model::jobs::MAX_SELECTED;
use crate::model::{
    Actor, ContactFilter, DeliveryMode, DeliveryStatus, Event, JobError, JobKind, JobState,
    JobView, MassPostInput,
};
use crate::reports::RecordRef;

/// How long a process holds a job between batches before another may take
/// it over.
pub const JOB_LEASE_MS: i64 = 30_000;

/// What a mass post was asked to send, as stored with the job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MassPostParams {
    #[serde(default)]
    pub filter: Option<ContactFilter>,
    #[serde(default)]
    pub contact_ids: Option<Vec<String>>,
    /// Who started it: the events it sends name them.
    #[serde(default)]
    pub actor: Option<Actor>,
}

/// What a job was asked to do, by its kind.
#[derive(Clone, Debug)]
pub enum JobParams {
    MassPost(MassPostParams),
    Import(super::imports::ImportParams),
}

impl JobParams {
    pub(super) fn parse(kind: JobKind, json: &str) -> serde_json::Result<Self> {
        Ok(match kind {
            JobKind::MassPost => JobParams::MassPost(serde_json::from_str(json)?),
            JobKind::Import => JobParams::Import(serde_json::from_str(json)?),
        })
    }
}

/// A job this process holds, to run its next batch.
#[derive(Clone, Debug)]
pub struct HeldJob {
    pub id: String,
    pub account_id: String,
    pub kind: JobKind,
    pub webhook_id: Option<String>,
    pub params: JobParams,
    /// Where the last batch stopped: the last contact id posted (a
    /// filter), or how many ids were handled (a list); `None` at the start.
    pub position: Option<String>,
}

/// One record a batch posts: its event and the record it is about.
pub struct Posted {
    pub event: Event,
    pub about: RecordRef,
}

/// What one batch did, written at once.
pub struct Batch {
    pub posted: Vec<Posted>,
    pub errors: Vec<JobError>,
    /// Where the next batch starts.
    pub position: Option<String>,
    /// Nothing is left after this batch.
    pub last: bool,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    state: String,
    webhook_id: Option<String>,
    total: i64,
    done: i64,
    created_at: i64,
    finished_at: Option<i64>,
    params: String,
}

/// A running job as found waiting: id, account, kind, webhook, params,
/// position, and the lease it is held until.
type Waiting = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
);

const JOB_COLUMNS: &str =
    "id, kind, state, webhook_id, total, done, created_at, finished_at, params";

impl Store {
    /// Starts a mass post: checks the webhook (it must be on) and which
    /// contacts go, counts them, and stores the job, running. The engine's
    /// job runner posts them.
    pub async fn create_mass_post(
        &self,
        account_id: &str,
        input: &MassPostInput,
        actor: Option<Actor>,
    ) -> Result<JobView> {
        self.webhook_to_post(account_id, &input.webhook_id).await?;
        let total = match (&input.filter, &input.contact_ids) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::field(
                    "contact_ids",
                    "choose_contacts",
                    "Give either a filter (every contact it matches) or contact_ids (these contacts), not both.",
                ));
            }
            (Some(filter), None) => self.count_contacts(account_id, filter).await?,
            (None, Some(ids)) if ids.len() > MAX_SELECTED => {
                return Err(Error::field(
                    "contact_ids",
                    "too_many",
                    format!(
                        "At most {MAX_SELECTED} contacts can be selected; post the list by a filter instead."
                    ),
                ));
            }
            (None, Some(ids)) => ids.len() as i64,
        };
        if total == 0 {
            let field = if input.filter.is_some() {
                "filter"
            } else {
                "contact_ids"
            };
            return Err(Error::field(
                field,
                "no_contacts",
                "No contact matches; there is nothing to post.",
            ));
        }
        let params = MassPostParams {
            filter: input.filter.clone(),
            contact_ids: input.contact_ids.clone(),
            actor: actor.clone(),
        };
        let id = new_id("job");
        let now = now_ms();
        on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO jobs (id, account_id, kind, state, webhook_id, params, total, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $8)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(JobKind::MassPost.as_str())
        .bind(&input.webhook_id)
        .bind(serde_json::to_string(&params).unwrap_or_default())
        .bind(total)
        .bind(actor.as_ref().map(|a| a.id.as_str()))
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        self.job(account_id, &id).await
    }

    /// The webhook a job will post through: one of the account's, on.
    pub(super) async fn webhook_to_post(&self, account_id: &str, id: &str) -> Result<()> {
        let webhook = self.chosen_webhook(account_id, id).await?;
        if !webhook.input.active {
            return Err(Error::field(
                "webhook_id",
                "webhook_off",
                "This webhook is turned off; turn it on before posting through it.",
            ));
        }
        Ok(())
    }

    /// Up to `limit` of a job's errors after line `after`, by line: for
    /// the errors' download.
    pub async fn job_errors(
        &self,
        account_id: &str,
        id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<JobError>> {
        let rows: Vec<(i64, String)> = on_reader!(&self.db, pool => sqlx::query_as(
            "SELECT e.line, e.reason FROM job_errors e JOIN jobs j ON j.id = e.job_id \
             WHERE j.account_id = $1 AND e.job_id = $2 AND e.line > $3 ORDER BY e.line LIMIT $4",
        )
        .bind(account_id)
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(line, reason)| JobError { line, reason })
            .collect())
    }

    /// A job with its delivery counts and first errors.
    pub async fn job(&self, account_id: &str, id: &str) -> Result<JobView> {
        let row =
            on_reader!(&self.db, pool => sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND id = $2"
        )))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
            .ok_or(Error::NotFound)?;
        let counts: Vec<(String, i64)> = on_reader!(&self.db, pool => sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries WHERE job_id = $1 GROUP BY status",
        )
        .bind(id)
        .fetch_all(pool)
        .await)?;
        let errors: Vec<(i64, String)> = on_reader!(&self.db, pool => sqlx::query_as(
            "SELECT line, reason FROM job_errors WHERE job_id = $1 ORDER BY line LIMIT $2",
        )
        .bind(id)
        .bind(JobView::MAX_ERRORS)
        .fetch_all(pool)
        .await)?;
        let error_count: i64 = on_reader!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM job_errors WHERE job_id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await)?;
        let count = |wanted: &[DeliveryStatus]| -> i64 {
            counts
                .iter()
                .filter(|(s, _)| DeliveryStatus::parse(s).is_some_and(|s| wanted.contains(&s)))
                .map(|(_, n)| n)
                .sum()
        };
        let kind = JobKind::parse(&row.kind)
            .ok_or_else(|| Error::Corrupt(format!("job kind {}", row.kind)))?;
        let file_name = match JobParams::parse(kind, &row.params) {
            Ok(JobParams::Import(params)) => params.file_name,
            _ => None,
        };
        Ok(JobView {
            kind,
            file_name,
            state: JobState::parse(&row.state)
                .ok_or_else(|| Error::Corrupt(format!("job state {}", row.state)))?,
            id: row.id,
            webhook_id: row.webhook_id,
            total: row.total,
            done: row.done,
            succeeded: count(&[DeliveryStatus::Succeeded]),
            failed: count(&[DeliveryStatus::Failed]),
            pending: count(&[DeliveryStatus::Pending, DeliveryStatus::Retrying]),
            errors: errors
                .into_iter()
                .map(|(line, reason)| JobError { line, reason })
                .collect(),
            error_count,
            created_at: from_ms(row.created_at),
            finished_at: row.finished_at.map(from_ms),
        })
    }

    /// Stops a running job (or drops a draft): it posts nothing after the
    /// batch in progress. Deliveries it made already go on. A finished job
    /// stays as it is.
    pub async fn cancel_job(&self, account_id: &str, id: &str) -> Result<JobView> {
        let now = now_ms();
        on_writer!(&self.db, pool => sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $3, updated_at = $3, claimed_until = 0 \
             WHERE account_id = $1 AND id = $2 AND state IN ('running', 'draft')",
        )
        .bind(account_id)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        self.job(account_id, id).await
    }

    /// Takes a running job nobody holds (none yet, or its holder's lease
    /// ran out), or one this process holds already, for [`JOB_LEASE_MS`].
    pub async fn hold_next_job(&self) -> Result<Option<HeldJob>> {
        let now = now_ms();
        let rows: Vec<Waiting> = on_reader!(&self.db, pool => sqlx::query_as::<_, Waiting>(
                "SELECT id, account_id, kind, webhook_id, params, position, claimed_until FROM jobs \
                 WHERE state = 'running' AND (claimed_until < $1 OR claimed_by = $2) \
                 ORDER BY created_at LIMIT 10",
            )
            .bind(now)
            .bind(self.worker.as_ref())
            .fetch_all(pool)
            .await)?;
        for (id, account_id, kind, webhook_id, params, position, held_until) in rows {
            // Another process may take the same job at the same moment: the
            // lease it found must still be there.
            let taken = on_writer!(&self.db, pool => sqlx::query(
                "UPDATE jobs SET claimed_by = $2, claimed_until = $3 \
                 WHERE id = $1 AND state = 'running' AND claimed_until = $4",
            )
            .bind(&id)
            .bind(self.worker.as_ref())
            .bind(now + JOB_LEASE_MS)
            .bind(held_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
            if taken == 0 {
                continue;
            }
            let Some(kind) = JobKind::parse(&kind) else {
                self.fail_job(&id, &format!("Unknown kind of job {kind}"))
                    .await?;
                continue;
            };
            return Ok(Some(HeldJob {
                params: JobParams::parse(kind, &params)
                    .map_err(|e| Error::Corrupt(format!("job {id} params: {e}")))?,
                id,
                account_id,
                kind,
                webhook_id,
                position,
            }));
        }
        Ok(None)
    }

    /// Ends a job that cannot go on, saying why (as its error at line 0).
    pub async fn fail_job(&self, id: &str, reason: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        in_tx!(&mut tx, t => sqlx::query(
            "UPDATE jobs SET state = 'failed', finished_at = $2, updated_at = $2, claimed_until = 0 \
             WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        insert_errors(
            &mut tx,
            id,
            &[JobError {
                line: 0,
                reason: reason.to_string(),
            }],
        )
        .await?;
        tx.commit().await
    }

    /// Writes one batch of a mass post held by this process: its events
    /// (kept out of the event log, shown as manual sends), one delivery of
    /// each to the job's webhook, due now, its errors, and the job's new
    /// position; the job is done after its last batch. Returns false, and
    /// writes nothing, when the job was cancelled or another process holds
    /// it now.
    pub async fn write_mass_post_batch(
        &self,
        job: &HeldJob,
        mode: DeliveryMode,
        batch: &Batch,
    ) -> Result<bool> {
        let now = now_ms();
        let handled = (batch.posted.len() + batch.errors.len()) as i64;
        let mut tx = self.begin_write().await?;
        if !self
            .advance_job(
                &mut tx,
                job,
                batch.position.as_deref(),
                handled,
                batch.last,
                now,
            )
            .await?
        {
            return Ok(false);
        }
        let webhook_id = job.webhook_id.as_deref().unwrap_or_default();
        for chunk in batch.posted.chunks(500) {
            insert_posted(&mut tx, job, webhook_id, mode, chunk, now).await?;
        }
        insert_errors(&mut tx, &job.id, &batch.errors).await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// Moves a held job on by a batch in `tx`: its new position, `handled`
    /// records more, done after its `last` batch, and the lease renewed.
    /// False when the job was cancelled or another process holds it now:
    /// the batch must then write nothing.
    pub(super) async fn advance_job(
        &self,
        tx: &mut WriteTx,
        job: &HeldJob,
        position: Option<&str>,
        handled: i64,
        last: bool,
        now: i64,
    ) -> Result<bool> {
        let moved = in_tx!(tx, t => sqlx::query(
            "UPDATE jobs SET position = $3, done = done + $4, updated_at = $5, claimed_until = $6, \
             state = CASE WHEN $7 THEN 'done' ELSE state END, \
             total = CASE WHEN $7 THEN done + $4 ELSE total END, \
             finished_at = CASE WHEN $7 THEN $5 ELSE finished_at END \
             WHERE id = $1 AND claimed_by = $2 AND state = 'running'",
        )
        .bind(&job.id)
        .bind(self.worker.as_ref())
        .bind(position)
        .bind(handled)
        .bind(now)
        .bind(now + JOB_LEASE_MS)
        .bind(last)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(found(moved).is_ok())
    }
}

/// A batch's events and their deliveries, due now.
pub(super) async fn insert_posted(
    tx: &mut WriteTx,
    job: &HeldJob,
    webhook_id: &str,
    mode: DeliveryMode,
    posted: &[Posted],
    now: i64,
) -> Result<()> {
    let seqs: Vec<(String, i64)> = in_tx!(tx, t => {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO events (id, account_id, type, occurred_at, actor, data, is_test, manual, created_at) ",
        );
        q.push_values(posted, |mut row, p| {
            let e = &p.event;
            row.push_bind(&e.id)
                .push_bind(&job.account_id)
                .push_bind(&e.event_type)
                .push_bind(e.occurred_at.timestamp_millis())
                .push_bind(e.actor.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()))
                .push_bind(e.data.to_string())
                .push_unseparated(", TRUE, TRUE, ")
                .push_bind_unseparated(now);
        });
        q.push(" RETURNING id, seq");
        q.build_query_as().fetch_all(&mut **t).await
    })?;
    let seq_of: std::collections::HashMap<String, i64> = seqs.into_iter().collect();
    let queued = mode == DeliveryMode::Queued;
    in_tx!(tx, t => {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO deliveries (id, account_id, webhook_id, event_seq, queued, status, attempts, \
             next_attempt_at, claimed_until, created_at, updated_at, event_type, record_id, record_label, job_id) ",
        );
        q.push_values(posted, |mut row, p| {
            row.push_bind(new_id("dlv"))
                .push_bind(&job.account_id)
                .push_bind(webhook_id)
                .push_bind(seq_of.get(&p.event.id).copied().unwrap_or_default())
                .push_bind(queued)
                .push_unseparated(", 'pending', 0, ")
                .push_bind_unseparated(now)
                .push_bind(0_i64)
                .push_bind(now)
                .push_bind(now)
                .push_bind(&p.event.event_type)
                .push_bind(&p.about.id)
                .push_bind(&p.about.label)
                .push_bind(&job.id);
        });
        q.build().execute(&mut **t).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub(super) async fn insert_errors(
    tx: &mut WriteTx,
    job_id: &str,
    errors: &[JobError],
) -> Result<()> {
    for chunk in errors.chunks(500) {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO job_errors (job_id, line, reason) ");
            q.push_values(chunk, |mut row, e| {
                row.push_bind(job_id).push_bind(e.line).push_bind(&e.reason);
            });
            q.push(" ON CONFLICT (job_id, line) DO NOTHING");
            q.build().execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
