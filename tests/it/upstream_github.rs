//! Sign in with GitHub (SPEC §9.1, `kind = "github"`), through the real HTTP surface.
//!
//! github.com is unreachable from here, so this module runs a small local stand-in of GitHub on
//! loopback, pointed at by `web_base_url` and `api_base_url`: the authorize page (which, like
//! GitHub for an app the person already authorized, sends the browser straight back with a
//! code), `POST /login/oauth/access_token` (checks the client, the code, the redirect URI and
//! the PKCE verifier; answers JSON only when asked with `Accept: application/json`, and answers
//! its errors with status 200 and an `error` field, as GitHub documents), and the REST API —
//! `GET /user`, `GET /user/emails`, `GET /user/memberships/orgs/{org}` (200 with `state`, or 404
//! for a non-member), each wanting a token it issued (else 401 "Bad credentials"). It can serve
//! its API at the root (as api.github.com) or under `/api/v3` (as GitHub Enterprise Server).
//! Each refusal is a page and a `user.login.denied` row, and writes no user, identity or
//! session, and never redirects to the client.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::upstream::*;
use crate::common::TestApp;
use gatehouse::config::{ProviderKind, ProviderSettings};
use gatehouse::store::audit::event;

const REDIRECT: &str = "http://127.0.0.1:7777/callback";
const CLIENT_ID: &str = "Iv1.gatehouse-test";
const CLIENT_SECRET: &str = "github-stand-in-secret";

/// The person signed in at the stand-in.
#[derive(Clone)]
struct Person {
    id: u64,
    login: &'static str,
    name: Option<&'static str>,
    /// `/user/emails`, as GitHub answers it.
    emails: Value,
    /// org → membership `state`; an org not listed answers 404; `"hidden"` answers 403 (the
    /// organisation restricts OAuth app access and has not approved this app).
    memberships: HashMap<&'static str, &'static str>,
}

