//! A restart resumes at once: deliveries a stopped process had taken go
//! out when it starts again, not when their two-minute leases run out. On
//! SQLite every claim is stale at start; on PostgreSQL a worker takes back
//! only what it held under its own name.

use std::time::{Duration, Instant};

use engine::delivery::Delivery;
use engine::model::{Account, NewEvent};
use engine::store::{Calls, DisablePolicy, Store, Turn};

use crate::delivery::{config, one_webhook};
use crate::support::{eventually, fresh_postgres_url, sqlite};

/// Accepts `n` events the way a running engine does, taking their
/// deliveries for this process for two minutes, and then sends nothing:
/// what a process killed right after would leave behind.
async fn take_and_die(store: &Store, account: &Account, n: usize) {
    let events: Vec<NewEvent> = (0..n)
        .map(|i| NewEvent::new("lead.created", serde_json::json!({"id": i})))
        .collect();
    let done = store
        .take_turn(Turn {
            accept: vec![Calls {
                account: account.clone(),
                events,
                sizes: vec![n],
            }],
            room: n,
            finished: &[],
            claim: 0,
            lease_ms: 120_000,
            skip: &[],
            disable: DisablePolicy::default(),
        })
        .await
        .unwrap();
    assert_eq!(done.to_send.len(), n, "all taken by the process that dies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_restarted_process_sends_what_the_dead_one_had_taken_at_once() {
    let (store, _dir) = sqlite().await;
    let (receiver, account) = one_webhook(&store).await;
    take_and_die(&store, &account, 5).await;
    let started = Instant::now();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    eventually("the dead process's deliveries", || async {
        receiver.received().len() == 5
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "sent after {:?}",
        started.elapsed()
    );
    delivery.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_worker_restarted_under_its_name_takes_back_only_its_own() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let first = Store::connect(&url)
        .await
        .unwrap()
        .with_worker("host-a:3000");
    first.migrate().await.unwrap();
    let (receiver, account) = one_webhook(&first).await;
    take_and_die(&first, &account, 5).await;
    // Another worker leaves them alone: they are host-a's, leased.
    let other = Store::connect(&url)
        .await
        .unwrap()
        .with_worker("host-b:3000");
    let other_engine = Delivery::start(other, config(true)).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 0, "another worker's claims wait");
    // host-a starts again and sends them at once.
    let started = Instant::now();
    let again = Store::connect(&url)
        .await
        .unwrap()
        .with_worker("host-a:3000");
    let engine = Delivery::start(again, config(true)).unwrap();
    eventually("host-a's deliveries", || async {
        receiver.received().len() == 5
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    engine.shutdown().await;
    other_engine.shutdown().await;
}
