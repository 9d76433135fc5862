//! `postback bench-floods`: a `postback serve` of its own (a child
//! process, so its memory is measured alone) under the floods Postback is
//! built to survive, with every request on loopback:
//!
//! 1. deliveries alone: callers post events one per request through the
//!    REST API and a receiver counts what arrives;
//! 2. the same while hundreds of clients, each from its own loopback
//!    address (127.0.x.y) so no per-address limit spares the server, send
//!    wrong passwords for ever-new emails: deliveries per second beside
//!    the first figure, and the server's peak memory;
//! 3. thousands of connections each posting one event at the same moment:
//!    every one must get 202 or 503 (none left hanging), and the peak
//!    memory.
//!
//! Bounded in count and time; it stops by itself and stops its server.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use engine::model::{RetryPolicy, Role, Trigger, WebhookInput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Scratch;

#[derive(Debug, Clone, Args)]
pub struct BenchFloodsArgs {
    /// Clients sending wrong sign-ins at once, each from its own address.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub sign_ins: u32,
    /// Connections posting one event each at the same moment.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=9_000))]
    pub connections: u32,
    /// Seconds each delivery measurement lasts.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub seconds: u32,
    /// Callers posting events one per request during the measurements.
    #[arg(long, default_value_t = 16)]
    pub callers: usize,
}

/// The server under test: a child `postback serve`, stopped when dropped.
struct Child {
    process: std::process::Child,
    base: String,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Child {
    /// Its peak resident memory in MiB since the last reset; with `reset`,
    /// the peak starts over from the current size.
    fn peak_rss(&self, reset: bool) -> Option<u64> {
        super::peak_rss_of(&self.process.id().to_string(), reset)
    }
}

pub async fn run(args: BenchFloodsArgs) -> anyhow::Result<()> {
    let scratch = Scratch::new(None, "floods.db");
    let (receiver, arrived) = start_receiver().await?;
    let key = prepare(&scratch.url, &receiver).await?;
    let server = start_server(&scratch.url).await?;
    println!(
        "postback bench-floods: {} on SQLite, a child `postback serve`, one webhook to a loopback receiver",
        env!("CARGO_PKG_VERSION")
    );
    let seconds = Duration::from_secs(u64::from(args.seconds));

    server.peak_rss(true);
    let alone = deliveries_per_second(&server, &key, &arrived, args.callers, seconds).await?;
    println!(
        "deliveries alone: {alone:.0}/s ({} callers, one event per request); server peak {} MiB",
        args.callers,
        server.peak_rss(true).unwrap_or(0)
    );

    let flooding = Arc::new(AtomicBool::new(true));
    let answers = Arc::new(SignInAnswers::default());
    let flood = sign_in_flood(&server.base, args.sign_ins, &flooding, &answers)?;
    // Let every client have its first request in before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = deliveries_per_second(&server, &key, &arrived, args.callers, seconds).await?;
    flooding.store(false, Ordering::SeqCst);
    for client in flood {
        let _ = client.await;
    }
    println!(
        "deliveries during {} concurrent wrong sign-ins: {during:.0}/s ({:.0}% of alone); sign-ins answered: {} wrong password, {} throttled (429), {} other; server peak {} MiB",
        args.sign_ins,
        100.0 * during / alone.max(1.0),
        answers.wrong.load(Ordering::Relaxed),
        answers.throttled.load(Ordering::Relaxed),
        answers.other.load(Ordering::Relaxed),
        server.peak_rss(true).unwrap_or(0)
    );

    let outcome = connection_flood(&server.base, &key, args.connections).await;
    println!(
        "{} connections posting at once: {} answered 202, {} answered 503 (busy), {} other, {} failed, {} left hanging; the last came after {:.2} s; server peak {} MiB",
        args.connections,
        outcome.accepted,
        outcome.busy,
        outcome.other,
        outcome.failed,
        outcome.hung,
        outcome.slowest.as_secs_f64(),
        server.peak_rss(false).unwrap_or(0)
    );
    drop(server);
    Ok(())
}

/// A receiver on loopback that answers 200 and counts what arrives.
async fn start_receiver() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let arrived: Arc<AtomicU64> = Arc::default();
    let count = arrived.clone();
    let app = axum::Router::new().fallback(move || {
        count.fetch_add(1, Ordering::Relaxed);
        async { "ok" }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrived))
}

