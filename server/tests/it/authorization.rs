//! Who may do what, in one table: every page, server function and REST
//! route with the answer each caller gets — nobody signed in, a support
//! user, an admin of another account, and the account's admin. The test
//! fails when the server has a route the table lacks.

use std::collections::BTreeSet;

use engine::model::{ItemKind, Role, Trigger, WebhookInput};
use engine::testing::TestReceiver;

use crate::support::{Running, client, start_with};

/// Who asks.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    Support,
    OtherAdmin,
    Admin,
}

const CALLERS: [Caller; 4] = [
    Caller::Anonymous,
    Caller::Support,
    Caller::OtherAdmin,
    Caller::Admin,
];

/// How a route is reached.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A console page: GET with the session cookie.
    Page,
    /// A server function: POST from the console's own origin, the
    /// arguments as a form.
    Form,
    /// A server function whose arguments are JSON.
    Json,
    /// A file uploaded from the console: POST from its own origin, a
    /// multipart form whose `file` is the row's body.
    Upload,
    /// The REST API: the caller's API key, if it has one.
    Api,
    /// Anything else the server answers.
    Plain,
}

/// One route and the status each of [`CALLERS`] gets, in that order.
struct Row {
    kind: Kind,
    method: &'static str,
    /// The route as the router knows it; `{id}` stands for the id of the
    /// row's own webhook, delivery or retry run.
    route: &'static str,
    /// The request's path when it differs from the route.
    path: Option<&'static str>,
    body: &'static str,
    expect: [u16; 4],
}

const fn row(kind: Kind, method: &'static str, route: &'static str, expect: [u16; 4]) -> Row {
    Row {
        kind,
        method,
        route,
        path: None,
        body: "",
        expect,
    }
}

const fn with_body(row: Row, body: &'static str) -> Row {
    Row { body, ..row }
}

const fn at(row: Row, path: &'static str) -> Row {
    Row {
        path: Some(path),
        ..row
    }
}

use Kind::{Api, Form, Json, Page, Plain, Upload};

