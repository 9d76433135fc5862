//! Secrets sealed at rest, as an operator runs Postback: the `postback`
//! binary on a SQLite file with no key configured makes a private key file
//! beside it, a webhook's credentials never reach the database file in
//! clear, and `postback secret-key rotate` seals them again with a new key
//! while deliveries keep sending them.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use engine::seal::{KEY_FILE, KEY_VAR, PREVIOUS_KEY_VAR};
use engine::testing::TestReceiver;
use serde_json::json;

use crate::support::{client, temp_db};

/// The `postback` binary with no key in its environment.
fn postback(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postback"));
    command
        .args(args)
        .env_remove(KEY_VAR)
        .env_remove(PREVIOUS_KEY_VAR)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null());
    command
}

/// A `postback serve` process, killed when dropped.
struct Serving(Child, String);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(url: &str) -> Serving {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = postback(&[
        "serve",
        "--addr",
        &addr,
        "--database-url",
        url,
        "--allow-private-destinations",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let base = format!("http://{addr}");
    let serving = Serving(child, base.clone());
    for _ in 0..200 {
        if client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return serving;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("postback serve did not start");
}

/// Test-sends the webhook; the API key header the receiver got.
async fn test_send(serving: &Serving, key: &str, id: &str, receiver: &TestReceiver) -> String {
    let answer = client()
        .post(format!("{}/api/v1/webhooks/{id}/test", serving.1))
        .bearer_auth(key)
        .json(&json!({"event_type": "lead.created"}))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    let got = receiver.received();
    got.last().unwrap().headers["x-api-key"]
        .to_str()
        .unwrap()
        .to_string()
}

/// Every byte of the database's files.
fn database_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        bytes.extend(std::fs::read(path).unwrap_or_default());
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_in_the_database_file_and_the_key_rotates() {
    let db = temp_db();
    let receiver = TestReceiver::start().await;
    let made = postback(&["api-key", "create", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let key = String::from_utf8(made.stdout).unwrap().trim().to_string();
    let key_file = db.path.parent().unwrap().join(KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's alone");
    }
    let first_key = std::fs::read_to_string(&key_file).unwrap();

    let serving = serve(&db.url).await;
    let created = client()
        .post(format!("{}/api/v1/webhooks", serving.1))
        .bearer_auth(&key)
        .json(&json!({
            "title": "Sealed",
            "url": format!("{}/hook", receiver.url),
            "auth": {"type": "header", "name": "X-Api-Key", "value": "sealed-value-7731"},
            "triggers": [{"event_type": "lead.created"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        test_send(&serving, &key, &id, &receiver).await,
        "sealed-value-7731"
    );
    drop(serving);
    let stored = database_bytes(&db.path);
    assert!(!stored.is_empty());
    let clear = |secret: &str| stored.windows(secret.len()).any(|w| w == secret.as_bytes());
    assert!(!clear("sealed-value-7731"), "the credential is sealed");
    assert!(!clear("whsec_"), "the signing secret is sealed");

    let rotated = postback(&["secret-key", "rotate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    let second_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(second_key, first_key, "a new key");
    assert_eq!(second_key.lines().count(), 1, "the old key is gone");

    let serving = serve(&db.url).await;
    assert_eq!(
        test_send(&serving, &key, &id, &receiver).await,
        "sealed-value-7731",
        "the secret opens with the new key"
    );
}
