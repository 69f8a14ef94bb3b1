//! OpenID Connect and introspection over HTTP (SPEC §10): id_tokens, `/userinfo`, discovery,
//! `nonce`/`prompt`/`max_age`, and `POST /introspect` answering from the live state of each
//! grant — with every bad input of the issue.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::TestApp;
use gatehouse::clock::{Clock, SystemClock};
use gatehouse::config::{IntrospectionClient, Settings};
use gatehouse::store::audit::Actor;

const REDIRECT: &str = "https://app.example/callback";
const RESOURCE: &str = "https://mcp.example/mcp";
const EMAIL: &str = "alice@example.com";
const RS_ID: &str = "mcp-server";
const RS_SECRET: &str = "introspection-secret-0123456789abcdef";
const OIDC_SCOPES: [&str; 4] = ["offline_access", "openid", "profile", "email"];

fn oidc_settings(s: &mut Settings) {
    s.scopes.supported = OIDC_SCOPES.iter().map(|s| s.to_string()).collect();
    s.introspection.clients = vec![IntrospectionClient {
        id: RS_ID.into(),
        secret: RS_SECRET.into(),
        audiences: vec![RESOURCE.into()],
        ..Default::default()
    }];
}

struct Oidc {
    app: TestApp,
    client: String,
    user_id: String,
}

async fn setup() -> Oidc {
    let app = TestApp::spawn_with(oidc_settings).await;
    let user_id = create_user(&app, EMAIL).await;
    let client = manual_client(&app, &[REDIRECT]).await;
    Oidc { app, client, user_id }
}

impl Oidc {
    /// The whole flow in `browser` with `extra` parameters; the token response.
    async fn tokens_in(&self, browser: &reqwest::Client, extra: &[(&str, &str)]) -> Value {
        self.tokens_for(&self.client, browser, extra).await
    }

    async fn tokens_for(&self, client: &str, browser: &reqwest::Client, extra: &[(&str, &str)]) -> Value {
        let pkce = pkce();
        let query = authorize_query(client, REDIRECT, &pkce.challenge, extra);
        let code = self.app.authorization_code(browser, &query, EMAIL).await;
        let (status, body) = self.app.exchange_code(client, REDIRECT, &code, &pkce.verifier).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn tokens(&self, extra: &[(&str, &str)]) -> Value {
        self.tokens_in(&browser(), extra).await
    }

    /// `POST /introspect` with the given `Authorization` header value and form.
    async fn introspect_with(&self, authorization: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let mut request = self
            .app
            .http
            .post(self.app.url("/introspect"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.unwrap()
    }

    /// The introspection answer for `token`, asked with the right credentials.
    async fn introspect(&self, token: &str) -> Value {
        let response = self.introspect_with(Some(&basic(RS_ID, RS_SECRET)), &[("token", token)]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.unwrap()
    }

    async fn userinfo(&self, token: Option<&str>) -> reqwest::Response {
        let mut request = self.app.http.get(self.app.url("/userinfo"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
}

/// Verify an id_token with an independent library against the published JWKS.
async fn verify_id_token(app: &TestApp, token: &str, client_id: &str, algorithm: jsonwebtoken::Algorithm) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, algorithm);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwk = jwks.find(&header.kid.expect("kid")).expect("the id_token key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid id_token").claims
}

async fn assert_invalid_token(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 401, "{what}");
    assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"", "{what}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{what}");
}

#[actix_web::test]
async fn id_token_userinfo_and_grant_id_follow_the_granted_scopes() {
    let f = setup().await;
    f.app.clock.set(SystemClock.now_secs()); // real time: the JWT library checks exp for real
    let signed_in_at = f.app.clock.now();
    let nonce = "n-0S6_WzA2Mj";
    let tokens = f.tokens(&[("scope", "openid email profile offline_access"), ("nonce", nonce)]).await;
    assert_eq!(tokens["scope"], "openid email profile offline_access");

    let id_token = tokens["id_token"].as_str().expect("an id_token with openid");
    assert_eq!(header_of(id_token)["alg"], "RS256");
    let claims = verify_id_token(&f.app, id_token, &f.client, jsonwebtoken::Algorithm::RS256).await;
    assert_eq!(claims["sub"], f.user_id.as_str());
    assert_eq!(claims["nonce"], nonce);
    assert_eq!(claims["auth_time"], signed_in_at);
    assert_eq!(claims["email"], EMAIL);
    assert_eq!(claims["email_verified"], false, "the stored value (users add without --email-verified)");
    assert!(claims.get("name").is_none(), "a local user has no name: absent, never null");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);

    let access = tokens["access_token"].as_str().unwrap();
    let access_claims = claims_of(access);
    let grant_id = access_claims["grant_id"].as_str().expect("grant_id in the access token");
    assert_eq!(access_claims["aud"], f.app.issuer.as_str());

    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = f
            .app
            .http
            .request(method, f.app.url("/userinfo"))
            .header("origin", "http://localhost:6274")
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let info: Value = response.json().await.unwrap();
        assert_eq!(info, json!({"sub": f.user_id, "email": EMAIL, "email_verified": false}));
    }

    // Only email: no name even if the user had one; only openid: just sub.
    let only_openid = f.tokens(&[("scope", "openid")]).await;
    let info: Value = f.userinfo(only_openid["access_token"].as_str()).await.json().await.unwrap();
    assert_eq!(info, json!({"sub": f.user_id}));
    assert!(claims_of(only_openid["id_token"].as_str().unwrap()).get("email").is_none());
    assert_ne!(claims_of(only_openid["access_token"].as_str().unwrap())["grant_id"], grant_id, "a grant per exchange");
    // Without a resource the token is for the issuer, outside the resource server's audiences.
    assert_eq!(f.introspect(only_openid["access_token"].as_str().unwrap()).await, json!({"active": false}));

    // The refreshed id_token keeps the original auth_time and carries no nonce.
    f.app.clock.advance(120);
    let (status, refreshed) = f.app.refresh_token(&f.client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let again =
        verify_id_token(&f.app, refreshed["id_token"].as_str().unwrap(), &f.client, jsonwebtoken::Algorithm::RS256)
            .await;
    assert_eq!(again["auth_time"], signed_in_at);
    assert!(again.get("nonce").is_none());
    assert_eq!(claims_of(refreshed["access_token"].as_str().unwrap())["grant_id"], grant_id, "one grant per family");
    // Narrowed without openid: no id_token.
    let (_, narrowed) = f
        .app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refreshed["refresh_token"].as_str().unwrap()),
                ("client_id", &f.client),
                ("scope", "offline_access"),
            ],
        )
        .await;
    assert!(narrowed["access_token"].is_string() && narrowed.get("id_token").is_none(), "{narrowed}");
}

