//! Signing in through an upstream OpenID Provider: the real node-oidc-provider that
//! `scripts/test` starts (GATEHOUSE_TEST_OIDC_ISSUER), its registration and its login/consent
//! interaction driven over HTTP, and the checks every refusal must pass.

use diesel::prelude::*;
use serde_json::{json, Value};

use super::flow::{input_value, location};
use super::TestApp;
use gatehouse::config::ProviderSettings;

/// The real provider's issuer. The upstream tests fail — never skip — without it.
pub fn oidc_issuer() -> String {
    std::env::var("GATEHOUSE_TEST_OIDC_ISSUER").expect(
        "GATEHOUSE_TEST_OIDC_ISSUER is not set: the upstream tests need the real OpenID Provider that scripts/test starts \
         (or: url=$(scripts/upstream-idp start DIR); export GATEHOUSE_TEST_OIDC_ISSUER=$url)",
    )
}

/// Register this app's callback for `provider_id` at the real provider (dynamic registration);
/// returns (client_id, client_secret).
pub async fn register_at_idp(app: &TestApp, provider_id: &str) -> (String, String) {
    let callback = gatehouse::identity::callback_url(&app.issuer, provider_id);
    let response = reqwest::Client::new()
        .post(format!("{}/reg", oidc_issuer()))
        .json(&json!({
            "redirect_uris": [callback],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .expect("the upstream provider answers");
    assert_eq!(response.status(), 201, "registration at the upstream provider");
    let body: Value = response.json().await.unwrap();
    (body["client_id"].as_str().unwrap().to_string(), body["client_secret"].as_str().unwrap().to_string())
}

/// A provider entry for the real provider: only @acme.com may sign in.
pub fn provider(id: &str, client_id: &str, client_secret: &str) -> ProviderSettings {
    ProviderSettings {
        id: id.into(),
        name: "Acme SSO".into(),
        issuer: oidc_issuer(),
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        allowed_email_domains: vec!["acme.com".into()],
        ..ProviderSettings::default()
    }
}

/// Add a provider `id` at the real provider to a running app (as a reload would), with the
/// app's clock at the real time (the provider's tokens carry real `iat`/`exp`).
pub async fn add_real_provider(app: &TestApp, id: &str, adjust: impl FnOnce(&mut ProviderSettings)) {
    let (client_id, secret) = register_at_idp(app, id).await;
    let mut entry = provider(id, &client_id, &secret);
    adjust(&mut entry);
    app.update_settings(|s| s.login.providers.push(entry));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    app.clock.set(now);
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_string()
    } else {
        let origin: String = base.split('/').take(3).collect::<Vec<_>>().join("/");
        format!("{origin}{location}")
    }
}

/// From the login page of a pending request, press "Continue with …" for `provider_id`;
/// returns the provider's authorization URL Gatehouse sent the browser to.
pub async fn press_continue(app: &TestApp, browser: &reqwest::Client, login_html: &str, provider_id: &str) -> String {
    let marker = format!("name=\"provider\" value=\"{provider_id}\"");
    let form = login_html.split(&marker).nth(1).expect("a Continue button for the provider");
    let fields = [
        ("provider", provider_id.to_string()),
        ("request_id", input_value(form, "request_id").unwrap()),
        ("csrf_token", input_value(form, "csrf_token").unwrap()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = format!("{}/login/provider", super::flow::gatehouse_path(&app.issuer));
    let response = app.post_form_with(browser, &path, &fields).await;
    assert_eq!(response.status(), 303, "Continue with: {}", response.text().await.unwrap());
    location(&response)
}

/// At the provider: sign in as `login` and consent (or cancel: `abort`), following its
/// redirects until it sends the browser back to Gatehouse; returns that callback URL.
pub async fn at_provider(
    app: &TestApp,
    browser: &reqwest::Client,
    authorization_url: &str,
    login: &str,
    abort: bool,
) -> String {
    let mut url = authorization_url.to_string();
    for _ in 0..20 {
        if url.starts_with(&app.issuer) {
            return url;
        }
        let response = browser.get(&url).send().await.expect("the upstream provider answers");
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            url = absolute(&url, &location(&response));
            continue;
        }
        let html = response.text().await.unwrap();
        assert_eq!(status, 200, "upstream page {url}: {html}");
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form")
            .replace("&amp;", "&");
        let action = absolute(&url, &action);
        if abort {
            let aborted = browser.get(format!("{action}/abort")).send().await.unwrap();
            url = absolute(&action, &location(&aborted));
            continue;
        }
        let prompt = input_value(&html, "prompt").unwrap_or_default();
        // Signing in as another account than the provider's session: it asks to end that one.
        let xsrf =
            html.split("name=\"xsrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string();
        let form: Vec<(&str, &str)> = if !xsrf.is_empty() {
            vec![("xsrf", xsrf.as_str()), ("logout", "yes")]
        } else if prompt == "login" {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            vec![("prompt", "consent")]
        };
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let submitted = browser
            .post(&action)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(submitted.status().is_redirection(), "upstream form {action}: {}", submitted.status());
        url = absolute(&action, &location(&submitted));
    }
    panic!("the upstream provider never sent the browser back");
}

/// `/authorize` → login page → "Continue with" → sign in at the provider; returns the
/// callback URL the provider sent the browser to (not yet followed).
pub async fn to_callback(
    app: &TestApp,
    browser: &reqwest::Client,
    query: &str,
    provider_id: &str,
    login: &str,
) -> String {
    let start = app.get_with(browser, &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 303);
    let login_page = app.get_with(browser, &location(&start)).await.text().await.unwrap();
    let upstream = press_continue(app, browser, &login_page, provider_id).await;
    at_provider(app, browser, &upstream, login, false).await
}

/// Counts of what a refused sign-in must not leave behind.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Written {
    pub users: i64,
    pub identities: i64,
    pub sessions: i64,
}

pub async fn written(app: &TestApp) -> Written {
    use gatehouse::db::schema::{sessions, user_identities, users};
    app.with_db(|conn| {
        Ok(Written {
            users: users::table.count().get_result(conn)?,
            identities: user_identities::table.count().get_result(conn)?,
            sessions: sessions::table.count().get_result(conn)?,
        })
    })
    .await
}

/// Audit rows of an event, newest first: their detail.
pub async fn audit_details(app: &TestApp, event: &'static str) -> Vec<Value> {
    use gatehouse::db::schema::audit_events as a;
    let rows: Vec<String> = app
        .with_db(move |conn| {
            Ok(a::table.filter(a::event.eq(event)).order(a::id.desc()).select(a::detail).load(conn)?)
        })
        .await;
    rows.iter().map(|d| serde_json::from_str(d).unwrap()).collect()
}

/// A refusal: a page with `status` (never a redirect to the client), no session cookie, and
/// nothing written beyond `before`. Returns the page's text.
pub async fn assert_refused(app: &TestApp, response: reqwest::Response, status: u16, before: Written) -> String {
    assert_eq!(response.status().as_u16(), status, "refusal status");
    assert!(response.headers().get("location").is_none(), "a refusal never redirects");
    let cookies: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(!cookies.iter().any(|c| c.contains("gh_session")), "no session cookie: {cookies:?}");
    let html = response.text().await.unwrap();
    assert_eq!(written(app).await, before, "nothing written: {html}");
    html
}