fn octocat(email: &str) -> Person {
    Person {
        id: 583231,
        login: "octocat",
        name: Some("Mona Octocat"),
        emails: json!([
            {"email": "octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
            {"email": email, "primary": true, "verified": true, "visibility": "private"},
        ]),
        memberships: HashMap::from([("acme", "active")]),
    }
}

struct Grant {
    challenge: String,
    redirect_uri: String,
}

struct HubState {
    person: Person,
    codes: HashMap<String, Grant>,
    tokens: HashSet<String>,
    /// The token endpoint answers this `error` (with status 200, as GitHub does).
    token_error: Option<&'static str>,
    /// Every API call answers this status.
    api_status: Option<u16>,
    api_delay: Duration,
    /// What the stand-in saw: the authorize query, the token request's Accept and form, the
    /// API requests' headers.
    authorize_queries: Vec<HashMap<String, String>>,
    token_requests: Vec<(String, HashMap<String, String>)>,
    api_requests: Vec<(String, HashMap<String, String>)>,
}

struct Hub {
    web: String,
    api: String,
    state: Arc<Mutex<HubState>>,
}

type Shared = web::Data<Arc<Mutex<HubState>>>;

fn query_map(raw: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
}

fn github_json(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

async fn authorize(request: HttpRequest, hub: Shared) -> HttpResponse {
    let query = query_map(request.query_string());
    let mut hub = hub.lock().unwrap();
    hub.authorize_queries.push(query.clone());
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return HttpResponse::NotFound().body("<h1>404</h1>");
    }
    let code = gatehouse::secrets::random_token(10);
    let grant = Grant {
        challenge: query.get("code_challenge").cloned().unwrap_or_default(),
        redirect_uri: query["redirect_uri"].clone(),
    };
    let back = format!("{}?code={code}&state={}", grant.redirect_uri, query.get("state").cloned().unwrap_or_default());
    hub.codes.insert(code, grant);
    HttpResponse::Found().insert_header(("location", back)).finish()
}

async fn access_token(request: HttpRequest, body: web::Bytes, hub: Shared) -> HttpResponse {
    let accept = request.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let form = query_map(std::str::from_utf8(&body).unwrap_or(""));
    let mut hub = hub.lock().unwrap();
    hub.token_requests.push((accept.clone(), form.clone()));
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let error = if let Some(error) = hub.token_error {
        Some(error)
    } else if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        Some("incorrect_client_credentials")
    } else {
        match hub.codes.remove(&field("code")) {
            None => Some("bad_verification_code"),
            Some(grant) if grant.redirect_uri != field("redirect_uri") => Some("redirect_uri_mismatch"),
            Some(grant) if gatehouse::oauth::pkce::s256_challenge(&field("code_verifier")) != grant.challenge => {
                Some("bad_verification_code")
            }
            Some(_) => None,
        }
    };
    let answer = match error {
        // GitHub: status 200, the error in the body.
        Some(error) => json!({"error": error, "error_description": "The code passed is incorrect or expired.",
                              "error_uri": "https://docs.github.com/apps/troubleshooting"}),
        None => {
            let token = format!("gho_{}", gatehouse::secrets::random_token(18));
            hub.tokens.insert(token.clone());
            json!({"access_token": token, "token_type": "bearer", "scope": "read:org,read:user,user:email"})
        }
    };
    if accept.contains("application/json") {
        github_json(200, answer)
    } else {
        // Without that Accept, GitHub answers form-encoded.
        let pairs: Vec<(String, String)> = answer
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        HttpResponse::Ok()
            .content_type("application/x-www-form-urlencoded")
            .body(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
    }
}

/// The API's common part: record, delay, the forced status, the token; then `answer`.
async fn api(request: HttpRequest, hub: Shared, answer: impl FnOnce(&Person) -> (u16, Value)) -> HttpResponse {
    let headers: HashMap<String, String> =
        request.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let delay = {
        let mut hub = hub.lock().unwrap();
        hub.api_requests.push((request.path().to_string(), headers.clone()));
        hub.api_delay
    };
    actix_web::rt::time::sleep(delay).await;
    let hub = hub.lock().unwrap();
    let bad_credentials =
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"});
    if let Some(status) = hub.api_status {
        return github_json(status, bad_credentials);
    }
    let token = headers.get("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if !hub.tokens.contains(token) {
        return github_json(401, bad_credentials);
    }
    let (status, body) = answer(&hub.person);
    github_json(status, body)
}

impl Hub {
    /// A stand-in with its API at `api_prefix` ("" as api.github.com, "/api/v3" as GitHub
    /// Enterprise Server).
    async fn start(api_prefix: &'static str, person: Person) -> Hub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let web_base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(HubState {
            person,
            codes: HashMap::new(),
            tokens: HashSet::new(),
            token_error: None,
            api_status: None,
            api_delay: Duration::ZERO,
            authorize_queries: Vec::new(),
            token_requests: Vec::new(),
            api_requests: Vec::new(),
        }));
        let shared = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/login/oauth/authorize", web::get().to(authorize))
                .route("/login/oauth/access_token", web::post().to(access_token))
                .route(
                    &format!("{api_prefix}/user"),
                    web::get().to(|r: HttpRequest, hub: Shared| {
                        api(r, hub, |p| (200, json!({"login": p.login, "id": p.id, "name": p.name, "type": "User"})))
                    }),
                )
                .route(
                    &format!("{api_prefix}/user/emails"),
                    web::get().to(|r: HttpRequest, hub: Shared| api(r, hub, |p| (200, p.emails.clone()))),
                )
                .route(
                    &format!("{api_prefix}/user/memberships/orgs/{{org}}"),
                    web::get().to(|r: HttpRequest, hub: Shared| {
                        let org = r.match_info().get("org").unwrap_or("").to_string();
                        api(r, hub, move |p| match p.memberships.get(org.as_str()) {
                            Some(&"hidden") => (
                                403,
                                json!({"message": "Although you appear to have the correct authorization credentials, \
                                       the organization has enabled OAuth App access restrictions.", "status": "403"}),
                            ),
                            Some(state) => (
                                200,
                                json!({"state": state, "role": "member", "organization": {"login": org},
                                       "user": {"login": p.login, "id": p.id}}),
                            ),
                            None => (404, json!({"message": "Not Found", "status": "404"})),
                        })
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Hub { api: format!("{web_base}{api_prefix}"), web: web_base, state }
    }

    fn set(&self, change: impl FnOnce(&mut HubState)) {
        change(&mut self.state.lock().unwrap());
    }

    fn get<T>(&self, read: impl FnOnce(&HubState) -> T) -> T {
        read(&self.state.lock().unwrap())
    }

    /// A `[[login.providers]]` entry for this stand-in: members of acme.
    fn provider(&self) -> ProviderSettings {
        ProviderSettings {
            id: "github".into(),
            kind: ProviderKind::Github,
            name: "GitHub".into(),
            issuer: String::new(),
            api_base_url: self.api.clone(),
            web_base_url: self.web.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            allowed_orgs: vec!["acme".into()],
            ..ProviderSettings::default()
        }
    }
}

async fn app_with_hub(hub: &Hub) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let entry = hub.provider();
    app.update_settings(|s| {
        s.login.providers.push(entry);
        s.login.upstream_timeout_ms = 1000;
    });
    let client = dcr_client(&app, &[REDIRECT]).await;
    (app, client)
}