/// Every route. Pages send the signed-out to sign in (303); the other
/// account's admin finds nothing of this account (404); support reads but
/// changes nothing (403); the API knows keys, not cookies (401); setup
/// once there is an admin is refused as a mistake (422).
/// Placeholders: `{hook}`, `{delivery}`, `{run}`, `{contact}`, `{job}` and the
/// rest are this row's own ([`Targets`]).
const TABLE: &[Row] = &[
    row(Plain, "GET", "/healthz", [200, 200, 200, 200]),
    row(Plain, "GET", "/api/v1/openapi.json", [200, 200, 200, 200]),
    at(
        row(Plain, "GET", "/reports/history.csv", [401, 200, 200, 200]),
        "/reports/history.csv?webhook={hook}",
    ),
    // Pages.
    row(Page, "GET", "/", [303, 303, 303, 303]),
    row(Page, "GET", "/setup", [303, 303, 303, 303]),
    row(Page, "GET", "/login", [200, 303, 303, 303]),
    row(Page, "GET", "/webhooks", [303, 200, 200, 200]),
    row(Page, "GET", "/webhooks/new", [303, 403, 200, 200]),
    at(
        row(Page, "GET", "/webhooks/{id}", [303, 200, 404, 200]),
        "/webhooks/{hook}",
    ),
    row(Page, "GET", "/reports", [303, 200, 200, 200]),
    row(Page, "GET", "/reports/history", [303, 200, 200, 200]),
    at(
        row(
            Page,
            "GET",
            "/reports/deliveries/{id}",
            [303, 200, 404, 200],
        ),
        "/reports/deliveries/{delivery}",
    ),
    at(
        row(Page, "GET", "/reports/retries/{id}", [303, 200, 404, 200]),
        "/reports/retries/{run}",
    ),
    row(Page, "GET", "/contacts", [303, 200, 200, 200]),
    row(Page, "GET", "/contacts/new", [303, 403, 200, 200]),
    at(
        row(Page, "GET", "/contacts/{id}", [303, 200, 404, 200]),
        "/contacts/{contact}",
    ),
    row(Page, "GET", "/settings", [303, 200, 200, 200]),
    // Another account's admin gets the page of their own (empty) list.
    at(
        row(Page, "GET", "/contacts/mass-post", [303, 403, 200, 200]),
        "/contacts/mass-post?with=list&webhook={hook}",
    ),
    at(
        row(Page, "GET", "/jobs/{id}", [303, 200, 404, 200]),
        "/jobs/{job}",
    ),
    row(Page, "GET", "/contacts/import", [303, 403, 200, 200]),
    at(
        row(Page, "GET", "/contacts/import/{id}", [303, 403, 404, 200]),
        "/contacts/import/{draft}",
    ),
    at(
        row(Plain, "GET", "/jobs/{id}/errors.csv", [401, 200, 404, 200]),
        "/jobs/{job}/errors.csv",
    ),
    // An upload becomes a draft of the uploader's own account.
    with_body(
        row(Upload, "POST", "/contacts/import", [401, 403, 303, 303]),
        "email\nbo@example.com\n",
    ),
    // Server functions: reading.
    with_body(
        row(Json, "POST", "/api/contacts", [401, 200, 200, 200]),
        r#"{"filter":{},"cursor":null}"#,
    ),
    with_body(
        row(Json, "POST", "/api/contact", [401, 200, 404, 200]),
        r#"{"id":"{contact}"}"#,
    ),
    row(Form, "POST", "/api/settings", [401, 200, 200, 200]),
    row(Form, "POST", "/api/filter_choices", [401, 200, 200, 200]),
    row(Form, "POST", "/api/own_event_types", [401, 200, 200, 200]),
    row(Form, "POST", "/api/me", [200, 200, 200, 200]),
    row(Form, "POST", "/api/setup_asks_token", [200, 200, 200, 200]),
    row(Form, "POST", "/api/webhooks", [401, 200, 200, 200]),
    with_body(
        row(Form, "POST", "/api/webhook", [401, 200, 404, 200]),
        "id={hook}",
    ),
    with_body(
        row(Json, "POST", "/api/report", [401, 200, 200, 200]),
        r#"{"range":{"range":"7d"},"chart":null}"#,
    ),
    with_body(
        row(Json, "POST", "/api/history", [401, 200, 200, 200]),
        r#"{"query":{}}"#,
    ),
    with_body(
        row(Json, "POST", "/api/delivery", [401, 200, 404, 200]),
        r#"{"id":"{delivery}"}"#,
    ),
    with_body(
        row(Json, "POST", "/api/retry_run", [401, 200, 404, 200]),
        r#"{"id":"{run}"}"#,
    ),
    with_body(
        row(Json, "POST", "/api/mass_post", [401, 403, 200, 200]),
        r#"{"query":"with=list&webhook={hook}"}"#,
    ),
    with_body(
        row(Json, "POST", "/api/job", [401, 200, 404, 200]),
        r#"{"id":"{job}"}"#,
    ),
    row(Form, "POST", "/api/import_page", [401, 403, 200, 200]),
    with_body(
        row(Json, "POST", "/api/import_draft", [401, 403, 404, 200]),
        r#"{"id":"{draft}"}"#,
    ),
    // Server functions: changing.
    with_body(
        row(Form, "POST", "/api/setup", [422, 422, 422, 422]),
        "email=new%40example.com&password=a+long+password",
    ),
    with_body(
        row(Form, "POST", "/api/login", [401, 401, 401, 401]),
        "email=admin%40example.com&password=wrong+password",
    ),
    with_body(
        row(Json, "POST", "/api/save_webhook", [401, 403, 404, 200]),
        r#"{"id":"{hook}","input":{HOOK}}"#,
    ),
    with_body(
        row(
            Form,
            "POST",
            "/api/set_webhook_active",
            [401, 403, 404, 200],
        ),
        "id={hook}&active=false",
    ),
    with_body(
        row(Form, "POST", "/api/test_webhook", [401, 403, 404, 200]),
        "id={hook}&event_type=lead.created",
    ),
    with_body(
        row(Form, "POST", "/api/rotate_secret", [401, 403, 404, 200]),
        "id={hook}",
    ),
    with_body(
        row(Form, "POST", "/api/delete_webhook", [401, 403, 404, 200]),
        "id={hook}",
    ),
    with_body(
        row(Form, "POST", "/api/resend", [401, 403, 404, 200]),
        "id={delivery}",
    ),
    with_body(
        row(Form, "POST", "/api/retry_all", [401, 403, 404, 200]),
        "webhook_id={hook}&range=7d",
    ),
    // The webhook is a field of the form: not one of the other admin's.
    with_body(
        row(Form, "POST", "/api/start_mass_post", [401, 403, 422, 200]),
        "selection=with%3Dselected%26id%3D{contact}&webhook_id={hook}",
    ),
    with_body(
        row(Form, "POST", "/api/cancel_job", [401, 403, 404, 200]),
        "id={job}",
    ),
    with_body(
        row(Form, "POST", "/api/start_import", [401, 403, 404, 200]),
        "id={draft}&targets[0]=email&webhook_id=",
    ),
    // The REST API.
    row(Api, "GET", "/api/v1/events", [401, 401, 200, 200]),
    row(Api, "GET", "/api/v1/event-types", [401, 401, 200, 200]),
    // A filter that matches no contact: refused on it, and nothing is sent.
    with_body(
        row(Api, "POST", "/api/v1/mass-posts", [401, 401, 422, 422]),
        r#"{"webhook_id":"{hook}","filter":{"q":"zz-nobody"}}"#,
    ),
    // JSON, not a multipart form: refused before anything is read.
    with_body(
        row(Api, "POST", "/api/v1/imports", [401, 401, 400, 400]),
        r#"{"file":"email\na@example.com"}"#,
    ),
    at(
        row(Api, "GET", "/api/v1/jobs/{id}", [401, 401, 404, 200]),
        "/api/v1/jobs/{job}",
    ),
    at(
        row(
            Api,
            "POST",
            "/api/v1/jobs/{id}/cancel",
            [401, 401, 404, 200],
        ),
        "/api/v1/jobs/{job}/cancel",
    ),
    with_body(
        row(Api, "POST", "/api/v1/events", [401, 401, 202, 202]),
        r#"{"type":"lead.created","data":{"type":"call"}}"#,
    ),
    row(Api, "GET", "/api/v1/webhooks", [401, 401, 200, 200]),
    with_body(
        row(Api, "POST", "/api/v1/webhooks", [401, 401, 201, 201]),
        "{HOOK}",
    ),
    at(
        row(Api, "GET", "/api/v1/webhooks/{id}", [401, 401, 404, 200]),
        "/api/v1/webhooks/{hook}",
    ),
    with_body(
        at(
            row(Api, "PATCH", "/api/v1/webhooks/{id}", [401, 401, 404, 200]),
            "/api/v1/webhooks/{hook}",
        ),
        r#"{"active":false}"#,
    ),
    at(
        row(Api, "DELETE", "/api/v1/webhooks/{id}", [401, 401, 404, 204]),
        "/api/v1/webhooks/{hook}",
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/webhooks/{id}/test",
                [401, 401, 404, 200],
            ),
            "/api/v1/webhooks/{hook}/test",
        ),
        r#"{"event_type":"lead.created"}"#,
    ),
    at(
        row(
            Api,
            "POST",
            "/api/v1/webhooks/{id}/rotate-secret",
            [401, 401, 404, 200],
        ),
        "/api/v1/webhooks/{hook}/rotate-secret",
    ),
    row(Api, "GET", "/api/v1/deliveries", [401, 401, 200, 200]),
    at(
        row(Api, "GET", "/api/v1/deliveries/{id}", [401, 401, 404, 200]),
        "/api/v1/deliveries/{delivery}",
    ),
    at(
        row(
            Api,
            "POST",
            "/api/v1/deliveries/{id}/retry",
            [401, 401, 404, 202],
        ),
        "/api/v1/deliveries/{delivery}/retry",
    ),
    // Contacts, settings items and the account.
    row(Api, "GET", "/api/v1/contacts", [401, 401, 200, 200]),
    with_body(
        row(Api, "POST", "/api/v1/contacts", [401, 401, 201, 201]),
        r#"{"first_name":"TITLE"}"#,
    ),
    at(
        row(Api, "GET", "/api/v1/contacts/{id}", [401, 401, 404, 200]),
        "/api/v1/contacts/{contact}",
    ),
    with_body(
        at(
            row(Api, "PATCH", "/api/v1/contacts/{id}", [401, 401, 404, 200]),
            "/api/v1/contacts/{contact}",
        ),
        r#"{"phone":"+1 555 0111"}"#,
    ),
    at(
        row(Api, "DELETE", "/api/v1/contacts/{id}", [401, 401, 404, 200]),
        "/api/v1/contacts/{contact}",
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/contacts/{id}/statuses",
                [401, 401, 404, 200],
            ),
            "/api/v1/contacts/{contact}/statuses",
        ),
        r#"{"status":"Sold"}"#,
    ),
    at(
        row(
            Api,
            "DELETE",
            "/api/v1/contacts/{id}/statuses/{status}",
            [401, 401, 404, 200],
        ),
        "/api/v1/contacts/{contact}/statuses/New",
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/contacts/{id}/flags",
                [401, 401, 404, 200],
            ),
            "/api/v1/contacts/{contact}/flags",
        ),
        r#"{"flag":"Do not call"}"#,
    ),
    at(
        row(
            Api,
            "DELETE",
            "/api/v1/contacts/{id}/flags/{flag}",
            [401, 401, 404, 200],
        ),
        "/api/v1/contacts/{contact}/flags/VIP",
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/contacts/{id}/assignments",
                [401, 401, 404, 200],
            ),
            "/api/v1/contacts/{contact}/assignments",
        ),
        r#"{"user_id":"{user}"}"#,
    ),
    at(
        row(
            Api,
            "DELETE",
            "/api/v1/contacts/{id}/assignments/{user_id}",
            [401, 401, 404, 200],
        ),
        "/api/v1/contacts/{contact}/assignments/{assigned}",
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/contacts/{id}/leads",
                [401, 401, 404, 201],
            ),
            "/api/v1/contacts/{contact}/leads",
        ),
        r#"{"type":"call"}"#,
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/contacts/{id}/todos",
                [401, 401, 404, 201],
            ),
            "/api/v1/contacts/{contact}/todos",
        ),
        r#"{"title":"Call back"}"#,
    ),
    with_body(
        at(
            row(
                Api,
                "PATCH",
                "/api/v1/contacts/{id}/todos/{todo_id}",
                [401, 401, 404, 200],
            ),
            "/api/v1/contacts/{contact}/todos/{todo}",
        ),
        r#"{"done":true}"#,
    ),
    at(
        row(
            Api,
            "DELETE",
            "/api/v1/contacts/{id}/todos/{todo_id}",
            [401, 401, 404, 200],
        ),
        "/api/v1/contacts/{contact}/todos/{todo}",
    ),
    with_body(
        at(
            row(
                Api,
                "POST",
                "/api/v1/contacts/{id}/execute",
                [401, 401, 404, 200],
            ),
            "/api/v1/contacts/{contact}/execute",
        ),
        r#"{"webhook_id":"{hook}"}"#,
    ),
    at(
        row(Api, "GET", "/api/v1/settings/{kind}", [401, 401, 200, 200]),
        "/api/v1/settings/statuses",
    ),
    with_body(
        at(
            row(Api, "POST", "/api/v1/settings/{kind}", [401, 401, 201, 201]),
            "/api/v1/settings/sources",
        ),
        r#"{"name":"TITLE"}"#,
    ),
    at(
        row(
            Api,
            "GET",
            "/api/v1/settings/{kind}/{id}",
            [401, 401, 404, 200],
        ),
        "/api/v1/settings/sources/{source}",
    ),
    with_body(
        at(
            row(
                Api,
                "PATCH",
                "/api/v1/settings/{kind}/{id}",
                [401, 401, 404, 200],
            ),
            "/api/v1/settings/sources/{source}",
        ),
        r#"{"active":false}"#,
    ),
    at(
        row(
            Api,
            "DELETE",
            "/api/v1/settings/{kind}/{id}",
            [401, 401, 404, 200],
        ),
        "/api/v1/settings/sources/{source}",
    ),
    row(Api, "GET", "/api/v1/account", [401, 401, 200, 200]),
    with_body(
        row(Api, "PATCH", "/api/v1/account", [401, 401, 200, 200]),
        r#"{"external_ref":"REF-1"}"#,
    ),
    // The console's contacts and settings.
    with_body(
        row(Form, "POST", "/api/save_contact", [401, 403, 404, 200]),
        "id={contact}&first_name=Ann&last_name=Other",
    ),
    with_body(
        row(Form, "POST", "/api/change_contact", [401, 403, 404, 200]),
        "id={contact}&change=add_status&value=Sold",
    ),
    with_body(
        row(Form, "POST", "/api/add_lead", [401, 403, 404, 200]),
        "id={contact}&lead_type=call",
    ),
    with_body(
        row(Form, "POST", "/api/add_todo", [401, 403, 404, 200]),
        "id={contact}&title=Call",
    ),
    with_body(
        row(Form, "POST", "/api/change_todo", [401, 403, 404, 200]),
        "id={contact}&todo_id={todo}&change=done",
    ),
    with_body(
        row(Form, "POST", "/api/execute_preview", [401, 403, 404, 200]),
        "id={contact}&webhook_id={hook}",
    ),
    with_body(
        row(Form, "POST", "/api/execute_webhook", [401, 403, 404, 200]),
        "id={contact}&webhook_id={hook}",
    ),
    with_body(
        row(Form, "POST", "/api/delete_contact", [401, 403, 404, 200]),
        "id={contact}",
    ),
    with_body(
        row(Form, "POST", "/api/save_account", [401, 403, 200, 200]),
        "name=default&external_ref=REF-2",
    ),
    with_body(
        row(Form, "POST", "/api/save_item", [401, 403, 404, 200]),
        "kind=sources&id={source}&name=TITLE&active=on",
    ),
    // Last: it ends the caller's session.
    row(Form, "POST", "/api/logout", [200, 200, 200, 200]),
];

