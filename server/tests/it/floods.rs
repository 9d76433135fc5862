//! Sign-in and setup floods: attempts throttled by email and by address
//! with 429 and `Retry-After`, failed sign-ins logged without the password,
//! and a setup reachable from beyond this machine asks for the one-time
//! token from the log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use engine::model::Role;
use reqwest::StatusCode;

use crate::support::{client, start, start_with};

/// Everything the server logs in this test binary, from the first call on.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init();
        log
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured_log().lock().unwrap()).into_owned()
}

#[tokio::test]
async fn wrong_sign_ins_are_throttled_by_email_then_by_address_and_logged() {
    captured_log();
    let server = start().await;
    server
        .add_user("ann@example.com", "correct horse", Role::Admin)
        .await;
    let http = client();
    for n in 0..10 {
        let answer = server
            .sign_in(&http, "ann@example.com", &format!("guess-{n}-pw"))
            .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "try {n}");
    }
    // The eleventh try for that email waits, even with the right password.
    let refused = server
        .sign_in(&http, "Ann@Example.com", "correct horse")
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "Retry-After: {wait}");
    let message = refused.text().await.unwrap();
    assert!(
        message.contains("Too many sign-in attempts. Try again in"),
        "{message}"
    );
    // Another email from the same address has tries left, until the
    // address has used its own allowance (20, one more every 3 s).
    let mut wrong = 0;
    loop {
        let answer = server
            .sign_in(&http, &format!("other{wrong}@example.com"), "whatever-pw")
            .await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        wrong += 1;
        assert!(wrong < 20, "the address is never throttled");
    }
    assert!(wrong >= 9, "another email had tries left: {wrong}");
    let log = log_text();
    assert!(
        log.contains("sign-in failed: wrong email or password")
            && log.contains("\"ann@example.com\"")
            && log.contains("127.0.0.1"),
        "a failed sign-in is logged with its email and address"
    );
    assert!(
        !log.contains("guess-3-pw"),
        "a password is never in the log"
    );
    assert!(log.contains("sign-in refused: too many attempts"));
    server.stop().await;
}

#[tokio::test]
async fn setup_beyond_this_machine_asks_for_the_token_from_the_log() {
    captured_log();
    let server = start_with(|args| args.setup_token = Some(true)).await;
    let page = server.page(&client(), "/setup").await;
    assert!(page.contains("data-testid=\"setup-token\""), "the field");
    let setup = |token: Option<&str>| {
        let mut form = vec![
            ("email", "first@example.com"),
            ("password", "a long password"),
        ];
        if let Some(token) = token {
            form.push(("token", token));
        }
        client()
            .post(format!("{}/api/setup", server.base))
            .form(&form)
            .send()
    };
    for token in [None, Some("not-the-token")] {
        let refused = setup(token).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{token:?}");
        let message = refused.text().await.unwrap();
        assert!(message.contains("setup token"), "{message}");
    }
    assert_eq!(server.store.count_users().await.unwrap(), 0, "nobody made");
    let log = log_text();
    let token = log
        .lines()
        .filter_map(|l| l.split("one-time setup token: ").nth(1))
        .next_back()
        .expect("the token is in the log")
        .trim()
        .to_string();
    let made = setup(Some(&token)).await.unwrap();
    assert!(made.status().is_success() || made.status().is_redirection());
    assert_eq!(server.store.count_users().await.unwrap(), 1);
    server.stop().await;
}

#[tokio::test]
async fn setup_on_loopback_needs_no_token_and_happens_once() {
    let server = start().await;
    let setup = |email: &'static str| {
        client()
            .post(format!("{}/api/setup", server.base))
            .form(&[("email", email), ("password", "a long password")])
            .send()
    };
    let (a, b) = tokio::join!(setup("a@example.com"), setup("b@example.com"));
    let made = [a.unwrap().status(), b.unwrap().status()]
        .iter()
        .filter(|s| s.is_success() || s.is_redirection())
        .count();
    assert_eq!(made, 1, "two setups at once make one admin");
    assert_eq!(server.store.count_users().await.unwrap(), 1);
    server.stop().await;
}

/// With room for one API request at a time, a second one while the first
/// is under way answers 503 at once, in the API's error shape and with
/// `Retry-After`, instead of queueing; once the first is done the API
/// answers again.
#[tokio::test]
async fn the_api_refuses_what_it_has_no_room_for_at_once() {
    let server = start_with(|args| {
        args.api_concurrency = 1;
        args.delivery.allow_private_destinations = true;
    })
    .await;
    let account = server.store.ensure_default_account().await.unwrap();
    let key = server
        .store
        .create_api_key(&account.id, "flood")
        .await
        .unwrap();
    let receiver = engine::testing::TestReceiver::start().await;
    receiver.hang_next(std::time::Duration::from_millis(1500));
    let api = format!("{}/api/v1", server.base);
    let created: serde_json::Value = client()
        .post(format!("{api}/webhooks"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"title": "Slow", "url": receiver.url,
            "triggers": [{"event_type": "lead.created"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    // A test send waits for the hanging receiver, holding the one slot.
    let slow = tokio::spawn({
        let (api, key) = (api.clone(), key.clone());
        async move {
            client()
                .post(format!("{api}/webhooks/{id}/test"))
                .bearer_auth(&key)
                .json(&serde_json::json!({"event_type": "lead.created"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let started = std::time::Instant::now();
    let refused = client()
        .get(format!("{api}/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_millis(500),
        "at once"
    );
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy");
    assert!(slow.await.unwrap().is_success());
    let again = client()
        .get(format!("{api}/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    server.stop().await;
}

/// A connection that trickles its request head (slowloris) is closed once
/// the header timeout passes; one that sends its request in time is
/// answered, and the peer's address still reaches the handlers.
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_with(|args| args.header_timeout_seconds = 1).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    // Closed (an end of stream or a reset), not left hanging.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut rest),
    )
    .await
    .expect("the server closes the connection");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "closed after {:?}",
        started.elapsed()
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));

    let answer = client()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    server.stop().await;
}
