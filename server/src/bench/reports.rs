//! `postback bench-reports`: seeds a realistic delivery history into a
//! fresh database (by default 1,000,000 deliveries with 3,000,000 attempts
//! over 30 days, in one account), starts the console on it on loopback,
//! signs in, and prints how long the server takes to render each report
//! page. Nothing is sent anywhere: the webhooks point at example.com and no
//! delivery engine runs.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use engine::model::{DeliveryStatus, ReceivedResponse, SentRequest, Trigger, WebhookInput};
use engine::store::{PastAttempt, PastDelivery, Store};
use serde_json::json;

use super::{Scratch, ms};

#[derive(Debug, Clone, Args)]
pub struct BenchReportsArgs {
    /// An empty database to seed; default a fresh SQLite file in a temporary folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Deliveries to seed (each with three attempts).
    #[arg(long, default_value_t = 1_000_000)]
    pub deliveries: usize,
    /// Webhooks they are spread over.
    #[arg(long, default_value_t = 10)]
    pub webhooks: usize,
    /// Days back the history reaches.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
    /// Times each page is fetched; the median and the slowest are printed.
    #[arg(long, default_value_t = 7)]
    pub repeat: usize,
}

/// Webhook titles as a dealer's admin would name them.
const TITLES: [&str; 10] = [
    "Dialer queue",
    "Marketing sync",
    "DMS export",
    "Sales Slack alerts",
    "Finance leads",
    "Service reminders",
    "Website chat",
    "Call tracking",
    "Trade-in appraisals",
    "Data warehouse",
];

/// Deliveries stored per transaction while seeding.
const SEED_BATCH: usize = 5_000;

pub async fn run(args: BenchReportsArgs) -> anyhow::Result<()> {
    let scratch = Scratch::new(args.database_url.as_deref(), "reports.db");
    let store = crate::open_store(&scratch.url).await?;
    let account = store.ensure_default_account().await?;
    let hooks = add_webhooks(&store, &account.id, args.webhooks).await?;
    let seeded = seed_history(&store, &account.id, &hooks, &args).await?;
    let console = Console::start(&store, &account.id).await?;
    let pages = pages(&console, &hooks[0], &seeded).await?;
    println!();
    println!("| page | median ms | slowest ms | rows |");
    println!("|---|---:|---:|---:|");
    for (name, path) in &pages {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..args.repeat.max(1) {
            let (took, html) = console.fetch(path).await?;
            rows = html.matches("data-testid=\"history-row\"").count()
                + html.matches("data-testid=\"report-row\"").count()
                + html.matches("data-testid=\"attempt\"").count();
            times.push(took);
        }
        times.sort();
        println!(
            "| {name} | {:.1} | {:.1} | {rows} |",
            ms(times[times.len() / 2]),
            ms(*times.last().unwrap_or(&Duration::ZERO))
        );
    }
    console.stop().await;
    drop(scratch);
    Ok(())
}

/// The account's webhooks, named as a dealership's would be.
async fn add_webhooks(
    store: &Store,
    account_id: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut hooks = Vec::new();
    for i in 0..count.max(1) {
        let name = TITLES[i % TITLES.len()];
        let input = WebhookInput {
            title: if i < TITLES.len() {
                name.to_string()
            } else {
                format!("{name} {i}")
            },
            url: format!("https://crm.example.com/hook-{i}"),
            triggers: vec![Trigger {
                event_type: "contact.created".into(),
                filters: vec![],
            }],
            ..WebhookInput::default()
        };
        let (hook, _) = store
            .create_webhook(account_id, input)
            .await
            .context("creating a bench webhook (is the database empty?)")?;
        hooks.push(hook.id);
    }
    Ok(hooks)
}

/// Seeds the history, then folds the counts and refreshes the planner's
/// statistics as upkeep and autovacuum would after such a burst.
async fn seed_history(
    store: &Store,
    account_id: &str,
    hooks: &[String],
    args: &BenchReportsArgs,
) -> anyhow::Result<Seeded> {
    println!(
        "seeding {} deliveries ({} attempts) over {} days into {} ({})",
        args.deliveries,
        args.deliveries * 3,
        args.days,
        store.backend(),
        if args.database_url.is_some() {
            "the given database"
        } else {
            "a fresh SQLite file"
        }
    );
    let started = Instant::now();
    let seeded = seed(store, account_id, hooks, args).await?;
    println!(
        "seeded in {:.1} s; folding counts as upkeep would, then refreshing planner statistics \
         as autovacuum would after such a burst",
        started.elapsed().as_secs_f64()
    );
    store.compact_counts().await?;
    store.refresh_statistics().await?;

    Ok(seeded)
}

