//! Receivers on a bad day: every way an answer can go wrong, each recorded
//! in plain words and retried or given up as PRODUCT.md says, on both
//! databases. Every receiver here listens on loopback.

use std::time::Duration;

use chrono::{DateTime, Utc};
use engine::delivery::Delivery;
use engine::job::MAX_RECORDED_BODY;
use engine::model::{DeliveryStatus, NewEvent, RetryPolicy};
use engine::reports::AttemptRecord;
use engine::store::Store;
use engine::testing::Answer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::delivery::{config, engine_with_one_webhook, hook, send_lead, status_of};
use crate::support::{TestReceiver, eventually, postgres, sqlite};

both_databases!(
    every_receiver_fault_is_recorded_in_plain_words_and_retried_as_promised,
    a_500_is_retried_with_the_same_webhook_id,
    attempts_run_out_and_the_delivery_fails,
    retry_after_is_honoured_on_429,
    gone_disables_the_webhook,
    a_receiver_whose_certificate_nobody_vouches_for_is_refused,
);

/// What the delivery does after its first attempt.
#[derive(Debug)]
enum Then {
    Succeeds,
    /// Tries again, no sooner than this after the attempt.
    RetriesAfter(Duration),
    GivesUp,
}

/// One way a receiver fails, and what the record must show for it.
struct Case {
    fault: &'static str,
    url: String,
    timeout_ms: u32,
    /// The answer's status, when one came.
    status: Option<u16>,
    /// How the attempt's error or note begins (none: the status says it).
    says: Option<&'static str>,
    then: Then,
    /// Anything else the record must show.
    check: Option<fn(&AttemptRecord)>,
}

/// The schedule's minute, less its jitter of at most a tenth.
fn retried() -> Then {
    Then::RetriesAfter(Duration::from_secs(SECOND_TRY_S * 9 / 10))
}

/// The retry schedule every case's webhook has: a second attempt a minute
/// after the first, so the test sees the first attempt's decision alone.
const SECOND_TRY_S: u64 = 60;

async fn every_receiver_fault_is_recorded_in_plain_words_and_retried_as_promised(store: Store) {
    let moved_to = TestReceiver::start().await;
    let cases = cases(&moved_to).await;
    let account = store.ensure_default_account().await.unwrap();
    let mut webhooks = std::collections::HashMap::new();
    for case in &cases {
        let mut input = hook(&case.url);
        input.title = case.fault.into();
        input.timeout_ms = case.timeout_ms;
        input.retry = RetryPolicy {
            max_attempts: 2,
            schedule_s: vec![0, SECOND_TRY_S],
        };
        let (view, _) = store.create_webhook(&account.id, input).await.unwrap();
        webhooks.insert(view.id, case);
    }
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let answers = store
        .accept_events(
            &account,
            vec![NewEvent::new(
                "lead.created",
                serde_json::json!({"type": "call", "contact": {"id": "c1"}}),
            )],
        )
        .await
        .unwrap();
    delivery.waker().notify_one();
    assert_eq!(answers[0].deliveries.len(), cases.len());

    for planned in &answers[0].deliveries {
        let id = &planned.id;
        eventually("every first attempt", || async {
            status_of(&store, id).await != "pending"
        })
        .await;
        let state = store.delivery(&account.id, id).await.unwrap();
        let case = webhooks[&state.webhook_id];
        let attempts = store.attempts(id).await.unwrap();
        let first = &attempts[0];
        let fault = case.fault;
        assert_eq!(attempts.len(), 1, "{fault}: one attempt so far");
        assert_eq!(
            first.response.as_ref().map(|r| r.status),
            case.status,
            "{fault}: {:?}",
            first.error
        );
        match case.says {
            Some(words) => {
                let error = first.error.as_deref().unwrap_or_default();
                assert!(error.starts_with(words), "{fault}: said {error:?}");
            }
            None => assert_eq!(first.error, None, "{fault}"),
        }
        assert!(
            first.duration_ms < i64::from(case.timeout_ms) + 2_000,
            "{fault}: the attempt ended in {} ms",
            first.duration_ms
        );
        check_next_step(&state.status, state.next_attempt_at, first.at, case);
        if let Some(check) = case.check {
            check(first);
        }
    }
    assert!(moved_to.received().is_empty(), "redirects are not followed");
    delivery.shutdown().await;
}

