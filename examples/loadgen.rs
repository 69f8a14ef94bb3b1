//! Load generator for the benchmark (`scripts/bench`, SPEC §13): N concurrent workers, each
//! running one kind of operation in a loop for a fixed time, then throughput and latency
//! percentiles as one JSON line. The same driver loads Gatehouse and the peer
//! (node-oidc-provider, `bench/peer`): `--server gatehouse|peer` only changes endpoint paths and
//! the authorization request's extra parameters; the pages are driven by their forms.
//! Modes:
//!   register  POST /register with distinct metadata
//!   flow      a full authorization-code flow with a live session: authorize → consent → token
//!   refresh   refresh-token rotation
//!   metadata  GET the authorization server metadata document
//!   signin-flood  N browsers from N networks post a wrong password at once (one round; SPEC §11)
//! `--source many` (the default) gives each worker its own loopback address (127.0.0.2, .3, …),
//! as registrants have in real life; `--source one` sends everything from 127.0.0.1.
//! Every phase starts with `--warmup` seconds (default 1) of unmeasured load. `--cpu-pid PID` and
//! `--cpu-tree POSTMASTER` add the servers' CPU seconds over the measured window (from `/proc`).
//! Each worker is one browser: in `flow` and `refresh` it signs in once (not measured), then
//! consents on every flow. `flow` and `refresh` need a user: --email / --password (created
//! beforehand with `gatehouse users add`).
//!
//!   cargo run --release --example loadgen -- --issuer http://127.0.0.1:8080 --mode register \
//!       --concurrency 16 --seconds 10

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Gatehouse,
    /// node-oidc-provider (`bench/peer/server.js`).
    Peer,
}

#[derive(Clone)]
struct Options {
    issuer: String,
    mode: String,
    concurrency: usize,
    seconds: u64,
    email: String,
    password: String,
    server: Server,
    many_sources: bool,
    /// Seconds of load before the measured window (`--warmup`).
    warmup: u64,
    /// Server processes whose CPU time the run reports (`--cpu-pid`, repeatable).
    cpu_pids: Vec<u32>,
    /// A postmaster: its CPU, its children's, and its reaped children's (`--cpu-tree`).
    cpu_trees: Vec<u32>,
}

fn options() -> Options {
    let mut options = Options {
        issuer: "http://127.0.0.1:8080".into(),
        mode: "register".into(),
        concurrency: 16,
        seconds: 10,
        email: "bench@example.com".into(),
        password: "bench password".into(),
        server: Server::Gatehouse,
        many_sources: true,
        warmup: 1,
        cpu_pids: Vec::new(),
        cpu_trees: Vec::new(),
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
            "--server" => {
                options.server = match value.as_str() {
                    "gatehouse" => Server::Gatehouse,
                    "peer" => Server::Peer,
                    other => panic!("--server gatehouse|peer, not {other}"),
                }
            }
            "--source" => {
                options.many_sources = match value.as_str() {
                    "many" => true,
                    "one" => false,
                    other => panic!("--source many|one, not {other}"),
                }
            }
            "--warmup" => options.warmup = value.parse().expect("--warmup SECONDS"),
            "--cpu-pid" => options.cpu_pids.push(value.parse().expect("--cpu-pid PID")),
            "--cpu-tree" => options.cpu_trees.push(value.parse().expect("--cpu-tree PID")),
            other => panic!("unknown option {other}"),
        }
    }
    assert!(options.concurrency <= 250, "--concurrency at most 250 (one loopback address each)");
    options
}

fn main() {
    let options = options();
    if options.mode == "cpu" {
        // For scripts/bench's pgbench floors: the CPU seconds of the given processes so far.
        return println!("{:.3}", cpu_seconds(&options.cpu_pids, &options.cpu_trees));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(options));
}

/// One browser: its own cookies, its own source address, redirects not followed.
fn browser(address: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .local_address(address)
        .pool_max_idle_per_host(1)
        .build()
        .unwrap()
}

