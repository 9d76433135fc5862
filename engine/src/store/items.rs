//! The account's settings items: sources, categories, custom categories,
//! flags, statuses and users to assign. Contacts name them; the trigger
//! picker offers them. A new account starts with a few of each.

use serde_json::json;

use super::db::WriteTx;
use super::outbox::Outbox;
use super::{Error, Result, Store};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::{ChangedBy, ItemInput, ItemKind, NewEvent, RecordItem};
use crate::validate::FieldError;
use crate::validate::records::{clean_optional, clean_text};

/// What a new account starts with, so triggers such as "status added is
/// Thank You Note" work from the first day. Admins rename, add and delete.
const STARTER_ITEMS: &[(ItemKind, &str)] = &[
    (ItemKind::Status, "New"),
    (ItemKind::Status, "Contacted"),
    (ItemKind::Status, "Appointment set"),
    (ItemKind::Status, "Thank You Note"),
    (ItemKind::Status, "Sold"),
    (ItemKind::Status, "Lost"),
    (ItemKind::Flag, "VIP"),
    (ItemKind::Flag, "Do not call"),
    (ItemKind::Source, "Website"),
    (ItemKind::Source, "Phone"),
    (ItemKind::Source, "Walk-in"),
    (ItemKind::Source, "Referral"),
    (ItemKind::Category, "Sales"),
    (ItemKind::Category, "Service"),
];

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: String,
    kind: String,
    name: String,
    company: Option<String>,
    email: Option<String>,
    active: bool,
}

impl ItemRow {
    fn into_item(self) -> Result<RecordItem> {
        Ok(RecordItem {
            kind: ItemKind::parse(&self.kind)
                .ok_or_else(|| Error::Corrupt(format!("item kind {}", self.kind)))?,
            id: self.id,
            name: self.name,
            company: self.company,
            email: self.email,
            active: self.active,
        })
    }
}

const ITEM_COLUMNS: &str = "id, kind, name, company, email, active";

