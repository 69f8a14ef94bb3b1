//! Load generator for the benchmark (`scripts/bench`): N concurrent connections hammering one
//! endpoint for a fixed time, then throughput and latency percentiles as one JSON line.
//!
//!   cargo run --release --example loadgen -- --issuer http://127.0.0.1:8080 --mode register \
//!       --concurrency 32 --seconds 10

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Options {
    issuer: String,
    mode: String,
    concurrency: usize,
    seconds: u64,
}

fn options() -> Options {
    let mut options =
        Options { issuer: "http://127.0.0.1:8080".into(), mode: "register".into(), concurrency: 32, seconds: 10 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--issuer" => options.issuer = value,
            "--mode" => options.mode = value,
            "--concurrency" => options.concurrency = value.parse().expect("--concurrency N"),
            "--seconds" => options.seconds = value.parse().expect("--seconds N"),
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
    let client = reqwest::Client::builder().pool_max_idle_per_host(options.concurrency).build().unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..options.concurrency {
        let client = client.clone();
        let issuer = options.issuer.clone();
        let mode = options.mode.clone();
        let counter = counter.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let began = Instant::now();
                let ok = match mode.as_str() {
                    "register" => register(&client, &issuer, worker, n).await,
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