/// `/authorize` → login page → "Continue with GitHub" → the stand-in's authorize page; returns
/// (the authorization URL Gatehouse sent the browser to, the callback URL the stand-in sent it
/// back to).
async fn to_callback(app: &TestApp, b: &reqwest::Client, query: &str) -> (String, String) {
    let start = app.get_with(b, &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 303);
    let login_page = app.get_with(b, &location(&start)).await.text().await.unwrap();
    assert!(login_page.contains("Continue with GitHub"), "{login_page}");
    let upstream = press_continue(app, b, &login_page, "github").await;
    let at_github = b.get(&upstream).send().await.unwrap();
    assert_eq!(at_github.status(), 302, "the stand-in's authorize page: {upstream}");
    (upstream, location(&at_github))
}

/// A whole sign-in up to Gatehouse's answer to the callback.
async fn sign_in(app: &TestApp, client: &str) -> reqwest::Response {
    let b = browser();
    let query = authorize_query(client, REDIRECT, &pkce().challenge, &[]);
    let (_, callback) = to_callback(app, &b, &query).await;
    app.get_with(&b, &callback).await
}

/// Sign in, consent and redeem the code; returns the access token's `sub`.
async fn sign_in_for_tokens(app: &TestApp, client: &str) -> String {
    let b = browser();
    let pair = pkce();
    let query = authorize_query(client, REDIRECT, &pair.challenge, &[("state", "s1")]);
    let (_, callback) = to_callback(app, &b, &query).await;
    let back = app.get_with(&b, &callback).await;
    assert_eq!(back.status(), 303, "{}", back.text().await.unwrap());
    let consent = app.get_with(&b, &location(&back)).await.text().await.unwrap();
    let decided = app.decide(&b, &consent, "allow").await;
    assert_eq!(decided.status(), 302);
    let code = query_param(&location(&decided), "code").unwrap();
    let (status, tokens) = app.exchange_code(client, REDIRECT, &code, &pair.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let payload = tokens["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

/// The user an identity (provider "github", `issuer`, `subject`) is linked to.
async fn linked_user(app: &TestApp, issuer: &str, subject: &str) -> Option<String> {
    let (issuer, subject) = (issuer.to_string(), subject.to_string());
    app.with_db(move |conn| {
        Ok(gatehouse::store::identities::find(conn, "github", &issuer, &subject)?.map(|i| i.user_id))
    })
    .await
}

/// The refusal page and its audit row: `rule`, the method naming the provider.
async fn assert_denied(app: &TestApp, response: reqwest::Response, status: u16, before: Written, rule: &str) -> String {
    let html = assert_refused(app, response, status, before).await;
    let denied = audit_details(app, event::USER_LOGIN_DENIED).await;
    assert_eq!(denied.len(), 1, "one audit row: {denied:?}");
    assert_eq!((denied[0]["rule"].as_str(), denied[0]["method"].as_str()), (Some(rule), Some("github")), "{html}");
    html
}

#[actix_web::test]
async fn a_member_of_an_allowed_org_signs_in_consents_and_gets_tokens_for_the_linked_user() {
    let hub = Hub::start("", octocat("mona@acme.com")).await;
    let (app, client) = app_with_hub(&hub).await;

    let b = browser();
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let (upstream, _) = to_callback(&app, &b, &query).await;
    assert!(upstream.starts_with(&format!("{}/login/oauth/authorize?", hub.web)), "{upstream}");
    let asked = hub.get(|h| h.authorize_queries[0].clone());
    assert_eq!(asked["redirect_uri"], format!("{}/login/github/callback", app.issuer));
    assert_eq!(asked["scope"], "read:user user:email read:org");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(asked["state"].len() >= 22, "state of at least 128 bits");
    assert!(!asked.contains_key("nonce") && !asked.contains_key("prompt") && !asked.contains_key("response_type"));

    let user_id = sign_in_for_tokens(&app, &client).await;
    assert_eq!(
        linked_user(&app, &hub.api, "583231").await.as_deref(),
        Some(user_id.as_str()),
        "keyed by the numeric id"
    );
    let id = user_id.clone();
    let user = app.with_db(move |conn| Ok(gatehouse::store::users::find(conn, &id)?.unwrap())).await;
    assert_eq!(user.source, "provider");
    assert_eq!(user.email.as_deref(), Some("mona@acme.com"), "the primary verified email");
    assert!(user.email_verified && user.password_hash.is_none());
    assert_eq!(user.name.as_deref(), Some("Mona Octocat"));
    assert_eq!(audit_details(&app, event::USER_LOGIN_SUCCEEDED).await[0]["method"], "github");

    // What GitHub saw: JSON asked of the token endpoint, the secret and PKCE verifier in the
    // form (the stand-in checked them), and the API headers GitHub documents.
    let (accept, form) = hub.get(|h| h.token_requests.last().cloned().unwrap());
    assert_eq!(accept, "application/json");
    assert!(form.contains_key("code_verifier") && form["client_secret"] == CLIENT_SECRET);
    let calls = hub.get(|h| h.api_requests.clone());
    let paths: Vec<&str> = calls.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(paths[..3], ["/user", "/user/emails", "/user/memberships/orgs/acme"]);
    for (path, headers) in &calls {
        assert!(headers["authorization"].starts_with("Bearer gho_"), "{path}");
        assert_eq!(headers["accept"], "application/vnd.github+json", "{path}");
        assert_eq!(headers["x-github-api-version"], "2022-11-28", "{path}");
        assert!(headers["user-agent"].starts_with("gatehouse/"), "{path}");
    }

    // A second sign-in finds the same user.
    assert_eq!(sign_in_for_tokens(&app, &client).await, user_id);
    assert_eq!(written(&app).await.users, 1, "no second user");
}

#[actix_web::test]
async fn no_verified_primary_email_is_refused() {
    let mut person = octocat("mona@acme.com");
    person.emails = json!([
        {"email": "mona@acme.com", "primary": true, "verified": false, "visibility": "private"},
        {"email": "mona@other.example", "primary": false, "verified": true, "visibility": null},
    ]);
    let hub = Hub::start("", person).await;
    let (app, client) = app_with_hub(&hub).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 403, written(&app).await, "email_not_verified").await;
    assert!(html.contains("GitHub has not verified the email address"), "{html}");

    // No primary address at all is refused the same way.
    hub.set(|h| h.person.emails = json!([]));
    let before = written(&app).await;
    let response = sign_in(&app, &client).await;
    assert_refused(&app, response, 403, before).await;
    assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "email_not_verified");
}

#[actix_web::test]
async fn a_pending_membership_does_not_count() {
    let mut person = octocat("mona@acme.com");
    person.memberships = HashMap::from([("acme", "pending")]);
    let hub = Hub::start("", person).await;
    let (app, client) = app_with_hub(&hub).await;
    let before = written(&app).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 403, before, "org_membership_pending").await;
    assert!(html.contains("not allowed to sign in here"), "{html}");
    assert!(html.contains("Your membership in acme is pending"), "{html}");
}

