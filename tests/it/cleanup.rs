//! Cleanup under an injected clock: exactly the stale self-registered clients go, manual,
//! in-use and fresh clients stay, expired artefacts are purged; a dry run changes nothing;
//! concurrent runs neither fail nor double-audit.

use serde_json::Value;

use crate::common::flow::*;
use crate::common::{backend, TestApp, TestDb};
use crate::register::{audit_rows, client_count};
use gatehouse::store::audit::Actor;
use gatehouse::store::clients;

const REDIRECT: &str = "https://app.example/callback";
const DAY: i64 = 86_400;

async fn cleanup(app: &TestApp, dry_run: bool) -> gatehouse::cleanup::CleanupReport {
    let settings = app.settings();
    let now = app.clock_now();
    app.with_db(move |c| Ok(gatehouse::cleanup::run(c, &settings, now, Actor::System, dry_run))).await
}

async fn exists(app: &TestApp, id: &str) -> bool {
    let id = id.to_string();
    app.with_db(move |c| Ok(clients::find(c, &id)?)).await.is_some()
}

#[actix_web::test]
async fn removes_exactly_the_stale_clients_and_purges_expired_artefacts() {
    let app = TestApp::spawn().await;
    create_user(&app, "alice@example.com").await;
    let never_used = dcr_client(&app, &["https://never.example/cb"]).await;
    let manual = manual_client(&app, &["https://manual.example/cb"]).await;
    let used_long_ago = dcr_client(&app, &["https://old.example/cb"]).await;
    let in_use = dcr_client(&app, &[REDIRECT]).await;

    // `used_long_ago` is used on day 1 (a flow, no refresh grant kept: the client was denied).
    app.clock.advance(DAY);
    let b = browser();
    let p = pkce();
    let consent = app
        .sign_in_to_consent(
            &b,
            &authorize_query(&used_long_ago, "https://old.example/cb", &p.challenge, &[]),
            "alice@example.com",
        )
        .await;
    app.decide(&b, &consent, "deny").await;
    // `in_use` holds a live refresh family (30-day lifetime by default: extend it).
    app.update_settings(|s| s.tokens.refresh_token_ttl_secs = 90 * DAY as u64);
    let code =
        app.authorization_code(&b, &authorize_query(&in_use, REDIRECT, &p.challenge, &[]), "alice@example.com").await;
    let (status, _) = app.exchange_code(&in_use, REDIRECT, &code, &p.verifier).await;
    assert_eq!(status, 200);
    // And a code never redeemed.
    app.authorization_code(&b, &authorize_query(&in_use, REDIRECT, &p.challenge, &[]), "alice@example.com").await;

    // Day 35: past the 30-day retention for all but the fresh registration below.
    app.clock.advance(34 * DAY);
    let fresh = dcr_client(&app, &["https://fresh.example/cb"]).await;

    let dry = cleanup(&app, true).await;
    let mut would: Vec<&str> = dry.clients.iter().map(|c| c.client_id.as_str()).collect();
    would.sort();
    let mut expected = vec![never_used.as_str(), used_long_ago.as_str()];
    expected.sort();
    assert_eq!(would, expected);
    assert!(dry.clients.iter().any(|c| c.reason.starts_with("never used")));
    assert!(dry.clients.iter().any(|c| c.reason.starts_with("unused for more than 30 days")));
    assert_eq!(dry.purged.authorization_codes, 1, "the unused code, not the used one: {:?}", dry.purged);
    assert!(dry.purged.sessions >= 1, "{:?}", dry.purged);
    assert_eq!(client_count(&app).await, 5, "a dry run changes nothing");
    assert!(audit_rows(&app, "client.cleanup.removed").await.is_empty());

    let report = cleanup(&app, false).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.clients.len(), 2);
    assert!(!exists(&app, &never_used).await && !exists(&app, &used_long_ago).await);
    assert!(exists(&app, &manual).await && exists(&app, &in_use).await && exists(&app, &fresh).await);
    let removed = audit_rows(&app, "client.cleanup.removed").await;
    assert_eq!(removed.len(), 2);
    let detail: Value = serde_json::from_str(&removed[0].detail).unwrap();
    assert!(detail["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(removed[0].actor, "system");
    let counts = app
        .with_db(|c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::{auth_requests, authorization_codes, sessions};
            let codes: i64 = authorization_codes::table.count().get_result(c)?;
            let requests: i64 = auth_requests::table.count().get_result(c)?;
            let sessions: i64 = sessions::table.count().get_result(c)?;
            Ok((codes, requests, sessions))
        })
        .await;
    // The used code stays while the grant it started may live: a late replay still revokes it.
    assert_eq!(counts, (1, 0, 0), "expired unused codes, requests and sessions purged");

    // A second run finds nothing more.
    let again = cleanup(&app, false).await;
    assert!(again.clients.is_empty());
    assert_eq!(audit_rows(&app, "client.cleanup.removed").await.len(), 2);
}

