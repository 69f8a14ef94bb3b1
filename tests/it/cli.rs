//! The binary itself: `--config` before and after the subcommand, exit codes, one line per
//! problem, start-up failures that are clear and bounded.

use std::io::Write;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn gatehouse(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.args(args).env_remove("GATEHOUSE_CONFIG").current_dir(std::env::temp_dir());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("GATEHOUSE__")) {
        command.env_remove(key);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run gatehouse")
}

fn config_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_flag_before_and_after_the_subcommand_and_from_the_environment() {
    let file = config_file("issuer = \"https://auth.example.net\"\n");
    let path = file.path().to_str().unwrap();
    for output in [
        gatehouse(&["--config", path, "config", "check"], &[]),
        gatehouse(&["config", "check", "--config", path], &[]),
        gatehouse(&["config", "--config", path, "check"], &[]),
        gatehouse(&["config", "check"], &[("GATEHOUSE_CONFIG", path)]),
    ] {
        assert!(output.status.success(), "{}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("issuer = \"https://auth.example.net\""), "{stdout}");
    }
}

#[test]
fn config_check_masks_secrets_and_describes_rules() {
    let file = config_file(
        "issuer = \"https://auth.example.net\"\n[admin]\ntoken = \"0123456789abcdef0123456789abcdef\"\n\
         [database]\nurl = \"postgres://gh:hunter2@db:5432/gh\"\n[dcr]\nenabled = true\n",
    );
    let output = gatehouse(&["config", "check", "--config", file.path().to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("0123456789abcdef0123456789abcdef"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("dynamic client registration (POST /register): ON"), "{stdout}");
    // DCR on behind what looks like a proxy with no trusted proxies: warned.
    assert!(stderr(&output).contains("trusted_proxies"), "{}", stderr(&output));
}

#[test]
fn invalid_config_exits_non_zero_with_one_line_per_problem() {
    let file = config_file("issuer = \"https://x.example/\"\n[dcr]\nrate_limit_window_secs = 0\n");
    let output = gatehouse(&["serve", "--config", file.path().to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.lines().any(|l| l.trim().starts_with("issuer:")), "{err}");
    assert!(err.lines().any(|l| l.trim().starts_with("dcr.rate_limit_window_secs:")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_named_missing_file_is_an_error() {
    let output = gatehouse(&["config", "check", "--config", "/nonexistent/g.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/g.toml"));
}

#[test]
fn unreachable_postgres_at_start_fails_fast_and_clearly() {
    let started = Instant::now();
    let output = gatehouse(
        &["migrate"],
        &[
            ("GATEHOUSE__DATABASE__URL", "postgres://gh:secret@127.0.0.1:1/gh"),
            ("GATEHOUSE__DATABASE__CONNECT_TIMEOUT_MS", "500"),
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(!err.contains("secret"), "password leaked: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sqlite_path_under_a_regular_file_fails_clearly() {
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite://{}/sub/gatehouse.db", blocker.path().display());
    let output = gatehouse(&["serve"], &[("GATEHOUSE__DATABASE__URL", &url)]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("cannot open the database") || err.contains("cannot create"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sqlite_file_and_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("state/gatehouse.db");
    let url = format!("sqlite://{}", db_path.display());
    let output = gatehouse(&["migrate"], &[("GATEHOUSE__DATABASE__URL", &url)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let file_mode = std::fs::metadata(&db_path).unwrap().permissions().mode() & 0o777;
    let dir_mode = std::fs::metadata(db_path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(file_mode, 0o600);
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let output = gatehouse(&["healthcheck"], &[("GATEHOUSE__SERVER__BIND", "127.0.0.1:1")]);
    assert_eq!(output.status.code(), Some(1));
}
