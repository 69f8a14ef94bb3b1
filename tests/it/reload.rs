//! Live reload: editing the file (or SIGHUP) flips registration on and off without a restart;
//! environment overrides survive; an invalid edit keeps the running settings; keys that need a
//! restart are reported, not applied.

use std::process::Command;
use std::time::{Duration, Instant};

use gatehouse::config::ConfigSource;
use gatehouse::reload::{reload, ReloadOutcome};

use crate::common::process::ServerProcess;
use crate::common::{backend, TestApp, TestDb};
use crate::register::audit_rows;

fn write(path: &std::path::Path, contents: &str) {
    // Replace the file as editors do (write a new one, rename over).
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[actix_web::test]
async fn reload_applies_valid_edits_and_keeps_settings_on_invalid_ones() {
    let db = TestDb::new(backend());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.toml");
    let app = TestApp::spawn_on(db.url(), "", |s| s.dcr.enabled = false).await;
    let base = format!(
        "issuer = {:?}\n[keys]\nencryption_key = {:?}\n[database]\nurl = {:?}\npool_size = 4\nconnect_timeout_ms = 500\n",
        app.issuer,
        app.settings().keys.encryption_key,
        db.url()
    );
    let source = ConfigSource::new(Some(path.clone()));

    write(&path, &format!("{base}[dcr]\nenabled = true\nmax_redirect_uris = 3\n"));
    let outcome = reload(&app.state, &source).await;
    let ReloadOutcome::Applied { changed, restart_required } = outcome else { panic!("expected applied: {outcome:?}") };
    assert!(
        changed.contains(&"dcr.enabled".to_string()) && changed.contains(&"dcr.max_redirect_uris".to_string()),
        "{changed:?}"
    );
    assert!(restart_required.is_empty());
    assert!(app.settings().dcr.enabled);
    let registered = app.post_json("/register", &serde_json::json!({"redirect_uris": ["https://a.example/cb"]})).await;
    assert_eq!(registered.status(), 201);
    let rows = audit_rows(&app, "config.reloaded").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].detail.contains("dcr.enabled"));

    // A syntax error: refused, the running settings stay.
    write(&path, &format!("{base}[dcr]\nenabled = fals\n"));
    assert!(matches!(reload(&app.state, &source).await, ReloadOutcome::Invalid(lines) if lines[0].contains("line")));
    assert!(app.settings().dcr.enabled);

    // database.url and server.bind need a restart: reported, not applied.
    write(&path, &format!("issuer = {:?}\n[database]\nurl = \"sqlite:///tmp/elsewhere.db\"\n[server]\nbind = \"127.0.0.1:1\"\n[dcr]\nenabled = true\nmax_redirect_uris = 3\n", app.issuer));
    let outcome = reload(&app.state, &source).await;
    let ReloadOutcome::Applied { restart_required, .. } = outcome else { panic!("{outcome:?}") };
    assert!(
        restart_required.contains(&"database.url".to_string()) && restart_required.contains(&"server.bind".to_string())
    );
    assert_eq!(app.settings().database.url, db.url());

    // So does the key that encrypts the signing keys: they were unlocked with the one at start.
    let key_settings = app.settings().keys.clone();
    let other_key = format!(
        "issuer = {:?}\n[keys]\nencryption_key_env = \"OTHER_KEY\"\n[database]\nurl = {:?}\npool_size = 4\n\
         connect_timeout_ms = 500\n[dcr]\nenabled = true\n",
        app.issuer,
        db.url()
    );
    write(&path, &other_key);
    let outcome = reload(&app.state, &source).await;
    let ReloadOutcome::Applied { restart_required, .. } = outcome else { panic!("{outcome:?}") };
    assert!(restart_required.contains(&"keys.encryption_key_env".to_string()), "{restart_required:?}");
    assert_eq!(app.settings().keys, key_settings);
}

