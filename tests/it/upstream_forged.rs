//! Upstream answers a real OpenID Provider will not give (SPEC §9.1): forged, expired or
//! wrongly signed `id_token`s, a `userinfo` for another subject, a token endpoint that is down
//! or slow. A small fake provider in this module — discovery, JWKS, token and userinfo
//! endpoints, signing ES256 with keys of its own (ring) — mints them; everything else is the
//! real HTTP surface. Each refusal is a page, writes no user, identity or session, and never
//! redirects to the client.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::upstream::*;
use crate::common::TestApp;
use gatehouse::config::ProviderSettings;
use gatehouse::store::audit::event;

const REDIRECT: &str = "http://127.0.0.1:7777/callback";
const CLIENT_ID: &str = "gatehouse-at-fake";

struct Key {
    kid: &'static str,
    pair: EcdsaKeyPair,
}

impl Key {
    fn new(kid: &'static str) -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Key { kid, pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap() }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// How a token is signed.
enum Signing<'a> {
    Es256(&'a Key),
    None,
    /// HS256 with the published public key as the HMAC secret (the classic confusion attack).
    Hs256WithPublicKey(&'a Key),
}

fn mint(claims: &Value, signing: Signing) -> String {
    match signing {
        Signing::Es256(key) => {
            let input = format!("{}.{}", b64(&json!({"alg": "ES256", "typ": "JWT", "kid": key.kid})), b64(claims));
            let signature = key.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        }
        Signing::None => format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(claims)),
        Signing::Hs256WithPublicKey(key) => {
            let input = format!("{}.{}", b64(&json!({"alg": "HS256", "typ": "JWT", "kid": key.kid})), b64(claims));
            let secret = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.jwk().to_string().as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(ring::hmac::sign(&secret, input.as_bytes()).as_ref()))
        }
    }
}

#[derive(Default)]
struct FakeState {
    id_token: String,
    userinfo: Value,
    token_delay: Duration,
    jwks: Value,
    jwks_fetches: usize,
    token_requests: usize,
}

struct Fake {
    issuer: String,
    state: Arc<Mutex<FakeState>>,
    key: Key,
    stranger: Key,
}

impl Fake {
    /// A fake provider; `token_endpoint`: where discovery says the token endpoint is (default:
    /// its own).
    async fn start(token_endpoint: Option<String>) -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = Key::new("k1");
        let state = Arc::new(Mutex::new(FakeState { jwks: json!({"keys": [key.jwk()]}), ..FakeState::default() }));
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": token_endpoint.unwrap_or(format!("{issuer}/token")),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        });
        let shared = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            let discovery = discovery.clone();
            App::new()
                .app_data(shared.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let d = discovery.clone();
                        async move { HttpResponse::Ok().json(d) }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(|s: web::Data<Arc<Mutex<FakeState>>>| async move {
                        let mut s = s.lock().unwrap();
                        s.jwks_fetches += 1;
                        HttpResponse::Ok().insert_header(("cache-control", "max-age=3600")).json(s.jwks.clone())
                    }),
                )
                .route(
                    "/token",
                    web::post().to(|s: web::Data<Arc<Mutex<FakeState>>>| async move {
                        let (delay, id_token) = {
                            let mut s = s.lock().unwrap();
                            s.token_requests += 1;
                            (s.token_delay, s.id_token.clone())
                        };
                        actix_web::rt::time::sleep(delay).await;
                        HttpResponse::Ok()
                            .json(json!({"access_token": "upstream-at", "token_type": "Bearer", "id_token": id_token}))
                    }),
                )
                .route(
                    "/userinfo",
                    web::get().to(|s: web::Data<Arc<Mutex<FakeState>>>| async move {
                        HttpResponse::Ok().json(s.lock().unwrap().userinfo.clone())
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Fake { issuer, state, key, stranger: Key::new("k2") }
    }

    fn set(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.state.lock().unwrap());
    }

    fn get<T>(&self, read: impl FnOnce(&FakeState) -> T) -> T {
        read(&self.state.lock().unwrap())
    }
}

async fn app_with_fake(fake: &Fake) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let entry = ProviderSettings {
        id: "fake".into(),
        name: "Fake IdP".into(),
        issuer: fake.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: "fake-secret".into(),
        allowed_email_domains: vec!["acme.com".into()],
        ..ProviderSettings::default()
    };
    app.update_settings(|s| {
        s.login.providers.push(entry);
        s.login.upstream_timeout_ms = 1000;
    });
    let client = dcr_client(&app, &[REDIRECT]).await;
    (app, client)
}

/// Start a sign-in and go upstream; returns (state, nonce) of the authorization request.
async fn go_upstream(app: &TestApp, b: &reqwest::Client, client: &str) -> (String, String) {
    let query = authorize_query(client, REDIRECT, &pkce().challenge, &[]);
    let start = app.get_with(b, &format!("{}/authorize?{query}", app.issuer)).await;
    let login_page = app.get_with(b, &location(&start)).await.text().await.unwrap();
    let upstream = press_continue(app, b, &login_page, "fake").await;
    (query_param(&upstream, "state").unwrap(), query_param(&upstream, "nonce").unwrap())
}

fn good_claims(app: &TestApp, fake: &Fake, nonce: &str) -> Value {
    let now = app.clock_now();
    json!({"iss": fake.issuer, "aud": CLIENT_ID, "sub": "fake-user-1", "email": "frank@acme.com",
           "email_verified": true, "name": "Frank", "iat": now, "exp": now + 300, "nonce": nonce})
}

async fn callback(app: &TestApp, b: &reqwest::Client, state: &str) -> reqwest::Response {
    app.get_with(b, &format!("{}/login/fake/callback?code=upstream-code&state={state}", app.issuer)).await
}

/// One sign-in whose `id_token` is `token(claims)`; returns the callback's response.
async fn sign_in_with(
    app: &TestApp,
    fake: &Fake,
    client: &str,
    token: impl FnOnce(Value) -> String,
) -> reqwest::Response {
    let b = browser();
    let (state, nonce) = go_upstream(app, &b, client).await;
    let id_token = token(good_claims(app, fake, &nonce));
    fake.set(|s| s.id_token = id_token);
    callback(app, &b, &state).await
}

#[actix_web::test]
async fn a_well_signed_token_from_the_fake_is_accepted() {
    // The refusals below are only meaningful if a good token passes.
    let fake = Fake::start(None).await;
    let (app, client) = app_with_fake(&fake).await;
    let response = sign_in_with(&app, &fake, &client, |claims| mint(&claims, Signing::Es256(&fake.key))).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(written(&app).await.users, 1);
}

/// Makes an `id_token` from good claims.
type Mint<'a> = Box<dyn Fn(Value) -> String + 'a>;

#[actix_web::test]
async fn forged_id_tokens_are_refused() {
    let fake = Fake::start(None).await;
    let (app, client) = app_with_fake(&fake).await;
    let empty = written(&app).await;
    let cases: Vec<(&str, Mint)> = vec![
        (
            "wrong iss",
            Box::new(|mut c: Value| {
                c["iss"] = json!("https://evil.example");
                mint(&c, Signing::Es256(&fake.key))
            }),
        ),
        (
            "wrong aud",
            Box::new(|mut c: Value| {
                c["aud"] = json!("someone-else");
                mint(&c, Signing::Es256(&fake.key))
            }),
        ),
        (
            "several aud, no azp",
            Box::new(|mut c: Value| {
                c["aud"] = json!([CLIENT_ID, "someone-else"]);
                mint(&c, Signing::Es256(&fake.key))
            }),
        ),
        (
            "expired",
            Box::new(|mut c: Value| {
                let now = c["iat"].as_i64().unwrap();
                c["iat"] = json!(now - 200);
                c["exp"] = json!(now - 100);
                mint(&c, Signing::Es256(&fake.key))
            }),
        ),
        (
            "iat an hour ago",
            Box::new(|mut c: Value| {
                let now = c["iat"].as_i64().unwrap();
                c["iat"] = json!(now - 3600);
                mint(&c, Signing::Es256(&fake.key))
            }),
        ),
        (
            "wrong nonce",
            Box::new(|mut c: Value| {
                c["nonce"] = json!("not-the-nonce");
                mint(&c, Signing::Es256(&fake.key))
            }),
        ),
        ("alg none", Box::new(|c: Value| mint(&c, Signing::None))),
        ("HS256 with the public key", Box::new(|c: Value| mint(&c, Signing::Hs256WithPublicKey(&fake.key)))),
    ];
    for (case, token) in &cases {
        let response = sign_in_with(&app, &fake, &client, token).await;
        let html = assert_refused(&app, response, 400, empty).await;
        assert!(html.contains("could not be verified"), "{case}: {html}");
        assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "id_token_invalid", "{case}");
    }
}

