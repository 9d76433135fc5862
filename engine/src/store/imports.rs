//! Data source imports: a contacts CSV read as it is uploaded (each good
//! row stored with its line, each bad one reported by line), then imported
//! by the job runner a batch at a time. A batch creates or updates its
//! contacts (matched by external id or email), writes their
//! `contact.created` / `contact.updated` events, optionally a delivery of
//! each through a chosen webhook, its errors and the job's new position,
//! in one transaction, and deletes the rows it imported.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::contacts::{
    Read, contact_event, insert_contacts, new_contact, to_json, with_input, write_contact,
};
use super::jobs::{HeldJob, Posted, insert_errors, insert_posted};
use super::turn::Incoming;
use super::{Error, Result, Store};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::model::imports::{ColumnTarget, ContactField, apply_row, row_value};
use crate::model::records::changes;
use crate::model::{
    Account, Actor, ChangedBy, Contact, ContactInput, DeliveryMode, ItemKind, JobError, JobKind,
    JobView, NewEvent, Via,
};
use crate::validate::records::clean_contact;

/// Most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 1_000_000;

/// Rows one batch imports.
pub const IMPORT_BATCH: usize = 500;

/// What an import was asked to do, as stored with its job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportParams {
    pub headers: Vec<String>,
    /// Where each column goes, in the columns' order.
    pub targets: Vec<ColumnTarget>,
    #[serde(default)]
    pub file_name: Option<String>,
    /// Who started it: its events name them.
    #[serde(default)]
    pub actor: Option<Actor>,
}

/// An import as asked: where columns go (by header; columns not named are
/// guessed from their header), and the webhook to post each imported
/// contact through, if any.
#[derive(Clone, Debug, Default)]
pub struct ImportInput {
    pub file_name: Option<String>,
    pub mapping: BTreeMap<String, ColumnTarget>,
    pub webhook_id: Option<String>,
}

/// How an import posts each contact it imported: the webhook's delivery
/// mode, and the contact's event for it.
pub type PostThrough<'a> = (DeliveryMode, &'a (dyn Fn(&Contact) -> Posted + Sync));

/// One data row of a CSV: its line (from 1, the header's is 1) and fields.
pub type CsvRow = (i64, Vec<String>);

/// A CSV's rows, read one at a time: UTF-8 with or without a byte order
/// mark, fields quoted as RFC 4180 has them (commas, quotes and line
/// breaks inside). A row that is not UTF-8 or has another number of
/// fields than the header is an error on its line; blank lines are
/// skipped.
pub struct CsvRows<'a> {
    reader: csv::Reader<&'a [u8]>,
    pub headers: Vec<String>,
    record: csv::ByteRecord,
    bytes: &'a [u8],
    /// A byte offset and its line, to count lines on from.
    counted: (usize, i64),
}

/// A problem with the file as a whole, as the `file` field's error.
fn file_error(code: &str, message: impl Into<String>) -> Error {
    Error::field("file", code, message)
}

