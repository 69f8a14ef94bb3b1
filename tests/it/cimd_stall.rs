//! CIMD lookups cannot be stalled (SPEC §11): hosts that accept TCP and never answer hold the
//! fetch permits for at most the fetch timeout, and every other lookup waits at most a second for
//! one (then a 503 page); the per-host budget is charged only for hosts that resolve; unknown URLs
//! are budgeted per requesting address; `/token` uses a stored copy within the stale window at
//! once and revalidates it in the background.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cimd::{grant, setup_with, Cimd, HOST, REDIRECT};
use crate::common::flow::*;
use crate::common::tls_server::Route;

/// A TCP server that accepts connections and never sends or reads a byte.
struct Tarpit {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Tarpit {
    async fn start() -> Tarpit {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    held.push(stream);
                }
            }
        });
        Tarpit { port, accepted, task }
    }

    async fn wait_for_connections(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.accepted.load(Ordering::SeqCst) < count {
            assert!(Instant::now() < deadline, "the tarpit got {:?} connections", self.accepted);
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A browser whose requests come from `address` (any 127.x.y.z is this machine).
fn browser_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn setup(timeout_ms: u64) -> Cimd {
    setup_with(move |s| {
        s.cimd.http_timeout_ms = timeout_ms;
        s.cimd.stale_if_error_secs = 600;
    })
    .await
}

#[actix_web::test]
async fn hosts_that_never_answer_make_other_lookups_wait_at_most_a_second() {
    let c = setup(10_000).await;
    let tarpit = Tarpit::start().await;
    c.app.state.cimd.pin_host("tarpit.test", vec!["127.0.0.1".parse().unwrap()]);
    // Four lookups (the process-wide number of fetches at once) stuck on the tarpit for 10 s.
    let mut stuck = Vec::new();
    for n in 0..4 {
        let query = authorize_query(
            &format!("https://tarpit.test:{}/stuck-{n}.json", tarpit.port),
            REDIRECT,
            &pkce().challenge,
            &[],
        );
        let url = format!("{}/authorize?{query}", c.app.issuer);
        stuck.push(tokio::spawn(async move { browser().get(url).send().await.map(|r| r.status().as_u16()) }));
    }
    tarpit.wait_for_connections(4).await;

    // An unrelated document client, from another address: answered within about a second.
    c.serve("/other.json", c.document("/other.json", &[REDIRECT]));
    let started = Instant::now();
    let response = c.authorize(&browser_from("127.0.9.1"), &c.url("/other.json"), REDIRECT, &pkce()).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503, "busy, not stalled");
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(response.text().await.unwrap().contains("Try again in a moment"));
    assert!(elapsed < Duration::from_secs(5), "answered after {elapsed:?}: the permit wait is bounded");
    assert_eq!(c.fetches("/other.json"), 0);
    assert!(stuck.iter().all(|task| !task.is_finished()), "the tarpit still holds the four fetches");

    // The busy answer was not remembered as the document's failure: once the permits are free
    // (the stuck fetches time out) the same client is served.
    for task in stuck {
        assert_eq!(task.await.unwrap().unwrap(), 400, "a stuck fetch ends as a failed fetch");
    }
    let response = c.authorize(&browser_from("127.0.9.1"), &c.url("/other.json"), REDIRECT, &pkce()).await;
    assert_eq!(response.status(), 303);
}

#[actix_web::test]
async fn names_that_do_not_resolve_do_not_use_up_a_hosts_budget() {
    let c = setup(2000).await;
    // The host resolves to nothing: each lookup fails at resolution, from a network of its own.
    c.app.state.cimd.pin_host(HOST, vec![]);
    for n in 1..=12 {
        let from = format!("127.0.{n}.1");
        let response = c.authorize(&browser_from(&from), &c.url(&format!("/gone-{n}.json")), REDIRECT, &pkce()).await;
        assert_eq!(response.status(), 400, "lookup {n}");
    }
    assert_eq!(c.app.state.cimd.tracked_hosts(), 0, "no entry for a host that never resolved");
    assert_eq!(c.server.connections(), 0);

    // The host now resolves: its budget (10 a minute) is whole.
    c.app.state.cimd.pin_host(HOST, vec!["127.0.0.1".parse().unwrap()]);
    c.serve("/here.json", c.document("/here.json", &[REDIRECT]));
    let response = c.authorize(&browser_from("127.0.20.1"), &c.url("/here.json"), REDIRECT, &pkce()).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(c.app.state.cimd.tracked_hosts(), 1);
}

#[actix_web::test]
async fn unknown_urls_are_budgeted_per_requesting_address() {
    let c = setup(2000).await;
    // Twelve hosts on the test server (its certificate names only one: the others fail at TLS,
    // after a connection — which is what is counted here).
    for n in 0..12 {
        c.app.state.cimd.pin_host(&format!("h{n}.test"), vec!["127.0.0.1".parse().unwrap()]);
    }
    let port = c.server.port();
    let lookup = |from: &'static str, n: usize| {
        let url = format!("https://h{n}.test:{port}/client.json");
        let b = browser_from(from);
        let issuer = c.app.issuer.clone();
        async move {
            let query = authorize_query(&url, REDIRECT, &pkce().challenge, &[]);
            let response = b.get(format!("{issuer}/authorize?{query}")).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for n in 0..10 {
        assert_eq!(lookup("127.0.1.1", n).await.0, 400);
    }
    assert_eq!(c.server.connections(), 10, "ten fetches from one address");
    let (status, page) = lookup("127.0.1.1", 10).await;
    assert_eq!(status, 400);
    assert!(page.contains("too many new client metadata documents were requested from your address"), "{page}");
    assert_eq!(c.server.connections(), 10, "the eleventh in a minute is not fetched");

    // Another address is not held back, and the refusal was not remembered for the URL.
    assert_eq!(lookup("127.0.2.1", 10).await.0, 400);
    assert_eq!(c.server.connections(), 11);
    // A new minute gives the first address its budget back.
    c.app.clock.advance(61);
    assert_eq!(lookup("127.0.1.1", 11).await.0, 400);
    assert_eq!(c.server.connections(), 12);
}

#[actix_web::test]
async fn the_token_endpoint_does_not_wait_for_an_origin_that_never_answers() {
    let c = setup(10_000).await;
    let path = "/slow-origin.json";
    c.server
        .set_route(path, Route::json(&c.document(path, &[REDIRECT]).to_string()).header("cache-control", "max-age=60"));
    let client_id = c.url(path);
    let first = grant(&c, &client_id).await;
    let second = grant(&c, &client_id).await;
    assert_eq!(c.fetches(path), 1);

    // The origin now accepts and never answers (well past the fetch timeout).
    c.server.set_route(path, Route::json(&c.document(path, &[REDIRECT]).to_string()).delay(Duration::from_secs(60)));
    c.app.clock.advance(61); // expired, within the 600 s stale window
    for tokens in [&first, &second] {
        let started = Instant::now();
        let (status, body) = c.app.refresh_token(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "{body}");
        assert!(elapsed < Duration::from_secs(5), "the stored copy was used at once, not after {elapsed:?}");
    }
    // One background revalidation for both refreshes: the origin sees a single request.
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.fetches(path) < 2 {
        assert!(Instant::now() < deadline, "no background revalidation");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.fetches(path), 2, "one revalidation at a time per client");
}
