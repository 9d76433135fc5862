//! A server on a free loopback port with a fresh SQLite database.

use engine::store::Store;
use server::config::ServeArgs;

/// A fresh SQLite database in a folder of its own, removed when dropped.
pub struct TempDb {
    pub url: String,
    pub path: std::path::PathBuf,
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn temp_db() -> TempDb {
    let dir = std::env::temp_dir().join(engine::ids::new_id("postback-server-test"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("postback.db");
    TempDb {
        url: format!("sqlite://{}?mode=rwc", path.display()),
        path,
    }
}

pub struct Running {
    pub base: String,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub store: Store,
    /// Its database, held only to be removed with it.
    _db: TempDb,
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

/// Starts a server with changed settings, e.g. private destinations allowed.
pub async fn start_with(change: impl FnOnce(&mut ServeArgs)) -> Running {
    let db = temp_db();
    let store = server::open_store(&db.url).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut args = ServeArgs {
        addr: listener.local_addr().unwrap(),
        ..ServeArgs::from_env_and_defaults()
    };
    change(&mut args);
    let task = tokio::spawn(server::serve(args, store.clone(), listener, async {
        let _ = stopped.await;
    }));
    Running {
        base,
        stop: Some(stop),
        task,
        store,
        _db: db,
    }
}

pub fn client() -> reqwest::Client {
    engine::delivery::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

impl Running {
    /// Waits (up to ten seconds) until the delivery, read back as support
    /// would, has `status`; `what` names the wait in the failure.
    pub async fn until_delivery_is(&self, delivery_id: &str, status: &str, what: &str) {
        let account = self.store.ensure_default_account().await.unwrap();
        engine::testing::eventually(what, || async {
            self.store
                .delivery(&account.id, delivery_id)
                .await
                .unwrap()
                .status
                == status
        })
        .await;
    }

    /// A user of the default account, who signs in with `password`.
    pub async fn add_user(&self, email: &str, password: &str, role: engine::model::Role) {
        let account = self.store.ensure_default_account().await.unwrap();
        self.store
            .create_user(&account.id, email, password, role)
            .await
            .unwrap();
    }

    /// Signs `http` in through the console's login, as its form does.
    pub async fn sign_in(
        &self,
        http: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        http.post(format!("{}/api/login", self.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// The page at `path` as `http` gets it; fails, naming the step, when
    /// the answer is not 200 or does not come within thirty seconds.
    pub async fn page(&self, http: &reqwest::Client, path: &str) -> String {
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            let response = http.get(format!("{}{path}", self.base)).send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        })
        .await
        .unwrap_or_else(|_| panic!("GET {path} did not answer within 30 seconds"));
        let (status, html) = answer.unwrap();
        assert_eq!(status, reqwest::StatusCode::OK, "GET {path}: {html}");
        html
    }

    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// A CRM program's view of the REST API: a key of the default account.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub async fn new(server: &Running) -> Api {
        let account = server.store.ensure_default_account().await.unwrap();
        let key = server
            .store
            .create_api_key(&account.id, "crm")
            .await
            .unwrap();
        Api {
            http: client(),
            base: format!("{}/api/v1", server.base),
            key,
        }
    }

    /// The status and JSON body of a multipart `POST`.
    pub async fn post_form(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    /// The status and JSON body (null when empty) of one call.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }
}
