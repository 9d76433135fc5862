//! Data source imports: a CSV with a byte order mark, quoted commas, quotes
//! and line breaks, short rows, a row in another encoding, bad values and
//! an update of an existing contact; good rows are kept and posted through
//! the chosen webhook, bad ones reported by line; contact events reach the
//! webhooks whose triggers ask for them; a stopped import resumes and
//! imports nothing twice. On both databases.

use std::collections::{BTreeMap, HashMap};

use engine::model::imports::ColumnTarget;
use engine::model::{
    Account, ChangedBy, ContactFilter, ContactInput, JobKind, JobState, Trigger, Via, WebhookInput,
};
use engine::store::Store;
use engine::store::imports::ImportInput;
use engine::{Engine, EngineConfig};
use serde_json::Value;

use crate::delivery::config;
use crate::support::{TestReceiver, eventually, postgres, sqlite};

both_databases!(
    an_import_keeps_good_rows_reports_bad_ones_and_posts_the_good_ones,
    a_stopped_import_resumes_and_imports_nothing_twice,
    a_file_or_mapping_that_cannot_be_imported_is_refused_on_its_field,
    a_row_repeating_an_earlier_one_updates_the_contact_it_made,
    finished_jobs_and_old_drafts_are_purged_and_running_ones_kept,
);

