//! `postback bench-records`: the CRM records at scale, in-process on a
//! fresh database, against a loopback receiver it starts itself. Prints
//! (1) a CSV import of `--rows` contacts with their `contact.created`
//! events and a delivery of each to a webhook that asks for them: rows per
//! second and peak memory; (2) a mass post of those contacts to one
//! webhook: deliveries per second beside the import's own; (3) the
//! contacts list's first page with each filter at `--contacts` contacts.
//! Bounded in count and time; it stops by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use engine::delivery::DeliveryConfig;
use engine::model::{
    ChangedBy, ContactFilter, ItemInput, ItemKind, JobState, MassPostInput, Trigger, Via,
    WebhookInput,
};
use engine::store::Store;
use engine::store::imports::ImportInput;
use engine::{Engine, EngineConfig};

use super::{Scratch, ms, peak_rss};

#[derive(Debug, Clone, Args)]
pub struct BenchRecordsArgs {
    /// The database to measure; default a fresh SQLite file in a temporary folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Rows in the timed import (and contacts in the mass post).
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Contacts the list is timed at (the rest imported untimed).
    #[arg(long, default_value_t = 1_000_000)]
    pub contacts: usize,
    /// Times each list page is read; the median and the slowest are printed.
    #[arg(long, default_value_t = 7)]
    pub repeat: usize,
}

/// The longest any phase may take before the bench gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(900);

/// A receiver on loopback that answers 200 at once and counts requests.
async fn start_receiver() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, count))
}

/// `n` contacts as a CSV, numbered from `from`: what a dealer's export
/// looks like.
fn csv(from: usize, n: usize) -> Vec<u8> {
    let mut out = String::with_capacity(n * 110);
    out.push_str("First Name,Last Name,Email,Phone,City,Source,Customer ID,Trade-in\n");
    for i in from..from + n {
        let source = if i % 3 == 0 { "Website" } else { "" };
        out.push_str(&format!(
            "Jane{i},Doe,jane.{i}@example.com,+1 555 {:07},Springfield,{source},C-{i},\"Civic, {}\"\n",
            i % 10_000_000,
            2000 + i % 25
        ));
    }
    out.into_bytes()
}

/// A list filter by the search text `q`, with its name.
fn search<'a>(name: &'a str, q: &str) -> (&'a str, ContactFilter) {
    (
        name,
        ContactFilter {
            q: Some(q.into()),
            ..ContactFilter::default()
        },
    )
}