/// A webhook as the console's form and the API send it.
const HOOK: &str =
    r#"{"title":"TITLE","url":"RECEIVER","triggers":[{"event_type":"lead.created","filters":[]}]}"#;

/// The objects one row acts on, all in the first account.
struct Targets {
    hook: String,
    delivery: String,
    run: String,
    /// A contact with the status New, the flag VIP, an assigned user and
    /// a to-do; a user to assign not yet on it; a source.
    contact: String,
    assigned: String,
    user: String,
    todo: String,
    source: String,
    /// A mass post of the contact through the webhook.
    job: String,
    /// An import uploaded, waiting for its mapping.
    draft: String,
}

struct World {
    server: Running,
    receiver: TestReceiver,
    /// Signed-in clients, by caller.
    clients: Vec<reqwest::Client>,
    /// API keys, by caller.
    keys: Vec<Option<String>>,
    admin: reqwest::Client,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_caller_as_the_table_says() {
    let world = world().await;
    every_route_is_in_the_table(&world).await;
    let mut wrong = Vec::new();
    let mut targets = targets(&world).await;
    let mut stale = false;
    for row in TABLE {
        for (i, caller) in CALLERS.iter().enumerate() {
            if stale {
                targets = self::targets(&world).await;
            }
            let (status, body) = call(&world, row, i, &targets).await;
            if status != row.expect[i] {
                wrong.push(format!(
                    "{} {} as {caller:?}: {status}, not {} ({})",
                    row.method,
                    row.route,
                    row.expect[i],
                    body.chars().take(160).collect::<String>()
                ));
            }
            if matches!(caller, Caller::OtherAdmin) {
                for id in [
                    &targets.hook,
                    &targets.delivery,
                    &targets.run,
                    &targets.contact,
                    &targets.todo,
                    &targets.source,
                    &targets.job,
                    &targets.draft,
                ] {
                    assert!(
                        !body.contains(id.as_str()),
                        "{} {} shows another account's {id}",
                        row.method,
                        row.route
                    );
                }
            }
            // What a call may have changed or deleted is not used again.
            stale = row.method != "GET" && (200..300).contains(&status);
        }
    }
    assert!(
        wrong.is_empty(),
        "answers not as the table says:\n{}",
        wrong.join("\n")
    );
    world.server.stop().await;
}

/// The pages, server functions and API operations the server has, each
/// found in the table.
async fn every_route_is_in_the_table(world: &World) {
    let listed: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    let mut found = BTreeSet::new();
    for page in leptos_axum::generate_route_list(app::App) {
        found.insert(("GET".to_string(), page.path().to_string()));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        found.insert((method.to_string(), path.to_string()));
    }
    let doc: serde_json::Value = world
        .admin
        .get(format!("{}/api/v1/openapi.json", world.server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    let missing: Vec<_> = found.difference(&listed).collect();
    assert!(missing.is_empty(), "routes the table lacks: {missing:?}");
}

/// Two accounts: the first with an admin, a support user, a webhook to a
/// receiver on loopback and an API key; the second with its own admin
/// and key.
async fn world() -> World {
    let server = start_with(|args| args.delivery.allow_private_destinations = true).await;
    let receiver = TestReceiver::start().await;
    let store = &server.store;
    let first = store.ensure_default_account().await.unwrap();
    let second = store.create_account("Second", None).await.unwrap();
    for (account, email, role) in [
        (&first, "admin@example.com", Role::Admin),
        (&first, "support@example.com", Role::Support),
        (&second, "other@example.com", Role::Admin),
    ] {
        store
            .create_user(&account.id, email, "a long password", role)
            .await
            .unwrap();
    }
    let mut clients = vec![client()];
    for email in [
        "support@example.com",
        "other@example.com",
        "admin@example.com",
    ] {
        let http = client();
        let answer = server.sign_in(&http, email, "a long password").await;
        assert!(answer.status().is_success(), "{email} signs in");
        clients.push(http);
    }
    let keys = vec![
        None,
        None,
        Some(store.create_api_key(&second.id, "other").await.unwrap()),
        Some(store.create_api_key(&first.id, "first").await.unwrap()),
    ];
    let admin = clients[3].clone();
    World {
        server,
        receiver,
        clients,
        keys,
        admin,
    }
}

/// A fresh webhook in the first account, a delivery of it, and a retry
/// run over it, for one call that may change or delete them.
async fn targets(world: &World) -> Targets {
    let store = &world.server.store;
    let account = store.ensure_default_account().await.unwrap();
    let (view, _) = store
        .create_webhook(
            &account.id,
            WebhookInput {
                title: engine::ids::new_id("Target"),
                url: world.receiver.url.clone(),
                triggers: vec![Trigger {
                    event_type: "lead.created".into(),
                    filters: vec![],
                }],
                ..WebhookInput::default()
            },
        )
        .await
        .unwrap();
    // Through the API, as a CRM posts it: the engine sends it at once.
    let answer: serde_json::Value = world
        .admin
        .post(format!("{}/api/v1/events", world.server.base))
        .bearer_auth(world.keys[3].as_deref().unwrap())
        .json(&serde_json::json!({"type": "lead.created", "data": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delivery = answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["webhook_id"] == view.id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A delivery can be sent again once it has been sent.
    engine::testing::eventually("the first attempt", || async {
        !store.attempts(&delivery).await.unwrap().is_empty()
    })
    .await;
    let run = world
        .admin
        .post(format!("{}/api/retry_all", world.server.base))
        .header("origin", &world.server.base)
        .form(&[("webhook_id", view.id.as_str()), ("range", "7d")])
        .send()
        .await
        .unwrap();
    assert!(run.status().is_success(), "a retry run starts");
    let run: String = run.json().await.unwrap();
    let by = engine::model::ChangedBy {
        actor: None,
        via: engine::model::Via::Api,
    };
    let item = |name: &str| engine::model::ItemInput {
        name: name.to_string(),
        company: Some("North".into()),
        email: None,
        active: true,
    };
    let (contact, _) = store
        .create_contact(
            &account.id,
            engine::model::ContactInput {
                first_name: "Ann".into(),
                ..Default::default()
            },
            &by,
        )
        .await
        .unwrap();
    let mut users = Vec::new();
    for _ in 0..2 {
        let (user, _) = store
            .create_item(
                &account.id,
                ItemKind::User,
                item(&engine::ids::new_id("Sam")),
                &by,
            )
            .await
            .unwrap();
        users.push(user.id);
    }
    store
        .assign(&account.id, &contact.id, &users[0], &by)
        .await
        .unwrap();
    for (kind, name) in [(ItemKind::Status, "New"), (ItemKind::Flag, "VIP")] {
        store
            .add_label(&account.id, &contact.id, kind, name, &by)
            .await
            .unwrap();
    }
    let (todo, _) = store
        .add_todo(
            &account.id,
            &contact.id,
            engine::model::TodoInput {
                title: "Call".into(),
                due_at: None,
                done: false,
                assigned_user_id: None,
            },
            &by,
        )
        .await
        .unwrap();
    let (source, _) = store
        .create_item(
            &account.id,
            ItemKind::Source,
            item(&engine::ids::new_id("Src")),
            &by,
        )
        .await
        .unwrap();
    let job = store
        .create_mass_post(
            &account.id,
            &engine::model::MassPostInput {
                webhook_id: view.id.clone(),
                filter: None,
                contact_ids: Some(vec![contact.id.clone()]),
            },
            None,
        )
        .await
        .unwrap();
    let draft = store
        .create_import(
            &account.id,
            &engine::store::imports::ImportInput::default(),
            b"email\nann@example.com\n",
            None,
            true,
        )
        .await
        .unwrap();
    Targets {
        job: job.id,
        draft: draft.id,
        hook: view.id,
        delivery,
        run,
        contact: contact.id,
        assigned: users[0].clone(),
        user: users[1].clone(),
        todo: todo.id,
        source: source.id,
    }
}

/// Makes the row's request as caller `i`; the status and body.
async fn call(world: &World, row: &Row, i: usize, targets: &Targets) -> (u16, String) {
    let fill = |text: &str| {
        text.replace("{HOOK}", HOOK)
            .replace("TITLE", &engine::ids::new_id("Matrix"))
            .replace("RECEIVER", &world.receiver.url)
            .replace("{hook}", &targets.hook)
            .replace("{delivery}", &targets.delivery)
            .replace("{run}", &targets.run)
            .replace("{contact}", &targets.contact)
            .replace("{assigned}", &targets.assigned)
            .replace("{user}", &targets.user)
            .replace("{todo}", &targets.todo)
            .replace("{source}", &targets.source)
            .replace("{job}", &targets.job)
            .replace("{draft}", &targets.draft)
    };
    let path = fill(row.path.unwrap_or(row.route));
    let method = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
    let url = format!("{}{path}", world.server.base);
    let mut request = world.clients[i].request(method, url);
    request = match row.kind {
        Page | Plain => request,
        Form => request
            .header("origin", &world.server.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(fill(row.body)),
        Json => request
            .header("origin", &world.server.base)
            .header("content-type", "application/json")
            .body(fill(row.body)),
        Upload => request.header("origin", &world.server.base).multipart(
            reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(fill(row.body).into_bytes()).file_name("t.csv"),
            ),
        ),
        Api => {
            if let Some(key) = &world.keys[i] {
                request = request.bearer_auth(key);
            }
            if row.body.is_empty() {
                request
            } else {
                request
                    .header("content-type", "application/json")
                    .body(fill(row.body))
            }
        }
    };
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}
