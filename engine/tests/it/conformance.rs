//! The store's conformance suite: every test runs on SQLite and on PostgreSQL.

use crate::support::{postgres, sqlite};
use engine::model::NewEvent;
use engine::model::{Auth, MappingRow, MappingValue, Role, SECRET_MASK, Trigger, WebhookInput};
use engine::store::{Error, Store};

conformance!(
    migrations_are_idempotent_and_create_the_default_account_once,
    first_admin_then_login,
    two_setups_at_once_make_one_admin,
    users_are_unique_by_email_and_validated,
    webhook_round_trips_every_field,
    secrets_are_masked_and_kept_on_save,
    titles_are_unique_per_account_until_deleted,
    invalid_webhooks_are_rejected_with_field_errors,
    accounts_do_not_see_each_other,
    active_toggle_and_delete,
    sessions_save_load_expire,
    api_keys_name_their_account,
    events_fan_out_to_matching_active_webhooks,
    a_repeated_idempotency_key_returns_the_first_answer,
    the_event_log_reads_in_order_with_a_cursor,
    bad_events_are_rejected_and_nothing_is_stored,
    a_unique_index_answers_with_the_field_it_guards,
);

fn webhook(title: &str) -> WebhookInput {
    WebhookInput {
        title: title.into(),
        url: "https://crm.example.com/hook".into(),
        triggers: vec![Trigger {
            event_type: "lead.created".into(),
            filters: vec![],
        }],
        mapping: vec![
            MappingRow {
                key: "First Name".into(),
                value: MappingValue::Field("contact.first_name".into()),
            },
            MappingRow {
                key: "api_hash".into(),
                value: MappingValue::Constant("s3cr3t".into()),
            },
            MappingRow {
                key: "ref".into(),
                value: MappingValue::Template("{account.id}-{contact.id}".into()),
            },
        ],
        auth: Auth::Header {
            name: "Authorization".into(),
            value: "Bearer top-secret".into(),
        },
        ..WebhookInput::default()
    }
}