impl<'a> CsvRows<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Self> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut header = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut header)
            .map_err(|e| file_error("unreadable", format!("The file is not CSV: {e}.")))?;
        if !read || header.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            return Err(file_error(
                "empty",
                "The file is empty: its first line must name the columns.",
            ));
        }
        let headers = header
            .iter()
            .enumerate()
            .map(|(n, h)| match std::str::from_utf8(h) {
                Ok(h) if !h.trim().is_empty() => Ok(h.trim().to_string()),
                Ok(_) => Ok(format!("Column {}", n + 1)),
                Err(_) => Err(file_error(
                    "not_utf8",
                    "The first line is not UTF-8 text: save the file as CSV UTF-8 and upload it again.",
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CsvRows {
            reader,
            headers,
            record: csv::ByteRecord::new(),
            bytes,
            counted: (0, 1),
        })
    }

    /// The line (from 1) a byte offset is on, as an editor counts them:
    /// line breaks inside quoted fields and blank lines count too.
    fn line_at(&mut self, byte: u64) -> i64 {
        let mut byte = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        // A record's position can be the line break before it.
        while matches!(self.bytes.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        let (from, line) = self.counted;
        if byte < from {
            return line;
        }
        let breaks = self.bytes[from..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as i64;
        self.counted = (byte, line + breaks);
        line + breaks
    }

    /// The next row, or the error on its line; `None` at the end.
    pub fn next_row(&mut self) -> Option<std::result::Result<CsvRow, JobError>> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    let byte = e.position().map(|p| p.byte()).unwrap_or(0);
                    let line = self.line_at(byte);
                    return Some(Err(JobError {
                        line,
                        reason: format!("The file cannot be read from here on: {e}."),
                    }));
                }
                Ok(true) => {}
            }
            let byte = self.record.position().map(|p| p.byte()).unwrap_or(0);
            let line = self.line_at(byte);
            if self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            let width = self.headers.len();
            if self.record.len() != width {
                return Some(Err(JobError {
                    line,
                    reason: format!(
                        "This row has {} fields; the header has {width}.",
                        self.record.len()
                    ),
                }));
            }
            let fields: std::result::Result<Vec<String>, _> = self
                .record
                .iter()
                .map(|f| std::str::from_utf8(f).map(str::to_string))
                .collect();
            return Some(match fields {
                Ok(fields) => Ok((line, fields)),
                Err(_) => Err(JobError {
                    line,
                    reason: "This row is not UTF-8 text (was the file saved in another encoding?)."
                        .into(),
                }),
            });
        }
    }
}

/// Where each column goes: the mapping's choice, or a guess from the
/// header. A mapping naming no column of the file, or leaving no column
/// for a name, email or phone, is refused.
pub fn targets_for(
    headers: &[String],
    mapping: &BTreeMap<String, ColumnTarget>,
) -> Result<Vec<ColumnTarget>> {
    if let Some(unknown) = mapping.keys().find(|k| !headers.contains(k)) {
        return Err(Error::field(
            "mapping",
            "unknown_column",
            format!(
                "The file has no column \"{unknown}\"; its columns are: {}.",
                headers.join(", ")
            ),
        ));
    }
    let targets: Vec<ColumnTarget> = headers
        .iter()
        .map(|h| {
            mapping
                .get(h)
                .cloned()
                .unwrap_or_else(|| ColumnTarget::guess(h))
        })
        .collect();
    if !targets.iter().any(ColumnTarget::names_a_contact) {
        return Err(Error::field(
            "mapping",
            "no_name",
            "Map at least one column to a first name, last name, email or phone.",
        ));
    }
    Ok(targets)
}

