//! `/token`, `/revoke` and the JWKS over HTTP: the whole flow, every refusal with its RFC code,
//! replay and reuse handling under concurrency, and key rotation.

use futures::future::join_all;
use serde_json::Value;

use crate::common::flow::*;
use crate::common::{TestApp, TestDb};
use crate::register::audit_rows;
use gatehouse::clock::{Clock, SystemClock};
use gatehouse::store::clients;

const REDIRECT: &str = "https://app.example/callback";

struct Flow {
    app: TestApp,
    client: String,
    pkce: Pkce,
    browser: reqwest::Client,
}

async fn setup_with(adjust: impl FnOnce(&mut gatehouse::config::Settings)) -> Flow {
    let app = TestApp::spawn_with(|s| {
        s.scopes.supported = vec!["offline_access".into(), "mcp:tools".into(), "mcp:read".into()];
        adjust(s);
    })
    .await;
    create_user(&app, "alice@example.com").await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    Flow { app, client, pkce: pkce(), browser: browser() }
}

async fn setup() -> Flow {
    setup_with(|_| {}).await
}

impl Flow {
    async fn code(&self, extra: &[(&str, &str)]) -> String {
        let query = authorize_query(&self.client, REDIRECT, &self.pkce.challenge, extra);
        self.app.authorization_code(&self.browser, &query, "alice@example.com").await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let response = self
            .app
            .http
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (u16, Value) {
        let (status, body, _) = self
            .post(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", REDIRECT),
                    ("client_id", &self.client),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        (status, body)
    }

    async fn refresh(&self, token: &str) -> (u16, Value) {
        let (status, body, _) = self
            .post("/token", &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", &self.client)])
            .await;
        (status, body)
    }
}

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str, case: &str) {
    assert_eq!(status, expected_status, "{case}: {body}");
    assert_eq!(body["error"], code, "{case}: {body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{case}");
}

/// Verify an access token with nothing but the JWKS, using an independent JWT library.
async fn verify(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("valid token").claims
}

#[actix_web::test]
async fn whole_flow_register_authorize_token_refresh_revoke() {
    let f = setup().await;
    f.app.clock.set(SystemClock.now_secs()); // real time, so the JWT library checks `exp` for real
    let code = f.code(&[("scope", "mcp:tools offline_access"), ("resource", "https://mcp.example/mcp")]).await;
    let (status, tokens, headers) = f
        .post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &f.client),
                ("code_verifier", &f.pkce.verifier),
                ("resource", "https://mcp.example/mcp"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    crate::common::assert_no_nulls(&tokens);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    assert_eq!(tokens["scope"], "mcp:tools offline_access");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.len() >= 43);

    let claims = verify(&f.app, tokens["access_token"].as_str().unwrap(), "https://mcp.example/mcp").await;
    let now = f.app.clock.now();
    assert_eq!(claims["iss"], f.app.issuer);
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(claims["aud"], "https://mcp.example/mcp");
    assert_eq!(claims["client_id"], f.client);
    assert_eq!(claims["scope"], "mcp:tools offline_access");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 600);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));

    // Refresh at once (claude.ai does), then again; narrower scope allowed.
    let (status, first) = f.refresh(&refresh).await;
    assert_eq!(status, 200, "{first}");
    let (status, second, _) = f
        .post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ("client_id", &f.client),
                ("scope", "mcp:tools"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], "mcp:tools");
    let claims = verify(&f.app, second["access_token"].as_str().unwrap(), "https://mcp.example/mcp").await;
    assert_eq!(claims["aud"], "https://mcp.example/mcp", "the resource is kept");
    let head = second["refresh_token"].as_str().unwrap().to_string();

    let (status, _, headers) = f.post("/revoke", &[("token", &head), ("client_id", &f.client)]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    let (status, body) = f.refresh(&head).await;
    assert_error(status, &body, 400, "invalid_grant", "refresh after revoke");
}