fn source_address(options: &Options, worker: usize) -> IpAddr {
    if options.many_sources {
        format!("127.0.0.{}", 2 + worker).parse().unwrap()
    } else {
        "127.0.0.1".parse().unwrap()
    }
}

async fn run(options: Options) {
    if options.mode == "signin-flood" {
        return signin_flood(&options).await;
    }
    let needs_client = options.mode == "flow" || options.mode == "refresh";
    let shared_client_id =
        if needs_client { register_client(&reqwest::Client::new(), &options).await } else { String::new() };
    // Set-up is not measured: each worker (one browser) signs in once, and gets a first grant
    // for the refresh mode.
    let mut workers = Vec::new();
    for worker in 0..options.concurrency {
        let browser = browser(source_address(&options, worker));
        let mut refresh_token = String::new();
        if needs_client {
            let (code, verifier) =
                authorize(&browser, &options, &shared_client_id).await.expect("set-up sign-in and consent");
            let first = exchange(&browser, &options, &shared_client_id, &code, &verifier).await;
            refresh_token = first.expect("set-up exchange");
        }
        workers.push((browser, refresh_token));
    }
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    // A warm-up first (JIT, caches, pool), not measured: the window starts after it.
    let started = Instant::now() + Duration::from_secs(options.warmup);
    let deadline = started + Duration::from_secs(options.seconds);
    let sampler = {
        let options = options.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(started.into()).await;
            let servers: Vec<f64> = options.cpu_pids.iter().map(|pid| cpu_seconds(&[*pid], &[])).collect();
            (servers, cpu_seconds(&[], &options.cpu_trees))
        })
    };
    let mut tasks = Vec::new();
    for (worker, (browser, mut refresh_token)) in workers.into_iter().enumerate() {
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
                    "register" => register(&browser, &options, worker, n).await,
                    "metadata" => metadata(&browser, &options).await,
                    "flow" => match authorize(&browser, &options, &client_id).await {
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
                if began < started {
                    continue;
                }
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
    let (cpu_before, db_before) = sampler.await.unwrap();
    let server_cpu: f64 =
        options.cpu_pids.iter().zip(&cpu_before).map(|(pid, before)| cpu_seconds(&[*pid], &[]) - before).sum();
    let db_cpu = cpu_seconds(&[], &options.cpu_trees) - db_before;
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "{{\"mode\":\"{}\",\"concurrency\":{},\"requests\":{},\"errors\":{},\"seconds\":{:.2},\"per_second\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"server_cpu_s\":{:.3},\"db_cpu_s\":{:.3}}}",
        options.mode,
        options.concurrency,
        latencies.len(),
        errors.load(Ordering::Relaxed),
        elapsed,
        latencies.len() as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
        server_cpu,
        db_cpu
    );
}

/// CPU seconds (user + system) from `/proc`: each of `pids` (all its threads), and for each of
/// `trees` the process, its live children, and the children it has already reaped (`cutime`,
/// `cstime`: PostgreSQL's backends that exited). A process that ends between two readings moves
/// from the children's sum into its parent's reaped time, so differences stay right.
fn cpu_seconds(pids: &[u32], trees: &[u32]) -> f64 {
    // Fields after the command name (which may hold spaces): state is field 3, ppid 4,
    // utime 14, stime 15, cutime 16, cstime 17.
    fn fields(pid: u32) -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        Some(rest.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect())
    }
    let mut ticks = 0u64;
    for pid in pids {
        if let Some(f) = fields(*pid) {
            ticks += f[10] + f[11];
        }
    }
    for root in trees {
        let Some(f) = fields(*root) else { continue };
        ticks += f[10] + f[11] + f[12] + f[13];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some(f) = fields(pid).filter(|f| f[0] == *root as u64) {
                ticks += f[10] + f[11];
            }
        }
    }
    // USER_HZ is 100 on Linux.
    ticks as f64 / 100.0
}