#[actix_web::test]
async fn an_unknown_kid_refetches_the_jwks_once_then_is_refused() {
    let fake = Fake::start(None).await;
    let (app, client) = app_with_fake(&fake).await;
    // A first sign-in caches the JWKS.
    let ok = sign_in_with(&app, &fake, &client, |c| mint(&c, Signing::Es256(&fake.key))).await;
    assert_eq!(ok.status(), 303);
    let before = written(&app).await;
    let fetches = fake.get(|s| s.jwks_fetches);
    let response = sign_in_with(&app, &fake, &client, |c| mint(&c, Signing::Es256(&fake.stranger))).await;
    assert_refused(&app, response, 400, before).await;
    assert_eq!(fake.get(|s| s.jwks_fetches), fetches + 1, "refetched once for the unknown kid");

    // A key the provider rotated in is found by that refetch.
    fake.set(|s| s.jwks = json!({"keys": [fake.key.jwk(), fake.stranger.jwk()]}));
    let rotated = sign_in_with(&app, &fake, &client, |c| mint(&c, Signing::Es256(&fake.stranger))).await;
    assert_eq!(rotated.status(), 303, "{}", rotated.text().await.unwrap());
}

#[actix_web::test]
async fn userinfo_for_another_subject_is_refused() {
    let fake = Fake::start(None).await;
    let (app, client) = app_with_fake(&fake).await;
    let empty = written(&app).await;
    fake.set(|s| s.userinfo = json!({"sub": "someone-else", "email": "frank@acme.com", "email_verified": true}));
    let response = sign_in_with(&app, &fake, &client, |mut c| {
        c.as_object_mut().unwrap().remove("email");
        mint(&c, Signing::Es256(&fake.key))
    })
    .await;
    assert_refused(&app, response, 400, empty).await;
    assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "userinfo_subject");

    // The same subject: userinfo supplies the email.
    fake.set(|s| s.userinfo = json!({"sub": "fake-user-1", "email": "frank@acme.com", "email_verified": true}));
    let response = sign_in_with(&app, &fake, &client, |mut c| {
        c.as_object_mut().unwrap().remove("email");
        mint(&c, Signing::Es256(&fake.key))
    })
    .await;
    assert_eq!(response.status(), 303);
}

