//! The contacts list's search `q`: a contact is found by the start of any
//! of its words. Its words are its names (each word, and the parts of a
//! word joined by punctuation such as `Mary-Jane`), its email and the
//! email's domain, its phone's digits (whole, and from each of its first
//! groups on, so `+1 555 0100` is found by `1555`, `5550100` and `0100`)
//! and its external id. Every word of the search must start one of them:
//! `ann lee`, `ann@exa`, `@example.com`, `555-0100`.
//!
//! Each word is a row of `contact_words`, so a search reads a range of
//! that index and not every contact. `contacts.search` holds the same
//! words, each after a space, for the searches a `LIKE` answers faster:
//! text most contacts hold is found among the newest contacts at once.

use super::db::WriteTx;
use super::{Result, Store};
use crate::model::ContactInput;

/// Longest word kept, in characters; longer words (and search words) are
/// cut to it.
const MAX_WORD: usize = 64;

/// Search words beyond this many are ignored.
const MAX_TERMS: usize = 8;

/// When a search reads `contact_words` and when the newest contacts.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// A search term held by at most this many words is read from
    /// `contact_words`; a term more contacts hold is first looked for
    /// among the newest `newest_walked` contacts.
    pub words_read: i64,
    pub newest_walked: i64,
}

impl Default for Limits {
    fn default() -> Self {
        // At a million contacts on this project's machine a word is read
        // in about 0.3 µs and a contact walked in about 0.4 µs: either way
        // under 20 ms.
        Limits {
            words_read: 50_000,
            newest_walked: 20_000,
        }
    }
}

/// Phone digits kept from this many of the number's first groups on.
const PHONE_SUFFIXES: usize = 4;

/// The words a contact is found by, lower-cased, each once.
pub(super) fn contact_words(contact: &ContactInput) -> Vec<String> {
    let mut words = Vec::new();
    for text in [
        Some(contact.first_name.as_str()),
        Some(contact.last_name.as_str()),
        contact.external_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        for token in text.to_lowercase().split_whitespace() {
            push(&mut words, token);
            if token.contains(|c: char| !c.is_alphanumeric()) {
                for part in token
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|p| p.chars().count() >= 2)
                {
                    push(&mut words, part);
                }
            }
        }
    }
    if let Some(email) = &contact.email {
        let email = email.to_lowercase();
        push(&mut words, &email);
        if let Some((_, domain)) = email.rsplit_once('@') {
            push(&mut words, domain);
        }
    }
    if let Some(phone) = &contact.phone {
        let groups: Vec<&str> = phone
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .collect();
        for from in 0..groups.len().min(PHONE_SUFFIXES) {
            let digits = groups[from..].concat();
            if from == 0 || digits.len() >= 4 {
                push(&mut words, &digits);
            }
        }
    }
    words
}

fn push(words: &mut Vec<String>, word: &str) {
    let word: String = word.chars().take(MAX_WORD).collect();
    if !word.is_empty() && !words.contains(&word) {
        words.push(word);
    }
}

/// `contacts.search` for `words`: each word after a space (never empty, so
/// an empty `search` marks a contact whose words are not written yet).
pub(super) fn search_text(words: &[String]) -> String {
    if words.is_empty() {
        return " ".into();
    }
    words.iter().map(|w| format!(" {w}")).collect()
}

/// The words `search` holds.
pub(super) fn words_of(search: &str) -> Vec<String> {
    search.split_whitespace().map(str::to_string).collect()
}

/// One word of a search: the prefixes a contact's word may start with
/// (the text as typed; for a phone number typed with punctuation, also
/// its digits alone).
#[derive(Clone, Debug)]
pub(super) struct Term {
    pub prefixes: Vec<String>,
}

