//! The browser half of the flow over HTTP: /authorize → /login → /consent → 302 with a code;
//! every refusal with the right outcome (a page, or a redirect for manual clients only).

use crate::common::flow::*;
use crate::common::TestApp;
use crate::register::audit_rows;
use gatehouse::store::{clients, users};

const DCR_REDIRECT: &str = "https://app.example/callback";
const MANUAL_REDIRECT: &str = "https://own.example/cb?tenant=1";

struct Setup {
    app: TestApp,
    dcr: String,
    manual: String,
    pkce: Pkce,
}

async fn setup() -> Setup {
    let app = TestApp::spawn_with(|s| s.scopes.supported = vec!["offline_access".into(), "mcp:tools".into()]).await;
    create_user(&app, "alice@example.com").await;
    let dcr = dcr_client(&app, &[DCR_REDIRECT, "http://localhost:7777/cb"]).await;
    let manual = manual_client(&app, &[MANUAL_REDIRECT]).await;
    Setup { app, dcr, manual, pkce: pkce() }
}

async fn authorize(app: &TestApp, browser: &reqwest::Client, query: &str) -> reqwest::Response {
    app.get_with(browser, &format!("{}/authorize?{query}", app.issuer)).await
}

/// A 400 page (never a redirect), with the page headers of SPEC §5.
async fn assert_page(response: reqwest::Response, case: &str) -> String {
    assert_eq!(response.status(), 400, "{case}: expected a page, got {:?}", response.headers().get("location"));
    let headers = response.headers().clone();
    assert!(headers.get("location").is_none(), "{case}");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"), "{case}");
    assert_eq!(headers["x-frame-options"], "DENY", "{case}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{case}");
    assert_eq!(headers["cache-control"], "no-store", "{case}");
    assert!(headers.get("access-control-allow-origin").is_none(), "{case}: no CORS on pages");
    response.text().await.unwrap()
}

#[actix_web::test]
async fn dcr_client_full_browser_flow() {
    let s = setup().await;
    let browser = browser();
    let query = authorize_query(
        &s.dcr,
        DCR_REDIRECT,
        &s.pkce.challenge,
        &[("state", "xyz 123"), ("scope", "mcp:tools unknown")],
    );
    let consent = s.app.sign_in_to_consent(&browser, &query, "alice@example.com").await;
    assert!(consent.contains("Test DCR app"), "client name shown");
    assert!(consent.contains("(unverified)"), "DCR clients are marked unverified");
    assert!(consent.contains("app.example"), "redirect host shown");
    assert!(consent.contains("mcp:tools") && !consent.contains("unknown"), "granted scopes only");
    let allow = consent.find("value=\"allow\"").unwrap();
    let deny = consent.find("value=\"deny\"").unwrap();
    assert!(allow < deny, "allow button before deny");
    let decided = s.app.decide(&browser, &consent, "allow").await;
    assert_eq!(decided.status(), 302);
    let target = location(&decided);
    assert!(target.starts_with(&format!("{DCR_REDIRECT}?")), "{target}");
    let code = query_param(&target, "code").unwrap();
    assert!(code.len() >= 22, "at least 128 bits");
    assert_eq!(query_param(&target, "state").as_deref(), Some("xyz 123"));
    assert_eq!(query_param(&target, "iss").as_deref(), Some(s.app.issuer.as_str()));

    // The code is stored as a digest, bound to what was asked.
    let digest = gatehouse::secrets::digest(&code);
    let stored = s.app.with_db(move |c| Ok(gatehouse::store::codes::find(c, &digest)?)).await.unwrap();
    assert_eq!(stored.redirect_uri, DCR_REDIRECT);
    assert_eq!(stored.scope, "mcp:tools");
    assert_eq!(stored.code_challenge, s.pkce.challenge);
    let id = s.dcr.clone();
    let client = s.app.with_db(move |c| Ok(clients::find(c, &id)?)).await.unwrap();
    assert!(client.last_seen_at.is_some(), "last seen set when a flow starts");
    assert_eq!(audit_rows(&s.app, "user.login.succeeded").await.len(), 1);

    // A second authorization in the same session skips login, not consent.
    let second = authorize(&s.app, &browser, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[])).await;
    assert_eq!(second.status(), 303);
    assert!(location(&second).contains("/consent?request_id="), "{}", location(&second));
}

