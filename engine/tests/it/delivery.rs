//! Events in, signed requests out, every attempt recorded: the delivery
//! engine against a real receiver on loopback, on both databases.

use engine::delivery::{Delivery, DeliveryConfig};
use engine::model::{Account, DeliveryStatus, NewEvent};
use engine::model::{
    Auth, Format, MappingRow, MappingValue, Method, RetryPolicy, Trigger, WebhookInput,
};
use engine::store::Store;

use crate::support::{TestReceiver, eventually, postgres, sqlite};

both_databases!(
    a_signed_request_reaches_the_receiver_and_is_recorded,
    get_sends_the_fields_in_the_query_string,
    private_destinations_are_refused_unless_allowed,
    queued_deliveries_keep_event_order_through_failures,
    a_webhook_that_keeps_failing_is_turned_off,
    a_webhook_failing_for_too_long_is_turned_off,
    after_a_rotation_both_secrets_verify,
    a_slow_webhook_keeps_to_its_in_flight_limit_and_others_go_on,
    deliveries_handed_over_at_acceptance_go_once_and_are_recorded,
    concurrent_accepts_share_commits_and_each_gets_its_own_answer,
    a_resend_holds_the_delivery_for_the_configured_lease,
    credentials_stay_out_of_the_record_however_they_come_back,
);

pub(crate) fn config(allow_private: bool) -> DeliveryConfig {
    DeliveryConfig {
        allow_private,
        poll: std::time::Duration::from_millis(50),
        ..DeliveryConfig::default()
    }
}

/// [`config`] with its own limits for turning failing webhooks off.
fn turning_off(disable: engine::store::DisablePolicy) -> DeliveryConfig {
    DeliveryConfig {
        disable,
        ..config(true)
    }
}

pub(crate) fn hook(url: &str) -> WebhookInput {
    WebhookInput {
        title: format!("to {url}"),
        url: url.into(),
        triggers: vec![Trigger {
            event_type: "lead.created".into(),
            filters: vec![],
        }],
        auth: Auth::Header {
            name: "X-Api-Key".into(),
            value: "k-secret-1".into(),
        },
        retry: RetryPolicy {
            max_attempts: 3,
            schedule_s: vec![0, 1, 1],
        },
        ..WebhookInput::default()
    }
}

pub(crate) async fn send_lead(store: &Store) -> String {
    let account = store.ensure_default_account().await.unwrap();
    let answers = store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "lead.created",
                serde_json::json!({"type": "call", "contact": {"first_name": "Ann", "id": "c9"}}),
            )],
        )
        .await
        .unwrap();
    answers[0].deliveries[0].id.clone()
}

/// A receiver and one webhook to it in the default account.
pub(crate) async fn one_webhook(store: &Store) -> (TestReceiver, Account) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    store
        .create_webhook(&account.id, hook(&receiver.url))
        .await
        .unwrap();
    (receiver, account)
}

/// [`one_webhook`], and an engine sending to it.
pub(crate) async fn engine_with_one_webhook(store: &Store) -> (TestReceiver, Account, Delivery) {
    let (receiver, account) = one_webhook(store).await;
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    (receiver, account, delivery)
}

/// Accepts a lead.created event with `data`, wakes the engine, and returns
/// the ids of the deliveries it made.
pub(crate) async fn post_lead(
    store: &Store,
    delivery: &Delivery,
    data: serde_json::Value,
) -> Vec<String> {
    let account = store.ensure_default_account().await.unwrap();
    let answers = store
        .accept_events(&account, vec![NewEvent::new("lead.created", data)])
        .await
        .unwrap();
    delivery.waker().notify_one();
    answers[0].deliveries.iter().map(|d| d.id.clone()).collect()
}

pub(crate) async fn status_of(store: &Store, delivery: &str) -> String {
    let account = store.ensure_default_account().await.unwrap();
    store
        .delivery(&account.id, delivery)
        .await
        .unwrap()
        .status
        .to_string()
}