/// The search words of `q` (none for empty text).
pub(super) fn terms(q: Option<&str>) -> Vec<Term> {
    let Some(q) = q else { return Vec::new() };
    q.to_lowercase()
        .split_whitespace()
        .filter_map(|word| {
            // `@example.com` asks for the domain.
            let word = word.strip_prefix('@').unwrap_or(word);
            let word: String = word.chars().take(MAX_WORD).collect();
            if word.is_empty() {
                return None;
            }
            let mut prefixes = vec![word.clone()];
            let phone_like = word.chars().any(|c| c.is_ascii_digit())
                && word
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+-().".contains(c));
            let digits: String = word.chars().filter(char::is_ascii_digit).collect();
            if phone_like && digits != word {
                prefixes.push(digits);
            }
            Some(Term { prefixes })
        })
        .take(MAX_TERMS)
        .collect()
}

/// The first text after every text that starts with `prefix`, in the
/// byte order both databases compare words in (`None`: there is none).
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `LIKE` pattern of a contact's `search` holding a word that starts with
/// `prefix` (`\` escapes `LIKE`'s own wildcards).
pub(super) fn like_word_start(prefix: &str) -> String {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("% {escaped}%")
}

/// A term's condition on `contact_words w`, its values pushed on `binds`.
pub(super) fn word_ranges(term: &Term, binds: &mut Vec<String>) -> String {
    let ranges: Vec<String> = term
        .prefixes
        .iter()
        .map(|prefix| {
            binds.push(prefix.clone());
            let from = format!("w.word >= ${}", binds.len());
            match prefix_end(prefix) {
                Some(end) => {
                    binds.push(end);
                    format!("({from} AND w.word < ${})", binds.len())
                }
                None => from,
            }
        })
        .collect();
    format!("({})", ranges.join(" OR "))
}

