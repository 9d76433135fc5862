//! Webhooks: saving them (every rule checked, the title unique among the
//! live ones), turning them on and off, deleting them (the row stays for
//! the history), their stored row, and signing-secret rotation.

use super::{Error, Result, Store, found};
use crate::clock::{from_ms, now_ms};
use crate::ids::{new_id, new_signing_secret};
use crate::model::{Auth, WebhookInput, WebhookTitle, WebhookView};
use crate::validate::{FieldError, validate_webhook};

/// How long the secret before a rotation keeps signing beside the new one.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

/// Binds the columns `title` to `active` of a [`WebhookRow`], in the order
/// the insert and the update both number them ($3 to $16).
macro_rules! bind_webhook_columns {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.title)
            .bind(&$row.url)
            .bind($row.port)
            .bind(&$row.method)
            .bind(&$row.format)
            .bind(&$row.auth)
            .bind(&$row.headers)
            .bind(&$row.triggers)
            .bind(&$row.mapping)
            .bind(&$row.execution_mode)
            .bind(&$row.delivery_mode)
            .bind(&$row.retry)
            .bind($row.timeout_ms)
            .bind($row.active)
    };
}

/// The columns [`WebhookRow`] reads, as a literal for `concat!`.
macro_rules! webhook_columns {
    () => {
        "id, account_id, title, url, port, method, format, auth, headers, triggers, mapping, \
         execution_mode, delivery_mode, retry, timeout_ms, active, disabled_reason, \
         signing_secret, previous_secret, previous_secret_until, created_at, updated_at"
    };
}

/// A webhook with its real auth secrets, and the secrets requests are
/// signed with.
#[derive(Clone, Debug)]
pub struct WebhookSecrets {
    pub webhook: WebhookInput,
    /// The current one first; during the 24 hours after a rotation also the
    /// one before.
    pub signing_secrets: Vec<String>,
}

