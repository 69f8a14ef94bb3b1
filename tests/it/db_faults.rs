//! Injected database faults on PostgreSQL (SPEC §3: a database outage is a quick 503, never a
//! 500 and never a hang): a backend terminated in the middle of a request, connections killed
//! while they sit in the pool, a statement that waits too long, and a silent partition — a proxy
//! that stops forwarding without closing anything.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use futures::FutureExt;
use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::proxy::behind_a_proxy;
use crate::common::{Backend, TestApp, TestDb};

const REDIRECT: &str = "https://own.example/cb";
const EMAIL: &str = "alice@example.com";

/// `work` on a connection of its own to `url`, off the test's runtime (it runs the server's
/// HTTP clients and the proxy).
async fn on_connection<T: Send + 'static>(url: &str, work: impl FnOnce(&mut PgConnection) -> T + Send + 'static) -> T {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || work(&mut PgConnection::establish(&url).expect("connect for the test")))
        .await
        .unwrap()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Backends of this database other than the asking one (`extra` narrows it down).
async fn backends(url: &str, extra: &str) -> i64 {
    let extra = extra.to_string();
    on_connection(url, move |c| {
        diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid() {extra}"
        ))
        .get_result::<Count>(c)
        .unwrap()
        .n
    })
    .await
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// Terminate this database's backends (other than the asking one) matching `extra`, and wait
/// until they are gone; returns how many there were.
async fn terminate(url: &str, extra: &'static str) -> usize {
    let pids: Vec<i32> = on_connection(url, move |c| {
        diesel::sql_query(format!(
            "SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity \
             WHERE datname = current_database() AND backend_type = 'client backend' \
             AND pid <> pg_backend_pid() {extra}"
        ))
        .load::<Pid>(c)
        .unwrap()
        .into_iter()
        .map(|p| p.pid)
        .collect()
    })
    .await;
    if !pids.is_empty() {
        let list = pids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
        let gone = format!("AND pid IN ({list})");
        let deadline = Instant::now() + Duration::from_secs(10);
        while backends(url, &gone).await > 0 {
            assert!(Instant::now() < deadline, "terminated backends did not go away");
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
    pids.len()
}

/// Rows locked `FOR UPDATE` by a transaction of the test's until `release`.
struct Lock {
    release: mpsc::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl Lock {
    async fn take(url: &str, select: &'static str) -> Lock {
        let (release, released) = mpsc::channel::<()>();
        let (locked, is_locked) = tokio::sync::oneshot::channel();
        let url = url.to_string();
        let done = tokio::task::spawn_blocking(move || {
            let mut c = PgConnection::establish(&url).unwrap();
            c.batch_execute(&format!("BEGIN; {select} FOR UPDATE")).unwrap();
            locked.send(()).unwrap();
            let _ = released.recv();
            let _ = c.batch_execute("ROLLBACK");
        });
        is_locked.await.unwrap();
        Lock { release, done }
    }

    async fn release(self) {
        self.release.send(()).unwrap();
        self.done.await.unwrap();
    }
}

/// Wait until at least `n` backends of this database wait for a lock.
async fn until_waiting_for_locks(url: &str, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while backends(url, "AND wait_event_type = 'Lock'").await < n {
        assert!(Instant::now() < deadline, "no request came to wait for the lock");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A 503 `temporarily_unavailable`, with `Retry-After`.
async fn assert_unavailable(response: reqwest::Response, case: &str) {
    assert_eq!(response.status(), 503, "{case}");
    assert!(response.headers().get("retry-after").is_some(), "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{case}: {body}");
}

struct Setup {
    app: TestApp,
    db_url: String,
    client: String,
    pkce: Pkce,
    refresh_token: String,
    _db: TestDb,
}

/// An app on a PostgreSQL database of its own (through `url` when given), a user, a manual client
/// and a refresh token.
async fn setup(db: TestDb, url: Option<String>) -> Setup {
    let db_url = db.url().to_string();
    // The outage bounds under test: the product default, not the harness's patient set-up wait.
    let app = TestApp::spawn_on(url.as_deref().unwrap_or(&db_url), "", |s| s.database.connect_timeout_ms = 2_000).await;
    create_user(&app, EMAIL).await;
    let client = manual_client(&app, &[REDIRECT]).await;
    let pkce = pkce();
    let code =
        app.authorization_code(&browser(), &authorize_query(&client, REDIRECT, &pkce.challenge, &[]), EMAIL).await;
    let (status, tokens) = app.exchange_code(&client, REDIRECT, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    Setup { app, db_url, client, pkce, refresh_token, _db: db }
}

impl Setup {
    fn authorize(&self) -> impl std::future::Future<Output = reqwest::Response> + 'static {
        let query = authorize_query(&self.client, REDIRECT, &self.pkce.challenge, &[]);
        browser().get(format!("{}/authorize?{query}", self.app.issuer)).send().map(Result::unwrap)
    }

    fn refresh(&self, token: &str) -> impl std::future::Future<Output = reqwest::Response> + 'static {
        let fields = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", &self.client)];
        self.app
            .http
            .post(self.app.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish())
            .send()
            .map(Result::unwrap)
    }
}

/// The fault run of the issue: `/authorize` updates the client's last-seen time as it goes; that
/// update's connection is terminated while it waits, and the request must not go on to a 500 on
/// the dead connection.
#[actix_web::test]
async fn a_connection_terminated_mid_authorize_is_never_a_500() {
    let s = setup(TestDb::new(Backend::Postgres), None).await;
    // The client has not been seen for a while, so this request writes its last-seen time.
    let url = s.db_url.clone();
    on_connection(&url, |c| c.batch_execute("UPDATE clients SET last_seen_at = NULL").unwrap()).await;
    let lock = Lock::take(&url, "SELECT * FROM clients").await;
    let request = actix_web::rt::spawn(s.authorize());
    until_waiting_for_locks(&url, 1).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await; // whatever else will wait, waits
    assert!(terminate(&url, "AND wait_event_type = 'Lock'").await >= 1);
    lock.release().await;
    let response = request.await.unwrap();
    let status = response.status().as_u16();
    assert!(status == 303 || status == 503, "got {status}: {}", response.text().await.unwrap());
    if status == 503 {
        assert_unavailable(response, "authorize").await;
    }
    // And the next one goes through.
    assert_eq!(s.authorize().await.status(), 303);
}

/// A refresh whose transaction is killed, or held past `statement_timeout`, is a 503 — and
/// since nothing of it was committed, the same token then refreshes normally.
#[actix_web::test]
async fn a_refresh_killed_or_stuck_mid_transaction_is_a_503_and_changes_nothing() {
    let s = setup(TestDb::new(Backend::Postgres), None).await;
    let url = s.db_url.clone();

    let lock = Lock::take(&url, "SELECT * FROM refresh_families").await;
    let request = actix_web::rt::spawn(s.refresh(&s.refresh_token));
    until_waiting_for_locks(&url, 1).await;
    assert_eq!(terminate(&url, "AND wait_event_type = 'Lock'").await, 1);
    assert_unavailable(request.await.unwrap(), "refresh, backend terminated").await;

    // A lock held longer than `database.connect_timeout_ms` (2 s here): the server cancels the
    // statement and the request ends in a 503 soon after, instead of waiting for the lock.
    let started = Instant::now();
    let response = s.refresh(&s.refresh_token).await;
    let took = started.elapsed();
    assert_unavailable(response, "refresh, lock held").await;
    let limit = Duration::from_millis(s.app.settings().database.connect_timeout_ms) + Duration::from_millis(1500);
    assert!(took < limit, "took {took:?}, limit {limit:?}");
    lock.release().await;

    let (status, body) = s.app.refresh_token(&s.client, &s.refresh_token).await;
    assert_eq!(status, 200, "the refused attempts changed nothing: {body}");
}

/// Connections killed while idle in the pool (a database restart, `pg_terminate_backend`): a
/// read that meets one runs again on a fresh connection, and nothing is ever a 500.
#[actix_web::test]
async fn connections_killed_in_the_pool_are_replaced_without_a_500() {
    let s = setup(TestDb::new(Backend::Postgres), None).await;
    let url = s.db_url.clone();
    for round in 0..3 {
        // Warm connections, recently used (so handed out again without a test query) …
        let warm = futures::future::join_all((0..4).map(|_| s.authorize())).await;
        assert!(warm.iter().all(|r| r.status() == 303), "round {round}");
        // … all killed.
        assert!(terminate(&url, "").await >= 1, "round {round}");
        // `/authorize` starts with a read of the client: retried, so no error at all.
        let response = s.authorize().await;
        assert_eq!(response.status(), 303, "round {round}: {}", response.text().await.unwrap());
    }
    // Every endpoint: a 503 at worst, never a 500.
    terminate(&url, "").await;
    let body = json!({"redirect_uris": ["https://a.example/cb"]});
    let registration = s.app.post_json("/register", &body);
    let (register, refresh, authorize) = futures::join!(registration, s.refresh(&s.refresh_token), s.authorize());
    for (name, status) in
        [("register", register.status()), ("refresh", refresh.status()), ("authorize", authorize.status())]
    {
        assert!(status.as_u16() != 500, "{name}: {status}");
    }
}

/// A silent partition: nothing gets through and nothing is closed. Every request that needs the
/// database ends in a 503 within `database.connect_timeout_ms` plus a small margin — more of them
/// than the pool has connections, at once — and all recover once the network does.
#[actix_web::test]
async fn a_silent_partition_ends_in_503s_not_hangs() {
    let db = TestDb::new(Backend::Postgres);
    let (proxy, url) = behind_a_proxy(&db).await;
    let s = setup(db, Some(url)).await;
    // connect_timeout_ms + the 500 ms margin, and some room for a busy test machine: a hang
    // would be minutes.
    let limit = Duration::from_millis(s.app.settings().database.connect_timeout_ms) + Duration::from_millis(1500);

    proxy.stall();
    let started = Instant::now();
    let ready = s.app.http.get(s.app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(1500), "readyz took {:?}", started.elapsed());

    for round in 0..2 {
        let started = Instant::now();
        let bodies: Vec<Value> =
            (0..3).map(|i| json!({"redirect_uris": [format!("https://p{round}{i}.example/cb")]})).collect();
        let registrations: Vec<_> = bodies.iter().map(|body| s.app.post_json("/register", body)).collect();
        let (registrations, refresh, authorizations) = futures::join!(
            futures::future::join_all(registrations),
            s.refresh(&s.refresh_token),
            futures::future::join_all((0..3).map(|_| s.authorize())),
        );
        let took = started.elapsed();
        assert!(took < limit, "round {round}: took {took:?}, limit {limit:?}");
        for response in registrations.into_iter().chain([refresh]).chain(authorizations) {
            assert_unavailable(response, &format!("round {round}")).await;
        }
    }

    // The network comes back (the stalled connections are reset on the way).
    proxy.cut();
    proxy.resume();
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while s.app.http.get(s.app.url("/readyz")).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "readiness did not recover");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = s.app.refresh_token(&s.client, &s.refresh_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.authorize().await.status(), 303);
}
