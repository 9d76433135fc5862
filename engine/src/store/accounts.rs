//! Accounts: the tenants that own webhooks, users, keys and events.

use super::{Error, Result, Store};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::Account;
use crate::validate::FieldError;

/// The account a new installation starts with.
pub const DEFAULT_ACCOUNT: &str = "default";

impl Store {
    /// The account `default`, created on the first start.
    pub async fn ensure_default_account(&self) -> Result<Account> {
        if let Some(account) = self.account_by_name(DEFAULT_ACCOUNT).await? {
            return Ok(account);
        }
        match self.create_account(DEFAULT_ACCOUNT, None).await {
            // Made by another call meanwhile.
            Err(Error::Validation(_)) => self
                .account_by_name(DEFAULT_ACCOUNT)
                .await?
                .ok_or(Error::NotFound),
            made => made,
        }
    }

    pub async fn create_account(&self, name: &str, external_ref: Option<&str>) -> Result<Account> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::field("name", "required", "Give the account a name."));
        }
        let account = Account {
            id: new_id("acc"),
            name: name.to_string(),
            external_ref: external_ref.map(str::to_string),
        };
        on_writer!(&self.db, pool => sqlx::query(
            "INSERT INTO accounts (id, name, external_ref, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&account.id)
        .bind(&account.name)
        .bind(&account.external_ref)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| {
            Error::unique(
                e,
                "accounts_name_key",
                FieldError::new(
                    "name",
                    "duplicate_name",
                    format!("An account named {name} exists."),
                ),
            )
        })?;
        self.add_starter_items().await?;
        Ok(account)
    }

    pub async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        Ok(on_reader!(&self.db, pool => sqlx::query_as::<_, Account>(
            "SELECT id, name, external_ref FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn account(&self, id: &str) -> Result<Account> {
        on_reader!(&self.db, pool => sqlx::query_as::<_, Account>(
            "SELECT id, name, external_ref FROM accounts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)
    }

    /// The ids of every account, for work done account by account.
    pub async fn account_ids(&self) -> Result<Vec<String>> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_scalar::<_, String>(
            "SELECT id FROM accounts ORDER BY id",
        )
        .fetch_all(pool)
        .await)?,
        )
    }

    /// Renames an account and sets the receiver's id for it
    /// (`external_ref`), which every payload carries from now on.
    pub async fn update_account(
        &self,
        id: &str,
        name: &str,
        external_ref: Option<&str>,
    ) -> Result<Account> {
        use crate::validate::records::{clean_optional, clean_text};
        let mut errors = Vec::new();
        let name = clean_text("name", name, 100, &mut errors);
        if name.is_empty() && errors.is_empty() {
            errors.push(FieldError::new(
                "name",
                "required",
                "Give the account a name.",
            ));
        }
        let external_ref = clean_optional("external_ref", external_ref, 200, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let updated = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE accounts SET name = $2, external_ref = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(&name)
        .bind(&external_ref)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| {
            Error::unique(
                e,
                "accounts_name_key",
                FieldError::new(
                    "name",
                    "duplicate_name",
                    format!("An account named {name} exists."),
                ),
            )
        })?;
        if updated == 0 {
            return Err(Error::NotFound);
        }
        Ok(Account {
            id: id.to_string(),
            name,
            external_ref,
        })
    }
}
