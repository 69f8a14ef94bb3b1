//! Load generator for the benchmark (`scripts/bench`): N concurrent connections, each running
//! one kind of operation in a loop for a fixed time, then throughput and latency percentiles as
//! one JSON line. Modes:
//!   register  POST /register with distinct metadata
//!   flow      a full authorization-code flow with an existing session: /authorize → consent → /token
//!   refresh   refresh-token rotation
//!   signin-flood  N browsers from N networks post a wrong password at once (one round; SPEC §11)
//! `flow` and `refresh` need a user: --email / --password (created beforehand with `gatehouse users add`).
//!
//!   cargo run --release --example loadgen -- --issuer http://127.0.0.1:8080 --mode register \
//!       --concurrency 32 --seconds 10

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Options {
    issuer: String,
    mode: String,
    concurrency: usize,
    seconds: u64,
    email: String,
    password: String,
}

fn options() -> Options {
    let mut options = Options {
        issuer: "http://127.0.0.1:8080".into(),
        mode: "register".into(),
        concurrency: 32,
        seconds: 10,
        email: "bench@example.com".into(),
        password: "bench password".into(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--issuer" => options.issuer = value,
            "--mode" => options.mode = value,
            "--concurrency" => options.concurrency = value.parse().expect("--concurrency N"),
            "--seconds" => options.seconds = value.parse().expect("--seconds N"),
            "--email" => options.email = value,
            "--password" => options.password = value,
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    if options.mode == "signin-flood" {
        return signin_flood(&options).await;
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(options.concurrency).build().unwrap();
    let shared_client_id =
        if options.mode == "register" { String::new() } else { register_client(&client, &options).await };
    // Set-up is not measured: one sign-in whose session every worker shares (one browser, many
    // tabs), then a first grant per worker for the refresh mode.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .unwrap();
    if options.mode != "register" {
        sign_in_and_authorize(&browser, &options, &shared_client_id).await.expect("set-up sign-in");
    }
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let mut refresh_token = String::new();
        if options.mode == "refresh" {
            let (code, verifier) =
                authorize_with_session(&browser, &options, &shared_client_id).await.expect("set-up flow");
            refresh_token =
                exchange(&browser, &options, &shared_client_id, &code, &verifier).await.expect("set-up exchange");
        }
        workers.push((browser.clone(), refresh_token));
    }
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (worker, (browser, mut refresh_token)) in workers.into_iter().enumerate() {
        let client = client.clone();
        let options = options.clone();
        let client_id = shared_client_id.clone();
        let counter = counter.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let began = Instant::now();
                let ok = match options.mode.as_str() {
                    "register" => register(&client, &options.issuer, worker, n).await,
                    "flow" => match authorize_with_session(&browser, &options, &client_id).await {
                        Some((code, verifier)) => {
                            exchange(&browser, &options, &client_id, &code, &verifier).await.is_some()
                        }
                        None => false,
                    },
                    "refresh" => match refresh(&browser, &options, &client_id, &refresh_token).await {
                        Some(next) => {
                            refresh_token = next;
                            true
                        }
                        None => false,
                    },
                    other => panic!("unknown mode {other}"),
                };
                latencies.push(began.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "{{\"mode\":\"{}\",\"concurrency\":{},\"requests\":{},\"errors\":{},\"seconds\":{:.2},\"per_second\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2}}}",
        options.mode,
        options.concurrency,
        latencies.len(),
        errors.load(Ordering::Relaxed),
        elapsed,
        latencies.len() as f64 / elapsed,
        percentile(0.50),
        percentile(0.99)
    );
}

async fn register(client: &reqwest::Client, issuer: &str, worker: usize, n: u64) -> bool {
    let body = format!(
        r#"{{"client_name":"bench {worker}-{n}","redirect_uris":["https://bench.example/cb/{n}","http://127.0.0.1/"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}}"#
    );
    match client.post(format!("{issuer}/register")).header("content-type", "application/json").body(body).send().await {
        Ok(response) => {
            let ok = response.status() == 201;
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

const REDIRECT: &str = "https://bench.example/callback";

async fn register_client(client: &reqwest::Client, options: &Options) -> String {
    let body = format!(r#"{{"client_name":"bench flows","redirect_uris":["{REDIRECT}"]}}"#);
    let response = client
        .post(format!("{}/register", options.issuer))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("register the bench client");
    let json: serde_json::Value = response.json().await.expect("registration response");
    json["client_id"].as_str().expect("client_id").to_string()
}

fn location(response: &reqwest::Response) -> Option<String> {
    response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `--mode signin-flood`: `concurrency` browsers, each from its own network (127.2.0.0/16 up),
/// open a sign-in page (not measured), then all post a wrong password at once, while `/healthz`
/// is polled. Prints the answers by status and the slowest liveness answer (SPEC §11: the
/// checks are bounded, the server keeps answering).
async fn signin_flood(options: &Options) {
    let client = reqwest::Client::new();
    let client_id = register_client(&client, options).await;
    let root = root(options);
    let path = gatehouse::config::issuer_path(&options.issuer);
    let mut posts = Vec::new();
    for n in 0..options.concurrency {
        let address: std::net::IpAddr = format!("127.{}.{}.9", 2 + n / 256, n % 256).parse().unwrap();
        let browser = reqwest::Client::builder()
            .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .local_address(address)
            .build()
            .unwrap();
        let (login_location, _) = start_authorization(&browser, options, &client_id).await.expect("authorize");
        let html = browser.get(format!("{root}{login_location}")).send().await.unwrap().text().await.unwrap();
        let fields = vec![
            ("request_id", input_value(&html, "request_id").expect("a login page")),
            ("csrf_token", input_value(&html, "csrf_token").expect("a login page")),
            ("email", options.email.clone()),
            ("password", "not the password".to_string()),
        ];
        posts.push((browser, fields));
    }
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (client, url, done) = (client.clone(), format!("{root}/healthz"), done.clone());
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                let began = Instant::now();
                let ok = client.get(&url).send().await.is_ok_and(|r| r.status().is_success());
                slowest = slowest.max(began.elapsed());
                assert!(ok, "/healthz failed during the flood");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            slowest
        })
    };
    let answers = futures::future::join_all(posts.iter().map(|(browser, fields)| async {
        browser.post(format!("{root}{path}/login")).form(fields).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
    }))
    .await;
    done.store(true, Ordering::Relaxed);
    let slowest = probe.await.unwrap();
    let count = |status: u16| answers.iter().filter(|s| **s == status).count();
    println!(
        "{{\"mode\":\"signin-flood\",\"posts\":{},\"401\":{},\"503\":{},\"other\":{},\"seconds\":{:.2},\"slowest_healthz_ms\":{:.1}}}",
        answers.len(),
        count(401),
        count(503),
        answers.len() - count(401) - count(503),
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1000.0
    );
}

fn root(options: &Options) -> String {
    let path = gatehouse::config::issuer_path(&options.issuer);
    options.issuer.strip_suffix(&path).unwrap_or(&options.issuer).to_string()
}

async fn start_authorization(
    browser: &reqwest::Client,
    options: &Options,
    client_id: &str,
) -> Option<(String, String)> {
    let verifier = gatehouse::secrets::random_token(32);
    let challenge = gatehouse::oauth::pkce::s256_challenge(&verifier);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "bench")
        .finish();
    let response = browser.get(format!("{}/authorize?{query}", options.issuer)).send().await.ok()?;
    Some((location(&response)?, verifier))
}

/// Consent page → allow → the code from the 302.
async fn consent(browser: &reqwest::Client, options: &Options, consent_location: &str) -> Option<String> {
    let root = root(options);
    let html = browser.get(format!("{root}{consent_location}")).send().await.ok()?.text().await.ok()?;
    let fields = [
        ("request_id", input_value(&html, "request_id")?),
        ("csrf_token", input_value(&html, "csrf_token")?),
        ("decision", "allow".to_string()),
    ];
    let path = gatehouse::config::issuer_path(&options.issuer);
    let response = browser.post(format!("{root}{path}/consent")).form(&fields).send().await.ok()?;
    query_param(&location(&response)?, "code")
}

/// The first flow of a worker: sign in, then consent.
async fn sign_in_and_authorize(
    browser: &reqwest::Client,
    options: &Options,
    client_id: &str,
) -> Option<(String, String)> {
    let (login_location, verifier) = start_authorization(browser, options, client_id).await?;
    let root = root(options);
    let html = browser.get(format!("{root}{login_location}")).send().await.ok()?.text().await.ok()?;
    let fields = [
        ("request_id", input_value(&html, "request_id")?),
        ("csrf_token", input_value(&html, "csrf_token")?),
        ("email", options.email.clone()),
        ("password", options.password.clone()),
    ];
    let path = gatehouse::config::issuer_path(&options.issuer);
    let response = browser.post(format!("{root}{path}/login")).form(&fields).send().await.ok()?;
    let consent_location = location(&response)?;
    Some((consent(browser, options, &consent_location).await?, verifier))
}

/// A flow with a live session: authorize → consent → code.
async fn authorize_with_session(
    browser: &reqwest::Client,
    options: &Options,
    client_id: &str,
) -> Option<(String, String)> {
    let (consent_location, verifier) = start_authorization(browser, options, client_id).await?;
    Some((consent(browser, options, &consent_location).await?, verifier))
}

async fn token_request(browser: &reqwest::Client, options: &Options, fields: &[(&str, &str)]) -> Option<String> {
    let response = browser.post(format!("{}/token", options.issuer)).form(fields).send().await.ok()?;
    if response.status() != 200 {
        return None;
    }
    let json: serde_json::Value = response.json().await.ok()?;
    json["refresh_token"].as_str().map(str::to_string)
}

async fn exchange(
    browser: &reqwest::Client,
    options: &Options,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> Option<String> {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ];
    token_request(browser, options, &fields).await
}

async fn refresh(browser: &reqwest::Client, options: &Options, client_id: &str, token: &str) -> Option<String> {
    let fields = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", client_id)];
    token_request(browser, options, &fields).await
}