#[actix_web::test]
async fn openid_is_opt_in() {
    let app = TestApp::spawn().await; // scopes.supported stays ["offline_access"]
    create_user(&app, EMAIL).await;
    let client = manual_client(&app, &[REDIRECT]).await;
    let pkce = pkce();
    let query = authorize_query(&client, REDIRECT, &pkce.challenge, &[("scope", "openid email offline_access")]);
    let consent = app.sign_in_to_consent(&browser(), &query, EMAIL).await;
    assert!(!consent.contains("your email address"), "nothing of OpenID Connect on the consent page");
    let discovery: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["scopes_supported"], json!(["offline_access"]));
    assert!(discovery.get("introspection_endpoint").is_none(), "no introspection client, no endpoint");
    let metadata: Value =
        app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert!(metadata.get("introspection_endpoint").is_none());

    let browser = browser();
    let code = app.authorization_code(&browser, &query, EMAIL).await;
    let (status, tokens) = app.exchange_code(&client, REDIRECT, &code, &pkce.verifier).await;
    assert_eq!(status, 200);
    assert_eq!(tokens["scope"], "offline_access", "openid and email dropped");
    assert!(tokens.get("id_token").is_none());
}

#[actix_web::test]
async fn consent_names_the_claims_shared() {
    let f = setup().await;
    let pkce = pkce();
    let query = authorize_query(&f.client, REDIRECT, &pkce.challenge, &[("scope", "openid email profile")]);
    let consent = f.app.sign_in_to_consent(&browser(), &query, EMAIL).await;
    assert!(consent.contains("It will see your email address and your name."), "{consent}");
}