#[actix_web::test]
async fn membership_in_none_of_the_allowed_orgs_is_refused() {
    let mut person = octocat("mona@acme.com");
    person.memberships = HashMap::from([("other-org", "active")]);
    let hub = Hub::start("", person).await;
    let (app, client) = app_with_hub(&hub).await;
    app.update_settings(|s| s.login.providers[0].allowed_orgs = vec!["acme".into(), "widgets".into()]);
    let before = written(&app).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 403, before, "org_not_member").await;
    let host = hub.web.trim_start_matches("http://");
    assert!(
        html.contains(&format!("Only members of the acme or widgets organisations on {host} may sign in")),
        "{html}"
    );
    let paths: Vec<String> = hub.get(|h| h.api_requests.iter().map(|(p, _)| p.clone()).collect());
    assert!(paths.contains(&"/user/memberships/orgs/widgets".to_string()), "each allowed org asked: {paths:?}");
}

#[actix_web::test]
async fn an_organisation_that_has_not_approved_the_app_is_refused_with_the_reason() {
    let mut person = octocat("mona@acme.com");
    person.memberships = HashMap::from([("acme", "hidden")]);
    let hub = Hub::start("", person).await;
    let (app, client) = app_with_hub(&hub).await;
    let before = written(&app).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 403, before, "org_access_restricted").await;
    assert!(html.contains("an owner of the organisation must approve it"), "{html}");
}

