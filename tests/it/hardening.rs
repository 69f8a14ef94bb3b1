//! SPEC §11 over the real HTTP surface: consent names app-link redirects truthfully, cookies
//! carry `__Host-` on an https issuer without a path, `/favicon.ico` answers.

use crate::common::flow::*;
use crate::common::{backend, TestApp, TestDb};

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