impl Store {
    /// Reads an uploaded CSV into a new import job: checks the mapping and
    /// the webhook, stores each good row and reports each bad one by line.
    /// The job starts running once the whole file is read, or, as a
    /// `draft`, waits for its mapping ([`Store::start_draft_import`]); an
    /// upload that stops half-way leaves a failed job, never half an
    /// import.
    pub async fn create_import(
        &self,
        account_id: &str,
        input: &ImportInput,
        csv: &[u8],
        actor: Option<Actor>,
        draft: bool,
    ) -> Result<JobView> {
        let mut rows = CsvRows::open(csv)?;
        let targets = if draft {
            rows.headers
                .iter()
                .map(|h| ColumnTarget::guess(h))
                .collect()
        } else {
            targets_for(&rows.headers, &input.mapping)?
        };
        if let Some(webhook_id) = &input.webhook_id {
            self.webhook_to_post(account_id, webhook_id).await?;
        }
        let params = ImportParams {
            headers: rows.headers.clone(),
            targets,
            file_name: input.file_name.clone(),
            actor: actor.clone(),
        };
        let id = new_id("job");
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        in_tx!(&mut tx, t => sqlx::query(
            "INSERT INTO jobs (id, account_id, kind, state, webhook_id, params, total, created_by, created_at, updated_at, finished_at) \
             VALUES ($1, $2, $3, 'failed', $4, $5, 0, $6, $7, $7, $7)",
        )
        .bind(&id)
        .bind(account_id)
        .bind(JobKind::Import.as_str())
        .bind(&input.webhook_id)
        .bind(serde_json::to_string(&params).unwrap_or_default())
        .bind(actor.as_ref().map(|a| a.id.as_str()))
        .bind(now)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        insert_errors(
            &mut tx,
            &id,
            &[JobError {
                line: 0,
                reason: "The upload stopped before the whole file was read; upload it again."
                    .into(),
            }],
        )
        .await?;
        tx.commit().await?;

        let (mut good, mut bad) = (0_usize, 0_usize);
        let mut chunk: Vec<CsvRow> = Vec::new();
        let mut errors: Vec<JobError> = Vec::new();
        loop {
            let next = rows.next_row();
            let end = next.is_none();
            match next {
                Some(Ok(row)) => chunk.push(row),
                Some(Err(error)) => errors.push(error),
                None => {}
            }
            if good + bad + chunk.len() + errors.len() > MAX_IMPORT_ROWS {
                return Err(file_error(
                    "too_many_rows",
                    format!("A file can hold at most {MAX_IMPORT_ROWS} rows; split it."),
                ));
            }
            if end || chunk.len() + errors.len() >= 1000 {
                good += chunk.len();
                bad += errors.len();
                self.store_import_rows(&id, &chunk, &errors).await?;
                chunk.clear();
                errors.clear();
            }
            if end {
                break;
            }
        }
        if good == 0 && bad == 0 {
            return Err(file_error(
                "no_rows",
                "The file has a header but no rows to import.",
            ));
        }
        let total = (good + bad) as i64;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let state = match (good, draft) {
            (_, true) => "draft",
            (0, false) => "done",
            _ => "running",
        };
        in_tx!(&mut tx, t => sqlx::query(
            "UPDATE jobs SET state = $3, total = $2, done = $4, updated_at = $5, \
             finished_at = CASE WHEN $3 = 'done' THEN $5 END WHERE id = $1",
        )
        .bind(&id)
        .bind(total)
        .bind(state)
        .bind(bad as i64)
        .bind(now)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        in_tx!(&mut tx, t => sqlx::query("DELETE FROM job_errors WHERE job_id = $1 AND line = 0")
            .bind(&id)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        self.job(account_id, &id).await
    }

    /// A draft import with its columns, where each would go, and its first
    /// `n` rows: the mapping step's page.
    pub async fn import_draft(
        &self,
        account_id: &str,
        id: &str,
        n: usize,
    ) -> Result<(JobView, ImportParams, Vec<CsvRow>)> {
        let job = self.job(account_id, id).await?;
        let params: String = on_reader!(&self.db, pool => sqlx::query_scalar(
            "SELECT params FROM jobs WHERE account_id = $1 AND id = $2 AND kind = 'import'",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        let params: ImportParams = serde_json::from_str(&params)
            .map_err(|e| Error::Corrupt(format!("job {id} params: {e}")))?;
        let rows = self.import_rows(id, 0, n).await?;
        Ok((job, params, rows))
    }

    /// Starts a draft import with the mapping the admin chose (a place for
    /// each column, in order) and the webhook to post through, if any.
    pub async fn start_draft_import(
        &self,
        account_id: &str,
        id: &str,
        targets: Vec<ColumnTarget>,
        webhook_id: Option<String>,
    ) -> Result<JobView> {
        let (job, mut params, _) = self.import_draft(account_id, id, 0).await?;
        if job.state != crate::model::JobState::Draft {
            return Err(Error::field(
                "id",
                "started",
                "This import has started already; see its progress.",
            ));
        }
        if targets.len() != params.headers.len() {
            return Err(Error::field(
                "targets",
                "wrong_count",
                format!(
                    "Give a place for each of the {} columns.",
                    params.headers.len()
                ),
            ));
        }
        if !targets.iter().any(ColumnTarget::names_a_contact) {
            return Err(Error::field(
                "targets",
                "no_name",
                "Map at least one column to a first name, last name, email or phone.",
            ));
        }
        if let Some(webhook_id) = &webhook_id {
            self.webhook_to_post(account_id, webhook_id).await?;
        }
        params.targets = targets;
        let now = now_ms();
        let started = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE jobs SET state = CASE WHEN done >= total THEN 'done' ELSE 'running' END, \
             params = $3, webhook_id = $4, updated_at = $5, claimed_until = 0, \
             finished_at = CASE WHEN done >= total THEN $5 END \
             WHERE account_id = $1 AND id = $2 AND state = 'draft'",
        )
        .bind(account_id)
        .bind(id)
        .bind(serde_json::to_string(&params).unwrap_or_default())
        .bind(&webhook_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if started == 0 {
            return Err(Error::field(
                "id",
                "started",
                "This import has started already; see its progress.",
            ));
        }
        self.job(account_id, id).await
    }

    async fn store_import_rows(
        &self,
        job_id: &str,
        rows: &[CsvRow],
        errors: &[JobError],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(IMPORT_BATCH) {
            in_tx!(&mut tx, t => {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO import_rows (job_id, line, fields) ");
                q.push_values(chunk, |mut row, (line, fields)| {
                    row.push_bind(job_id)
                        .push_bind(*line)
                        .push_bind(serde_json::to_string(fields).unwrap_or_default());
                });
                q.build().execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        insert_errors(&mut tx, job_id, errors).await?;
        tx.commit().await
    }

    /// Up to `limit` of an import's rows after `after_line`, in order.
    pub async fn import_rows(
        &self,
        job_id: &str,
        after_line: i64,
        limit: usize,
    ) -> Result<Vec<CsvRow>> {
        let rows: Vec<(i64, String)> = on_reader!(&self.db, pool => sqlx::query_as(
            "SELECT line, fields FROM import_rows WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3",
        )
        .bind(job_id)
        .bind(after_line)
        .bind(limit as i64)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(line, fields)| {
                serde_json::from_str(&fields)
                    .map(|f| (line, f))
                    .map_err(|e| Error::Corrupt(format!("import row {line}: {e}")))
            })
            .collect()
    }

    /// Imports one batch of a held import job's rows: creates or updates
    /// their contacts, writes their events, one delivery of each through
    /// the job's webhook (`post` makes its event), the rows' errors and the
    /// job's new position, and deletes the rows, in one transaction, which
    /// also accepts the events (no outbox: they commit or roll back with
    /// the contacts). False, with nothing written, when the job was
    /// cancelled or is held by another process now.
    pub async fn write_import_batch(
        &self,
        account: &Account,
        job: &HeldJob,
        params: &ImportParams,
        rows: &[CsvRow],
        last: bool,
        post: Option<PostThrough<'_>>,
    ) -> Result<bool> {
        let account_id = job.account_id.as_str();
        let targets = &params.targets;
        let by = ChangedBy {
            actor: params.actor.clone(),
            via: Via::Import,
        };
        let named = |kind| async move {
            Ok::<HashSet<String>, Error>(
                self.items(account_id, kind)
                    .await?
                    .into_iter()
                    .filter(|i| i.active)
                    .map(|i| i.name)
                    .collect(),
            )
        };
        let sources = named(ItemKind::Source).await?;
        let categories = named(ItemKind::Category).await?;
        let key = |f| {
            rows.iter()
                .filter_map(|(_, fields)| row_value(targets, fields, f))
                .map(|v| {
                    if f == ContactField::Email {
                        v.to_lowercase()
                    } else {
                        v.to_string()
                    }
                })
                .collect::<Vec<_>>()
        };
        let found = self
            .contacts_by_keys(
                account_id,
                &key(ContactField::Email),
                &key(ContactField::ExternalId),
            )
            .await?;
        // The batch's contacts as they stand, by id; and their keys.
        let mut known: HashMap<String, Read> = HashMap::new();
        let mut by_email: HashMap<String, String> = HashMap::new();
        let mut by_external: HashMap<String, String> = HashMap::new();
        for read in found {
            remember(&mut by_email, &mut by_external, &read.contact);
            known.insert(read.contact.id.clone(), read);
        }

        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let position = rows.last().map(|(line, _)| line.to_string());
        if !self
            .advance_job(
                &mut tx,
                job,
                position.as_deref(),
                rows.len() as i64,
                last,
                now,
            )
            .await?
        {
            return Ok(false);
        }
        let mut events: Vec<NewEvent> = Vec::new();
        let mut errors = Vec::new();
        let mut imported: Vec<Contact> = Vec::new();
        // New contacts, written together; those written so far.
        let mut pending: Vec<Contact> = Vec::new();
        let mut created: Vec<Contact> = Vec::new();
        for (line, fields) in rows {
            let email = row_value(targets, fields, ContactField::Email).map(str::to_lowercase);
            let external = row_value(targets, fields, ContactField::ExternalId);
            let by_key = external.and_then(|x| by_external.get(x));
            let by_mail = email.as_ref().and_then(|e| by_email.get(e));
            let matched = match (by_key, by_mail) {
                (Some(a), Some(b)) if a != b => {
                    errors.push(JobError {
                        line: *line,
                        reason: format!(
                            "The external id {} and the email {} belong to two different contacts.",
                            external.unwrap_or_default(),
                            email.as_deref().unwrap_or_default()
                        ),
                    });
                    continue;
                }
                (Some(id), _) | (None, Some(id)) => Some(id.clone()),
                (None, None) => None,
            };
            let before = matched.as_ref().and_then(|id| known.get(id)).cloned();
            let was = before.as_ref().map(|r| r.contact.input());
            let mut input = was.clone().unwrap_or_default();
            apply_row(targets, fields, &mut input);
            let input = match check_row(input, was.as_ref(), &sources, &categories) {
                Ok(input) => input,
                Err(reason) => {
                    errors.push(JobError {
                        line: *line,
                        reason,
                    });
                    continue;
                }
            };
            if let Some(read) = &before
                && pending.iter().any(|c| c.id == read.contact.id)
            {
                // A row of this batch created it: write that first.
                created.extend(flush(&mut tx, account_id, &mut pending, &mut events, &by).await?);
            }
            let contact = match &before {
                None => {
                    let contact = new_contact(input, now);
                    pending.push(contact.clone());
                    contact
                }
                Some(read) => {
                    let diff = changes(&to_json(&read.contact.input()), &to_json(&input));
                    if diff.is_empty() {
                        read.contact.clone()
                    } else {
                        let c = &read.contact;
                        if write_contact(
                            &mut tx,
                            account_id,
                            &c.id,
                            (read.version, &c.input()),
                            &input,
                            now,
                        )
                        .await?
                            == 0
                        {
                            errors.push(JobError {
                                line: *line,
                                reason: "The contact changed while the import ran; this row was not applied.".into(),
                            });
                            continue;
                        }
                        let contact = with_input(
                            (
                                c.id.clone(),
                                c.statuses.clone(),
                                c.flags.clone(),
                                c.assigned_users.clone(),
                                c.created_at,
                            ),
                            input,
                            from_ms(now),
                        );
                        events.push(contact_event(
                            by.contact_changed(),
                            &contact,
                            json!({"changes": diff}),
                            &by,
                        ));
                        contact
                    }
                }
            };
            remember(&mut by_email, &mut by_external, &contact);
            known.insert(
                contact.id.clone(),
                Read {
                    contact: contact.clone(),
                    version: before.as_ref().map(|r| r.version + 1).unwrap_or(0),
                },
            );
            if before.is_some() {
                imported.push(contact);
            }
        }
        created.extend(flush(&mut tx, account_id, &mut pending, &mut events, &by).await?);
        // Each contact once, as it stands at the end of the batch.
        let mut posted_ids = HashSet::new();
        let mut imported: Vec<Contact> = imported
            .into_iter()
            .rev()
            .chain(created.into_iter().rev())
            .filter(|c| posted_ids.insert(c.id.clone()))
            .collect();
        imported.reverse();
        if let Some((mode, post)) = post
            && !imported.is_empty()
        {
            let posted: Vec<Posted> = imported.iter().map(post).collect();
            let webhook_id = job.webhook_id.as_deref().unwrap_or_default();
            for chunk in posted.chunks(IMPORT_BATCH) {
                insert_posted(&mut tx, job, webhook_id, mode, chunk, now).await?;
            }
        }
        insert_errors(&mut tx, &job.id, &errors).await?;
        if let Some((last_line, _)) = rows.last() {
            in_tx!(&mut tx, t => sqlx::query("DELETE FROM import_rows WHERE job_id = $1 AND line <= $2")
                .bind(&job.id)
                .bind(*last_line)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()))?;
        }
        let accepted = if events.is_empty() {
            None
        } else {
            let events = Incoming::all(account, events, now);
            Some(self.accept_in(&mut tx, account_id, &events, 0, 0).await?)
        };
        tx.commit().await?;
        if let Some(accepted) = accepted {
            self.seen_types.mark(accepted.new_types);
        }
        Ok(true)
    }
}

/// Writes the batch's new contacts so far and adds their `contact.created`
/// events to `events`; the contacts written.
async fn flush(
    tx: &mut super::db::WriteTx,
    account_id: &str,
    pending: &mut Vec<Contact>,
    events: &mut Vec<NewEvent>,
    by: &ChangedBy,
) -> Result<Vec<Contact>> {
    let contacts = std::mem::take(pending);
    for chunk in contacts.chunks(IMPORT_BATCH) {
        insert_contacts(tx, account_id, chunk).await?;
    }
    events.extend(
        contacts
            .iter()
            .map(|c| contact_event("contact.created", c, json!({}), by)),
    );
    Ok(contacts)
}

fn remember(
    by_email: &mut HashMap<String, String>,
    by_external: &mut HashMap<String, String>,
    contact: &Contact,
) {
    if let Some(email) = &contact.email {
        by_email.insert(email.clone(), contact.id.clone());
    }
    if let Some(external) = &contact.external_id {
        by_external.insert(external.clone(), contact.id.clone());
    }
}

/// A row's contact as it will be stored, or why it cannot be: each
/// field's problem, with the field named.
fn check_row(
    input: ContactInput,
    before: Option<&ContactInput>,
    sources: &HashSet<String>,
    categories: &HashSet<String>,
) -> std::result::Result<ContactInput, String> {
    let input = clean_contact(input).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join(" ")
    })?;
    for (field, value, old, known) in [
        (
            "source",
            &input.source,
            before.and_then(|b| b.source.as_ref()),
            sources,
        ),
        (
            "category",
            &input.category,
            before.and_then(|b| b.category.as_ref()),
            categories,
        ),
    ] {
        if let Some(value) = value
            && Some(value) != old
            && !known.contains(value)
        {
            return Err(format!(
                "{field}: \"{value}\" is not one of the account's {field} names; add it under Settings first."
            ));
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_by_the_line_they_start_on() {
        let mut csv: Vec<u8> = b"\xEF\xBB\xBFa,b\r\n".to_vec();
        csv.extend_from_slice(b"1,\"x\r\ny\"\r\n"); // 2-3
        csv.extend_from_slice(b"short\r\n"); // 4
        csv.extend_from_slice(b"\r\n"); // 5
        csv.extend_from_slice(b"\xE9,2\r\n"); // 6
        csv.extend_from_slice(b"3,4"); // 7, no line end
        let mut rows = CsvRows::open(&csv).unwrap();
        let mut lines = Vec::new();
        while let Some(row) = rows.next_row() {
            lines.push(match row {
                Ok((line, _)) => line,
                Err(e) => -e.line,
            });
        }
        assert_eq!(lines, vec![2, -4, -6, 7]);
    }
}