#[actix_web::test]
async fn not_you_goes_back_to_github_with_prompt_select_account() {
    let hub = Hub::start("", octocat("mona@acme.com")).await;
    let (app, client) = app_with_hub(&hub).await;
    let b = browser();
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let (_, callback) = to_callback(&app, &b, &query).await;
    let back = app.get_with(&b, &callback).await;
    let consent = app.get_with(&b, &location(&back)).await.text().await.unwrap();
    let form = consent.split("action=\"/consent/sign-out\"").nth(1).expect("a Not you? form");
    let fields = [
        ("request_id", input_value(form, "request_id").unwrap()),
        ("csrf_token", input_value(form, "csrf_token").unwrap()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = app.post_form_with(&b, "/consent/sign-out", &fields).await;
    assert_eq!(out.status(), 303);
    let upstream = location(&out);
    assert!(upstream.starts_with(&format!("{}/login/oauth/authorize?", hub.web)), "{upstream}");
    assert_eq!(query_param(&upstream, "prompt").as_deref(), Some("select_account"));
    assert_eq!(written(&app).await.sessions, 0, "the session is over");

    // Another GitHub account is chosen there.
    hub.set(|h| {
        h.person = Person { id: 9, login: "hubot", name: None, ..octocat("hubot@acme.com") };
    });
    let at_github = b.get(&upstream).send().await.unwrap();
    let back = app.get_with(&b, &location(&at_github)).await;
    assert_eq!(back.status(), 303);
    let consent = app.get_with(&b, &location(&back)).await.text().await.unwrap();
    assert!(consent.contains("hubot@acme.com"), "{consent}");
    assert!(linked_user(&app, &hub.api, "9").await.is_some(), "the other account is linked");
}

#[actix_web::test]
async fn a_token_response_with_an_error_and_status_200_is_refused() {
    let hub = Hub::start("", octocat("mona@acme.com")).await;
    let (app, client) = app_with_hub(&hub).await;
    hub.set(|h| h.token_error = Some("bad_verification_code"));
    let before = written(&app).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 400, before, "upstream_token_error").await;
    assert!(html.contains("GitHub refused the sign-in (bad_verification_code)"), "{html}");
    assert!(hub.get(|h| h.api_requests.is_empty()), "no API call without a token");
}

#[actix_web::test]
async fn an_api_answering_401_is_refused() {
    let hub = Hub::start("", octocat("mona@acme.com")).await;
    let (app, client) = app_with_hub(&hub).await;
    hub.set(|h| h.api_status = Some(401));
    let before = written(&app).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 400, before, "upstream_api_error").await;
    assert!(html.contains("its API answered HTTP 401"), "{html}");
}

