//! The event log on PostgreSQL, where a transaction can take a sequence
//! number and commit after a later one: a reader must not page past it.

use engine::model::NewEvent;
use engine::store::Store;
use sqlx::Connection;

use crate::support::fresh_postgres_url;

#[tokio::test]
async fn an_event_committed_late_is_not_skipped_by_a_reader() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let account = store.ensure_default_account().await.unwrap();
    store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "contact.created",
                serde_json::json!({"id": "c1"}),
            )],
        )
        .await
        .unwrap();

    // A writer takes the next sequence number and holds its transaction open.
    let mut slow = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
    sqlx::query(
        "INSERT INTO events (id, account_id, type, occurred_at, data, created_at) \
         VALUES ('evt_slow', $1, 'contact.created', 0, '{\"id\": \"c2\"}', 0)",
    )
    .bind(&account.id)
    .execute(&mut slow)
    .await
    .unwrap();
    // A later event commits first.
    store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "contact.created",
                serde_json::json!({"id": "c3"}),
            )],
        )
        .await
        .unwrap();

    // A reader reads what is final: c1; c3 waits for the open transaction.
    // (The horizon is the cluster's oldest running transaction, so another
    // test's open transaction can hold c1 back a moment too.)
    let ids = |page: &engine::model::EventPage| {
        page.data
            .iter()
            .map(|e| e.data["id"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let before = store
        .list_events(&account.id, None, 10, None)
        .await
        .unwrap();
    assert!(
        ids(&before).iter().all(|id| id == "c1"),
        "events after the open transaction wait until it ends: {:?}",
        ids(&before)
    );

    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    // The same reader continues from its cursor and misses nothing.
    let mut seen = ids(&before);
    let mut cursor = before.next_cursor.clone();
    for _ in 0..500 {
        let page = store
            .list_events(&account.id, cursor.as_deref(), 10, None)
            .await
            .unwrap();
        seen.extend(ids(&page));
        cursor = page.next_cursor;
        if seen.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, ["c1", "c2", "c3"], "the late commit is not skipped");
}
