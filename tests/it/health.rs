//! Liveness, readiness, a real database outage (Postgres), and the binary's own health check.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::process::{run, ServerProcess};
use crate::common::proxy::behind_a_proxy;
use diesel::connection::SimpleConnection;
use gatehouse::db::Db;

use crate::common::{Backend, TestApp, TestDb};

#[actix_web::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::spawn().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

/// Pooled connections are handed out untested only while recently used and while no other has
/// failed: after a short outage, no connection it killed is handed out again.
#[actix_web::test]
async fn one_connection_failure_makes_the_pool_test_the_others() {
    let db = TestDb::new(Backend::Postgres);
    let (proxy, url) = behind_a_proxy(&db).await;
    // Off this thread: the proxy runs on it. A pool timeout that waits out a busy machine.
    let pool = tokio::task::spawn_blocking(move || Db::connect(&url, 4, 10_000)).await.unwrap().unwrap();
    let select = |sql: &'static str| {
        pool.run(move |conn| {
            conn.batch_execute(sql)?;
            Ok(())
        })
    };
    // Four connections, each used a moment ago.
    let warm = futures::future::join_all((0..4).map(|_| select("SELECT pg_sleep(0.05)"))).await;
    assert!(warm.iter().all(Result::is_ok), "{warm:?}");

    proxy.cut();
    assert!(select("SELECT 1").await.is_err(), "the outage is seen");
    proxy.restore();
    for attempt in 0..4 {
        let result = select("SELECT 1").await;
        assert!(result.is_ok(), "attempt {attempt} got a connection the outage killed: {result:?}");
    }
}

/// The database goes away while serving: readiness says so within about a second, requests
/// that need the database get a 503 once the pool's connect timeout is over — not a hang —,
/// and both recover with no restart.
#[actix_web::test]
async fn readiness_follows_a_postgres_outage() {
    let db = TestDb::new(Backend::Postgres);
    let (proxy, url) = behind_a_proxy(&db).await;
    // The pool timeout is the product's promise here, so this test sets one, shorter than the
    // harness's — yet long enough to tell readiness's own 1 s limit from it on a busy machine.
    let pool_timeout = Duration::from_secs(5);
    let app = TestApp::spawn_on(&url, "", |s| s.database.connect_timeout_ms = pool_timeout.as_millis() as u64).await;
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);

    proxy.cut();
    let started = Instant::now();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    // 1 s of readiness timeout plus slack for load, and clearly less than the pool timeout it
    // would wait without its own.
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    let started = Instant::now();
    let register = app.post_json("/register", &serde_json::json!({"redirect_uris": ["https://a.example/cb"]})).await;
    assert_eq!(register.status(), 503);
    assert!(started.elapsed() < pool_timeout + Duration::from_secs(10), "took {:?}", started.elapsed());
    let body: serde_json::Value = register.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Liveness does not depend on the database.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if app.http.get(app.url("/readyz")).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "readiness did not recover");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // No connection the outage killed is handed out again: a burst after recovery all succeeds.
    let bodies: Vec<_> =
        (0..8).map(|i| serde_json::json!({"redirect_uris": [format!("https://b{i}.example/cb")]})).collect();
    for register in futures::future::join_all(bodies.iter().map(|body| app.post_json("/register", body))).await {
        assert_eq!(register.status(), 201);
    }
    app.stop().await;
}

/// The real binary: `serve` answers, `healthcheck` says healthy, SIGTERM stops it cleanly.
#[actix_web::test]
async fn binary_serves_and_healthcheck_passes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/gh.db", dir.path().display());
    let mut server = ServerProcess::start(dir.path(), &url, &[], &[("GATEHOUSE__DCR__ENABLED", "true")]);
    let http = crate::common::http_client().build().unwrap();
    let doc = server.metadata_when_up(&http).await;
    let issuer = server.issuer.clone();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["registration_endpoint"], format!("{issuer}/register"));

    let check = run(&["healthcheck"], &[("GATEHOUSE__SERVER__BIND", &server.bind)]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    // A file broken by a live edit (the server keeps its settings) does not make it unhealthy.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, format!("[server]\nbind = {:?}\n[dcr]\nrate_limit_window_secs = 0\n", server.bind))
        .unwrap();
    let check = run(&["healthcheck", "--config", broken.to_str().unwrap()], &[]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let killed = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");
}