#[actix_web::test]
async fn purges_old_audit_rows_and_rate_limit_windows() {
    let app = TestApp::spawn_with(|s| s.audit.retention_days = 10).await;
    dcr_client(&app, &[REDIRECT]).await;
    app.clock.advance(11 * DAY);
    let report = cleanup(&app, false).await;
    assert_eq!(report.purged.audit_events, 1);
    assert_eq!(report.purged.rate_limit_windows, 1);
    assert!(audit_rows(&app, "client.dcr.registered").await.is_empty());
}

#[actix_web::test]
async fn purges_login_failure_counters_after_a_day() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    app.with_db(move |c| Ok(gatehouse::store::users::record_failure(c, "some-account", now, now - 900)?)).await;
    assert_eq!(cleanup(&app, false).await.purged.login_failures, 0);
    app.clock.advance(DAY + 1);
    assert_eq!(cleanup(&app, false).await.purged.login_failures, 1);
}

#[actix_web::test]
async fn cleanup_of_an_empty_database() {
    let app = TestApp::spawn().await;
    let report = cleanup(&app, false).await;
    assert!(report.errors.is_empty() && report.clients.is_empty());
    assert_eq!(report.purged, gatehouse::cleanup::Purged::default());
}

#[actix_web::test]
async fn concurrent_cleanups_neither_fail_nor_double_audit() {
    let db = TestDb::new(backend());
    let a = TestApp::spawn_on(db.url(), "", |_| {}).await;
    let b = TestApp::spawn_on(db.url(), "", |_| {}).await;
    for n in 0..40 {
        dcr_client(&a, &[&format!("https://c{n}.example/cb")]).await;
    }
    a.clock.advance(31 * DAY);
    b.clock.advance(31 * DAY);
    let (ra, rb) = futures::join!(cleanup(&a, false), cleanup(&b, false));
    assert!(ra.errors.is_empty() && rb.errors.is_empty(), "{:?} {:?}", ra.errors, rb.errors);
    assert_eq!(ra.clients.len() + rb.clients.len(), 40, "each client removed once");
    assert_eq!(audit_rows(&a, "client.cleanup.removed").await.len(), 40);
    assert_eq!(client_count(&a).await, 0);
}

#[actix_web::test]
async fn cleanup_from_the_admin_api_and_the_cli() {
    let token = "0123456789abcdef0123456789abcdef";
    let app = TestApp::spawn_with(|s| s.admin.token = token.into()).await;
    let stale = dcr_client(&app, &[REDIRECT]).await;
    app.clock.advance(31 * DAY);
    let dry: Value = app
        .http
        .post(app.url("/admin/api/cleanup?dry_run=true"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["clients"][0]["client_id"], stale);
    assert!(exists(&app, &stale).await);

    // The CLI runs on real time: its dry run sees nothing stale yet, and changes nothing.
    let url = app.db.as_ref().unwrap().url().to_string();
    let output =
        crate::common::process::run(&["cleanup", "--dry-run", "--json"], &[("GATEHOUSE__DATABASE__URL", &url)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert!(exists(&app, &stale).await);

    let done: Value =
        app.http.post(app.url("/admin/api/cleanup")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(done["clients"].as_array().unwrap().len(), 1);
    assert!(!exists(&app, &stale).await);
    assert_eq!(audit_rows(&app, "client.cleanup.removed").await[0].actor, "admin_api");
}

#[actix_web::test]
async fn purges_expired_refresh_grants_and_revoked_ones_a_day_later() {
    let app = TestApp::spawn().await;
    create_user(&app, "alice@example.com").await;
    // A manual client: cleanup never removes it, so its grants can only go by the purge.
    let client = manual_client(&app, &[REDIRECT]).await;
    let b = browser();
    let p = pkce();
    let query = authorize_query(&client, REDIRECT, &p.challenge, &[]);
    let mut refresh_tokens = Vec::new();
    for _ in 0..2 {
        let code = app.authorization_code(&b, &query, "alice@example.com").await;
        let (status, tokens) = app.exchange_code(&client, REDIRECT, &code, &p.verifier).await;
        assert_eq!(status, 200, "{tokens}");
        refresh_tokens.push(tokens["refresh_token"].as_str().unwrap().to_string());
    }
    let (status, _) = app.post_form("/revoke", &[("token", &refresh_tokens[0]), ("client_id", &client)]).await;
    assert_eq!(status, 200);

    assert_eq!(cleanup(&app, false).await.purged.refresh_families, 0, "revoked a moment ago, the other live");
    app.clock.advance(DAY + 1);
    assert_eq!(cleanup(&app, false).await.purged.refresh_families, 1, "revoked more than a day ago");
    let (status, _) = app.refresh_token(&client, &refresh_tokens[1]).await;
    assert_eq!(status, 200, "the live grant is untouched");
    app.clock.advance(31 * DAY);
    assert_eq!(cleanup(&app, false).await.purged.refresh_families, 1, "expired");
    assert_eq!(cleanup(&app, false).await.purged.refresh_families, 0);
}
