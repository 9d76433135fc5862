//! The reports' queries on both databases: counts by final outcome in a
//! range, the chart, history filters and keyset pages, retry-all runs and
//! the retention purge.

use chrono::{DateTime, Duration, Utc};
use engine::model::{DeliveryStatus, NewEvent};
use engine::model::{ReceivedResponse, SentRequest, Trigger, WebhookInput};
use engine::reports::Range;
use engine::store::{DeliveryFilter, PastAttempt, PastDelivery, Store};
use serde_json::json;

use crate::support::{postgres, sqlite};

conformance!(
    the_report_counts_deliveries_created_in_the_range_by_outcome,
    live_events_are_counted_and_named_by_their_record_in_their_account_only,
    history_filters_and_pages_both_ways,
    a_retry_all_run_makes_the_ranges_failed_deliveries_due,
    the_purge_removes_old_finished_deliveries_only,
    events_no_delivery_needs_go_and_abandoned_test_sends_finish,
);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn hook(title: &str) -> WebhookInput {
    WebhookInput {
        title: title.into(),
        url: "https://crm.example.com/hook".into(),
        triggers: vec![Trigger {
            event_type: "contact.created".into(),
            filters: vec![],
        }],
        ..WebhookInput::default()
    }
}

/// A delivery created at `when` that ended in `status` after its attempts.
fn past(when: &str, status: &'static str, contact: &str) -> PastDelivery {
    let created = at(when).timestamp_millis();
    let attempt = |n: i64, code: u16| PastAttempt {
        at_ms: created + n * 1000,
        duration_ms: 12,
        request: SentRequest {
            method: "POST".into(),
            url: "https://crm.example.com/hook".into(),
            headers: vec![("authorization".into(), "••••••".into())],
            body: Some("{}".into()),
        },
        response: Some(ReceivedResponse::new(code, vec![], b"")),
        error: None,
    };
    let attempts = match status {
        "succeeded" => vec![attempt(0, 200)],
        "failed" => vec![attempt(0, 500), attempt(1, 500)],
        "retrying" => vec![attempt(0, 503)],
        _ => vec![],
    };
    PastDelivery {
        created_at_ms: created,
        event_type: "contact.created".into(),
        data: json!({"id": contact, "first_name": "Jane", "last_name": contact}),
        status: DeliveryStatus::parse(status).expect("a delivery status"),
        attempts,
    }
}

