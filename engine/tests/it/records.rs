//! Contacts and settings items: every change emits its event through the
//! engine's fan-out, with the record as it is after the change and, for
//! updates, what changed; the events of a change survive a stop between the
//! change and its acceptance, and are accepted once. On both databases.

use engine::model::{
    Account, ChangedBy, ContactFilter, ContactInput, Filter, FilterOp, ItemInput, ItemKind,
    LeadInput, LeadType, TodoInput, Trigger, Via, WebhookInput,
};
use engine::store::Store;
use engine::{Engine, EngineConfig};
use serde_json::{Value, json};

use crate::delivery::config;
use crate::support::{TestReceiver, eventually, postgres, sqlite};

both_databases!(
    each_change_emits_its_event_with_the_record_and_its_changes,
    a_status_fires_only_the_webhook_filtered_on_it,
    events_left_by_a_stop_are_accepted_once,
    changes_at_once_each_apply_to_what_the_other_left,
    bad_values_are_refused_on_their_field_and_nothing_is_written,
    the_list_filters_and_pages,
    search_finds_contacts_by_the_start_of_their_words_and_follows_each_change,
    each_way_a_search_reads_gives_the_same_pages,
    settings_items_emit_their_events_and_renames_carry_over,
    types_sent_through_the_api_join_the_accounts_catalog,
);

fn console() -> ChangedBy {
    ChangedBy {
        actor: Some(engine::model::Actor {
            id: "usr_1".into(),
            name: "admin@example.com".into(),
        }),
        via: Via::Console,
    }
}

fn api() -> ChangedBy {
    ChangedBy {
        actor: None,
        via: Via::Api,
    }
}

fn ann() -> ContactInput {
    serde_json::from_value(json!({
        "first_name": "Ann", "last_name": "Lee", "email": "Ann@Example.com",
        "phone": "+1 555 0100", "address": {"city": "Springfield"},
        "source": "Website", "custom_fields": {"tier": "gold"}
    }))
    .unwrap()
}

async fn start(store: &Store) -> (Engine, Account) {
    let account = store.ensure_default_account().await.unwrap();
    let engine = Engine::start(
        store.clone(),
        EngineConfig {
            delivery: config(true),
            ..EngineConfig::default()
        },
    )
    .unwrap();
    (engine, account)
}

/// The account's logged events, oldest first: type and data, once there
/// are at least `n` (PostgreSQL shows an event once every transaction
/// older than its own has ended).
async fn logged(store: &Store, account: &Account, n: usize) -> Vec<(String, Value)> {
    let read = || async {
        store
            .list_events(&account.id, None, 1000, None)
            .await
            .unwrap()
            .data
            .into_iter()
            .map(|e| (e.event_type, e.data))
            .collect::<Vec<_>>()
    };
    eventually(&format!("{n} events in the log"), || async {
        read().await.len() >= n
    })
    .await;
    read().await
}