#[actix_web::test]
async fn audience_defaults_to_the_issuer_or_the_configured_default() {
    let f = setup().await;
    f.app.clock.set(SystemClock.now_secs());
    let code = f.code(&[]).await;
    let (_, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    let claims = verify(&f.app, tokens["access_token"].as_str().unwrap(), &f.app.issuer).await;
    assert_eq!(claims["aud"], f.app.issuer);
    assert!(tokens.get("scope").is_none(), "no scope granted: omitted, not empty");

    let g = setup_with(|s| s.resources.default_audience = "https://api.example/".into()).await;
    g.app.clock.set(SystemClock.now_secs());
    let code = g.code(&[]).await;
    let (_, tokens) = g.exchange(&code, &g.pkce.verifier).await;
    verify(&g.app, tokens["access_token"].as_str().unwrap(), "https://api.example/").await;
}

#[actix_web::test]
async fn bad_code_exchanges_are_refused_with_rfc_codes() {
    let f = setup().await;
    let code = f.code(&[("resource", "https://mcp.example/")]).await;
    let other_client = dcr_client(&f.app, &["https://other.example/cb"]).await;
    let v = f.pkce.verifier.clone();
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("wrong verifier", vec![("code_verifier", pkce().verifier)], 400, "invalid_grant"),
        ("missing verifier", vec![("code_verifier", String::new())], 400, "invalid_request"),
        ("short verifier", vec![("code_verifier", v[..42].to_string())], 400, "invalid_grant"),
        ("long verifier", vec![("code_verifier", "a".repeat(129))], 400, "invalid_grant"),
        ("ill-charactered verifier", vec![("code_verifier", format!("{}!", &v[..50]))], 400, "invalid_grant"),
        ("another client", vec![("client_id", other_client.clone())], 400, "invalid_grant"),
        ("redirect one character off", vec![("redirect_uri", format!("{REDIRECT}x"))], 400, "invalid_grant"),
        ("different resource", vec![("resource", "https://other.example/".into())], 400, "invalid_target"),
        ("missing code", vec![("code", String::new())], 400, "invalid_request"),
        ("missing client_id", vec![("client_id", String::new())], 400, "invalid_request"),
        ("unknown code", vec![("code", "nope".into())], 400, "invalid_grant"),
        ("unsupported grant", vec![("grant_type", "password".into())], 400, "unsupported_grant_type"),
        ("missing grant_type", vec![("grant_type", String::new())], 400, "invalid_request"),
    ];
    for (case, overrides, status, error) in cases {
        let mut fields: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("client_id", f.client.clone()),
            ("code_verifier", v.clone()),
        ];
        for (name, value) in overrides {
            match fields.iter_mut().find(|(n, _)| *n == name) {
                Some(field) => field.1 = value,
                None => fields.push((name, value)),
            }
        }
        let fields: Vec<(&str, &str)> =
            fields.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| (*n, v.as_str())).collect();
        let (got, body, headers) = f.post("/token", &fields).await;
        assert_error(got, &body, status, error, case);
        assert_eq!(headers["cache-control"], "no-store", "{case}");
        assert_eq!(headers["pragma"], "no-cache", "{case}");
    }
    // None of those burned the code: the right request still works.
    let (status, body, _) = f
        .post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &f.client),
                ("code_verifier", &v),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // JSON instead of a form.
    let json = f
        .app
        .http
        .post(f.app.url("/token"))
        .json(&serde_json::json!({"grant_type": "authorization_code", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
    assert_eq!(json.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[actix_web::test]
async fn expired_code_is_refused() {
    let f = setup().await;
    let code = f.code(&[]).await;
    f.app.clock.advance(301);
    let (status, body) = f.exchange(&code, &f.pkce.verifier).await;
    assert_error(status, &body, 400, "invalid_grant", "expired code");
}

#[actix_web::test]
async fn a_replayed_code_revokes_the_family_it_produced() {
    let f = setup().await;
    let code = f.code(&[]).await;
    let (status, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    assert_eq!(status, 200);
    let (status, body) = f.exchange(&code, &f.pkce.verifier).await;
    assert_error(status, &body, 400, "invalid_grant", "replay");
    let (status, body) = f.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_error(status, &body, 400, "invalid_grant", "refresh of a replayed code's family");
    assert_eq!(audit_rows(&f.app, "token.code_replay_detected").await.len(), 1);
}

#[actix_web::test]
async fn parallel_redemptions_yield_one_success_and_the_loser_revokes_it() {
    let f = setup().await;
    let code = f.code(&[]).await;
    let attempts = (0..2).map(|_| f.exchange(&code, &f.pkce.verifier));
    let results = join_all(attempts).await;
    let winners: Vec<&Value> = results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let loser = results.iter().find(|(s, _)| *s != 200).unwrap();
    assert_eq!(loser.1["error"], "invalid_grant");
    let (status, _) = f.refresh(winners[0]["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "the loser's replay revoked the winner's family");
}

/// A client refreshing the same token several times at once (two tabs, a retry racing the
/// first attempt): every attempt inside the grace window gets tokens, the family survives, and
/// it ends with exactly one live head — one of the tokens handed out.
#[actix_web::test]
async fn parallel_refreshes_of_one_token_leave_one_live_head() {
    let f = setup().await;
    let code = f.code(&[]).await;
    let (_, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    let original = tokens["refresh_token"].as_str().unwrap().to_string();
    let results = join_all((0..4).map(|_| f.refresh(&original))).await;
    assert!(results.iter().all(|(status, _)| *status == 200), "{results:?}");
    let heads: Vec<String> =
        results.iter().map(|(_, body)| gatehouse::secrets::digest(body["refresh_token"].as_str().unwrap())).collect();
    let (revoked, live): (Option<i64>, Vec<String>) = f
        .app
        .with_db(move |c| {
            use diesel::prelude::*;
            use gatehouse::db::schema::{refresh_families as fam, refresh_tokens as tok};
            let revoked = fam::table.select(fam::revoked_at).first::<Option<i64>>(c)?;
            let live = tok::table
                .filter(tok::rotated_at.is_null().and(tok::revoked_at.is_null()))
                .select(tok::token_hash)
                .load::<String>(c)?;
            Ok((revoked, live))
        })
        .await;
    assert_eq!(revoked, None, "the family survives");
    assert_eq!(live.len(), 1, "one live head");
    assert!(heads.contains(&live[0]), "the live head is one of the tokens handed out");
}

#[actix_web::test]
async fn refresh_reuse_inside_the_grace_window_gets_a_new_head_after_it_revokes() {
    let f = setup().await;
    let code = f.code(&[]).await;
    let (_, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    let original = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, first) = f.refresh(&original).await;
    assert_eq!(status, 200);
    let first_head = first["refresh_token"].as_str().unwrap().to_string();

    // Within the grace window the same client retries with the rotated token: a new head, and
    // the previous unused one is dead.
    f.app.clock.advance(10);
    let (status, retried) = f.refresh(&original).await;
    assert_eq!(status, 200, "{retried}");
    let new_head = retried["refresh_token"].as_str().unwrap().to_string();
    let (status, body) = f.refresh(&first_head).await;
    assert_error(status, &body, 400, "invalid_grant", "the head replaced by the retry");
    // Someone still holding that dead head shares the family: it is revoked and audited.
    let (status, _) = f.refresh(&new_head).await;
    assert_eq!(status, 400);
    assert_eq!(audit_rows(&f.app, "token.refresh_reuse_detected").await.len(), 1);

    // After the window: the whole family is revoked and audited.
    let g = setup().await;
    let code = g.code(&[]).await;
    let (_, tokens) = g.exchange(&code, &g.pkce.verifier).await;
    let original = tokens["refresh_token"].as_str().unwrap().to_string();
    let (_, first) = g.refresh(&original).await;
    g.app.clock.advance(31);
    let (status, body) = g.refresh(&original).await;
    assert_error(status, &body, 400, "invalid_grant", "reuse after the grace window");
    let (status, _) = g.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "the live head went with the family");
    assert_eq!(audit_rows(&g.app, "token.refresh_reuse_detected").await.len(), 1);
}

#[actix_web::test]
async fn refresh_refusals() {
    let f = setup().await;
    let code = f.code(&[("scope", "mcp:read"), ("resource", "https://mcp.example/")]).await;
    let (_, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let other = dcr_client(&f.app, &["https://other.example/cb"]).await;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("another client's token", vec![("client_id", other.as_str())], "invalid_grant"),
        ("unknown token", vec![("refresh_token", "nope")], "invalid_grant"),
        ("wider scope", vec![("scope", "mcp:read mcp:tools")], "invalid_scope"),
        ("different resource", vec![("resource", "https://other.example/")], "invalid_target"),
    ];
    for (case, overrides, error) in cases {
        let mut fields =
            vec![("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("client_id", f.client.as_str())];
        for (name, value) in overrides {
            match fields.iter_mut().find(|(n, _)| *n == name) {
                Some(field) => field.1 = value,
                None => fields.push((name, value)),
            }
        }
        let (status, body, _) = f.post("/token", &fields).await;
        assert_error(status, &body, 400, error, case);
    }
    // Still usable after those refusals.
    let (status, body) = f.refresh(&rt).await;
    assert_eq!(status, 200, "{body}");
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    // A disabled client refreshes nothing; re-enabled, it does again.
    let id = f.client.clone();
    let now = f.app.clock.now();
    f.app.with_db(move |c| Ok(clients::set_status(c, &id, clients::Status::Disabled, None, now)?)).await;
    let (status, body) = f.refresh(&rt).await;
    assert_error(status, &body, 400, "invalid_grant", "disabled client");
    let id = f.client.clone();
    f.app.with_db(move |c| Ok(clients::set_status(c, &id, clients::Status::Active, None, now)?)).await;
    let (status, _) = f.refresh(&rt).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn an_expired_family_cannot_refresh() {
    let f = setup_with(|s| s.tokens.refresh_token_ttl_secs = 3600).await;
    let code = f.code(&[]).await;
    let (_, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    f.app.clock.advance(3601);
    let (status, body) = f.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_error(status, &body, 400, "invalid_grant", "expired family");
}

#[actix_web::test]
async fn a_disabled_client_cannot_exchange_its_code() {
    let f = setup().await;
    let code = f.code(&[]).await;
    let id = f.client.clone();
    let now = f.app.clock.now();
    f.app.with_db(move |c| Ok(clients::set_status(c, &id, clients::Status::Disabled, None, now)?)).await;
    let (status, body) = f.exchange(&code, &f.pkce.verifier).await;
    assert_error(status, &body, 400, "invalid_grant", "disabled client");
}

#[actix_web::test]
async fn revocation_rules() {
    let f = setup().await;
    let code = f.code(&[]).await;
    let (_, tokens) = f.exchange(&code, &f.pkce.verifier).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let other = dcr_client(&f.app, &["https://other.example/cb"]).await;
    // Missing token: 400 invalid_request.
    let (status, body, _) = f.post("/revoke", &[("client_id", &f.client)]).await;
    assert_error(status, &body, 400, "invalid_request", "missing token");
    // An access token, an unknown token, another client's token: 200, no effect.
    for (case, token, client) in [
        ("access token", tokens["access_token"].as_str().unwrap(), f.client.as_str()),
        ("unknown", "nope", f.client.as_str()),
        ("another client's", rt.as_str(), other.as_str()),
    ] {
        let (status, _, _) = f.post("/revoke", &[("token", token), ("client_id", client)]).await;
        assert_eq!(status, 200, "{case}");
    }
    let (status, _) = f.refresh(&rt).await;
    assert_eq!(status, 200, "the family survived those");
}

#[actix_web::test]
async fn cors_preflights_on_token_revoke_and_jwks() {
    let f = setup().await;
    for (path, method) in [("/token", "POST"), ("/revoke", "POST"), ("/.well-known/jwks.json", "GET")] {
        let response = f
            .app
            .http
            .request(reqwest::Method::OPTIONS, f.app.url(path))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*", "{path}");
    }
    let jwks = f.app.http.get(f.app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert!(jwks.headers()["cache-control"].to_str().unwrap().contains("max-age=300"));
}

#[actix_web::test]
async fn key_rotation_publishes_first_and_signs_after_the_delay() {
    let f = setup().await;
    f.app.clock.set(SystemClock.now_secs());
    let code = f.code(&[]).await;
    let (_, before) = f.exchange(&code, &f.pkce.verifier).await;
    let old_kid = jsonwebtoken::decode_header(before["access_token"].as_str().unwrap()).unwrap().kid.unwrap();

    let now = f.app.clock.now();
    let cipher = f.app.state.key_cipher.clone();
    let new_keys = f
        .app
        .with_db(move |c| {
            gatehouse::keys::rotate(c, now, gatehouse::store::audit::Actor::Cli, &cipher)
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    let new_key = new_keys.iter().find(|k| k.algorithm == "ES256").expect("a new ES256 key");
    assert_eq!(new_keys.len(), 2, "a new key of each algorithm");
    assert!(f.app.state.reload_keys().await);
    let jwks: Value = f.app.http.get(f.app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&new_key.kid.as_str()) && kids.contains(&old_kid.as_str()), "both published: {kids:?}");
    assert_eq!(audit_rows(&f.app, "keys.rotated").await.len(), 1);

    // Before the publication delay the old key still signs.
    let (_, tokens) = f.refresh(before["refresh_token"].as_str().unwrap()).await;
    assert_eq!(jsonwebtoken::decode_header(tokens["access_token"].as_str().unwrap()).unwrap().kid.unwrap(), old_kid);

    // After it (reload interval + JWKS cache lifetime), the new key signs; old tokens still verify.
    f.app.clock.advance(gatehouse::keys::PUBLICATION_DELAY_SECS);
    assert!(f.app.state.reload_keys().await);
    let (_, after) = f.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    let token = after["access_token"].as_str().unwrap();
    assert_eq!(jsonwebtoken::decode_header(token).unwrap().kid.unwrap(), new_key.kid);
    let issuer = f.app.issuer.clone();
    verify(&f.app, token, &issuer).await;
    verify(&f.app, before["access_token"].as_str().unwrap(), &issuer).await;
    verify(&f.app, tokens["access_token"].as_str().unwrap(), &issuer).await;
}

#[actix_web::test]
async fn two_replicas_starting_on_an_empty_database_create_one_key() {
    let db = TestDb::new(crate::common::backend());
    let (a, b) = futures::join!(TestApp::spawn_on(db.url(), "", |_| {}), TestApp::spawn_on(db.url(), "", |_| {}));
    let ja: Value = a.http.get(a.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let jb: Value = b.http.get(b.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ja["keys"].as_array().unwrap().len(), 2, "one ES256 and one RS256 key");
    assert_eq!(ja, jb);
    let rows = a.with_db(|c| Ok(gatehouse::store::keys::all(c)?)).await;
    let mut algorithms: Vec<&str> = rows.iter().map(|r| r.algorithm.as_str()).collect();
    algorithms.sort();
    assert_eq!(algorithms, ["ES256", "RS256"]);
}