async fn registration_status(http: &reqwest::Client, server: &ServerProcess) -> Option<(bool, u16)> {
    let doc: serde_json::Value = http
        .get(format!("{}/.well-known/oauth-authorization-server", server.issuer))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    assert_eq!(doc["issuer"], server.issuer, "the environment override survives every reload");
    let status = http
        .post(format!("{}/register", server.issuer))
        .header("content-type", "application/json")
        .body(r#"{"redirect_uris":["https://a.example/cb"]}"#)
        .send()
        .await
        .ok()?
        .status()
        .as_u16();
    Some((doc.get("registration_endpoint").is_some(), status))
}

/// Waits generously (a busy machine slows start-up and the file poll, and must not fail this).
async fn wait_for(http: &reqwest::Client, server: &ServerProcess, want: (bool, u16)) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if registration_status(http, server).await == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not reach {want:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The real binary: an edit of the file flips registration, then SIGHUP does too.
#[actix_web::test]
async fn editing_the_file_and_sighup_toggle_registration_live() {
    let db = TestDb::new(backend());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatehouse.toml");
    write(&config, "issuer = \"https://ignored.example\"\n[dcr]\nenabled = false\n");
    let server = ServerProcess::start(dir.path(), db.url(), &["--config", config.to_str().unwrap()], &[]);
    let http = crate::common::http_client().build().unwrap();
    wait_for(&http, &server, (false, 404)).await;

    write(&config, "issuer = \"https://ignored.example\"\n[dcr]\nenabled = true\n");
    wait_for(&http, &server, (true, 201)).await;

    // Change the file without changing its modification time, then signal.
    let mtime = std::fs::metadata(&config).unwrap().modified().unwrap();
    std::fs::write(&config, "issuer = \"https://ignored.example\"\n[dcr]\nenabled = false\n").unwrap();
    std::fs::File::options().write(true).open(&config).unwrap().set_modified(mtime).unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        registration_status(&http, &server).await,
        Some((true, 201)),
        "no reload without a new mtime or a signal"
    );
    let signalled = Command::new("kill").args(["-HUP", &server.child.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    wait_for(&http, &server, (false, 404)).await;
}

/// SPEC §9: live reload adds and removes providers; an invalid provider is refused with the
/// start-up messages and the running providers stay.
#[actix_web::test]
async fn reload_adds_and_removes_providers() {
    let db = TestDb::new(backend());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.toml");
    let app = TestApp::spawn_on(db.url(), "", |_| {}).await;
    let base = format!(
        "issuer = {:?}\n[keys]\nencryption_key = {:?}\n[database]\nurl = {:?}\npool_size = 4\nconnect_timeout_ms = 500\n",
        app.issuer,
        app.settings().keys.encryption_key,
        db.url()
    );
    let provider = "[[login.providers]]\nid = \"corp\"\nname = \"Corp\"\nissuer = \"https://idp.corp.example\"\n\
                    client_id = \"x\"\nclient_secret = \"y\"\nallowed_email_domains = [\"corp.example\"]\n";
    let source = ConfigSource::new(Some(path.clone()));
    write(&path, &format!("{base}{provider}"));
    assert!(matches!(reload(&app.state, &source).await, ReloadOutcome::Applied { .. }));
    assert_eq!(app.settings().login.providers[0].id, "corp");

    write(&path, &format!("{base}{}", provider.replace("allowed_email_domains = [\"corp.example\"]\n", "")));
    let outcome = reload(&app.state, &source).await;
    let ReloadOutcome::Invalid(lines) = outcome else { panic!("{outcome:?}") };
    assert!(lines.iter().any(|l| l.contains("anyone with a Corp account could sign in")), "{lines:?}");
    assert_eq!(app.settings().login.providers.len(), 1, "the running providers stay");

    write(&path, &base);
    assert!(matches!(reload(&app.state, &source).await, ReloadOutcome::Applied { .. }));
    assert!(app.settings().login.providers.is_empty());
}
