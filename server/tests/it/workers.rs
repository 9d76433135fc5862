//! Scale-out on PostgreSQL: two `postback worker` processes share one
//! database; every delivery is sent exactly once and queued order holds.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

use engine::model::{DeliveryStatus, NewEvent};
use engine::model::{RetryPolicy, Trigger, WebhookInput};
use engine::store::Store;
use engine::testing::{TestReceiver, fresh_postgres_url};

fn worker(url: &str) -> Child {
    worker_with(url, &[])
}

fn worker_with(url: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postback"))
        .args([
            "worker",
            "--database-url",
            url,
            "--allow-private-destinations",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postback worker")
}

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_send_every_delivery_once() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let store = server::open_store(&url).await.unwrap();
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    for (title, mode) in [
        ("fast", engine::model::DeliveryMode::Fast),
        ("queued", engine::model::DeliveryMode::Queued),
    ] {
        let input = WebhookInput {
            title: title.into(),
            url: format!("{}/{title}", receiver.url),
            triggers: vec![Trigger {
                event_type: "contact.created".into(),
                filters: vec![],
            }],
            delivery_mode: mode,
            retry: RetryPolicy {
                max_attempts: 3,
                schedule_s: vec![0, 1, 1],
            },
            ..WebhookInput::default()
        };
        store.create_webhook(&account.id, input).await.unwrap();
    }
    let _workers = Workers(vec![worker(&url), worker(&url)]);
    let events: Vec<NewEvent> = (0..150)
        .map(|n| {
            NewEvent::new(
                "contact.created",
                serde_json::json!({"id": format!("c{n}")}),
            )
        })
        .collect();
    for chunk in events.chunks(30) {
        store.accept_events(&account, chunk.to_vec()).await.unwrap();
    }
    let check = store.clone();
    let account_id = account.id.clone();
    eventually_long(&check, &account_id, 300).await;

    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in receiver.received() {
        *seen
            .entry(r.headers["webhook-id"].to_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 300, "every delivery arrived");
    assert!(seen.values().all(|&n| n == 1), "no delivery was sent twice");
    // The queued webhook's requests arrived in event order.
    let queued: Vec<String> = receiver
        .received()
        .iter()
        .filter(|r| r.uri.path() == "/queued")
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["data"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (0..150).map(|n| format!("c{n}")).collect();
    assert_eq!(queued, expected);
}

/// Waits (up to a minute) until the account has `count` succeeded deliveries.
async fn eventually_long(store: &Store, account_id: &str, count: i64) {
    for _ in 0..600 {
        if store
            .count_deliveries(account_id, DeliveryStatus::Succeeded)
            .await
            .unwrap()
            >= count
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "only {} of {count} deliveries succeeded",
        store
            .count_deliveries(account_id, DeliveryStatus::Succeeded)
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_attempt_leaves_the_delivery_to_another() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let store = server::open_store(&url).await.unwrap();
    let receiver = TestReceiver::start().await;
    // The first request hangs: the worker is inside its attempt when killed.
    receiver.hang_next(std::time::Duration::from_secs(30));
    let account = store.ensure_default_account().await.unwrap();
    let input = WebhookInput {
        title: "Slow receiver".into(),
        url: format!("{}/hook", receiver.url),
        triggers: vec![Trigger {
            event_type: "contact.created".into(),
            filters: vec![],
        }],
        timeout_ms: 60_000,
        ..WebhookInput::default()
    };
    store.create_webhook(&account.id, input).await.unwrap();
    let lease = ["--lease-seconds", "2"];
    let mut first = Workers(vec![worker_with(&url, &lease)]);
    let accepted = store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "contact.created",
                serde_json::json!({"id": "c1"}),
            )],
        )
        .await
        .unwrap();
    let delivery = accepted[0].deliveries[0].id.clone();
    engine::testing::eventually("the first worker is mid-attempt", || {
        let receiver = receiver.clone();
        async move { receiver.received().len() == 1 }
    })
    .await;
    // Killed with SIGKILL: no chance to record or release anything.
    first.0[0].kill().unwrap();
    first.0[0].wait().unwrap();
    let _second = Workers(vec![worker_with(&url, &lease)]);
    eventually_long(&store, &account.id, 1).await;

    let state = store.delivery(&account.id, &delivery).await.unwrap();
    assert_eq!(state.status, "succeeded");
    let attempts = store.attempts(&delivery).await.unwrap();
    assert_eq!(
        attempts.len(),
        1,
        "the killed worker's attempt was never recorded; the second worker's was"
    );
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [delivery.clone(), delivery],
        "the same delivery (same webhook-id) was sent again by the second worker"
    );
}
