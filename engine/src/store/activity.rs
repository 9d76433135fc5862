//! Leads and to-dos on contacts. A lead says whether it is the contact's
//! first (`contact_is_new`) and carries the contact; to-dos may name a
//! user to assign. Each change writes its event like the contact's own
//! (see `contacts`).

use serde_json::Value;

use super::contacts::{TRIES, bump, changed_meanwhile, commit_with, parse, to_json};
use super::items::unknown_item;
use super::outbox::Outbox;
use super::{Error, Result, Store};
use crate::clock::{from_ms, now_ms};
use crate::ids::new_id;
use crate::model::records::changes;
use crate::model::{
    AssignedUser, ChangedBy, ItemKind, Lead, LeadInput, LeadType, NewEvent, Todo, TodoInput,
};
use crate::validate::records::{clean_lead, clean_todo};

/// To-dos with their assigned user's name and company.
const TODO_SELECT: &str = "SELECT t.id, t.contact_id, t.title, t.due_at, t.done, \
     t.assigned_user_id, i.name AS user_name, i.company AS user_company, t.created_at, \
     t.updated_at FROM todos t LEFT JOIN record_items i ON i.id = t.assigned_user_id";

impl Store {
    /// A contact's leads, newest first (the 200 latest).
    pub(super) async fn leads_of(&self, contact_id: &str) -> Result<Vec<Lead>> {
        let rows: Vec<LeadRow> = on_reader!(&self.db, pool => sqlx::query_as(
            "SELECT id, contact_id, type, contact_is_new, source, comments, details, created_at \
             FROM leads WHERE contact_id = $1 ORDER BY id DESC LIMIT 200",
        )
        .bind(contact_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(LeadRow::into_lead).collect()
    }

    /// A contact's to-dos, newest first (the 200 latest).
    pub(super) async fn todos_of(&self, contact_id: &str) -> Result<Vec<Todo>> {
        let rows: Vec<TodoRow> = on_reader!(&self.db, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(format!(
            "{TODO_SELECT} WHERE t.contact_id = $1 ORDER BY t.id DESC LIMIT 200"
        )),
        )
        .bind(contact_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(TodoRow::into_todo).collect())
    }

    /// Adds a lead to a contact: `lead.created`, carrying the lead, whether
    /// it is the contact's first (`contact_is_new`) and the contact.
    pub async fn add_lead(
        &self,
        account_id: &str,
        contact_id: &str,
        input: LeadInput,
        by: &ChangedBy,
    ) -> Result<(Lead, Outbox)> {
        let input = clean_lead(input).map_err(Error::Validation)?;
        self.contact(account_id, contact_id).await?;
        if let Some(source) = &input.source {
            self.known_item(account_id, ItemKind::Source, source, "source")
                .await?;
        }
        for _ in 0..TRIES {
            let before = self.read_contact(account_id, contact_id).await?;
            let mut tx = self.begin_write().await?;
            let now = now_ms();
            if !bump(&mut tx, account_id, contact_id, before.version, now).await? {
                continue;
            }
            let earlier: i64 = in_tx!(&mut tx, t => sqlx::query_scalar(
                "SELECT COUNT(*) FROM leads WHERE contact_id = $1",
            )
            .bind(contact_id)
            .fetch_one(&mut **t)
            .await)?;
            let lead = Lead {
                id: new_id("led"),
                contact_id: contact_id.to_string(),
                lead_type: input.lead_type,
                contact_is_new: earlier == 0,
                source: input.source.clone(),
                comments: input.comments.clone(),
                details: input.details.clone(),
                created_at: from_ms(now),
            };
            in_tx!(&mut tx, t => sqlx::query(
                "INSERT INTO leads (id, account_id, contact_id, type, contact_is_new, source, comments, details, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&lead.id)
            .bind(account_id)
            .bind(contact_id)
            .bind(lead.lead_type.as_str())
            .bind(lead.contact_is_new)
            .bind(&lead.source)
            .bind(&lead.comments)
            .bind(Value::Object(lead.details.clone()).to_string())
            .bind(now)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
            let mut data = to_json(&lead);
            data["contact"] = to_json(&before.contact);
            let mut event = NewEvent::new("lead.created", data);
            event.actor = by.actor.clone();
            let outbox = commit_with(tx, account_id, event).await?;
            return Ok((lead, outbox));
        }
        Err(changed_meanwhile())
    }

    /// Adds a to-do to a contact (`todo.created`).
    pub async fn add_todo(
        &self,
        account_id: &str,
        contact_id: &str,
        input: TodoInput,
        by: &ChangedBy,
    ) -> Result<(Todo, Outbox)> {
        let input = clean_todo(input).map_err(Error::Validation)?;
        self.contact(account_id, contact_id).await?;
        let assigned_user = self.todo_user(account_id, &input).await?;
        let now = now_ms();
        let todo = Todo {
            id: new_id("tdo"),
            contact_id: contact_id.to_string(),
            title: input.title.clone(),
            due_at: input.due_at,
            done: input.done,
            assigned_user,
            created_at: from_ms(now),
            updated_at: from_ms(now),
        };
        let mut tx = self.begin_write().await?;
        in_tx!(&mut tx, t => sqlx::query(
            "INSERT INTO todos (id, account_id, contact_id, title, due_at, done, assigned_user_id, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8 WHERE EXISTS (SELECT 1 FROM contacts WHERE id = $3)",
        )
        .bind(&todo.id)
        .bind(account_id)
        .bind(contact_id)
        .bind(&todo.title)
        .bind(todo.due_at.map(|d| d.timestamp_millis()))
        .bind(todo.done)
        .bind(&input.assigned_user_id)
        .bind(now)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        let outbox =
            commit_with(tx, account_id, todo_event("todo.created", &todo, None, by)).await?;
        Ok((todo, outbox))
    }

    pub async fn todo(&self, account_id: &str, contact_id: &str, id: &str) -> Result<Todo> {
        let row: TodoRow = on_reader!(&self.db, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(format!(
            "{TODO_SELECT} WHERE t.account_id = $1 AND t.contact_id = $2 AND t.id = $3"
        )),
        )
        .bind(account_id)
        .bind(contact_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        Ok(row.into_todo())
    }

    /// Changes a to-do (`todo.updated` with `changes`, when something
    /// changed).
    pub async fn update_todo(
        &self,
        account_id: &str,
        contact_id: &str,
        id: &str,
        input: TodoInput,
        by: &ChangedBy,
    ) -> Result<(Todo, Outbox)> {
        let input = clean_todo(input).map_err(Error::Validation)?;
        let before = self.todo(account_id, contact_id, id).await?;
        let assigned_user = self.todo_user(account_id, &input).await?;
        let now = now_ms();
        let todo = Todo {
            title: input.title.clone(),
            due_at: input.due_at,
            done: input.done,
            assigned_user,
            updated_at: from_ms(now),
            ..before.clone()
        };
        let diff = changes(&to_json(&before.input()), &to_json(&todo.input()));
        let mut tx = self.begin_write().await?;
        in_tx!(&mut tx, t => sqlx::query(
            "UPDATE todos SET title = $3, due_at = $4, done = $5, assigned_user_id = $6, updated_at = $7 \
             WHERE account_id = $1 AND id = $2",
        )
        .bind(account_id)
        .bind(id)
        .bind(&todo.title)
        .bind(todo.due_at.map(|d| d.timestamp_millis()))
        .bind(todo.done)
        .bind(&input.assigned_user_id)
        .bind(now)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
        let mut outbox = Outbox::default();
        if !diff.is_empty() {
            outbox
                .add(
                    &mut tx,
                    account_id,
                    todo_event("todo.updated", &todo, Some(diff), by),
                )
                .await?;
        }
        tx.commit().await?;
        Ok((todo, outbox))
    }

    /// Deletes a to-do (`todo.deleted`, carrying it as it was).
    pub async fn delete_todo(
        &self,
        account_id: &str,
        contact_id: &str,
        id: &str,
        by: &ChangedBy,
    ) -> Result<Outbox> {
        let before = self.todo(account_id, contact_id, id).await?;
        let mut tx = self.begin_write().await?;
        in_tx!(&mut tx, t => sqlx::query("DELETE FROM todos WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
        commit_with(
            tx,
            account_id,
            todo_event("todo.deleted", &before, None, by),
        )
        .await
    }

    async fn todo_user(&self, account_id: &str, input: &TodoInput) -> Result<Option<AssignedUser>> {
        let Some(user_id) = &input.assigned_user_id else {
            return Ok(None);
        };
        match self.item(account_id, ItemKind::User, user_id).await {
            Ok(user) => Ok(Some(AssignedUser {
                id: user.id,
                name: user.name,
                company: user.company,
            })),
            Err(Error::NotFound) => {
                let users = self.items(account_id, ItemKind::User).await?;
                Err(unknown_item(
                    ItemKind::User,
                    user_id,
                    "assigned_user_id",
                    &users,
                ))
            }
            Err(e) => Err(e),
        }
    }
}

fn todo_event(
    event_type: &str,
    todo: &Todo,
    changes: Option<serde_json::Map<String, Value>>,
    by: &ChangedBy,
) -> NewEvent {
    let mut data = to_json(todo);
    if let Some(changes) = changes {
        data["changes"] = Value::Object(changes);
    }
    let mut event = NewEvent::new(event_type, data);
    event.actor = by.actor.clone();
    event
}

#[derive(sqlx::FromRow)]
struct LeadRow {
    id: String,
    contact_id: String,
    #[sqlx(rename = "type")]
    lead_type: String,
    contact_is_new: bool,
    source: Option<String>,
    comments: String,
    details: String,
    created_at: i64,
}

impl LeadRow {
    fn into_lead(self) -> Result<Lead> {
        Ok(Lead {
            lead_type: LeadType::parse(&self.lead_type)
                .ok_or_else(|| Error::Corrupt(format!("lead type {}", self.lead_type)))?,
            details: parse("lead details", &self.details)?,
            id: self.id,
            contact_id: self.contact_id,
            contact_is_new: self.contact_is_new,
            source: self.source,
            comments: self.comments,
            created_at: from_ms(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct TodoRow {
    id: String,
    contact_id: String,
    title: String,
    due_at: Option<i64>,
    done: bool,
    assigned_user_id: Option<String>,
    user_name: Option<String>,
    user_company: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TodoRow {
    fn into_todo(self) -> Todo {
        Todo {
            assigned_user: self.assigned_user_id.map(|id| AssignedUser {
                id,
                name: self.user_name.unwrap_or_default(),
                company: self.user_company,
            }),
            id: self.id,
            contact_id: self.contact_id,
            title: self.title,
            due_at: self.due_at.map(from_ms),
            done: self.done,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        }
    }
}
