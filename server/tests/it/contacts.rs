//! Contacts through the REST API as a CRM program uses them: created,
//! changed, labelled and assigned, each change's event reaching the
//! webhooks that ask for it with the account's `external_ref`; bad input
//! answered on its field.

use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, start_with};
use engine::testing::{TestReceiver, eventually};

fn on(event_type: &str, url: &str, filters: Value) -> Value {
    let mut mapping = vec![
        json!({"key": "dealer", "value": {"field": "account.external_ref"}}),
        json!({"key": "email", "value": {"field": "contact.email"}}),
    ];
    if event_type == "contact.status_added" {
        mapping.push(json!({"key": "status", "value": {"field": "contact.status"}}));
    }
    json!({
        "title": format!("{event_type} {}", engine::ids::new_id("t")),
        "url": url,
        "triggers": [{"event_type": event_type, "filters": filters}],
        "mapping": mapping
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_keeps_contacts_and_each_change_reaches_the_webhooks_that_ask() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let thanks = TestReceiver::start().await;
    let sold = TestReceiver::start().await;
    let created = TestReceiver::start().await;
    let status_is = |s: &str| json!([{"field": "contact.status", "op": "eq", "value": s}]);
    for body in [
        on(
            "contact.status_added",
            &thanks.url,
            status_is("Thank You Note"),
        ),
        on("contact.status_added", &sold.url, status_is("Sold")),
        on("contact.created", &created.url, json!([])),
    ] {
        let (status, answer) = api.call(Method::POST, "/webhooks", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let (status, account) = api
        .call(
            Method::PATCH,
            "/account",
            Some(json!({"external_ref": "DEALER-42"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["external_ref"], "DEALER-42");

    let (status, contact) = api
        .call(
            Method::POST,
            "/contacts",
            Some(json!({
                "first_name": "Jane", "last_name": "Doe", "email": "Jane.Doe@Example.com",
                "address": {"city": "Springfield"}, "source": "Website",
                "custom_fields": {"preferred_time": "Morning"}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let id = contact["id"].as_str().unwrap().to_string();
    assert_eq!(contact["email"], "jane.doe@example.com");
    assert_eq!(contact["events"][0]["type"], "contact.created");
    assert_eq!(
        contact["events"][0]["deliveries"].as_array().unwrap().len(),
        1
    );
    eventually("contact.created arrives", || async {
        created.received().len() == 1
    })
    .await;
    let body: Value = serde_json::from_slice(&created.received()[0].body).unwrap();
    assert_eq!(
        body["data"]["dealer"], "DEALER-42",
        "the account's external_ref in the payload"
    );
    assert_eq!(body["data"]["email"], "jane.doe@example.com");

    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/contacts/{id}/statuses"),
            Some(json!({"status": "Thank You Note"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["statuses"], json!(["Thank You Note"]));
    eventually("the Thank You Note webhook gets it", || async {
        thanks.received().len() == 1
    })
    .await;
    let body: Value = serde_json::from_slice(&thanks.received()[0].body).unwrap();
    assert_eq!(body["data"]["status"], "Thank You Note");
    assert_eq!(body["data"]["dealer"], "DEALER-42");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sold.received().is_empty(), "the Sold webhook gets nothing");

    // The list finds her by status; the status comes off by its name.
    let (status, page) = api
        .call(
            Method::GET,
            "/contacts?status=Thank%20You%20Note&q=jane",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"][0]["id"], id.as_str());
    let (status, answer) = api
        .call(
            Method::DELETE,
            &format!("/contacts/{id}/statuses/Thank%20You%20Note"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["type"], "contact.status_removed");

    // Users to assign, with their company.
    let (status, sam) = api
        .call(
            Method::POST,
            "/settings/users",
            Some(json!({"name": "Sam Seller", "company": "North Motors"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sam}");
    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/contacts/{id}/assignments"),
            Some(json!({"user_id": sam["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["assigned_users"][0]["company"], "North Motors");

    // A change through the API: contact.updated with what changed.
    let (status, answer) = api
        .call(
            Method::PATCH,
            &format!("/contacts/{id}"),
            Some(json!({"phone": "+1 555 0100"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["type"], "contact.updated");
    let (_, log) = api
        .call(Method::GET, "/events?type=contact.updated", None)
        .await;
    assert_eq!(
        log["data"][0]["data"]["changes"],
        json!({"phone": {"from": null, "to": "+1 555 0100"}})
    );
    let (status, detail) = api
        .call(Method::GET, &format!("/contacts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["phone"], "+1 555 0100");
    assert_eq!(detail["custom_fields"]["preferred_time"], "Morning");
    assert_eq!(detail["leads"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_answered_on_its_field_and_nothing_changes() {
    let server = start_with(|_| {}).await;
    let api = Api::new(&server).await;
    let (_, contact) = api
        .call(
            Method::POST,
            "/contacts",
            Some(json!({"first_name": "Jane", "email": "jane@example.com"})),
        )
        .await;
    let id = contact["id"].as_str().unwrap().to_string();
    for (method, path, body, code, field) in [
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"frist_name": "Typo"}),
            "invalid_json",
            "frist_name",
        ),
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"email": "nobody"}),
            "invalid_email",
            "email",
        ),
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"email": "JANE@example.com"}),
            "duplicate_email",
            "email",
        ),
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"first_name": "A", "source": "Billboard"}),
            "unknown_source",
            "source",
        ),
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"first_name": "A\u{0}"}),
            "invalid_text",
            "first_name",
        ),
        (
            Method::POST,
            "/contacts".to_string(),
            json!({}),
            "required",
            "first_name",
        ),
        (
            Method::PATCH,
            format!("/contacts/{id}"),
            json!({"address": {"town": "X"}}),
            "invalid_field",
            "address.town",
        ),
        (
            Method::PATCH,
            format!("/contacts/{id}"),
            json!({"custom_fields": {"a b": 1}}),
            "invalid_name",
            "custom_fields.a b",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/statuses"),
            json!({"status": "Thanks"}),
            "unknown_status",
            "status",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/leads"),
            json!({"type": "fax"}),
            "invalid_json",
            "type",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/todos"),
            json!({"title": " "}),
            "required",
            "title",
        ),
        (
            Method::POST,
            "/settings/statuses".to_string(),
            json!({"name": "New"}),
            "duplicate_name",
            "name",
        ),
        (
            Method::PATCH,
            "/account".to_string(),
            json!({"name": ""}),
            "required",
            "name",
        ),
    ] {
        let (status, answer) = api.call(method.clone(), &path, Some(body.clone())).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{method} {path} {body}: {status} {answer}"
        );
        assert_eq!(
            answer["error"]["code"], code,
            "{method} {path} {body}: {answer}"
        );
        assert_eq!(
            answer["error"]["field"], field,
            "{method} {path} {body}: {answer}"
        );
    }
    let (_, message) = api
        .call(
            Method::POST,
            &format!("/contacts/{id}/statuses"),
            Some(json!({"status": "Thanks"})),
        )
        .await;
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Thank You Note"),
        "the message lists the statuses there are: {message}"
    );
    let (status, _) = api
        .call(Method::GET, "/contacts/con_0000000000000000000a", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = api.call(Method::GET, "/settings/colours", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("statuses"),
        "{answer}"
    );
    let (_, page) = api.call(Method::GET, "/contacts", None).await;
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        1,
        "nothing else was written: {page}"
    );
    assert_eq!(page["data"][0]["first_name"], "Jane");
    let (_, log) = api.call(Method::GET, "/events", None).await;
    assert_eq!(
        log["data"].as_array().unwrap().len(),
        1,
        "one event, contact.created: {log}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executing_a_webhook_sends_the_contact_once_and_records_a_manual_delivery() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    // Triggered by lead.created only, and off: executing runs it anyway.
    let (_, hook) = api
        .call(
            Method::POST,
            "/webhooks",
            Some(json!({
                "title": "Dialer", "url": receiver.url, "active": false,
                "triggers": [{"event_type": "lead.created", "filters": []}],
                "format": "json_mapped",
                "mapping": [
                    {"key": "phone", "value": {"field": "contact.phone"}},
                    {"key": "lead", "value": {"field": "lead.type"}}
                ]
            })),
        )
        .await;
    let (_, contact) = api
        .call(
            Method::POST,
            "/contacts",
            Some(json!({"first_name": "Jane", "phone": "+1 555 0100"})),
        )
        .await;
    let id = contact["id"].as_str().unwrap().to_string();
    api.call(
        Method::POST,
        &format!("/contacts/{id}/leads"),
        Some(json!({"type": "chat"})),
    )
    .await;

    let (status, sent) = api
        .call(
            Method::POST,
            &format!("/contacts/{id}/execute"),
            Some(json!({"webhook_id": hook["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["response"]["status"], 200);
    assert_eq!(receiver.received().len(), 1, "sent once, at once");
    let body: Value = serde_json::from_slice(&receiver.received()[0].body).unwrap();
    assert_eq!(body, json!({"phone": "+1 555 0100", "lead": "chat"}));

    // In the history as a manual delivery about the contact; not an event
    // of the account's log.
    let delivery = sent["delivery_id"].as_str().unwrap();
    let (_, page) = api
        .call(Method::GET, &format!("/deliveries?record={id}"), None)
        .await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&delivery), "{page}");
    let state = server
        .store
        .delivery(
            &server.store.ensure_default_account().await.unwrap().id,
            delivery,
        )
        .await
        .unwrap();
    assert!(state.manual && !state.test, "{state:?}");
    let (_, log) = api
        .call(Method::GET, "/events?type=lead.created", None)
        .await;
    assert_eq!(
        log["data"].as_array().unwrap().len(),
        1,
        "only the real lead: {log}"
    );

    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/contacts/{id}/execute"),
            Some(json!({"webhook_id": "wh_nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "webhook_id");
    let (status, _) = api
        .call(
            Method::POST,
            "/contacts/con_0000000000000000000a/execute",
            Some(json!({"webhook_id": hook["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(receiver.received().len(), 1);
    server.stop().await;
}