async fn a_signed_request_reaches_the_receiver_and_is_recorded(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&format!("{}/in", receiver.url));
    input.format = Format::JsonMapped;
    input.mapping = vec![
        MappingRow {
            key: "First Name".into(),
            value: MappingValue::Field("contact.first_name".into()),
        },
        MappingRow {
            key: "ref".into(),
            value: MappingValue::Template("{account.external_ref}-{contact.id}".into()),
        },
    ];
    let (_, secret) = store.create_webhook(&account.id, input).await.unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();

    eventually("the delivery to succeed", || async {
        status_of(&store, &id).await == "succeeded"
    })
    .await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri.path(), "/in");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["x-api-key"], "k-secret-1");
    assert!(
        request.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("Postback/")
    );
    assert_eq!(request.headers["webhook-id"], id.as_str());
    assert_eq!(&request.body[..], br#"{"First Name":"Ann","ref":"-c9"}"#);
    // An independent Standard Webhooks implementation accepts the signature.
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&request.body, &request.headers)
        .expect("the signature verifies");

    let attempts = store.attempts(&id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(a.response.as_ref().unwrap().status, 200);
    assert_eq!(a.response.as_ref().unwrap().body, "answered 200");
    let recorded_key = a
        .request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-api-key"))
        .unwrap();
    assert_eq!(
        recorded_key.1, "********",
        "secrets are redacted in the record"
    );
    assert!(!serde_json::to_string(a).unwrap().contains("k-secret-1"));
    assert_eq!(
        a.request.body.as_deref(),
        Some(r#"{"First Name":"Ann","ref":"-c9"}"#)
    );
    delivery.shutdown().await;
}

async fn get_sends_the_fields_in_the_query_string(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&format!("{}/q?src=pb", receiver.url));
    input.method = Method::Get;
    input.format = Format::Form;
    input.mapping = vec![MappingRow {
        key: "first name".into(),
        value: MappingValue::Field("contact.first_name".into()),
    }];
    store.create_webhook(&account.id, input).await.unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();
    eventually("the GET", || async {
        status_of(&store, &id).await == "succeeded"
    })
    .await;
    let got = receiver.received();
    assert_eq!(got[0].method, "GET");
    assert_eq!(got[0].uri.query(), Some("src=pb&first+name=Ann"));
    assert!(got[0].body.is_empty());
    delivery.shutdown().await;
}

async fn private_destinations_are_refused_unless_allowed(store: Store) {
    let receiver = TestReceiver::start().await;
    let port = receiver.url.rsplit(':').next().unwrap().to_string();
    let account = store.ensure_default_account().await.unwrap();
    let forms = [
        "127.0.0.1",
        "127.1",
        "0x7f000001",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "localhost",
    ];
    for host in forms {
        let mut input = hook(&format!("http://{host}:{port}/"));
        input.title = format!("via {host}");
        input.retry = RetryPolicy {
            max_attempts: 1,
            schedule_s: vec![0],
        };
        store.create_webhook(&account.id, input).await.unwrap();
    }
    let delivery = Delivery::start(store.clone(), config(false)).unwrap();
    let ids = post_lead(&store, &delivery, serde_json::json!({"type": "call"})).await;
    assert_eq!(ids.len(), forms.len());
    for id in &ids {
        eventually("the refusal", || async {
            status_of(&store, id).await == "failed"
        })
        .await;
        let attempts = store.attempts(id).await.unwrap();
        let error = attempts[0].error.as_deref().unwrap();
        assert!(
            error.starts_with("destination not allowed"),
            "{} → {error}",
            attempts[0].request.url
        );
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    delivery.shutdown().await;
}

async fn queued_deliveries_keep_event_order_through_failures(store: Store) {
    let receiver = TestReceiver::start().await;
    receiver.answer(&[500, 503]);
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&receiver.url);
    input.delivery_mode = engine::model::DeliveryMode::Queued;
    input.format = Format::JsonMapped;
    input.mapping = vec![MappingRow {
        key: "n".into(),
        value: MappingValue::Field("lead.comments".into()),
    }];
    input.retry = RetryPolicy {
        max_attempts: 5,
        schedule_s: vec![0, 1, 1, 1, 1],
    };
    store.create_webhook(&account.id, input).await.unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let mut ids = Vec::new();
    for n in 1..=4 {
        let answers = store
            .accept_events(
                &account,
                vec![NewEvent::new(
                    "lead.created",
                    serde_json::json!({"comments": n}),
                )],
            )
            .await
            .unwrap();
        ids.push(answers[0].deliveries[0].id.clone());
    }
    delivery.waker().notify_one();
    for id in &ids {
        eventually("every delivery to succeed", || async {
            status_of(&store, id).await == "succeeded"
        })
        .await;
    }
    let order: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        order,
        vec![
            r#"{"n":1}"#,
            r#"{"n":1}"#,
            r#"{"n":1}"#,
            r#"{"n":2}"#,
            r#"{"n":3}"#,
            r#"{"n":4}"#
        ]
    );
    delivery.shutdown().await;
}

