//! Mass posts as background jobs: every contact of a filter reaches the
//! receiver once, in batches; a job stopped by a shutdown resumes where it
//! stopped and sends nothing twice; a cancelled job sends nothing more; a
//! chosen contact that is gone is reported by its line. On both databases.

use std::collections::HashMap;

use engine::model::{
    Account, ChangedBy, ContactFilter, ContactInput, JobState, MassPostInput, Trigger, Via,
    WebhookInput,
};
use engine::reports::HistoryQuery;
use engine::store::{DeliveryFilter, Store};
use engine::{Engine, EngineConfig};
use serde_json::Value;

use crate::delivery::config;
use crate::support::{TestReceiver, eventually, postgres, sqlite};

both_databases!(
    a_mass_post_sends_every_contact_of_the_filter_once,
    a_stopped_mass_post_resumes_and_sends_nothing_twice,
    a_cancelled_job_sends_nothing_and_a_missing_contact_is_reported,
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

/// `n` contacts whose last name is `last`; their ids, newest first.
async fn contacts(store: &Store, account: &Account, last: &str, n: usize) -> Vec<String> {
    let by = ChangedBy {
        actor: None,
        via: Via::Api,
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let input = ContactInput {
            first_name: format!("C{i}"),
            last_name: last.into(),
            ..ContactInput::default()
        };
        let (contact, _) = store.create_contact(&account.id, input, &by).await.unwrap();
        ids.push(contact.id);
    }
    ids.reverse();
    ids
}

async fn webhook(store: &Store, account: &Account, url: &str) -> String {
    store
        .create_webhook(
            &account.id,
            WebhookInput {
                title: "CRM sync".into(),
                url: url.into(),
                triggers: vec![Trigger {
                    event_type: "contact.updated".into(),
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

/// How often the receiver got each contact.
fn received_ids(receiver: &TestReceiver) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for request in receiver.received() {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "contact.updated");
        *seen
            .entry(body["data"]["id"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    seen
}

async fn a_mass_post_sends_every_contact_of_the_filter_once(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let kept = contacts(&store, &account, "Keep", 1_030).await;
    contacts(&store, &account, "Skip", 5).await;
    let webhook_id = webhook(&store, &account, &receiver.url).await;
    let engine = start(&store).await;
    let job = engine
        .start_mass_post(
            &account.id,
            &MassPostInput {
                webhook_id: webhook_id.clone(),
                filter: Some(ContactFilter {
                    q: Some("keep".into()),
                    ..ContactFilter::default()
                }),
                contact_ids: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(job.total, 1_030);
    assert_eq!(job.state, JobState::Running);
    eventually("every delivery of the mass post succeeds", || async {
        let now = store.job(&account.id, &job.id).await.unwrap();
        now.state == JobState::Done && now.succeeded == 1_030
    })
    .await;
    let seen = received_ids(&receiver);
    assert_eq!(seen.len(), 1_030, "every kept contact, none of the others");
    assert!(kept.iter().all(|id| seen.get(id) == Some(&1)), "each once");
    let done = store.job(&account.id, &job.id).await.unwrap();
    assert_eq!((done.done, done.failed, done.pending), (1_030, 0, 0));
    assert!(done.errors.is_empty());
    // The history of this run: its deliveries, about each contact.
    let filter = DeliveryFilter::from_query(
        &HistoryQuery {
            job: Some(job.id.clone()),
            ..HistoryQuery::default()
        },
        chrono::Utc::now(),
        500,
    )
    .unwrap();
    let page = store.list_deliveries(&account.id, &filter).await.unwrap();
    assert_eq!(page.data.len(), 500);
    assert!(
        page.data
            .iter()
            .all(|d| d.manual && d.webhook_id == webhook_id)
    );
    assert!(kept.contains(page.data[0].record_id.as_ref().unwrap()));
    // Mass posts stay out of the event log.
    let log = store
        .list_events(&account.id, None, 10, None)
        .await
        .unwrap();
    assert!(log.data.iter().all(|e| e.event_type == "contact.created"));
    engine.shutdown().await;
}

async fn a_stopped_mass_post_resumes_and_sends_nothing_twice(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let ids = contacts(&store, &account, "Lee", 1_000).await;
    let webhook_id = webhook(&store, &account, &receiver.url).await;
    let store = store.with_worker("worker-a");
    let engine = start(&store).await;
    let job = engine
        .start_mass_post(
            &account.id,
            &MassPostInput {
                webhook_id,
                filter: None,
                contact_ids: Some(ids.clone()),
            },
            None,
        )
        .await
        .unwrap();
    // Stopped at once: after at most the batch in progress.
    engine.shutdown().await;
    let stopped = store.job(&account.id, &job.id).await.unwrap();
    assert!(stopped.done <= 1_000, "{}", stopped.done);
    // The same worker starts again and takes its job back at once.
    let engine = start(&store).await;
    eventually("the job finishes after the restart", || async {
        let now = store.job(&account.id, &job.id).await.unwrap();
        now.state == JobState::Done && now.succeeded == 1_000
    })
    .await;
    let seen = received_ids(&receiver);
    assert_eq!(seen.len(), 1_000);
    assert!(ids.iter().all(|id| seen.get(id) == Some(&1)), "each once");
    engine.shutdown().await;
}

async fn a_cancelled_job_sends_nothing_and_a_missing_contact_is_reported(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let ids = contacts(&store, &account, "Ray", 3).await;
    let webhook_id = webhook(&store, &account, &receiver.url).await;
    // Cancelled before any process ran it.
    let cancelled = store
        .create_mass_post(
            &account.id,
            &MassPostInput {
                webhook_id: webhook_id.clone(),
                filter: Some(ContactFilter::default()),
                contact_ids: None,
            },
            None,
        )
        .await
        .unwrap();
    let after = store.cancel_job(&account.id, &cancelled.id).await.unwrap();
    assert_eq!(after.state, JobState::Cancelled);
    // The second of these is gone by the time the job runs.
    let chosen = vec![
        ids[0].clone(),
        "con_000000000gone0000000".into(),
        ids[2].clone(),
    ];
    let engine = start(&store).await;
    let job = engine
        .start_mass_post(
            &account.id,
            &MassPostInput {
                webhook_id: webhook_id.clone(),
                filter: None,
                contact_ids: Some(chosen),
            },
            None,
        )
        .await
        .unwrap();
    eventually("the chosen ones arrive", || async {
        let now = store.job(&account.id, &job.id).await.unwrap();
        now.state == JobState::Done && now.succeeded == 2
    })
    .await;
    let done = store.job(&account.id, &job.id).await.unwrap();
    assert_eq!(done.errors.len(), 1);
    assert_eq!(done.errors[0].line, 2);
    assert!(done.errors[0].reason.contains("con_000000000gone0000000"));
    let seen = received_ids(&receiver);
    assert_eq!(seen.len(), 2, "the cancelled job sent nothing: {seen:?}");
    assert_eq!(store.job(&account.id, &cancelled.id).await.unwrap().done, 0);
    // Bad asks answer on their field.
    let refused = |input: MassPostInput| {
        let store = store.clone();
        let account = account.id.clone();
        async move {
            match store.create_mass_post(&account, &input, None).await {
                Err(engine::Error::Validation(errors)) => errors[0].field.clone(),
                other => panic!("expected a field error, got {other:?}"),
            }
        }
    };
    let both = MassPostInput {
        webhook_id: webhook_id.clone(),
        filter: Some(ContactFilter::default()),
        contact_ids: Some(ids.clone()),
    };
    assert_eq!(refused(both).await, "contact_ids");
    let nobody = MassPostInput {
        webhook_id: webhook_id.clone(),
        filter: Some(ContactFilter {
            q: Some("nobody".into()),
            ..ContactFilter::default()
        }),
        contact_ids: None,
    };
    assert_eq!(refused(nobody).await, "filter");
    let unknown = MassPostInput {
        webhook_id: "wh_unknown".into(),
        filter: Some(ContactFilter::default()),
        contact_ids: None,
    };
    assert_eq!(refused(unknown).await, "webhook_id");
    engine.shutdown().await;
}