/// The database with a user (whose password the flood never guesses), a
/// webhook to the receiver and an API key; returns the key.
async fn prepare(url: &str, receiver: &str) -> anyhow::Result<String> {
    let store = crate::open_store(url).await?;
    let account = store.ensure_default_account().await?;
    store
        .create_user(&account.id, "admin@example.com", "not guessed", Role::Admin)
        .await?;
    store
        .create_webhook(
            &account.id,
            WebhookInput {
                title: "bench".into(),
                url: receiver.into(),
                triggers: vec![Trigger {
                    event_type: "lead.created".into(),
                    filters: vec![],
                }],
                retry: RetryPolicy {
                    max_attempts: 3,
                    schedule_s: vec![0, 1, 1],
                },
                ..WebhookInput::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = store.create_api_key(&account.id, "bench").await?;
    store.close().await;
    Ok(key)
}

/// Starts `postback serve` on a free loopback port and waits until it
/// answers.
async fn start_server(url: &str) -> anyhow::Result<Child> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let process = std::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--allow-private-destinations")
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting postback serve")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = engine::delivery::http_client().build()?;
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Child { process, base })
}

/// Deliveries per second reaching the receiver while `callers` post
/// events one per request for `seconds`.
async fn deliveries_per_second(
    server: &Child,
    key: &str,
    arrived: &AtomicU64,
    callers: usize,
    seconds: Duration,
) -> anyhow::Result<f64> {
    let client = engine::delivery::http_client().build()?;
    let before = arrived.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut posting = tokio::task::JoinSet::new();
    for _ in 0..callers.max(1) {
        let request = client
            .post(format!("{}/api/v1/events", server.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(
                r#"{"type":"lead.created","data":{"type":"call","contact":{"first_name":"Jane"}}}"#,
            );
        posting.spawn(async move {
            while started.elapsed() < seconds {
                let Some(request) = request.try_clone() else {
                    break;
                };
                let _ = request.send().await;
            }
        });
    }
    while posting.join_next().await.is_some() {}
    let took = started.elapsed().as_secs_f64();
    Ok((arrived.load(Ordering::Relaxed) - before) as f64 / took)
}

#[derive(Default)]
struct SignInAnswers {
    wrong: AtomicU64,
    throttled: AtomicU64,
    other: AtomicU64,
}

/// `clients` tasks, each from its own loopback address, each sending wrong
/// sign-ins for new emails one after another until `flooding` is off.
fn sign_in_flood(
    base: &str,
    clients: u32,
    flooding: &Arc<AtomicBool>,
    answers: &Arc<SignInAnswers>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for i in 0..clients {
        // 127.0.1.1, 127.0.1.2, … : all loopback, each its own address.
        let from = std::net::Ipv4Addr::new(
            127,
            0,
            u8::try_from(1 + i / 254)?,
            u8::try_from(1 + i % 254)?,
        );
        let client = engine::delivery::http_client()
            .local_address(std::net::IpAddr::V4(from))
            .build()?;
        let url = format!("{base}/api/login");
        let (flooding, answers) = (flooding.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while flooding.load(Ordering::Relaxed) {
                n += 1;
                let email = format!("nobody{i}-{n}@example.com");
                let answer = client
                    .post(&url)
                    .form(&[("email", email.as_str()), ("password", "wrong guess")])
                    .send()
                    .await;
                let counter = match answer.map(|a| a.status().as_u16()) {
                    Ok(401) => &answers.wrong,
                    Ok(429) => &answers.throttled,
                    _ => &answers.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    Ok(tasks)
}

#[derive(Default)]
struct FloodOutcome {
    accepted: u64,
    busy: u64,
    other: u64,
    /// The connection failed or closed without a status line.
    failed: u64,
    /// No answer within the minute.
    hung: u64,
    slowest: Duration,
}

/// `connections` connections opened at once, each sending one event by
/// hand-written HTTP/1.1 and reading the status line; a minute at most.
async fn connection_flood(base: &str, key: &str, connections: u32) -> FloodOutcome {
    let addr = base.trim_start_matches("http://").to_string();
    let body = r#"{"type":"lead.created","data":{"type":"call"}}"#;
    let request = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let request: Arc<[u8]> = request.into_bytes().into();
    let start = Arc::new(tokio::sync::Barrier::new(connections as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (addr, request, start) = (addr.clone(), request.clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            let began = Instant::now();
            let status = tokio::time::timeout(Duration::from_secs(60), async {
                let mut stream = tokio::net::TcpStream::connect(&addr).await.ok()?;
                stream.write_all(&request).await.ok()?;
                let mut head = [0u8; 12];
                stream.read_exact(&mut head).await.ok()?;
                std::str::from_utf8(&head[9..12]).ok()?.parse::<u16>().ok()
            })
            .await;
            (status, began.elapsed())
        });
    }
    let mut outcome = FloodOutcome::default();
    while let Some(Ok((status, took))) = tasks.join_next().await {
        outcome.slowest = outcome.slowest.max(took);
        match status {
            Ok(Some(202)) => outcome.accepted += 1,
            Ok(Some(503)) => outcome.busy += 1,
            Ok(Some(_)) => outcome.other += 1,
            Ok(None) => outcome.failed += 1,
            Err(_) => outcome.hung += 1,
        }
    }
    outcome
}