async fn each_change_emits_its_event_with_the_record_and_its_changes(store: Store) {
    let (engine, account) = start(&store).await;
    let users = store.items(&account.id, ItemKind::User).await.unwrap();
    assert!(users.is_empty());
    let jane = |name: &str, company: &str| ItemInput {
        name: name.into(),
        company: Some(company.into()),
        email: None,
        active: true,
    };
    let (sam, _) = store
        .create_item(
            &account.id,
            ItemKind::User,
            jane("Sam Seller", "North"),
            &console(),
        )
        .await
        .unwrap();
    let (kim, _) = store
        .create_item(
            &account.id,
            ItemKind::User,
            jane("Kim Keys", "North"),
            &console(),
        )
        .await
        .unwrap();

    let created = engine
        .saved(
            &account,
            store
                .create_contact(&account.id, ann(), &api())
                .await
                .unwrap(),
        )
        .await;
    let id = created.record.id.clone();
    assert_eq!(created.record.email.as_deref(), Some("ann@example.com"));
    assert_eq!(created.events.len(), 1);
    assert!(created.events[0].id.is_some(), "accepted at once");

    // The API changes the phone and the city: contact.updated with changes.
    let mut input = created.record.input();
    input.phone = Some("+1 555 0199".into());
    input.address.city = Some("Shelbyville".into());
    engine
        .saved(
            &account,
            store
                .update_contact(&account.id, &id, input.clone(), &api())
                .await
                .unwrap(),
        )
        .await;
    // The same again through the API changes nothing and emits nothing;
    // through the console it is a save.
    let same = store
        .update_contact(&account.id, &id, input.clone(), &api())
        .await
        .unwrap();
    assert!(same.1.is_empty());
    engine
        .saved(
            &account,
            store
                .update_contact(&account.id, &id, input, &console())
                .await
                .unwrap(),
        )
        .await;

    for (kind, name) in [
        (ItemKind::Status, "Thank You Note"),
        (ItemKind::Flag, "VIP"),
    ] {
        engine
            .saved(
                &account,
                store
                    .add_label(&account.id, &id, kind, name, &console())
                    .await
                    .unwrap(),
            )
            .await;
    }
    // Adding a status the contact has emits nothing.
    let again = store
        .add_label(
            &account.id,
            &id,
            ItemKind::Status,
            "Thank You Note",
            &console(),
        )
        .await
        .unwrap();
    assert!(again.1.is_empty());
    engine
        .saved(
            &account,
            store
                .remove_label(&account.id, &id, ItemKind::Flag, "VIP", &console())
                .await
                .unwrap(),
        )
        .await;
    for user in [&sam, &kim] {
        engine
            .saved(
                &account,
                store
                    .assign(&account.id, &id, &user.id, &console())
                    .await
                    .unwrap(),
            )
            .await;
    }
    let lead = |t| LeadInput {
        lead_type: t,
        source: Some("Phone".into()),
        comments: "Wants a test drive".into(),
        details: Default::default(),
    };
    engine
        .saved(
            &account,
            store
                .add_lead(&account.id, &id, lead(LeadType::Call), &api())
                .await
                .unwrap(),
        )
        .await;
    engine
        .saved(
            &account,
            store
                .add_lead(&account.id, &id, lead(LeadType::Chat), &api())
                .await
                .unwrap(),
        )
        .await;
    let todo = TodoInput {
        title: "Call back".into(),
        due_at: None,
        done: false,
        assigned_user_id: Some(sam.id.clone()),
    };
    let (made, outbox) = store
        .add_todo(&account.id, &id, todo.clone(), &console())
        .await
        .unwrap();
    engine.emit(&account, outbox).await;
    let done = TodoInput { done: true, ..todo };
    engine
        .saved(
            &account,
            store
                .update_todo(&account.id, &id, &made.id, done, &console())
                .await
                .unwrap(),
        )
        .await;
    engine
        .emit(
            &account,
            store
                .delete_todo(&account.id, &id, &made.id, &console())
                .await
                .unwrap(),
        )
        .await;
    engine
        .emit(
            &account,
            store
                .delete_contact(&account.id, &id, &api())
                .await
                .unwrap(),
        )
        .await;

    let log = logged(&store, &account, 14).await;
    let types: Vec<&str> = log.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "contact.created",
            "contact.updated",
            "contact.saved",
            "contact.status_added",
            "contact.flag_added",
            "contact.flag_removed",
            "contact.assigned",
            "contact.assigned",
            "lead.created",
            "lead.created",
            "todo.created",
            "todo.updated",
            "todo.deleted",
            "contact.deleted",
        ]
    );
    let data = |n: usize| &log[n].1;
    assert_eq!(data(0)["first_name"], "Ann");
    assert_eq!(data(0)["custom_fields"]["tier"], "gold");
    assert_eq!(
        data(1)["changes"],
        json!({
            "phone": {"from": "+1 555 0100", "to": "+1 555 0199"},
            "address": {"from": {"city": "Springfield"}, "to": {"city": "Shelbyville"}}
        })
    );
    assert_eq!(data(1)["phone"], "+1 555 0199", "the record as it is after");
    assert_eq!(data(2)["changes"], json!({}));
    assert_eq!(data(3)["status"], "Thank You Note");
    assert_eq!(data(3)["statuses"], json!(["Thank You Note"]));
    assert_eq!(data(5)["flag"], "VIP");
    assert_eq!(data(5)["flags"], json!([]));
    assert_eq!(data(6)["assigned_user"]["name"], "Sam Seller");
    assert_eq!(data(6)["assigned_user"]["first_from_company"], true);
    assert_eq!(
        data(7)["assigned_user"]["first_from_company"],
        false,
        "Kim is the second from North"
    );
    assert_eq!(data(8)["type"], "call");
    assert_eq!(data(8)["contact_is_new"], true);
    assert_eq!(data(8)["contact"]["email"], "ann@example.com");
    assert_eq!(data(9)["contact_is_new"], false);
    assert_eq!(data(10)["assigned_user"]["name"], "Sam Seller");
    assert_eq!(
        data(11)["changes"],
        json!({"done": {"from": false, "to": true}})
    );
    assert_eq!(data(13)["statuses"], json!(["Thank You Note"]), "as it was");

    let actors: Vec<Option<String>> = store
        .list_events(&account.id, None, 1000, None)
        .await
        .unwrap()
        .data
        .into_iter()
        .map(|e| e.actor.map(|a| a.name))
        .collect();
    assert_eq!(actors[0], None, "the API has no user");
    assert_eq!(actors[2].as_deref(), Some("admin@example.com"));
    assert!(matches!(
        store.contact(&account.id, &id).await,
        Err(engine::Error::NotFound)
    ));
    engine.shutdown().await;
}