#[actix_web::test]
async fn manual_client_flow_keeps_the_registered_query_and_state_is_optional() {
    let s = setup().await;
    let browser = browser();
    let query = authorize_query(&s.manual, MANUAL_REDIRECT, &s.pkce.challenge, &[]);
    let consent = s.app.sign_in_to_consent(&browser, &query, "ALICE@example.com").await;
    assert!(!consent.contains("(unverified)"));
    let decided = s.app.decide(&browser, &consent, "allow").await;
    let target = location(&decided);
    assert!(target.starts_with("https://own.example/cb?tenant=1&code="), "{target}");
    assert!(query_param(&target, "state").is_none());
}

#[actix_web::test]
async fn deny_redirects_access_denied() {
    let s = setup().await;
    let browser = browser();
    let query = authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[("state", "s1")]);
    let consent = s.app.sign_in_to_consent(&browser, &query, "alice@example.com").await;
    let decided = s.app.decide(&browser, &consent, "deny").await;
    assert_eq!(decided.status(), 302);
    let target = location(&decided);
    assert_eq!(query_param(&target, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&target, "state").as_deref(), Some("s1"));
    assert!(query_param(&target, "code").is_none());
}

#[actix_web::test]
async fn client_and_redirect_errors_are_always_pages() {
    let s = setup().await;
    let b = browser();
    let c = &s.pkce.challenge;
    let disabled = dcr_client(&s.app, &["https://disabled.example/cb"]).await;
    let id = disabled.clone();
    let now = s.app.clock_now();
    s.app.with_db(move |conn| Ok(clients::set_status(conn, &id, clients::Status::Disabled, None, now)?)).await;
    let cases: Vec<(&str, String)> = vec![
        ("unknown client", authorize_query("dcr_nope", DCR_REDIRECT, c, &[])),
        ("disabled client", authorize_query(&disabled, "https://disabled.example/cb", c, &[])),
        (
            "missing redirect_uri",
            format!("response_type=code&client_id={}&code_challenge={c}&code_challenge_method=S256", s.dcr),
        ),
        ("unregistered redirect", authorize_query(&s.dcr, "https://evil.example/callback", c, &[])),
        ("case differs", authorize_query(&s.dcr, "https://APP.example/callback", c, &[])),
        ("path differs", authorize_query(&s.dcr, "https://app.example/callback2", c, &[])),
        ("query added", authorize_query(&s.dcr, "https://app.example/callback?x=1", c, &[])),
        ("trailing slash", authorize_query(&s.dcr, "https://app.example/callback/", c, &[])),
        ("loopback host text differs", authorize_query(&s.dcr, "http://127.0.0.1:7777/cb", c, &[])),
        ("port change on https", authorize_query(&s.dcr, "https://app.example:8443/callback", c, &[])),
        ("manual: unregistered redirect", authorize_query(&s.manual, "https://own.example/cb", c, &[])),
        ("repeated client_id", format!("{}&client_id=x", authorize_query(&s.dcr, DCR_REDIRECT, c, &[]))),
    ];
    for (case, query) in cases {
        let html = assert_page(authorize(&s.app, &b, &query).await, case).await;
        if case == "unregistered redirect" {
            assert!(html.contains("Test DCR app") && html.contains("evil.example"), "page names client and host");
        }
    }
    // A loopback redirect may change its port: accepted.
    let ok = authorize(&s.app, &b, &authorize_query(&s.dcr, "http://localhost:51000/cb", c, &[])).await;
    assert_eq!(ok.status(), 303);
}

