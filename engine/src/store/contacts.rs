//! Contacts: their fields, statuses, flags and assigned users, leads and
//! to-dos. Every change writes the events it emits in its own transaction
//! (see `outbox`), each carrying the record as it is after the change;
//! updates carry `changes` (field → from, to). A contact's `version` makes
//! two changes at once apply one after the other, each to what the other
//! left.

use serde_json::{Value, json};

use super::db::WriteTx;
use super::items::unknown_item;
use super::outbox::Outbox;
use super::search;
use super::{Error, Result, Store};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::model::records::changes;
use crate::model::{
    AssignedUser, ChangedBy, Contact, ContactDetail, ContactFilter, ContactInput, ContactPage,
    ItemKind, NewEvent,
};
use crate::validate::FieldError;
use crate::validate::records::clean_contact;

/// Most contacts on one page of the list.
pub const MAX_CONTACT_PAGE: i64 = 500;

/// How often a change is tried again when another changed the contact
/// between its read and its write.
pub(super) const TRIES: usize = 20;

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    address: String,
    state: Option<String>,
    source: Option<String>,
    category: Option<String>,
    external_id: Option<String>,
    custom_fields: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

const CONTACT_COLUMNS: &str = "id, first_name, last_name, email, phone, address, state, source, \
     category, external_id, custom_fields, version, created_at, updated_at";

/// A contact as read, with the version a change must find unchanged.
#[derive(Clone)]
pub(super) struct Read {
    pub(super) contact: Contact,
    pub(super) version: i64,
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl ContactRow {
    fn into_read(self) -> Result<Read> {
        Ok(Read {
            contact: Contact {
                address: parse("contact address", &self.address)?,
                custom_fields: parse("contact custom fields", &self.custom_fields)?,
                id: self.id,
                first_name: self.first_name,
                last_name: self.last_name,
                email: self.email,
                phone: self.phone,
                state: self.state,
                source: self.source,
                category: self.category,
                external_id: self.external_id,
                statuses: Vec::new(),
                flags: Vec::new(),
                assigned_users: Vec::new(),
                created_at: from_ms(self.created_at),
                updated_at: from_ms(self.updated_at),
            },
            version: self.version,
        })
    }
}

pub(super) fn changed_meanwhile() -> Error {
    Error::field(
        "id",
        "conflict",
        "The contact kept changing while this change was made; try again.",
    )
}

/// The unique indexes a contact's email and external id keep.
fn duplicate(e: sqlx::Error, input: &ContactInput) -> Error {
    let e = match Error::unique(
        e,
        "contacts_email_key",
        FieldError::new(
            "email",
            "duplicate_email",
            format!(
                "Another contact has the email {}.",
                input.email.as_deref().unwrap_or("")
            ),
        ),
    ) {
        Error::Database(e) => e,
        done => return done,
    };
    Error::unique(
        e,
        "contacts_external_id_key",
        FieldError::new(
            "external_id",
            "duplicate_external_id",
            format!(
                "Another contact has the external id {}.",
                input.external_id.as_deref().unwrap_or("")
            ),
        ),
    )
}

/// A contact event: the record, and what else the type carries.
pub(super) fn contact_event(
    event_type: &str,
    contact: &Contact,
    extra: Value,
    by: &ChangedBy,
) -> NewEvent {
    let mut data = to_json(contact);
    if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
        data.extend(extra);
    }
    let mut event = NewEvent::new(event_type, data);
    event.actor = by.actor.clone();
    event
}

impl Store {
    /// Creates a contact (`contact.created`).
    pub async fn create_contact(
        &self,
        account_id: &str,
        input: ContactInput,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        let input = clean_contact(input).map_err(Error::Validation)?;
        self.check_named_items(account_id, &input, None).await?;
        let mut tx = self.begin_write().await?;
        let contact = insert_contact(&mut tx, account_id, &input).await?;
        commit_contact(tx, account_id, contact, "contact.created", json!({}), by).await
    }

    /// One contact with its statuses, flags and assigned users.
    pub async fn contact(&self, account_id: &str, id: &str) -> Result<Contact> {
        Ok(self.read_contact(account_id, id).await?.contact)
    }

