//! Hostile bytes in request values (SPEC §3, §7): a NUL — which PostgreSQL text cannot hold —
//! or another control character in any parameter, path segment, form field or JSON value of any
//! endpoint is refused with that endpoint's own error, never a 5xx, and writes nothing; error
//! descriptions quote at most a short prefix of what was sent, and never a secret.

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::TestApp;
use crate::register::audit_rows;

const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";
const MANUAL_REDIRECT: &str = "https://own.example/cb";
const DCR_REDIRECT: &str = "https://app.example/callback";
const EMAIL: &str = "alice@example.com";

/// U+0000 first; then other C0 controls (tab and line breaks included), DEL and a C1 control.
const CONTROLS: &[char] = &['\0', '\u{1}', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}', '\u{85}'];

/// `c` percent-encoded as a form or query would carry it.
fn pct(c: char) -> String {
    c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `name=value` pairs as a form or query, each value already encoded.
fn form(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// Every pair's encoded form, with `control` appended to one value at a time — alone, and after
/// another mistake (the first parameter repeated) that a decoder might report first —; then once
/// with the control in a parameter's name.
fn each_with_control(base: &[(&str, String)], control: char) -> Vec<(String, String)> {
    let encoded: Vec<(String, String)> = base.iter().map(|(n, v)| (n.to_string(), enc(v))).collect();
    let mut variants = Vec::new();
    for (i, (name, _)) in encoded.iter().enumerate() {
        let mut pairs = encoded.clone();
        pairs[i].1.push_str(&pct(control));
        variants.push((name.clone(), form(&pairs)));
        let mut repeated = pairs.clone();
        repeated.insert(0, encoded[0].clone());
        variants.push((format!("{name} after a repeated {}", encoded[0].0), form(&repeated)));
    }
    let mut named = encoded.clone();
    named.push((format!("x{}y", pct(control)), "1".into()));
    variants.push(("a parameter name".into(), form(&named)));
    variants
}

/// Rows in every table a request could write to.
#[derive(QueryableByName, Debug, PartialEq, Eq, Clone, Copy)]
struct Rows {
    #[diesel(sql_type = BigInt)]
    clients: i64,
    #[diesel(sql_type = BigInt)]
    audit: i64,
    #[diesel(sql_type = BigInt)]
    registration_tokens: i64,
    #[diesel(sql_type = BigInt)]
    windows: i64,
    #[diesel(sql_type = BigInt)]
    login_failures: i64,
    #[diesel(sql_type = BigInt)]
    sessions: i64,
    #[diesel(sql_type = BigInt)]
    requests: i64,
    #[diesel(sql_type = BigInt)]
    open_requests: i64,
    #[diesel(sql_type = BigInt)]
    codes: i64,
    #[diesel(sql_type = BigInt)]
    used_codes: i64,
    #[diesel(sql_type = BigInt)]
    families: i64,
    #[diesel(sql_type = BigInt)]
    revoked_families: i64,
    #[diesel(sql_type = BigInt)]
    refresh_tokens: i64,
    #[diesel(sql_type = BigInt)]
    disabled_clients: i64,
    #[diesel(sql_type = BigInt)]
    seen_clients: i64,
}

async fn rows(app: &TestApp) -> Rows {
    app.with_db(|conn| {
        Ok(diesel::sql_query(
            "SELECT (SELECT COUNT(*) FROM clients) AS clients, (SELECT COUNT(*) FROM audit_events) AS audit, \
             (SELECT COUNT(*) FROM registration_tokens) AS registration_tokens, \
             (SELECT COALESCE(SUM(attempts), 0) FROM rate_limit_windows) AS windows, \
             (SELECT COUNT(*) FROM login_failures) AS login_failures, (SELECT COUNT(*) FROM sessions) AS sessions, \
             (SELECT COUNT(*) FROM auth_requests) AS requests, \
             (SELECT COUNT(*) FROM auth_requests WHERE NOT consumed) AS open_requests, \
             (SELECT COUNT(*) FROM authorization_codes) AS codes, \
             (SELECT COUNT(*) FROM authorization_codes WHERE used_at IS NOT NULL) AS used_codes, \
             (SELECT COUNT(*) FROM refresh_families) AS families, \
             (SELECT COUNT(*) FROM refresh_families WHERE revoked_at IS NOT NULL) AS revoked_families, \
             (SELECT COUNT(*) FROM refresh_tokens) AS refresh_tokens, \
             (SELECT COUNT(*) FROM clients WHERE status = 'disabled') AS disabled_clients, \
             (SELECT COUNT(*) FROM clients WHERE last_seen_at IS NOT NULL) AS seen_clients",
        )
        .get_result::<Rows>(conn)?)
    })
    .await
}

/// What a refused request must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A 400 page of the browser flow (never a redirect) saying why.
    Page,
    /// A JSON error with this status and code.
    Json(u16, &'static str),
}

struct Case {
    label: String,
    method: reqwest::Method,
    path: String,
    body: Option<(&'static str, String)>,
    bearer: Option<String>,
    browser: Option<reqwest::Client>,
    expect: Expect,
    /// `/register` counts the attempt and audits the refusal (SPEC §4.2–4.3); nothing else may
    /// change.
    registration: bool,
}

fn case(label: String, method: reqwest::Method, path: String, expect: Expect) -> Case {
    Case { label, method, path, body: None, bearer: None, browser: None, expect, registration: false }
}

struct World {
    app: TestApp,
    manual: String,
    dcr: String,
    registration_token: String,
    pkce: Pkce,
    code: String,
    refresh_token: String,
    /// Has a pending request at the sign-in step.
    login_browser: reqwest::Client,
    login_request: String,
    login_csrf: String,
    /// Signed in, with a pending request at the consent step.
    consent_browser: reqwest::Client,
    consent_request: String,
    consent_csrf: String,
    logout_csrf: String,
}

async fn world() -> World {
    let app = TestApp::spawn_with(|s| s.admin.token = ADMIN_TOKEN.into()).await;
    create_user(&app, EMAIL).await;
    let manual = manual_client(&app, &[MANUAL_REDIRECT]).await;
    let registered: Value = app
        .post_json("/register", &json!({"client_name": "DCR app", "redirect_uris": [DCR_REDIRECT]}))
        .await
        .json()
        .await
        .unwrap();
    let dcr = registered["client_id"].as_str().unwrap().to_string();
    let registration_token = registered["registration_access_token"].as_str().unwrap().to_string();
    let pkce = pkce();
    let query = authorize_query(&manual, MANUAL_REDIRECT, &pkce.challenge, &[("scope", "offline_access")]);

    // A refresh token, and a code not yet exchanged.
    let exchanged = app.authorization_code(&browser(), &query, EMAIL).await;
    let (status, tokens) = app.exchange_code(&manual, MANUAL_REDIRECT, &exchanged, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
    let code = app.authorization_code(&browser(), &query, EMAIL).await;

    let login_browser = browser();
    let start = app.get_with(&login_browser, &format!("{}/authorize?{query}", app.issuer)).await;
    let login_page = app.get_with(&login_browser, &location(&start)).await.text().await.unwrap();
    let consent_browser = browser();
    let consent_page = app.sign_in_to_consent(&consent_browser, &query, EMAIL).await;
    let logout_marker = "name=\"csrf_token\" value=\"";
    let logout_at = consent_page.rfind(logout_marker).unwrap() + logout_marker.len();
    let logout_csrf = consent_page[logout_at..].split('"').next().unwrap().to_string();
    World {
        manual,
        dcr,
        registration_token,
        pkce,
        code,
        refresh_token,
        login_request: input_value(&login_page, "request_id").unwrap(),
        login_csrf: input_value(&login_page, "csrf_token").unwrap(),
        login_browser,
        consent_request: input_value(&consent_page, "request_id").unwrap(),
        consent_csrf: input_value(&consent_page, "csrf_token").unwrap(),
        consent_browser,
        logout_csrf,
        app,
    }
}

/// Every request value of every endpoint, each with `control` in it.
fn cases(w: &World, control: char) -> Vec<Case> {
    use reqwest::Method;
    let prefix = gatehouse_path(&w.app.issuer);
    let form_type = "application/x-www-form-urlencoded";
    let mut cases = Vec::new();
    let browser_cases = |path: &str, method: Method, base: &[(&str, String)], browser: &reqwest::Client| {
        let mut out = Vec::new();
        for (param, encoded) in each_with_control(base, control) {
            let mut c =
                case(format!("{method} {path}: {param}"), method.clone(), format!("{prefix}{path}"), Expect::Page);
            if method == Method::GET {
                c.path = format!("{prefix}{path}?{encoded}");
            } else {
                c.body = Some((form_type, encoded));
            }
            c.browser = Some(browser.clone());
            out.push(c);
        }
        out
    };

    let authorize = [
        ("response_type", "code".to_string()),
        ("client_id", w.manual.clone()),
        ("redirect_uri", MANUAL_REDIRECT.to_string()),
        ("code_challenge", w.pkce.challenge.clone()),
        ("code_challenge_method", "S256".to_string()),
        ("state", "s-1".to_string()),
        ("scope", "offline_access".to_string()),
        ("resource", "https://api.example/".to_string()),
        ("prompt", "login".to_string()),
    ];
    cases.extend(browser_cases("/authorize", Method::GET, &authorize, &w.login_browser));
    cases.extend(browser_cases("/login", Method::GET, &[("request_id", w.login_request.clone())], &w.login_browser));
    // The password is free text (only hashed): only U+0000 is refused there.
    let login = [
        ("request_id", w.login_request.clone()),
        ("csrf_token", w.login_csrf.clone()),
        ("email", EMAIL.to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let login_cases = browser_cases("/login", Method::POST, &login, &w.login_browser);
    cases.extend(login_cases.into_iter().filter(|c| control == '\0' || !c.label.starts_with("POST /login: password")));
    cases.extend(browser_cases(
        "/consent",
        Method::GET,
        &[("request_id", w.consent_request.clone())],
        &w.consent_browser,
    ));
    let consent = [
        ("request_id", w.consent_request.clone()),
        ("csrf_token", w.consent_csrf.clone()),
        ("decision", "allow".to_string()),
    ];
    cases.extend(browser_cases("/consent", Method::POST, &consent, &w.consent_browser));
    cases.extend(browser_cases("/logout", Method::POST, &[("csrf_token", w.logout_csrf.clone())], &w.consent_browser));

    let token_cases = |path: &str, base: &[(&str, String)]| {
        let mut out = Vec::new();
        for (param, encoded) in each_with_control(base, control) {
            let mut c = case(
                format!("POST {path}: {param}"),
                Method::POST,
                format!("{prefix}{path}"),
                Expect::Json(400, "invalid_request"),
            );
            c.body = Some((form_type, encoded));
            out.push(c);
        }
        out
    };
    cases.extend(token_cases(
        "/token",
        &[
            ("grant_type", "authorization_code".into()),
            ("code", w.code.clone()),
            ("redirect_uri", MANUAL_REDIRECT.into()),
            ("client_id", w.manual.clone()),
            ("code_verifier", w.pkce.verifier.clone()),
            ("resource", "https://api.example/".into()),
        ],
    ));
    cases.extend(token_cases(
        "/token",
        &[
            ("grant_type", "refresh_token".into()),
            ("refresh_token", w.refresh_token.clone()),
            ("client_id", w.manual.clone()),
            ("scope", "offline_access".into()),
        ],
    ));
    cases.extend(token_cases(
        "/revoke",
        &[
            ("token", w.refresh_token.clone()),
            ("token_type_hint", "refresh_token".into()),
            ("client_id", w.manual.clone()),
        ],
    ));

    // Registration: every field (known or not) and a member name.
    let s = |v: &str| format!("{v}{control}");
    let registration = json!({
        "client_name": "App", "redirect_uris": [DCR_REDIRECT], "grant_types": ["authorization_code"],
        "response_types": ["code"], "token_endpoint_auth_method": "none", "scope": "offline_access",
        "software_id": "sw", "software_version": "1", "contacts": ["ops@example.com"],
        "client_uri": "https://app.example/", "logo_uri": "https://app.example/logo.png",
        "application_type": "web", "x_unknown": "x"
    });
    let fields: Vec<String> = registration.as_object().unwrap().keys().cloned().collect();
    for field in fields {
        let mut body = registration.clone();
        body[&field] = match &registration[&field] {
            Value::Array(items) => json!([s(items[0].as_str().unwrap())]),
            Value::String(value) => json!(s(value)),
            other => other.clone(),
        };
        let code = if field == "redirect_uris" { "invalid_redirect_uri" } else { "invalid_client_metadata" };
        let mut c = case(
            format!("POST /register: {field}"),
            Method::POST,
            format!("{prefix}/register"),
            Expect::Json(400, code),
        );
        c.body = Some(("application/json", body.to_string()));
        c.registration = true;
        cases.push(c);
    }
    let mut body = registration.as_object().unwrap().clone();
    body.insert(s("x_member"), json!(1));
    let mut c = case(
        "POST /register: a member name".into(),
        Method::POST,
        format!("{prefix}/register"),
        Expect::Json(400, "invalid_client_metadata"),
    );
    c.body = Some(("application/json", Value::Object(body).to_string()));
    c.registration = true;
    cases.push(c);
    for method in [Method::GET, Method::DELETE] {
        let mut c = case(
            format!("{method} /register/{{id}}"),
            method,
            format!("{prefix}/register/{}{}", w.dcr, pct(control)),
            Expect::Json(401, "invalid_token"),
        );
        c.bearer = Some(w.registration_token.clone());
        cases.push(c);
    }

    // The admin API: query parameters, path segments, JSON bodies.
    let admin = |label: String, method: Method, path: String, expect: Expect| {
        let mut c = case(label, method, format!("{prefix}/admin/api{path}"), expect);
        c.bearer = Some(ADMIN_TOKEN.to_string());
        c
    };
    let bad = Expect::Json(400, "invalid_request");
    for (path, params) in [
        ("/clients", &["source", "status", "stale", "cursor", "limit"][..]),
        ("/audit", &["event", "client", "since", "cursor", "limit"][..]),
    ] {
        let base: Vec<(&str, String)> = params
            .iter()
            .map(|p| (*p, if matches!(*p, "stale" | "limit") { "1".to_string() } else { "x".to_string() }))
            .collect();
        for (param, encoded) in each_with_control(&base, control) {
            cases.push(admin(format!("GET /admin/api{path}: {param}"), Method::GET, format!("{path}?{encoded}"), bad));
        }
    }
    cases.push(admin(
        "POST /admin/api/cleanup: dry_run".into(),
        Method::POST,
        format!("/cleanup?dry_run=true{}", pct(control)),
        bad,
    ));
    let id = format!("{}{}", w.dcr, pct(control));
    let not_found = Expect::Json(404, "not_found");
    for (method, path) in [
        (Method::GET, format!("/clients/{id}")),
        (Method::DELETE, format!("/clients/{id}")),
        (Method::POST, format!("/clients/{id}/disable")),
        (Method::POST, format!("/clients/{id}/enable")),
        (Method::POST, format!("/clients/{id}/revoke-sessions")),
    ] {
        cases.push(admin(format!("{method} /admin/api{path}"), method, path, not_found));
    }
    for (label, path, body) in [
        (
            "POST /admin/api/clients: name",
            "/clients".to_string(),
            json!({"name": s("Ops"), "redirect_uris": [MANUAL_REDIRECT]}),
        ),
        (
            "POST /admin/api/clients: redirect_uris",
            "/clients".to_string(),
            json!({"name": "Ops", "redirect_uris": [s(MANUAL_REDIRECT)]}),
        ),
        (
            "POST /admin/api/clients: an unknown member",
            "/clients".to_string(),
            json!({"name": "Ops", "redirect_uris": [MANUAL_REDIRECT], "x": s("y")}),
        ),
        (
            "POST /admin/api/clients/{id}/disable: reason",
            format!("/clients/{}/disable", w.dcr),
            json!({"reason": s("abuse")}),
        ),
    ] {
        let mut c = admin(label.into(), Method::POST, path, bad);
        c.body = Some(("application/json", body.to_string()));
        cases.push(c);
    }
    cases
}

async fn send(w: &World, c: &Case) -> (u16, Option<String>, String) {
    let client = c.browser.clone().unwrap_or_else(|| w.app.http.clone());
    let mut request = client.request(c.method.clone(), format!("{}{}", w.app.root, c.path));
    if let Some((content_type, body)) = &c.body {
        request = request.header("content-type", *content_type).body(body.clone());
    }
    if let Some(token) = &c.bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{}: {e}", c.label));
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    (status, location, response.text().await.unwrap())
}

#[actix_web::test]
async fn control_characters_in_any_request_value_are_refused_and_write_nothing() {
    let w = world().await;
    let mut checked = 0;
    for &control in CONTROLS {
        for c in cases(&w, control) {
            let label = format!("{:?} in {}", control, c.label);
            let before = rows(&w.app).await;
            let (status, location, body) = send(&w, &c).await;
            assert!(status < 500, "{label}: {status} {body}");
            match c.expect {
                Expect::Page => {
                    assert_eq!((status, location.as_deref()), (400, None), "{label}: {body}");
                    assert!(body.contains("control character"), "{label}: {body}");
                }
                Expect::Json(expected_status, code) => {
                    assert_eq!(status, expected_status, "{label}: {body}");
                    let error: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{label}: {body}"));
                    assert_eq!(error["error"], code, "{label}: {body}");
                    let description = error["error_description"].as_str().unwrap_or("");
                    assert!(!description.chars().any(char::is_control), "{label}: {description:?}");
                    assert!(description.len() <= 300, "{label}: {description}");
                }
            }
            let after = rows(&w.app).await;
            if c.registration {
                // One more attempt counted and one refusal audited; no client, no token.
                let expected = Rows { windows: before.windows + 1, audit: before.audit + 1, ..before };
                assert_eq!(after, expected, "{label}");
            } else {
                assert_eq!(after, before, "{label}: something was written");
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked} cases");

    // The refusals left their audit rows readable, with no U+0000 in the stored text.
    let rejected = audit_rows(&w.app, "client.dcr.rejected").await;
    assert!(rejected.len() >= 14 * CONTROLS.len(), "{}", rejected.len());
    for row in rejected {
        assert!(!row.detail.contains('\0'), "{}", row.detail);
        serde_json::from_str::<Value>(&row.detail).unwrap();
    }
    // And everything still works: the code, the refresh token, the pending requests.
    let (status, body) = w.app.exchange_code(&w.manual, MANUAL_REDIRECT, &w.code, &w.pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = w.app.refresh_token(&w.manual, &w.refresh_token).await;
    assert_eq!(status, 200, "{body}");
}

/// A password is free text: other control characters in it are a wrong password like any
/// other (the form again), not a refused request.
#[actix_web::test]
async fn a_password_may_hold_control_characters_but_not_nul() {
    let w = world().await;
    let post = |password: String| {
        let fields = form(&[
            ("request_id".into(), enc(&w.login_request)),
            ("csrf_token".into(), enc(&w.login_csrf)),
            ("email".into(), enc(EMAIL)),
            ("password".into(), password),
        ]);
        w.login_browser
            .post(format!("{}{}/login", w.app.root, gatehouse_path(&w.app.issuer)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(fields)
            .send()
    };
    let response = post(format!("wrong{}password", pct('\t'))).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.text().await.unwrap().contains("Incorrect email or password"));
    let response = post(format!("wrong{}password", pct('\0'))).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("control character"));
}

/// A body that separates its parameters with `;` makes the whole body the `grant_type`: the
/// description quotes a short prefix, never the refresh token that follows.
#[actix_web::test]
async fn error_descriptions_never_repeat_a_secret() {
    let w = world().await;
    for body in [
        format!("grant_type=refresh_token;refresh_token={};client_id={}", w.refresh_token, enc(&w.manual)),
        format!("grant_type=+;refresh_token={};client_id={}", w.refresh_token, enc(&w.manual)),
        format!("grant_type=refresh_token+refresh_token={}", w.refresh_token),
        format!("grant_type={}&refresh_token={}", "g".repeat(3000), w.refresh_token),
    ] {
        let response = w
            .app
            .http
            .post(w.app.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "unsupported_grant_type", "{body}");
        let description = error["error_description"].as_str().unwrap();
        assert!(!description.contains(&w.refresh_token[..8]), "{description}");
        assert!(description.len() < 200, "{description}");
    }
}