#[actix_web::test]
async fn es256_id_tokens_for_clients_that_registered_es256() {
    let f = setup().await;
    f.app.clock.set(SystemClock.now_secs());
    let registered = f
        .app
        .post_json(
            "/register",
            &json!({"client_name": "ES app", "redirect_uris": [REDIRECT], "id_token_signed_response_alg": "ES256"}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let registered: Value = registered.json().await.unwrap();
    assert_eq!(registered["id_token_signed_response_alg"], "ES256", "kept and echoed");
    let client = registered["client_id"].as_str().unwrap().to_string();
    let pkce = pkce();
    let query = authorize_query(&client, REDIRECT, &pkce.challenge, &[("scope", "openid")]);
    let code = f.app.authorization_code(&browser(), &query, EMAIL).await;
    let (_, tokens) = f.app.exchange_code(&client, REDIRECT, &code, &pkce.verifier).await;
    let claims =
        verify_id_token(&f.app, tokens["id_token"].as_str().unwrap(), &client, jsonwebtoken::Algorithm::ES256).await;
    assert_eq!(claims["aud"], client.as_str());

    for bad in [json!("HS256"), json!("none"), json!(256)] {
        let refused = f
            .app
            .post_json("/register", &json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": bad}))
            .await;
        assert_eq!(refused.status(), 400, "{bad}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{bad}");
    }
}

#[actix_web::test]
async fn discovery_documents_at_the_issuer_and_the_path_insertion_form() {
    let db = crate::common::TestDb::new(crate::common::backend());
    let app = TestApp::spawn_on(db.url(), "/auth", oidc_settings).await;
    for url in [
        format!("{}/.well-known/openid-configuration", app.issuer),
        format!("{}/.well-known/openid-configuration/auth", app.root),
    ] {
        let response = app.http.get(&url).header("origin", "http://localhost:6274").send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*", "{url}");
        let doc: Value = response.json().await.unwrap();
        crate::common::assert_no_nulls(&doc);
        assert_eq!(doc["issuer"], app.issuer.as_str());
        assert_eq!(doc["authorization_endpoint"], format!("{}/authorize", app.issuer));
        assert_eq!(doc["userinfo_endpoint"], format!("{}/userinfo", app.issuer));
        assert_eq!(doc["jwks_uri"], format!("{}/.well-known/jwks.json", app.issuer));
        assert_eq!(doc["introspection_endpoint"], format!("{}/introspect", app.issuer));
        assert_eq!(doc["subject_types_supported"], json!(["public"]));
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256", "ES256"]));
        assert_eq!(doc["request_uri_parameter_supported"], false);
        assert_eq!(doc["request_parameter_supported"], false);
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        let claims = doc["claims_supported"].as_array().unwrap();
        for claim in ["sub", "email", "email_verified", "name", "auth_time", "nonce"] {
            assert!(claims.contains(&json!(claim)), "{claim}");
        }
        assert_eq!(doc["scopes_supported"], json!(OIDC_SCOPES));
    }
    let metadata: Value = app
        .http
        .get(format!("{}/.well-known/oauth-authorization-server/auth", app.root))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["introspection_endpoint"], format!("{}/introspect", app.issuer));
    let preflight = app.preflight("/userinfo", "GET", "authorization").await;
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    // No CORS on introspection: resource servers call it server to server.
    let preflight = app.preflight("/introspect", "POST", "authorization").await;
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    // Both JWKS algorithms published.
    let jwks: Value = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let mut algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "RS256"]);
}

#[actix_web::test]
async fn userinfo_refuses_every_token_that_is_not_a_live_openid_access_token_for_the_issuer() {
    let f = setup().await;
    let good = f.tokens(&[("scope", "openid email")]).await;
    let good_access = good["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.userinfo(Some(&good_access)).await.status(), 200, "the control case works");

    let foreign = f.tokens(&[("scope", "openid email"), ("resource", RESOURCE)]).await;
    assert_invalid_token(f.userinfo(foreign["access_token"].as_str()).await, "a token for another audience").await;
    let no_openid = f.tokens(&[("scope", "email offline_access")]).await;
    assert_invalid_token(f.userinfo(no_openid["access_token"].as_str()).await, "a token without openid").await;
    assert_invalid_token(f.userinfo(good["id_token"].as_str()).await, "an id_token").await;
    for malformed in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        assert_invalid_token(f.userinfo(Some(malformed)).await, malformed).await;
    }
    assert_invalid_token(f.userinfo(None).await, "no token").await;
    let malformed_header = f.app.http.get(f.app.url("/userinfo")).header("authorization", "Basic abc").send().await;
    assert_invalid_token(malformed_header.unwrap(), "not a bearer token").await;

    f.app.clock.advance(601);
    assert_invalid_token(f.userinfo(Some(&good_access)).await, "an expired token").await;
}