fn on_status(url: &str, title: &str, status: &str) -> WebhookInput {
    WebhookInput {
        title: title.into(),
        url: url.into(),
        triggers: vec![Trigger {
            event_type: "contact.status_added".into(),
            filters: vec![Filter {
                field: "contact.status".into(),
                op: FilterOp::Eq,
                value: json!(status),
            }],
        }],
        ..WebhookInput::default()
    }
}

async fn a_status_fires_only_the_webhook_filtered_on_it(store: Store) {
    let thanks = TestReceiver::start().await;
    let sold = TestReceiver::start().await;
    let (engine, account) = start(&store).await;
    store
        .create_webhook(
            &account.id,
            on_status(&thanks.url, "thanks", "Thank You Note"),
        )
        .await
        .unwrap();
    store
        .create_webhook(&account.id, on_status(&sold.url, "sold", "Sold"))
        .await
        .unwrap();
    let (contact, outbox) = store
        .create_contact(&account.id, ann(), &console())
        .await
        .unwrap();
    engine.emit(&account, outbox).await;
    let saved = engine
        .saved(
            &account,
            store
                .add_label(
                    &account.id,
                    &contact.id,
                    ItemKind::Status,
                    "Thank You Note",
                    &console(),
                )
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(saved.events[0].deliveries.len(), 1, "one webhook matched");
    eventually("the Thank You Note receiver gets it", || async {
        thanks.received().len() == 1
    })
    .await;
    let body: Value = serde_json::from_slice(&thanks.received()[0].body).unwrap();
    assert_eq!(body["type"], "contact.status_added");
    assert_eq!(body["data"]["status"], "Thank You Note");
    assert_eq!(body["data"]["email"], "ann@example.com");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sold.received().is_empty(), "the Sold webhook got nothing");
    engine.shutdown().await;
}

async fn events_left_by_a_stop_are_accepted_once(store: Store) {
    let (engine, account) = start(&store).await;
    // A change committed, then the process stopped before accepting.
    let (_, outbox) = store
        .create_contact(&account.id, ann(), &api())
        .await
        .unwrap();
    assert!(logged(&store, &account, 0).await.is_empty());
    let flushed = engine::records::flush_outbox(&store, 0).await.unwrap();
    assert_eq!(flushed, 1);
    assert_eq!(
        engine::records::flush_outbox(&store, 0).await.unwrap(),
        0,
        "cleared"
    );
    // The process that wrote it comes back and accepts it too: once only.
    let events = engine.emit(&account, outbox).await;
    assert_eq!(events.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = logged(&store, &account, 1).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, "contact.created");
    engine.shutdown().await;
}

async fn changes_at_once_each_apply_to_what_the_other_left(store: Store) {
    let (engine, account) = start(&store).await;
    let (contact, _) = store
        .create_contact(&account.id, ann(), &api())
        .await
        .unwrap();
    let names = [
        "New",
        "Contacted",
        "Appointment set",
        "Thank You Note",
        "Sold",
        "Lost",
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let (store, account_id, id) = (store.clone(), account.id.clone(), contact.id.clone());
        tasks.spawn(async move {
            store
                .add_label(&account_id, &id, ItemKind::Status, name, &api())
                .await
                .map(|(_, outbox)| outbox.events.len())
        });
    }
    let mut emitted = 0;
    while let Some(done) = tasks.join_next().await {
        emitted += done.unwrap().unwrap();
    }
    assert_eq!(emitted, names.len());
    let after = store.contact(&account.id, &contact.id).await.unwrap();
    let mut statuses = after.statuses.clone();
    statuses.sort();
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(statuses, expected);
    engine.shutdown().await;
}