async fn the_report_counts_deliveries_created_in_the_range_by_outcome(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (a, _) = store.create_webhook(&account.id, hook("A")).await.unwrap();
    let (b, _) = store.create_webhook(&account.id, hook("B")).await.unwrap();
    let (gone, _) = store
        .create_webhook(&account.id, hook("Gone"))
        .await
        .unwrap();
    let (idle_gone, _) = store
        .create_webhook(&account.id, hook("Idle gone"))
        .await
        .unwrap();
    let range = Range {
        from: at("2026-11-20T00:00:00Z"),
        to: at("2026-11-23T00:00:00Z"),
    };
    store
        .import_past_deliveries(
            &account.id,
            &a.id,
            &[
                // On the range's first instant: in.
                past("2026-11-20T00:00:00Z", "succeeded", "c1"),
                past("2026-11-20T10:30:00Z", "succeeded", "c2"),
                past("2026-11-21T10:30:00Z", "succeeded", "c3"),
                past("2026-11-21T11:00:00Z", "failed", "c4"),
                past("2026-11-22T23:59:59Z", "failed", "c5"),
                past("2026-11-22T12:00:00Z", "retrying", "c6"),
                // Before the range, and on its end (excluded): out.
                past("2026-11-19T23:59:59Z", "succeeded", "c7"),
                past("2026-11-23T00:00:00Z", "failed", "c8"),
            ],
        )
        .await
        .unwrap();
    store
        .import_past_deliveries(
            &account.id,
            &b.id,
            &[past("2026-11-21T08:00:00Z", "succeeded", "c9")],
        )
        .await
        .unwrap();
    store
        .import_past_deliveries(
            &account.id,
            &gone.id,
            &[past("2026-11-21T08:00:00Z", "failed", "c10")],
        )
        .await
        .unwrap();
    store.delete_webhook(&account.id, &gone.id).await.unwrap();
    store
        .delete_webhook(&account.id, &idle_gone.id)
        .await
        .unwrap();

    for round in ["as appended", "after folding"] {
        let report = store.report(&account.id, range, None, 30).await.unwrap();
        let titles: Vec<&str> = report.rows.iter().map(|r| r.title.as_str()).collect();
        assert_eq!(
            titles,
            ["A", "B", "Gone"],
            "{round}: a deleted webhook is listed only with deliveries in the range"
        );
        let row_a = &report.rows[0];
        assert_eq!(
            (row_a.fired, row_a.succeeded, row_a.failed, row_a.open),
            (6, 3, 2, 1),
            "{round}"
        );
        assert_eq!(row_a.success_rate(), Some(60.0));
        assert_eq!(
            row_a.last_fired,
            Some(at("2026-11-23T00:00:00Z")),
            "last fired is the newest delivery, even after the range"
        );
        assert_eq!(row_a.triggers, ["contact.created"]);
        assert!(report.rows[2].deleted);
        assert_eq!(report.bucket, engine::reports::Bucket::Day);
        let per_day: Vec<(i64, i64, i64)> = report
            .chart
            .iter()
            .map(|b| (b.succeeded, b.failed, b.open))
            .collect();
        assert_eq!(
            per_day,
            [(2, 0, 0), (2, 2, 0), (0, 1, 1)],
            "{round}: one bar a day, every webhook"
        );
        let only_b = store
            .report(&account.id, range, Some(&b.id), 30)
            .await
            .unwrap();
        assert_eq!(only_b.chart.iter().map(|c| c.succeeded).sum::<i64>(), 1);
        assert_eq!(report.oldest, Some(at("2026-11-19T23:59:59Z")));
        store.compact_counts().await.unwrap();
    }

    let empty = store
        .report(
            &account.id,
            Range {
                from: at("2026-01-01T00:00:00Z"),
                to: at("2026-01-02T00:00:00Z"),
            },
            None,
            30,
        )
        .await
        .unwrap();
    assert_eq!(empty.rows.len(), 2, "live webhooks show with zero counts");
    assert!(
        empty
            .rows
            .iter()
            .all(|r| r.fired == 0 && r.success_rate().is_none())
    );
    assert_eq!(empty.chart.len(), 24, "hourly bars for a one-day range");
    assert!(
        empty
            .chart
            .iter()
            .all(|b| b.succeeded + b.failed + b.open == 0)
    );
}

async fn live_events_are_counted_and_named_by_their_record_in_their_account_only(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (a, _) = store.create_webhook(&account.id, hook("A")).await.unwrap();
    store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "contact.created",
                json!({"id": "c_77", "first_name": "Ann", "last_name": "Lee"}),
            )],
        )
        .await
        .unwrap();
    let now = Utc::now();
    let range = Range {
        from: now - Duration::hours(2),
        to: now + Duration::hours(2),
    };
    let report = store.report(&account.id, range, None, 30).await.unwrap();
    assert_eq!((report.rows[0].fired, report.rows[0].open), (1, 1));
    let page = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                record: Some("c_77".into()),
                limit: 10,
                ..DeliveryFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].webhook_id, a.id);
    assert_eq!(page.data[0].record_label.as_deref(), Some("Ann Lee"));
    assert_eq!(page.data[0].event_type, "contact.created");
    assert_eq!(page.data[0].status, "pending");

    // Another account sees none of it.
    let other = store.create_account("Other dealer", None).await.unwrap();
    let theirs = store.report(&other.id, range, None, 30).await.unwrap();
    assert!(theirs.rows.is_empty());
    assert!(
        theirs
            .chart
            .iter()
            .all(|b| b.succeeded + b.failed + b.open == 0)
    );
    assert!(
        store
            .list_deliveries(
                &other.id,
                &DeliveryFilter {
                    limit: 10,
                    ..DeliveryFilter::default()
                }
            )
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert!(matches!(
        store.delivery(&other.id, &page.data[0].id).await,
        Err(engine::store::Error::NotFound)
    ));
}

