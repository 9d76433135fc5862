//! One caller's bad data never stops the others: any byte a receiver
//! answers is kept exactly, data the database refuses fails only the call
//! that sent it, and an idempotency key raced for by two processes gives
//! one event and one answer.

use engine::model::{DeliveryStatus, NewEvent};
use engine::store::Store;
use engine::testing::Answer;

use crate::delivery::{engine_with_one_webhook, hook, post_lead, status_of};
use crate::support::{TestReceiver, eventually, fresh_postgres_url, postgres, sqlite};

conformance!(
    a_binary_answer_is_kept_byte_for_byte_and_the_engine_goes_on,
    data_the_database_refuses_fails_only_the_call_that_sent_it,
);

/// A gzip header, a NUL, bytes that are not UTF-8 and a secret echoed back.
const BINARY: &[u8] = b"\x1f\x8b\x08\x00 gz\x00ip \xff\xfe k-secret-1 end";

async fn a_binary_answer_is_kept_byte_for_byte_and_the_engine_goes_on(store: Store) {
    let (receiver, account, delivery) = engine_with_one_webhook(&store).await;
    receiver.answer_exactly(Answer {
        status: 200,
        body: Some(BINARY.to_vec()),
        ..Answer::default()
    });
    let first = post_lead(&store, &delivery, serde_json::json!({"id": "c1"})).await;
    eventually("the binary answer to be recorded", || async {
        status_of(&store, &first[0]).await == "succeeded"
    })
    .await;
    let attempts = store.attempts(&first[0]).await.unwrap();
    let response = attempts[0].response.as_ref().expect("a response");
    let expected = b"\x1f\x8b\x08\x00 gz\x00ip \xff\xfe ******** end";
    assert_eq!(
        &*response.body_bytes(),
        expected,
        "every byte kept, the secret masked"
    );
    assert!(response.body_base64.is_some());
    assert!(
        response.body.contains("gz\u{2400}ip") && response.body.contains('\u{FFFD}'),
        "shown as text: {:?}",
        response.body
    );
    // The engine goes on: the next event is delivered and recorded too.
    let next = post_lead(&store, &delivery, serde_json::json!({"id": "c2"})).await;
    eventually("the next delivery", || async {
        status_of(&store, &next[0]).await == "succeeded"
    })
    .await;
    let plain = store.attempts(&next[0]).await.unwrap();
    let plain = plain[0].response.as_ref().unwrap();
    assert_eq!(plain.body, "answered 200");
    assert_eq!(plain.body_base64, None, "plain text needs no copy");
    assert_eq!(
        store
            .count_deliveries(&account.id, DeliveryStatus::Succeeded)
            .await
            .unwrap(),
        2
    );
    delivery.shutdown().await;
}

/// Makes the database refuse any event whose data mentions "poison", as it
/// would refuse data it cannot store.
async fn poison_events(store: &Store) {
    let sql = match store.backend() {
        engine::store::Backend::Sqlite => {
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.data LIKE '%poison%' \
             BEGIN SELECT RAISE(ABORT, 'poisoned data'); END"
        }
        engine::store::Backend::Postgres => {
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.data LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned data'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()"
        }
    };
    store.run_sql_for_tests(sql).await.unwrap();
}

async fn data_the_database_refuses_fails_only_the_call_that_sent_it(store: Store) {
    let (receiver, account, delivery) = engine_with_one_webhook(&store).await;
    poison_events(&store).await;
    // Attempts finish while the calls come in, so turns carry outcomes too.
    for _ in 0..5 {
        receiver.answer_exactly(Answer {
            status: 200,
            delay: std::time::Duration::from_millis(30),
            ..Answer::default()
        });
    }
    let handoff = delivery.handoff();
    let mut calls = tokio::task::JoinSet::new();
    for call in 0..40i64 {
        let (store, handoff, account) = (store.clone(), handoff.clone(), account.clone());
        calls.spawn(async move {
            let data = if call % 10 == 7 {
                serde_json::json!({"id": call, "note": "poison"})
            } else {
                serde_json::json!({"id": call})
            };
            let events = vec![NewEvent::new("lead.created", data)];
            (call, handoff.accept(&store, &account, events).await)
        });
    }
    let mut accepted = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (call, result) = done.unwrap();
        if call % 10 == 7 {
            assert!(result.is_err(), "call {call} was refused: {result:?}");
        } else {
            let answer = result.unwrap_or_else(|e| panic!("call {call} failed: {e}"));
            accepted.push(answer[0].id.clone());
        }
    }
    assert_eq!(accepted.len(), 36);
    let log = store
        .list_events(&account.id, None, 1000, None)
        .await
        .unwrap();
    let mut logged: Vec<String> = log.data.into_iter().map(|e| e.id).collect();
    logged.sort();
    accepted.sort();
    assert_eq!(logged, accepted, "every other call's event is kept");
    eventually("every kept event to be delivered", || async {
        store
            .count_deliveries(&account.id, DeliveryStatus::Succeeded)
            .await
            .unwrap()
            == 36
    })
    .await;
    assert_eq!(receiver.received().len(), 36, "each sent once");
    delivery.shutdown().await;
}