async fn a_webhook_that_keeps_failing_is_turned_off(store: Store) {
    let disable = engine::store::DisablePolicy {
        after_given_up: 2,
        after_failing_ms: 3_600_000,
    };
    let receiver = TestReceiver::start().await;
    // Given up, then a success (the run starts over), then given up twice.
    receiver.answer(&[500, 200, 500, 500]);
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&receiver.url);
    input.retry = RetryPolicy {
        max_attempts: 1,
        schedule_s: vec![0],
    };
    let (view, _) = store.create_webhook(&account.id, input).await.unwrap();
    // The account's notification URL: a webhook on `webhook.disabled`.
    let notified = TestReceiver::start().await;
    let mut notify = hook(&format!("{}/notify", notified.url));
    notify.title = "Notify ops".into();
    notify.triggers[0].event_type = "webhook.disabled".into();
    store.create_webhook(&account.id, notify).await.unwrap();
    let delivery = Delivery::start(store.clone(), turning_off(disable)).unwrap();
    for expected in ["failed", "succeeded", "failed"] {
        let id = send_lead(&store).await;
        delivery.waker().notify_one();
        eventually("the delivery to end", || async {
            status_of(&store, &id).await == expected
        })
        .await;
        assert!(
            store
                .webhook(&account.id, &view.id)
                .await
                .unwrap()
                .input
                .active,
            "still on after {expected}"
        );
    }
    let id = send_lead(&store).await;
    delivery.waker().notify_one();
    eventually("the delivery to end", || async {
        status_of(&store, &id).await == "failed"
    })
    .await;
    let hook = store.webhook(&account.id, &view.id).await.unwrap();
    assert!(!hook.input.active);
    assert_eq!(
        hook.disabled_reason.as_deref(),
        Some("Turned off automatically: 2 deliveries in a row were given up.")
    );
    eventually("the notification to arrive", || async {
        notified.received().len() == 1
    })
    .await;
    let note = &notified.received()[0];
    assert!(
        note.headers.contains_key("webhook-signature"),
        "signed like any delivery"
    );
    let body: serde_json::Value = serde_json::from_slice(&note.body).unwrap();
    assert_eq!(body["type"], "webhook.disabled");
    assert_eq!(body["data"]["id"], view.id.as_str());
    assert_eq!(body["data"]["title"], view.input.title.as_str());
    assert_eq!(
        body["data"]["reason"],
        "Turned off automatically: 2 deliveries in a row were given up."
    );
    let log = store
        .list_events(&account.id, None, 100, Some("webhook.disabled"))
        .await
        .unwrap();
    assert_eq!(log.data.len(), 1, "the event log has it too");
    delivery.shutdown().await;
}