/// Where a webhook's requests go: its host and port. A stored secret is
/// sent only where it was typed for.
fn destination(url: &str, port: Option<u16>) -> Option<(String, u16)> {
    let url = crate::render::effective_url(url, port).ok()?;
    Some((
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// The field error of a kept secret whose webhook now points elsewhere.
fn credentials_again(auth: &Auth) -> FieldError {
    let field = match auth {
        Auth::Basic { .. } => "auth.password",
        _ => "auth.value",
    };
    FieldError::new(
        field,
        "credentials_required",
        "The payload URL now points to another host or port: type the credentials again \
         (a saved secret is only sent where it was typed for).",
    )
}

impl Store {
    /// Validates and stores a new webhook. Returns it with its signing
    /// secret, which is shown to the admin this once.
    pub async fn create_webhook(
        &self,
        account_id: &str,
        input: WebhookInput,
    ) -> Result<(WebhookView, String)> {
        let input = self.checked(account_id, None, input).await?;
        let id = new_id("wh");
        let secret = new_signing_secret();
        let now = now_ms();
        let row = self.sealed(WebhookRow::from_input(
            &id, account_id, &input, &secret, now,
        )?);
        let result = on_writer!(&self.db, pool => bind_webhook_columns!(
            sqlx::query(
                "INSERT INTO webhooks (id, account_id, title, url, port, method, format, auth, headers, \
                 triggers, mapping, execution_mode, delivery_mode, retry, timeout_ms, active, \
                 disabled_reason, signing_secret, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, $17, $18, $18)",
            )
            .bind(&row.id)
            .bind(&row.account_id),
            row
        )
        .bind(&row.signing_secret)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
        result.map_err(title_taken)?;
        Ok((self.webhook(account_id, &id).await?, secret))
    }

    /// Replaces a webhook's settings. A masked secret keeps the stored one.
    pub async fn update_webhook(
        &self,
        account_id: &str,
        id: &str,
        input: WebhookInput,
    ) -> Result<WebhookView> {
        let stored = self.webhook_row(account_id, id).await?;
        let stored_auth: Auth = serde_json::from_str(&stored.auth).unwrap_or_default();
        let stored_port = stored.port.and_then(|p| u16::try_from(p).ok());
        if input.auth.keeps_stored_secret(&stored_auth)
            && destination(&stored.url, stored_port) != destination(&input.url, input.port)
        {
            return Err(Error::Validation(vec![credentials_again(&input.auth)]));
        }
        let input = WebhookInput {
            auth: input.auth.merge_secret(&stored_auth),
            ..input
        };
        let input = self.checked(account_id, Some(id), input).await?;
        let row = self.sealed(WebhookRow::from_input(
            id,
            account_id,
            &input,
            &stored.signing_secret,
            now_ms(),
        )?);
        // Turning a webhook back on clears the reason it was turned off.
        let result = on_writer!(&self.db, pool => bind_webhook_columns!(
            sqlx::query(
                "UPDATE webhooks SET title = $3, url = $4, port = $5, method = $6, format = $7, auth = $8, \
                 headers = $9, triggers = $10, mapping = $11, execution_mode = $12, delivery_mode = $13, \
                 retry = $14, timeout_ms = $15, active = $16, updated_at = $17, \
                 disabled_reason = CASE WHEN $16 THEN NULL ELSE disabled_reason END \
                 WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
            )
            .bind(account_id)
            .bind(id),
            row
        )
        .bind(row.updated_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
        found(result.map_err(title_taken)?)?;
        self.webhook(account_id, id).await
    }

    /// Turns a webhook on or off without touching anything else.
    pub async fn set_webhook_active(
        &self,
        account_id: &str,
        id: &str,
        active: bool,
    ) -> Result<WebhookView> {
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE webhooks SET active = $3, updated_at = $4, \
             disabled_reason = CASE WHEN $3 THEN NULL ELSE disabled_reason END \
             WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(account_id)
        .bind(id)
        .bind(active)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        found(done)?;
        self.webhook(account_id, id).await
    }

    /// Deletes a webhook. Its row stays (marked deleted) so that delivery
    /// history still names it; its title is free again.
    pub async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<()> {
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE webhooks SET deleted_at = $3, active = FALSE \
             WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(account_id)
        .bind(id)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        found(done)
    }

    /// The webhook a user chose to run on records (execute, mass post);
    /// one that is not there is the field's fault.
    pub(crate) async fn chosen_webhook(&self, account_id: &str, id: &str) -> Result<WebhookView> {
        match self.webhook(account_id, id).await {
            Err(Error::NotFound) => Err(Error::field(
                "webhook_id",
                "unknown_webhook",
                "There is no such webhook in this account; choose one from the list.",
            )),
            other => other,
        }
    }

    /// One live webhook of the account, secrets masked.
    pub async fn webhook(&self, account_id: &str, id: &str) -> Result<WebhookView> {
        self.webhook_row(account_id, id).await?.into_view()
    }

    /// A webhook as the sender needs it. Never hand this to a page or an
    /// API answer.
    pub async fn webhook_with_secrets(&self, account_id: &str, id: &str) -> Result<WebhookSecrets> {
        let row = self.webhook_row(account_id, id).await?;
        let auth: Auth = serde_json::from_str(&row.auth).unwrap_or_default();
        let mut secrets = vec![row.signing_secret.clone()];
        if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until)
            && until > now_ms()
        {
            secrets.push(previous.clone());
        }
        let view = row.into_view()?;
        Ok(WebhookSecrets {
            webhook: WebhookInput { auth, ..view.input },
            signing_secrets: secrets,
        })
    }

    /// Replaces the signing secret; the old one keeps signing too for
    /// [`ROTATION_OVERLAP_MS`]. Returns the new secret: shown this once.
    pub async fn rotate_signing_secret(&self, account_id: &str, id: &str) -> Result<String> {
        let secret = new_signing_secret();
        let now = now_ms();
        let done = on_writer!(&self.db, pool => sqlx::query(
            "UPDATE webhooks SET previous_secret = signing_secret, previous_secret_until = $3, \
             signing_secret = $4, updated_at = $5 WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(account_id)
        .bind(id)
        .bind(now + ROTATION_OVERLAP_MS)
        .bind(self.sealer.seal(&secret, id))
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        found(done)?;
        Ok(secret)
    }

    /// The account's live webhooks, newest first, secrets masked.
    pub async fn list_webhooks(&self, account_id: &str) -> Result<Vec<WebhookView>> {
        let rows = on_reader!(&self.db, pool => sqlx::query_as::<_, WebhookRow>(concat!(
            "SELECT ", webhook_columns!(), " FROM webhooks WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(account_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|row| self.opened(row)?.into_view())
            .collect()
    }

    /// A live webhook's row, its secrets opened.
    async fn webhook_row(&self, account_id: &str, id: &str) -> Result<WebhookRow> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, WebhookRow>(concat!(
            "SELECT ", webhook_columns!(), " FROM webhooks WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .ok_or(Error::NotFound)?;
        self.opened(row)
    }

    /// `row` with its secrets sealed, to be written.
    fn sealed(&self, row: WebhookRow) -> WebhookRow {
        WebhookRow {
            auth: self.sealer.seal(&row.auth, &row.id),
            signing_secret: self.sealer.seal(&row.signing_secret, &row.id),
            ..row
        }
    }

    /// `row` as read, with its secrets opened.
    fn opened(&self, row: WebhookRow) -> Result<WebhookRow> {
        let open = |stored: &str| self.sealer.open(stored, &row.id);
        Ok(WebhookRow {
            auth: open(&row.auth)?,
            signing_secret: open(&row.signing_secret)?,
            previous_secret: row.previous_secret.as_deref().map(open).transpose()?,
            ..row
        })
    }

    /// Seals again every secret not sealed with the current key: those
    /// stored before sealing existed, or under the previous key during a
    /// rotation. Runs at every start (nothing to do once all are current).
    /// How many webhooks it sealed again.
    pub async fn reseal_secrets(&self) -> Result<u64> {
        let rows = on_writer!(&self.db, pool => sqlx::query_as::<_, (String, String, String, Option<String>)>(
            "SELECT id, auth, signing_secret, previous_secret FROM webhooks",
        )
        .fetch_all(pool)
        .await)?;
        let mut resealed = 0;
        for (id, auth, signing, previous) in rows {
            let current = |v: &str| self.sealer.is_current(v);
            if current(&auth) && current(&signing) && previous.as_deref().is_none_or(current) {
                continue;
            }
            let reseal = |v: &str| -> Result<String> {
                Ok(self.sealer.seal(&self.sealer.open(v, &id)?, &id))
            };
            let previous = previous.as_deref().map(reseal).transpose()?;
            on_writer!(&self.db, pool => sqlx::query(
                "UPDATE webhooks SET auth = $2, signing_secret = $3, previous_secret = $4 WHERE id = $1",
            )
            .bind(&id)
            .bind(reseal(&auth)?)
            .bind(reseal(&signing)?)
            .bind(previous)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
            resealed += 1;
        }
        Ok(resealed)
    }

    /// Runs every validation rule, including the title's uniqueness.
    async fn checked(
        &self,
        account_id: &str,
        id: Option<&str>,
        input: WebhookInput,
    ) -> Result<WebhookInput> {
        let input = input.trimmed();
        let mut errors =
            validate_webhook(&input, &crate::catalog::Catalog::builtin(), self.validate);
        if !input.title.is_empty() {
            let taken = on_reader!(&self.db, pool => sqlx::query_scalar::<_, String>(
                "SELECT id FROM webhooks WHERE account_id = $1 AND title = $2 AND deleted_at IS NULL",
            )
            .bind(account_id)
            .bind(&input.title)
            .fetch_optional(pool)
            .await)?;
            if taken.is_some_and(|other| Some(other.as_str()) != id) {
                errors.insert(0, duplicate_title(&input.title));
            }
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// Every webhook of the account, deleted ones too: the history names
    /// deliveries of deleted webhooks.
    pub async fn webhook_titles(&self, account_id: &str) -> Result<Vec<WebhookTitle>> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_as::<_, WebhookTitle>(
            "SELECT id, title, deleted_at IS NOT NULL AS deleted, \
             (active AND deleted_at IS NULL) AS active FROM webhooks WHERE account_id = $1 \
             ORDER BY deleted_at IS NOT NULL, title, id",
        )
        .bind(account_id)
        .fetch_all(pool)
        .await)?,
        )
    }
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    account_id: String,
    title: String,
    url: String,
    port: Option<i32>,
    method: String,
    format: String,
    auth: String,
    headers: String,
    triggers: String,
    mapping: String,
    execution_mode: String,
    delivery_mode: String,
    retry: String,
    timeout_ms: i32,
    active: bool,
    disabled_reason: Option<String>,
    signing_secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl WebhookRow {
    fn from_input(
        id: &str,
        account_id: &str,
        input: &WebhookInput,
        secret: &str,
        now: i64,
    ) -> Result<Self> {
        Ok(WebhookRow {
            id: id.to_string(),
            account_id: account_id.to_string(),
            title: input.title.clone(),
            url: input.url.clone(),
            port: input.port.map(i32::from),
            method: input.method.as_str().to_string(),
            format: input.format.as_str().to_string(),
            auth: to_json(&input.auth)?,
            headers: to_json(&input.headers)?,
            triggers: to_json(&input.triggers)?,
            mapping: to_json(&input.mapping)?,
            execution_mode: input.execution_mode.as_str().to_string(),
            delivery_mode: input.delivery_mode.as_str().to_string(),
            retry: to_json(&input.retry)?,
            timeout_ms: i32::try_from(input.timeout_ms).unwrap_or(i32::MAX),
            active: input.active,
            disabled_reason: None,
            signing_secret: secret.to_string(),
            previous_secret: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
        })
    }

    fn into_view(self) -> Result<WebhookView> {
        let corrupt = |what: &str| Error::Corrupt(format!("webhook {}: bad {what}", self.id));
        let auth: Auth = serde_json::from_str(&self.auth).map_err(|_| corrupt("auth"))?;
        let input = WebhookInput {
            title: self.title.clone(),
            url: self.url.clone(),
            port: self.port.and_then(|p| u16::try_from(p).ok()),
            method: crate::model::Method::parse(&self.method).ok_or_else(|| corrupt("method"))?,
            format: crate::model::Format::parse(&self.format).ok_or_else(|| corrupt("format"))?,
            auth: auth.masked(),
            headers: serde_json::from_str(&self.headers).map_err(|_| corrupt("headers"))?,
            triggers: serde_json::from_str(&self.triggers).map_err(|_| corrupt("triggers"))?,
            mapping: serde_json::from_str(&self.mapping).map_err(|_| corrupt("mapping"))?,
            execution_mode: crate::model::ExecutionMode::parse(&self.execution_mode)
                .ok_or_else(|| corrupt("execution_mode"))?,
            delivery_mode: crate::model::DeliveryMode::parse(&self.delivery_mode)
                .ok_or_else(|| corrupt("delivery_mode"))?,
            retry: serde_json::from_str(&self.retry).map_err(|_| corrupt("retry"))?,
            timeout_ms: u32::try_from(self.timeout_ms).unwrap_or_default(),
            active: self.active,
        };
        Ok(WebhookView {
            id: self.id,
            input,
            disabled_reason: self.disabled_reason,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Corrupt(format!("cannot store a webhook: {e}")))
}

fn duplicate_title(title: &str) -> FieldError {
    FieldError::new(
        "title",
        "duplicate_title",
        format!("Another webhook is already called {title:?}."),
    )
}

/// A title another save took between the check and the write.
fn title_taken(e: sqlx::Error) -> Error {
    Error::unique(
        e,
        "webhooks_title_key",
        FieldError::new(
            "title",
            "duplicate_title",
            "Another webhook already has this title.",
        ),
    )
}