/// Two processes on one database take the same idempotency keys at once:
/// each key makes one event, and both are given its answer.
async fn two_processes_racing_for_keys_get_one_answer_each(a: Store, b: Store) {
    let receiver = TestReceiver::start().await;
    let account = a.ensure_default_account().await.unwrap();
    a.create_webhook(&account.id, hook(&receiver.url))
        .await
        .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for key in 0..40 {
        for (side, store) in [("a", a.clone()), ("b", b.clone())] {
            let account = account.clone();
            calls.spawn(async move {
                let mut event =
                    NewEvent::new("lead.created", serde_json::json!({"id": key, "from": side}));
                event.idempotency_key = Some(format!("key-{key}"));
                let answer = store.accept_events(&account, vec![event]).await;
                (key, answer.map(|mut a| a.remove(0)))
            });
        }
    }
    let mut answers: std::collections::HashMap<i32, Vec<_>> = Default::default();
    while let Some(done) = calls.join_next().await {
        let (key, answer) = done.unwrap();
        let answer = answer.unwrap_or_else(|e| panic!("key {key}: {e}"));
        answers.entry(key).or_default().push(answer);
    }
    for (key, both) in &answers {
        assert_eq!(both[0], both[1], "key {key}: one answer for both");
        assert_eq!(both[0].deliveries.len(), 1);
    }
    // Nothing sends them here: each key made one pending delivery.
    let pending = a
        .count_deliveries(&account.id, DeliveryStatus::Pending)
        .await
        .unwrap();
    assert_eq!(pending, 40, "one event per key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_racing_for_keys_get_one_answer_each() {
    let (a, dir) = sqlite().await;
    let url = format!("sqlite://{}", dir.db_path().display());
    let b = Store::connect(&url).await.unwrap();
    two_processes_racing_for_keys_get_one_answer_each(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_racing_for_keys_get_one_answer_each() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let a = Store::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::connect(&url).await.unwrap();
    two_processes_racing_for_keys_get_one_answer_each(a, b).await;
}

/// SQLite: while another connection holds the write lock, the engine's
/// turn cannot commit. Calls beyond the hand-off's room are refused at
/// once, the others are told the engine is busy by their deadline: none
/// waits without end, and memory holds a bounded number of them. Once the
/// lock is gone, calls are answered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_stuck_writer_answers_busy_in_time_and_queues_no_more_than_its_room() {
    use sqlx::Connection;
    let (store, dir) = sqlite().await;
    let account = store.ensure_default_account().await.unwrap();
    let mut blocker =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.db_path().display()))
            .await
            .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let delivery = engine::delivery::Delivery::start(
        store.clone(),
        engine::delivery::DeliveryConfig {
            handoff_calls: 4,
            handoff_deadline: std::time::Duration::from_millis(800),
            ..crate::delivery::config(true)
        },
    )
    .unwrap();
    let handoff = delivery.handoff();
    let started = std::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..40 {
        let (store, handoff, account) = (store.clone(), handoff.clone(), account.clone());
        calls.spawn(async move {
            let event = NewEvent::new("lead.created", serde_json::json!({"id": n}));
            handoff.accept(&store, &account, vec![event]).await
        });
    }
    while let Some(done) = calls.join_next().await {
        let refused = done.unwrap().unwrap_err();
        assert!(matches!(refused, engine::store::Error::Busy), "{refused:?}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "every call answered by its deadline: {:?}",
        started.elapsed()
    );
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    // The calls already waiting go first; a caller retrying as told gets
    // its answer within moments.
    let mut answer = Err(engine::store::Error::Busy);
    for _ in 0..50 {
        let event = NewEvent::new("lead.created", serde_json::json!({"id": "after"}));
        answer = handoff.accept(&store, &account, vec![event]).await;
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(answer.is_ok(), "answered again: {answer:?}");
    delivery.shutdown().await;
}
