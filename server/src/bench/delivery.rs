//! `postback bench`: measures delivery on this machine against a loopback
//! receiver it starts itself (answers 200 at once). Prints deliveries per
//! second for a burst (events accepted in-process by a few callers at once,
//! 100 per call), then sends events at a steady rate through
//! `POST /api/v1/events` on loopback and prints that call's latency and
//! event-to-request latency.
//! Every attempt is recorded durably, as in production. Bounded in count
//! and time; it stops by itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::http::HeaderMap;
use clap::{Args, ValueEnum};
use engine::delivery::DeliveryConfig;
use engine::model::Account;
use engine::model::{DeliveryMode, RetryPolicy, Trigger, WebhookInput};
use engine::model::{DeliveryStatus, NewEvent};
use engine::store::Store;
use engine::{Engine, EngineConfig};

use super::{Scratch, peak_rss, percentiles};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Fast,
    Queued,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The database to measure; default a fresh SQLite file in a temporary folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Events in the burst.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Webhooks each event fans out to.
    #[arg(long, default_value_t = 1)]
    pub webhooks: usize,
    #[arg(long, value_enum, default_value_t = ModeArg::Fast)]
    pub mode: ModeArg,
    /// Events per second in the latency phase.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Seconds the latency phase lasts.
    #[arg(long, default_value_t = 5)]
    pub seconds: u32,
    /// Attempts in flight at once to one webhook (as `serve --webhook-concurrency`).
    #[arg(long, default_value_t = engine::delivery::DeliveryConfig::default().per_webhook)]
    pub webhook_concurrency: usize,
    /// Events per call in the burst.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Callers accepting the burst's events at once, as several programs
    /// posting to the API would.
    #[arg(long, default_value_t = 4)]
    pub callers: usize,
}

/// What the receiver saw: once `timing` is set, the arrival time of each
/// delivery id. The burst is counted in the database instead: its 200,000
/// ids would otherwise weigh on the memory figure, which is Postback's.
#[derive(Default)]
struct Arrivals {
    timing: std::sync::atomic::AtomicBool,
    at: Mutex<HashMap<String, Instant>>,
}

async fn start_receiver() -> anyhow::Result<(String, Arc<Arrivals>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let arrivals: Arc<Arrivals> = Arc::default();
    let seen = arrivals.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            if seen.timing.load(std::sync::atomic::Ordering::Relaxed)
                && let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
            {
                seen.at
                    .lock()
                    .expect("arrivals lock")
                    .insert(id.to_string(), Instant::now());
            }
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrivals))
}