impl Store {
    /// Gives every account without any settings items the starter set.
    /// Runs at start-up; cheap when every account has some.
    pub async fn add_starter_items(&self) -> Result<()> {
        let bare: Vec<String> = on_reader!(&self.db, pool => sqlx::query_scalar(
            "SELECT id FROM accounts a WHERE NOT EXISTS \
             (SELECT 1 FROM record_items i WHERE i.account_id = a.id)",
        )
        .fetch_all(pool)
        .await)?;
        for account_id in bare {
            let mut tx = self.begin_write().await?;
            let now = now_ms();
            for &(kind, name) in STARTER_ITEMS {
                // Two processes starting at once both try; one set stays.
                in_tx!(&mut tx, t => sqlx::query(
                    "INSERT INTO record_items (id, account_id, kind, name, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, TRUE, $5, $5) ON CONFLICT DO NOTHING",
                )
                .bind(new_id("itm"))
                .bind(&account_id)
                .bind(kind.as_str())
                .bind(name)
                .bind(now)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()))?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// The account's items of one kind, by name.
    pub async fn items(&self, account_id: &str, kind: ItemKind) -> Result<Vec<RecordItem>> {
        let rows = on_reader!(&self.db, pool => sqlx::query_as::<_, ItemRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM record_items WHERE account_id = $1 AND kind = $2 ORDER BY name"
        )))
        .bind(account_id)
        .bind(kind.as_str())
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    pub async fn item(&self, account_id: &str, kind: ItemKind, id: &str) -> Result<RecordItem> {
        on_reader!(&self.db, pool => sqlx::query_as::<_, ItemRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM record_items WHERE account_id = $1 AND kind = $2 AND id = $3"
        )))
        .bind(account_id)
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?
        .into_item()
    }

    /// Adds an item; names are unique within a kind.
    pub async fn create_item(
        &self,
        account_id: &str,
        kind: ItemKind,
        input: ItemInput,
        by: &ChangedBy,
    ) -> Result<(RecordItem, Outbox)> {
        let input = clean_item(kind, input)?;
        let mut tx = self.begin_write().await?;
        let item = insert_item(&mut tx, account_id, kind, &input).await?;
        let outbox = item_event(&mut tx, account_id, &item, "created", None, by).await?;
        tx.commit().await?;
        Ok((item, outbox))
    }

    /// Renames an item (contacts that have it follow), changes its company
    /// or turns it off.
    pub async fn update_item(
        &self,
        account_id: &str,
        kind: ItemKind,
        id: &str,
        input: ItemInput,
        by: &ChangedBy,
    ) -> Result<(RecordItem, Outbox)> {
        let input = clean_item(kind, input)?;
        let before = self.item(account_id, kind, id).await?;
        let mut tx = self.begin_write().await?;
        in_tx!(&mut tx, t => sqlx::query(
            "UPDATE record_items SET name = $3, company = $4, email = $5, active = $6, updated_at = $7 \
             WHERE account_id = $1 AND id = $2",
        )
        .bind(account_id)
        .bind(id)
        .bind(&input.name)
        .bind(&input.company)
        .bind(&input.email)
        .bind(input.active)
        .bind(now_ms())
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| duplicate_name(e, kind, &input.name))?;
        if before.name != input.name {
            rename_on_contacts(&mut tx, account_id, kind, &before.name, &input.name).await?;
        }
        let item = RecordItem {
            id: id.to_string(),
            kind,
            name: input.name,
            company: input.company,
            email: input.email,
            active: input.active,
        };
        let diff = crate::model::records::changes(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&item).unwrap_or_default(),
        );
        let outbox = if diff.is_empty() {
            Outbox::default()
        } else {
            item_event(&mut tx, account_id, &item, "updated", Some(diff), by).await?
        };
        tx.commit().await?;
        Ok((item, outbox))
    }

    /// Deletes an item. Contacts keep a deleted status or flag by name; a
    /// user still assigned to contacts cannot be deleted (turn them off).
    pub async fn delete_item(
        &self,
        account_id: &str,
        kind: ItemKind,
        id: &str,
        by: &ChangedBy,
    ) -> Result<Outbox> {
        let item = self.item(account_id, kind, id).await?;
        let mut tx = self.begin_write().await?;
        if kind == ItemKind::User {
            let used: i64 = in_tx!(&mut tx, t => sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM contact_assignments WHERE user_id = $1) \
                      + (SELECT COUNT(*) FROM todos WHERE assigned_user_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut **t)
            .await)?;
            if used > 0 {
                return Err(Error::field(
                    "id",
                    "in_use",
                    format!(
                        "{} is assigned to contacts or to-dos ({used}); turn them off instead, \
                         or unassign them first.",
                        item.name
                    ),
                ));
            }
        }
        in_tx!(&mut tx, t => sqlx::query("DELETE FROM record_items WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))?;
        let outbox = item_event(&mut tx, account_id, &item, "deleted", None, by).await?;
        tx.commit().await?;
        Ok(outbox)
    }

    /// The active item of `kind` named `name`, or a field error that lists
    /// the names there are.
    pub(crate) async fn known_item(
        &self,
        account_id: &str,
        kind: ItemKind,
        name: &str,
        field: &str,
    ) -> Result<RecordItem> {
        let items = self.items(account_id, kind).await?;
        if let Some(item) = items.iter().find(|i| i.name == name && i.active) {
            return Ok(item.clone());
        }
        Err(unknown_item(kind, name, field, &items))
    }
}

/// The message for a name that is not one of the account's active items.
pub(crate) fn unknown_item(kind: ItemKind, name: &str, field: &str, items: &[RecordItem]) -> Error {
    let known: Vec<&str> = items
        .iter()
        .filter(|i| i.active)
        .map(|i| i.name.as_str())
        .collect();
    let listed = if known.is_empty() {
        format!(
            "there are none yet; add one under Settings › {}.",
            kind.plural()
        )
    } else {
        format!("choose one of: {}.", known.join(", "))
    };
    Error::field(
        field,
        &format!("unknown_{}", kind.as_str()),
        format!(
            "{} \"{name}\" is not one of this account's; {listed}",
            kind.label()
        ),
    )
}

