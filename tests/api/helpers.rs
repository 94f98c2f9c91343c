//! Spawns PartyPic on a random port against a real backend pair:
//! SQLite + local disk (always available), or PostgreSQL + an S3-compatible server (Garage),
//! configured through PARTYPIC_TEST_* variables that `scripts/test` sets (without them the
//! PostgreSQL + S3 tests skip; see [`external`]).

use std::{future::Future, time::Duration};

use clap::Parser;
use partypic::{
    config::{Cli, Config},
    startup::Application,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use uuid::Uuid;

#[path = "../support/external.rs"]
pub mod external;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SqliteFs,
    PostgresS3,
}

/// Where a test's data lives; several apps may share one (the two-replica test).
pub struct BackendEnv {
    pub backend: Backend,
    pub data_dir: tempfile::TempDir,
    pub database_url: Option<String>,
}

/// Whether a PostgreSQL + S3 test must skip: the servers are not configured (and this run
/// does not require them). Call first; `on_both_backends!` does.
pub fn skip_postgres_s3() -> bool {
    external::skip_without(external::POSTGRES_S3)
}

fn required_env(name: &str) -> String {
    external::var(name)
}

impl BackendEnv {
    pub async fn new(backend: Backend) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::SqliteFs => None,
            Backend::PostgresS3 => Some(fresh_postgres_database().await),
        };
        Self {
            backend,
            data_dir,
            database_url,
        }
    }

    /// Runs `sql` on the database behind the servers' backs: for states the API never makes.
    pub async fn execute_sql(&self, sql: &str) {
        match &self.database_url {
            Some(url) => {
                let mut db = PgConnection::connect(url).await.expect("connect");
                db.execute(sql).await.expect("execute");
            }
            None => {
                let path = self.data_dir.path().join("partypic.sqlite");
                let mut db = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("connect");
                db.execute(sql).await.expect("execute");
            }
        }
    }

    pub fn config(&self) -> Config {
        let mut config = Cli::try_parse_from(["partypic"])
            .expect("default args")
            .config;
        config.host = "127.0.0.1".into();
        config.port = 0;
        config.data_dir = self.data_dir.path().to_path_buf();
        config.jwt_secret = Some(JWT_SECRET.into());
        config.public_url = None;
        config.database_url = self.database_url.clone().map(Into::into);
        config.db_host = None;
        config.s3_public_endpoint = None;
        config.s3_session_token = None;
        config.s3_cors_origins = None;
        config.cors_origins = None;
        // Cheap hashes keep the suite fast; hashing behaviour is tested with real parameters.
        config.argon2_memory_kib = 1024;
        config.argon2_iterations = 1;
        config.hash_concurrency = Some(4);
        config.hash_queue_limit = Some(1000);
        config.metrics_refresh_secs = 1;
        match self.backend {
            Backend::SqliteFs => config.s3_endpoint = None,
            Backend::PostgresS3 => {
                config.s3_endpoint = Some(required_env(external::S3_ENDPOINT));
                config.s3_region = required_env(external::S3_REGION);
                config.s3_access_key = Some(required_env(external::S3_ACCESS_KEY));
                config.s3_secret_key = Some(required_env(external::S3_SECRET_KEY).into());
                config.s3_bucket_name =
                    std::env::var(external::S3_BUCKET).unwrap_or_else(|_| "partypic-test".into());
                config.s3_force_path_style = true;
            }
        }
        config
    }
}

