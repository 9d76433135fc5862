//! Console users: creating them (the first admin only while there is
//! none), signing in, and their passwords (argon2, hashed off the async
//! threads).

use rand::Rng;

use super::db::WriteTx;
use super::{Error, Result, Store};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::{Role, User};
use crate::validate::FieldError;

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        Ok(
            on_reader!(&self.db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await)?,
        )
    }

    /// Adds a user; fails with a field error on a bad or taken email or a
    /// short password.
    pub async fn create_user(
        &self,
        account_id: &str,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User> {
        self.insert_user(account_id, email, password, role, false)
            .await
    }

    /// Creates the installation's first admin, only while there are no users
    /// at all (the check and the insert are one statement).
    pub async fn create_first_admin(&self, email: &str, password: &str) -> Result<User> {
        // Checked before hashing too, so a flood of setups costs no hashing.
        if self.count_users().await? > 0 {
            return Err(already_set_up());
        }
        let account = self.ensure_default_account().await?;
        self.insert_user(&account.id, email, password, Role::Admin, true)
            .await
    }

    async fn insert_user(
        &self,
        account_id: &str,
        email: &str,
        password: &str,
        role: Role,
        only_if_first: bool,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        check_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let user = User {
            id: new_id("usr"),
            account_id: account_id.to_string(),
            email,
            role,
        };
        let sql = if only_if_first {
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM users)"
        } else {
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        };
        let mut tx = self.begin_write().await?;
        if only_if_first && let WriteTx::Postgres(t) = &mut tx {
            // Two setups at once: the second waits, then finds the first's
            // admin (SQLite's writer lock does the same).
            sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut **t)
                .await?;
        }
        let inserted = in_tx!(&mut tx, t => sqlx::query(sql)
            .bind(&user.id)
            .bind(&user.account_id)
            .bind(&user.email)
            .bind(&hash)
            .bind(user.role.as_str())
            .bind(now_ms())
            .execute(&mut **t)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| {
            Error::unique(
                e,
                "users_email_key",
                FieldError::new(
                    "email",
                    "duplicate_email",
                    format!("A user with the email {} already exists.", user.email),
                ),
            )
        })?;
        tx.commit().await?;
        if inserted == 1 {
            Ok(user)
        } else {
            Err(already_set_up())
        }
    }

    /// The user with this email and password, or `None`. Hashing runs off the
    /// async threads; an unknown email costs the same time as a wrong password.
    pub async fn authenticate(&self, email: &str, password: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        // No stored email holds a NUL, and PostgreSQL refuses to look one up.
        let row = if email.contains('\0') {
            None
        } else {
            on_reader!(&self.db, pool => sqlx::query_as::<_, UserRow>(
                "SELECT id, account_id, email, role, password_hash FROM users WHERE email = $1",
            )
            .bind(&email)
            .fetch_optional(pool)
            .await)?
        };
        let hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = verify_password(password.to_string(), hash).await?;
        Ok(row.filter(|_| ok).and_then(UserRow::into_user))
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let row = on_reader!(&self.db, pool => sqlx::query_as::<_, UserRow>(
            "SELECT id, account_id, email, role, password_hash FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.and_then(UserRow::into_user))
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    account_id: String,
    email: String,
    role: String,
    password_hash: String,
}

impl UserRow {
    fn into_user(self) -> Option<User> {
        Some(User {
            id: self.id,
            account_id: self.account_id,
            email: self.email,
            role: Role::parse(&self.role)?,
        })
    }
}

fn already_set_up() -> Error {
    Error::field(
        "email",
        "already_set_up",
        "An admin already exists; sign in instead.",
    )
}

fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && !email.contains(|c: char| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Error::field(
            "email",
            "invalid_email",
            "Enter an email address like jane@example.com.",
        ))
    }
}

pub const MIN_PASSWORD: usize = 8;

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        Err(Error::field(
            "password",
            "weak_password",
            format!("Use at least {MIN_PASSWORD} characters."),
        ))
    } else if password.len() > 1024 {
        Err(Error::field(
            "password",
            "weak_password",
            "Use at most 1024 bytes.",
        ))
    } else {
        Ok(())
    }
}

/// A real argon2 hash of a random password, verified against when the email
/// is unknown so that a login takes the same time either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5tiNgILNm4NkEzrHDeMNn5PYBGd1I6vMMpkxTQ1Ou0A";

/// Hashes and checks at once: one per two cores (at least one). Each
/// takes about 19 MiB and a core for tens of milliseconds, so a flood of
/// sign-ins waits here, costing a few bytes each, instead of filling the
/// memory and the blocking threads; and half the cores stay with
/// delivery (`postback bench-floods`: with one hash per core, deliveries
/// fell to half their speed during 500 concurrent wrong sign-ins).
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    tokio::sync::Semaphore::new((cores / 2).max(1))
});

/// Runs one password hash or check behind [`HASHING`].
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| Error::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Hash(e.to_string()))?
}

async fn hash_password(password: String) -> Result<String> {
    hashing(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| Error::Hash(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Hash(e.to_string()))
    })
    .await
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    hashing(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::Hash(e.to_string()))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
}