/// Waits until `done` holds, checking every 20 ms, at most [`PHASE_LIMIT`].
async fn until<F, Fut>(what: &str, mut done: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let start = Instant::now();
    while !done().await? {
        if start.elapsed() > PHASE_LIMIT {
            anyhow::bail!("{what} took longer than {PHASE_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(start.elapsed())
}

async fn webhook(
    store: &Store,
    account: &str,
    title: &str,
    url: &str,
    on: &str,
) -> anyhow::Result<String> {
    let (hook, _) = store
        .create_webhook(
            account,
            WebhookInput {
                title: title.into(),
                url: url.into(),
                triggers: vec![Trigger {
                    event_type: on.into(),
                    filters: vec![],
                }],
                ..WebhookInput::default()
            },
        )
        .await
        .context("creating a bench webhook (is the database empty?)")?;
    Ok(hook.id)
}

/// Imports `csv` and waits until the job is done; how long it took.
async fn import(
    engine: &Engine,
    account: &str,
    csv: &[u8],
    webhook: Option<String>,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let job = engine
        .start_import(
            account,
            &ImportInput {
                webhook_id: webhook,
                ..ImportInput::default()
            },
            csv,
            None,
        )
        .await?;
    let store = engine.store().clone();
    until("the import", || {
        let store = store.clone();
        let id = job.id.clone();
        async move { Ok(store.job(account, &id).await?.state == JobState::Done) }
    })
    .await?;
    Ok(start.elapsed())
}

pub async fn run(args: BenchRecordsArgs) -> anyhow::Result<()> {
    let scratch = Scratch::new(args.database_url.as_deref(), "records.db");
    let store = crate::open_store(&scratch.url).await?;
    let account = store.ensure_default_account().await?;
    if store
        .count_contacts(&account.id, &ContactFilter::default())
        .await?
        > 0
    {
        anyhow::bail!("the bench needs a database of its own: this one has contacts");
    }
    let (url, received) = start_receiver().await?;
    let created_hook =
        webhook(&store, &account.id, "New contacts", &url, "contact.created").await?;
    let sync_hook = webhook(
        &store,
        &account.id,
        "Mass sync",
        &url,
        "contact.status_added",
    )
    .await?;
    let engine = Engine::start(
        store.clone(),
        EngineConfig {
            delivery: DeliveryConfig {
                allow_private: true,
                ..DeliveryConfig::default()
            },
            ..EngineConfig::default()
        },
    )
    .context("starting the delivery engine")?;
    println!(
        "postback bench-records: {} on {}, {} rows imported and mass posted, the list at {} contacts",
        env!("CARGO_PKG_VERSION"),
        store.backend(),
        args.rows,
        args.contacts.max(args.rows),
    );

    // 1. The import, with an event and a delivery per row.
    let rows = args.rows.max(1);
    let file = csv(0, rows);
    peak_rss(true);
    let took = import(&engine, &account.id, &file, None).await?;
    let peak = peak_rss(false);
    drop(file);
    let delivered = until("the import's deliveries", || {
        let received = received.clone();
        async move { Ok(received.load(Ordering::Relaxed) >= rows) }
    })
    .await?;
    println!();
    println!("| phase | rows | seconds | rows/s | peak memory |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| import (contacts, contact.created events and their deliveries written) | {rows} | {:.2} | {:.0} | {} |",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        peak.map(|m| format!("{m} MiB"))
            .unwrap_or_else(|| "n/a".into()),
    );
    let all = took + delivered;
    println!(
        "| … and every delivery answered | {rows} | {:.2} | {:.0} | |",
        all.as_secs_f64(),
        rows as f64 / all.as_secs_f64()
    );

    // 2. A mass post of them all to one webhook.
    let before = received.load(Ordering::Relaxed);
    let start = Instant::now();
    let job = engine
        .start_mass_post(
            &account.id,
            &MassPostInput {
                webhook_id: sync_hook,
                filter: Some(ContactFilter::default()),
                contact_ids: None,
            },
            None,
        )
        .await?;
    let total = job.total as usize;
    until("the mass post", || {
        let received = received.clone();
        async move { Ok(received.load(Ordering::Relaxed) >= before + total) }
    })
    .await?;
    let took = start.elapsed();
    println!(
        "| mass post to one webhook, every delivery answered | {total} | {:.2} | {:.0} | |",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );

    // 3. The list at scale: the rest imported untimed, with nothing to
    // deliver; some contacts with a status, a flag and a user.
    store
        .set_webhook_active(&account.id, &created_hook, false)
        .await?;
    let mut have = rows;
    let target = args.contacts.max(rows);
    let seeding = Instant::now();
    while have < target {
        let n = (target - have).min(100_000);
        import(&engine, &account.id, &csv(have, n), None).await?;
        have += n;
    }
    let by = ChangedBy {
        actor: None,
        via: Via::Api,
    };
    let (user, _) = store
        .create_item(
            &account.id,
            ItemKind::User,
            ItemInput {
                name: "Sam Seller".into(),
                company: Some("North Motors".into()),
                email: None,
                active: true,
            },
            &by,
        )
        .await?;
    let page = store
        .list_contacts(&account.id, &ContactFilter::default(), None, 500)
        .await?;
    for (n, contact) in page.data.iter().enumerate() {
        match n % 3 {
            0 => store
                .add_label(&account.id, &contact.id, ItemKind::Status, "Sold", &by)
                .await
                .map(drop)?,
            1 => store
                .add_label(&account.id, &contact.id, ItemKind::Flag, "VIP", &by)
                .await
                .map(drop)?,
            _ => store
                .assign(&account.id, &contact.id, &user.id, &by)
                .await
                .map(drop)?,
        }
    }
    println!(
        "\nseeded {have} contacts in {:.1} s; the list's first page (50 rows) by filter:",
        seeding.elapsed().as_secs_f64()
    );
    println!();
    println!("| filter | median ms | slowest ms | rows |");
    println!("|---|---:|---:|---:|");
    let filters: Vec<(&str, ContactFilter)> = vec![
        ("none (newest first)", ContactFilter::default()),
        search("search, one contact's email", "jane.123456@example.com"),
        search("search, a word few contacts start", "jane.99999"),
        search("search, a word one contact in a hundred starts", "jane.12"),
        search("search, a word every contact holds", "example.com"),
        search("search, two letters every contact starts", "ja"),
        search("search, a word one in ten holds, all old contacts", "jane1"),
        search("search, phone digits as typed", "555-000-1234"),
        search("search, two words", "doe jane.5"),
        (
            "status Sold",
            ContactFilter {
                status: Some("Sold".into()),
                ..ContactFilter::default()
            },
        ),
        (
            "flag VIP",
            ContactFilter {
                flag: Some("VIP".into()),
                ..ContactFilter::default()
            },
        ),
        (
            "assigned user",
            ContactFilter {
                assigned_user: Some(user.id.clone()),
                ..ContactFilter::default()
            },
        ),
        (
            "source Website",
            ContactFilter {
                source: Some("Website".into()),
                ..ContactFilter::default()
            },
        ),
        (
            "state active (none match)",
            ContactFilter {
                state: Some("active".into()),
                ..ContactFilter::default()
            },
        ),
    ];
    for (name, filter) in filters {
        let name = match &filter.q {
            Some(q) => format!("{name} (q=\"{q}\")"),
            None => name.to_string(),
        };
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..args.repeat.max(1) {
            let start = Instant::now();
            let page = store.list_contacts(&account.id, &filter, None, 50).await?;
            times.push(start.elapsed());
            found = page.data.len();
        }
        times.sort();
        println!(
            "| {name} | {:.1} | {:.1} | {found} |",
            ms(times[times.len() / 2]),
            ms(*times.last().unwrap_or(&Duration::ZERO))
        );
    }
    engine.shutdown().await;
    store.close().await;
    drop(scratch);
    Ok(())
}
