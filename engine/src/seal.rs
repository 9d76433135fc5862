//! Secrets at rest: a webhook's credentials and signing secrets are stored
//! sealed with AES-256-GCM, so the database and its backups do not hold
//! them in clear. A sealed value reads `pbs1.<key id>.<base64 of nonce and
//! ciphertext>`; the key id (the first bytes of the key's SHA-256) says
//! which key sealed it, so a key can be rotated: the new key seals, the
//! previous one still opens until everything is sealed again
//! ([`crate::store::Store::reseal_secrets`]). A value without the prefix
//! was stored before sealing existed and is read as it is (and sealed at
//! the next start).
//!
//! The key: `POSTBACK_SECRET_KEY` (64 hex digits or base64 of 32 bytes;
//! `POSTBACK_SECRET_KEY_PREVIOUS` during a rotation); otherwise, for a
//! SQLite file, the key file beside it (`postback.key`, made on first start
//! with mode 0600; a second line holds the previous key during a
//! rotation). PostgreSQL has no file beside it: it needs the variable.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// What every sealed value starts with.
const PREFIX: &str = "pbs1.";

/// The variable that holds the key, and the one for the previous key.
pub const KEY_VAR: &str = "POSTBACK_SECRET_KEY";
pub const PREVIOUS_KEY_VAR: &str = "POSTBACK_SECRET_KEY_PREVIOUS";

/// The key file's name, beside a SQLite database.
pub const KEY_FILE: &str = "postback.key";

/// Why secrets cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the secret key is not 64 hex digits or base64 of 32 bytes")]
    BadKey,
    #[error(
        "a secret was sealed with a key Postback does not have (key id {0}); \
         set {KEY_VAR} (or {PREVIOUS_KEY_VAR}) to the key it was sealed with"
    )]
    UnknownKey(String),
    #[error("a sealed secret does not open: it was changed, or belongs to another row")]
    Damaged,
    #[error(
        "PostgreSQL needs the key that seals secrets: set {KEY_VAR} to 64 hex digits \
         (make one with `postback secret-key new`)"
    )]
    NoKeyForPostgres,
    #[error("the key file {0}: {1}")]
    KeyFile(PathBuf, std::io::Error),
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn parse(text: &str) -> Result<Key, SealError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SealError::BadKey)?
        } else {
            B64.decode(text).map_err(|_| SealError::BadKey)?
        };
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let digest = Sha256::digest(&bytes);
        Ok(Key {
            id: digest[..4].iter().map(|b| format!("{b:02x}")).collect(),
            cipher: Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?,
        })
    }
}

/// Seals with the current key; opens with it or the previous one.
pub struct Sealer {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.current.id)
            .finish_non_exhaustive()
    }
}

/// A new random key, as 64 hex digits.
pub fn new_key() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sealer {
    /// A sealer with `current` (and, during a rotation, `previous`).
    pub fn new(current: &str, previous: Option<&str>) -> Result<Sealer, SealError> {
        Ok(Sealer {
            current: Key::parse(current)?,
            previous: previous
                .filter(|p| !p.trim().is_empty())
                .map(Key::parse)
                .transpose()?,
        })
    }

    /// The key for the database at `url`: `key` and `previous` (the
    /// variables' values) when set; else, for a SQLite file, its key file,
    /// made when missing; a random one for an in-memory database.
    pub fn for_database(
        url: &str,
        key: Option<&str>,
        previous: Option<&str>,
    ) -> Result<Sealer, SealError> {
        if let Some(key) = key.filter(|k| !k.trim().is_empty()) {
            return Sealer::new(key, previous);
        }
        match sqlite_folder(url) {
            Some(Some(folder)) => Sealer::from_key_file(&folder.join(KEY_FILE)),
            Some(None) => Sealer::new(&new_key(), None),
            None => Err(SealError::NoKeyForPostgres),
        }
    }

    /// The key in `path` (its first line; the previous key on the second),
    /// made with a new key and mode 0600 when there is no file.
    pub fn from_key_file(path: &Path) -> Result<Sealer, SealError> {
        let fail = |e| SealError::KeyFile(path.to_path_buf(), e);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = new_key();
                write_key_file(path, &[&key]).map_err(fail)?;
                key
            }
            Err(e) => return Err(fail(e)),
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let current = lines.next().ok_or(SealError::BadKey)?;
        Sealer::new(current, lines.next())
    }

    /// Seals `plain`, bound to `owner` (the row it belongs to: a sealed
    /// value copied to another row does not open there).
    pub fn seal(&self, plain: &str, owner: &str) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .expect("AES-GCM seals any message under 64 GiB");
        let mut bytes = nonce_bytes.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}.{}", self.current.id, B64.encode(bytes))
    }

    /// Opens a stored value of `owner`; a value stored before sealing
    /// existed is returned as it is.
    pub fn open(&self, stored: &str, owner: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, body) = rest.split_once('.').ok_or(SealError::Damaged)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_string()))?;
        let bytes = B64.decode(body).map_err(|_| SealError::Damaged)?;
        if bytes.len() < 12 {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Damaged)?;
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SealError::Damaged)
    }

    /// Whether `stored` is sealed with the current key (nothing to redo).
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(id, _)| id == self.current.id)
    }

    /// The current key's id, for messages.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }
}