    pub(super) async fn read_contact(&self, account_id: &str, id: &str) -> Result<Read> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, ContactRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE account_id = $1 AND id = $2"
        )))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        let mut read = vec![row.into_read()?];
        self.fill_contacts(account_id, &mut read).await?;
        read.pop().ok_or(Error::NotFound)
    }

    /// The contact with the email or external id given, if there is one:
    /// an import updates it instead of adding another.
    pub async fn contact_matching(
        &self,
        account_id: &str,
        email: Option<&str>,
        external_id: Option<&str>,
    ) -> Result<Option<Contact>> {
        let email = email.map(|e| e.trim().to_lowercase());
        let id: Option<String> = on_reader!(&self.db, pool => sqlx::query_scalar(
            "SELECT id FROM contacts WHERE account_id = $1 AND (external_id = $3 OR email = $2) \
             ORDER BY (external_id = $3) DESC LIMIT 1",
        )
        .bind(account_id)
        .bind(email)
        .bind(external_id.map(str::trim))
        .fetch_optional(pool)
        .await)?;
        match id {
            Some(id) => Ok(Some(self.contact(account_id, &id).await?)),
            None => Ok(None),
        }
    }

    /// The contacts with one of these emails (lower-cased) or external
    /// ids, with their versions: the ones an import's batch updates.
    pub(super) async fn contacts_by_keys(
        &self,
        account_id: &str,
        emails: &[String],
        external_ids: &[String],
    ) -> Result<Vec<Read>> {
        if emails.is_empty() && external_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One lookup per key, each on its unique index (an OR of the two
        // would scan the account's contacts).
        let mut rows: Vec<ContactRow> = Vec::new();
        for (column, keys) in [("email", emails), ("external_id", external_ids)] {
            if keys.is_empty() {
                continue;
            }
            let marks = (2..keys.len() + 2)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE account_id = $1 \
                 AND {column} IS NOT NULL AND {column} IN ({marks})"
            );
            let found: Vec<ContactRow> = on_reader!(&self.db, pool => {
                let mut query = sqlx::query_as::<_, ContactRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(account_id);
                for key in keys {
                    query = query.bind(key);
                }
                query.fetch_all(pool).await
            })?;
            for row in found {
                if !rows.iter().any(|r| r.id == row.id) {
                    rows.push(row);
                }
            }
        }
        let mut read = rows
            .into_iter()
            .map(ContactRow::into_read)
            .collect::<Result<Vec<_>>>()?;
        self.fill_contacts(account_id, &mut read).await?;
        Ok(read)
    }

    /// A contact with its leads and to-dos, newest first.
    pub async fn contact_detail(&self, account_id: &str, id: &str) -> Result<ContactDetail> {
        let contact = self.contact(account_id, id).await?;
        Ok(ContactDetail {
            contact,
            leads: self.leads_of(id).await?,
            todos: self.todos_of(id).await?,
        })
    }

    /// A page of the account's contacts, newest first, every filter given
    /// holding; `cursor` is a `next_cursor` from the page before.
    pub async fn list_contacts(
        &self,
        account_id: &str,
        filter: &ContactFilter,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<ContactPage> {
        if let Some(cursor) = cursor
            && !crate::ids::looks_like_id(cursor, "con")
        {
            return Err(Error::field(
                "cursor",
                "invalid_cursor",
                "This cursor is not one this server gave out; start again without it.",
            ));
        }
        let limit = limit.clamp(1, MAX_CONTACT_PAGE);
        let page = |walk: Walk| async move {
            let (sql, binds) = list_query(account_id, filter, cursor, limit + 1, &walk);
            self.contact_rows(&sql, &binds).await
        };
        let terms = search::terms(filter.q.as_deref());
        let rows = match self.rarest_term(account_id, terms, cursor).await? {
            None => page(Walk::Newest).await?,
            Some((term, held)) if held <= self.search.words_read => page(Walk::Words(term)).await?,
            // Text many contacts hold: the newest show it at once, unless
            // those holding it are old ones.
            Some((term, _)) => match self.newest_floor(account_id, cursor).await? {
                None => page(Walk::Newest).await?,
                Some(floor) => {
                    let rows = page(Walk::Since(floor)).await?;
                    if rows.len() as i64 > limit {
                        rows
                    } else {
                        page(Walk::Words(term)).await?
                    }
                }
            },
        };
        let mut read = rows
            .into_iter()
            .map(ContactRow::into_read)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if read.len() as i64 > limit {
            read.truncate(limit as usize);
            read.last().map(|r| r.contact.id.clone())
        } else {
            None
        };
        self.fill_contacts(account_id, &mut read).await?;
        Ok(ContactPage {
            data: read.into_iter().map(|r| r.contact).collect(),
            next_cursor,
        })
    }

    async fn contact_rows(&self, sql: &str, binds: &[String]) -> Result<Vec<ContactRow>> {
        Ok(on_reader!(&self.db, pool => {
            let mut query = sqlx::query_as::<_, ContactRow>(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                query = query.bind(bind);
            }
            query.fetch_all(pool).await
        })?)
    }

    /// The search term the fewest of the account's words (below `cursor`)
    /// start, with how many (counted up to one past the limit of words read).
    async fn rarest_term(
        &self,
        account_id: &str,
        terms: Vec<search::Term>,
        cursor: Option<&str>,
    ) -> Result<Option<(search::Term, i64)>> {
        let mut rarest: Option<(search::Term, i64)> = None;
        for term in terms {
            let mut binds = vec![account_id.to_string()];
            let words = words_condition(&term, cursor, &mut binds);
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM contact_words w WHERE {words} LIMIT {}) x",
                self.search.words_read + 1
            );
            let held = on_reader!(&self.db, pool => {
                let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()));
                for bind in &binds {
                    query = query.bind(bind);
                }
                query.fetch_one(pool).await
            })?;
            if rarest.as_ref().is_none_or(|(_, n)| held < *n) {
                rarest = Some((term, held));
            }
        }
        Ok(rarest)
    }

    /// The id as many places below the account's newest contact as a
    /// search walks
    /// (below `cursor`); `None` when there are not that many.
    async fn newest_floor(&self, account_id: &str, cursor: Option<&str>) -> Result<Option<String>> {
        let below = if cursor.is_some() { "AND id < $2" } else { "" };
        let sql = format!(
            "SELECT id FROM contacts WHERE account_id = $1 {below} \
             ORDER BY id DESC LIMIT 1 OFFSET {}",
            self.search.newest_walked
        );
        Ok(on_reader!(&self.db, pool => {
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(account_id);
            if let Some(cursor) = cursor {
                query = query.bind(cursor);
            }
            query.fetch_optional(pool).await
        })?)
    }

    /// The id of the `n`th contact (from 0) `filter` matches, in the
    /// list's order.
    pub async fn nth_contact(
        &self,
        account_id: &str,
        filter: &ContactFilter,
        n: i64,
    ) -> Result<String> {
        let (conditions, binds) = filter_conditions(account_id, filter, None);
        let sql = format!(
            "SELECT c.id FROM contacts c WHERE {conditions} ORDER BY c.id DESC LIMIT 1 OFFSET {}",
            n.max(0)
        );
        on_reader!(&self.db, pool => {
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.as_str()));
            for bind in &binds {
                query = query.bind(bind);
            }
            query.fetch_optional(pool).await
        })?
        .ok_or(Error::NotFound)
    }

    /// How many of the account's contacts `filter` matches.
    pub async fn count_contacts(&self, account_id: &str, filter: &ContactFilter) -> Result<i64> {
        let (conditions, binds) = filter_conditions(account_id, filter, None);
        let sql = format!("SELECT COUNT(*) FROM contacts c WHERE {conditions}");
        Ok(on_reader!(&self.db, pool => {
            let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()));
            for bind in &binds {
                query = query.bind(bind);
            }
            query.fetch_one(pool).await
        })?)
    }

    /// Fills statuses, flags and assigned users in, two queries in all.
    async fn fill_contacts(&self, account_id: &str, read: &mut [Read]) -> Result<()> {
        if read.is_empty() {
            return Ok(());
        }
        let marks = (0..read.len())
            .map(|n| format!("${}", n + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let labels_sql = format!(
            "SELECT contact_id, kind, name FROM contact_labels \
             WHERE account_id = $1 AND contact_id IN ({marks}) ORDER BY added_at, name"
        );
        let users_sql = format!(
            "SELECT a.contact_id, i.id, i.name, i.company FROM contact_assignments a \
             JOIN record_items i ON i.id = a.user_id \
             WHERE a.account_id = $1 AND a.contact_id IN ({marks}) ORDER BY a.assigned_at, i.name"
        );
        let ids: Vec<String> = read.iter().map(|r| r.contact.id.clone()).collect();
        let labels: Vec<(String, String, String)> = on_reader!(&self.db, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(labels_sql.as_str())).bind(account_id);
            for id in &ids {
                query = query.bind(id);
            }
            query.fetch_all(pool).await
        })?;
        let users: Vec<(String, String, String, Option<String>)> = on_reader!(&self.db, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(users_sql.as_str())).bind(account_id);
            for id in &ids {
                query = query.bind(id);
            }
            query.fetch_all(pool).await
        })?;
        for r in read.iter_mut() {
            let c = &mut r.contact;
            for (contact_id, kind, name) in &labels {
                if *contact_id == c.id {
                    match kind.as_str() {
                        "status" => c.statuses.push(name.clone()),
                        _ => c.flags.push(name.clone()),
                    }
                }
            }
            c.assigned_users = users
                .iter()
                .filter(|u| u.0 == c.id)
                .map(|(_, id, name, company)| AssignedUser {
                    id: id.clone(),
                    name: name.clone(),
                    company: company.clone(),
                })
                .collect();
        }
        Ok(())
    }

    /// Changes a contact's own fields: `contact.saved` from the console,
    /// `contact.updated` otherwise, with `changes`. A change that changes
    /// nothing emits `contact.saved` from the console (someone pressed
    /// Save) and nothing otherwise.
    pub async fn update_contact(
        &self,
        account_id: &str,
        id: &str,
        input: ContactInput,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        let input = clean_contact(input).map_err(Error::Validation)?;
        for _ in 0..TRIES {
            let before = self.read_contact(account_id, id).await?;
            self.check_named_items(account_id, &input, Some(&before.contact.input()))
                .await?;
            let diff = changes(&to_json(&before.contact.input()), &to_json(&input));
            let mut tx = self.begin_write().await?;
            let now = now_ms();
            let written = write_contact(
                &mut tx,
                account_id,
                id,
                (before.version, &before.contact.input()),
                &input,
                now,
            )
            .await?;
            if written == 0 {
                continue;
            }
            let mut contact = before.contact;
            let kept = (
                contact.id.clone(),
                contact.statuses.clone(),
                contact.flags.clone(),
                contact.assigned_users.clone(),
                contact.created_at,
            );
            contact = with_input(kept, input, from_ms(now));
            let mut outbox = Outbox::default();
            if !diff.is_empty() || by.via == crate::model::Via::Console {
                outbox
                    .add(
                        &mut tx,
                        account_id,
                        contact_event(by.contact_changed(), &contact, json!({"changes": diff}), by),
                    )
                    .await?;
            }
            tx.commit().await?;
            return Ok((contact, outbox));
        }
        Err(changed_meanwhile())
    }

    /// Deletes a contact with its leads, to-dos, statuses, flags and
    /// assignments (`contact.deleted`, carrying the contact as it was).
    /// Its deliveries stay in the history.
    pub async fn delete_contact(
        &self,
        account_id: &str,
        id: &str,
        by: &ChangedBy,
    ) -> Result<Outbox> {
        let before = self.contact(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2",
            "DELETE FROM contact_assignments WHERE account_id = $1 AND contact_id = $2",
            "DELETE FROM leads WHERE account_id = $1 AND contact_id = $2",
            "DELETE FROM todos WHERE account_id = $1 AND contact_id = $2",
        ] {
            in_tx!(&mut tx, t => sqlx::query(sql).bind(account_id).bind(id).execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        let search = in_tx!(&mut tx, t => sqlx::query_scalar::<_, String>(
            "DELETE FROM contacts WHERE account_id = $1 AND id = $2 RETURNING search",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut **t)
        .await)?
        .ok_or(Error::NotFound)?;
        search::delete_words(&mut tx, account_id, id, &search::words_of(&search)).await?;
        commit_with(
            tx,
            account_id,
            contact_event("contact.deleted", &before, json!({}), by),
        )
        .await
    }

    /// Adds a status or flag (one of the account's, active):
    /// `contact.status_added` / `contact.flag_added` with `status` / `flag`.
    /// Adding one the contact has changes nothing and emits nothing.
    pub async fn add_label(
        &self,
        account_id: &str,
        id: &str,
        kind: ItemKind,
        name: &str,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        let field = kind.as_str();
        let name = name.trim();
        // Another account's contact is not found, whatever the name.
        self.contact(account_id, id).await?;
        let item = self.known_item(account_id, kind, name, field).await?;
        self.change_label(account_id, id, kind, &item.name, true, by)
            .await
    }

    /// Removes a status or flag: `contact.status_removed` /
    /// `contact.flag_removed`.
    pub async fn remove_label(
        &self,
        account_id: &str,
        id: &str,
        kind: ItemKind,
        name: &str,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        let before = self.contact(account_id, id).await?;
        let has = match kind {
            ItemKind::Status => &before.statuses,
            _ => &before.flags,
        };
        if !has.iter().any(|n| n == name) {
            return Err(Error::field(
                kind.as_str(),
                "not_on_contact",
                format!("The contact has no {} \"{name}\".", kind.as_str()),
            ));
        }
        self.change_label(account_id, id, kind, name, false, by)
            .await
    }

    async fn change_label(
        &self,
        account_id: &str,
        id: &str,
        kind: ItemKind,
        name: &str,
        add: bool,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        let label = kind.as_str();
        for _ in 0..TRIES {
            let before = self.read_contact(account_id, id).await?;
            let mut tx = self.begin_write().await?;
            let now = now_ms();
            if !bump(&mut tx, account_id, id, before.version, now).await? {
                continue;
            }
            let sql = if add {
                "INSERT INTO contact_labels (account_id, contact_id, kind, name, added_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 \
                 AND kind = $3 AND name = $4 AND $5 > 0"
            };
            let done = in_tx!(&mut tx, t => sqlx::query(sql)
                .bind(account_id)
                .bind(id)
                .bind(label)
                .bind(name)
                .bind(now)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()))?;
            let mut contact = before.contact;
            if done == 0 {
                // Nothing to do after all (added or removed meanwhile).
                return Ok((contact, Outbox::default()));
            }
            let list = match kind {
                ItemKind::Status => &mut contact.statuses,
                _ => &mut contact.flags,
            };
            if add {
                list.push(name.to_string());
            } else {
                list.retain(|n| n != name);
            }
            contact.updated_at = from_ms(now);
            let verb = if add { "added" } else { "removed" };
            return commit_contact(
                tx,
                account_id,
                contact,
                &format!("contact.{label}_{verb}"),
                json!({ label: name }),
                by,
            )
            .await;
        }
        Err(changed_meanwhile())
    }

    /// Assigns one of the account's users to assign: `contact.assigned`,
    /// with `assigned_user.first_from_company` true when no user of the
    /// same company was assigned to the contact before.
    pub async fn assign(
        &self,
        account_id: &str,
        id: &str,
        user_id: &str,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        self.contact(account_id, id).await?;
        let user = match self.item(account_id, ItemKind::User, user_id).await {
            Ok(user) if user.active => user,
            Ok(_) | Err(Error::NotFound) => {
                let users = self.items(account_id, ItemKind::User).await?;
                return Err(unknown_item(ItemKind::User, user_id, "user_id", &users));
            }
            Err(e) => return Err(e),
        };
        for _ in 0..TRIES {
            let before = self.read_contact(account_id, id).await?;
            if before
                .contact
                .assigned_users
                .iter()
                .any(|u| u.id == user.id)
            {
                return Ok((before.contact, Outbox::default()));
            }
            let mut tx = self.begin_write().await?;
            let now = now_ms();
            if !bump(&mut tx, account_id, id, before.version, now).await? {
                continue;
            }
            in_tx!(&mut tx, t => sqlx::query(
                "INSERT INTO contact_assignments (account_id, contact_id, user_id, assigned_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(account_id)
            .bind(id)
            .bind(&user.id)
            .bind(now)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
            let first_from_company = user.company.as_ref().is_some_and(|company| {
                !before
                    .contact
                    .assigned_users
                    .iter()
                    .any(|u| u.company.as_ref() == Some(company))
            });
            let mut contact = before.contact;
            let assigned = AssignedUser {
                id: user.id.clone(),
                name: user.name.clone(),
                company: user.company.clone(),
            };
            contact.assigned_users.push(assigned.clone());
            contact.updated_at = from_ms(now);
            let mut extra = to_json(&assigned);
            extra["first_from_company"] = first_from_company.into();
            return commit_contact(
                tx,
                account_id,
                contact,
                "contact.assigned",
                json!({ "assigned_user": extra }),
                by,
            )
            .await;
        }
        Err(changed_meanwhile())
    }

    /// Takes a user off a contact: an update (`contact.saved` or
    /// `contact.updated`) whose `changes` name `assigned_users`.
    pub async fn unassign(
        &self,
        account_id: &str,
        id: &str,
        user_id: &str,
        by: &ChangedBy,
    ) -> Result<(Contact, Outbox)> {
        for _ in 0..TRIES {
            let before = self.read_contact(account_id, id).await?;
            if !before
                .contact
                .assigned_users
                .iter()
                .any(|u| u.id == user_id)
            {
                return Err(Error::field(
                    "user_id",
                    "not_on_contact",
                    format!("{user_id} is not assigned to this contact."),
                ));
            }
            let mut tx = self.begin_write().await?;
            let now = now_ms();
            if !bump(&mut tx, account_id, id, before.version, now).await? {
                continue;
            }
            in_tx!(&mut tx, t => sqlx::query(
                "DELETE FROM contact_assignments WHERE account_id = $1 AND contact_id = $2 AND user_id = $3",
            )
            .bind(account_id)
            .bind(id)
            .bind(user_id)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
            let mut contact = before.contact;
            let from = to_json(&contact.assigned_users);
            contact.assigned_users.retain(|u| u.id != user_id);
            contact.updated_at = from_ms(now);
            let diff =
                json!({"assigned_users": {"from": from, "to": to_json(&contact.assigned_users)}});
            return commit_contact(
                tx,
                account_id,
                contact,
                by.contact_changed(),
                json!({ "changes": diff }),
                by,
            )
            .await;
        }
        Err(changed_meanwhile())
    }

    /// The source and category a contact names must be the account's
    /// (active) ones; a value kept from before stays allowed.
    async fn check_named_items(
        &self,
        account_id: &str,
        input: &ContactInput,
        before: Option<&ContactInput>,
    ) -> Result<()> {
        for (kind, value, old) in [
            (
                ItemKind::Source,
                &input.source,
                before.and_then(|b| b.source.as_ref()),
            ),
            (
                ItemKind::Category,
                &input.category,
                before.and_then(|b| b.category.as_ref()),
            ),
        ] {
            if let Some(value) = value
                && Some(value) != old
            {
                self.known_item(account_id, kind, value, kind.as_str())
                    .await?;
            }
        }
        Ok(())
    }
}

/// A contact after a change of its own fields.
pub(super) fn with_input(
    (id, statuses, flags, assigned_users, created_at): (
        String,
        Vec<String>,
        Vec<String>,
        Vec<AssignedUser>,
        chrono::DateTime<chrono::Utc>,
    ),
    input: ContactInput,
    updated_at: chrono::DateTime<chrono::Utc>,
) -> Contact {
    Contact {
        id,
        first_name: input.first_name,
        last_name: input.last_name,
        email: input.email,
        phone: input.phone,
        address: input.address,
        state: input.state,
        source: input.source,
        category: input.category,
        external_id: input.external_id,
        custom_fields: input.custom_fields,
        statuses,
        flags,
        assigned_users,
        created_at,
        updated_at,
    }
}

/// A contact's own fields as the columns hold them, in their order:
/// first name, last name, email, phone, address, state, source, category,
/// external id, custom fields, search text (of its `words`).
fn contact_values(input: &ContactInput, words: &[String]) -> [Option<String>; 11] {
    [
        Some(input.first_name.clone()),
        Some(input.last_name.clone()),
        input.email.clone(),
        input.phone.clone(),
        Some(to_json(&input.address).to_string()),
        input.state.clone(),
        input.source.clone(),
        input.category.clone(),
        input.external_id.clone(),
        Some(Value::Object(input.custom_fields.clone()).to_string()),
        Some(search::search_text(words)),
    ]
}

/// Binds [`contact_values`] to a statement.
trait BindContact: Sized {
    fn bind_contact(self, input: &ContactInput, words: &[String]) -> Self;
}

impl<'q, DB: sqlx::Database> BindContact
    for sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    fn bind_contact(self, input: &ContactInput, words: &[String]) -> Self {
        contact_values(input, words)
            .into_iter()
            .fold(self, |query, value| query.bind(value))
    }
}

/// Writes a contact's own fields over version `version`, which held
/// `before`: 0 when another change came first.
pub(super) async fn write_contact(
    tx: &mut WriteTx,
    account_id: &str,
    id: &str,
    (version, before): (i64, &ContactInput),
    input: &ContactInput,
    now: i64,
) -> Result<u64> {
    let words = search::contact_words(input);
    let written = in_tx!(tx, t => sqlx::query(
        "UPDATE contacts SET first_name = $4, last_name = $5, email = $6, phone = $7, \
         address = $8, state = $9, source = $10, category = $11, external_id = $12, \
         custom_fields = $13, search = $14, updated_at = $15, version = version + 1 \
         WHERE account_id = $1 AND id = $2 AND version = $3",
    )
    .bind(account_id)
    .bind(id)
    .bind(version)
    .bind_contact(input, &words)
    .bind(now)
    .execute(&mut **t)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| duplicate(e, input))?;
    if written == 1 {
        search::rewrite_words(tx, account_id, id, &search::contact_words(before), &words).await?;
    }
    Ok(written)
}

pub(crate) async fn insert_contact(
    tx: &mut WriteTx,
    account_id: &str,
    input: &ContactInput,
) -> Result<Contact> {
    let contact = new_contact(input.clone(), now_ms());
    insert_contacts(tx, account_id, std::slice::from_ref(&contact))
        .await
        .map_err(|e| match e {
            Error::Database(e) => duplicate(e, input),
            other => other,
        })?;
    Ok(contact)
}

/// A contact about to be created, with its id, created now.
pub(super) fn new_contact(input: ContactInput, now: i64) -> Contact {
    with_input(
        (
            new_id("con"),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            from_ms(now),
        ),
        input,
        from_ms(now),
    )
}

/// Creates contacts made by [`new_contact`] in one statement (at most a
/// few hundred: each takes 16 parameters).
pub(super) async fn insert_contacts(
    tx: &mut WriteTx,
    account_id: &str,
    contacts: &[Contact],
) -> Result<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    let words: Vec<Vec<String>> = contacts
        .iter()
        .map(|c| search::contact_words(&c.input()))
        .collect();
    in_tx!(tx, t => {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO contacts (id, account_id, first_name, last_name, email, phone, address, state, \
             source, category, external_id, custom_fields, search, version, created_at, updated_at) ",
        );
        q.push_values(contacts.iter().zip(&words), |mut row, (contact, words)| {
            row.push_bind(&contact.id).push_bind(account_id);
            for value in contact_values(&contact.input(), words) {
                row.push_bind(value);
            }
            let at = contact.created_at.timestamp_millis();
            row.push_bind(0_i64).push_bind(at).push_bind(at);
        });
        q.build().execute(&mut **t).await.map(|r| r.rows_affected())
    })?;
    let each: Vec<(&str, &[String])> = contacts
        .iter()
        .zip(&words)
        .map(|(c, w)| (c.id.as_str(), w.as_slice()))
        .collect();
    search::insert_words(tx, account_id, &each).await
}