async fn bad_values_are_refused_on_their_field_and_nothing_is_written(store: Store) {
    let (engine, account) = start(&store).await;
    let field_of = |e: engine::Error| match e {
        engine::Error::Validation(errors) => (errors[0].field.clone(), errors[0].message.clone()),
        other => panic!("{other:?}"),
    };
    let (contact, _) = store
        .create_contact(&account.id, ann(), &api())
        .await
        .unwrap();
    let (field, message) = field_of(
        store
            .add_label(
                &account.id,
                &contact.id,
                ItemKind::Status,
                "Thank you",
                &api(),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "status");
    assert!(
        message.contains("Thank You Note"),
        "lists the statuses: {message}"
    );
    let (field, _) = field_of(
        store
            .create_contact(&account.id, ann(), &api())
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "email", "one contact per email");
    let mut other = ann();
    other.email = Some("other@example.com".into());
    other.source = Some("Billboard".into());
    let (field, message) = field_of(
        store
            .create_contact(&account.id, other, &api())
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "source");
    assert!(message.contains("Website"), "{message}");
    let (field, _) = field_of(
        store
            .assign(&account.id, &contact.id, "itm_nobody", &api())
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "user_id");
    let page = store
        .list_contacts(&account.id, &ContactFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert!(page.data[0].statuses.is_empty());
    assert_eq!(logged(&store, &account, 0).await.len(), 0);
    assert_eq!(
        engine::records::flush_outbox(&store, 0).await.unwrap(),
        1,
        "only the one created"
    );
    engine.shutdown().await;
}

/// The first names of the account's first 100 contacts `filter` matches,
/// in the list's order.
async fn first_names(store: &Store, account_id: &str, filter: &ContactFilter) -> Vec<String> {
    store
        .list_contacts(account_id, filter, None, 100)
        .await
        .unwrap()
        .data
        .into_iter()
        .map(|c| c.first_name)
        .collect()
}

/// `q` finds a contact by the start of any word of its names, email,
/// email domain, phone digits or external id, without case; every word of
/// the search must match; what it finds follows every create, update and
/// delete, and contacts stored before their words existed get them when
/// the store opens.
async fn search_finds_contacts_by_the_start_of_their_words_and_follows_each_change(store: Store) {
    let (engine, account) = start(&store).await;
    let mut ids = Vec::new();
    for (first, last, email, phone, external) in [
        (
            "Zoë",
            "Ångström",
            "zoe@example.com",
            "+1 555 0100",
            "DMS-77",
        ),
        ("Ann", "O\"Neil", "ann@example.com", "+1 555 0200", "DMS-78"),
        ("Bob", "Stone", "bob@example.com", "+44 20 7946 0000", "X_%"),
    ] {
        let input: ContactInput = serde_json::from_value(json!({
            "first_name": first, "last_name": last, "email": email, "phone": phone,
            "external_id": external,
        }))
        .unwrap();
        let (c, _) = store
            .create_contact(&account.id, input, &api())
            .await
            .unwrap();
        ids.push(c.id);
    }
    let find = |q: &str| {
        let (store, account_id) = (store.clone(), account.id.clone());
        let filter = ContactFilter {
            q: Some(q.into()),
            ..Default::default()
        };
        async move {
            let names = first_names(&store, &account_id, &filter).await;
            let count = store.count_contacts(&account_id, &filter).await.unwrap();
            assert_eq!(
                count,
                names.len() as i64,
                "the count agrees with the list for {filter:?}"
            );
            names
        }
    };
    assert_eq!(find("ÅNGS").await, ["Zoë"], "without case, past ASCII");
    assert_eq!(find("zo").await, ["Zoë"], "two characters");
    assert_eq!(find("zoë ång").await, ["Zoë"], "every word, in any order");
    assert!(find("zoë stone").await.is_empty(), "every word must match");
    assert!(
        find("ngström").await.is_empty(),
        "not in the middle of a word"
    );
    assert_eq!(find("o\"ne").await, ["Ann"], "a quote is plain text");
    assert_eq!(find("neil").await, ["Ann"], "a part of a word");
    assert_eq!(find("ann@ex").await, ["Ann"]);
    assert_eq!(
        find("@example.com").await,
        ["Bob", "Ann", "Zoë"],
        "the domain"
    );
    assert_eq!(find("example").await, ["Bob", "Ann", "Zoë"]);
    assert_eq!(find("555 01").await, ["Zoë"], "groups of the phone");
    assert_eq!(find("555-0100").await, ["Zoë"], "the phone as typed");
    assert_eq!(find("(555) 0200").await, ["Ann"]);
    assert_eq!(find("+4420").await, ["Bob"]);
    assert_eq!(find("0000").await, ["Bob"], "the last group");
    assert_eq!(find("dms-7").await, ["Ann", "Zoë"], "the external id");
    assert_eq!(find("x_%").await, ["Bob"], "% and _ are plain text");
    assert!(find("x_x").await.is_empty());
    assert!(find("xyz").await.is_empty());

    let zoe = store.contact(&account.id, &ids[0]).await.unwrap();
    let mut input = zoe.input();
    input.email = Some("zed@example.org".into());
    store
        .update_contact(&account.id, &zoe.id, input, &api())
        .await
        .unwrap();
    assert!(find("zoe@").await.is_empty(), "the old email is gone");
    assert_eq!(find("zed@ex").await, ["Zoë"]);
    assert_eq!(find("example.org").await, ["Zoë"]);
    assert_eq!(find("@example.com").await, ["Bob", "Ann"]);
    assert_eq!(
        find("ångström").await,
        ["Zoë"],
        "unchanged words still found"
    );

    store
        .delete_contact(&account.id, &ids[2], &api())
        .await
        .unwrap();
    assert!(find("bob").await.is_empty(), "a deleted contact is gone");
    assert_eq!(find("@example.com").await, ["Ann"]);

    // As contacts stored before their words were: found again once the
    // store opens.
    store
        .run_sql_for_tests("UPDATE contacts SET search = ''; DELETE FROM contact_words")
        .await
        .unwrap();
    assert!(find("ann").await.is_empty());
    store.migrate().await.unwrap();
    assert_eq!(find("ann").await, ["Ann"]);
    assert_eq!(find("555").await, ["Ann", "Zoë"]);
    engine.shutdown().await;
}

/// However a search reads (the words of a rare term, the newest contacts
/// for a common one, the words again when the common one is only on old
/// contacts), each page holds what the whole list filtered holds, in
/// order. Small limits make each way happen with a few contacts.
async fn each_way_a_search_reads_gives_the_same_pages(store: Store) {
    let store = store.with_search_limits(3, 4);
    let (engine, account) = start(&store).await;
    // Oldest first: six "Old" ones among the first, "Rare" twice, and
    // "New" on the newest six.
    let names = [
        "Old", "Old", "Rare", "Old", "Old", "Old", "Old", "Rare", "New", "New", "New", "New",
        "New", "New",
    ];
    for (n, name) in names.iter().enumerate() {
        let input: ContactInput = serde_json::from_value(json!({
            "first_name": name, "last_name": format!("Number{n}"),
        }))
        .unwrap();
        store
            .create_contact(&account.id, input, &api())
            .await
            .unwrap();
        // Ids order contacts by the millisecond they were made in.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let pages = |q: &str, limit: i64| {
        let (store, account_id) = (store.clone(), account.id.clone());
        let filter = ContactFilter {
            q: Some(q.into()),
            ..Default::default()
        };
        async move {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .list_contacts(&account_id, &filter, cursor.as_deref(), limit)
                    .await
                    .unwrap();
                assert!(page.data.len() as i64 <= limit);
                seen.extend(page.data.into_iter().map(|c| c.last_name));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => return seen,
                }
            }
        }
    };
    let expected = |name: &str| {
        names
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, n)| **n == name)
            .map(|(i, _)| format!("Number{i}"))
            .collect::<Vec<_>>()
    };
    for limit in [1, 2, 3, 50] {
        assert_eq!(
            pages("rare", limit).await,
            expected("Rare"),
            "words read, {limit} a page"
        );
        assert_eq!(
            pages("new", limit).await,
            expected("New"),
            "the newest walked, {limit} a page"
        );
        assert_eq!(
            pages("old", limit).await,
            expected("Old"),
            "walked, then words read, {limit} a page"
        );
        assert_eq!(
            pages("old number", limit).await,
            expected("Old"),
            "two common words, {limit} a page"
        );
        assert_eq!(
            pages("number1", limit).await,
            ["Number13", "Number12", "Number11", "Number10", "Number1"]
        );
    }
    engine.shutdown().await;
}

