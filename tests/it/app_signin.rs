//! "Use your app's own sign-in" (SPEC §9.2): the login challenge, the login API (accept,
//! reject, the request info) with its bearer key, and the return that needs the verifier and
//! the browser that started the request. The end-to-end test runs the real example app of
//! `examples/app-signin` (Node.js); the others play the app's part with direct API calls.

use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::TestApp;
use gatehouse::store::users;

const API_KEY: &str = "0123456789abcdef0123456789abcdef-app-key";
const REDIRECT: &str = "https://app.example/callback";

/// A Gatehouse whose `[login.app]` points at `app_url`.
async fn app_with_app_login(app_url: &str) -> TestApp {
    let url = app_url.to_string();
    TestApp::spawn_with(move |s| {
        s.login.app.url = url;
        s.login.app.api_key = API_KEY.into();
        s.login.app.resolved_api_key = API_KEY.into();
        s.login.app.name = "Example app".into();
    })
    .await
}

/// The login API as the app calls it: status and JSON body.
async fn login_api(app: &TestApp, method: reqwest::Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.http.request(method, app.url(&format!("/login/app/requests/{path}")));
    if !key.is_empty() {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
}

async fn accept(app: &TestApp, challenge: &str, body: Value) -> (u16, Value) {
    login_api(app, reqwest::Method::POST, &format!("{challenge}/accept"), API_KEY, Some(body)).await
}

/// A browser starts `/authorize` and presses "Continue with Example app": the app's URL with
/// the login challenge.
async fn start_at_app(app: &TestApp, browser: &reqwest::Client, client: &str) -> String {
    let query = authorize_query(client, REDIRECT, &pkce().challenge, &[]);
    let start = app.get_with(browser, &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 303);
    let login = app.get_with(browser, &location(&start)).await.text().await.unwrap();
    assert!(login.contains("Continue with Example app"), "{login}");
    let fields = [
        ("request_id", input_value(&login, "request_id").unwrap()),
        ("csrf_token", input_value(&login, "csrf_token").unwrap()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let handed = app.post_form_with(browser, "/login/app", &fields).await;
    assert_eq!(handed.status(), 303);
    location(&handed)
}

fn challenge_of(app_location: &str) -> String {
    query_param(app_location, "login_challenge").expect("a login challenge")
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::*;
        Ok(match table {
            "users" => users::table.count().get_result(conn)?,
            "sessions" => sessions::table.count().get_result(conn)?,
            _ => unreachable!(),
        })
    })
    .await
}

fn has_session_cookie(response: &reqwest::Response) -> bool {
    response.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().contains("gh_session="))
}

/// A free loopback port for a process of our own.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The example app, running: killed when dropped.
struct ExampleApp(std::process::Child);

