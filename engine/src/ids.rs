//! Ids and secrets: readable random ids that sort by creation time, and
//! the Standard Webhooks signing secrets.

use rand::Rng;

use crate::clock::now_ms;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A random id with a readable prefix, e.g. `wh_3k9x…`.
pub fn new_id(prefix: &str) -> String {
    // Nine base-36 digits of the millisecond clock, then eleven random ones:
    // ids made later sort later, so new rows land at the end of every index
    // on an id instead of on random pages (a batch then writes a few pages
    // to the WAL, not one per row).
    let mut clock = u64::try_from(now_ms()).unwrap_or(0);
    let mut head = [b'0'; 9];
    for digit in head.iter_mut().rev() {
        *digit = ALPHABET[(clock % 36) as usize];
        clock /= 36;
    }
    format!(
        "{prefix}_{}{}",
        String::from_utf8_lossy(&head),
        random_base36(11)
    )
}

/// Whether `s` has the shape of an id made by [`new_id`] with `prefix`.
pub fn looks_like_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| rest.len() == 20 && rest.bytes().all(|b| ALPHABET.contains(&b)))
}

/// `len` random characters of `0-9a-z`.
pub fn random_base36(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
pub fn new_signing_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_later_sort_later_and_never_repeat() {
        let first = new_id("dlv");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id("dlv");
        assert!(first.starts_with("dlv_") && first.len() == 4 + 20);
        assert!(first < second, "{first} then {second}");
        assert_ne!(new_id("dlv"), new_id("dlv"));
        assert!(new_signing_secret().starts_with("whsec_"));
        assert!(looks_like_id(&first, "dlv"));
        assert!(!looks_like_id(&first, "con"));
        assert!(!looks_like_id("dlv_0' OR 1=1 --", "dlv"));
    }
}
