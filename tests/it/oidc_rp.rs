//! A real OpenID Connect relying party against the real server process (SPEC §10): the
//! `openidconnect` crate, with its default settings, does discovery, the authorization request
//! with PKCE and a nonce, the code exchange, the id_token verification (signature from the
//! JWKS, `iss`, `aud`, `exp`, `nonce`) and `/userinfo`. Only the person's part — signing in and
//! allowing — is done by a scripted browser.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse,
};

use crate::common::flow::{input_value, location, query_param, PASSWORD};
use crate::common::process::ServerProcess;
use crate::common::{backend, open_db, TestDb, T0};
use gatehouse::store::audit::Actor;

const REDIRECT: &str = "https://rp.example/callback";
const EMAIL: &str = "rp-user@example.com";

#[actix_web::test]
async fn a_real_relying_party_signs_in_with_openid_connect() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend());
    // The user and the operator-registered client, written before the server starts.
    let (user_id, client_id) = {
        let pool = open_db(db.url());
        pool.migrate().unwrap();
        let mut conn = pool.get().unwrap();
        let new_user = gatehouse::operator::NewUser {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            email_verified: true,
            role: gatehouse::operator::Role::User,
        };
        let user = gatehouse::operator::add_user(&mut conn, &new_user, Actor::Cli, T0).unwrap();
        let settings = gatehouse::config::Settings::default();
        let metadata =
            gatehouse::operator::manual_metadata(&settings, "Relying party", &[REDIRECT.to_string()]).unwrap();
        let client = gatehouse::operator::add_manual(&mut conn, &metadata, Actor::Cli, T0).unwrap();
        (user.user_id, client.client_id)
    };
    let server = ServerProcess::start(
        dir.path(),
        db.url(),
        &[],
        &[("GATEHOUSE__SCOPES__SUPPORTED", "openid,profile,email,offline_access")],
    );
    let plain = reqwest::Client::new();
    server.metadata_when_up(&plain).await;

    // The relying party, as its documentation shows it.
    let rp_http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let provider = CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(provider, ClientId::new(client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".to_string()))
        .add_scope(Scope::new("profile".to_string()))
        .set_pkce_challenge(challenge)
        .url();

    // The person: sign in, allow.
    let browser =
        crate::common::http_client().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let started = browser.get(authorize_url.as_str()).send().await.unwrap();
    assert_eq!(started.status(), 303);
    let login_url = format!("{}{}", server.issuer, location(&started));
    let login_page = browser.get(&login_url).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request_id", input_value(&login_page, "request_id").unwrap()),
        ("csrf_token", input_value(&login_page, "csrf_token").unwrap()),
        ("email", EMAIL.to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let signed_in = browser.post(format!("{}/login", server.issuer)).form(&form).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let consent_url = format!("{}{}", server.issuer, location(&signed_in));
    let consent_page = browser.get(&consent_url).send().await.unwrap().text().await.unwrap();
    assert!(consent_page.contains("your email address and your name"), "consent names the claims");
    let decision = [
        ("request_id", input_value(&consent_page, "request_id").unwrap()),
        ("csrf_token", input_value(&consent_page, "csrf_token").unwrap()),
        ("decision", "allow".to_string()),
    ];
    let allowed = browser.post(format!("{}/consent", server.issuer)).form(&decision).send().await.unwrap();
    assert_eq!(allowed.status(), 302);
    let callback = location(&allowed);
    assert!(callback.starts_with(REDIRECT), "{callback}");
    assert_eq!(query_param(&callback, "state").as_deref(), Some(csrf_state.secret().as_str()));
    let code = query_param(&callback, "code").expect("a code");

    // Back to the relying party: exchange, verify, userinfo.
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("a token endpoint from discovery")
        .set_pkce_verifier(verifier)
        .request_async(&rp_http)
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an id_token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("the id_token verifies");
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(claims.email_verified(), Some(true), "the stored value (users add --email-verified)");
    assert!(claims.auth_time().is_some());
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .expect("a userinfo endpoint from discovery")
        .request_async(&rp_http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject().as_str(), user_id);
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some(EMAIL));
    drop(server);
}
