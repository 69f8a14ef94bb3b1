//! The binary itself: `--config` before and after the subcommand, exit codes, one line per
//! problem, start-up failures that are clear and bounded.

use std::io::Write;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::process::{gatehouse_command, run, run_with_stdin};

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
        run(&["--config", path, "config", "check"], &[]),
        run(&["config", "check", "--config", path], &[]),
        run(&["config", "--config", path, "check"], &[]),
        run(&["config", "check"], &[("GATEHOUSE_CONFIG", path)]),
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
    let key = gatehouse::keys::cipher::generate_key().unwrap();
    let output = run(
        &["config", "check", "--config", file.path().to_str().unwrap()],
        &[("GATEHOUSE__KEYS__ENCRYPTION_KEY", &key)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("0123456789abcdef0123456789abcdef"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(!stdout.contains(&key), "{stdout}");
    assert!(stdout.contains("encryption_key = \"********\""), "{stdout}");
    assert!(stdout.contains("dynamic client registration (POST /register): ON"), "{stdout}");
    // DCR on behind what looks like a proxy with no trusted proxies: warned.
    assert!(stderr(&output).contains("trusted_proxies"), "{}", stderr(&output));
}

#[test]
fn invalid_config_exits_non_zero_with_one_line_per_problem() {
    let file = config_file("issuer = \"https://x.example/\"\n[dcr]\nrate_limit_window_secs = 0\n");
    let output = run(&["serve", "--config", file.path().to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.lines().any(|l| l.trim().starts_with("issuer:")), "{err}");
    assert!(err.lines().any(|l| l.trim().starts_with("dcr.rate_limit_window_secs:")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_named_missing_file_is_an_error() {
    let output = run(&["config", "check", "--config", "/nonexistent/g.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/g.toml"));
}

#[test]
fn unreachable_postgres_at_start_fails_fast_and_clearly() {
    let started = Instant::now();
    let output = run(
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
    // libpq's messages end with a newline: trimmed, so no blank line follows one.
    assert!(!err.contains("\n\n"), "a blank line: {err:?}");
}

#[test]
fn sqlite_path_under_a_regular_file_fails_clearly() {
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite://{}/sub/gatehouse.db", blocker.path().display());
    let output = run(&["serve"], &[("GATEHOUSE__DATABASE__URL", &url)]);
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
    let output = run(&["migrate"], &[("GATEHOUSE__DATABASE__URL", &url)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let file_mode = std::fs::metadata(&db_path).unwrap().permissions().mode() & 0o777;
    let dir_mode = std::fs::metadata(db_path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(file_mode, 0o600);
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let output = run(&["healthcheck"], &[("GATEHOUSE__SERVER__BIND", "127.0.0.1:1")]);
    assert_eq!(output.status.code(), Some(1));
    // A broken file is no reason for another status: Docker reserves 2.
    let broken = config_file("[dcr\nenabled = true\n");
    let output = run(
        &["healthcheck", "--config", broken.path().to_str().unwrap()],
        &[("GATEHOUSE__SERVER__BIND", "127.0.0.1:1")],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn users_add_reads_the_first_line_refuses_duplicates_and_needs_a_terminal_to_prompt() {
    let db = crate::common::TestDb::new(crate::common::backend());
    let env = [("GATEHOUSE__DATABASE__URL", db.url())];
    let created =
        run_with_stdin(&["users", "add", "bob@example.com", "--password-stdin"], &env, "s3cret password\nignored\n");
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(String::from_utf8_lossy(&created.stdout).contains("bob@example.com"));

    let duplicate =
        run_with_stdin(&["users", "add", "BOB@example.com", "--password-stdin"], &env, "another password\n");
    assert_eq!(duplicate.status.code(), Some(1), "{}", stderr(&duplicate));
    assert!(stderr(&duplicate).contains("already exists"));

    // No flag and standard input not a terminal: exit 2 with a hint, nothing created.
    let no_tty = run_with_stdin(&["users", "add", "carol@example.com"], &env, "pw\n");
    assert_eq!(no_tty.status.code(), Some(2));
    assert!(stderr(&no_tty).contains("--password-stdin"));

    let weak = run_with_stdin(&["users", "add", "dave@example.com", "--password-stdin"], &env, "short\n");
    assert_eq!(weak.status.code(), Some(1));
    // SPEC §9.3: a local user's email is unverified unless the operator vouches for it.
    let vouched = run_with_stdin(
        &["users", "add", "erin@example.com", "--password-stdin", "--email-verified"],
        &env,
        "s3cret password\n",
    );
    assert!(vouched.status.success(), "{}", stderr(&vouched));

    let app_db = crate::common::open_db(db.url());
    let mut conn = app_db.get().unwrap();
    let bob = gatehouse::store::users::find_by_email(&mut conn, "bob@example.com").unwrap().unwrap();
    assert!(gatehouse::password::verify_password("s3cret password", bob.password_hash.as_deref().unwrap()));
    assert!(!bob.email_verified, "not vouched for");
    let erin = gatehouse::store::users::find_by_email(&mut conn, "erin@example.com").unwrap().unwrap();
    assert!(erin.email_verified);
    assert!(gatehouse::store::users::find_by_email(&mut conn, "carol@example.com").unwrap().is_none());
    let filter = gatehouse::store::audit::AuditFilter { event: Some("user.created".into()), ..Default::default() };
    let rows = gatehouse::store::audit::list(&mut conn, &filter, 10).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.actor == "cli"));
}

#[test]
fn nothing_on_standard_input_says_no_password_arrived() {
    // As `echo pw | docker exec CONTAINER gatehouse users add …` without -i: standard input empty.
    let db = crate::common::TestDb::new(crate::common::backend());
    let env = [("GATEHOUSE__DATABASE__URL", db.url())];
    let created = run_with_stdin(&["users", "add", "bob@example.com", "--password-stdin"], &env, "s3cret password\n");
    assert!(created.status.success(), "{}", stderr(&created));

    for (args, input) in [
        (["users", "add", "carol@example.com", "--password-stdin"], ""),
        (["users", "add", "carol@example.com", "--password-stdin"], "\n"),
        (["users", "set-password", "bob@example.com", "--password-stdin"], ""),
    ] {
        let output = run_with_stdin(&args, &env, input);
        assert_eq!(output.status.code(), Some(1), "{args:?} {input:?}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(err.contains("no password arrived on standard input"), "{args:?} {input:?}: {err}");
        assert!(err.contains("docker exec") && err.contains("-i"), "{err}");
        assert!(!err.contains("8 to 1024"), "{err}");
    }

    let app_db = crate::common::open_db(db.url());
    let mut conn = app_db.get().unwrap();
    assert!(gatehouse::store::users::find_by_email(&mut conn, "carol@example.com").unwrap().is_none());
    let bob = gatehouse::store::users::find_by_email(&mut conn, "bob@example.com").unwrap().unwrap();
    assert!(
        gatehouse::password::verify_password("s3cret password", bob.password_hash.as_deref().unwrap()),
        "the password stays"
    );
}

#[test]
fn logs_into_a_pipe_have_no_colour_codes() {
    // `docker logs` reads a pipe: text lines without ANSI escapes, even with NO_COLOR unset.
    let db = crate::common::TestDb::new(crate::common::backend());
    let output =
        gatehouse_command(&["migrate"], &[("GATEHOUSE__DATABASE__URL", db.url()), ("GATEHOUSE__LOG__FORMAT", "text")])
            .env_remove("NO_COLOR")
            .output()
            .expect("run gatehouse");
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("database migrated"), "the log line is there: {err}");
    assert!(!err.contains("\x1b["), "ANSI escapes in a pipe: {err:?}");
}

#[test]
fn clients_add_prints_the_client_id_of_a_manual_client() {
    let db = crate::common::TestDb::new(crate::common::backend());
    let env = [("GATEHOUSE__DATABASE__URL", db.url())];
    let output = run(
        &[
            "clients",
            "add",
            "--name",
            "My app",
            "--redirect-uri",
            "https://my.example/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
        ],
        &env,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let client_id = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let app_db = crate::common::open_db(db.url());
    let mut conn = app_db.get().unwrap();
    let client = gatehouse::store::clients::find(&mut conn, &client_id).unwrap().expect("the printed id exists");
    assert_eq!(client.source, gatehouse::store::clients::Source::Manual);
    assert_eq!(client.redirect_uris(), ["https://my.example/cb", "http://127.0.0.1/cb"]);
    let filter = gatehouse::store::audit::AuditFilter { event: Some("client.created".into()), ..Default::default() };
    assert_eq!(gatehouse::store::audit::list(&mut conn, &filter, 10).unwrap().len(), 1);

    let bad = run(&["clients", "add", "--name", "Bad", "--redirect-uri", "http://example.com/cb"], &env);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("http://example.com/cb"), "{}", stderr(&bad));
}