fn register_url(options: &Options) -> String {
    match options.server {
        Server::Gatehouse => format!("{}{}", options.issuer, gatehouse::paths::REGISTER),
        Server::Peer => format!("{}/reg", options.issuer),
    }
}

async fn register(client: &reqwest::Client, options: &Options, worker: usize, n: u64) -> bool {
    let body = format!(
        r#"{{"client_name":"bench {worker}-{n}","redirect_uris":["https://bench.example/cb/{n}","http://127.0.0.1/"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}}"#
    );
    match client.post(register_url(options)).header("content-type", "application/json").body(body).send().await {
        Ok(response) => {
            let ok = response.status() == 201;
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

async fn metadata(client: &reqwest::Client, options: &Options) -> bool {
    let url = match options.server {
        Server::Gatehouse => {
            let path = gatehouse::config::issuer_path(&options.issuer);
            format!("{}{}{path}", root(options), gatehouse::paths::METADATA)
        }
        Server::Peer => format!("{}/.well-known/openid-configuration", options.issuer),
    };
    match client.get(url).send().await {
        Ok(response) => {
            let ok = response.status() == 200;
            ok && response.bytes().await.is_ok_and(|body| !body.is_empty())
        }
        Err(_) => false,
    }
}

const REDIRECT: &str = "https://bench.example/callback";

async fn register_client(client: &reqwest::Client, options: &Options) -> String {
    let body = format!(
        r#"{{"client_name":"bench flows","redirect_uris":["{REDIRECT}"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}}"#
    );
    let response = client
        .post(register_url(options))
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

fn attribute(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

fn input_value(html: &str, name: &str) -> Option<String> {
    attribute(html, &format!("name=\"{name}\" value=\""))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn absolute(options: &Options, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        format!("{}{location}", root(options))
    }
}

/// One authorization: the request, then redirects and pages (a sign-in form when the browser
/// has no session, a consent form every time) until the redirect to the client with its code.
async fn authorize(browser: &reqwest::Client, options: &Options, client_id: &str) -> Option<(String, String)> {
    let (mut next, verifier) = start_authorization(browser, options, client_id).await?;
    for _ in 0..10 {
        if next.starts_with(REDIRECT) {
            return Some((query_param(&next, "code")?, verifier));
        }
        let response = browser.get(absolute(options, &next)).send().await.ok()?;
        if response.status().is_redirection() {
            next = location(&response)?;
            continue;
        }
        let html = response.text().await.ok()?;
        let mut fields =
            vec![("request_id", input_value(&html, "request_id")?), ("csrf_token", input_value(&html, "csrf_token")?)];
        if html.contains("name=\"password\"") {
            fields.push(("email", options.email.clone()));
            fields.push(("password", options.password.clone()));
        } else {
            fields.push(("decision", "allow".to_string()));
        }
        let action = attribute(&html, "action=\"")?;
        let response = browser.post(absolute(options, &action)).form(&fields).send().await.ok()?;
        next = location(&response)?;
    }
    None
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
    let url = authorization_url(options, client_id, &challenge);
    let response = browser.get(url).send().await.ok()?;
    Some((location(&response)?, verifier))
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

/// The authorization request's URL (built outside the async fn: the serializer is not `Send`).
fn authorization_url(options: &Options, client_id: &str, challenge: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "bench");
    let endpoint = match options.server {
        Server::Gatehouse => gatehouse::paths::AUTHORIZE,
        // The peer issues a refresh token for `offline_access`, which it grants only with an
        // explicit consent prompt: consent each time, as Gatehouse asks.
        Server::Peer => {
            query.append_pair("scope", "offline_access").append_pair("prompt", "consent");
            "/auth"
        }
    };
    format!("{}{endpoint}?{}", options.issuer, query.finish())
}