/// The REST API alone on loopback, handing its events to `engine`.
async fn start_api(engine: &Engine) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let state = crate::api::ApiState {
        store: engine.store().clone(),
        engine: engine.clone(),
    };
    let app: axum::Router = axum::Router::new().nest("/api/v1", crate::api::router(state));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn lead(n: usize) -> NewEvent {
    NewEvent::new(
        "lead.created",
        serde_json::json!({"id": format!("l_{n}"), "type": "call",
            "contact": {"id": format!("c_{n}"), "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}}),
    )
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let scratch = Scratch::new(args.database_url.as_deref(), "bench.db");
    let store = crate::open_store(&scratch.url).await?;
    let account = store.ensure_default_account().await?;
    // Webhooks already there would take deliveries too and skew every
    // figure; the bench does not touch them.
    let present = store.list_webhooks(&account.id).await?.len();
    if present > 0 {
        anyhow::bail!(
            "the bench needs a database of its own: this one already has {present} webhook(s)"
        );
    }
    let (receiver, arrivals) = start_receiver().await?;
    add_webhooks(&store, &account, &receiver, &args).await?;
    let config = DeliveryConfig {
        allow_private: true,
        per_webhook: args.webhook_concurrency.max(1),
        ..DeliveryConfig::default()
    };
    let engine = Engine::start(
        store.clone(),
        EngineConfig {
            delivery: config,
            ..EngineConfig::default()
        },
    )
    .context("starting the delivery engine")?;
    println!(
        "postback bench: {} on {}, {} webhook(s), {:?} mode, every attempt recorded ({})",
        env!("CARGO_PKG_VERSION"),
        store.backend(),
        args.webhooks.max(1),
        args.mode,
        if store.backend() == engine::store::Backend::Sqlite {
            "WAL, synchronous=FULL"
        } else {
            "PostgreSQL defaults"
        },
    );
    burst(&engine, &account, &args).await?;
    let burst_peak = peak_rss(true);
    steady(&engine, &account, &arrivals, &args).await?;
    if let (Some(burst), Some(steady)) = (burst_peak, peak_rss(false)) {
        println!(
            "memory: peak resident {burst} MiB in the burst, {steady} MiB in the steady phase (receiver and load generator included)"
        );
    }
    engine.shutdown().await;
    store.close().await;
    drop(scratch);
    Ok(())
}

/// The bench's webhooks, all on `lead.created`, all to the receiver.
async fn add_webhooks(
    store: &Store,
    account: &Account,
    receiver: &str,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    for i in 0..args.webhooks.max(1) {
        let input = WebhookInput {
            title: format!("bench {i} {}", engine::ids::new_id("b")),
            url: receiver.to_string(),
            triggers: vec![Trigger {
                event_type: "lead.created".into(),
                filters: vec![],
            }],
            delivery_mode: match args.mode {
                ModeArg::Fast => DeliveryMode::Fast,
                ModeArg::Queued => DeliveryMode::Queued,
            },
            retry: RetryPolicy {
                max_attempts: 3,
                schedule_s: vec![0, 1, 1],
            },
            ..WebhookInput::default()
        };
        store
            .create_webhook(&account.id, input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// Burst: accept every event (batched transactions), wait until every
/// delivery is recorded as succeeded.
async fn burst(engine: &Engine, account: &Account, args: &BenchArgs) -> anyhow::Result<()> {
    let store = engine.store();
    let expected = (args.events * args.webhooks.max(1)) as i64;
    // A database given on the command line may hold earlier runs.
    let earlier = store
        .count_deliveries(&account.id, DeliveryStatus::Succeeded)
        .await?;
    let started = Instant::now();
    // Each caller takes the next batch of the burst until none is left.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..args.callers.max(1) {
        let (next, engine, account) = (next.clone(), engine.clone(), account.clone());
        let (batch, events) = (args.batch.max(1), args.events);
        callers.spawn(async move {
            loop {
                let from = next.fetch_add(batch, std::sync::atomic::Ordering::Relaxed);
                if from >= events {
                    return anyhow::Ok(());
                }
                let to = (from + batch).min(events);
                engine
                    .accept_events(&account, (from..to).map(lead).collect())
                    .await?;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done??;
    }
    let accepted_in = started.elapsed();
    let deadline = started + Duration::from_secs(300);
    loop {
        let done = store
            .count_deliveries(&account.id, DeliveryStatus::Succeeded)
            .await?
            - earlier;
        if done >= expected || Instant::now() > deadline {
            let took = started.elapsed();
            println!(
                "burst: {expected} deliveries of {} events in {:.2} s = {:.0} deliveries/s (accepting took {:.2} s = {:.0} events/s){}",
                args.events,
                took.as_secs_f64(),
                done as f64 / took.as_secs_f64(),
                accepted_in.as_secs_f64(),
                args.events as f64 / accepted_in.as_secs_f64(),
                if done < expected {
                    format!(" — only {done} done before the deadline")
                } else {
                    String::new()
                },
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Steady rate: one `POST /api/v1/events` per tick, each in its own task,
/// through the real API on loopback; latency from the moment the request
/// is made to its arrival at the receiver.
async fn steady(
    engine: &Engine,
    account: &Account,
    arrivals: &Arrivals,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    arrivals
        .timing
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let api = start_api(engine).await?;
    let key = engine.store().create_api_key(&account.id, "bench").await?;
    let client = engine::delivery::http_client().build()?;
    let total = (args.rate * args.seconds) as usize;
    let mut tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..total {
        tick.tick().await;
        let request = client
            .post(format!("{api}/api/v1/events"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&lead(args.events + n))?);
        posts.spawn(async move {
            let t0 = Instant::now();
            let answer = request.send().await?.error_for_status()?.bytes().await?;
            let took = t0.elapsed().as_secs_f64() * 1000.0;
            let answer: engine::model::Accepted = serde_json::from_slice(&answer)?;
            anyhow::Ok((t0, took, answer))
        });
    }
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let mut accept_ms = Vec::with_capacity(total);
    while let Some(done) = posts.join_next().await {
        let (t0, took, answer) = done??;
        accept_ms.push(took);
        for d in answer.deliveries {
            sent_at.insert(d.id, t0);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let arrived_all = || {
        let arrived = arrivals.at.lock().expect("arrivals lock");
        sent_at.keys().all(|id| arrived.contains_key(id))
    };
    while !arrived_all() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latency: Vec<f64> = {
        let arrived = arrivals.at.lock().expect("arrivals lock");
        sent_at
            .iter()
            .filter_map(|(id, t0)| {
                arrived
                    .get(id)
                    .map(|t| t.duration_since(*t0).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    println!(
        "steady: {} events at {}/s: event-to-request {}; POST /events {}",
        total,
        args.rate,
        percentiles(&mut latency),
        percentiles(&mut accept_ms)
    );
    Ok(())
}