#[actix_web::test]
async fn dcr_request_errors_are_pages_before_and_after_sign_in() {
    let s = setup().await;
    let b = browser();
    let c = s.pkce.challenge.clone();
    let bad: Vec<(&str, String)> = vec![
        (
            "missing challenge",
            format!("response_type=code&client_id={}&redirect_uri={DCR_REDIRECT}&code_challenge_method=S256", s.dcr),
        ),
        ("short challenge", authorize_query(&s.dcr, DCR_REDIRECT, &c[..42], &[])),
        ("plain method", authorize_query(&s.dcr, DCR_REDIRECT, &c, &[("code_challenge_method", "plain")])),
        ("prompt=none", authorize_query(&s.dcr, DCR_REDIRECT, &c, &[("prompt", "none")])),
    ];
    for (case, query) in &bad {
        assert_page(authorize(&s.app, &b, query).await, case).await;
    }
    // Signed in now: still pages, never redirects.
    let _ = s.app.sign_in_to_consent(&b, &authorize_query(&s.dcr, DCR_REDIRECT, &c, &[]), "alice@example.com").await;
    for (case, query) in &bad {
        assert_page(authorize(&s.app, &b, query).await, &format!("{case} (signed in)")).await;
    }
    let token = authorize_query(&s.dcr, DCR_REDIRECT, &c, &[]).replace("response_type=code", "response_type=token");
    assert_page(authorize(&s.app, &b, &token).await, "response_type=token (signed in)").await;
}

#[actix_web::test]
async fn manual_client_errors_after_verification_redirect() {
    let s = setup().await;
    let b = browser();
    let c = s.pkce.challenge.clone();
    let long_state = "s".repeat(1025);
    let long_scope = "x".repeat(1001);
    let long_resource = format!("https://api.example/{}", "r".repeat(2000));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "response_type=token",
            authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[]).replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            "plain",
            authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("code_challenge_method", "plain")]),
            "invalid_request",
        ),
        ("malformed challenge", authorize_query(&s.manual, MANUAL_REDIRECT, "not+a+challenge", &[]), "invalid_request"),
        (
            "repeated state",
            format!("{}&state=b", authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("state", "a")])),
            "invalid_request",
        ),
        ("long state", authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("state", &long_state)]), "invalid_request"),
        ("long scope", authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("scope", &long_scope)]), "invalid_request"),
        (
            "long resource",
            authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("resource", &long_resource)]),
            "invalid_target",
        ),
        (
            "two resources",
            format!(
                "{}&resource=https://b.example/",
                authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("resource", "https://a.example/")])
            ),
            "invalid_target",
        ),
        (
            "resource with fragment",
            authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("resource", "https://a.example/#x")]),
            "invalid_target",
        ),
        (
            "prompt=none",
            authorize_query(&s.manual, MANUAL_REDIRECT, &c, &[("prompt", "none"), ("state", "st")]),
            "login_required",
        ),
    ];
    for (case, query, code) in cases {
        let response = authorize(&s.app, &b, &query).await;
        assert_eq!(response.status(), 302, "{case}");
        let target = location(&response);
        assert!(target.starts_with("https://own.example/cb?tenant=1&"), "{case}: {target}");
        assert_eq!(query_param(&target, "error").as_deref(), Some(code), "{case}: {target}");
        assert!(query_param(&target, "error_description").is_some(), "{case}");
        assert_eq!(query_param(&target, "iss").as_deref(), Some(s.app.issuer.as_str()), "{case}");
        if case == "prompt=none" {
            assert_eq!(query_param(&target, "state").as_deref(), Some("st"));
        }
    }
}

