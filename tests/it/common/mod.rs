//! The test harness: a real server on a loopback socket over a fresh database.

#![allow(dead_code)]

pub mod flow;
pub mod process;
pub mod proxy;
pub mod tls_server;
pub mod upstream;

use std::net::TcpListener;
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use gatehouse::clock::ManualClock;
use gatehouse::config::Settings;
use gatehouse::db::{Db, DbConnection, DbError};
use gatehouse::state::AppState;
use serde_json::Value;

/// An admin token for tests that need the admin API or `/metrics` on the public listener.
pub const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-tests";

/// A fixed start time for the injected clock (2026-11-26T00:00:00Z).
pub const T0: i64 = 1_795_651_200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("GATEHOUSE_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("GATEHOUSE_TEST_BACKEND={other:?}: expected sqlite or postgres"),
    }
}

/// The admin URL of the throwaway PostgreSQL. Tests that need Postgres fail — never skip —
/// without it.
pub fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("GATEHOUSE_TEST_POSTGRES_URL is not set: run the suite with ./scripts/test, which starts PostgreSQL")
    })
}

/// A database of its own for one test; removed when dropped.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir, url: String },
    Postgres { admin_url: String, name: String, url: String },
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/gatehouse.db", dir.path().display());
                TestDb::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("gh_test_{}", gatehouse::secrets::random_token(9).to_lowercase().replace('-', "_"));
                let mut admin = diesel::pg::PgConnection::establish(&admin_url).expect("connect to test Postgres");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                let url = replace_database(&admin_url, &name);
                TestDb::Postgres { admin_url, name, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name, .. } = self {
            if let Ok(mut admin) = diesel::pg::PgConnection::establish(admin_url) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// `postgres://u@h:p/postgres` → `postgres://u@h:p/NAME`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL with a path");
    format!("{base}/{name}")
}

/// How long a test's pool waits for a connection — opening and migrating its fresh database
/// included. Generous on purpose: the suite shares two cores with whatever else runs, and a
/// loaded machine must make tests slower, never failed ("timed out waiting for connection"
/// at set-up). The product default (`database.connect_timeout_ms`, 2 s) is for answering a
/// real outage quickly; the tests about outages set their own.
pub const TEST_CONNECT_TIMEOUT_MS: u64 = 60_000;

/// An HTTP client for tests that never reuses an idle connection. The server closes keep-alive
/// connections after 5 s idle, and a request sent on one just as it closes fails
/// (`IncompleteMessage`): a pause that load stretches past 5 s — a CLI command, an argon2 hash —
/// must not turn into that. Add cookies or a redirect policy to the builder as needed.
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_max_idle_per_host(0)
}

/// Settings for tests: loopback issuer (set once the port is known), a pool that waits out a
/// busy machine.
pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = database_url.to_string();
    settings.database.pool_size = 4;
    settings.database.connect_timeout_ms = TEST_CONNECT_TIMEOUT_MS;
    settings.dcr.enabled = true;
    // Tests about the limits set their own; the others must not trip over them (every test's
    // requests come from 127.0.0.1, within one minute of the test clock).
    settings.dcr.max_registrations_per_window = 10_000;
    // PostgreSQL needs a key for the signing keys at rest (SQLite makes keys.secret beside the
    // file): one per database, so replicas of a test over one database share it.
    if database_url.starts_with("postgres") {
        settings.keys.encryption_key = test_encryption_key(database_url);
    }
    settings.server.pending_requests_per_minute = 10_000;
    settings
}

