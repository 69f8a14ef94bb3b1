//! SPEC §11 over the real HTTP surface: consent names app-link redirects truthfully, `/metrics`
//! asks for the admin token on the public listener, pending requests are limited and purged,
//! cookies carry `__Host-` on an https issuer without a path, `/favicon.ico` answers, and the
//! warnings of `config check` and start-up.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::flow::*;
use crate::common::process::{gatehouse_command, run};
use crate::common::{backend, TestApp, TestDb, ADMIN_TOKEN};

const WEB_REDIRECT: &str = "https://app.example/callback";

// ---- Consent: a private-use redirect is an app on this device, named by scheme and authority ----

#[actix_web::test]
async fn consent_names_a_private_use_redirect_as_an_app_with_its_full_scheme_and_authority() {
    let app = TestApp::spawn_with(|s| s.dcr.private_use_schemes = vec!["myapp".into()]).await;
    create_user(&app, "alice@example.com").await;
    let client = dcr_client(&app, &["myapp://claude.ai/api/mcp/auth_callback", WEB_REDIRECT]).await;

    let b = browser();
    let query = authorize_query(&client, "myapp://claude.ai/api/mcp/auth_callback", &pkce().challenge, &[]);
    let consent = app.sign_in_to_consent(&b, &query, "alice@example.com").await;
    assert!(
        consent.contains(
            "the answer goes to an app on this device that handles <code>myapp:</code> links, at \
             <strong><code>myapp://claude.ai</code></strong>"
        ),
        "{consent}"
    );
    assert!(!consent.contains("<code>claude.ai</code>"), "never the bare authority, as if a web host: {consent}");
    assert!(!consent.contains("sent to"), "{consent}");

    // A web redirect of the same client is still named by its host.
    let query = authorize_query(&client, WEB_REDIRECT, &pkce().challenge, &[]);
    let consent = app.sign_in_to_consent(&b, &query, "alice@example.com").await;
    assert!(consent.contains("you will be sent to <strong><code>app.example</code></strong>"), "{consent}");
    assert!(!consent.contains("an app on this device"), "{consent}");

    // The error page for an unregistered app link names it the same way.
    let query = authorize_query(&client, "myapp://evil.example/cb", &pkce().challenge, &[]);
    let refused = app.get_with(&browser(), &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(refused.status(), 400);
    let page = refused.text().await.unwrap();
    assert!(page.contains("handles <code>myapp:</code> links, at <strong><code>myapp://evil.example</code>"), "{page}");
}

// ---- /metrics: the admin token on the public listener ----

#[actix_web::test]
async fn metrics_on_the_public_listener_need_the_admin_token() {
    let app = TestApp::spawn_with(|s| s.admin.token = ADMIN_TOKEN.into()).await;
    dcr_client(&app, &[WEB_REDIRECT]).await; // something to count
    let url = app.url("/metrics");
    let anonymous = app.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert!(!anonymous.text().await.unwrap().contains("gatehouse_"), "no counters without the token");
    let wrong = app.http.get(&url).bearer_auth("0123456789abcdef0123456789abcdef-wrong!!").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app.http.get(&url).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert!(right.text().await.unwrap().contains("gatehouse_dcr_registrations_total"));

    // No admin token: no /metrics on the public listener at all.
    let closed = TestApp::spawn().await;
    let response = closed.http.get(closed.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

/// On `admin.bind` the listener itself is the protection: `/metrics` is open there.
#[actix_web::test]
async fn metrics_on_the_admin_listener_are_open() {
    let db = TestDb::new(backend());
    let (app, admin_addr) = TestApp::spawn_with_admin_listener(db.url(), ADMIN_TOKEN).await;
    dcr_client(&app, &[WEB_REDIRECT]).await; // something to count
    let open = app.http.get(format!("http://{admin_addr}/metrics")).send().await.unwrap();
    assert_eq!(open.status(), 200);
    assert!(open.text().await.unwrap().contains("gatehouse_dcr_registrations_total"));
}

// ---- Warnings: config check and start-up ----

fn config_file(contents: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(file.path(), contents).unwrap();
    file
}

fn config_check_stderr(contents: &str) -> String {
    let file = config_file(contents);
    let output = run(&["config", "check", "--config", file.path().to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Behind a proxy every user shares one sign-in window, DCR or not: `config check` says so.
#[test]
fn config_check_warns_about_an_https_issuer_without_trusted_proxies_with_dcr_off() {
    let warned = config_check_stderr("issuer = \"https://auth.example.net\"\n[dcr]\nenabled = false\n");
    assert!(warned.contains("server.trusted_proxies is empty"), "{warned}");
    assert!(warned.contains("sign-in window"), "{warned}");
    let with_proxies = config_check_stderr(
        "issuer = \"https://auth.example.net\"\n[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n[dcr]\nenabled = false\n",
    );
    assert!(!with_proxies.contains("trusted_proxies"), "{with_proxies}");
    let loopback = config_check_stderr("issuer = \"http://localhost:8080\"\n");
    assert!(!loopback.contains("trusted_proxies"), "{loopback}");
}

#[test]
fn config_check_warns_about_an_admin_token_without_admin_bind() {
    let warned = config_check_stderr(&format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\n"));
    assert!(warned.contains("admin.token is set without admin.bind"), "{warned}");
    let bound = config_check_stderr(&format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\nbind = \"127.0.0.1:9\"\n"));
    assert!(!bound.contains("admin.bind"), "{bound}");
}

/// `serve` with an admin token and no `admin.bind` says at start that the admin API and
/// `/metrics` are on the public listener.
#[actix_web::test]
async fn serve_warns_at_start_about_an_admin_token_without_admin_bind() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{port}");
    let issuer = format!("http://{bind}");
    let db = format!("sqlite://{}/gh.db", dir.path().display());
    let log = dir.path().join("stderr.log");
    let mut child = gatehouse_command(
        &["serve"],
        &[
            ("GATEHOUSE__ISSUER", &issuer),
            ("GATEHOUSE__SERVER__BIND", &bind),
            ("GATEHOUSE__DATABASE__URL", &db),
            ("GATEHOUSE__ADMIN__TOKEN", ADMIN_TOKEN),
        ],
    )
    .current_dir(dir.path())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    // Generous: the machine may be busy. The warning comes before the listener opens.
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = crate::common::http_client().build().unwrap();
    while http.get(format!("{issuer}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut logged = String::new();
    std::fs::File::open(&log).unwrap().read_to_string(&mut logged).unwrap();
    assert!(logged.contains("admin.token is set without admin.bind"), "{logged}");
    assert!(logged.contains("WARN"), "{logged}");
}

// ---- Pending authorization requests: limited per address for browsers without a session ----

async fn pending_rows(app: &TestApp) -> i64 {
    app.with_db(|c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::auth_requests;
        Ok(auth_requests::table.count().get_result(c)?)
    })
    .await
}

/// `/authorize` from a fresh browser (no cookies), from `address` (believed: loopback is a
/// trusted proxy in these tests).
async fn fresh_authorize(app: &TestApp, query: &str, address: &str) -> reqwest::Response {
    browser().get(format!("{}/authorize?{query}", app.issuer)).header("x-forwarded-for", address).send().await.unwrap()
}

#[actix_web::test]
async fn pending_requests_are_limited_per_address_for_browsers_without_a_session() {
    let app = TestApp::spawn_with(|s| {
        s.server.pending_requests_per_minute = 3;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    create_user(&app, "alice@example.com").await;
    let client = dcr_client(&app, &[WEB_REDIRECT]).await;
    let query = authorize_query(&client, WEB_REDIRECT, &pkce().challenge, &[]);

    // A browser signs in: its first request counted (it had no session yet).
    let signed_in = browser();
    let start = app.get_with(&signed_in, &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 303);
    let form = app.get_with(&signed_in, &location(&start)).await.text().await.unwrap();
    let done = app.submit_login(&signed_in, &form, "alice@example.com", PASSWORD).await;
    assert_eq!(done.status(), 303);

    // Two more strangers from the same address fill the minute; the next one is refused.
    for _ in 0..2 {
        let response = fresh_authorize(&app, &query, "127.0.0.1").await;
        assert_eq!(response.status(), 303);
        assert!(location(&response).contains("/login"));
    }
    let before = pending_rows(&app).await;
    let refused = fresh_authorize(&app, &query, "127.0.0.1").await;
    assert_eq!(refused.status(), 429);
    let retry_after: i64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(refused.headers().get("location").is_none());
    assert!(refused.headers().get("set-cookie").is_none(), "nothing started, nothing bound");
    assert_eq!(refused.headers()["cache-control"], "no-store");
    assert!(refused.text().await.unwrap().contains("Too many sign-in requests"));
    assert_eq!(pending_rows(&app).await, before, "a refused request stores nothing");

    // A browser with a live session is never counted.
    for _ in 0..5 {
        let again = app.get_with(&signed_in, &format!("{}/authorize?{query}", app.issuer)).await;
        assert_eq!(again.status(), 303);
        assert!(location(&again).contains("/consent"));
    }
    // Another address has its own count.
    assert_eq!(fresh_authorize(&app, &query, "203.0.113.9").await.status(), 303);
    // The next minute starts afresh.
    app.clock.advance(60);
    assert_eq!(fresh_authorize(&app, &query, "127.0.0.1").await.status(), 303);
    // 0 turns the limit off.
    app.update_settings(|s| s.server.pending_requests_per_minute = 0);
    for _ in 0..5 {
        assert_eq!(fresh_authorize(&app, &query, "127.0.0.1").await.status(), 303);
    }
}

/// Expired pending requests, codes, sessions and rate-limit windows are purged every
/// `maintenance.purge_interval_secs`, with DCR cleanup switched off.
#[actix_web::test]
async fn expired_requests_codes_sessions_and_windows_are_purged_without_dcr_cleanup() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.cleanup_enabled = false;
        s.maintenance.purge_interval_secs = 1;
    })
    .await;
    create_user(&app, "alice@example.com").await;
    let client = dcr_client(&app, &[WEB_REDIRECT]).await;
    let query = authorize_query(&client, WEB_REDIRECT, &pkce().challenge, &[]);
    // A code never redeemed, a session, pending requests (one left half-way), windows.
    let b = browser();
    let _code = app.authorization_code(&b, &query, "alice@example.com").await;
    fresh_authorize(&app, &query, "127.0.0.1").await;
    let counts = || async {
        app.with_db(|c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::{auth_requests, authorization_codes, rate_limit_windows, sessions};
            Ok([
                auth_requests::table.count().get_result::<i64>(c)?,
                authorization_codes::table.count().get_result::<i64>(c)?,
                sessions::table.count().get_result::<i64>(c)?,
                rate_limit_windows::table.count().get_result::<i64>(c)?,
            ])
        })
        .await
    };
    let before = counts().await;
    assert!(before.iter().all(|n| *n > 0), "requests, codes, sessions, windows: {before:?}");

    // Everything has expired two days later; the job runs every second (real time).
    app.clock.advance(2 * 86_400);
    gatehouse::jobs::spawn_purge(app.state.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = counts().await;
        if now == [0, 0, 0, 0] {
            break;
        }
        assert!(Instant::now() < deadline, "not purged: requests, codes, sessions, windows = {now:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    // The purge is not a cleanup: the client and the audit trail stay.
    let id = client.clone();
    assert!(app.with_db(move |c| Ok(gatehouse::store::clients::find(c, &id)?)).await.is_some());
    assert!(!crate::register::audit_rows(&app, "client.dcr.registered").await.is_empty());
}

// ---- Cookies: __Host- on an https issuer without a path ----

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// `name=value` of a Set-Cookie header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[actix_web::test]
async fn cookies_are_host_prefixed_for_an_https_issuer_without_a_path() {
    let db = TestDb::new(backend());
    // The issuer is only a string to the server: requests go to the loopback listener.
    let app = TestApp::spawn_on(db.url(), "", |s| s.issuer = "https://auth.example.test".into()).await;
    create_user(&app, "alice@example.com").await;
    let client = manual_client(&app, &["https://own.example/cb"]).await;
    let p = pkce();
    let http = &app.http;

    let query = authorize_query(&client, "https://own.example/cb", &p.challenge, &[]);
    let start = http.get(format!("{}/authorize?{query}", app.root)).send().await.unwrap();
    assert_eq!(start.status(), 303);
    let binding = set_cookie(&start);
    assert!(binding.starts_with("__Host-gh_browser="), "{binding}");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(binding.split("; ").any(|a| a == attribute), "{attribute} in {binding}");
    }
    assert!(!binding.contains("Domain"), "{binding}");
    let binding = pair(&binding);

    // The server reads the prefixed name back: the request is this browser's.
    let login_url = format!("{}{}", app.root, location(&start));
    let unbound = http.get(&login_url).send().await.unwrap();
    assert!(unbound.text().await.unwrap().contains("expired"), "no cookie, no request");
    let form = http.get(&login_url).header("cookie", &binding).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    let fields = [
        ("request_id", input_value(&form, "request_id").unwrap()),
        ("csrf_token", input_value(&form, "csrf_token").unwrap()),
        ("email", "alice@example.com".to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let signed_in =
        http.post(format!("{}/login", app.root)).header("cookie", &binding).form(&fields).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = set_cookie(&signed_in);
    assert!(session.starts_with("__Host-gh_session="), "{session}");
    assert!(session.contains("Path=/") && session.contains("Secure"), "{session}");
    let consent = http
        .get(format!("{}{}", app.root, location(&signed_in)))
        .header("cookie", format!("{binding}; {}", pair(&session)))
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), 200, "the prefixed session cookie is read back");
    assert!(consent.text().await.unwrap().contains("Allow access?"));
}

#[actix_web::test]
async fn cookies_are_not_host_prefixed_for_an_issuer_with_a_path() {
    let db = TestDb::new(backend());
    let app = TestApp::spawn_on(db.url(), "", |s| s.issuer = "https://auth.example.test/auth".into()).await;
    let client = manual_client(&app, &["https://own.example/cb"]).await;
    let query = authorize_query(&client, "https://own.example/cb", &pkce().challenge, &[]);
    let start = app.http.get(format!("{}/auth/authorize?{query}", app.root)).send().await.unwrap();
    assert_eq!(start.status(), 303);
    let binding = set_cookie(&start);
    assert!(binding.starts_with("gh_browser="), "a path rules out __Host-: {binding}");
    assert!(binding.contains("Path=/auth") && binding.contains("Secure"), "{binding}");
}

// ---- /favicon.ico ----

async fn assert_icon(http: &reqwest::Client, url: &str) {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/x-icon", "{url}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age="), "{url}");
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..4], &[0, 0, 1, 0], "an ICO file at {url}");
}

#[actix_web::test]
async fn favicon_is_served_at_the_root_and_under_the_issuer_path() {
    let app = TestApp::spawn().await;
    assert_icon(&app.http, &format!("{}/favicon.ico", app.root)).await;

    let db = TestDb::new(backend());
    let with_path = TestApp::spawn_on(db.url(), "/auth", |_| {}).await;
    assert_icon(&with_path.http, &format!("{}/favicon.ico", with_path.root)).await;
    assert_icon(&with_path.http, &with_path.url("/favicon.ico")).await;
}