/// The console on loopback with a support user signed in.
struct Console {
    base: String,
    client: reqwest::Client,
    cookie: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Console {
    async fn start(store: &Store, account_id: &str) -> anyhow::Result<Console> {
        let email = "bench-reports@example.com";
        let password = "bench reports password";
        store
            .create_user(account_id, email, password, engine::model::Role::Support)
            .await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut serve_args = crate::config::ServeArgs::from_env_and_defaults();
        serve_args.no_worker = true;
        let server = tokio::spawn(crate::serve(serve_args, store.clone(), listener, async {
            let _ = stopped.await;
        }));
        let client = engine::delivery::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let login = client
            .post(format!("{base}/api/login"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await?;
        let cookie = login
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        anyhow::ensure!(!cookie.is_empty(), "signing in to the console failed");
        Ok(Console {
            base,
            client,
            cookie,
            stop,
            server,
        })
    }

    /// One page: how long the server took, and its HTML.
    async fn fetch(&self, path: &str) -> anyhow::Result<(Duration, String)> {
        fetch(&self.client, &self.base, path, &self.cookie).await
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// The pages to time, by name; one deep in the history (20 "older" links
/// on) among them.
async fn pages(
    console: &Console,
    first: &str,
    seeded: &Seeded,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut pages = vec![
        (
            "webhooks report, last 30 days".to_string(),
            "/reports?range=30d".to_string(),
        ),
        (
            "webhooks report, last 30 days, one webhook's chart".into(),
            format!("/reports?range=30d&webhook={first}"),
        ),
        (
            "webhooks report, today".into(),
            "/reports?range=today".into(),
        ),
        ("history, newest page".into(), "/reports/history".into()),
        (
            "history, one webhook, failed".into(),
            format!("/reports/history?webhook={first}&status=failed"),
        ),
        (
            "history, succeeded".into(),
            "/reports/history?status=succeeded".into(),
        ),
        (
            "history, pending (none)".into(),
            "/reports/history?status=pending".into(),
        ),
        (
            "history, one webhook, last 7 days".into(),
            format!("/reports/history?webhook={first}&range=7d"),
        ),
        (
            "history, one record".into(),
            format!("/reports/history?record={}", seeded.record),
        ),
        (
            "history, event type, failed, last 30 days".into(),
            "/reports/history?event_type=contact.updated&status=failed&range=30d".into(),
        ),
        (
            "delivery detail (3 attempts)".into(),
            format!("/reports/deliveries/{}", seeded.delivery),
        ),
    ];
    // A page deep in the history: follow "older" 20 times, then time that page.
    let mut deep = "/reports/history".to_string();
    for _ in 0..20 {
        let html = console.fetch(&deep).await?.1;
        let Some(next) = older_link(&html) else { break };
        deep = next;
    }
    pages.push(("history, 21st page (keyset)".into(), deep));

    Ok(pages)
}

async fn fetch(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: &str,
) -> anyhow::Result<(Duration, String)> {
    let started = Instant::now();
    let response = client
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await?;
    let status = response.status();
    let html = response.text().await?;
    let took = started.elapsed();
    anyhow::ensure!(status.is_success(), "{path} answered {status}");
    Ok((took, html))
}

/// The "Older →" link of a history page.
fn older_link(html: &str) -> Option<String> {
    let at = html.find("data-testid=\"page-older\"")?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

/// A delivery and a record the timed pages look up.
struct Seeded {
    delivery: String,
    record: String,
}

/// Seeds `args.deliveries` deliveries, spread evenly over the days and
/// webhooks: six in seven succeed on their third attempt, the rest fail
/// all three; ten days ago a day-long outage fails a third more.
async fn seed(
    store: &Store,
    account_id: &str,
    hooks: &[String],
    args: &BenchReportsArgs,
) -> anyhow::Result<Seeded> {
    let now = engine::clock::now_ms();
    let span = args.days.max(1) * 86_400_000;
    let step = (span / args.deliveries.max(1) as i64).max(1);
    let mut last = Seeded {
        delivery: String::new(),
        record: String::new(),
    };
    let mut done = 0;
    let mut report_at = Instant::now();
    while done < args.deliveries {
        let count = SEED_BATCH.min(args.deliveries - done);
        let hook = &hooks[(done / SEED_BATCH) % hooks.len()];
        let batch: Vec<PastDelivery> = (done..done + count)
            .map(|i| {
                let created = now - span + i as i64 * step;
                // A receiver outage of a day, ten days ago: a third fail.
                let outage = (now - created) / 86_400_000 == 10 && i.is_multiple_of(3);
                past(i, created, outage)
            })
            .collect();
        let ids = store
            .import_past_deliveries(account_id, hook, &batch)
            .await?;
        if let Some(id) = ids.last() {
            last.delivery = id.clone();
            last.record = format!("c_{}", done + count - 1);
        }
        done += count;
        if report_at.elapsed() > Duration::from_secs(10) {
            println!("  {done} deliveries so far");
            report_at = Instant::now();
        }
    }
    Ok(last)
}

fn past(i: usize, created: i64, outage: bool) -> PastDelivery {
    // One in seven fails (both event types have failures), more in an outage.
    let failed = outage || i.is_multiple_of(7);
    let event_type = if i.is_multiple_of(2) {
        "contact.created"
    } else {
        "contact.updated"
    };
    let attempt = |n: i64| {
        let ok = n == 2 && !failed;
        PastAttempt {
            at_ms: created + n * 5_000,
            duration_ms: 40 + (i % 50) as i64,
            request: SentRequest {
                method: "POST".into(),
                url: "https://crm.example.com/hook".into(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("Authorization".into(), "********".into()),
                    ("webhook-id".into(), format!("dlv_{i}")),
                ],
                body: Some(format!(
                    r#"{{"type":"{event_type}","data":{{"id":"c_{i}","first_name":"Jane"}}}}"#
                )),
            },
            response: Some(ReceivedResponse::new(
                if ok { 200 } else { 500 },
                vec![("content-type".into(), "text/plain".into())],
                if ok { b"ok" } else { b"upstream error" },
            )),
            error: None,
        }
    };
    PastDelivery {
        created_at_ms: created,
        event_type: event_type.into(),
        data: json!({"id": format!("c_{i}"), "first_name": "Jane", "last_name": format!("Doe {i}")}),
        status: if failed {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Succeeded
        },
        attempts: (0..3).map(attempt).collect(),
    }
}