fn clean_item(kind: ItemKind, input: ItemInput) -> Result<ItemInput> {
    let mut errors = Vec::new();
    let name = clean_text("name", &input.name, 100, &mut errors);
    if name.is_empty() && errors.is_empty() {
        errors.push(FieldError::new("name", "required", "Give it a name."));
    }
    let (company, email) = if kind == ItemKind::User {
        (
            clean_optional("company", input.company.as_deref(), 100, &mut errors),
            clean_optional("email", input.email.as_deref(), 254, &mut errors),
        )
    } else {
        (None, None)
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(ItemInput {
        name,
        company,
        email,
        active: input.active,
    })
}

fn duplicate_name(e: sqlx::Error, kind: ItemKind, name: &str) -> Error {
    Error::unique(
        e,
        "record_items_name_key",
        FieldError::new(
            "name",
            "duplicate_name",
            format!(
                "There is a {} named {name} already.",
                kind.label().to_lowercase()
            ),
        ),
    )
}

async fn insert_item(
    tx: &mut WriteTx,
    account_id: &str,
    kind: ItemKind,
    input: &ItemInput,
) -> Result<RecordItem> {
    let item = RecordItem {
        id: new_id("itm"),
        kind,
        name: input.name.clone(),
        company: input.company.clone(),
        email: input.email.clone(),
        active: input.active,
    };
    let now = now_ms();
    in_tx!(tx, t => sqlx::query(
        "INSERT INTO record_items (id, account_id, kind, name, company, email, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&item.id)
    .bind(account_id)
    .bind(kind.as_str())
    .bind(&item.name)
    .bind(&item.company)
    .bind(&item.email)
    .bind(item.active)
    .bind(now)
    .execute(&mut **t)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| duplicate_name(e, kind, &item.name))?;
    Ok(item)
}

/// Contacts name statuses, flags, sources and categories by name: a
/// rename carries over to them.
async fn rename_on_contacts(
    tx: &mut WriteTx,
    account_id: &str,
    kind: ItemKind,
    from: &str,
    to: &str,
) -> Result<()> {
    let sql = match kind {
        ItemKind::Status | ItemKind::Flag => {
            "UPDATE contact_labels SET name = $4 WHERE account_id = $1 AND kind = $2 AND name = $3"
        }
        ItemKind::Source => {
            "UPDATE contacts SET source = $4 WHERE account_id = $1 AND $2 = 'source' AND source = $3"
        }
        ItemKind::Category => {
            "UPDATE contacts SET category = $4 WHERE account_id = $1 AND $2 = 'category' AND category = $3"
        }
        ItemKind::CustomCategory | ItemKind::User => return Ok(()),
    };
    in_tx!(tx, t => sqlx::query(sql)
        .bind(account_id)
        .bind(kind.as_str())
        .bind(from)
        .bind(to)
        .execute(&mut **t)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// `source.created` and the like, for the kinds the catalog names.
async fn item_event(
    tx: &mut WriteTx,
    account_id: &str,
    item: &RecordItem,
    verb: &str,
    changes: Option<serde_json::Map<String, serde_json::Value>>,
    by: &ChangedBy,
) -> Result<Outbox> {
    let mut outbox = Outbox::default();
    if !item.kind.emits() {
        return Ok(outbox);
    }
    let mut data = json!({"id": item.id, "name": item.name, "active": item.active});
    if let Some(changes) = changes {
        data["changes"] = serde_json::Value::Object(changes);
    }
    let mut event = NewEvent::new(&format!("{}.{verb}", item.kind.as_str()), data);
    event.actor = by.actor.clone();
    outbox.add(tx, account_id, event).await?;
    Ok(outbox)
}