async fn start(store: &Store) -> Engine {
    Engine::start(
        store.clone(),
        EngineConfig {
            delivery: config(true),
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

async fn webhook(store: &Store, account: &Account, title: &str, url: &str, on: &str) -> String {
    store
        .create_webhook(
            &account.id,
            WebhookInput {
                title: title.into(),
                url: url.into(),
                triggers: vec![Trigger {
                    event_type: on.into(),
                    filters: Vec::new(),
                }],
                ..WebhookInput::default()
            },
        )
        .await
        .unwrap()
        .0
        .id
}

fn bodies(receiver: &TestReceiver) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn an_import_keeps_good_rows_reports_bad_ones_and_posts_the_good_ones(store: Store) {
    let posted = TestReceiver::start().await;
    let created = TestReceiver::start().await;
    let updated = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let by = ChangedBy {
        actor: None,
        via: Via::Api,
    };
    // The account's seeded sources include Website.
    let (old, _) = store
        .create_contact(
            &account.id,
            ContactInput {
                first_name: "Olga".into(),
                last_name: "Old".into(),
                email: Some("olga@example.com".into()),
                phone: Some("555 0100".into()),
                ..ContactInput::default()
            },
            &by,
        )
        .await
        .unwrap();
    let post_id = webhook(
        &store,
        &account,
        "Import sync",
        &posted.url,
        "contact.status_added",
    )
    .await;
    webhook(
        &store,
        &account,
        "New ones",
        &created.url,
        "contact.created",
    )
    .await;
    webhook(
        &store,
        &account,
        "Changed ones",
        &updated.url,
        "contact.updated",
    )
    .await;
    // Line 1 the header (after a byte order mark); CRLF line ends.
    let mut csv: Vec<u8> =
        b"\xEF\xBB\xBFFirst Name,Last Name,Email,Phone,Source,Notes\r\n".to_vec();
    csv.extend_from_slice(b"Ann,Lee,ann@example.com,555 0101,Website,\"Likes red, and blue\"\r\n"); // 2
    csv.extend_from_slice(b"Bob,\"O\"\"Brien\",bob@example.com,,,\"Two\r\nlines\"\r\n"); // 3-4
    csv.extend_from_slice(b"Short,Row,short@example.com\r\n"); // 5
    csv.extend_from_slice(b"\r\n"); // 6, blank
    csv.extend_from_slice(b"Ren\xE9,Latin,rene@example.com,,,\r\n"); // 7, not UTF-8
    csv.extend_from_slice(b"Cy,Bad,not-an-email,,,\r\n"); // 8
    csv.extend_from_slice(b"Di,Src,di@example.com,,Billboard,\r\n"); // 9
    csv.extend_from_slice(b",Older,OLGA@example.com,,,Updated by import\r\n"); // 10
    csv.extend_from_slice(b"Eve,Moss,eve@example.com,,,\r\n"); // 11
    let mut mapping = BTreeMap::new();
    mapping.insert("Notes".to_string(), ColumnTarget::Custom("Notes".into()));
    let engine = start(&store).await;
    let job = engine
        .start_import(
            &account.id,
            &ImportInput {
                file_name: Some("contacts.csv".into()),
                mapping,
                webhook_id: Some(post_id.clone()),
            },
            &csv,
            None,
        )
        .await
        .unwrap();
    assert_eq!(job.kind, JobKind::Import);
    assert_eq!(job.total, 8, "every row but the blank one");
    eventually("the import finishes and its posts succeed", || async {
        let now = store.job(&account.id, &job.id).await.unwrap();
        now.state == JobState::Done && now.succeeded == 4
    })
    .await;
    let done = store.job(&account.id, &job.id).await.unwrap();
    let lines: Vec<i64> = done.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![5, 7, 8, 9], "{:?}", done.errors);
    assert!(done.errors[0].reason.contains("3 fields; the header has 6"));
    assert!(done.errors[1].reason.contains("not UTF-8"));
    assert!(
        done.errors[2].reason.contains("email"),
        "{}",
        done.errors[2].reason
    );
    assert!(
        done.errors[3].reason.contains("Billboard"),
        "{}",
        done.errors[3].reason
    );
    assert_eq!((done.done, done.failed, done.pending), (8, 0, 0));

    // The good rows, as the file had them.
    let ann = store
        .contact_matching(&account.id, Some("ann@example.com"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ann.first_name.as_str(), ann.source.as_deref()),
        ("Ann", Some("Website"))
    );
    assert_eq!(ann.custom_fields["Notes"], "Likes red, and blue");
    let bob = store
        .contact_matching(&account.id, Some("bob@example.com"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.last_name, "O\"Brien");
    assert_eq!(bob.custom_fields["Notes"], "Two\r\nlines");
    // The existing contact, matched by email in another case: updated,
    // and the empty cells left what it had.
    let olga = store.contact(&account.id, &old.id).await.unwrap();
    assert_eq!(
        (
            olga.first_name.as_str(),
            olga.last_name.as_str(),
            olga.phone.as_deref()
        ),
        ("Olga", "Older", Some("555 0100"))
    );
    assert_eq!(olga.custom_fields["Notes"], "Updated by import");
    let all = store
        .count_contacts(&account.id, &ContactFilter::default())
        .await
        .unwrap();
    assert_eq!(all, 4, "three new contacts and the one updated");

    // Each good row posted once through the chosen webhook.
    let mut emails: Vec<String> = bodies(&posted)
        .iter()
        .map(|b| b["data"]["email"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "ann@example.com",
            "bob@example.com",
            "eve@example.com",
            "olga@example.com"
        ]
    );
    // The import's own events reached the webhooks that ask for them.
    eventually("the contact events arrive", || async {
        created.received().len() == 3 && updated.received().len() == 1
    })
    .await;
    let change = &bodies(&updated)[0];
    assert_eq!(change["type"], "contact.updated");
    assert_eq!(change["data"]["changes"]["last_name"]["from"], "Old");
    assert_eq!(change["data"]["changes"]["last_name"]["to"], "Older");
    let mut new_ones: Vec<String> = bodies(&created)
        .iter()
        .map(|b| b["data"]["email"].as_str().unwrap().to_string())
        .collect();
    new_ones.sort();
    assert_eq!(
        new_ones,
        ["ann@example.com", "bob@example.com", "eve@example.com"]
    );
    // Nothing of the import is left behind but its errors.
    assert!(
        store.import_rows(&job.id, 0, 10).await.unwrap().is_empty(),
        "imported rows are deleted"
    );
    engine.shutdown().await;
}

async fn a_stopped_import_resumes_and_imports_nothing_twice(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let post_id = webhook(
        &store,
        &account,
        "Import sync",
        &receiver.url,
        "contact.status_added",
    )
    .await;
    let mut csv = String::from("email,first name,external id\n");
    for n in 0..1_200 {
        csv.push_str(&format!("p{n}@example.com,P{n},X-{n}\n"));
    }
    let store = store.with_worker("importer-a");
    let engine = start(&store).await;
    let job = engine
        .start_import(
            &account.id,
            &ImportInput {
                webhook_id: Some(post_id),
                ..ImportInput::default()
            },
            csv.as_bytes(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(job.total, 1_200);
    // Stopped at once: after at most the batch in progress.
    engine.shutdown().await;
    let stopped = store.job(&account.id, &job.id).await.unwrap();
    assert!(stopped.done <= 1_200, "{}", stopped.done);
    let engine = start(&store).await;
    eventually("the import finishes after the restart", || async {
        let now = store.job(&account.id, &job.id).await.unwrap();
        now.state == JobState::Done && now.succeeded == 1_200
    })
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for body in bodies(&receiver) {
        *seen
            .entry(body["data"]["external_id"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 1_200);
    assert!(seen.values().all(|n| *n == 1), "each once");
    let all = store
        .count_contacts(&account.id, &ContactFilter::default())
        .await
        .unwrap();
    assert_eq!(all, 1_200, "each row imported once");
    engine.shutdown().await;
}

async fn a_file_or_mapping_that_cannot_be_imported_is_refused_on_its_field(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let refused = |csv: &'static [u8], input: ImportInput| {
        let store = store.clone();
        let account = account.id.clone();
        async move {
            match store
                .create_import(&account, &input, csv, None, false)
                .await
            {
                Err(engine::Error::Validation(errors)) => {
                    (errors[0].field.clone(), errors[0].code.clone())
                }
                other => panic!("expected a field error, got {other:?}"),
            }
        }
    };
    let field = |f: &str, c: &str| (f.to_string(), c.to_string());
    assert_eq!(
        refused(b"", ImportInput::default()).await,
        field("file", "empty")
    );
    assert_eq!(
        refused(b"email,name\n", ImportInput::default()).await,
        field("file", "no_rows")
    );
    assert_eq!(
        refused(b"\xFFemail\na@example.com\n", ImportInput::default()).await,
        field("file", "not_utf8")
    );
    assert_eq!(
        refused(b"colour,size\nred,L\n", ImportInput::default()).await,
        field("mapping", "no_name")
    );
    let mut mapping = BTreeMap::new();
    mapping.insert("Mail".to_string(), ColumnTarget::Ignore);
    assert_eq!(
        refused(
            b"email\na@example.com\n",
            ImportInput {
                mapping,
                ..ImportInput::default()
            }
        )
        .await,
        field("mapping", "unknown_column")
    );
    assert_eq!(
        refused(
            b"email\na@example.com\n",
            ImportInput {
                webhook_id: Some("wh_nope".into()),
                ..ImportInput::default()
            }
        )
        .await,
        field("webhook_id", "unknown_webhook")
    );
    assert_eq!(
        store
            .count_contacts(&account.id, &ContactFilter::default())
            .await
            .unwrap(),
        0,
        "nothing refused was imported"
    );
}

async fn a_row_repeating_an_earlier_one_updates_the_contact_it_made(store: Store) {
    let posted = TestReceiver::start().await;
    let changed = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let post_id = webhook(
        &store,
        &account,
        "Import sync",
        &posted.url,
        "contact.status_added",
    )
    .await;
    webhook(
        &store,
        &account,
        "Changed ones",
        &changed.url,
        "contact.updated",
    )
    .await;
    let csv = b"email,first name,phone\nkim@example.com,Kim,\nlee@example.com,Lee,\nKIM@example.com,,555 0199\n";
    let engine = start(&store).await;
    let job = engine
        .start_import(
            &account.id,
            &ImportInput {
                webhook_id: Some(post_id),
                ..ImportInput::default()
            },
            csv,
            None,
        )
        .await
        .unwrap();
    eventually("the import is done and posted", || async {
        let now = store.job(&account.id, &job.id).await.unwrap();
        now.state == JobState::Done && now.succeeded == 2
    })
    .await;
    assert_eq!(
        store
            .count_contacts(&account.id, &ContactFilter::default())
            .await
            .unwrap(),
        2,
        "the third row updated the first row's contact"
    );
    let kim = store
        .contact_matching(&account.id, Some("kim@example.com"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kim.first_name.as_str(), kim.phone.as_deref()),
        ("Kim", Some("555 0199"))
    );
    // Posted once each, Kim as the batch left her.
    let sent = bodies(&posted);
    assert_eq!(sent.len(), 2);
    let kim_posted = sent
        .iter()
        .find(|b| b["data"]["email"] == "kim@example.com")
        .unwrap();
    assert_eq!(kim_posted["data"]["phone"], "555 0199");
    eventually("the update's event arrives", || async {
        changed.received().len() == 1
    })
    .await;
    assert_eq!(
        bodies(&changed)[0]["data"]["changes"]["phone"]["to"],
        "555 0199"
    );
    engine.shutdown().await;
}

async fn finished_jobs_and_old_drafts_are_purged_and_running_ones_kept(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let upload = |draft: bool| {
        let store = store.clone();
        let account = account.id.clone();
        async move {
            store
                .create_import(
                    &account,
                    &ImportInput::default(),
                    b"email,name\nz@example.com,Zed\nshort\n",
                    None,
                    draft,
                )
                .await
                .unwrap()
        }
    };
    let draft = upload(true).await;
    let running = upload(false).await;
    let done = upload(false).await;
    store.cancel_job(&account.id, &done.id).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    // Nothing is old enough yet.
    assert_eq!(
        store.purge_jobs(now - 60_000, now - 60_000).await.unwrap(),
        0
    );
    assert_eq!(store.purge_jobs(now + 1_000, now + 1_000).await.unwrap(), 2);
    let gone = |id: String| {
        let store = store.clone();
        let account = account.id.clone();
        async move { matches!(store.job(&account, &id).await, Err(engine::Error::NotFound)) }
    };
    assert!(gone(draft.id.clone()).await, "the old draft went");
    assert!(gone(done.id.clone()).await, "the finished job went");
    assert!(!gone(running.id.clone()).await, "the running job stays");
    assert!(
        store
            .import_rows(&draft.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.import_rows(&running.id, 0, 10).await.unwrap().len(),
        1
    );
    assert!(
        store
            .job_errors(&account.id, &done.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