#[actix_web::test]
async fn a_slow_token_endpoint_gets_a_page_within_the_timeout() {
    let fake = Fake::start(None).await;
    let (app, client) = app_with_fake(&fake).await;
    let empty = written(&app).await;
    fake.set(|s| s.token_delay = Duration::from_secs(5));
    let started = Instant::now();
    let response = sign_in_with(&app, &fake, &client, |c| mint(&c, Signing::Es256(&fake.key))).await;
    let took = started.elapsed();
    let html = assert_refused(&app, response, 502, empty).await;
    assert!(took < Duration::from_millis(3000), "answered in {took:?} (upstream_timeout_ms = 1000)");
    assert!(html.contains("did not answer in time"), "{html}");
}

#[actix_web::test]
async fn a_token_endpoint_that_is_down_gets_a_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let fake = Fake::start(Some(dead)).await;
    let (app, client) = app_with_fake(&fake).await;
    let empty = written(&app).await;
    let response = sign_in_with(&app, &fake, &client, |c| mint(&c, Signing::Es256(&fake.key))).await;
    assert_refused(&app, response, 502, empty).await;
    assert_eq!(fake.get(|s| s.token_requests), 0);
}

#[actix_web::test]
async fn a_state_from_another_browser_or_for_another_provider_never_reaches_the_token_endpoint() {
    let fake = Fake::start(None).await;
    let (app, client) = app_with_fake(&fake).await;
    let other = ProviderSettings { id: "other".into(), ..app.settings().login.providers[0].clone() };
    app.update_settings(|s| s.login.providers.push(other));
    let empty = written(&app).await;
    for case in ["another browser", "another provider"] {
        let b = browser();
        let (state, nonce) = go_upstream(&app, &b, &client).await;
        let id_token = mint(&good_claims(&app, &fake, &nonce), Signing::Es256(&fake.key));
        fake.set(|s| s.id_token = id_token);
        let response = match case {
            "another browser" => callback(&app, &browser(), &state).await,
            _ => app.get_with(&b, &format!("{}/login/other/callback?code=c&state={state}", app.issuer)).await,
        };
        assert_refused(&app, response, 400, empty).await;
        // Used up: the browser that started it cannot use it after.
        assert_refused(&app, callback(&app, &b, &state).await, 400, empty).await;
    }
    assert_eq!(fake.get(|s| s.token_requests), 0, "no code was exchanged");
}