fn check_next_step(
    status: &DeliveryStatus,
    next: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    case: &Case,
) {
    let fault = case.fault;
    match case.then {
        Then::Succeeds => assert_eq!(*status, DeliveryStatus::Succeeded, "{fault}"),
        Then::GivesUp => {
            assert_eq!(*status, DeliveryStatus::Failed, "{fault}");
            assert_eq!(next, None, "{fault}");
        }
        Then::RetriesAfter(wait) => {
            assert_eq!(*status, DeliveryStatus::Retrying, "{fault}");
            let next = next.unwrap_or_else(|| panic!("{fault}: no retry planned"));
            let gap = (next - at).to_std().unwrap_or_default();
            assert!(gap >= wait, "{fault}: retried after {gap:?}, not {wait:?}");
        }
    }
}

/// The matrix: a receiver for each fault, on loopback. The redirect points
/// at `moved_to`.
async fn cases(moved_to: &TestReceiver) -> Vec<Case> {
    let answering = |answer: Answer| async move {
        let receiver = TestReceiver::start().await;
        receiver.answer_exactly(answer);
        receiver.url
    };
    let status = Answer::with_headers;
    let redirecting = TestReceiver::start().await;
    redirecting.answer_with(302, &[("Location", &format!("{}/moved", moved_to.url))]);
    vec![
        Case {
            fault: "500",
            url: answering(status(500, &[])).await,
            timeout_ms: 5_000,
            status: Some(500),
            says: None,
            then: retried(),
            check: None,
        },
        Case {
            fault: "429 with Retry-After",
            url: answering(status(429, &[("Retry-After", "120")])).await,
            timeout_ms: 5_000,
            status: Some(429),
            says: None,
            then: Then::RetriesAfter(Duration::from_secs(119)),
            check: None,
        },
        Case {
            fault: "503 with Retry-After",
            url: answering(status(503, &[("Retry-After", "120")])).await,
            timeout_ms: 5_000,
            status: Some(503),
            says: None,
            then: Then::RetriesAfter(Duration::from_secs(119)),
            check: None,
        },
        Case {
            fault: "410",
            url: answering(status(410, &[])).await,
            timeout_ms: 5_000,
            status: Some(410),
            says: None,
            then: Then::GivesUp,
            check: None,
        },
        Case {
            fault: "timeout before the headers",
            url: answering(Answer {
                delay: Duration::from_secs(5),
                ..status(200, &[])
            })
            .await,
            timeout_ms: 300,
            status: None,
            says: Some("timed out: no answer within 300 ms"),
            then: retried(),
            check: None,
        },
        Case {
            fault: "a slow body",
            url: raw_receiver(Raw::SlowBody).await,
            timeout_ms: 500,
            status: Some(200),
            says: Some(
                "the answer's body was cut off: timed out: the whole answer did not come within 500 ms",
            ),
            then: Then::Succeeds,
            check: None,
        },
        Case {
            fault: "a reset in the middle of the body",
            url: raw_receiver(Raw::ResetMidBody).await,
            timeout_ms: 5_000,
            status: Some(200),
            says: Some("the answer's body was cut off: connection reset by the receiver"),
            then: Then::Succeeds,
            check: None,
        },
        Case {
            fault: "closed without an answer",
            url: raw_receiver(Raw::CloseUnanswered).await,
            timeout_ms: 5_000,
            status: None,
            says: Some("the receiver closed the connection without answering"),
            then: retried(),
            check: None,
        },
        Case {
            fault: "refused",
            url: format!("http://127.0.0.1:{}/", closed_port()),
            timeout_ms: 5_000,
            status: None,
            says: Some("connection refused"),
            then: retried(),
            check: None,
        },
        Case {
            fault: "an unresolvable name",
            url: "http://receiver.invalid/hook".into(),
            timeout_ms: 5_000,
            status: None,
            says: Some("DNS lookup failed"),
            then: retried(),
            check: None,
        },
        Case {
            fault: "a self-signed certificate",
            url: format!("https://localhost:{}/hook", untrusted_tls_receiver().await),
            timeout_ms: 5_000,
            status: None,
            says: Some("TLS failed"),
            then: retried(),
            check: None,
        },
        Case {
            fault: "a redirect",
            url: redirecting.url.clone(),
            timeout_ms: 5_000,
            status: Some(302),
            says: Some("redirected to http://127.0.0.1:"),
            then: retried(),
            check: None,
        },
        Case {
            fault: "a body with NUL bytes",
            url: answering(Answer {
                body: Some(b"ok\0\xff".to_vec()),
                ..status(200, &[])
            })
            .await,
            timeout_ms: 5_000,
            status: Some(200),
            says: None,
            then: Then::Succeeds,
            check: Some(|attempt| {
                let answer = attempt.response.as_ref().unwrap();
                assert_eq!(answer.body, "ok\u{2400}\u{FFFD}", "shown safely");
                assert_eq!(answer.body_bytes().as_ref(), b"ok\0\xff", "kept exactly");
            }),
        },
        Case {
            fault: "a 10 MB body",
            url: answering(Answer {
                body: Some(vec![b'x'; 10 << 20]),
                ..status(200, &[])
            })
            .await,
            timeout_ms: 5_000,
            status: Some(200),
            says: None,
            then: Then::Succeeds,
            check: Some(|attempt| {
                let answer = attempt.response.as_ref().unwrap();
                assert_eq!(answer.body.len(), MAX_RECORDED_BODY, "the record is cut");
            }),
        },
    ]
}

