//! Test helpers for this crate's tests and its users' (feature `testing`):
//! a real HTTP receiver on loopback that records what it was sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// A queued answer: status, headers, and how long to wait before it; the
/// body is "answered <status>" unless one is given.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub delay: Duration,
}

impl Answer {
    fn status(status: u16) -> Self {
        Answer {
            status,
            ..Answer::default()
        }
    }

    /// This status with these headers.
    pub fn with_headers(status: u16, headers: &[(&str, &str)]) -> Self {
        Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Answer::default()
        }
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An axum server on 127.0.0.1:0 that records every request and answers
/// with the queued statuses, then 200.
#[derive(Clone)]
pub struct TestReceiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl TestReceiver {
    pub async fn start() -> TestReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let in_flight: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
        let (g, a, f) = (got.clone(), answers.clone(), in_flight.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (g, a, f) = (g.clone(), a.clone(), f.clone());
                async move {
                    let now = f.0.fetch_add(1, Ordering::SeqCst) + 1;
                    f.1.fetch_max(now, Ordering::SeqCst);
                    g.lock().unwrap().push(Received {
                        method,
                        uri,
                        headers,
                        body,
                    });
                    let next = a.lock().unwrap().pop_front();
                    let answer = next.unwrap_or(Answer::status(200));
                    tokio::time::sleep(answer.delay).await;
                    f.0.fetch_sub(1, Ordering::SeqCst);
                    let mut map = HeaderMap::new();
                    for (name, value) in answer.headers {
                        map.insert(
                            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                            value.parse().unwrap(),
                        );
                    }
                    let status = answer.status;
                    let body = answer
                        .body
                        .unwrap_or_else(|| format!("answered {status}").into_bytes());
                    (StatusCode::from_u16(status).unwrap(), map, body)
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestReceiver {
            url,
            got,
            answers,
            in_flight,
        }
    }

    /// Answers the next requests with these statuses.
    pub fn answer(&self, statuses: &[u16]) {
        self.answers
            .lock()
            .unwrap()
            .extend(statuses.iter().map(|&s| Answer::status(s)));
    }

    /// Answers the next request with this status and these headers.
    pub fn answer_with(&self, status: u16, headers: &[(&str, &str)]) {
        self.answer_exactly(Answer::with_headers(status, headers));
    }

    /// Keeps the next request waiting this long, then answers 200: a
    /// receiver that hangs while the sender is stopped.
    pub fn hang_next(&self, delay: Duration) {
        self.answer_exactly(Answer {
            delay,
            ..Answer::status(200)
        });
    }

    /// Answers the next request with exactly this.
    pub fn answer_exactly(&self, answer: Answer) {
        self.answers.lock().unwrap().push_back(answer);
    }

    /// The most requests this receiver was answering at one time.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Polls `check` until it holds, for at most ten seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A new, empty PostgreSQL database's URL on the server that
/// `POSTBACK_TEST_POSTGRES_URL` names; `None` outside CI when none is
/// configured (CI must configure one).
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("POSTBACK_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set POSTBACK_TEST_POSTGRES_URL"
        );
        eprintln!("PostgreSQL run skipped: POSTBACK_TEST_POSTGRES_URL is not set");
        return None;
    };
    assert!(
        std::env::var(crate::seal::KEY_VAR).is_ok(),
        "PostgreSQL runs need {} too (make rust-test sets a test key)",
        crate::seal::KEY_VAR
    );
    let name = crate::ids::new_id("pbtest");
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    match base.rsplit_once('/') {
        Some((server, _)) => Some(format!("{server}/{name}")),
        None => panic!("POSTBACK_TEST_POSTGRES_URL must end in /<database>"),
    }
}
