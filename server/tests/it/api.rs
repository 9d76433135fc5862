//! The REST API as a CRM program uses it: a key, events in, the log out,
//! webhooks managed, and every error in the one JSON shape.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, client, start, start_with};
use engine::testing::{TestReceiver, eventually};

fn hook(title: &str) -> Value {
    json!({
        "title": title,
        "url": "https://crm.example.com/hook",
        "auth": {"type": "basic", "username": "u", "password": "p4ss"},
        "triggers": [{"event_type": "lead.created", "filters": [{"field": "lead.type", "op": "in", "value": ["call"]}]}],
        "mapping": [{"key": "First Name", "value": {"field": "contact.first_name"}}]
    })
}

#[tokio::test]
async fn a_key_is_required_and_errors_have_one_shape() {
    let server = start().await;
    let api = Api::new(&server).await;
    let anonymous = client()
        .get(format!("{}/events", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = client()
        .get(format!("{}/events", api.base))
        .bearer_auth("pbk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/events",
            Some(json!({"type": "Lead", "data": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_event_type");
    assert_eq!(body["error"]["field"], "type");
    // Text the database cannot keep is refused where it is.
    for (event, field) in [
        (
            json!({"type": "lead.created", "data": {}, "idempotency_key": "k\0"}),
            "idempotency_key",
        ),
        (
            json!({"type": "lead.created", "data": {"contact": {"id": "c\0x"}}}),
            "data.contact.id",
        ),
    ] {
        let (status, body) = api
            .call(reqwest::Method::POST, "/events", Some(event))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid_text");
        assert_eq!(body["error"]["field"], field);
    }
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/webhooks",
            Some(json!({"title": "Dial\0er", "url": "https://example.com/h",
                "triggers": [{"event_type": "lead.created"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "title");
    let (status, body) = api
        .call(reqwest::Method::POST, "/events", Some(json!({"data": {}})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_json");
    for address in ["/deliveries/dlv_%00x", "/deliveries?webhook_id=%00"] {
        let (status, body) = api.call(reqwest::Method::GET, address, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{address}");
        assert_eq!(body["error"]["code"], "invalid_address");
    }
    let (status, body) = api.call(reqwest::Method::GET, "/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    server.stop().await;
}

/// A body of the wrong shape names the field at fault, whatever the type
/// the field has; a body that is not JSON at all says so.
#[tokio::test]
async fn a_body_of_the_wrong_shape_names_the_field() {
    let server = start().await;
    let api = Api::new(&server).await;
    for (change, field) in [
        (json!({"method": "FOO"}), "method"),
        (json!({"format": "yaml"}), "format"),
        (json!({"port": 70000}), "port"),
        (json!({"timeout_ms": -1}), "timeout_ms"),
        (
            json!({"retry": {"max_attempts": "three"}}),
            "retry.max_attempts",
        ),
        (
            json!({"mapping": [{"key": 5, "value": {"field": "contact.id"}}]}),
            "mapping[0].key",
        ),
    ] {
        let mut body = hook("Shape");
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, answer) = api
            .call(reqwest::Method::POST, "/webhooks", Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_json", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
    let (status, answer) = api
        .call(reqwest::Method::POST, "/events", Some(json!({"data": {}})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["field"], "type", "{answer}");

    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(hook("Patched")))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, answer) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(json!({"port": 70000})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "port", "{answer}");

    let not_json = api
        .http
        .post(format!("{}/webhooks", api.base))
        .bearer_auth(&api.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let answer: Value = not_json.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "invalid_json");
    assert!(answer["error"].get("field").is_none(), "{answer}");
    let plain = api
        .http
        .post(format!("{}/webhooks", api.base))
        .bearer_auth(&api.key)
        .header("content-type", "text/plain")
        .body(hook("Plain").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let answer: Value = plain.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "unsupported_media_type");
    server.stop().await;
}

#[tokio::test]
async fn webhooks_crud_masks_secrets_and_reports_field_errors() {
    let server = start().await;
    let api = Api::new(&server).await;
    let (status, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(hook("Dialer")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        created["signing_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(
        created["auth"],
        json!({"type": "basic", "username": "u", "password": "********"})
    );
    assert_eq!(created["method"], "POST");
    assert_eq!(created["format"], "json");
    assert_eq!(
        created["retry"]["schedule_s"],
        json!([0, 5, 300, 1800, 7200, 18000, 36000, 36000])
    );
    assert_eq!(created["disabled_reason"], Value::Null);

    let (status, dup) = api
        .call(reqwest::Method::POST, "/webhooks", Some(hook("Dialer")))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        dup["error"],
        json!({"code": "duplicate_title", "message": "Another webhook is already called \"Dialer\".", "field": "title"})
    );

    let mut bad = hook("Bad");
    bad["url"] = json!("ftp://x");
    bad["headers"] = json!([{"name": "X-A", "value": "a\r\nb"}]);
    let (status, body) = api
        .call(reqwest::Method::POST, "/webhooks", Some(bad))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "url");
    assert_eq!(body["errors"][1]["field"], "headers[0].value");

    // PATCH changes only what it names; the masked password is kept.
    let (status, patched) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(json!({"title": "Dialer EU", "active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["title"], "Dialer EU");
    assert_eq!(patched["active"], false);
    assert_eq!(patched["mapping"], hook("x")["mapping"]);
    let account = server.store.ensure_default_account().await.unwrap();
    let real = server
        .store
        .webhook_with_secrets(&account.id, &id)
        .await
        .unwrap()
        .webhook;
    assert_eq!(
        real.auth,
        engine::model::Auth::Basic {
            username: "u".into(),
            password: "p4ss".into()
        }
    );

    let (status, rotated) = api
        .call(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["signing_secret"].as_str().unwrap();
    assert!(
        new_secret.starts_with("whsec_")
            && new_secret != created["signing_secret"].as_str().unwrap()
    );
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/webhooks/wh_nope/rotate-secret",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, list) = api.call(reqwest::Method::GET, "/webhooks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (status, _) = api
        .call(reqwest::Method::DELETE, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .call(reqwest::Method::GET, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    server.stop().await;
}

#[tokio::test]
async fn events_fan_out_are_idempotent_and_read_back_in_order() {
    let server = start().await;
    let api = Api::new(&server).await;
    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(hook("Calls")))
        .await;
    let hook_id = created["id"].clone();

    let event = json!({
        "type": "lead.created",
        "data": {"type": "call", "contact": {"first_name": "Ann"}},
        "occurred_at": "2026-11-22T10:00:00Z",
        "actor": {"id": "u1", "name": "Jane"},
        "idempotency_key": "crm-1"
    });
    let (status, first) = api
        .call(reqwest::Method::POST, "/events", Some(event.clone()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(first["deliveries"][0]["webhook_id"], hook_id);
    assert_eq!(first["deliveries"][0]["status"], "pending");
    let (status, again) = api
        .call(reqwest::Method::POST, "/events", Some(event))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again, first, "a repeat returns the first answer");

    let (_, chat) = api
        .call(
            reqwest::Method::POST,
            "/events",
            Some(json!({"type": "lead.created", "data": {"type": "chat"}})),
        )
        .await;
    assert_eq!(
        chat["deliveries"],
        json!([]),
        "the filter holds chats back: {chat}"
    );

    let (status, page) = api
        .call(reqwest::Method::GET, "/events?limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"][0]["id"], first["id"]);
    assert_eq!(page["data"][0]["occurred_at"], "2026-11-22T10:00:00Z");
    assert_eq!(page["data"][0]["actor"]["name"], "Jane");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = api
        .call(
            reqwest::Method::GET,
            &format!("/events?after={cursor}&type=lead.created"),
            None,
        )
        .await;
    assert_eq!(page["data"][0]["id"], chat["id"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = api
        .call(
            reqwest::Method::GET,
            &format!("/events?after={cursor}"),
            None,
        )
        .await;
    assert_eq!(page["data"], json!([]), "the end of the log");
    assert_eq!(
        page["next_cursor"],
        cursor.as_str(),
        "the reader keeps its place"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_accepted_event_is_delivered_signed_by_the_running_server() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    let mut body = hook("Local receiver");
    body["url"] = json!(format!("{}/crm", receiver.url));
    body["triggers"] = json!([{"event_type": "contact.created"}]);
    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(body))
        .await;
    let secret = created["signing_secret"].as_str().unwrap().to_string();

    let (status, accepted) = api
        .call(
            reqwest::Method::POST,
            "/events",
            Some(json!({"type": "contact.created", "data": {"first_name": "Ann"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let delivery_id = accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("the receiver to be called", || async {
        !receiver.received().is_empty()
    })
    .await;
    let got = &receiver.received()[0];
    assert_eq!(got.uri.path(), "/crm");
    assert_eq!(got.headers["webhook-id"], delivery_id.as_str());
    assert_eq!(got.headers["authorization"], "Basic dTpwNHNz");
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&got.body, &got.headers)
        .expect("signature verifies");
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["data"], json!({"First Name": "Ann"}));
    assert_eq!(body["type"], "contact.created");

    server
        .until_delivery_is(&delivery_id, "succeeded", "the attempt to be recorded")
        .await;
    server.stop().await;
}

#[tokio::test]
async fn test_send_shows_request_and_response_and_deliveries_read_back() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[201]);
    let mut body = hook("Test me");
    body["url"] = json!(format!("{}/t", receiver.url));
    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(body))
        .await;
    let id = created["id"].as_str().unwrap().to_string();

    let (status, test) = api
        .call(
            reqwest::Method::POST,
            &format!("/webhooks/{id}/test"),
            Some(json!({"event_type": "lead.created"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["response"]["status"], 201);
    assert_eq!(test["response"]["body"], "answered 201");
    assert!(test["response"]["duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(test["error"], Value::Null);
    assert_eq!(test["request"]["method"], "POST");
    assert!(
        test["request"]["body"]
            .as_str()
            .unwrap()
            .starts_with(r#"{"id":"evt_"#),
        "{test}"
    );
    let headers = test["request"]["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "authorization" && h[1] == "Basic ********"),
        "{headers:?}"
    );
    assert_eq!(receiver.received().len(), 1);
    // The sample event is a test: it is not in the CRM's event log.
    let (_, log) = api.call(reqwest::Method::GET, "/events", None).await;
    assert_eq!(log["data"], json!([]));

    // The test delivery is in the history with its attempt.
    let delivery_id = test["delivery_id"].as_str().unwrap();
    let (status, detail) = api
        .call(
            reqwest::Method::GET,
            &format!("/deliveries/{delivery_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "succeeded");
    assert_eq!(detail["event_type"], "lead.created");
    assert_eq!(detail["attempts"][0]["response"]["status"], 201);

    // A refused connection comes back as an error in words, not a failure of the call.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Another port: its saved credentials are not sent there unless typed
    // again.
    let (status, refused) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(json!({"url": format!("http://127.0.0.1:{port}/")})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "credentials_required");
    assert_eq!(refused["error"]["field"], "auth.password");
    api.call(
        reqwest::Method::PATCH,
        &format!("/webhooks/{id}"),
        Some(json!({"url": format!("http://127.0.0.1:{port}/"),
            "auth": {"type": "basic", "username": "u", "password": "p4ss"}})),
    )
    .await;
    let (status, test) = api
        .call(reqwest::Method::POST, &format!("/webhooks/{id}/test"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(test["response"], Value::Null);
    assert!(
        test["error"]
            .as_str()
            .unwrap()
            .starts_with("connection refused"),
        "{test}"
    );

    // The list filters by status, newest first; retry makes a failed one due again.
    let (_, failed) = api
        .call(reqwest::Method::GET, "/deliveries?status=failed", None)
        .await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
    let failed_id = failed["data"][0]["id"].as_str().unwrap().to_string();
    let (_, all) = api
        .call(
            reqwest::Method::GET,
            &format!("/deliveries?webhook_id={id}&limit=1"),
            None,
        )
        .await;
    assert_eq!(all["data"][0]["id"], failed_id.as_str(), "newest first");
    let cursor = all["next_cursor"].as_str().unwrap().to_string();
    let (_, next) = api
        .call(
            reqwest::Method::GET,
            &format!("/deliveries?webhook_id={id}&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(next["data"][0]["id"], delivery_id);
    assert_eq!(next["next_cursor"], Value::Null);

    api.call(
        reqwest::Method::PATCH,
        &format!("/webhooks/{id}"),
        Some(json!({"url": format!("{}/t", receiver.url),
            "auth": {"type": "basic", "username": "u", "password": "p4ss"}})),
    )
    .await;
    let (status, retried) = api
        .call(
            reqwest::Method::POST,
            &format!("/deliveries/{failed_id}/retry"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    server
        .until_delivery_is(&failed_id, "succeeded", "the retry to succeed")
        .await;
    let (_, detail) = api
        .call(
            reqwest::Method::GET,
            &format!("/deliveries/{failed_id}"),
            None,
        )
        .await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn inline_webhooks_answer_with_the_first_attempt_and_retry_in_the_background() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[200, 500]);
    let mut body = hook("Inline");
    body["url"] = json!(receiver.url);
    body["execution_mode"] = json!("inline");
    body["triggers"] = json!([{"event_type": "contact.created"}]);
    body["retry"] = json!({"max_attempts": 3, "schedule_s": [0, 1, 1]});
    api.call(reqwest::Method::POST, "/webhooks", Some(body))
        .await;
    let mut background = hook("Background");
    let other = TestReceiver::start().await;
    background["url"] = json!(format!("{}/bg", other.url));
    background["triggers"] = json!([{"event_type": "contact.created"}]);
    let (_, bg) = api
        .call(reqwest::Method::POST, "/webhooks", Some(background))
        .await;

    let event =
        json!({"type": "contact.created", "data": {"first_name": "Ann"}, "idempotency_key": "k1"});
    let (status, accepted) = api
        .call(reqwest::Method::POST, "/events", Some(event.clone()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let deliveries = accepted["deliveries"].as_array().unwrap();
    let inline = deliveries
        .iter()
        .find(|d| d["webhook_id"] != bg["id"])
        .unwrap();
    let later = deliveries
        .iter()
        .find(|d| d["webhook_id"] == bg["id"])
        .unwrap();
    assert_eq!(inline["status"], "succeeded", "{accepted}");
    assert_eq!(inline["response_status"], 200);
    assert_eq!(later["status"], "pending");
    assert!(later.get("response_status").is_none());
    // The repeat gets the same answer, outcome included.
    let (_, again) = api
        .call(reqwest::Method::POST, "/events", Some(event))
        .await;
    assert_eq!(again, accepted);

    // A failing inline attempt is reported and then retried in the background.
    let (_, accepted) = api
        .call(
            reqwest::Method::POST,
            "/events",
            Some(json!({"type": "contact.created", "data": {}})),
        )
        .await;
    let inline = accepted["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["webhook_id"] != bg["id"])
        .unwrap()
        .clone();
    let id = inline["id"].as_str().unwrap().to_string();
    assert_eq!(inline["status"], "failed", "{accepted}");
    assert_eq!(inline["response_status"], 500);
    server
        .until_delivery_is(&id, "succeeded", "the inline delivery to end up succeeded")
        .await;
    server.stop().await;
}

// Served on two worker threads, as `postback serve` is on this machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_turned_off_for_failing_is_announced_in_the_console() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[410]);
    let mut body = hook("Gone away");
    body["url"] = json!(receiver.url);
    body["triggers"] = json!([{"event_type": "contact.created"}]);
    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(body))
        .await;
    api.call(
        reqwest::Method::POST,
        "/events",
        Some(json!({"type": "contact.created", "data": {}})),
    )
    .await;
    let account = server.store.ensure_default_account().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    eventually("the webhook to be turned off", || async {
        !server
            .store
            .webhook(&account.id, &id)
            .await
            .unwrap()
            .input
            .active
    })
    .await;
    let (_, hook) = api
        .call(reqwest::Method::GET, &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(
        hook["disabled_reason"],
        "The receiver answered 410 Gone: it asked not to be called again."
    );

    server
        .add_user(
            "admin@example.com",
            "admin password",
            engine::model::Role::Admin,
        )
        .await;
    let http = client();
    let signed_in = server
        .sign_in(&http, "admin@example.com", "admin password")
        .await;
    assert!(signed_in.status().is_success(), "{}", signed_in.status());
    let html = server.page(&http, "/webhooks").await;
    assert!(
        html.contains("1 webhook was turned off because its receiver kept failing."),
        "{html}"
    );
    assert!(
        html.contains("Gone away: The receiver answered 410 Gone"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let server = crate::support::start().await;
    let response = crate::support::client()
        .get(format!("{}/api/v1/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "served without a key");
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            "DELETE /api/v1/contacts/{id}",
            "DELETE /api/v1/contacts/{id}/assignments/{user_id}",
            "DELETE /api/v1/contacts/{id}/flags/{flag}",
            "DELETE /api/v1/contacts/{id}/statuses/{status}",
            "DELETE /api/v1/contacts/{id}/todos/{todo_id}",
            "DELETE /api/v1/settings/{kind}/{id}",
            "DELETE /api/v1/webhooks/{id}",
            "GET /api/v1/account",
            "GET /api/v1/contacts",
            "GET /api/v1/contacts/{id}",
            "GET /api/v1/deliveries",
            "GET /api/v1/deliveries/{id}",
            "GET /api/v1/event-types",
            "GET /api/v1/events",
            "GET /api/v1/jobs/{id}",
            "GET /api/v1/settings/{kind}",
            "GET /api/v1/settings/{kind}/{id}",
            "GET /api/v1/webhooks",
            "GET /api/v1/webhooks/{id}",
            "PATCH /api/v1/account",
            "PATCH /api/v1/contacts/{id}",
            "PATCH /api/v1/contacts/{id}/todos/{todo_id}",
            "PATCH /api/v1/settings/{kind}/{id}",
            "PATCH /api/v1/webhooks/{id}",
            "POST /api/v1/contacts",
            "POST /api/v1/contacts/{id}/assignments",
            "POST /api/v1/contacts/{id}/execute",
            "POST /api/v1/contacts/{id}/flags",
            "POST /api/v1/contacts/{id}/leads",
            "POST /api/v1/contacts/{id}/statuses",
            "POST /api/v1/contacts/{id}/todos",
            "POST /api/v1/deliveries/{id}/retry",
            "POST /api/v1/events",
            "POST /api/v1/imports",
            "POST /api/v1/jobs/{id}/cancel",
            "POST /api/v1/mass-posts",
            "POST /api/v1/settings/{kind}",
            "POST /api/v1/webhooks",
            "POST /api/v1/webhooks/{id}/rotate-secret",
            "POST /api/v1/webhooks/{id}/test",
        ]
    );
    // A created webhook links to the operations that take its id.
    let links = doc["paths"]["/api/v1/webhooks"]["post"]["responses"]["201"]["links"]
        .as_object()
        .unwrap();
    let mut linked: Vec<&str> = links
        .values()
        .map(|l| {
            assert_eq!(l["parameters"]["id"], "$response.body#/id");
            l["operationId"].as_str().unwrap()
        })
        .collect();
    linked.sort();
    assert_eq!(
        linked,
        [
            "delete_webhook",
            "get_webhook",
            "patch_webhook",
            "rotate_secret",
            "test_webhook"
        ]
    );
    let accepted = &doc["paths"]["/api/v1/events"]["post"]["responses"]["202"]["links"];
    assert_eq!(
        accepted["retry_delivery"]["parameters"]["id"],
        "$response.body#/deliveries/0/id"
    );
    let schemas = &doc["components"]["schemas"];
    let input = &schemas["WebhookInput"]["properties"];
    for field in [
        "title",
        "url",
        "port",
        "method",
        "format",
        "auth",
        "headers",
        "triggers",
        "mapping",
        "execution_mode",
        "delivery_mode",
        "retry",
        "timeout_ms",
        "active",
    ] {
        assert!(input.get(field).is_some(), "WebhookInput documents {field}");
    }
    assert_eq!(
        schemas["Format"]["enum"],
        json!(["json", "json_mapped", "form", "xml", "adf"])
    );
    assert!(
        schemas["NewEvent"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("type"))
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    // The document's examples are requests the API takes.
    let account = server.store.ensure_default_account().await.unwrap();
    let key = server
        .store
        .create_api_key(&account.id, "examples")
        .await
        .unwrap();
    for (path, status) in [
        ("/api/v1/webhooks", 201),
        ("/api/v1/events", 202),
        ("/api/v1/contacts", 201),
    ] {
        let example =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"];
        assert!(example.is_object(), "{path} has an example");
        let answer = crate::support::client()
            .post(format!("{}{path}", server.base))
            .bearer_auth(&key)
            .json(example)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{}", answer.text().await.unwrap());
    }
    server.stop().await;
}

#[tokio::test]
async fn types_a_program_sends_join_the_event_types() {
    let server = start().await;
    let api = Api::new(&server).await;
    let (status, before) = api.call(reqwest::Method::GET, "/event-types", None).await;
    assert_eq!(status, StatusCode::OK);
    let find = |list: &Value, name: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == name)
            .cloned()
    };
    let created = find(&before, "contact.created").expect("built-in types are listed");
    assert_eq!(created["own"], false);
    assert!(
        created["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("contact.first_name"))
    );
    assert_eq!(created["sample"]["first_name"], "Jane");
    assert!(find(&before, "invoice.paid").is_none());

    for total in [120, 80] {
        let (status, _) = api
            .call(
                reqwest::Method::POST,
                "/events",
                Some(json!({"type": "invoice.paid", "data": {"id": "inv_1", "total": total}})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (_, after) = api.call(reqwest::Method::GET, "/event-types", None).await;
    let paid = find(&after, "invoice.paid").expect("a type sent joins the list");
    assert_eq!(paid["own"], true);
    assert_eq!(paid["sample"], json!({"id": "inv_1", "total": 120}));
    assert!(
        paid["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("invoice.total"))
    );
    let listed = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "invoice.paid")
        .count();
    assert_eq!(listed, 1, "listed once however often it is sent");
}

#[tokio::test]
async fn a_mass_post_through_the_api_reports_its_progress() {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    let mut body = hook("CRM sync");
    body["url"] = json!(format!("{}/crm", receiver.url));
    body["triggers"] = json!([{"event_type": "contact.updated"}]);
    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(body))
        .await;
    let webhook_id = created["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for name in ["Ann", "Bob", "Cy"] {
        let (status, contact) = api
            .call(
                reqwest::Method::POST,
                "/contacts",
                Some(json!({"first_name": name, "last_name": "Lee"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(contact["id"].as_str().unwrap().to_string());
    }
    let (status, refused) = api
        .call(
            reqwest::Method::POST,
            "/mass-posts",
            Some(json!({"webhook_id": webhook_id, "filter": {"q": "nobody"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["field"], "filter");
    let (status, started) = api
        .call(
            reqwest::Method::POST,
            "/mass-posts",
            Some(json!({"webhook_id": webhook_id, "contact_ids": [ids[0], ids[2]]})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(started["total"], 2);
    let job = format!("/jobs/{}", started["job_id"].as_str().unwrap());
    eventually("the job finishes with both delivered", || async {
        let (_, now) = api.call(reqwest::Method::GET, &job, None).await;
        now["state"] == "done" && now["succeeded"] == 2
    })
    .await;
    let (_, done) = api.call(reqwest::Method::GET, &job, None).await;
    assert_eq!(done["kind"], "mass_post");
    assert_eq!(
        (done["total"].clone(), done["done"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(done["errors"], json!([]));
    let mut names: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["First Name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["Ann", "Cy"]);
    // Cancelling a finished job leaves it as it was.
    let (status, after) = api
        .call(reqwest::Method::POST, &format!("{job}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["state"], "done");
    let (status, _) = api
        .call(reqwest::Method::GET, "/jobs/job_unknown", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_through_the_api_reports_bad_rows_by_line_and_posts_the_good_ones() {
    use reqwest::multipart::{Form, Part};
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let api = Api::new(&server).await;
    let receiver = TestReceiver::start().await;
    let mut body = hook("Import sync");
    body["url"] = json!(format!("{}/crm", receiver.url));
    body["triggers"] = json!([{"event_type": "contact.status_added"}]);
    let (_, created) = api
        .call(reqwest::Method::POST, "/webhooks", Some(body))
        .await;
    let webhook_id = created["id"].as_str().unwrap().to_string();
    let csv = "Given,Family,E-mail,Dealer note\n\
               Ann,Lee,ann@example.com,\"Wants a call, after 5\"\n\
               Bob,Ray,not-an-email,\n\
               Cy,Moss,cy@example.com\n\
               Di,Park,di@example.com,\n";
    let form = |csv: &'static str, mapping: &str| {
        Form::new()
            .part(
                "file",
                Part::bytes(csv.as_bytes().to_vec())
                    .file_name("leads.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            )
            .text("mapping", mapping.to_string())
            .text("webhook_id", webhook_id.clone())
    };
    let mapping = r#"{"Given": "first_name", "Family": "last_name", "Dealer note": "custom:Note"}"#;
    let (status, started) = api.post_form("/imports", form(csv, mapping)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["total"], 4);
    let job = format!("/jobs/{}", started["job_id"].as_str().unwrap());
    eventually("the import finishes with its posts delivered", || async {
        let (_, now) = api.call(reqwest::Method::GET, &job, None).await;
        now["state"] == "done" && now["succeeded"] == 2
    })
    .await;
    let (_, done) = api.call(reqwest::Method::GET, &job, None).await;
    assert_eq!(done["kind"], "import");
    let lines: Vec<i64> = done["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4], "{}", done["errors"]);
    let (_, listed) = api
        .call(reqwest::Method::GET, "/contacts?q=ann", None)
        .await;
    assert_eq!(
        listed["data"][0]["custom_fields"]["Note"],
        "Wants a call, after 5"
    );
    let mut names: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["First Name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["Ann", "Di"]);

    // What cannot be imported answers on its field, and imports nothing.
    let (status, refused) = api.post_form("/imports", form(csv, "[1]")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["field"], "mapping");
    let (status, refused) = api
        .post_form("/imports", form(csv, r#"{"Given": "birthday"}"#))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("birthday")
    );
    let (status, refused) = api
        .post_form("/imports", Form::new().text("mapping", "{}"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["field"], "file");
    let (status, refused) = api
        .post_form("/imports", form(csv, "{}").text("colour", "red"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"]["code"], "unknown_part");
    let (status, refused) = api
        .call(
            reqwest::Method::POST,
            "/imports",
            Some(json!({"file": "a,b"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_multipart");
    let (_, all) = api.call(reqwest::Method::GET, "/contacts", None).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "Ann and Di only");
}
