//! The real `gatehouse` binary: one-shot commands and a served process, each with a clean
//! environment (no GATEHOUSE_CONFIG or GATEHOUSE__* of the test runner's leaks in).

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `gatehouse ARGS` with only `env` set, run from the temporary directory — and the harness's
/// generous database connect timeout (a busy machine must not fail a command's set-up), which
/// `env` may override like any other setting.
pub fn gatehouse_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(args).env_remove("GATEHOUSE_CONFIG").current_dir(std::env::temp_dir());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("GATEHOUSE__")) {
        command.env_remove(key);
    }
    command.env("GATEHOUSE__DATABASE__CONNECT_TIMEOUT_MS", super::TEST_CONNECT_TIMEOUT_MS.to_string());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Run a command to its end.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    gatehouse_command(args, env).output().expect("run gatehouse")
}

/// Run a command with `stdin` as its standard input (not a terminal).
pub fn run_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = gatehouse_command(args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// `gatehouse serve` on a free loopback port; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub issuer: String,
    pub bind: String,
}

impl ServerProcess {
    /// Serve from `dir` over `db_url`, issuer `http://127.0.0.1:PORT`; `args` follow `serve`.
    pub fn start(dir: &Path, db_url: &str, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bind = format!("127.0.0.1:{port}");
        let issuer = format!("http://{bind}");
        let mut all_env = vec![("GATEHOUSE__ISSUER", issuer.as_str()), ("GATEHOUSE__SERVER__BIND", bind.as_str())];
        all_env.push(("GATEHOUSE__DATABASE__URL", db_url));
        // On PostgreSQL the signing keys need a key named: a file in `dir`, made at the first start.
        let key_file = dir.join("keys.secret").display().to_string();
        if db_url.starts_with("postgres") {
            all_env.push(("GATEHOUSE__KEYS__ENCRYPTION_KEY_FILE", key_file.as_str()));
        }
        all_env.extend_from_slice(env);
        let child = gatehouse_command(&[&["serve"], args].concat(), &all_env)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gatehouse serve");
        ServerProcess { child, issuer, bind }
    }

    /// Wait (up to 60 s: the machine may be busy) until the server answers; returns its
    /// metadata document.
    pub async fn metadata_when_up(&self, http: &reqwest::Client) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = format!("{}/.well-known/oauth-authorization-server", self.issuer);
            if let Ok(response) = http.get(url).send().await {
                return response.json().await.expect("metadata is JSON");
            }
            assert!(Instant::now() < deadline, "the server did not start");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
