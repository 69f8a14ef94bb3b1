//! The whole story against the real binary, as outsiders see it: an operator creates a user
//! with the CLI and runs `gatehouse serve`; a client that knows only the issuer discovers the
//! endpoints, registers itself, and sends a user through sign-in and consent with a plain HTTP
//! client that follows redirects and posts the forms; a resource server verifies the access
//! token from `jwks_uri` alone.

use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use crate::common::flow::{input_value, pkce, query_param, PASSWORD};
use crate::common::process::{run_with_stdin, ServerProcess};
use crate::common::{backend, TestDb};

const REDIRECT: &str = "http://127.0.0.1:33418/callback";
const RESOURCE: &str = "https://mcp.example/mcp";

/// The `action` of the page's first form, resolved against the issuer's origin.
fn form_action(html: &str, issuer: &str) -> String {
    let marker = "<form method=\"post\" action=\"";
    let start = html.find(marker).expect("a form") + marker.len();
    let action = &html[start..start + html[start..].find('"').unwrap()];
    let origin = url::Url::parse(issuer).unwrap();
    origin.join(action).unwrap().to_string()
}

/// Post a page's form with its hidden fields plus `fields`.
async fn submit(browser: &reqwest::Client, issuer: &str, html: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let request_id = input_value(html, "request_id").expect("request_id");
    let csrf_token = input_value(html, "csrf_token").expect("csrf_token");
    let mut form = vec![("request_id", request_id.as_str()), ("csrf_token", csrf_token.as_str())];
    form.extend_from_slice(fields);
    browser.post(form_action(html, issuer)).form(&form).send().await.unwrap()
}

#[actix_web::test]
async fn a_registered_client_signs_a_user_in_and_a_resource_server_verifies_the_token() {
    let db = TestDb::new(backend());
    let dir = tempfile::tempdir().unwrap();
    let created = run_with_stdin(
        &["users", "add", "alice@example.com", "--password-stdin"],
        &[("GATEHOUSE__DATABASE__URL", db.url())],
        &format!("{PASSWORD}\n"),
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let server = ServerProcess::start(dir.path(), db.url(), &[], &[("GATEHOUSE__DCR__ENABLED", "true")]);
    let http = crate::common::http_client().build().unwrap();
    let metadata = server.metadata_when_up(&http).await;
    let endpoint = |name: &str| metadata[name].as_str().unwrap_or_else(|| panic!("{name} in {metadata}")).to_string();

    // Registration, shaped as Claude sends it.
    let registered = http
        .post(endpoint("registration_endpoint"))
        .json(&json!({
            "client_name": "Claude",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let client: Value = registered.json().await.unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_string();
    assert_eq!(client["token_endpoint_auth_method"], "none");

    // The browser: follows every redirect except the last one, back to the client.
    let browser = crate::common::http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.url().as_str().starts_with(REDIRECT) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .unwrap();
    let p = pkce();
    let mut authorize = url::Url::parse(&endpoint("authorization_endpoint")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", &p.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "mcp:tools offline_access")
        .append_pair("state", "xyz-state")
        .append_pair("resource", RESOURCE);
    let login = browser.get(authorize).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.url().path().ends_with("/login"), "{}", login.url());
    let login = login.text().await.unwrap();
    let consent =
        submit(&browser, &server.issuer, &login, &[("email", "alice@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(consent.status(), 200);
    assert!(consent.url().path().ends_with("/consent"), "{}", consent.url());
    let consent = consent.text().await.unwrap();
    assert!(consent.contains("Claude"), "the consent page names the client");
    let back = submit(&browser, &server.issuer, &consent, &[("decision", "allow")]).await;
    assert_eq!(back.status(), 302);
    let back = back.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("xyz-state"));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(server.issuer.as_str()));
    let code = query_param(&back, "code").expect("a code");

    let token_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
        ("code_verifier", p.verifier.as_str()),
        ("resource", RESOURCE),
    ];
    let tokens = http.post(endpoint("token_endpoint")).form(&token_form).send().await.unwrap();
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();

    // The resource server: knows the issuer, its metadata and nothing else.
    let resource_server = crate::common::http_client().build().unwrap();
    let jwks: JwkSet = resource_server.get(endpoint("jwks_uri")).send().await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(access_token).unwrap().kid.expect("kid");
    let key = DecodingKey::from_jwk(jwks.find(&kid).expect("published key")).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[server.issuer.as_str()]);
    validation.set_audience(&[RESOURCE]);
    let claims = jsonwebtoken::decode::<Value>(access_token, &key, &validation).expect("a valid token").claims;
    assert_eq!(claims["client_id"], client_id.as_str());
    // `mcp:tools` is not in the default `scopes.supported`: dropped, never granted.
    assert_eq!(claims["scope"], "offline_access");
    assert_eq!(tokens["scope"], "offline_access");

    // And the client keeps its session fresh.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", client_id.as_str()),
    ];
    let refreshed = http.post(endpoint("token_endpoint")).form(&refresh).send().await.unwrap();
    assert_eq!(refreshed.status(), 200);
}