#[actix_web::test]
async fn introspection_is_active_only_for_live_access_tokens_in_the_callers_audiences() {
    let f = setup().await;
    let tokens = f.tokens(&[("scope", "openid offline_access"), ("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = claims_of(access);
    let active = f.introspect(access).await;
    assert_eq!(
        active,
        json!({
            "active": true,
            "scope": "openid offline_access",
            "client_id": f.client,
            "sub": f.user_id,
            "aud": RESOURCE,
            "iss": f.app.issuer,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "token_type": "Bearer",
            "grant_id": claims["grant_id"],
        })
    );

    // A token Gatehouse never signed: same claims, another key (with and without its kid).
    let stranger = gatehouse::keys::jwt::generate_es256_key().unwrap();
    let forger = gatehouse::keys::jwt::SigningKey::from_pkcs8(&stranger.kid, &stranger.pkcs8_der).unwrap();
    let forged = forger.sign(&claims).unwrap();
    let real_kid = header_of(access)["kid"].as_str().unwrap().to_string();
    let impostor = gatehouse::keys::jwt::SigningKey::from_pkcs8(&real_kid, &stranger.pkcs8_der).unwrap();
    let forged_kid = impostor.sign(&claims).unwrap();
    let issuer_token = f.tokens(&[("scope", "openid")]).await;

    let inactive = json!({"active": false});
    for (what, token) in [
        ("garbage", "garbage".to_string()),
        ("a token signed by a key Gatehouse never had", forged),
        ("a forged token naming a real kid", forged_kid),
        ("a refresh token", tokens["refresh_token"].as_str().unwrap().to_string()),
        ("an id_token", tokens["id_token"].as_str().unwrap().to_string()),
        (
            "an access token for an audience outside the caller's list",
            issuer_token["access_token"].as_str().unwrap().to_string(),
        ),
    ] {
        assert_eq!(f.introspect(&token).await, inactive, "{what}");
    }
    f.app.clock.advance(601);
    assert_eq!(f.introspect(access).await, inactive, "an expired token");

    // A missing (or empty) token is the caller's mistake: 400 invalid_request.
    let empty = f.introspect_with(Some(&basic(RS_ID, RS_SECRET)), &[("token", "")]).await;
    assert_eq!(empty.status(), 400);
    let missing = f.introspect_with(Some(&basic(RS_ID, RS_SECRET)), &[("token_type_hint", "access_token")]).await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[actix_web::test]
async fn introspection_needs_credentials_and_throttles_wrong_ones_only() {
    let f = setup().await;
    let tokens = f.tokens(&[("resource", RESOURCE)]).await;
    let access = tokens["access_token"].as_str().unwrap();

    let none = f.introspect_with(None, &[("token", access)]).await;
    assert_eq!(none.status(), 401);
    assert!(none.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(!body.to_string().contains("active"), "never an answer about the token");

    let wrong = [
        basic(RS_ID, "introspection-secret-0123456789abcdeX"),
        basic("someone-else", RS_SECRET),
        format!("Bearer {RS_SECRET}"),
        "Basic not-base64!".to_string(),
    ];
    // Ten wrong a minute from one address are answered 401 (the missing one above was the first).
    for i in 0..9 {
        let response = f.introspect_with(Some(&wrong[i % wrong.len()]), &[("token", access)]).await;
        assert_eq!(response.status(), 401, "wrong credentials #{}", i + 2);
    }
    let throttled = f.introspect_with(Some(&wrong[0]), &[("token", access)]).await;
    assert_eq!(throttled.status(), 429, "the eleventh wrong attempt");
    assert!(throttled.headers().contains_key("retry-after"));
    // The right credentials are never throttled.
    assert_eq!(f.introspect(access).await["active"], true);
    // A minute later the wrong ones are answered 401 again.
    f.app.clock.advance(60);
    assert_eq!(f.introspect_with(Some(&wrong[1]), &[("token", access)]).await.status(), 401);
}

/// Each way a grant ends makes its access tokens inactive at once.
#[actix_web::test]
async fn introspection_flips_to_inactive_at_once_after_every_revocation_path() {
    let f = setup().await;
    let app = &f.app;
    let now = || app.clock_now();

    // /revoke of the family.
    let t = f.tokens(&[("scope", "offline_access"), ("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(f.introspect(access).await["active"], true);
    let (status, _) =
        app.post_form("/revoke", &[("token", t["refresh_token"].as_str().unwrap()), ("client_id", &f.client)]).await;
    assert_eq!(status, 200);
    assert_eq!(f.introspect(access).await, json!({"active": false}), "after /revoke");

    // Refresh-token reuse after the grace window.
    let t = f.tokens(&[("scope", "offline_access"), ("resource", RESOURCE)]).await;
    let first = t["refresh_token"].as_str().unwrap().to_string();
    let (_, rotated) = app.refresh_token(&f.client, &first).await;
    let access = rotated["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    app.clock.advance(31);
    let (status, _) = app.refresh_token(&f.client, &first).await;
    assert_eq!(status, 400);
    assert_eq!(f.introspect(&access).await, json!({"active": false}), "after refresh reuse");
    assert_eq!(f.introspect(t["access_token"].as_str().unwrap()).await["active"], false);

    // The operator revokes the client's sessions.
    let t = f.tokens(&[("scope", "offline_access"), ("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let (client, at) = (f.client.clone(), now());
    app.with_db(move |c| {
        gatehouse::operator::revoke_client_sessions(c, &client, Actor::Cli, at).map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "after revoke-sessions");

    // A grant without a refresh token (a client that may not refresh) is revoked too.
    let registered =
        app.post_json("/register", &json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"]})).await;
    let no_refresh: Value = registered.json().await.unwrap();
    let t = f.tokens_for(no_refresh["client_id"].as_str().unwrap(), &browser(), &[("resource", RESOURCE)]).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert!(claims_of(t["access_token"].as_str().unwrap())["grant_id"].is_string());
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let (client, at) = (no_refresh["client_id"].as_str().unwrap().to_string(), now());
    app.with_db(move |c| {
        gatehouse::operator::revoke_client_sessions(c, &client, Actor::Cli, at).map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "a refresh-less grant after revoke-sessions");

    // set-password.
    let t = f.tokens(&[("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let at = now();
    app.with_db(move |c| {
        gatehouse::operator::set_password(c, &email_ref(), PASSWORD, Actor::Cli, at)
            .map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "after set-password");

    // users unlink (the person's identity at a provider).
    let t = f.tokens(&[("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let (user_id, at) = (f.user_id.clone(), now());
    app.with_db(move |c| {
        gatehouse::store::identities::insert(
            c,
            &gatehouse::store::identities::IdentityRow {
                provider: "acme".into(),
                issuer: "https://idp.example".into(),
                subject: "alice".into(),
                user_id,
                email: Some(EMAIL.into()),
                created_at: at,
                last_sign_in_at: at,
            },
        )?;
        gatehouse::operator::unlink_identity(c, &email_ref(), "acme", Actor::Cli, at)
            .map(|_| ())
            .map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "after users unlink");

    // The user disabled (the grant alone is not what stops it: the user's status is read too).
    let t = f.tokens(&[("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let at = now();
    app.with_db(move |c| {
        gatehouse::operator::disable_user(c, &email_ref(), Actor::Cli, at)
            .map(|_| ())
            .map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "after users disable");
}

#[actix_web::test]
async fn introspection_is_inactive_once_the_client_is_disabled_or_deleted() {
    let f = setup().await;
    let app = &f.app;
    let t = f.tokens(&[("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let (client, at) = (f.client.clone(), app.clock_now());
    app.with_db(move |c| {
        gatehouse::operator::disable_client(c, &client, None, Actor::Cli, at)
            .map(|_| ())
            .map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "after clients disable");

    let other = manual_client(app, &[REDIRECT]).await;
    let t = f.tokens_for(&other, &browser(), &[("resource", RESOURCE)]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(f.introspect(&access).await["active"], true);
    let at = app.clock_now();
    app.with_db(move |c| {
        gatehouse::operator::delete_client(c, &other, Actor::Cli, at).map_err(|e| db_error(e.to_string()))
    })
    .await;
    assert_eq!(f.introspect(&access).await["active"], false, "after clients delete");
}

fn email_ref() -> gatehouse::operator::UserRef {
    gatehouse::operator::UserRef::Email(EMAIL.into())
}

fn db_error(message: String) -> gatehouse::db::DbError {
    gatehouse::db::DbError::Unavailable(message)
}

#[actix_web::test]
async fn prompt_login_and_max_age_force_a_fresh_sign_in() {
    let f = setup().await;
    let browser = browser();
    f.tokens_in(&browser, &[("scope", "openid")]).await;

    let start = |extra: Vec<(&'static str, String)>| {
        let pkce = pkce();
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        format!("{}/authorize?{}", f.app.issuer, authorize_query(&f.client, REDIRECT, &pkce.challenge, &extra))
    };
    // The live session answers a plain request: straight to consent.
    let plain = f.app.get_with(&browser, &start(vec![("scope", "openid".into())])).await;
    assert_eq!(plain.status(), 303);
    assert!(location(&plain).contains("/consent"), "{}", location(&plain));

    // prompt=login: the login page, and the consent page will not take the old session.
    let fresh = f.app.get_with(&browser, &start(vec![("prompt", "login".into())])).await;
    assert_eq!(fresh.status(), 303);
    let login = location(&fresh);
    assert!(login.contains("/login"), "{login}");
    let consent_url = login.replace("/login", "/consent");
    let refused = f.app.get_with(&browser, &consent_url).await;
    assert_eq!(refused.status(), 303, "the old session does not answer a prompt=login request");
    assert!(location(&refused).contains("/login"));

    // max_age: a session older than it signs in again; a younger one does not.
    f.app.clock.advance(120);
    let young_enough = f.app.get_with(&browser, &start(vec![("max_age", "3600".into())])).await;
    assert!(location(&young_enough).contains("/consent"), "max_age=3600 after 120 s");
    let too_old = f.app.get_with(&browser, &start(vec![("max_age", "60".into()), ("scope", "openid".into())])).await;
    let login = location(&too_old);
    assert!(login.contains("/login"), "max_age=60 after 120 s: {login}");
    // Signing in afresh completes the flow, with the new auth_time.
    let form = f.app.get_with(&browser, &login).await.text().await.unwrap();
    let signed_in = f.app.submit_login(&browser, &form, EMAIL, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    let consent = f.app.get_with(&browser, &location(&signed_in)).await;
    assert_eq!(consent.status(), 200);
    let decided = f.app.decide(&browser, &consent.text().await.unwrap(), "allow").await;
    assert_eq!(decided.status(), 302);
    assert!(query_param(&location(&decided), "code").is_some(), "a code after the fresh sign-in");
}

#[actix_web::test]
async fn a_fresh_sign_in_is_recorded_in_auth_time() {
    let f = setup().await;
    let browser = browser();
    let first = f.tokens_in(&browser, &[("scope", "openid")]).await;
    let first_auth_time = claims_of(first["id_token"].as_str().unwrap())["auth_time"].as_i64().unwrap();
    f.app.clock.advance(300);
    let again = f.tokens_in(&browser, &[("scope", "openid")]).await;
    assert_eq!(claims_of(again["id_token"].as_str().unwrap())["auth_time"], first_auth_time, "the same session");
    let fresh = f.tokens_in(&browser, &[("scope", "openid"), ("prompt", "login")]).await;
    assert_eq!(claims_of(fresh["id_token"].as_str().unwrap())["auth_time"], first_auth_time + 300, "signed in again");
}

#[actix_web::test]
async fn bad_nonce_and_max_age_are_refused() {
    let f = setup().await;
    let dcr = dcr_client(&f.app, &[REDIRECT]).await;
    let long = "n".repeat(513);
    let pkce = pkce();
    let cases: Vec<(&str, String)> = vec![
        ("a nonce over 512 characters", authorize_query(&f.client, REDIRECT, &pkce.challenge, &[("nonce", &long)])),
        (
            "a nonce given twice",
            format!("{}&nonce=a&nonce=b", authorize_query(&f.client, REDIRECT, &pkce.challenge, &[])),
        ),
        ("max_age -1", authorize_query(&f.client, REDIRECT, &pkce.challenge, &[("max_age", "-1")])),
        ("max_age abc", authorize_query(&f.client, REDIRECT, &pkce.challenge, &[("max_age", "abc")])),
        ("max_age 1.5", authorize_query(&f.client, REDIRECT, &pkce.challenge, &[("max_age", "1.5")])),
    ];
    for (what, query) in cases {
        // A manual client gets the error redirected.
        let response = f.app.get_with(&browser(), &format!("{}/authorize?{query}", f.app.issuer)).await;
        assert_eq!(response.status(), 302, "{what}");
        let target = location(&response);
        assert!(target.starts_with(REDIRECT), "{what}: {target}");
        assert_eq!(query_param(&target, "error").as_deref(), Some("invalid_request"), "{what}");
        // A self-registered one gets a page, never a redirect.
        let dcr_query = query.replace(&format!("client_id={}", f.client), &format!("client_id={dcr}"));
        let page = f.app.get_with(&browser(), &format!("{}/authorize?{dcr_query}", f.app.issuer)).await;
        assert_eq!(page.status(), 400, "{what}");
    }
    // The boundary values are accepted.
    let ok = authorize_query(&f.client, REDIRECT, &pkce.challenge, &[("nonce", &"n".repeat(512)), ("max_age", "0")]);
    let response = f.app.get_with(&browser(), &format!("{}/authorize?{ok}", f.app.issuer)).await;
    assert_eq!(response.status(), 303);
}

#[actix_web::test]
async fn introspection_clients_are_checked_at_load() {
    let mut settings = Settings::default();
    settings.introspection.clients = vec![
        IntrospectionClient {
            id: "a".into(),
            secret: "short".into(),
            audiences: vec![RESOURCE.into()],
            ..Default::default()
        },
        IntrospectionClient {
            id: "a".into(),
            secret: RS_SECRET.into(),
            secret_env: "X".into(),
            audiences: vec!["not a uri".into()],
            ..Default::default()
        },
        IntrospectionClient { id: String::new(), secret_env: "GATEHOUSE_TEST_UNSET_VAR".into(), ..Default::default() },
    ];
    let problems = settings.validate();
    let expect = [
        "introspection.clients: \"a\": the secret must be at least 32 characters",
        "introspection.clients: \"a\": id is used twice",
        "introspection.clients: \"a\": set exactly one of secret, secret_file, secret_env",
        "introspection.clients: \"a\": audiences: ",
        "introspection.clients: #3: id is required",
        "introspection.clients: #3: secret_env: the environment variable \"GATEHOUSE_TEST_UNSET_VAR\" is not set",
        "introspection.clients: #3: audiences must list at least one resource URI",
    ];
    for line in expect {
        assert!(problems.iter().any(|p| p.starts_with(line)), "missing {line:?} in {problems:#?}");
    }
    assert!(!problems.iter().any(|p| p.contains(RS_SECRET)), "a secret is never echoed");
    // A secret file works, its trailing newline dropped.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{RS_SECRET}\n")).unwrap();
    let client = IntrospectionClient {
        id: "b".into(),
        secret_file: file.path().display().to_string(),
        audiences: vec![RESOURCE.into()],
        ..Default::default()
    };
    assert_eq!(client.resolve_secret().unwrap(), RS_SECRET);
    settings.introspection.clients = vec![client];
    assert_eq!(settings.validate(), Vec::<String>::new());
}

#[test]
fn config_check_warns_when_the_default_audience_hides_userinfo() {
    let warns = |adjust: &dyn Fn(&mut Settings)| {
        let mut settings = Settings::default();
        adjust(&mut settings);
        gatehouse::cli::config::warnings(&settings).into_iter().filter(|w| w.contains("/userinfo")).count()
    };
    assert_eq!(warns(&|s| s.resources.default_audience = RESOURCE.into()), 0, "no openid, nothing to warn about");
    assert_eq!(warns(&oidc_settings), 0, "openid with the issuer as the default audience");
    assert_eq!(
        warns(&|s| {
            oidc_settings(s);
            s.resources.default_audience = RESOURCE.into();
        }),
        1
    );
    // And `config check` masks the introspection secret.
    let mut settings = Settings::default();
    oidc_settings(&mut settings);
    let printed = format!("{:?} {}", settings.masked(), toml::to_string(&settings.masked()).unwrap());
    assert!(!printed.contains(RS_SECRET), "{printed}");
    assert!(!format!("{settings:?}").contains(RS_SECRET), "Debug masks it too");
}

#[actix_web::test]
async fn id_token_keys_rotate_with_the_access_token_keys() {
    let f = setup().await;
    let before = f.tokens(&[("scope", "openid")]).await;
    let old_kid = header_of(before["id_token"].as_str().unwrap())["kid"].as_str().unwrap().to_string();
    let (now, cipher) = (f.app.clock_now(), f.app.state.key_cipher.clone());
    let new_keys = f
        .app
        .with_db(move |c| gatehouse::keys::rotate(c, now, Actor::Cli, &cipher).map_err(|e| db_error(e.to_string())))
        .await;
    let new_rs = new_keys.iter().find(|k| k.algorithm == "RS256").expect("a new RS256 key").kid.clone();
    assert!(f.app.state.reload_keys().await);
    let published = || async {
        let jwks: Value =
            f.app.http.get(f.app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let kids = published().await;
    assert!(kids.contains(&new_rs) && kids.contains(&old_kid), "published before it signs: {kids:?}");
    let still = f.tokens(&[("scope", "openid")]).await;
    assert_eq!(header_of(still["id_token"].as_str().unwrap())["kid"], old_kid.as_str(), "not signing yet");

    f.app.clock.advance(gatehouse::keys::PUBLICATION_DELAY_SECS);
    assert!(f.app.state.reload_keys().await);
    let after = f.tokens(&[("scope", "openid")]).await;
    assert_eq!(header_of(after["id_token"].as_str().unwrap())["kid"], new_rs.as_str(), "the new key signs");
    assert!(published().await.contains(&old_kid), "the old key stays published while its tokens live");
}

#[actix_web::test]
async fn introspection_clients_follow_live_reload_and_invalid_ones_are_refused() {
    use gatehouse::config::ConfigSource;
    use gatehouse::reload::{reload, ReloadOutcome};
    let db = crate::common::TestDb::new(crate::common::backend());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.toml");
    let app = TestApp::spawn_on(db.url(), "", |_| {}).await;
    let base = format!(
        "issuer = {:?}\n[keys]\nencryption_key = {:?}\n[database]\nurl = {:?}\npool_size = 4\nconnect_timeout_ms = 500\n",
        app.issuer,
        app.settings().keys.encryption_key,
        db.url()
    );
    let source = ConfigSource::new(Some(path.clone()));
    let client = |secret: &str| {
        format!("[[introspection.clients]]\nid = {RS_ID:?}\nsecret = {secret:?}\naudiences = [{RESOURCE:?}]\n")
    };
    std::fs::write(&path, format!("{base}{}", client("too-short"))).unwrap();
    let outcome = reload(&app.state, &source).await;
    let ReloadOutcome::Invalid(lines) = outcome else { panic!("expected invalid: {outcome:?}") };
    assert!(
        lines.iter().any(|l| l == "introspection.clients: \"mcp-server\": the secret must be at least 32 characters"),
        "{lines:?}"
    );
    assert!(app.settings().introspection.clients.is_empty(), "the running settings stay");
    let metadata: Value =
        app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert!(metadata.get("introspection_endpoint").is_none());

    std::fs::write(&path, format!("{base}{}", client(RS_SECRET))).unwrap();
    let outcome = reload(&app.state, &source).await;
    let ReloadOutcome::Applied { changed, .. } = outcome else { panic!("expected applied: {outcome:?}") };
    assert!(changed.contains(&"introspection.clients".to_string()), "{changed:?}");
    let metadata: Value =
        app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["introspection_endpoint"], format!("{}/introspect", app.issuer));
    let answer = app
        .http
        .post(app.url("/introspect"))
        .header("authorization", basic(RS_ID, RS_SECRET))
        .form(&[("token", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({"active": false}));
}

/// What the sign-in sources read from the pending request (SPEC §9.1, §9.2): the flag, and the
/// `prompt`, `max_age` and `nonce` as asked — set even for a browser with no session, since the
/// source's own session may be older.
#[actix_web::test]
async fn the_pending_request_keeps_prompt_max_age_nonce_and_the_fresh_sign_in_flag() {
    let f = setup().await;
    let plain = pending_of(&f, &[]).await;
    assert!(!plain.fresh_sign_in);
    assert_eq!((plain.prompt, plain.max_age, plain.nonce), (None, None, None));
    let fresh = pending_of(&f, &[("prompt", "login consent"), ("nonce", "abc")]).await;
    assert!(fresh.fresh_sign_in, "prompt=login without a session still asks the source");
    assert_eq!(fresh.prompt.as_deref(), Some("login consent"));
    assert_eq!(fresh.nonce.as_deref(), Some("abc"));
    let aged = pending_of(&f, &[("max_age", "300")]).await;
    assert!(aged.fresh_sign_in);
    assert_eq!(aged.max_age, Some(300));
}

async fn pending_of(f: &Oidc, extra: &[(&str, &str)]) -> gatehouse::store::auth_requests::AuthRequestRow {
    let query = authorize_query(&f.client, REDIRECT, &pkce().challenge, extra);
    let response = f.app.get_with(&browser(), &format!("{}/authorize?{query}", f.app.issuer)).await;
    assert_eq!(response.status(), 303);
    let request_id = query_param(&location(&response), "request_id").expect("a pending request");
    let now = f.app.clock_now();
    f.app.with_db(move |c| Ok(gatehouse::store::auth_requests::find_open(c, &request_id, now)?)).await.expect("stored")
}