/// Writes a contact event of `event_type` in the change's transaction
/// and commits: the contact and the events written.
async fn commit_contact(
    tx: WriteTx,
    account_id: &str,
    contact: Contact,
    event_type: &str,
    extra: Value,
    by: &ChangedBy,
) -> Result<(Contact, Outbox)> {
    let event = contact_event(event_type, &contact, extra, by);
    let outbox = commit_with(tx, account_id, event).await?;
    Ok((contact, outbox))
}

/// Writes a change's one event in its transaction, and commits.
pub(super) async fn commit_with(
    mut tx: WriteTx,
    account_id: &str,
    event: NewEvent,
) -> Result<Outbox> {
    let mut outbox = Outbox::default();
    outbox.add(&mut tx, account_id, event).await?;
    tx.commit().await?;
    Ok(outbox)
}

/// Takes the contact's next version, if it is still at `version`.
pub(super) async fn bump(
    tx: &mut WriteTx,
    account_id: &str,
    id: &str,
    version: i64,
    now: i64,
) -> Result<bool> {
    let done = in_tx!(tx, t => sqlx::query(
        "UPDATE contacts SET version = version + 1, updated_at = $4 \
         WHERE account_id = $1 AND id = $2 AND version = $3",
    )
    .bind(account_id)
    .bind(id)
    .bind(version)
    .bind(now)
    .execute(&mut **t)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Which of the account's contacts a page of the list reads.
enum Walk {
    /// All, newest first from the cursor.
    Newest,
    /// Only those at or after this id: the newest few thousand.
    Since(String),
    /// Only those holding a word that starts as the term asks: a range of
    /// `contact_words`, whatever the contacts' age.
    Words(search::Term),
}

/// The list's query: the contacts `filter` matches as `walk` reads them,
/// newest first from the cursor.
fn list_query(
    account_id: &str,
    filter: &ContactFilter,
    cursor: Option<&str>,
    limit: i64,
    walk: &Walk,
) -> (String, Vec<String>) {
    // Walking words, the cursor bounds the words read.
    let contacts_cursor = cursor.filter(|_| !matches!(walk, Walk::Words(_)));
    let (mut conditions, mut binds) = filter_conditions(account_id, filter, contacts_cursor);
    match walk {
        Walk::Newest => {}
        Walk::Since(floor) => {
            binds.push(floor.clone());
            conditions.push_str(&format!(" AND c.id >= ${}", binds.len()));
        }
        Walk::Words(term) => {
            let words = words_condition(term, cursor, &mut binds);
            conditions.push_str(&format!(
                " AND c.id IN (SELECT w.contact_id FROM contact_words w WHERE {words})"
            ));
        }
    }
    let columns = CONTACT_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!(
            "SELECT {columns} FROM contacts c WHERE {conditions} ORDER BY c.id DESC LIMIT {limit}"
        ),
        binds,
    )
}

/// The account's words (`w`, the account bound as `$1`) `term` starts,
/// of contacts below `cursor`.
fn words_condition(term: &search::Term, cursor: Option<&str>, binds: &mut Vec<String>) -> String {
    let ranges = search::word_ranges(term, binds);
    let below = match cursor {
        Some(cursor) => {
            binds.push(cursor.to_string());
            format!(" AND w.contact_id < ${}", binds.len())
        }
        None => String::new(),
    };
    format!("w.account_id = $1 AND {ranges}{below}")
}

/// The `WHERE` of the contacts `filter` matches (as `c`), below `cursor`
/// when given, with its binds.
fn filter_conditions(
    account_id: &str,
    filter: &ContactFilter,
    cursor: Option<&str>,
) -> (String, Vec<String>) {
    let mut binds = vec![account_id.to_string()];
    let mark = |value: String, binds: &mut Vec<String>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let mut conditions = vec!["c.account_id = $1".to_string()];
    for term in search::terms(filter.q.as_deref()) {
        let likes: Vec<String> = term
            .prefixes
            .iter()
            .map(|p| {
                let m = mark(search::like_word_start(p), &mut binds);
                format!("c.search LIKE {m} ESCAPE '\\'")
            })
            .collect();
        conditions.push(format!("({})", likes.join(" OR ")));
    }
    for (column, value) in [("state", &filter.state), ("source", &filter.source)] {
        if let Some(v) = text(value) {
            let m = mark(v.to_string(), &mut binds);
            conditions.push(format!("c.{column} = {m}"));
        }
    }
    for (kind, value) in [("status", &filter.status), ("flag", &filter.flag)] {
        if let Some(v) = text(value) {
            let m = mark(v.to_string(), &mut binds);
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM contact_labels l WHERE l.account_id = $1 AND l.kind = '{kind}' \
                 AND l.name = {m} AND l.contact_id = c.id)"
            ));
        }
    }
    if let Some(v) = text(&filter.assigned_user) {
        let m = mark(v.to_string(), &mut binds);
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM contact_assignments a WHERE a.account_id = $1 AND a.user_id = {m} \
             AND a.contact_id = c.id)"
        ));
    }
    if let Some(cursor) = cursor {
        let m = mark(cursor.to_string(), &mut binds);
        conditions.push(format!("c.id < {m}"));
    }
    (conditions.join(" AND "), binds)
}

/// A filter's value, unless it is empty.
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