#[actix_web::test]
async fn resources_outside_the_allowed_list_are_refused() {
    let app = TestApp::spawn_with(|s| s.resources.allowed = vec!["https://mcp.example/".into()]).await;
    create_user(&app, "alice@example.com").await;
    let client = manual_client(&app, &[MANUAL_REDIRECT]).await;
    let p = pkce();
    let b = browser();
    let refused = authorize(
        &app,
        &b,
        &authorize_query(&client, MANUAL_REDIRECT, &p.challenge, &[("resource", "https://other.example/")]),
    )
    .await;
    assert_eq!(query_param(&location(&refused), "error").as_deref(), Some("invalid_target"));
    let query = authorize_query(&client, MANUAL_REDIRECT, &p.challenge, &[("resource", "https://mcp.example/")]);
    let consent = app.sign_in_to_consent(&b, &query, "alice@example.com").await;
    assert!(consent.contains("https://mcp.example/"), "resource shown on consent");
}

#[actix_web::test]
async fn login_failures_share_one_message_and_slow_down() {
    let s = setup().await;
    let b = browser();
    let start = authorize(&s.app, &b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[])).await;
    let login = s.app.get_with(&b, &location(&start)).await.text().await.unwrap();
    assert!(login.contains("name=\"email\"") && login.contains("type=\"email\""));
    assert!(login.contains("name=\"password\"") && login.contains("type=\"password\""));
    let request_id = input_value(&login, "request_id").unwrap();
    let csrf = input_value(&login, "csrf_token").unwrap();
    let attempt = |email: &'static str, password: &'static str| {
        let (request_id, csrf, b, app) = (request_id.clone(), csrf.clone(), b.clone(), &s.app);
        async move {
            app.post_form_with(
                &b,
                "/login",
                &[("request_id", &request_id), ("csrf_token", &csrf), ("email", email), ("password", password)],
            )
            .await
        }
    };
    let wrong = attempt("alice@example.com", "wrong password").await;
    assert_eq!(wrong.status(), 401);
    let wrong_text = wrong.text().await.unwrap();
    let unknown = attempt("nobody@example.com", "wrong password").await;
    assert_eq!(unknown.status(), 401);
    let unknown_text = unknown.text().await.unwrap();
    assert!(wrong_text.contains("Incorrect email or password."));
    assert!(unknown_text.contains("Incorrect email or password."));

    // Two more failures on alice: the account is slowed, even for the right password.
    attempt("alice@example.com", "wrong password").await;
    attempt("alice@example.com", "wrong password").await;
    let slowed = attempt("alice@example.com", PASSWORD).await;
    assert_eq!(slowed.status(), 429);
    assert!(slowed.text().await.unwrap().contains("Try again in"));
    // The delay passes (injected clock): the right password works, no hard lockout.
    s.app.clock.advance(3);
    let ok = attempt("alice@example.com", PASSWORD).await;
    assert_eq!(ok.status(), 303);
    // Failures are audited at most once per address and window.
    assert_eq!(audit_rows(&s.app, "user.login.failed").await.len(), 1);
}

#[actix_web::test]
async fn disabled_user_cannot_sign_in() {
    let s = setup().await;
    let now = s.app.clock_now();
    s.app
        .with_db(move |c| {
            let user = users::find_by_email(c, "alice@example.com")?.unwrap();
            Ok(users::set_status(c, &user.user_id, "disabled", now)?)
        })
        .await;
    let b = browser();
    let start = authorize(&s.app, &b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[])).await;
    let login = s.app.get_with(&b, &location(&start)).await.text().await.unwrap();
    let response = s.app.submit_login(&b, &login, "alice@example.com", PASSWORD).await;
    assert_eq!(response.status(), 401);
}