fn codes(err: Error) -> Vec<(String, String)> {
    match err {
        Error::Validation(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn migrations_are_idempotent_and_create_the_default_account_once(store: Store) {
    store.migrate().await.expect("second migrate is a no-op");
    let a = store.ensure_default_account().await.unwrap();
    let b = store.ensure_default_account().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.name, "default");
}

async fn first_admin_then_login(store: Store) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let admin = store
        .create_first_admin(" Admin@Example.COM ", "correct horse")
        .await
        .unwrap();
    assert_eq!(admin.email, "admin@example.com");
    assert_eq!(admin.role, Role::Admin);
    let again = store
        .create_first_admin("other@example.com", "correct horse")
        .await
        .unwrap_err();
    assert_eq!(
        codes(again),
        vec![("email".into(), "already_set_up".into())]
    );
    assert_eq!(store.count_users().await.unwrap(), 1);

    let ok = store
        .authenticate("ADMIN@example.com", "correct horse")
        .await
        .unwrap();
    assert_eq!(ok.as_ref().map(|u| u.id.as_str()), Some(admin.id.as_str()));
    assert_eq!(
        store
            .authenticate("admin@example.com", "wrong horse")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .authenticate("nobody@example.com", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.user(&admin.id).await.unwrap(), Some(admin));
}

async fn two_setups_at_once_make_one_admin(store: Store) {
    let mut setups = tokio::task::JoinSet::new();
    for n in 0..6 {
        let store = store.clone();
        setups.spawn(async move {
            store
                .create_first_admin(&format!("admin{n}@example.com"), "correct horse")
                .await
        });
    }
    let mut made = 0;
    while let Some(done) = setups.join_next().await {
        match done.unwrap() {
            Ok(_) => made += 1,
            Err(e) => assert_eq!(codes(e), [("email".into(), "already_set_up".into())]),
        }
    }
    assert_eq!(made, 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn users_are_unique_by_email_and_validated(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    store
        .create_user(&account.id, "s@example.com", "password1", Role::Support)
        .await
        .unwrap();
    let dup = store
        .create_user(&account.id, "S@example.com", "password1", Role::Admin)
        .await
        .unwrap_err();
    assert_eq!(codes(dup), vec![("email".into(), "duplicate_email".into())]);
    let bad = store
        .create_user(&account.id, "not-an-email", "password1", Role::Admin)
        .await
        .unwrap_err();
    assert_eq!(codes(bad), vec![("email".into(), "invalid_email".into())]);
    let short = store
        .create_user(&account.id, "t@example.com", "short", Role::Admin)
        .await
        .unwrap_err();
    assert_eq!(
        codes(short),
        vec![("password".into(), "weak_password".into())]
    );
}

async fn webhook_round_trips_every_field(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let mut input = webhook("Dialer queue");
    input.port = Some(8443);
    input.method = engine::model::Method::Put;
    input.format = engine::model::Format::Adf;
    input.headers = vec![engine::model::Header {
        name: "X-Source".into(),
        value: "crm".into(),
    }];
    input.triggers[0].filters = vec![engine::model::Filter {
        field: "lead.type".into(),
        op: engine::model::FilterOp::In,
        value: serde_json::json!(["call", "chat"]),
    }];
    input.execution_mode = engine::model::ExecutionMode::Inline;
    input.delivery_mode = engine::model::DeliveryMode::Queued;
    input.retry = engine::model::RetryPolicy {
        max_attempts: 3,
        schedule_s: vec![0, 10, 60],
    };
    input.timeout_ms = 5000;
    input.active = false;
    let (view, secret) = store
        .create_webhook(&account.id, input.clone())
        .await
        .unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert!(view.id.starts_with("wh_"));
    let expected = WebhookInput {
        auth: Auth::Header {
            name: "Authorization".into(),
            value: SECRET_MASK.into(),
        },
        ..input.clone()
    };
    assert_eq!(view.input, expected);
    let fetched = store.webhook(&account.id, &view.id).await.unwrap();
    assert_eq!(fetched, view);
    let found = store
        .webhook_with_secrets(&account.id, &view.id)
        .await
        .unwrap();
    assert_eq!(found.webhook, input);
    assert_eq!(found.signing_secrets, vec![secret]);
}

async fn secrets_are_masked_and_kept_on_save(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (view, _) = store
        .create_webhook(&account.id, webhook("Masked"))
        .await
        .unwrap();
    // Saving the masked form back keeps the secret.
    let mut edit = view.input.clone();
    edit.title = "Masked, renamed".into();
    store
        .update_webhook(&account.id, &view.id, edit.clone())
        .await
        .unwrap();
    let real = store
        .webhook_with_secrets(&account.id, &view.id)
        .await
        .unwrap()
        .webhook;
    assert_eq!(
        real.auth,
        Auth::Header {
            name: "Authorization".into(),
            value: "Bearer top-secret".into()
        }
    );
    assert_eq!(real.title, "Masked, renamed");
    // The same host on another path keeps it; another host or port asks
    // for the credentials again, and stores nothing.
    edit.url = "https://CRM.example.com/other-path".into();
    store
        .update_webhook(&account.id, &view.id, edit.clone())
        .await
        .unwrap();
    for (url, port) in [
        ("https://attacker.example.net/hook", None),
        ("https://crm.example.com:8443/hook", None),
        ("https://crm.example.com/hook", Some(444)),
    ] {
        let mut elsewhere = edit.clone();
        elsewhere.url = url.into();
        elsewhere.port = port;
        let refused = store
            .update_webhook(&account.id, &view.id, elsewhere)
            .await
            .unwrap_err();
        assert_eq!(
            codes(refused),
            [("auth.value".into(), "credentials_required".into())],
            "{url} {port:?}"
        );
    }
    let kept = store.webhook(&account.id, &view.id).await.unwrap();
    assert_eq!(kept.input.url, "https://CRM.example.com/other-path");
    // A new value replaces it.
    edit.auth = Auth::Basic {
        username: "u".into(),
        password: "new-pass".into(),
    };
    let updated = store
        .update_webhook(&account.id, &view.id, edit)
        .await
        .unwrap();
    assert_eq!(
        updated.input.auth,
        Auth::Basic {
            username: "u".into(),
            password: SECRET_MASK.into()
        }
    );
    let real = store
        .webhook_with_secrets(&account.id, &view.id)
        .await
        .unwrap()
        .webhook;
    assert_eq!(
        real.auth,
        Auth::Basic {
            username: "u".into(),
            password: "new-pass".into()
        }
    );
}

async fn titles_are_unique_per_account_until_deleted(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (first, _) = store
        .create_webhook(&account.id, webhook("Same"))
        .await
        .unwrap();
    let dup = store
        .create_webhook(&account.id, webhook(" Same "))
        .await
        .unwrap_err();
    assert_eq!(codes(dup), vec![("title".into(), "duplicate_title".into())]);
    let (second, _) = store
        .create_webhook(&account.id, webhook("Other"))
        .await
        .unwrap();
    let rename = store
        .update_webhook(&account.id, &second.id, webhook("Same"))
        .await
        .unwrap_err();
    assert_eq!(
        codes(rename),
        vec![("title".into(), "duplicate_title".into())]
    );
    // Saving a webhook under its own title is fine.
    store
        .update_webhook(&account.id, &first.id, webhook("Same"))
        .await
        .unwrap();
    store.delete_webhook(&account.id, &first.id).await.unwrap();
    store
        .create_webhook(&account.id, webhook("Same"))
        .await
        .unwrap();
}

async fn invalid_webhooks_are_rejected_with_field_errors(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let mut bad = webhook("Bad");
    bad.url = "ftp://example.com".into();
    bad.mapping.push(MappingRow {
        key: "First Name".into(),
        value: MappingValue::Constant("x".into()),
    });
    let err = store.create_webhook(&account.id, bad).await.unwrap_err();
    assert_eq!(
        codes(err),
        vec![
            ("url".into(), "invalid_url".into()),
            ("mapping[3].key".into(), "duplicate_key".into())
        ]
    );
    assert!(
        store.list_webhooks(&account.id).await.unwrap().is_empty(),
        "nothing saved"
    );
}

async fn accounts_do_not_see_each_other(store: Store) {
    let a = store.ensure_default_account().await.unwrap();
    let b = store
        .create_account("Other dealer", Some("D-2"))
        .await
        .unwrap();
    let (hook, _) = store.create_webhook(&a.id, webhook("Mine")).await.unwrap();
    assert!(matches!(
        store.webhook(&b.id, &hook.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.delete_webhook(&b.id, &hook.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.update_webhook(&b.id, &hook.id, webhook("x")).await,
        Err(Error::NotFound)
    ));
    assert!(store.list_webhooks(&b.id).await.unwrap().is_empty());
    // The same title is fine in another account.
    store.create_webhook(&b.id, webhook("Mine")).await.unwrap();
}

async fn active_toggle_and_delete(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (one, _) = store
        .create_webhook(&account.id, webhook("One"))
        .await
        .unwrap();
    let (two, _) = store
        .create_webhook(&account.id, webhook("Two"))
        .await
        .unwrap();
    let list = store.list_webhooks(&account.id).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|w| w.input.title.as_str())
            .collect::<Vec<_>>(),
        vec!["Two", "One"]
    );
    let off = store
        .set_webhook_active(&account.id, &one.id, false)
        .await
        .unwrap();
    assert!(!off.input.active);
    assert!(
        store
            .set_webhook_active(&account.id, &one.id, true)
            .await
            .unwrap()
            .input
            .active
    );
    store.delete_webhook(&account.id, &two.id).await.unwrap();
    assert!(matches!(
        store.webhook(&account.id, &two.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.delete_webhook(&account.id, &two.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.list_webhooks(&account.id).await.unwrap().len(), 1);
}

async fn sessions_save_load_expire(store: Store) {
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert!(store.session_create("s1", b"one", later).await.unwrap());
    assert!(!store.session_create("s1", b"dup", later).await.unwrap());
    assert_eq!(
        store.session_load("s1").await.unwrap(),
        Some(b"one".to_vec())
    );
    store.session_save("s1", b"two", later).await.unwrap();
    assert_eq!(
        store.session_load("s1").await.unwrap(),
        Some(b"two".to_vec())
    );
    store.session_save("old", b"x", past).await.unwrap();
    assert_eq!(
        store.session_load("old").await.unwrap(),
        None,
        "expired sessions do not load"
    );
    assert_eq!(store.session_purge_expired().await.unwrap(), 1);
    store.session_delete("s1").await.unwrap();
    assert_eq!(store.session_load("s1").await.unwrap(), None);
}

async fn api_keys_name_their_account(store: Store) {
    let a = store.ensure_default_account().await.unwrap();
    let b = store.create_account("Second", None).await.unwrap();
    let key_a = store.create_api_key(&a.id, "crm").await.unwrap();
    let key_b = store.create_api_key(&b.id, "crm").await.unwrap();
    assert!(key_a.starts_with("pbk_") && key_a.len() > 30, "{key_a}");
    assert_ne!(key_a, key_b);
    assert_eq!(store.account_for_api_key(&key_a).await.unwrap(), Some(a));
    assert_eq!(store.account_for_api_key(&key_b).await.unwrap(), Some(b));
    assert_eq!(store.account_for_api_key("pbk_nope").await.unwrap(), None);
}

async fn events_fan_out_to_matching_active_webhooks(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let mut calls = webhook("Calls only");
    calls.triggers[0].filters = vec![engine::model::Filter {
        field: "lead.type".into(),
        op: engine::model::FilterOp::In,
        value: serde_json::json!(["Call"]),
    }];
    let (calls, _) = store.create_webhook(&account.id, calls).await.unwrap();
    let (all_leads, _) = store
        .create_webhook(&account.id, webhook("All leads"))
        .await
        .unwrap();
    let (off, _) = store
        .create_webhook(&account.id, webhook("Switched off"))
        .await
        .unwrap();
    store
        .set_webhook_active(&account.id, &off.id, false)
        .await
        .unwrap();
    let (deleted, _) = store
        .create_webhook(&account.id, webhook("Deleted"))
        .await
        .unwrap();
    store
        .delete_webhook(&account.id, &deleted.id)
        .await
        .unwrap();

    let answers = store
        .accept_events(
            &account,
            vec![
                NewEvent::new(
                    "lead.created",
                    serde_json::json!({"type": "call", "contact": {"first_name": "Ann"}}),
                ),
                NewEvent::new("lead.created", serde_json::json!({"type": "chat"})),
                NewEvent::new("contact.created", serde_json::json!({"first_name": "Bo"})),
            ],
        )
        .await
        .unwrap();
    let hooks = |i: usize| {
        let mut ids: Vec<String> = answers[i]
            .deliveries
            .iter()
            .map(|d| d.webhook_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![calls.id.clone(), all_leads.id.clone()];
    both.sort();
    assert_eq!(hooks(0), both);
    assert_eq!(hooks(1), vec![all_leads.id.clone()]);
    assert!(hooks(2).is_empty());
    assert!(
        answers
            .iter()
            .flat_map(|a| &a.deliveries)
            .all(|d| d.status == "pending" && d.id.starts_with("dlv_"))
    );
    assert!(answers[0].id.starts_with("evt_"));
}

/// The account's event log once every transaction that was running has
/// ended: on PostgreSQL the log stops before the oldest one still open, and
/// the tests of other databases on the same server run beside this one.
async fn log_after_open_transactions(store: &Store, account_id: &str) -> engine::model::EventPage {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut log = store
        .list_events(account_id, None, 100, None)
        .await
        .unwrap();
    let mut last = log.data.len();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        log = store
            .list_events(account_id, None, 100, None)
            .await
            .unwrap();
        if (log.data.len() == last && !log.data.is_empty()) || std::time::Instant::now() > deadline
        {
            return log;
        }
        last = log.data.len();
    }
}

async fn a_repeated_idempotency_key_returns_the_first_answer(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    store
        .create_webhook(&account.id, webhook("Leads"))
        .await
        .unwrap();
    let mut first = NewEvent::new("lead.created", serde_json::json!({"type": "call"}));
    first.idempotency_key = Some("crm-42".into());
    let a = store
        .accept_events(&account, vec![first.clone()])
        .await
        .unwrap();
    let mut again = first.clone();
    again.data = serde_json::json!({"type": "different"});
    let b = store.accept_events(&account, vec![again]).await.unwrap();
    assert_eq!(a, b);
    let log = log_after_open_transactions(&store, &account.id).await;
    assert_eq!(log.data.len(), 1, "the repeat stored nothing");
    // Keys are per account.
    let other = store.create_account("Other", None).await.unwrap();
    let c = store.accept_events(&other, vec![first]).await.unwrap();
    assert_ne!(c[0].id, a[0].id);
    // In one batch: answers in the order sent, a key repeated within the
    // batch gets the batch's first answer, and a known key the stored one.
    let keyed = |key: &str, n: i64| {
        let mut e = NewEvent::new("lead.created", serde_json::json!({"id": n}));
        e.idempotency_key = Some(key.into());
        e
    };
    let batch = vec![
        keyed("batch-1", 1),
        NewEvent::new("lead.created", serde_json::json!({"id": 2})),
        keyed("batch-1", 3),
        keyed("crm-42", 4),
    ];
    let answers = store.accept_events(&account, batch).await.unwrap();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[2], answers[0], "a repeat within the batch");
    assert_ne!(answers[1].id, answers[0].id);
    assert_eq!(answers[3], a[0], "a key stored before");
    let log = log_after_open_transactions(&store, &account.id).await;
    let ids: Vec<&str> = log.data.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            a[0].id.as_str(),
            answers[0].id.as_str(),
            answers[1].id.as_str()
        ]
    );
    assert_eq!(log.data[1].data, serde_json::json!({"id": 1}));
}

async fn the_event_log_reads_in_order_with_a_cursor(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let other = store.create_account("Other", None).await.unwrap();
    store
        .accept_events(
            &other,
            vec![NewEvent::new(
                "contact.created",
                serde_json::json!({"n": -1}),
            )],
        )
        .await
        .unwrap();
    let mut sent = Vec::new();
    for n in 0..5 {
        let kind = if n % 2 == 0 {
            "contact.created"
        } else {
            "lead.created"
        };
        let mut e = NewEvent::new(kind, serde_json::json!({"n": n}));
        e.actor = Some(engine::model::Actor {
            id: "u1".into(),
            name: "Jane".into(),
        });
        sent.push(
            store.accept_events(&account, vec![e]).await.unwrap()[0]
                .id
                .clone(),
        );
    }
    // On PostgreSQL the log shows an event once no transaction that began
    // before it is still open anywhere on the server (other tests' too).
    engine::testing::eventually("the five events in the log", || async {
        store
            .list_events(&account.id, None, 10, None)
            .await
            .unwrap()
            .data
            .len()
            == 5
    })
    .await;
    let page1 = store.list_events(&account.id, None, 2, None).await.unwrap();
    assert_eq!(
        page1.data.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        sent[..2].to_vec()
    );
    assert_eq!(page1.data[0].actor.as_ref().unwrap().name, "Jane");
    assert_eq!(page1.data[1].data, serde_json::json!({"n": 1}));
    let page2 = store
        .list_events(&account.id, page1.next_cursor.as_deref(), 2, None)
        .await
        .unwrap();
    assert_eq!(
        page2.data.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        sent[2..4].to_vec()
    );
    let page3 = store
        .list_events(&account.id, page2.next_cursor.as_deref(), 2, None)
        .await
        .unwrap();
    assert_eq!(page3.data.len(), 1);
    let at_end = store
        .list_events(&account.id, page3.next_cursor.as_deref(), 2, None)
        .await
        .unwrap();
    assert!(at_end.data.is_empty(), "the end of the log");
    assert_eq!(
        at_end.next_cursor, page3.next_cursor,
        "the reader keeps its place"
    );
    let later = store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "contact.created",
                serde_json::json!({"n": 5}),
            )],
        )
        .await
        .unwrap();
    // On PostgreSQL the log shows an event once no transaction that began
    // before its own is still open, anywhere on the server (other tests'
    // included): wait for that, briefly.
    let mut page4 = store
        .list_events(&account.id, at_end.next_cursor.as_deref(), 2, None)
        .await
        .unwrap();
    for _ in 0..50 {
        if !page4.data.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page4 = store
            .list_events(&account.id, at_end.next_cursor.as_deref(), 2, None)
            .await
            .unwrap();
    }
    assert_eq!(
        page4.data.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![later[0].id.clone()],
        "an event that arrives later is read from where the reader stopped"
    );
    let leads = store
        .list_events(&account.id, None, 10, Some("lead.created"))
        .await
        .unwrap();
    assert_eq!(
        leads.data.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![sent[1].clone(), sent[3].clone()]
    );
    assert!(matches!(
        store.list_events(&account.id, Some("zzz"), 10, None).await,
        Err(Error::Validation(_))
    ));
}

async fn bad_events_are_rejected_and_nothing_is_stored(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let err = store
        .accept_events(
            &account,
            vec![
                NewEvent::new("contact.created", serde_json::json!({})),
                NewEvent::new("Contact Created", serde_json::json!({})),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(
        codes(err),
        vec![("type".into(), "invalid_event_type".into())]
    );
    let err = store
        .accept_events(
            &account,
            vec![NewEvent::new("contact.created", serde_json::json!([1]))],
        )
        .await
        .unwrap_err();
    assert_eq!(codes(err), vec![("data".into(), "invalid_data".into())]);
    assert!(
        store
            .list_events(&account.id, None, 10, None)
            .await
            .unwrap()
            .data
            .is_empty()
    );
}

/// The database's unique index, not a check before the insert, refuses
/// the second account of a name; the error names the field it guards.
async fn a_unique_index_answers_with_the_field_it_guards(store: Store) {
    store.create_account("Acme", None).await.unwrap();
    let err = store
        .create_account(" Acme ", Some("D-2"))
        .await
        .unwrap_err();
    assert_eq!(
        codes(err),
        [("name".to_string(), "duplicate_name".to_string())]
    );
}