async fn history_filters_and_pages_both_ways(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (a, _) = store.create_webhook(&account.id, hook("A")).await.unwrap();
    let (b, _) = store.create_webhook(&account.id, hook("B")).await.unwrap();
    // Seven deliveries of A, an hour apart, the two oldest in the same second.
    let mut rows: Vec<PastDelivery> = (0..7)
        .map(|i| {
            past(
                &format!("2026-11-21T{:02}:00:00Z", 10 + i),
                if i % 3 == 0 { "failed" } else { "succeeded" },
                &format!("c{i}"),
            )
        })
        .collect();
    rows[1].created_at_ms = rows[0].created_at_ms;
    let a_ids = store
        .import_past_deliveries(&account.id, &a.id, &rows)
        .await
        .unwrap();
    store
        .import_past_deliveries(
            &account.id,
            &b.id,
            &[past("2026-11-21T12:30:00Z", "failed", "c1")],
        )
        .await
        .unwrap();
    store.delete_webhook(&account.id, &a.id).await.unwrap();

    let only_a = DeliveryFilter {
        webhook_id: Some(a.id.clone()),
        limit: 3,
        ..DeliveryFilter::default()
    };
    let first = store.list_deliveries(&account.id, &only_a).await.unwrap();
    let ids = |page: &engine::reports::DeliveryPage| {
        page.data.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    };
    // Newest first. The two in one millisecond come in the store's own
    // fixed order (SQLite's row order, PostgreSQL's id order), one on each
    // side of a page boundary.
    let mut newest_first: Vec<(i64, String)> = rows
        .iter()
        .map(|r| r.created_at_ms)
        .zip(a_ids.clone())
        .collect();
    newest_first.sort_by(|x, y| y.cmp(x));
    let newest_first: Vec<String> = newest_first.into_iter().map(|(_, id)| id).collect();
    assert_eq!(
        ids(&first),
        newest_first[0..3],
        "a deleted webhook's history stays"
    );
    assert_eq!(first.prev_cursor, None);
    let second = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                cursor: first.next_cursor.clone(),
                ..only_a.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&second)[..2], newest_first[3..5]);
    let third = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                cursor: second.next_cursor.clone(),
                ..only_a.clone()
            },
        )
        .await
        .unwrap();
    let mut same_millisecond = vec![ids(&second)[2].clone(), ids(&third).concat()];
    same_millisecond.sort();
    let mut expected = newest_first[5..7].to_vec();
    expected.sort();
    assert_eq!(
        same_millisecond, expected,
        "two deliveries in one millisecond page apart, each once"
    );
    assert_eq!(third.next_cursor, None);
    let back = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                prev: third.prev_cursor.clone(),
                ..only_a.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&back),
        ids(&second),
        "previous leads back to the same page"
    );
    let back_again = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                prev: back.prev_cursor.clone(),
                ..only_a.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&back_again), ids(&first));
    assert_eq!(
        back_again.prev_cursor, None,
        "the newest page has no previous"
    );

    let count = |filter: DeliveryFilter| {
        let store = store.clone();
        let account = account.id.clone();
        async move {
            store
                .list_deliveries(
                    &account,
                    &DeliveryFilter {
                        limit: 100,
                        ..filter
                    },
                )
                .await
                .unwrap()
                .data
                .len()
        }
    };
    let failed = DeliveryFilter {
        status: Some("failed".into()),
        ..DeliveryFilter::default()
    };
    assert_eq!(count(failed.clone()).await, 4);
    // "succeeded" is not in the status index (the rows are found walking
    // the account's index); "pending" is.
    for (status, n) in [("succeeded", 4), ("pending", 0), ("retrying", 0)] {
        let filter = DeliveryFilter {
            status: Some(status.into()),
            ..DeliveryFilter::default()
        };
        assert_eq!(count(filter).await, n, "{status}");
    }
    assert_eq!(
        count(DeliveryFilter {
            webhook_id: Some(b.id.clone()),
            ..failed
        })
        .await,
        1
    );
    assert_eq!(
        count(DeliveryFilter {
            record: Some("c1".into()),
            ..DeliveryFilter::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(DeliveryFilter {
            event_type: Some("lead.created".into()),
            ..DeliveryFilter::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(DeliveryFilter {
            from: Some(at("2026-11-21T12:00:00Z")),
            to: Some(at("2026-11-21T14:00:00Z")),
            ..DeliveryFilter::default()
        })
        .await,
        3,
        "from is included, to is not"
    );
    let bad = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                cursor: Some("not-a-cursor".into()),
                ..DeliveryFilter::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(bad, engine::store::Error::Validation(_)));
}

async fn a_retry_all_run_makes_the_ranges_failed_deliveries_due(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let admin = store
        .create_first_admin("admin@example.com", "correct horse battery")
        .await
        .unwrap();
    let (a, _) = store.create_webhook(&account.id, hook("A")).await.unwrap();
    store
        .import_past_deliveries(
            &account.id,
            &a.id,
            &[
                past("2026-11-21T10:00:00Z", "failed", "c1"),
                past("2026-11-21T11:00:00Z", "failed", "c2"),
                past("2026-11-21T12:00:00Z", "succeeded", "c3"),
                past("2026-11-22T12:00:00Z", "failed", "c4"),
            ],
        )
        .await
        .unwrap();
    let range = Range {
        from: at("2026-11-21T00:00:00Z"),
        to: at("2026-11-22T00:00:00Z"),
    };
    let run = store
        .start_retry_run(&account.id, &a.id, range, &admin.id)
        .await
        .unwrap();
    assert_eq!((run.marked, run.marking_done), (0, false));
    assert_eq!(
        store.unmarked_retry_runs().await.unwrap(),
        vec![run.id.clone()]
    );
    engine::upkeep::mark_retry_run(&store, &run.id)
        .await
        .unwrap();
    let run = store.retry_run(&account.id, &run.id).await.unwrap();
    assert_eq!(
        (run.marked, run.waiting, run.sent(), run.marking_done),
        (2, 2, 0, true)
    );
    assert!(!run.finished());
    assert_eq!(run.webhook_title, "A");
    assert!(store.unmarked_retry_runs().await.unwrap().is_empty());
    let retrying = store
        .list_deliveries(
            &account.id,
            &DeliveryFilter {
                status: Some("retrying".into()),
                limit: 10,
                ..DeliveryFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(retrying.data.len(), 2, "only the range's failed deliveries");
    assert!(
        retrying
            .data
            .iter()
            .all(|d| d.next_attempt_at.is_some_and(|t| t <= Utc::now()))
    );
    assert_eq!(
        store.recent_retry_runs(&account.id, 5).await.unwrap().len(),
        1
    );
    let other = store.create_account("Other", None).await.unwrap();
    assert!(matches!(
        store.retry_run(&other.id, &run.id).await,
        Err(engine::store::Error::NotFound)
    ));
    store
        .set_webhook_active(&account.id, &a.id, false)
        .await
        .unwrap();
    assert!(matches!(
        store
            .start_retry_run(&account.id, &a.id, range, &admin.id)
            .await,
        Err(engine::store::Error::Validation(_))
    ));
}

async fn the_purge_removes_old_finished_deliveries_only(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (a, _) = store.create_webhook(&account.id, hook("A")).await.unwrap();
    let old = |i: i64, status| {
        let mut p = past("2026-01-01T00:00:00Z", status, "c");
        p.created_at_ms =
            (Utc::now() - Duration::days(40) + Duration::minutes(i)).timestamp_millis();
        p
    };
    let recent = {
        let mut p = past("2026-01-01T00:00:00Z", "succeeded", "c");
        p.created_at_ms = (Utc::now() - Duration::days(2)).timestamp_millis();
        p
    };
    let ids = store
        .import_past_deliveries(
            &account.id,
            &a.id,
            &[
                old(0, "succeeded"),
                old(1, "failed"),
                old(2, "succeeded"),
                old(3, "retrying"),
                recent,
            ],
        )
        .await
        .unwrap();
    let cutoff = (Utc::now() - Duration::days(30)).timestamp_millis();
    assert_eq!(store.purge_batch(&account.id, cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.purge_batch(&account.id, cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.purge_batch(&account.id, cutoff, 2).await.unwrap(), 0);
    assert!(matches!(
        store.delivery(&account.id, &ids[0]).await,
        Err(engine::store::Error::NotFound)
    ));
    assert!(store.attempts(&ids[0]).await.unwrap().is_empty());
    assert_eq!(
        store.delivery(&account.id, &ids[3]).await.unwrap().status,
        "retrying",
        "work still to do is never purged"
    );
    assert_eq!(store.attempts(&ids[4]).await.unwrap().len(), 1);
    let month = Range {
        from: Utc::now() - Duration::days(60),
        to: Utc::now() + Duration::days(1),
    };
    let report = store.report(&account.id, month, None, 30).await.unwrap();
    assert_eq!(
        report.rows[0].fired, 1,
        "counts before the cutoff go with the deliveries"
    );
}

async fn events_no_delivery_needs_go_and_abandoned_test_sends_finish(store: Store) {
    let account = store.ensure_default_account().await.unwrap();
    let (a, _) = store.create_webhook(&account.id, hook("A")).await.unwrap();
    // One event fires nothing, one has an open delivery.
    let fired_nothing = store
        .accept_events(
            &account,
            vec![NewEvent::new("lead.created", json!({"id": 1}))],
        )
        .await
        .unwrap();
    let open = store
        .accept_events(
            &account,
            vec![NewEvent::new("contact.created", json!({"id": 2}))],
        )
        .await
        .unwrap();
    assert_eq!(fired_nothing[0].deliveries.len(), 0);
    assert_eq!(open[0].deliveries.len(), 1);
    // A test send whose request ended before its attempt.
    let test = store
        .create_test_delivery(&account.id, &a.id, "contact.created")
        .await
        .unwrap();
    // Everything so far is past a cutoff a minute from now.
    let cutoff = Utc::now().timestamp_millis() + 60_000;
    let purge_events = || store.purge_events_batch(&account.id, cutoff, 10);
    assert_eq!(purge_events().await.unwrap(), 1);
    assert_eq!(purge_events().await.unwrap(), 0);
    // The one that went fired nothing: the open delivery's event stays.
    let kept = store
        .delivery_event(&account.id, &open[0].deliveries[0].id)
        .await
        .expect("an event with an open delivery stays");
    assert_eq!(kept.data, json!({"id": 2}));
    // The test send is not finished by an early upkeep, only once stale.
    let past = Utc::now().timestamp_millis() - 60_000;
    assert_eq!(store.abandon_stale_test_sends(past).await.unwrap(), 0);
    assert_eq!(store.abandon_stale_test_sends(cutoff).await.unwrap(), 1);
    let state = store
        .delivery(&account.id, &test.delivery_id)
        .await
        .unwrap();
    assert_eq!(state.status, "failed");
    // Then retention takes it, and its event after it.
    assert_eq!(
        store
            .purge_batch(&account.id, cutoff + 3_600_000, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(purge_events().await.unwrap(), 1);
}