/// Writes the words of each (contact id, words).
pub(super) async fn insert_words(
    tx: &mut WriteTx,
    account_id: &str,
    contacts: &[(&str, &[String])],
) -> Result<()> {
    let rows: Vec<(&str, &str)> = contacts
        .iter()
        .flat_map(|(id, words)| words.iter().map(move |w| (*id, w.as_str())))
        .collect();
    // Three parameters a row, well under either database's limit.
    for chunk in rows.chunks(5_000) {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO contact_words (account_id, word, contact_id) ",
            );
            q.push_values(chunk, |mut row, (id, word)| {
                row.push_bind(account_id).push_bind(*word).push_bind(*id);
            });
            q.build().execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Removes `words` of the contact `id`.
pub(super) async fn delete_words(
    tx: &mut WriteTx,
    account_id: &str,
    id: &str,
    words: &[String],
) -> Result<()> {
    for chunk in words.chunks(500) {
        in_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "DELETE FROM contact_words WHERE account_id = ",
            );
            q.push_bind(account_id)
                .push(" AND contact_id = ")
                .push_bind(id)
                .push(" AND word IN (");
            let mut list = q.separated(", ");
            for word in chunk {
                list.push_bind(word);
            }
            list.push_unseparated(")");
            q.build().execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Moves a contact's words from `before` to `after`'s.
pub(super) async fn rewrite_words(
    tx: &mut WriteTx,
    account_id: &str,
    id: &str,
    before: &[String],
    after: &[String],
) -> Result<()> {
    let gone: Vec<String> = before
        .iter()
        .filter(|w| !after.contains(w))
        .cloned()
        .collect();
    let new: Vec<String> = after
        .iter()
        .filter(|w| !before.contains(w))
        .cloned()
        .collect();
    delete_words(tx, account_id, id, &gone).await?;
    insert_words(tx, account_id, &[(id, &new)]).await
}

#[derive(sqlx::FromRow)]
struct Unindexed {
    id: String,
    account_id: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
}

impl Store {
    /// Writes the words of contacts stored before they had any (their
    /// `search` is empty), a few hundred per transaction; how many.
    pub(super) async fn index_contact_words(&self) -> Result<u64> {
        let mut done = 0;
        loop {
            let rows: Vec<Unindexed> = on_writer!(&self.db, pool => sqlx::query_as(
                "SELECT id, account_id, first_name, last_name, email, phone, external_id \
                 FROM contacts WHERE search = '' LIMIT 500",
            )
            .fetch_all(pool)
            .await)?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut tx = self.begin_write().await?;
            for row in &rows {
                let words = contact_words(&ContactInput {
                    first_name: row.first_name.clone(),
                    last_name: row.last_name.clone(),
                    email: row.email.clone(),
                    phone: row.phone.clone(),
                    external_id: row.external_id.clone(),
                    ..ContactInput::default()
                });
                let indexed = in_tx!(&mut tx, t => sqlx::query(
                    "UPDATE contacts SET search = $3 WHERE account_id = $1 AND id = $2 AND search = ''",
                )
                .bind(&row.account_id)
                .bind(&row.id)
                .bind(search_text(&words))
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()))?;
                if indexed == 1 {
                    insert_words(&mut tx, &row.account_id, &[(&row.id, &words)]).await?;
                }
            }
            tx.commit().await?;
            done += rows.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(first: &str, last: &str, email: &str, phone: &str, external: &str) -> ContactInput {
        ContactInput {
            first_name: first.into(),
            last_name: last.into(),
            email: Some(email.into()),
            phone: Some(phone.into()),
            external_id: Some(external.into()),
            ..ContactInput::default()
        }
    }

    #[test]
    fn a_contact_is_found_by_its_names_email_domain_phone_digits_and_external_id() {
        let words = contact_words(&contact(
            "Mary-Jane",
            "O'Brien Smith",
            "mj@example.com",
            "+1 (555) 123-4567",
            "DMS-77",
        ));
        assert_eq!(
            words,
            [
                "mary-jane",
                "mary",
                "jane",
                "o'brien",
                "brien",
                "smith",
                "dms-77",
                "dms",
                "77",
                "mj@example.com",
                "example.com",
                "15551234567",
                "5551234567",
                "1234567",
                "4567",
            ]
        );
        assert_eq!(search_text(&words[..2]), " mary-jane mary");
        assert_eq!(words_of(&search_text(&words)), words);
        assert_eq!(search_text(&[]), " ", "never empty");
    }

    #[test]
    fn long_words_are_cut_and_none_is_kept_twice() {
        let long = "x".repeat(100);
        let words = contact_words(&ContactInput {
            first_name: format!("Ann {long}"),
            last_name: "ann".into(),
            ..ContactInput::default()
        });
        assert_eq!(words, ["ann".to_string(), "x".repeat(MAX_WORD)]);
    }

    #[test]
    fn a_search_is_its_words_with_phone_digits_and_domains_understood() {
        let prefixes = |q: &str| {
            terms(Some(q))
                .into_iter()
                .map(|t| t.prefixes)
                .collect::<Vec<_>>()
        };
        assert_eq!(prefixes("  Ann   LEE "), [["ann"], ["lee"]]);
        assert_eq!(prefixes("555-0100"), [vec!["555-0100", "5550100"]]);
        assert_eq!(prefixes("(555)"), [vec!["(555)", "555"]]);
        assert_eq!(prefixes("4567"), [["4567"]]);
        assert_eq!(prefixes("@example.com"), [["example.com"]]);
        assert_eq!(prefixes("c-12"), [["c-12"]], "letters: not a phone");
        assert!(prefixes("   ").is_empty());
        assert!(prefixes("@").is_empty());
        assert_eq!(prefixes("a b c d e f g h i j").len(), MAX_TERMS);
        assert!(terms(None).is_empty());
    }

    #[test]
    fn a_prefix_range_ends_after_every_word_it_starts() {
        assert_eq!(prefix_end("jan").as_deref(), Some("jao"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        let end = prefix_end("zoë").unwrap();
        for word in ["zoë", "zoëa", "zoë\u{10ffff}x"] {
            assert!(word >= "zoë" && word < end.as_str(), "{word}");
        }
        assert!("zoí" >= end.as_str() && "zof" < "zoë");
    }

    #[test]
    fn like_wildcards_in_a_search_are_plain_text() {
        assert_eq!(like_word_start("even_%"), "% even\\_\\%%");
        assert_eq!(like_word_start("a\\b"), "% a\\\\b%");
    }
}