/// A new, empty database per test, on the server PARTYPIC_TEST_DATABASE_URL points at.
async fn fresh_postgres_database() -> String {
    let base = required_env(external::DATABASE_URL);
    let name = format!("partypic_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&format!("{}/postgres", base.trim_end_matches('/')))
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .expect("create database");
    format!("{}/{name}", base.trim_end_matches('/'))
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener (`GET /metrics`), apart from the public `address`.
    pub metrics_address: String,
    pub client: Client,
    /// The server's workflows, for driving background jobs directly (e.g. with a fake clock).
    state: Option<partypic::http::SharedState>,

    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> (Self, BackendEnv) {
        let env = BackendEnv::new(backend).await;
        let app = Self::spawn_on(&env, |_| {}).await;
        (app, env)
    }

    pub async fn spawn_with(
        backend: Backend,
        customize: impl FnOnce(&mut Config),
    ) -> (Self, BackendEnv) {
        let env = BackendEnv::new(backend).await;
        let app = Self::spawn_on(&env, customize).await;
        (app, env)
    }

    pub async fn spawn_on(env: &BackendEnv, customize: impl FnOnce(&mut Config)) -> Self {
        let mut config = env.config();
        customize(&mut config);
        let settings = config.resolve().expect("test configuration is valid");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let application =
            Application::build_with_listener(settings, listener, Some(metrics_listener))
                .await
                .expect("build app");
        let address = format!("http://{}", application.local_addr().expect("addr"));
        let metrics_address = match application.metrics_addr().expect("metrics addr") {
            Some(addr) => format!("http://{addr}"),
            None => panic!("the metrics listener was passed in"),
        };
        let state = application.state();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(application.run_until(async move {
            let _ = rx.await;
        }));
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            address,
            metrics_address,
            client,
            state: Some(state),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// A client of a server the test started itself (on its own listener).
    pub fn attach(address: String) -> Self {
        Self {
            address,
            metrics_address: String::new(),
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            state: None,
            shutdown: None,
            server: None,
        }
    }

    /// The server's workflows, for driving background jobs directly (e.g. with a fake clock);
    /// only for a server this `TestApp` spawned.
    pub fn state(&self) -> &partypic::http::SharedState {
        self.state.as_ref().expect("a server spawned by the test")
    }

    /// Sends the shutdown signal; returns the server task to await the drain.
    pub fn begin_shutdown(&mut self) -> JoinHandle<anyhow::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().expect("server running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json_auth(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// The Prometheus text of the metrics port.
    pub async fn metrics_text(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self) -> Host {
        let email = format!("host-{}@example.com", Uuid::new_v4().simple());
        let password = "correct horse battery".to_owned();
        let response = self
            .post_json(
                "/auth/register",
                &json!({"username": "Host", "email": email, "password": password}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let id = body(response).await["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        let response = self
            .post_json(
                "/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let token = body(response).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        Host {
            id,
            email,
            password,
            token,
        }
    }

    pub async fn create_session(&self, host: &Host) -> Uuid {
        let response = self
            .post_json_auth(
                "/sessions/create",
                &host.token,
                &json!({"settings": {"name": "Wedding"}}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body(response).await["sessionId"]
            .as_str()
            .expect("sessionId")
            .parse()
            .expect("uuid")
    }

    pub async fn join(&self, session_id: Uuid, name: &str) -> Uuid {
        let response = self
            .post_json(
                "/sessions/registerSessionUser",
                &json!({"username": name, "sessionId": session_id}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body(response).await["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }

    /// init-upload → PUT → returns the key (not finalized).
    pub async fn put_photo(
        &self,
        session_id: Uuid,
        mimetype: &str,
        bytes: Vec<u8>,
    ) -> (String, Response) {
        let response = self
            .post_json(
                "/pictures/init-upload",
                &json!({"session_id": session_id, "mimetype": mimetype}),
            )
            .await;
        let status = response.status();
        let init = body(response).await;
        assert_eq!(status, StatusCode::CREATED, "init-upload: {init}");
        let key = init["key"].as_str().expect("key").to_owned();
        let url = init["uploadUrl"].as_str().expect("uploadUrl").to_owned();
        let put = self
            .client
            .put(url)
            .header("content-type", mimetype)
            .body(bytes)
            .send()
            .await
            .expect("PUT");
        (key, put)
    }

    pub async fn finalize(&self, session_id: Uuid, key: &str, name: &str) -> Response {
        self.post_json(
            "/pictures/finalize-upload",
            &json!({
                "u_name": name, "session_id": session_id, "s3_key": key,
                "original_filename": "IMG_0001.jpg", "filesize_bytes": 1234, "mimetype": "image/jpeg"
            }),
        )
        .await
    }

    /// The gallery as the event's host sees it: `url` is each photo's original (guests only
    /// ever get metadata-free variants).
    pub async fn host_gallery(&self, host: &Host, session_id: Uuid) -> Value {
        let response = self
            .client
            .get(self.url(&format!("/pictures/session?sessionId={session_id}")))
            .bearer_auth(&host.token)
            .send()
            .await
            .expect("gallery");
        assert_eq!(response.status(), StatusCode::OK);
        body(response).await
    }

    /// The host's URL of a photo's original.
    pub async fn original_url(&self, host: &Host, session_id: Uuid, picture: &Value) -> String {
        self.host_gallery(host, session_id)
            .await
            .as_array()
            .and_then(|all| all.iter().find(|p| p["id"] == picture["id"]).cloned())
            .and_then(|p| p["url"].as_str().map(str::to_owned))
            .expect("listed with a url")
    }

    /// The three-step upload as a guest of the event, with `user_id` on init and finalize as the
    /// web client sends it (rules per guest need it); returns the finalize response.
    pub async fn upload_as_guest(
        &self,
        session_id: Uuid,
        guest: Uuid,
        mimetype: &str,
        bytes: Vec<u8>,
    ) -> Response {
        let init = self
            .post_json(
                "/pictures/init-upload",
                &json!({"session_id": session_id, "mimetype": mimetype, "user_id": guest}),
            )
            .await;
        assert_eq!(init.status(), StatusCode::CREATED);
        let init = body(init).await;
        let put = self
            .client
            .put(init["uploadUrl"].as_str().expect("uploadUrl"))
            .header("content-type", mimetype)
            .body(bytes)
            .send()
            .await
            .expect("PUT");
        assert_eq!(put.status(), StatusCode::OK, "PUT to upload URL");
        self.post_json(
            "/pictures/finalize-upload",
            &json!({
                "u_name": "Ben", "session_id": session_id, "s3_key": init["key"], "user_id": guest,
                "original_filename": "IMG_0001.jpg",
            }),
        )
        .await
    }

    /// The whole three-step upload; returns the stored picture.
    pub async fn upload(&self, session_id: Uuid, bytes: Vec<u8>) -> Value {
        let (key, put) = self.put_photo(session_id, "image/jpeg", bytes).await;
        assert_eq!(put.status(), StatusCode::OK, "PUT to upload URL");
        let response = self.finalize(session_id, &key, "Ben").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body(response).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Host {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub token: String,
}

pub async fn body(response: Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the status and the error body shape `{statusCode, message, error}`.
pub async fn assert_error(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "unexpected status");
    let value = body(response).await;
    assert_eq!(value["statusCode"], status.as_u16(), "{value}");
    assert_eq!(
        value["error"],
        status.canonical_reason().unwrap_or_default(),
        "{value}"
    );
    value["message"].as_str().expect("message").to_owned()
}

/// Asserts the status and returns the error's stable `code`.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let value: Value = response.json().await.expect("JSON error body");
    assert_eq!(value["statusCode"], status.as_u16());
    assert!(
        value["message"].is_string() && value["error"].is_string(),
        "{value}"
    );
    value["code"].as_str().expect("code").to_owned()
}

/// A small but real JPEG: the bytes of the sample photo the load tests use, or a minimal one.
pub fn jpeg_bytes(seed: u8) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01,
    ];
    bytes.extend((0..4096u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// Runs `f` against both backend pairs as two separate tests; the PostgreSQL + S3 one skips
/// when its servers are not configured.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_fs() {
                super::$name($crate::helpers::Backend::SqliteFs).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_s3() {
                if $crate::helpers::skip_postgres_s3() {
                    return;
                }
                super::$name($crate::helpers::Backend::PostgresS3).await
            }
        }
    )*};
}

/// Polls `check` until it returns true or the timeout passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
