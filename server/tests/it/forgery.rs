//! Requests another site makes in a signed-in user's name are refused, and
//! every page says what may run in it.

use engine::model::{Role, Trigger, WebhookInput};

use crate::support::{client, start, start_with};

#[tokio::test]
async fn requests_from_another_site_are_refused_and_change_nothing() {
    let server = start().await;
    let account = server.store.ensure_default_account().await.unwrap();
    server
        .add_user("admin@example.com", "admin password", Role::Admin)
        .await;
    let (hook, _) = server
        .store
        .create_webhook(
            &account.id,
            WebhookInput {
                title: "Export leads".into(),
                url: "https://crm.example.com/hook".into(),
                triggers: vec![Trigger {
                    event_type: "lead.created".into(),
                    filters: vec![],
                }],
                ..WebhookInput::default()
            },
        )
        .await
        .unwrap();
    let http = client();
    let login = [
        ("email", "admin@example.com"),
        ("password", "admin password"),
    ];
    let post = |path: &str, header: (&'static str, String)| {
        http.post(format!("{}{path}", server.base))
            .header(header.0, header.1)
    };

    // Login CSRF: another site cannot sign the browser in.
    let other_port = "http://127.0.0.1:1".to_string();
    for header in [
        ("origin", other_port.clone()),
        ("sec-fetch-site", "cross-site".to_string()),
        ("sec-fetch-site", "same-site".to_string()),
    ] {
        let answer = post("/api/login", header.clone())
            .form(&login)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{header:?}");
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("came from another site")
        );
    }
    let page = http
        .get(format!("{}/webhooks", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "still signed out");

    // Signed in from the console itself (the browser says same-origin).
    let answer = post("/api/login", ("sec-fetch-site", "same-origin".into()))
        .form(&login)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());

    // Another site's page, or a sibling subdomain's, cannot delete.
    for header in [
        ("origin", other_port.clone()),
        ("origin", "null".to_string()),
        ("sec-fetch-site", "same-site".to_string()),
    ] {
        let answer = post("/api/delete_webhook", header.clone())
            .form(&[("id", hook.id.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{header:?}");
    }
    assert!(server.store.webhook(&account.id, &hook.id).await.is_ok());

    // The console's own page can (an older browser sends only Origin).
    let answer = post("/api/delete_webhook", ("origin", server.base.clone()))
        .form(&[("id", hook.id.as_str())])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert!(server.store.webhook(&account.id, &hook.id).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn every_page_limits_what_may_run_and_who_may_frame_it() {
    let server = start().await;
    let page = client()
        .get(format!("{}/setup", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("object-src 'none'"), "{policy}");
    // The page's scripts carry the nonce the policy allows, fresh per page.
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{html}");
    let again = client()
        .get(format!("{}/setup", server.base))
        .send()
        .await
        .unwrap();
    let second = again.headers()["content-security-policy"].to_str().unwrap();
    assert!(!second.contains(&nonce), "a nonce is used once");
    assert!(
        again.headers().get("strict-transport-security").is_none(),
        "plain http on loopback: no HSTS"
    );
    server.stop().await;
    // Secure cookies mean https in front: browsers are told to keep to it.
    let behind_tls = start_with(|args| args.secure_cookies = Some(true)).await;
    let page = client()
        .get(format!("{}/setup", behind_tls.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    behind_tls.stop().await;
}

/// A sign-in ends at its lifetime however active it is; the session cookie
/// is Secure when asked (and by default off loopback, see config's tests).
#[tokio::test]
async fn a_sign_in_ends_at_its_lifetime_and_cookies_can_be_secure() {
    for (lifetime_hours, secure, page_status) in [(24, false, 200), (0, false, 303), (24, true, 0)]
    {
        let server = start_with(|args| {
            args.session_max_hours = lifetime_hours;
            args.secure_cookies = Some(secure);
        })
        .await;
        server
            .add_user("admin@example.com", "admin password", Role::Admin)
            .await;
        let http = client();
        let login = server
            .sign_in(&http, "admin@example.com", "admin password")
            .await;
        assert!(login.status().is_success() || login.status().is_redirection());
        let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
        assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
        if !secure {
            // reqwest's cookie store keeps a Secure cookie for https only.
            let page = http
                .get(format!("{}/webhooks", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), page_status, "lifetime {lifetime_hours} h");
        }
        server.stop().await;
    }
}

/// A NUL character in a console request's arguments (a history filter, an
/// id) is refused with a message the console shows, before it can reach a
/// text column; the same request without it works.
#[tokio::test]
async fn a_nul_in_console_arguments_is_refused_with_a_clear_message() {
    let server = start().await;
    server
        .add_user("support@example.com", "support password", Role::Support)
        .await;
    let http = client();
    assert!(
        server
            .sign_in(&http, "support@example.com", "support password")
            .await
            .status()
            .is_success()
    );
    let call = |path: &str, content_type: &'static str, body: String| {
        http.post(format!("{}{path}", server.base))
            .header("origin", &server.base)
            .header("content-type", content_type)
            .body(body)
    };
    for (path, content_type, body) in [
        (
            "/api/history",
            "application/json",
            r#"{"query":{"q":"Ann\u0000"}}"#,
        ),
        (
            "/api/delivery",
            "application/json",
            r#"{"id":"dlv_\u0000"}"#,
        ),
        (
            "/api/webhook",
            "application/x-www-form-urlencoded",
            "id=wh_%00",
        ),
    ] {
        let answer = call(path, content_type, body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{path}");
        assert_eq!(
            answer.text().await.unwrap(),
            "ServerError|A NUL character (\\0) is not allowed in any field."
        );
    }
    // A backslash and a zero typed as text are not a NUL.
    let answer = call(
        "/api/history",
        "application/json",
        r#"{"query":{"q":"\\u0000"}}"#.to_string(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    server.stop().await;
}