/// How a raw receiver misbehaves once it has read a request.
#[derive(Clone, Copy)]
enum Raw {
    /// Sends 200 and its headers, then the body a byte every 100 ms.
    SlowBody,
    /// Sends 200, its headers and part of the body, then resets.
    ResetMidBody,
    /// Closes the connection without a word.
    CloseUnanswered,
}

/// A receiver on loopback that speaks HTTP/1.1 by hand, to fail in ways a
/// well-behaved server cannot; returns its URL.
async fn raw_receiver(raw: Raw) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(misbehave(socket, raw));
        }
    });
    url
}

async fn misbehave(mut socket: TcpStream, raw: Raw) {
    if !read_request(&mut socket).await {
        return;
    }
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n";
    match raw {
        Raw::SlowBody => {
            let _ = socket.write_all(head.as_bytes()).await;
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if socket.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
        Raw::ResetMidBody => {
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(b"partial answ").await;
            let _ = socket.flush().await;
            // Let the client read the head before the reset reaches it.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = socket.set_zero_linger();
        }
        Raw::CloseUnanswered => {}
    }
}

/// Reads one request's head and body; false if the client went away.
async fn read_request(socket: &mut TcpStream) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut buf).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return true;
            }
        }
    }
}

/// A loopback port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn a_500_is_retried_with_the_same_webhook_id(store: Store) {
    let (receiver, _, delivery) = engine_with_one_webhook(&store).await;
    receiver.answer(&[500]);
    let id = send_lead(&store).await;
    delivery.waker().notify_one();

    eventually("a retry to succeed", || async {
        status_of(&store, &id).await == "succeeded"
    })
    .await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    let attempts = store.attempts(&id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.response.as_ref().unwrap().status)
            .collect::<Vec<_>>(),
        vec![500, 200]
    );
    // The schedule said one second between the two.
    let gap = attempts[1].at - attempts[0].at;
    assert!(
        gap >= chrono::Duration::milliseconds(900),
        "retried after {gap}"
    );
    delivery.shutdown().await;
}

