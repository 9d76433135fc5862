//! A bad day: `postback` killed with SIGKILL, again and again, while a CRM
//! posts events with idempotency keys and re-posts whatever got no answer.
//! Every acknowledged event reaches the receiver, repeats carry the same
//! `webhook-id`, and after each restart the receiver hears from Postback
//! within ten seconds. On SQLite (one process) and on PostgreSQL (a
//! `serve` and a `worker`, both killed in turn).

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::testing::{TestReceiver, fresh_postgres_url};

use crate::support::temp_db;

/// Kills and restarts per run.
const KILLS: usize = 3;
/// Longest a receiver may wait after a restart.
const SILENCE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_acknowledged_event_survives_sigkill() {
    let db = temp_db();
    crash_run(&db.url, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_workers_deliver_every_acknowledged_event_through_sigkills() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    crash_run(&url, true).await;
}

/// A `postback` process, killed with SIGKILL when dropped.
struct Process(Child);

impl Process {
    fn start(url: &str, args: &[&str]) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_postback"))
            .args(args)
            .args(["--allow-private-destinations"])
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postback");
        Process(child)
    }

    fn kill(&mut self) {
        // Child::kill sends SIGKILL: no shutdown, nothing handed back.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the CRM was told: per idempotency key, the event and deliveries.
type Acknowledged = Arc<Mutex<HashMap<String, (String, Vec<String>)>>>;

async fn crash_run(url: &str, with_worker: bool) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let serve = |url: &str| Process::start(url, &["serve", "--addr", &addr]);
    let worker = |url: &str| Process::start(url, &["worker", "--worker-name", "crash-worker"]);

    let key = api_key(url);
    let receiver = TestReceiver::start().await;
    let mut server = serve(url);
    let mut second = with_worker.then(|| worker(url));
    let http = crate::support::client();
    wait_until_up(&http, &base).await;
    let hook = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "title": "CRM",
            "url": format!("{}/hook", receiver.url),
            "triggers": [{"event_type": "lead.created", "filters": []}],
            "retry": {"max_attempts": 20, "schedule_s": [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201, "{}", hook.text().await.unwrap());

    let acknowledged: Acknowledged = Arc::default();
    let posting = Arc::new(AtomicBool::new(true));
    let posters: Vec<_> = (0..4)
        .map(|lane| {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            let (acknowledged, posting) = (acknowledged.clone(), posting.clone());
            tokio::spawn(post_events(http, base, key, lane, acknowledged, posting))
        })
        .collect();

    let mut longest_silence = Duration::ZERO;
    for round in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Kill the API's process, and on PostgreSQL the worker every
        // other round too: both must resume what they held.
        server.kill();
        if round % 2 == 0
            && let Some(w) = second.as_mut()
        {
            w.kill();
            second = Some(worker(url));
        }
        let heard = receiver.received().len();
        server = serve(url);
        let restarted = Instant::now();
        wait_until_up(&http, &base).await;
        while receiver.received().len() == heard {
            assert!(
                restarted.elapsed() < SILENCE,
                "round {round}: the receiver heard nothing for {SILENCE:?} after the restart"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        longest_silence = longest_silence.max(restarted.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    posting.store(false, Ordering::SeqCst);
    for poster in posters {
        poster.await.unwrap();
    }

    let expected: HashSet<String> = acknowledged
        .lock()
        .unwrap()
        .values()
        .flat_map(|(_, deliveries)| deliveries.clone())
        .collect();
    assert!(
        expected.len() > 50,
        "the CRM got answers ({})",
        expected.len()
    );
    let started = Instant::now();
    loop {
        let heard: HashSet<String> = receiver
            .received()
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
            .collect();
        let missing = expected.difference(&heard).count();
        if missing == 0 {
            let unknown: Vec<_> = heard.difference(&expected).collect();
            assert!(
                unknown.is_empty(),
                "every request is an acknowledged delivery (or one the CRM re-posted): {unknown:?}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{missing} of {} acknowledged deliveries never arrived",
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A key re-posted after a crash is one event: one webhook-id.
    let mut per_key: HashMap<String, HashSet<String>> = HashMap::new();
    for r in receiver.received() {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        per_key
            .entry(body["data"]["id"].as_str().unwrap().to_string())
            .or_default()
            .insert(r.headers["webhook-id"].to_str().unwrap().to_string());
    }
    for (key, ids) in &per_key {
        assert_eq!(ids.len(), 1, "{key} was delivered as {ids:?}");
    }
    let requests = receiver.received().len();
    eprintln!(
        "{} acknowledged deliveries arrived in {requests} requests ({} repeats under the same webhook-id) through {KILLS} SIGKILLs; the receiver waited at most {longest_silence:?} after a restart",
        expected.len(),
        requests - expected.len()
    );
    drop(server);
    drop(second);
}

/// Posts events one at a time with fresh idempotency keys; an event that
/// got no answer (the server died) is posted again with the same key until
/// one comes.
async fn post_events(
    http: reqwest::Client,
    base: String,
    key: String,
    lane: usize,
    acknowledged: Acknowledged,
    posting: Arc<AtomicBool>,
) {
    let mut n = 0;
    while posting.load(Ordering::SeqCst) {
        let idempotency_key = format!("lane{lane}-{n}");
        loop {
            let answer = http
                .post(format!("{base}/api/v1/events"))
                .bearer_auth(&key)
                .json(&serde_json::json!({
                    "type": "lead.created",
                    "idempotency_key": idempotency_key,
                    "data": {"type": "call", "id": idempotency_key},
                }))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let Ok(answer) = answer else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            if answer.status() != 202 {
                // 503 busy while starting: the same key again.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let Ok(body) = answer.json::<serde_json::Value>().await else {
                continue;
            };
            let event = body["id"].as_str().unwrap().to_string();
            let deliveries = body["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>();
            acknowledged
                .lock()
                .unwrap()
                .insert(idempotency_key.clone(), (event, deliveries));
            break;
        }
        n += 1;
    }
}

fn api_key(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_postback"))
        .args(["api-key", "create", "--name", "crm"])
        .env("DATABASE_URL", url)
        .output()
        .expect("postback api-key create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn wait_until_up(http: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < SILENCE,
            "postback did not start within {SILENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