/// `login.extra_root_certificates`: a provider behind a private CA is reachable only once its
/// CA is added (and the provider calls never trust it otherwise).
#[actix_web::test]
async fn a_provider_behind_a_private_ca_needs_extra_root_certificates() {
    use crate::common::tls_server::{Route, TestPki, TlsServer};
    let pki = TestPki::new("localhost");
    let server = TlsServer::start(&pki, std::collections::HashMap::new()).await;
    let issuer = format!("https://localhost:{}", server.port());
    let discovery = json!({
        "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"), "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    });
    server.set_route("/.well-known/openid-configuration", Route::json(&discovery.to_string()));
    let app = TestApp::spawn().await;
    let entry = ProviderSettings {
        id: "private".into(),
        name: "Private".into(),
        issuer: issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: "s".into(),
        allow_any_account: true,
        ..ProviderSettings::default()
    };
    app.update_settings(|s| s.login.providers.push(entry));
    let client = dcr_client(&app, &[REDIRECT]).await;
    let continue_with = |b: reqwest::Client| {
        let app = &app;
        let client = client.clone();
        async move {
            let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
            let start = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
            let page = app.get_with(&b, &location(&start)).await.text().await.unwrap();
            let marker = "name=\"provider\" value=\"private\"";
            let form = page.split(marker).nth(1).unwrap().to_string();
            let fields = [
                ("provider", "private".to_string()),
                ("request_id", input_value(&form, "request_id").unwrap()),
                ("csrf_token", input_value(&form, "csrf_token").unwrap()),
            ];
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form_with(&b, "/login/provider", &fields).await
        }
    };
    let untrusted = continue_with(browser()).await;
    assert_eq!(untrusted.status(), 502, "the private CA is not trusted by default");

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    app.update_settings(|s| s.login.extra_root_certificates = vec![ca.to_str().unwrap().to_string()]);
    app.state.upstream.rebuild(&app.settings().login);
    let trusted = continue_with(browser()).await;
    assert_eq!(trusted.status(), 303);
    assert!(location(&trusted).starts_with(&format!("{issuer}/authorize?")), "{}", location(&trusted));
}
