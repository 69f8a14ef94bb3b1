//! Operator controls: the admin API and the CLI over one service layer — listing, disabling,
//! enabling, revoking, deleting clients; users; the audit query.

use std::process::Output;

use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::process::{run, run_with_stdin};
use crate::common::{TestApp, TestDb};
use crate::register::audit_rows;

const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";
const REDIRECT: &str = "https://app.example/callback";

async fn admin_app() -> TestApp {
    TestApp::spawn_with(|s| s.admin.token = ADMIN_TOKEN.into()).await
}

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = app.http.request(method, app.url(&format!("/admin/api{path}"))).bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

fn cli(db_url: &str, args: &[&str]) -> Output {
    run(args, &[("GATEHOUSE__DATABASE__URL", db_url)])
}

fn db_url(app: &TestApp) -> String {
    app.db.as_ref().unwrap().url().to_string()
}

#[actix_web::test]
async fn admin_api_authentication() {
    let app = admin_app().await;
    let url = app.url("/admin/api/clients");
    let none = app.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let wrong = app.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let mut same_length = ADMIN_TOKEN.to_string();
    same_length.replace_range(0..1, "X");
    let near = app.http.get(&url).bearer_auth(&same_length).send().await.unwrap();
    assert_eq!(near.status(), 401);
    assert_eq!(near.json::<Value>().await.unwrap()["error"], "invalid_token");
    let (status, body, headers) = admin(&app, reqwest::Method::GET, "/clients", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.get("access-control-allow-origin").is_none());
    // No CORS, not even for a preflight.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn failed_admin_authentications_are_throttled_per_address() {
    let app = admin_app().await;
    for _ in 0..10 {
        let response = app.http.get(app.url("/admin/api/clients")).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
    let throttled = app.http.get(app.url("/admin/api/clients")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(throttled.status(), 429, "even the right token waits out the window");
    app.clock.advance(60);
    let (status, _, _) = admin(&app, reqwest::Method::GET, "/clients", None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn admin_api_is_off_without_a_token() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/admin/api/clients")).bearer_auth("anything").send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[test]
fn a_short_admin_token_is_refused_at_load() {
    let problems = gatehouse::config::Settings {
        admin: gatehouse::config::AdminSettings { token: "short".into(), bind: String::new() },
        ..Default::default()
    }
    .validate();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("admin.token:"));
}

#[actix_web::test]
async fn disable_stops_everything_at_once_and_enable_restores_new_flows() {
    let app = admin_app().await;
    // A grant with a refresh token, and an unredeemed code.
    let Grant { client, p, b, query, tokens } = grant_for(&app, "alice@example.com").await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let pending_code = app.authorization_code(&b, &query, "alice@example.com").await;

    let (status, body, _) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/clients/{client}/disable"),
        Some(json!({"reason": "abuse report 17"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessions_revoked"], 1);
    assert_eq!(body["default_reason_used"], false);
    // Authorize: a page. Code exchange and refresh: invalid_grant.
    let start = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 400);
    let (status, _) = exchange(&app, &client, &pending_code, &p.verifier).await;
    assert_eq!(status, 400);
    let (status, _) = refresh_with(&app, &client, &refresh).await;
    assert_eq!(status, 400);
    // Idempotent.
    let (status, again, _) = admin(&app, reqwest::Method::POST, &format!("/clients/{client}/disable"), None).await;
    assert_eq!(status, 200);
    assert_eq!(again["already_disabled"], true);
    assert_eq!(again["reason"], "abuse report 17", "disabling again without a reason keeps the reason");
    assert_eq!(again["default_reason_used"], false);

    let (status, _, _) = admin(&app, reqwest::Method::POST, &format!("/clients/{client}/enable"), None).await;
    assert_eq!(status, 200);
    let code = app.authorization_code(&b, &query, "alice@example.com").await;
    let (status, _) = exchange(&app, &client, &code, &p.verifier).await;
    assert_eq!(status, 200, "new flows work again");
    let (status, _) = refresh_with(&app, &client, &refresh).await;
    assert_eq!(status, 400, "revoked families stay revoked");

    let events: Vec<String> = audit_rows(&app, "client.disabled").await.iter().map(|r| r.actor.clone()).collect();
    assert_eq!(events, vec!["admin_api", "admin_api"]);
    assert_eq!(audit_rows(&app, "client.enabled").await.len(), 1);
}

/// What several tests start from: a user, a DCR client and one finished grant (a refresh token).
struct Grant {
    client: String,
    p: Pkce,
    b: reqwest::Client,
    query: String,
    tokens: Value,
}

async fn grant_for(app: &TestApp, email: &str) -> Grant {
    create_user(app, email).await;
    let client = dcr_client(app, &[REDIRECT]).await;
    let p = pkce();
    let b = browser();
    let query = authorize_query(&client, REDIRECT, &p.challenge, &[]);
    let code = app.authorization_code(&b, &query, email).await;
    let (_, tokens) = exchange(app, &client, &code, &p.verifier).await;
    Grant { client, p, b, query, tokens }
}

async fn exchange(app: &TestApp, client: &str, code: &str, verifier: &str) -> (u16, Value) {
    app.exchange_code(client, REDIRECT, code, verifier).await
}

async fn refresh_with(app: &TestApp, client: &str, token: &str) -> (u16, Value) {
    app.refresh_token(client, token).await
}

#[actix_web::test]
async fn revoke_sessions_kills_refresh_and_delete_removes_dependants_but_not_history() {
    let app = admin_app().await;
    let Grant { client, query, tokens, .. } = grant_for(&app, "alice@example.com").await;

    let (status, body, _) = admin(&app, reqwest::Method::GET, &format!("/clients/{client}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["active_sessions"], 1);
    assert!(body["recent_audit"].as_array().unwrap().iter().any(|e| e["event"] == "client.dcr.registered"));

    let (status, body, _) =
        admin(&app, reqwest::Method::POST, &format!("/clients/{client}/revoke-sessions"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["revoked"], 1);
    let (status, _) = refresh_with(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(audit_rows(&app, "client.sessions_revoked").await.len(), 1);

    // A sign-in left half-way: a pending authorization request.
    let pending = app.get_with(&browser(), &format!("{}/authorize?{query}", app.issuer)).await;
    assert!(location(&pending).contains("/login"));

    let (status, _, _) = admin(&app, reqwest::Method::DELETE, &format!("/clients/{client}"), None).await;
    assert_eq!(status, 204);
    let (status, body, _) = admin(&app, reqwest::Method::GET, &format!("/clients/{client}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let id = client.clone();
    let leftovers = app
        .with_db(move |c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::{auth_requests, authorization_codes, refresh_families, registration_tokens};
            let codes: i64 =
                authorization_codes::table.filter(authorization_codes::client_id.eq(&id)).count().get_result(c)?;
            let families: i64 =
                refresh_families::table.filter(refresh_families::client_id.eq(&id)).count().get_result(c)?;
            let tokens: i64 =
                registration_tokens::table.filter(registration_tokens::client_id.eq(&id)).count().get_result(c)?;
            let requests: i64 = auth_requests::table.filter(auth_requests::client_id.eq(&id)).count().get_result(c)?;
            Ok(codes + families + tokens + requests)
        })
        .await;
    assert_eq!(leftovers, 0);
    let (_, history, _) = admin(&app, reqwest::Method::GET, &format!("/audit?client={client}"), None).await;
    let events: Vec<&str> = history["items"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events.first(), Some(&"client.deleted"));
    assert!(events.contains(&"client.dcr.registered"), "history kept: {events:?}");
}

#[actix_web::test]
async fn unknown_ids_are_404_with_a_json_body() {
    let app = admin_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/clients/dcr_nope"),
        (reqwest::Method::POST, "/clients/dcr_nope/disable"),
        (reqwest::Method::POST, "/clients/dcr_nope/enable"),
        (reqwest::Method::POST, "/clients/dcr_nope/revoke-sessions"),
        (reqwest::Method::DELETE, "/clients/dcr_nope"),
    ] {
        let (status, body, _) = admin(&app, method.clone(), path, None).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(body["error"], "not_found", "{method} {path}");
    }
    // Audit details served by the API never contain null (a 415 refusal has no submitted body).
    app.http.post(app.url("/register")).header("content-type", "text/plain").body("x").send().await.unwrap();
    let (_, audit, _) = admin(&app, reqwest::Method::GET, "/audit", None).await;
    assert!(!audit["items"].as_array().unwrap().is_empty());
    crate::common::assert_no_nulls(&audit);
    let (status, body, _) = admin(&app, reqwest::Method::GET, "/audit?since=yesterday", None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
}

#[actix_web::test]
async fn list_filters_and_pages() {
    let app = admin_app().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(dcr_client(&app, &[&format!("https://app{n}.example/cb")]).await);
        app.clock.advance(1);
    }
    let manual = manual_client(&app, &[REDIRECT]).await;
    let (_, body, _) = admin(&app, reqwest::Method::POST, &format!("/clients/{}/disable", ids[0]), None).await;
    assert_eq!(body["client_id"], ids[0].as_str());

    let (_, page, _) = admin(&app, reqwest::Method::GET, "/clients?limit=4", None).await;
    let first: Vec<&str> = page["items"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(first.len(), 4);
    assert_eq!(first[0], manual, "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest, _) = admin(&app, reqwest::Method::GET, &format!("/clients?limit=4&cursor={cursor}"), None).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest.get("next_cursor").is_none());

    let (_, dcr, _) = admin(&app, reqwest::Method::GET, "/clients?source=dcr&status=active", None).await;
    assert_eq!(dcr["items"].as_array().unwrap().len(), 4);
    let item = &dcr["items"][0];
    for field in [
        "client_id",
        "source",
        "status",
        "client_name",
        "redirect_uris",
        "redirect_hosts",
        "created_at",
        "registrant_address",
    ] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert!(item.get("last_seen_at").is_none(), "never used: omitted, not null");

    // Stale: never used and older than the retention.
    app.clock.advance(31 * 86_400);
    let (_, stale, _) = admin(&app, reqwest::Method::GET, "/clients?stale=true", None).await;
    assert_eq!(stale["items"].as_array().unwrap().len(), 5, "the five DCR clients, not the manual one");
    let (status, _, _) = admin(&app, reqwest::Method::GET, "/clients?source=nope", None).await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn cli_and_api_give_the_same_answers() {
    let app = admin_app().await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let url = db_url(&app);
    let list = cli(&url, &["clients", "list", "--json"]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let from_cli: Value = serde_json::from_slice(&list.stdout).expect("--json is JSON");
    let (_, from_api, _) = admin(&app, reqwest::Method::GET, "/clients", None).await;
    assert_eq!(from_cli, from_api["items"]);

    let show = cli(&url, &["clients", "show", &client, "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    let (_, api_shown, _) = admin(&app, reqwest::Method::GET, &format!("/clients/{client}"), None).await;
    assert_eq!(shown["client_id"], api_shown["client_id"]);
    assert_eq!(shown["metadata"], api_shown["metadata"]);
    // Everything stored: the deduplication fingerprint too (SHA-256, hex).
    assert_eq!(shown["fingerprint"].as_str().map(str::len), Some(64), "{shown}");
    assert_eq!(shown["fingerprint"], api_shown["fingerprint"]);

    // The table shows the full client id.
    let table = cli(&url, &["clients", "list"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains(&client));

    // Disable without a reason: the default, and the CLI says so; audited as the CLI.
    let disabled = cli(&url, &["clients", "disable", &client]);
    assert!(disabled.status.success());
    assert!(String::from_utf8_lossy(&disabled.stderr).contains("no --reason given"));
    let rows = audit_rows(&app, "client.disabled").await;
    assert_eq!(rows[0].actor, "cli");
    assert!(rows[0].detail.contains(gatehouse::operator::DEFAULT_DISABLE_REASON));
    let count = cli(&url, &["clients", "revoke-sessions", &client]);
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "0");

    // Unknown ids: exit 1, one line on stderr.
    for args in [
        vec!["clients", "show", "dcr_nope"],
        vec!["clients", "disable", "dcr_nope"],
        vec!["clients", "delete", "dcr_nope"],
        vec!["users", "disable", "nobody@example.com"],
    ] {
        let output = cli(&url, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    let garbage = cli(&url, &["audit", "--since", "last tuesday"]);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("--since"));

    // Accepted and rejected registrations are both visible in the audit query.
    app.post_json("/register", &json!({"redirect_uris": ["http://example.com/cb"]})).await;
    // The CLI runs on real time and the app on the test clock: an absolute --since.
    let audit = cli(&url, &["audit", "--json", "--since", "2026-01-01T00:00:00Z"]);
    let entries: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let events: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"client.dcr.registered") && events.contains(&"client.dcr.rejected"), "{events:?}");
}

#[actix_web::test]
async fn users_disable_ends_sessions_and_set_password_is_audited() {
    let app = admin_app().await;
    let Grant { client, p, b, query, tokens } = grant_for(&app, "alice@example.com").await;
    let pending_code = app.authorization_code(&b, &query, "alice@example.com").await;
    let url = db_url(&app);

    let list = cli(&url, &["users", "list", "--json"]);
    let users: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(users[0]["email"], "alice@example.com");
    assert_eq!(users[0]["status"], "active");

    let disabled = cli(&url, &["users", "disable", "alice@example.com"]);
    assert!(disabled.status.success(), "{}", String::from_utf8_lossy(&disabled.stderr));
    let (status, _) = refresh_with(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "refresh families revoked");
    let (status, _) = exchange(&app, &client, &pending_code, &p.verifier).await;
    assert_eq!(status, 400, "a code issued before the disable gives nothing");
    let again = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    assert!(location(&again).contains("/login"), "the session has ended");
    assert_eq!(audit_rows(&app, "user.disabled").await.len(), 1);

    let set = run_with_stdin(
        &["users", "set-password", "alice@example.com", "--password-stdin"],
        &[("GATEHOUSE__DATABASE__URL", &url)],
        "a brand new password\n",
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert_eq!(audit_rows(&app, "user.password_changed").await.len(), 1);
}

/// A password reset signs the thief out (SPEC §11): `users set-password` ends the user's
/// sessions, revokes their refresh grants and deletes their unredeemed codes, like `users
/// disable`, and audits `user.sessions_ended`. The new password signs in; the old one does not.
#[actix_web::test]
async fn users_set_password_ends_sessions_grants_and_codes() {
    let app = admin_app().await;
    let Grant { client, p, b, query, tokens } = grant_for(&app, "alice@example.com").await;
    let pending_code = app.authorization_code(&b, &query, "alice@example.com").await;
    let url = db_url(&app);

    let set = run_with_stdin(
        &["users", "set-password", "alice@example.com", "--password-stdin"],
        &[("GATEHOUSE__DATABASE__URL", &url)],
        "a brand new password\n",
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let said = String::from_utf8_lossy(&set.stdout);
    assert!(said.contains("1 session(s) ended, 1 refresh grant(s) revoked, 1 unredeemed code(s) deleted"), "{said}");

    let (status, body) = refresh_with(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "the refresh grant is revoked");
    let (status, _) = exchange(&app, &client, &pending_code, &p.verifier).await;
    assert_eq!(status, 400, "a code issued before the reset gives nothing");
    let again = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    let login = location(&again);
    assert!(login.contains("/login"), "the session has ended: {login}");

    assert_eq!(audit_rows(&app, "user.password_changed").await.len(), 1);
    let ended = audit_rows(&app, "user.sessions_ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].actor, "cli");
    let detail: Value = serde_json::from_str(&ended[0].detail).unwrap();
    assert_eq!(detail["reason"], "password changed");
    assert_eq!((detail["sessions_ended"].as_u64(), detail["families_revoked"].as_u64()), (Some(1), Some(1)));
    assert_eq!(detail["codes_deleted"], 1);

    // The old password no longer signs in; the new one does.
    let form = app.get_with(&b, &login).await.text().await.unwrap();
    let old = app.submit_login(&b, &form, "alice@example.com", PASSWORD).await;
    assert_eq!(old.status(), 401);
    let form = old.text().await.unwrap();
    let new = app.submit_login(&b, &form, "alice@example.com", "a brand new password").await;
    assert_eq!(new.status(), 303);
    assert!(location(&new).contains("/consent"));
}

#[actix_web::test]
async fn admin_api_adds_manual_clients() {
    let app = admin_app().await;
    let (status, body, _) = admin(
        &app,
        reqwest::Method::POST,
        "/clients",
        Some(json!({"name": "Ops app", "redirect_uris": ["https://ops.example/cb"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["source"], "manual");
    let rows = audit_rows(&app, "client.created").await;
    assert_eq!(rows[0].actor, "admin_api");
    let (status, _, _) = admin(
        &app,
        reqwest::Method::POST,
        "/clients",
        Some(json!({"name": "Bad", "redirect_uris": ["http://example.com/cb"]})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = admin(&app, reqwest::Method::POST, "/clients", Some(json!(["not an object"]))).await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn admin_bind_serves_the_api_apart_from_the_public_listener() {
    let db = TestDb::new(crate::common::backend());
    let (app, admin_addr) = TestApp::spawn_with_admin_listener(db.url(), ADMIN_TOKEN).await;
    let on_admin =
        app.http.get(format!("http://{admin_addr}/admin/api/clients")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(on_admin.status(), 200);
    let metrics = app.http.get(format!("http://{admin_addr}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let on_public = app.http.get(app.url("/admin/api/clients")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(on_public.status(), 404);
    assert_eq!(app.http.get(app.url("/metrics")).send().await.unwrap().status(), 404);
}

/// A wrong method on the admin API is a JSON `method_not_allowed`, like `/token`'s — after the
/// token check, so a stranger learns nothing about which routes and methods exist.
#[actix_web::test]
async fn admin_api_method_errors_are_json_after_the_token_check() {
    use reqwest::Method;
    let app = admin_app().await;
    let wrong = [
        (Method::PUT, "/clients", "GET, POST"),
        (Method::GET, "/cleanup", "POST"),
        (Method::PATCH, "/clients/dcr_x", "GET, DELETE"),
        (Method::GET, "/clients/dcr_x/disable", "POST"),
        (Method::DELETE, "/audit", "GET"),
    ];
    for (method, path, _) in &wrong {
        let response = app.http.request(method.clone(), app.url(&format!("/admin/api{path}"))).send().await.unwrap();
        assert_eq!(response.status(), 401, "{method} {path} without a token");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_token", "{method} {path}");
    }
    for (method, path, allow) in wrong {
        let (status, body, headers) = admin(&app, method.clone(), path, None).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
        assert!(body["error_description"].is_string(), "{body}");
        assert_eq!(headers["allow"], allow, "{method} {path}");
        assert_eq!(headers["cache-control"], "no-store");
    }
    // A path that names nothing: 401 without the token, a JSON 404 with it.
    let response = app.http.get(app.url("/admin/api/nothing")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let (status, body, _) = admin(&app, Method::GET, "/nothing", None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");

    // With the admin API off, every method is the same JSON 404.
    let off = TestApp::spawn().await;
    let response = off.http.put(off.url("/admin/api/clients")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "not_found");
}