#[actix_web::test]
async fn forged_or_missing_csrf_and_replayed_consent_are_refused() {
    let s = setup().await;
    let b = browser();
    let start = authorize(&s.app, &b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[])).await;
    let login = s.app.get_with(&b, &location(&start)).await.text().await.unwrap();
    let request_id = input_value(&login, "request_id").unwrap();
    for (case, csrf) in [("missing", ""), ("forged", "forged-token")] {
        let response = s
            .app
            .post_form_with(
                &b,
                "/login",
                &[
                    ("request_id", &request_id),
                    ("csrf_token", csrf),
                    ("email", "alice@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), 400, "login csrf {case}");
        assert!(response.headers().get("set-cookie").is_none());
    }
    // Another browser cannot use this browser's request, even with its CSRF token.
    let other = browser();
    let stolen = s.app.submit_login(&other, &login, "alice@example.com", PASSWORD).await;
    assert_eq!(stolen.status(), 400);

    let consent = s
        .app
        .sign_in_to_consent(&b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[]), "alice@example.com")
        .await;
    let request_id = input_value(&consent, "request_id").unwrap();
    for (case, csrf) in [("missing", ""), ("forged", "forged-token")] {
        let response = s
            .app
            .post_form_with(&b, "/consent", &[("request_id", &request_id), ("csrf_token", csrf), ("decision", "allow")])
            .await;
        assert_eq!(response.status(), 400, "consent csrf {case}");
    }
    let first = s.app.decide(&b, &consent, "allow").await;
    assert_eq!(first.status(), 302);
    let replay = s.app.decide(&b, &consent, "allow").await;
    assert_eq!(replay.status(), 400, "a replayed consent post is refused");

    // Logout needs the session's CSRF token.
    let logout_csrf =
        consent.split("action=\"/consent/sign-out\"").nth(1).and_then(|rest| input_value(rest, "csrf_token")).unwrap();
    let forged = s.app.post_form_with(&b, "/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status(), 400);
    let missing = s.app.post_form_with(&b, "/logout", &[]).await;
    assert_eq!(missing.status(), 400);
    let out = s.app.post_form_with(&b, "/logout", &[("csrf_token", &logout_csrf)]).await;
    assert_eq!(out.status(), 200);
    // Signed out: the next authorization asks to sign in again.
    let again = authorize(&s.app, &b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[])).await;
    assert!(location(&again).contains("/login?request_id="));
}

#[actix_web::test]
async fn session_cookie_is_http_only_and_lax() {
    let s = setup().await;
    let b = browser();
    let start = authorize(&s.app, &b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[])).await;
    let browser_cookie = start.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(browser_cookie.contains("HttpOnly") && browser_cookie.contains("SameSite=Lax"), "{browser_cookie}");
    let login = s.app.get_with(&b, &location(&start)).await.text().await.unwrap();
    let signed_in = s.app.submit_login(&b, &login, "alice@example.com", PASSWORD).await;
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("gh_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "http issuer: no Secure flag ({cookie})");
}

#[actix_web::test]
async fn disabled_client_cannot_complete_consent() {
    let s = setup().await;
    let b = browser();
    let consent = s
        .app
        .sign_in_to_consent(&b, &authorize_query(&s.dcr, DCR_REDIRECT, &s.pkce.challenge, &[]), "alice@example.com")
        .await;
    let id = s.dcr.clone();
    let now = s.app.clock_now();
    s.app.with_db(move |c| Ok(clients::set_status(c, &id, clients::Status::Disabled, Some("test"), now)?)).await;
    let decided = s.app.decide(&b, &consent, "allow").await;
    assert_eq!(decided.status(), 400, "no code for a disabled client");
}

#[actix_web::test]
async fn no_cors_headers_on_browser_endpoints() {
    let s = setup().await;
    let b = browser();
    for (method, path) in [
        ("GET", "/authorize"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/consent"),
        ("POST", "/consent"),
        ("POST", "/logout"),
        ("POST", "/login/provider"),
        ("GET", "/login/some-provider/callback"),
        ("POST", "/consent/sign-out"),
    ] {
        let response = b
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", s.app.issuer))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("access-control-allow-origin").is_none(), "{method} {path}");
        let preflight = b
            .request(reqwest::Method::OPTIONS, format!("{}{path}", s.app.issuer))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(preflight.headers().get("access-control-allow-origin").is_none(), "preflight {path}");
    }
}