/// The encryption key tests use for a database: derived from its URL (32 bytes, base64).
pub fn test_encryption_key(database_url: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("gatehouse test key {database_url}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

pub struct TestApp {
    /// The issuer, e.g. `http://127.0.0.1:PORT` (plus the configured path).
    pub issuer: String,
    /// `http://127.0.0.1:PORT`: where root-level routes live.
    pub root: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    server: actix_web::dev::ServerHandle,
    pub db: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server on a fresh database of the selected backend; `adjust` edits the settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let test_db = TestDb::new(backend());
        let mut app = Self::spawn_on(test_db.url(), "", adjust).await;
        app.db = Some(test_db);
        app
    }

    /// An app on `database_url` whose admin API and `/metrics` have a listener of their own
    /// (`admin.bind`), with `admin_token`; returns the app and that listener's address.
    pub async fn spawn_with_admin_listener(database_url: &str, admin_token: &str) -> (TestApp, std::net::SocketAddr) {
        let admin_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let admin_addr = admin_listener.local_addr().unwrap();
        let token = admin_token.to_string();
        let app = TestApp::spawn_on(database_url, "", |s| {
            s.admin.token = token;
            s.admin.bind = admin_addr.to_string();
        })
        .await;
        actix_web::rt::spawn(gatehouse::http::start_admin(app.state.clone(), admin_listener).unwrap());
        (app, admin_addr)
    }

    /// A server over an existing database URL; `issuer_path` is appended to the issuer.
    pub async fn spawn_on(database_url: &str, issuer_path: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let root = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = test_settings(database_url);
        settings.issuer = format!("{root}{issuer_path}");
        adjust(&mut settings);
        assert_eq!(settings.validate(), Vec::<String>::new(), "test settings must be valid");
        let for_db = settings.clone();
        let (db, key_cipher) =
            tokio::task::spawn_blocking(move || gatehouse::cli::serve::open_database_with_keys(&for_db))
                .await
                .unwrap()
                .expect("open test database");
        let clock = Arc::new(ManualClock::new(T0));
        let state = AppState::new(settings.clone(), db, clock.clone(), key_cipher);
        assert!(state.reload_keys().await, "signing keys load");
        let server = gatehouse::http::start(state.clone(), listener, settings.admin.bind.is_empty(), Some(2))
            .expect("start server");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            issuer: settings.issuer.clone(),
            root,
            state,
            clock,
            http: http_client().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            server: handle,
            db: None,
        }
    }

    /// `issuer + path`.
    /// A CORS preflight from the MCP Inspector's origin.
    pub async fn preflight(&self, path: &str, method: &str, headers: &str) -> reqwest::Response {
        self.http
            .request(reqwest::Method::OPTIONS, self.url(path))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.state.settings.current()
    }

    /// Change the live settings, as a reload would.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        let mut settings = (*self.state.settings.current()).clone();
        change(&mut settings);
        self.state.settings.replace(settings);
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    /// Run a storage-layer closure on this app's database.
    pub async fn with_db<T, F>(&self, work: F) -> T
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.state.db.run(work).await.expect("database work")
    }

    /// The Prometheus text of `/metrics`, read with the configured admin token (SPEC §11: the
    /// public listener asks for it; spawn with `s.admin.token = ADMIN_TOKEN.into()`).
    pub async fn metrics(&self) -> String {
        let token = self.settings().admin.token.clone();
        assert!(!token.is_empty(), "/metrics on the public listener needs admin.token in the test's settings");
        let response = self.http.get(self.url("/metrics")).bearer_auth(token).send().await.expect("request");
        assert_eq!(response.status(), 200, "/metrics");
        response.text().await.expect("metrics text")
    }

    pub async fn stop(&self) {
        self.server.stop(false).await;
    }
}

/// Fails when a JSON document contains `null` anywhere (the MCP TypeScript SDK rejects it).
pub fn assert_no_nulls(value: &Value) {
    fn walk(value: &Value, path: &str) {
        match value {
            Value::Null => panic!("null at {path}"),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, &format!("{path}.{k}"))),
            _ => {}
        }
    }
    walk(value, "$");
}

/// Open a separate pool on a database URL (for checks outside the app).
pub fn open_db(url: &str) -> Db {
    Db::connect(url, 2, TEST_CONNECT_TIMEOUT_MS).expect("connect")
}