/// `Some(folder)` of a SQLite file URL, `Some(None)` for an in-memory
/// SQLite database, `None` for anything else.
fn sqlite_folder(url: &str) -> Option<Option<PathBuf>> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Some(None);
    }
    let folder = Path::new(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Some(Some(if folder.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        folder
    }))
}

/// Writes `keys` (current first) to `path` with mode 0600, replacing it
/// in one step (a new file renamed over the old), so a crash leaves the
/// old file or the new one, never half of one.
pub fn write_key_file(path: &Path, keys: &[&str]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    let fresh = path.with_extension("key.new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&fresh)?;
    for key in keys {
        writeln!(file, "{key}")?;
    }
    file.sync_all()?;
    std::fs::rename(&fresh, path)
}

/// The key file of the SQLite database at `url`, if it is a file.
pub fn key_file_of(url: &str) -> Option<PathBuf> {
    sqlite_folder(url)
        .flatten()
        .map(|folder| folder.join(KEY_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let sealer = Sealer::new(&new_key(), None).unwrap();
        let sealed = sealer.seal("Bearer top-secret", "wh_1");
        assert!(sealed.starts_with("pbs1.") && !sealed.contains("top-secret"));
        assert_ne!(
            sealed,
            sealer.seal("Bearer top-secret", "wh_1"),
            "a fresh nonce"
        );
        assert_eq!(sealer.open(&sealed, "wh_1").unwrap(), "Bearer top-secret");
        assert!(matches!(
            sealer.open(&sealed, "wh_2"),
            Err(SealError::Damaged)
        ));
        let other = Sealer::new(&new_key(), None).unwrap();
        assert!(matches!(
            other.open(&sealed, "wh_1"),
            Err(SealError::UnknownKey(_))
        ));
        assert_eq!(
            sealer.open("stored before sealing", "wh_1").unwrap(),
            "stored before sealing"
        );
        assert!(matches!(
            sealer.open("pbs1.nodot", "wh_1"),
            Err(SealError::Damaged)
        ));
    }

    #[test]
    fn during_a_rotation_the_previous_key_still_opens() {
        let (old, new) = (new_key(), new_key());
        let before = Sealer::new(&old, None).unwrap().seal("s3cret", "wh_1");
        let rotating = Sealer::new(&new, Some(&old)).unwrap();
        assert!(!rotating.is_current(&before));
        assert_eq!(rotating.open(&before, "wh_1").unwrap(), "s3cret");
        assert!(rotating.is_current(&rotating.seal("s3cret", "wh_1")));
    }

    #[test]
    fn keys_are_hex_or_base64_of_32_bytes() {
        assert!(Sealer::new(&"ab".repeat(32), None).is_ok());
        assert!(Sealer::new(&B64.encode([7u8; 32]), None).is_ok());
        for bad in ["", "abc", &"ab".repeat(31), &B64.encode([7u8; 16])] {
            assert!(
                matches!(Sealer::new(bad, None), Err(SealError::BadKey)),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_sqlite_file_gets_a_private_key_file_beside_it_and_keeps_it() {
        let folder = std::env::temp_dir().join(crate::ids::new_id("sealtest"));
        let url = format!("sqlite://{}/postback.db?mode=rwc", folder.display());
        let first = Sealer::for_database(&url, None, None).unwrap();
        let file = folder.join(KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Sealer::for_database(&url, None, None).unwrap();
        assert_eq!(first.key_id(), again.key_id(), "the same key next start");
        let env = new_key();
        let from_env = Sealer::for_database(&url, Some(&env), None).unwrap();
        assert_ne!(from_env.key_id(), first.key_id(), "the variable wins");
        assert!(matches!(
            Sealer::for_database("postgres://u@localhost/db", None, None),
            Err(SealError::NoKeyForPostgres)
        ));
        assert!(Sealer::for_database("sqlite::memory:", None, None).is_ok());
        std::fs::remove_dir_all(folder).unwrap();
    }
}