async fn attempts_run_out_and_the_delivery_fails(store: Store) {
    let receiver = TestReceiver::start().await;
    receiver.answer(&[503, 500]);
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&receiver.url);
    input.retry = RetryPolicy {
        max_attempts: 2,
        schedule_s: vec![0, 0],
    };
    store.create_webhook(&account.id, input).await.unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();

    eventually("the delivery to be given up", || async {
        status_of(&store, &id).await == "failed"
    })
    .await;
    let state = store.delivery(&account.id, &id).await.unwrap();
    assert_eq!(state.attempts, 2);
    assert_eq!(state.last_response_status, Some(500));
    assert_eq!(state.next_attempt_at, None);
    assert_eq!(receiver.received().len(), 2);
    delivery.shutdown().await;
}

async fn retry_after_is_honoured_on_429(store: Store) {
    let receiver = TestReceiver::start().await;
    receiver.answer_with(429, &[("Retry-After", "2")]);
    let account = store.ensure_default_account().await.unwrap();
    let mut input = hook(&receiver.url);
    input.retry = RetryPolicy {
        max_attempts: 3,
        schedule_s: vec![0, 0, 0],
    };
    store.create_webhook(&account.id, input).await.unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();
    eventually("the second attempt to succeed", || async {
        status_of(&store, &id).await == "succeeded"
    })
    .await;
    let attempts = store.attempts(&id).await.unwrap();
    assert_eq!(attempts[0].response.as_ref().unwrap().status, 429);
    let gap = attempts[1].at - attempts[0].at;
    assert!(
        gap >= chrono::Duration::milliseconds(1900),
        "the schedule said now, Retry-After said 2 s: {gap}"
    );
    delivery.shutdown().await;
}

async fn gone_disables_the_webhook(store: Store) {
    let receiver = TestReceiver::start().await;
    receiver.answer(&[410]);
    let account = store.ensure_default_account().await.unwrap();
    let (view, _) = store
        .create_webhook(&account.id, hook(&receiver.url))
        .await
        .unwrap();
    let delivery = Delivery::start(store.clone(), config(true)).unwrap();
    let id = send_lead(&store).await;
    delivery.waker().notify_one();
    eventually("the delivery to be given up", || async {
        status_of(&store, &id).await == "failed"
    })
    .await;
    assert_eq!(
        store.attempts(&id).await.unwrap().len(),
        1,
        "no retries after 410"
    );
    let hook = store.webhook(&account.id, &view.id).await.unwrap();
    assert!(!hook.input.active);
    assert!(hook.disabled_reason.unwrap().contains("410 Gone"));
    // A disabled webhook fires no more.
    let answers = store
        .accept_events(
            &account,
            vec![NewEvent::new("lead.created", serde_json::json!({}))],
        )
        .await
        .unwrap();
    assert!(answers[0].deliveries.is_empty());
    // Turning it back on clears the reason.
    let hook = store
        .set_webhook_active(&account.id, &view.id, true)
        .await
        .unwrap();
    assert_eq!(hook.disabled_reason, None);
    delivery.shutdown().await;
}

/// An HTTPS receiver on loopback whose certificate (made for "localhost")
/// no authority signed; returns its port.
async fn untrusted_tls_receiver() -> u16 {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![made.cert.der().clone()], key.into())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    port
}

/// TLS runs and checks certificates: a receiver whose certificate nobody
/// vouches for gets no request, and the attempt says why in plain words.
async fn a_receiver_whose_certificate_nobody_vouches_for_is_refused(store: Store) {
    let port = untrusted_tls_receiver().await;
    let account = store.ensure_default_account().await.unwrap();
    let (view, _) = store
        .create_webhook(&account.id, hook(&format!("https://localhost:{port}/hook")))
        .await
        .unwrap();
    let engine = engine::Engine::start(
        store.clone(),
        engine::EngineConfig {
            delivery: config(true),
            no_delivery: true,
            ..engine::EngineConfig::default()
        },
    )
    .unwrap();
    let sent = engine
        .test_send(&account.id, &view.id, "lead.created")
        .await
        .unwrap();
    assert!(sent.response.is_none());
    let error = sent.error.unwrap_or_default();
    assert!(
        error.starts_with("TLS failed") && error.contains("certificate"),
        "{error}"
    );
    engine.shutdown().await;
}
