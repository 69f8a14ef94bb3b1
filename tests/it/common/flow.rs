//! Helpers for the browser flow: users, clients, PKCE pairs and a cookie-keeping browser.

use serde_json::{json, Value};

use super::TestApp;
use gatehouse::oauth::pkce::s256_challenge;
use gatehouse::store::audit::Actor;

pub const PASSWORD: &str = "correct horse battery";

pub async fn create_user(app: &TestApp, email: &str) -> String {
    let email = email.to_string();
    let now = app.clock_now();
    app.with_db(move |conn| {
        gatehouse::operator::add_user(
            conn,
            &gatehouse::operator::NewUser {
                email: email.clone(),
                password: PASSWORD.into(),
                email_verified: false,
                role: gatehouse::operator::Role::User,
            },
            Actor::Cli,
            now,
        )
        .map(|u| u.user_id)
        .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await
}

/// A DCR client registered over HTTP; returns its client id.
pub async fn dcr_client(app: &TestApp, redirect_uris: &[&str]) -> String {
    let response =
        app.post_json("/register", &json!({"client_name": "Test DCR app", "redirect_uris": redirect_uris})).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["client_id"].as_str().unwrap().to_string()
}

/// An operator-registered client; returns its client id.
pub async fn manual_client(app: &TestApp, redirect_uris: &[&str]) -> String {
    let settings = app.settings();
    let uris: Vec<String> = redirect_uris.iter().map(|s| s.to_string()).collect();
    let metadata = gatehouse::operator::manual_metadata(&settings, "Operator app", &uris).unwrap();
    let now = app.clock_now();
    app.with_db(move |conn| {
        gatehouse::operator::add_manual(conn, &metadata, Actor::Cli, now)
            .map(|c| c.client_id)
            .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = gatehouse::secrets::random_token(48);
    let challenge = s256_challenge(&verifier);
    Pkce { verifier, challenge }
}

/// A browser: keeps cookies, never follows redirects.
pub fn browser() -> reqwest::Client {
    super::http_client().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// The value of a hidden or named input in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// The value of one query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn authorize_query(client_id: &str, redirect_uri: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    serializer
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

impl TestApp {
    /// POST a form to an issuer-relative path: the status and the JSON body (`null` when none).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
    }

    /// The code exchange at `/token`.
    pub async fn exchange_code(&self, client_id: &str, redirect_uri: &str, code: &str, verifier: &str) -> (u16, Value) {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ];
        self.post_form("/token", &fields).await
    }

    /// A refresh at `/token`.
    pub async fn refresh_token(&self, client_id: &str, token: &str) -> (u16, Value) {
        self.post_form("/token", &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", client_id)])
            .await
    }

    pub fn clock_now(&self) -> i64 {
        use gatehouse::clock::Clock;
        self.clock.now()
    }

    /// GET issuer-relative or absolute URL with a browser.
    pub async fn get_with(&self, browser: &reqwest::Client, path_or_url: &str) -> reqwest::Response {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.root, path_or_url)
        };
        browser.get(url).send().await.unwrap()
    }

    pub async fn post_form_with(
        &self,
        browser: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        browser
            .post(format!("{}{}", self.root, path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Post the sign-in form of a login page (its request id and CSRF token) from `browser`.
    pub async fn submit_login(
        &self,
        browser: &reqwest::Client,
        login_html: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let fields = [
            ("request_id", input_value(login_html, "request_id").expect("request_id on the login page")),
            ("csrf_token", input_value(login_html, "csrf_token").expect("csrf_token on the login page")),
            ("email", email.to_string()),
            ("password", password.to_string()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post_form_with(browser, &format!("{}/login", gatehouse_path(&self.issuer)), &fields).await
    }

    /// Start at /authorize and sign in; returns the consent page's HTML.
    pub async fn sign_in_to_consent(&self, browser: &reqwest::Client, query: &str, email: &str) -> String {
        let start = self.get_with(browser, &format!("{}/authorize?{query}", self.issuer)).await;
        assert_eq!(start.status(), 303, "authorize: {}", start.text().await.unwrap());
        let login_location = location(&start);
        let mut consent_location = login_location.clone();
        if login_location.contains("/login") {
            let form = self.get_with(browser, &login_location).await;
            assert_eq!(form.status(), 200);
            let html = form.text().await.unwrap();
            let signed_in = self.submit_login(browser, &html, email, PASSWORD).await;
            assert_eq!(signed_in.status(), 303, "login: {}", signed_in.text().await.unwrap());
            consent_location = location(&signed_in);
        }
        assert!(consent_location.contains("/consent"), "{consent_location}");
        let consent = self.get_with(browser, &consent_location).await;
        assert_eq!(consent.status(), 200);
        consent.text().await.unwrap()
    }

    /// Post the consent decision from a consent page; returns the response (a 302 to the client).
    pub async fn decide(&self, browser: &reqwest::Client, consent_html: &str, decision: &str) -> reqwest::Response {
        self.post_form_with(
            browser,
            &format!("{}/consent", gatehouse_path(&self.issuer)),
            &[
                ("request_id", &input_value(consent_html, "request_id").unwrap()),
                ("csrf_token", &input_value(consent_html, "csrf_token").unwrap()),
                ("decision", decision),
            ],
        )
        .await
    }

    /// The whole browser flow; returns the code from the 302.
    pub async fn authorization_code(&self, browser: &reqwest::Client, query: &str, email: &str) -> String {
        let consent = self.sign_in_to_consent(browser, query, email).await;
        let decided = self.decide(browser, &consent, "allow").await;
        assert_eq!(decided.status(), 302);
        query_param(&location(&decided), "code").expect("a code")
    }
}

/// The issuer's path ("" or "/auth").
pub fn gatehouse_path(issuer: &str) -> String {
    gatehouse::config::issuer_path(issuer)
}