async fn the_list_filters_and_pages(store: Store) {
    let (engine, account) = start(&store).await;
    let (kim, _) = store
        .create_item(
            &account.id,
            ItemKind::User,
            ItemInput {
                name: "Kim".into(),
                company: None,
                email: None,
                active: true,
            },
            &api(),
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..7 {
        let input: ContactInput = serde_json::from_value(json!({
            "first_name": format!("Person{n}"), "last_name": if n % 2 == 0 { "Even_%" } else { "Odd" },
            "email": format!("p{n}@example.com"), "state": if n < 3 { "active" } else { "lost" },
            "source": if n == 4 { "Phone" } else { "Website" }
        }))
        .unwrap();
        let (c, _) = store
            .create_contact(&account.id, input, &api())
            .await
            .unwrap();
        if n == 5 {
            store
                .add_label(&account.id, &c.id, ItemKind::Flag, "VIP", &api())
                .await
                .unwrap();
            store
                .add_label(&account.id, &c.id, ItemKind::Status, "Sold", &api())
                .await
                .unwrap();
            store
                .assign(&account.id, &c.id, &kim.id, &api())
                .await
                .unwrap();
        }
        ids.push(c.id);
    }
    let list = |filter: ContactFilter| {
        let (store, account_id) = (store.clone(), account.id.clone());
        async move { first_names(&store, &account_id, &filter).await }
    };
    assert_eq!(list(ContactFilter::default()).await.len(), 7);
    assert_eq!(
        list(ContactFilter {
            q: Some("EVEN_%".into()),
            ..Default::default()
        })
        .await,
        ["Person6", "Person4", "Person2", "Person0"],
        "newest first; % and _ are plain text"
    );
    assert_eq!(
        list(ContactFilter {
            q: Some("even_".into()),
            ..Default::default()
        })
        .await,
        ["Person6", "Person4", "Person2", "Person0"]
    );
    assert!(
        list(ContactFilter {
            q: Some("n_%".into()),
            ..Default::default()
        })
        .await
        .is_empty(),
        "the middle of a word finds nothing"
    );
    assert_eq!(
        list(ContactFilter {
            q: Some("p3@".into()),
            ..Default::default()
        })
        .await,
        ["Person3"]
    );
    assert_eq!(
        list(ContactFilter {
            state: Some("active".into()),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        list(ContactFilter {
            source: Some("Phone".into()),
            ..Default::default()
        })
        .await,
        ["Person4"]
    );
    for filter in [
        ContactFilter {
            flag: Some("VIP".into()),
            ..Default::default()
        },
        ContactFilter {
            status: Some("Sold".into()),
            ..Default::default()
        },
        ContactFilter {
            assigned_user: Some(kim.id.clone()),
            ..Default::default()
        },
        ContactFilter {
            status: Some("Sold".into()),
            state: Some("lost".into()),
            ..Default::default()
        },
    ] {
        assert_eq!(list(filter.clone()).await, ["Person5"], "{filter:?}");
    }
    let page = list(ContactFilter {
        status: Some("Sold".into()),
        state: Some("active".into()),
        ..Default::default()
    })
    .await;
    assert!(page.is_empty());

    // Pages of three, newest first, each contact once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_contacts(&account.id, &ContactFilter::default(), cursor.as_deref(), 3)
            .await
            .unwrap();
        seen.extend(page.data.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let bad = store
        .list_contacts(&account.id, &ContactFilter::default(), Some("x' OR 1=1"), 3)
        .await
        .unwrap_err();
    assert!(
        matches!(bad, engine::Error::Validation(ref e) if e[0].field == "cursor"),
        "{bad:?}"
    );
    engine.shutdown().await;
}

async fn settings_items_emit_their_events_and_renames_carry_over(store: Store) {
    let (engine, account) = start(&store).await;
    let statuses: Vec<String> = store
        .items(&account.id, ItemKind::Status)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert!(
        statuses.contains(&"Thank You Note".to_string()),
        "{statuses:?}"
    );
    let (contact, _) = store
        .create_contact(&account.id, ann(), &api())
        .await
        .unwrap();
    store
        .add_label(&account.id, &contact.id, ItemKind::Flag, "VIP", &api())
        .await
        .unwrap();
    let vip = store
        .items(&account.id, ItemKind::Flag)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.name == "VIP")
        .unwrap();
    let renamed = ItemInput {
        name: "Very important".into(),
        ..vip.input()
    };
    let (_, outbox) = store
        .update_item(&account.id, ItemKind::Flag, &vip.id, renamed, &console())
        .await
        .unwrap();
    engine.emit(&account, outbox).await;
    let (source, outbox) = store
        .create_item(
            &account.id,
            ItemKind::Source,
            ItemInput {
                name: "Billboard".into(),
                company: None,
                email: None,
                active: true,
            },
            &console(),
        )
        .await
        .unwrap();
    engine.emit(&account, outbox).await;
    engine
        .emit(
            &account,
            store
                .delete_item(&account.id, ItemKind::Source, &source.id, &console())
                .await
                .unwrap(),
        )
        .await;
    // Statuses have no events of their own.
    let (status, outbox) = store
        .create_item(
            &account.id,
            ItemKind::Status,
            ItemInput {
                name: "Callback".into(),
                company: None,
                email: None,
                active: true,
            },
            &console(),
        )
        .await
        .unwrap();
    assert!(outbox.is_empty());
    assert_eq!(status.kind, ItemKind::Status);
    let dup = store
        .create_item(
            &account.id,
            ItemKind::Status,
            ItemInput {
                name: "Callback".into(),
                company: None,
                email: None,
                active: true,
            },
            &console(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(dup, engine::Error::Validation(ref e) if e[0].code == "duplicate_name"),
        "{dup:?}"
    );

    let after = store.contact(&account.id, &contact.id).await.unwrap();
    assert_eq!(after.flags, ["Very important"]);
    let log = logged(&store, &account, 3).await;
    let types: Vec<&str> = log.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["flag.updated", "source.created", "source.deleted"]);
    assert_eq!(
        log[0].1["changes"],
        json!({"name": {"from": "VIP", "to": "Very important"}})
    );
    assert_eq!(log[1].1["name"], "Billboard");
    engine.shutdown().await;
}

async fn types_sent_through_the_api_join_the_accounts_catalog(store: Store) {
    let (engine, account) = start(&store).await;
    let event = |t: &str, data: Value| engine::model::NewEvent::new(t, data);
    // Through the engine's writer turn, then the store's own path.
    engine
        .accept_events(
            &account,
            vec![
                event("invoice.paid", json!({"id": "inv_1", "total": 120})),
                event("contact.created", json!({"id": "c1"})),
                event("invoice.paid", json!({"id": "inv_2", "due": "soon"})),
            ],
        )
        .await
        .unwrap();
    store
        .accept_events(
            &account,
            vec![
                event("invoice.paid", json!({"id": "inv_3"})),
                event("quote.sent", json!({"id": "q1", "amount": 9})),
            ],
        )
        .await
        .unwrap();
    let own = store.own_event_types(&account.id).await.unwrap();
    let names: Vec<&str> = own.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["invoice.paid", "quote.sent"],
        "built-in types are not listed"
    );
    assert_eq!(
        own[0].sample,
        json!({"id": "inv_1", "total": 120}),
        "the first event is the sample"
    );
    let catalog = store.account_catalog(&account.id).await.unwrap();
    assert!(
        catalog
            .types()
            .iter()
            .any(|t| t.name == "quote.sent" && t.own)
    );
    assert!(
        catalog
            .fields("invoice.paid")
            .unwrap()
            .iter()
            .any(|f| f.path == "invoice.total")
    );
    // Another account sees none of them.
    let other = store.create_account("Other", None).await.unwrap();
    assert!(store.own_event_types(&other.id).await.unwrap().is_empty());

    // The list is bounded; events beyond it are still accepted.
    let many: Vec<_> = (0..engine::store::MAX_OWN_TYPES + 4)
        .map(|i| event(&format!("bulk.type_{i}"), json!({"n": i})))
        .collect();
    let answers = engine.accept_events(&account, many).await.unwrap();
    assert_eq!(answers.len(), engine::store::MAX_OWN_TYPES + 4);
    let own = store.own_event_types(&account.id).await.unwrap();
    assert_eq!(own.len(), engine::store::MAX_OWN_TYPES);
    engine.shutdown().await;
}