impl Drop for ExampleApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_example_app(port: u16, issuer: &str) -> ExampleApp {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/app-signin/app.mjs");
    let child = std::process::Command::new("node")
        .arg(script)
        .env("GATEHOUSE_ISSUER", issuer)
        .env("GATEHOUSE_APP_API_KEY", API_KEY)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("Node.js runs the example app (scripts/test needs node on the PATH)");
    let app = ExampleApp(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the example app did not start on port {port}");
}

/// The done-when: the example app signs a person in, Gatehouse shows consent, the MCP
/// client gets tokens with the app's subject in `sub`, and a resource server verifying them from
/// `jwks_uri` sees that subject. The next authorization goes back through the app (instant
/// while the app's own session lives).
#[actix_web::test]
async fn the_example_app_signs_its_user_in_and_the_tokens_carry_its_id() {
    use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
    let port = free_port();
    let app = app_with_app_login(&format!("http://127.0.0.1:{port}/login")).await;
    let _example = start_example_app(port, &app.issuer).await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let browser = browser();

    let p = pkce();
    let query = authorize_query(&client, REDIRECT, &p.challenge, &[]);
    let start = app.get_with(&browser, &format!("{}/authorize?{query}", app.issuer)).await;
    let login = app.get_with(&browser, &location(&start)).await.text().await.unwrap();
    let fields = [
        ("request_id", input_value(&login, "request_id").unwrap()),
        ("csrf_token", input_value(&login, "csrf_token").unwrap()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let to_app = location(&app.post_form_with(&browser, "/login/app", &fields).await);
    assert!(to_app.starts_with(&format!("http://127.0.0.1:{port}/login?login_challenge=")), "{to_app}");

    // The app's own sign-in form, which shows the client's name from the request info.
    let form = browser.get(&to_app).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("Test DCR app"), "{form}");
    let challenge = challenge_of(&to_app);
    let signed_in = browser
        .post(format!("http://127.0.0.1:{port}/login"))
        .form(&[("login_challenge", challenge.as_str()), ("username", "ann"), ("password", "ann-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let back = location(&signed_in);
    assert!(back.starts_with(&format!("{}/login/app/return?login_verifier=", app.issuer)), "{back}");
    let returned = app.get_with(&browser, &back).await;
    assert_eq!(returned.status(), 303);
    let consent = app.get_with(&browser, &location(&returned)).await.text().await.unwrap();
    assert!(consent.contains("ann@example.com"), "consent names the app's user: {consent}");
    let decided = app.decide(&browser, &consent, "allow").await;
    let code = query_param(&location(&decided), "code").expect("a code");
    let (status, tokens) = app.exchange_code(&client, REDIRECT, &code, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");

    // A resource server that knows only the issuer's JWKS sees the app's own user id.
    let access_token = tokens["access_token"].as_str().unwrap();
    let jwks: JwkSet = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(access_token).unwrap().kid.unwrap();
    let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.validate_aud = false;
    // The test server's clock is fixed in the past: its tokens have expired in real time.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(access_token, &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "42");
    let user = app.with_db(|conn| Ok(users::find(conn, "42")?)).await.expect("the app's user");
    assert_eq!(
        (user.source.as_str(), user.email.as_deref(), user.email_verified),
        ("app", Some("ann@example.com"), true)
    );

    // The next authorization goes back through the app, which answers at once (its session).
    let again = app
        .get_with(
            &browser,
            &format!("{}/authorize?{}", app.issuer, authorize_query(&client, REDIRECT, &pkce().challenge, &[])),
        )
        .await;
    assert!(location(&again).contains("/login?"), "the app's session is not reused: {}", location(&again));
    let login = app.get_with(&browser, &location(&again)).await.text().await.unwrap();
    let fields = [
        ("request_id", input_value(&login, "request_id").unwrap()),
        ("csrf_token", input_value(&login, "csrf_token").unwrap()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let to_app = location(&app.post_form_with(&browser, "/login/app", &fields).await);
    let instant = browser.get(&to_app).send().await.unwrap();
    assert_eq!(instant.status(), 303, "signed in at the app already");
    let returned = app.get_with(&browser, &location(&instant)).await;
    assert!(location(&returned).contains("/consent"), "{}", location(&returned));
}

/// SPEC §9.2's attack: a stranger starts a request in their own browser and sends its challenge
/// link to a victim who is signed in at the app; the app accepts for the victim. The victim's
/// browser is not the one that started the request, so the statement is void there; and the
/// stranger, even holding the verifier, cannot use it afterwards. Nobody gets a session.
#[actix_web::test]
async fn a_stolen_challenge_signs_nobody_in() {
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let stranger = browser();
    let challenge = challenge_of(&start_at_app(&app, &stranger, &client).await);

    // The victim opens the link; the app, where the victim is signed in, accepts for them.
    let (status, answered) =
        accept(&app, &challenge, json!({"subject": "victim-7", "email": "victim@example.com"})).await;
    assert_eq!(status, 200, "{answered}");
    let back = answered["redirect_to"].as_str().unwrap().to_string();
    let victim = browser();
    let at_victim = app.get_with(&victim, &back).await;
    assert_eq!(at_victim.status(), 400);
    assert!(!has_session_cookie(&at_victim));
    assert!(at_victim.text().await.unwrap().contains("started in another browser"));

    // The verifier leaks to the stranger: the statement is void already.
    let at_stranger = app.get_with(&stranger, &back).await;
    assert_eq!(at_stranger.status(), 400);
    assert!(!has_session_cookie(&at_stranger));
    assert_eq!(count(&app, "sessions").await, 0);
    let denied = crate::register::audit_rows(&app, "user.login.denied").await;
    assert_eq!(denied.len(), 1);
    assert!(denied[0].detail.contains("other_browser"), "{}", denied[0].detail);
}

/// The verifier is the only way back: a wrong one, or the right one in the right browser
/// twice, signs nobody in the second time.
#[actix_web::test]
async fn the_return_needs_the_right_verifier_once() {
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let person = browser();
    let challenge = challenge_of(&start_at_app(&app, &person, &client).await);
    let (_, answered) = accept(&app, &challenge, json!({"subject": "user-1"})).await;
    let back = answered["redirect_to"].as_str().unwrap().to_string();

    let wrong = app.get_with(&person, &format!("{}/login/app/return?login_verifier=forged", app.issuer)).await;
    assert_eq!(wrong.status(), 400);
    assert!(!has_session_cookie(&wrong));
    let none = app.get_with(&person, &format!("{}/login/app/return", app.issuer)).await;
    assert_eq!(none.status(), 400);

    let right = app.get_with(&person, &back).await;
    assert_eq!(right.status(), 303);
    assert!(has_session_cookie(&right));
    let replay = app.get_with(&person, &back).await;
    assert_eq!(replay.status(), 400);
    assert!(!has_session_cookie(&replay));
    assert_eq!(count(&app, "sessions").await, 1);
}

/// Wrong or missing keys are 401; after 10 wrong ones a minute from one address they are 429
/// until the minute is over — while the right key keeps working.
#[actix_web::test]
async fn wrong_api_keys_are_refused_and_throttled_but_never_the_right_one() {
    use reqwest::Method;
    let app = app_with_app_login("https://app.example/login").await;
    let (status, _) = login_api(&app, Method::GET, "some-challenge", "", None).await;
    assert_eq!(status, 401);
    for _ in 0..9 {
        let (status, body) = login_api(&app, Method::GET, "some-challenge", "wrong-key", None).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    }
    let (status, _) =
        login_api(&app, Method::POST, "some-challenge/accept", "wrong-key", Some(json!({"subject": "x"}))).await;
    assert_eq!(status, 429);
    let (status, body) = login_api(&app, Method::GET, "some-challenge", API_KEY, None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "the right key is never throttled");
    app.clock.advance(61);
    let (status, _) = login_api(&app, Method::GET, "some-challenge", "wrong-key", None).await;
    assert_eq!(status, 401, "a new minute");
}

/// Unknown, answered and expired challenges are 404; a replayed accept too.
#[actix_web::test]
async fn challenges_are_single_use_and_expire_with_the_request() {
    use reqwest::Method;
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let (status, _) = accept(&app, "unknown", json!({"subject": "u"})).await;
    assert_eq!(status, 404);

    let challenge = challenge_of(&start_at_app(&app, &browser(), &client).await);
    let (status, info) = login_api(&app, Method::GET, &challenge, API_KEY, None).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["purpose"], "authorize");
    assert_eq!(info["client_id"], client.as_str());
    assert_eq!(info["client_name"], "Test DCR app");
    assert_eq!(info["client_source"], "dcr");
    assert!(info["scopes"].is_array(), "{info}");
    assert_eq!(info["prompt"], Value::Null);
    assert!(info["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(accept(&app, &challenge, json!({"subject": "u"})).await.0, 200);
    assert_eq!(accept(&app, &challenge, json!({"subject": "u"})).await.0, 404, "a replayed accept");
    let (status, _) = login_api(&app, Method::POST, &format!("{challenge}/reject"), API_KEY, None).await;
    assert_eq!(status, 404, "answered already");

    // The app answers too late: the pending request (and the challenge with it) has expired.
    let slow = challenge_of(&start_at_app(&app, &browser(), &client).await);
    app.clock.advance(3600);
    assert_eq!(accept(&app, &slow, json!({"subject": "late"})).await.0, 404);
    assert!(app.with_db(|conn| Ok(users::find(conn, "late")?)).await.is_none());
}

/// Subjects outside the allowed characters or length, or starting with `usr_`, and malformed
/// fields are 400 with the reason; nothing is written and the challenge stays usable.
#[actix_web::test]
async fn bad_statements_are_400_with_the_reason() {
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let challenge = challenge_of(&start_at_app(&app, &browser(), &client).await);
    let long = "a".repeat(256);
    for (body, why) in [
        (json!({"subject": "has space"}), "subject must use only"),
        (json!({"subject": long}), "1 to 255"),
        (json!({"subject": "usr_abc"}), "usr_"),
        (json!({}), "subject is required"),
        (json!({"subject": "ok", "email": "not-an-email"}), "email"),
        (json!({"subject": "ok", "email_verified": "yes"}), "email_verified"),
        (json!({"subject": "ok\u{0}"}), "control character"),
    ] {
        let (status, answer) = accept(&app, &challenge, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"], "invalid_request");
        assert!(answer["error_description"].as_str().unwrap().contains(why), "{body}: {answer}");
    }
    let raw = app
        .http
        .post(app.url(&format!("/login/app/requests/{challenge}/accept")))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body("[1, 2")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(accept(&app, &challenge, json!({"subject": "ok"})).await.0, 200, "the challenge was still open");
}

/// An email held by another user is 409 with nothing written; a disabled app user is 403; each
/// accept refreshes the user's name and email.
#[actix_web::test]
async fn the_email_rule_and_disabled_users() {
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    create_user(&app, "taken@example.com").await;

    let challenge = challenge_of(&start_at_app(&app, &browser(), &client).await);
    let (status, body) = accept(&app, &challenge, json!({"subject": "7", "email": "TAKEN@example.com"})).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("email_in_use")));
    assert!(app.with_db(|conn| Ok(users::find(conn, "7")?)).await.is_none(), "nothing written");
    let (status, _) =
        accept(&app, &challenge, json!({"subject": "7", "email": "seven@example.com", "name": "Seven"})).await;
    assert_eq!(status, 200, "the challenge survived the refusal");

    // The next accept refreshes the profile.
    let challenge = challenge_of(&start_at_app(&app, &browser(), &client).await);
    let (status, _) = accept(
        &app,
        &challenge,
        json!({"subject": "7", "email": "new7@example.com", "email_verified": true, "name": "Sev"}),
    )
    .await;
    assert_eq!(status, 200);
    let user = app.with_db(|conn| Ok(users::find(conn, "7")?)).await.unwrap();
    assert_eq!(
        (user.email.as_deref(), user.email_verified, user.name.as_deref()),
        (Some("new7@example.com"), true, Some("Sev"))
    );

    // Disabled by an operator: 403, and nothing signs them in.
    app.with_db(|conn| Ok(users::set_status(conn, "7", users::STATUS_DISABLED, 0)?)).await;
    let challenge = challenge_of(&start_at_app(&app, &browser(), &client).await);
    let (status, body) = accept(&app, &challenge, json!({"subject": "7"})).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("user_disabled")));
}

/// A reject shows the app's words (escaped) on a Gatehouse page and never redirects to the
/// client.
#[actix_web::test]
async fn a_reject_is_a_page_with_the_apps_words() {
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let person = browser();
    let challenge = challenge_of(&start_at_app(&app, &person, &client).await);
    let (status, answered) = login_api(
        &app,
        reqwest::Method::POST,
        &format!("{challenge}/reject"),
        API_KEY,
        Some(json!({"error_description": "Your <b>trial</b> has ended."})),
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    let page = app.get_with(&person, answered["redirect_to"].as_str().unwrap()).await;
    assert_eq!(page.status(), 403);
    assert!(page.headers().get("location").is_none(), "never a redirect to the client");
    assert!(!has_session_cookie(&page));
    let html = page.text().await.unwrap();
    assert!(html.contains("Your &lt;b&gt;trial&lt;/b&gt; has ended."), "{html}");
}

/// "Not you? Sign out" after the app's sign-in goes back to the app with a fresh challenge,
/// whose request info asks for a fresh sign-in (`prompt: "login"`).
#[actix_web::test]
async fn not_you_goes_back_to_the_app_asking_for_a_fresh_sign_in() {
    let app = app_with_app_login("https://app.example/login").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    let person = browser();
    let challenge = challenge_of(&start_at_app(&app, &person, &client).await);
    let (_, answered) = accept(&app, &challenge, json!({"subject": "user-1"})).await;
    let back = app.get_with(&person, answered["redirect_to"].as_str().unwrap()).await;
    let consent = app.get_with(&person, &location(&back)).await.text().await.unwrap();
    let form = consent.split("action=\"/consent/sign-out\"").nth(1).expect("a Not you? form");
    let (request_id, csrf) = (input_value(form, "request_id").unwrap(), input_value(form, "csrf_token").unwrap());
    let out =
        app.post_form_with(&person, "/consent/sign-out", &[("request_id", &request_id), ("csrf_token", &csrf)]).await;
    assert_eq!(out.status(), 303);
    let again = location(&out);
    assert!(again.starts_with("https://app.example/login?login_challenge="), "{again}");
    assert_eq!(count(&app, "sessions").await, 0);
    let (status, info) = login_api(&app, reqwest::Method::GET, &challenge_of(&again), API_KEY, None).await;
    assert_eq!(status, 200);
    assert_eq!(info["prompt"], "login");
}

/// `auto_redirect` with the app as the only source: `/authorize` goes straight to the app.
#[actix_web::test]
async fn the_app_as_the_only_source_is_gone_to_straight_from_authorize() {
    let app = app_with_app_login("https://app.example/login").await;
    app.update_settings(|s| s.login.password_enabled = false);
    assert_eq!(app.settings().validate(), Vec::<String>::new());
    let client = dcr_client(&app, &[REDIRECT]).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let start = app.get_with(&browser(), &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 303);
    let to = location(&start);
    assert!(to.starts_with("https://app.example/login?login_challenge="), "{to}");
    let (status, _) = login_api(&app, reqwest::Method::GET, &challenge_of(&to), API_KEY, None).await;
    assert_eq!(status, 200, "a live challenge");
}

/// The dashboard's sign-in through the app (SPEC §12, §9.2): the request info says
/// `purpose: "admin"` without client fields; the return goes to `/admin`, where the role decides.
#[actix_web::test]
async fn the_dashboards_sign_in_through_the_app_has_purpose_admin_and_returns_to_admin() {
    let app = app_with_app_login("https://app.example/login").await;
    let person = browser();
    let start = app.get_with(&person, "/admin").await;
    assert_eq!(start.status(), 303);
    let login = app.get_with(&person, &location(&start)).await.text().await.unwrap();
    assert!(login.contains("the operator dashboard") && login.contains("Continue with Example app"), "{login}");
    let fields = [
        ("request_id", input_value(&login, "request_id").unwrap()),
        ("csrf_token", input_value(&login, "csrf_token").unwrap()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let handed = app.post_form_with(&person, "/login/app", &fields).await;
    assert_eq!(handed.status(), 303);
    let challenge = challenge_of(&location(&handed));

    let (status, info) = login_api(&app, reqwest::Method::GET, &challenge, API_KEY, None).await;
    assert_eq!(status, 200);
    assert_eq!(info["purpose"], "admin");
    for absent in ["client_id", "client_name", "client_source"] {
        assert!(info.get(absent).is_none(), "{absent} in {info}");
    }

    let (_, answered) = accept(&app, &challenge, json!({"subject": "ops-1", "email": "ops@example.com"})).await;
    let back = app.get_with(&person, answered["redirect_to"].as_str().unwrap()).await;
    assert_eq!(back.status(), 303);
    assert_eq!(location(&back), "/admin");
    // Signed in, but without the admin role.
    assert_eq!(app.get_with(&person, "/admin").await.status(), 403);
    let now = app.clock_now();
    app.with_db(move |conn| {
        gatehouse::operator::set_role(
            conn,
            &gatehouse::operator::UserRef::Id("ops-1".into()),
            gatehouse::operator::Role::Admin,
            gatehouse::store::audit::Actor::Cli,
            now,
        )
        .map(|_| ())
        .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await;
    assert_eq!(app.get_with(&person, "/admin").await.status(), 200, "the role is read on every request");
}