#[actix_web::test]
async fn an_api_that_times_out_gets_a_page_within_the_timeout() {
    let hub = Hub::start("", octocat("mona@acme.com")).await;
    let (app, client) = app_with_hub(&hub).await;
    hub.set(|h| h.api_delay = Duration::from_secs(5));
    let before = written(&app).await;
    let started = Instant::now();
    let response = sign_in(&app, &client).await;
    let took = started.elapsed();
    let html = assert_denied(&app, response, 502, before, "upstream_unavailable").await;
    assert!(took < Duration::from_millis(3000), "answered in {took:?} (upstream_timeout_ms = 1000)");
    assert!(html.contains("did not answer in time"), "{html}");
}

#[actix_web::test]
async fn an_email_held_by_another_user_is_refused() {
    let hub = Hub::start("", octocat("mona@acme.com")).await;
    let (app, client) = app_with_hub(&hub).await;
    create_user(&app, "Mona@acme.com").await;
    let before = written(&app).await;
    let html = assert_denied(&app, sign_in(&app, &client).await, 403, before, "email_in_use").await;
    assert!(html.contains("already belongs to another user"), "{html}");
}

#[actix_web::test]
async fn github_com_and_an_enterprise_server_never_share_subjects() {
    // The same numeric id on both.
    let dotcom = Hub::start("", octocat("mona@acme.com")).await;
    let enterprise = Hub::start("/api/v3", octocat("mona@acme.com")).await;
    assert!(enterprise.api.ends_with("/api/v3"));
    let (app, client) = app_with_hub(&dotcom).await;
    let on_dotcom = sign_in_for_tokens(&app, &client).await;

    // The provider id pointed at an Enterprise Server: its id 583231 is another person, and the
    // same email is not a silent link to the github.com user.
    let (api, web) = (enterprise.api.clone(), enterprise.web.clone());
    app.update_settings(|s| {
        s.login.providers[0].api_base_url = api;
        s.login.providers[0].web_base_url = web;
    });
    let before = written(&app).await;
    assert_denied(&app, sign_in(&app, &client).await, 403, before, "email_in_use").await;

    enterprise.set(|h| h.person = octocat("mona@github.acme.com"));
    let on_enterprise = sign_in_for_tokens(&app, &client).await;
    assert_ne!(on_enterprise, on_dotcom);
    assert_eq!(linked_user(&app, &dotcom.api, "583231").await.as_deref(), Some(on_dotcom.as_str()));
    assert_eq!(linked_user(&app, &enterprise.api, "583231").await.as_deref(), Some(on_enterprise.as_str()));
    assert_eq!(written(&app).await.identities, 2);
    let paths: BTreeMap<String, usize> = enterprise.get(|h| {
        h.api_requests.iter().fold(BTreeMap::new(), |mut m, (p, _)| {
            *m.entry(p.clone()).or_default() += 1;
            m
        })
    });
    assert!(paths.contains_key("/api/v3/user/emails"), "the Enterprise API under /api/v3: {paths:?}");
}
