use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{client, start, temp_db};
use engine::model::Role;
use engine::store::Store;

fn postback(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postback"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("DATABASE_URL")
        .spawn()
        .expect("run postback");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_failed_migration_stops_start_up_with_a_clear_message() {
    let db = temp_db();
    let (url, path) = (db.url.clone(), db.path.clone());
    // A database that already has an `accounts` table Postback did not make.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE accounts (something TEXT)")
            .execute(&mut c)
            .await
            .unwrap();
    });
    let (ok, _, stderr) = postback(&["migrate", "--database-url", &url], "");
    assert!(!ok, "start-up must fail");
    assert!(
        stderr.contains("start-up stopped: the database could not be migrated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("accounts"),
        "the cause names the table: {stderr}"
    );
    assert!(path.exists());
}

#[test]
fn user_add_reads_the_password_from_stdin_and_explains_bad_input() {
    let db = temp_db();
    let url = db.url.clone();
    let add = |email: &str, password: &str, role: &str| {
        postback(
            &[
                "user",
                "add",
                "--email",
                email,
                "--password-stdin",
                "--role",
                role,
                "--database-url",
                &url,
            ],
            &format!("{password}\n"),
        )
    };
    let (ok, stdout, stderr) = add("Agent@Example.com", "long enough pw", "support");
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "added agent@example.com (support) to account default"
    );
    let (ok, _, stderr) = add("agent@example.com", "long enough pw", "admin");
    assert!(!ok);
    assert!(
        stderr.contains("email: A user with the email agent@example.com already exists."),
        "{stderr}"
    );
    let (ok, _, stderr) = add("other@example.com", "short", "admin");
    assert!(!ok);
    assert!(
        stderr.contains("password: Use at least 8 characters."),
        "{stderr}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let user = store
            .authenticate("agent@example.com", "long enough pw")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.role, Role::Support);
    });
}

#[tokio::test]
async fn pages_steer_to_setup_then_sign_in_and_roles_are_enforced_on_the_server() {
    let server = start().await;
    let http = client();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();

    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    let r = get("/").await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/setup");

    let account = server.store.ensure_default_account().await.unwrap();
    server
        .add_user("admin@example.com", "admin password", Role::Admin)
        .await;
    server
        .add_user("agent@example.com", "agent password", Role::Support)
        .await;
    let r = get("/webhooks").await.unwrap();
    assert_eq!(r.headers()["location"], "/login");
    let r = get("/setup").await.unwrap();
    assert_eq!(
        r.headers()["location"],
        "/webhooks",
        "setup is closed once a user exists"
    );

    // Sign in as support: the list renders on the server, saving is refused.
    let r = http
        .post(format!("{}/api/login", server.base))
        .form(&[("email", "agent@example.com"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = server
        .sign_in(&http, "agent@example.com", "agent password")
        .await;
    assert!(
        r.status().is_redirection() || r.status().is_success(),
        "{}",
        r.status()
    );
    let page = get("/webhooks").await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("agent@example.com") && html.contains("No webhooks yet."),
        "{html}"
    );
    let forged = http
        .post(format!("{}/api/save_webhook", server.base))
        .json(&serde_json::json!({"id": null, "input": {"title": "Nope", "url": "https://example.com/",
            "triggers": [{"event_type": "contact.created"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(
        server
            .store
            .list_webhooks(&account.id)
            .await
            .unwrap()
            .is_empty()
    );

    server.stop().await;
}