async fn a_webhook_failing_for_too_long_is_turned_off(store: Store) {
    let disable = engine::store::DisablePolicy {
        after_given_up: 100,
        after_failing_ms: 1500,
    };
    let receiver = TestReceiver::start().await;
    receiver.answer(&[500; 10]);
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&receiver.url);
    input.retry = RetryPolicy {
        max_attempts: 10,
        schedule_s: vec![0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    };
    let (view, _) = store.create_webhook(&account.id, input).await.unwrap();
    let delivery = Delivery::start(store.clone(), turning_off(disable)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();
    eventually("the webhook to be turned off", || async {
        !store
            .webhook(&account.id, &view.id)
            .await
            .unwrap()
            .input
            .active
    })
    .await;
    let hook = store.webhook(&account.id, &view.id).await.unwrap();
    assert_eq!(
        hook.disabled_reason.as_deref(),
        Some("Turned off automatically: every attempt failed for 1 second.")
    );
    // Its open delivery is given up at its next turn instead of being sent.
    eventually("the delivery to be given up", || async {
        status_of(&store, &id).await == "failed"
    })
    .await;
    assert!(
        receiver.received().len() <= 4,
        "stopped sending: {}",
        receiver.received().len()
    );
    delivery.shutdown().await;
}

async fn after_a_rotation_both_secrets_verify(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let (view, old) = store
        .create_webhook(&account.id, hook(&receiver.url))
        .await
        .unwrap();
    let new = store
        .rotate_signing_secret(&account.id, &view.id)
        .await
        .unwrap();
    assert_ne!(old, new);
    assert!(new.starts_with("whsec_"));
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();
    eventually("the delivery", || async {
        status_of(&store, &id).await == "succeeded"
    })
    .await;
    let got = &receiver.received()[0];
    assert_eq!(
        got.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    for secret in [&new, &old] {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&got.body, &got.headers)
            .expect("verifies");
    }
    delivery.shutdown().await;
}

async fn a_slow_webhook_keeps_to_its_in_flight_limit_and_others_go_on(store: Store) {
    let slow = TestReceiver::start().await;
    for _ in 0..6 {
        slow.hang_next(std::time::Duration::from_millis(400));
    }
    let quick = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let mut a = hook(&slow.url);
    a.title = "Slow".into();
    store.create_webhook(&account.id, a).await.unwrap();
    let mut b = hook(&quick.url);
    b.title = "Quick".into();
    store.create_webhook(&account.id, b).await.unwrap();
    let delivery = Delivery::start(
        store.clone(),
        DeliveryConfig {
            per_webhook: 2,
            ..config(true)
        },
    )
    .unwrap();
    for _ in 0..6 {
        send_lead(&store).await;
    }
    delivery.waker().notify_one();
    eventually("the quick webhook's six deliveries", || async {
        quick.received().len() == 6
    })
    .await;
    assert!(
        slow.received().len() < 6,
        "the quick webhook did not wait behind the slow one"
    );
    eventually("the slow webhook's six deliveries", || async {
        store
            .count_deliveries(&account.id, DeliveryStatus::Succeeded)
            .await
            .unwrap()
            == 12
    })
    .await;
    assert_eq!(
        slow.max_in_flight(),
        2,
        "never more than two at once to one webhook"
    );
    delivery.shutdown().await;
}

async fn deliveries_handed_over_at_acceptance_go_once_and_are_recorded(store: Store) {
    let fast = TestReceiver::start().await;
    let queued = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let mut a = hook(&fast.url);
    a.title = "Fast".into();
    store.create_webhook(&account.id, a).await.unwrap();
    let mut b = hook(&queued.url);
    b.title = "Queued".into();
    b.delivery_mode = engine::model::DeliveryMode::Queued;
    store.create_webhook(&account.id, b).await.unwrap();
    // Room for 8 handed-over deliveries: the rest of each batch waits in
    // the database for a claim, so both ways are taken.
    let delivery = Delivery::start(
        store.clone(),
        DeliveryConfig {
            concurrency: 2,
            per_webhook: 2,
            ..config(true)
        },
    )
    .unwrap();
    let handoff = delivery.handoff();
    let mut ids = Vec::new();
    for batch in 0..4 {
        let events = (0..10)
            .map(|n| NewEvent::new("lead.created", serde_json::json!({"id": batch * 10 + n})))
            .collect();
        for answer in handoff.accept(&store, &account, events).await.unwrap() {
            ids.extend(answer.deliveries.into_iter().map(|d| (d.id, d.webhook_id)));
        }
    }
    assert_eq!(ids.len(), 80);
    eventually("all 80 deliveries to succeed", || async {
        store
            .count_deliveries(&account.id, DeliveryStatus::Succeeded)
            .await
            .unwrap()
            == 80
    })
    .await;
    let sent: Vec<String> = fast
        .received()
        .iter()
        .chain(queued.received().iter())
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
        .collect();
    let unique: std::collections::HashSet<&String> = sent.iter().collect();
    assert_eq!(sent.len(), 80, "each delivery sent once");
    assert_eq!(unique.len(), 80);
    for (id, _) in &ids {
        assert_eq!(
            store.attempts(id).await.unwrap().len(),
            1,
            "{id}: one attempt recorded"
        );
    }
    assert!(fast.max_in_flight() <= 2, "the in-flight limit holds");
    // The queued webhook's deliveries went in event order.
    let order: Vec<i64> = queued
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["data"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(order, (0..40).collect::<Vec<i64>>());
    delivery.shutdown().await;
}

async fn concurrent_accepts_share_commits_and_each_gets_its_own_answer(store: Store) {
    let (_receiver, account, delivery) = engine_with_one_webhook(&store).await;
    let handoff = delivery.handoff();
    let mut calls = tokio::task::JoinSet::new();
    for call in 0..30i64 {
        let (store, handoff, account) = (store.clone(), handoff.clone(), account.clone());
        calls.spawn(async move {
            // Call 7 carries a bad event: it fails alone.
            let events: Vec<NewEvent> = (0..=call % 3)
                .map(|n| {
                    let kind = if call == 7 {
                        "not a type"
                    } else {
                        "lead.created"
                    };
                    NewEvent::new(kind, serde_json::json!({"id": call * 10 + n}))
                })
                .collect();
            (call, handoff.accept(&store, &account, events).await)
        });
    }
    let mut accepted = std::collections::HashMap::new();
    while let Some(done) = calls.join_next().await {
        let (call, result) = done.unwrap();
        if call == 7 {
            assert!(
                matches!(result, Err(engine::store::Error::Validation(_))),
                "{result:?}"
            );
            continue;
        }
        let answers = result.unwrap();
        assert_eq!(
            answers.len() as i64,
            call % 3 + 1,
            "call {call}: one answer per event"
        );
        for answer in answers {
            assert_eq!(answer.deliveries.len(), 1);
            assert!(accepted.insert(answer.id.clone(), call).is_none());
        }
    }
    let log = store
        .list_events(&account.id, None, 1000, None)
        .await
        .unwrap();
    assert_eq!(
        log.data.len(),
        accepted.len(),
        "the log holds exactly the accepted events"
    );
    for event in &log.data {
        let call = accepted[&event.id];
        assert_eq!(
            event.data["id"].as_i64().unwrap() / 10,
            call,
            "each answer names its own call's event"
        );
    }
    let expected = accepted.len() as i64;
    eventually("every delivery to succeed", || async {
        store
            .count_deliveries(&account.id, DeliveryStatus::Succeeded)
            .await
            .unwrap()
            == expected
    })
    .await;
    delivery.shutdown().await;
}

/// SQLite: the engine's commits are copied from the WAL into the database
/// file beside the writer (a reader that ignores the WAL sees them), not
/// left for the writer to copy inside a later commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_beside_the_writer() {
    let (store, dir) = sqlite().await;
    let path = dir.db_path();
    let (_receiver, account, delivery) = engine_with_one_webhook(&store).await;
    let handoff = delivery.handoff();
    // Enough rows for a checkpoint (1,000): 600 events and their deliveries.
    let events = (0..600)
        .map(|n| NewEvent::new("lead.created", serde_json::json!({"id": n})))
        .collect();
    handoff.accept(&store, &account, events).await.unwrap();
    // The database file alone, without its WAL, read afresh each time.
    let file_only = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .immutable(true);
    eventually(
        "the accepted deliveries to reach the database file",
        || async {
            use sqlx::Connection;
            let Ok(mut db) = sqlx::SqliteConnection::connect_with(&file_only).await else {
                return false;
            };
            let deliveries = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM deliveries")
                .fetch_one(&mut db)
                .await
                .unwrap_or(0);
            let _ = db.close().await;
            deliveries == 600
        },
    )
    .await;
    delivery.shutdown().await;
    store.close().await;
}

/// While a resend's attempt is out, the delivery is held for the lease the
/// engine was started with (not a built-in one): a second resend is refused
/// until that lease runs out, however long the receiver hangs.
async fn a_resend_holds_the_delivery_for_the_configured_lease(store: Store) {
    let receiver = TestReceiver::start().await;
    let account = store.ensure_default_account().await.unwrap();
    let inline = WebhookInput {
        execution_mode: engine::model::ExecutionMode::Inline,
        ..hook(&receiver.url)
    };
    store.create_webhook(&account.id, inline).await.unwrap();
    let lease = std::time::Duration::from_millis(1000);
    let engine = engine::Engine::start(
        store.clone(),
        engine::EngineConfig {
            delivery: DeliveryConfig {
                lease,
                ..config(true)
            },
            no_delivery: true,
            ..engine::EngineConfig::default()
        },
    )
    .unwrap();
    let answers = engine
        .accept_events(
            &account,
            vec![NewEvent::new(
                "lead.created",
                serde_json::json!({"id": "l1"}),
            )],
        )
        .await
        .unwrap();
    let id = answers[0].deliveries[0].id.clone();
    assert_eq!(answers[0].deliveries[0].status, DeliveryStatus::Succeeded);

    receiver.hang_next(std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    let first = tokio::spawn({
        let (engine, account_id, id) = (engine.clone(), account.id.clone(), id.clone());
        async move { engine.resend(&account_id, &id).await }
    });
    eventually("the resend reaches the receiver", || async {
        receiver.received().len() == 2
    })
    .await;
    let refused = engine.resend(&account.id, &id).await;
    assert!(
        started.elapsed() < lease,
        "the check came too late to mean anything"
    );
    match refused {
        Err(engine::error::Error::Validation(errors)) => assert_eq!(errors[0].code, "in_flight"),
        other => panic!("a second resend during the first went ahead: {other:?}"),
    }
    tokio::time::sleep(
        (lease + std::time::Duration::from_millis(200)).saturating_sub(started.elapsed()),
    )
    .await;
    let again = engine.resend(&account.id, &id).await.unwrap();
    assert_eq!(again.status, DeliveryStatus::Succeeded);
    assert_eq!(receiver.received().len(), 3);
    first.await.unwrap().unwrap();
    engine.shutdown().await;
}

/// The credentials reach the receiver but never the record: not when the
/// header name was saved with spaces around it, not when the receiver
/// echoes them in its headers or body. Long response headers are cut.
async fn credentials_stay_out_of_the_record_however_they_come_back(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let token = "dTpwNHNzdzByZA=="; // base64 of "u:p4ssw0rd"
    let echoing = |echo: String| async move {
        let receiver = TestReceiver::start().await;
        receiver.answer_exactly(engine::testing::Answer {
            status: 200,
            headers: vec![
                ("x-echo".into(), echo.clone()),
                ("x-long".into(), "a".repeat(5000)),
            ],
            body: Some(format!(r#"{{"echo":"{echo}"}}"#).into_bytes()),
            ..Default::default()
        });
        receiver
    };
    let header_receiver = echoing("k-secret-1".into()).await;
    let basic_receiver = echoing(format!("Basic {token}, p4ssw0rd")).await;
    let spaced = WebhookInput {
        auth: Auth::Header {
            name: " X-Api-Key ".into(),
            value: "k-secret-1".into(),
        },
        ..hook(&header_receiver.url)
    };
    let (view, _) = store.create_webhook(&account.id, spaced).await.unwrap();
    assert!(matches!(&view.input.auth, Auth::Header { name, .. } if name == "X-Api-Key"));
    let basic = WebhookInput {
        title: "basic".into(),
        auth: Auth::Basic {
            username: "u".into(),
            password: "p4ssw0rd".into(),
        },
        ..hook(&basic_receiver.url)
    };
    store.create_webhook(&account.id, basic).await.unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let ids = post_lead(&store, &delivery, serde_json::json!({"id": "l1"})).await;
    for id in &ids {
        eventually("the delivery to succeed", || async {
            status_of(&store, id).await == "succeeded"
        })
        .await;
    }
    assert_eq!(
        header_receiver.received()[0].headers["x-api-key"],
        "k-secret-1"
    );
    assert_eq!(
        basic_receiver.received()[0].headers["authorization"],
        format!("Basic {token}").as_str()
    );
    for id in &ids {
        let attempts = store.attempts(id).await.unwrap();
        let recorded = serde_json::to_string(&attempts).unwrap();
        for secret in ["k-secret-1", "p4ssw0rd", token] {
            assert!(!recorded.contains(secret), "{secret} in {recorded}");
        }
        let response = attempts[0].response.as_ref().unwrap();
        assert!(response.body.contains("********"), "{}", response.body);
        let long = response
            .headers
            .iter()
            .find(|(k, _)| k == "x-long")
            .unwrap();
        assert_eq!(long.1.len(), 1024);
    }
    delivery.shutdown().await;
}
