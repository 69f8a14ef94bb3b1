//! Sign-in through a real upstream OpenID Provider (SPEC §9.1): node-oidc-provider, started by
//! `scripts/test` (GATEHOUSE_TEST_OIDC_ISSUER), driven over HTTP. The happy path, the access and
//! linking rules, and the callback's defences that a real provider can exercise. (Forged tokens
//! the real provider will not mint are in `upstream_forged`.)

use base64::Engine;
use diesel::prelude::*;
use serde_json::Value;

use crate::common::flow::*;
use crate::common::upstream::*;
use crate::common::TestApp;
use gatehouse::store::audit::event;

const REDIRECT: &str = "http://127.0.0.1:7777/callback";

async fn app_with_idp(adjust: impl FnOnce(&mut gatehouse::config::ProviderSettings)) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    add_real_provider(&app, "acme", adjust).await;
    let client = dcr_client(&app, &[REDIRECT]).await;
    (app, client)
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The subject's identity's user id, if linked.
async fn linked_user(app: &TestApp, subject: &str) -> Option<String> {
    let (issuer, subject) = (oidc_issuer(), subject.to_string());
    app.with_db(move |conn| Ok(gatehouse::store::identities::find(conn, "acme", &issuer, &subject)?.map(|i| i.user_id)))
        .await
}

#[actix_web::test]
async fn continue_sign_in_consent_and_tokens_for_the_linked_user() {
    let (app, client) = app_with_idp(|_| {}).await;
    let first = pkce();
    let query = authorize_query(&client, REDIRECT, &first.challenge, &[("state", "s1")]);
    let b = browser();

    // The login page offers the provider above the password form.
    let start = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    let login_page = app.get_with(&b, &location(&start)).await.text().await.unwrap();
    let button = login_page.find("Continue with Acme SSO").expect("a Continue button");
    assert!(button < login_page.find("name=\"password\"").unwrap(), "the button comes before the password form");

    let upstream = press_continue(&app, &b, &login_page, "acme").await;
    assert!(upstream.starts_with(&format!("{}/auth?", oidc_issuer())), "{upstream}");
    assert_eq!(query_param(&upstream, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query_param(&upstream, "redirect_uri").unwrap(), format!("{}/login/acme/callback", app.issuer));
    assert!(query_param(&upstream, "state").unwrap().len() >= 22, "state of at least 128 bits");
    assert!(query_param(&upstream, "nonce").is_some());
    assert!(query_param(&upstream, "prompt").is_none());

    let callback = at_provider(&app, &b, &upstream, "alice", false).await;
    assert!(query_param(&callback, "iss").is_some(), "node-oidc-provider sends iss (RFC 9207)");
    let back = app.get_with(&b, &callback).await;
    assert_eq!(back.status(), 303, "{}", back.text().await.unwrap());
    assert!(location(&back).contains("/consent?request_id="));
    let consent = app.get_with(&b, &location(&back)).await.text().await.unwrap();
    assert!(consent.contains("alice@acme.com"), "consent names the user");
    let decided = app.decide(&b, &consent, "allow").await;
    assert_eq!(decided.status(), 302);
    let code = query_param(&location(&decided), "code").unwrap();
    let (status, tokens) = app.exchange_code(&client, REDIRECT, &code, &first.verifier).await;
    assert_eq!(status, 200, "{tokens}");

    let user_id = linked_user(&app, "alice").await.expect("the identity is linked");
    assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["sub"], user_id.as_str());
    let user = app
        .with_db({
            let id = user_id.clone();
            move |conn| Ok(gatehouse::store::users::find(conn, &id)?.unwrap())
        })
        .await;
    assert_eq!(user.source, "provider");
    assert_eq!(user.email.as_deref(), Some("alice@acme.com"));
    assert!(user.email_verified && user.password_hash.is_none());
    assert_eq!(user.name.as_deref(), Some("Alice Acme"));
    assert_eq!(audit_details(&app, event::USER_CREATED).await[0]["source"], "provider");
    assert_eq!(audit_details(&app, event::USER_IDENTITY_LINKED).await[0]["user_id"], user_id.as_str());
    assert_eq!(audit_details(&app, event::USER_LOGIN_SUCCEEDED).await[0]["method"], "acme");
    let method: String = app
        .with_db(|conn| {
            Ok(gatehouse::db::schema::sessions::table.select(gatehouse::db::schema::sessions::method).first(conn)?)
        })
        .await;
    assert_eq!(method, "acme", "the session records the provider as its method");
    // `users show` (the operator service behind the CLI and the admin API) lists the identity.
    let shown = app
        .with_db(|conn| {
            gatehouse::operator::show_user(conn, &gatehouse::operator::UserRef::Email("alice@acme.com".into()))
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    assert_eq!(shown.identities.len(), 1);
    assert_eq!((shown.identities[0].provider.as_str(), shown.identities[0].subject.as_str()), ("acme", "alice"));
    assert_eq!(shown.identities[0].issuer, oidc_issuer());

    // A second sign-in, in another browser, finds the same user.
    let b2 = browser();
    let pkce2 = pkce();
    let query2 = authorize_query(&client, REDIRECT, &pkce2.challenge, &[]);
    let callback = to_callback(&app, &b2, &query2, "acme", "alice").await;
    let back = app.get_with(&b2, &callback).await;
    assert_eq!(back.status(), 303);
    let consent = app.get_with(&b2, &location(&back)).await.text().await.unwrap();
    let code = query_param(&location(&app.decide(&b2, &consent, "allow").await), "code").unwrap();
    let (_, tokens) = app.exchange_code(&client, REDIRECT, &code, &pkce2.verifier).await;
    assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["sub"], user_id.as_str());
    assert_eq!(written(&app).await.users, 1, "no second user");
}

#[actix_web::test]
async fn domain_and_claim_rules_hold_and_refusals_say_why() {
    let (app, client) = app_with_idp(|p| {
        p.required_claims.insert("groups".into(), "mcp-users".into());
    })
    .await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    for (login, rule, words) in [
        ("bob", "email_not_allowed", "whose email ends in @acme.com"),
        ("dave", "required_claim", "\"groups\" claim is or contains \"mcp-users\""),
        ("carol", "email_not_verified", "has not verified the email"),
    ] {
        let b = browser();
        let callback = to_callback(&app, &b, &query, "acme", login).await;
        let before = written(&app).await;
        let html = assert_refused(&app, app.get_with(&b, &callback).await, 403, before).await;
        assert!(html.contains("not allowed to sign in here"), "{login}: {html}");
        assert!(html.contains(&pages_escape(words)), "{login}: {html}");
        let denied = audit_details(&app, event::USER_LOGIN_DENIED).await;
        assert_eq!(denied[0]["rule"], rule, "{login}");
        assert_eq!(denied[0]["method"], "acme");
    }
    assert_eq!(written(&app).await.users, 0);
    // alice is in the domain and the group.
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    assert_eq!(app.get_with(&b, &callback).await.status(), 303);
}

fn pages_escape(text: &str) -> String {
    text.replace('"', "&quot;")
}

#[actix_web::test]
async fn an_email_of_another_user_is_refused_unless_linking_is_allowed() {
    let (app, client) = app_with_idp(|_| {}).await;
    let local = create_user(&app, "alice@acme.com").await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    let before = written(&app).await;
    let html = assert_refused(&app, app.get_with(&b, &callback).await, 403, before).await;
    assert!(html.contains("already belongs to another user"), "{html}");
    assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "email_in_use");

    // With link_existing_by_email, the local user gets the identity.
    app.update_settings(|s| s.login.providers[0].link_existing_by_email = true);
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    assert_eq!(app.get_with(&b, &callback).await.status(), 303);
    assert_eq!(linked_user(&app, "alice").await.as_deref(), Some(local.as_str()));
    assert_eq!(written(&app).await.users, 1);
}

#[actix_web::test]
async fn a_disabled_user_is_refused() {
    let (app, client) = app_with_idp(|_| {}).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "erin").await;
    assert_eq!(app.get_with(&b, &callback).await.status(), 303);
    let user_id = linked_user(&app, "erin").await.unwrap();
    app.with_db(move |conn| Ok(gatehouse::store::users::set_status(conn, &user_id, "disabled", 0)?)).await;

    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "erin").await;
    let before = written(&app).await;
    let html = assert_refused(&app, app.get_with(&b, &callback).await, 403, before).await;
    assert!(html.contains("disabled"), "{html}");
    assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "user_disabled");
}

#[actix_web::test]
async fn cancelling_upstream_ends_on_a_page() {
    let (app, client) = app_with_idp(|_| {}).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let start = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    let login_page = app.get_with(&b, &location(&start)).await.text().await.unwrap();
    let upstream = press_continue(&app, &b, &login_page, "acme").await;
    let callback = at_provider(&app, &b, &upstream, "alice", true).await;
    assert_eq!(query_param(&callback, "error").as_deref(), Some("access_denied"));
    let html = assert_refused(&app, app.get_with(&b, &callback).await, 400, written(&app).await).await;
    assert!(html.contains("cancelled"), "{html}");
    assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "upstream_error");
}

#[actix_web::test]
async fn forged_replayed_expired_cross_browser_and_other_provider_states_are_refused() {
    let (app, client) = app_with_idp(|_| {}).await;
    add_real_provider(&app, "other", |_| {}).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let empty = written(&app).await;

    // Forged.
    let b = browser();
    let forged = format!("{}/login/acme/callback?code=x&state=forged-state", app.issuer);
    assert_refused(&app, app.get_with(&b, &forged).await, 400, empty).await;

    // Another browser: refused and consumed; the browser that started it cannot use it after.
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    let html = assert_refused(&app, app.get_with(&browser(), &callback).await, 400, empty).await;
    assert!(html.contains("another browser"), "{html}");
    let html = assert_refused(&app, app.get_with(&b, &callback).await, 400, empty).await;
    assert!(html.contains("already used"), "the state was consumed: {html}");

    // Another provider's callback (mix-up): refused, and the state is used up.
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    let elsewhere = callback.replacen("/login/acme/callback", "/login/other/callback", 1);
    let html = assert_refused(&app, app.get_with(&b, &elsewhere).await, 400, empty).await;
    assert!(html.contains("another sign-in service"), "{html}");
    assert_refused(&app, app.get_with(&b, &callback).await, 400, empty).await;

    // Expired with its request.
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    app.clock.advance(601);
    assert_refused(&app, app.get_with(&b, &callback).await, 400, empty).await;
    app.clock.advance(-601);

    // Replayed after a success.
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    assert_eq!(app.get_with(&b, &callback).await.status(), 303);
    let after = written(&app).await;
    assert_refused(&app, app.get_with(&b, &callback).await, 400, after).await;

    let rules: Vec<Value> =
        audit_details(&app, event::USER_LOGIN_DENIED).await.iter().map(|d| d["rule"].clone()).collect();
    for rule in ["unknown_state", "other_browser", "provider_mismatch", "expired_request"] {
        assert!(rules.iter().any(|r| r == rule), "{rule} audited: {rules:?}");
    }
}

#[actix_web::test]
async fn a_wrong_iss_or_nonce_on_the_way_back_is_refused() {
    let (app, client) = app_with_idp(|_| {}).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let empty = written(&app).await;

    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    let iss = query_param(&callback, "iss").unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(iss.as_bytes()).collect();
    let wrong = callback.replace(&encoded, "https%3A%2F%2Fevil.example");
    assert_ne!(wrong, callback);
    assert_refused(&app, app.get_with(&b, &wrong).await, 400, empty).await;
    // Without iss, from a provider that advertises it: refused too.
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    let without = callback.replace(&format!("&iss={encoded}"), "").replace(&format!("iss={encoded}&"), "");
    assert!(!without.contains("iss="), "{without}");
    assert_refused(&app, app.get_with(&b, &without).await, 400, empty).await;

    // The nonce this sign-in expects is not the one in the id_token.
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    app.with_db(|conn| {
        use gatehouse::db::schema::upstream_logins as u;
        Ok(diesel::update(u::table).set(u::nonce.eq("another-nonce")).execute(conn)?)
    })
    .await;
    assert_refused(&app, app.get_with(&b, &callback).await, 400, empty).await;
    assert_eq!(audit_details(&app, event::USER_LOGIN_DENIED).await[0]["rule"], "id_token_invalid");
}

#[actix_web::test]
async fn password_off_hides_and_refuses_the_form_and_a_single_source_goes_straight_upstream() {
    let (app, client) = app_with_idp(|_| {}).await;
    app.update_settings(|s| {
        s.login.password_enabled = false;
        s.login.auto_redirect = false;
    });
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let start = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    let login_page = app.get_with(&b, &location(&start)).await.text().await.unwrap();
    assert!(login_page.contains("Continue with Acme SSO"));
    assert!(!login_page.contains("name=\"password\""), "no password form");
    create_user(&app, "pat@acme.com").await;
    let posted = app.submit_login(&b, &login_page, "pat@acme.com", PASSWORD).await;
    assert_eq!(posted.status(), 403, "POST /login is refused");
    assert!(posted.headers().get("set-cookie").is_none());

    app.update_settings(|s| s.login.auto_redirect = true);
    let start = app.get_with(&browser(), &format!("{}/authorize?{query}", app.issuer)).await;
    assert_eq!(start.status(), 303);
    assert!(
        location(&start).starts_with(&format!("{}/auth?", oidc_issuer())),
        "straight upstream: {}",
        location(&start)
    );
}

#[actix_web::test]
async fn not_you_ends_the_session_and_goes_back_to_the_provider_with_prompt_login() {
    let (app, client) = app_with_idp(|_| {}).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    let back = app.get_with(&b, &callback).await;
    let consent = app.get_with(&b, &location(&back)).await.text().await.unwrap();
    let form = consent.split("action=\"/consent/sign-out\"").nth(1).expect("a Not you? form");
    let (request_id, csrf) = (input_value(form, "request_id").unwrap(), input_value(form, "csrf_token").unwrap());

    let forged =
        app.post_form_with(&b, "/consent/sign-out", &[("request_id", &request_id), ("csrf_token", "forged")]).await;
    assert_eq!(forged.status(), 400);
    assert_eq!(written(&app).await.sessions, 1);

    let out = app.post_form_with(&b, "/consent/sign-out", &[("request_id", &request_id), ("csrf_token", &csrf)]).await;
    assert_eq!(out.status(), 303);
    let upstream = location(&out);
    assert!(upstream.starts_with(&format!("{}/auth?", oidc_issuer())), "{upstream}");
    assert_eq!(query_param(&upstream, "prompt").as_deref(), Some("login"));
    assert_eq!(written(&app).await.sessions, 0, "the session is over");
    let fresh: bool = app
        .with_db(move |conn| {
            use gatehouse::db::schema::auth_requests as r;
            Ok(r::table.find(&request_id).select(r::fresh_sign_in).first(conn)?)
        })
        .await;
    assert!(fresh);
    // The provider asks for a sign-in again; another account can be chosen.
    let callback = at_provider(&app, &b, &upstream, "erin", false).await;
    let back = app.get_with(&b, &callback).await;
    assert_eq!(back.status(), 303);
    let consent = app.get_with(&b, &location(&back)).await.text().await.unwrap();
    assert!(consent.contains("erin@acme.com"), "{consent}");
}

#[actix_web::test]
async fn providers_come_and_go_with_the_settings() {
    let (app, client) = app_with_idp(|_| {}).await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let callback = to_callback(&app, &b, &query, "acme", "alice").await;
    app.update_settings(|s| s.login.providers.clear());
    let html = assert_refused(&app, app.get_with(&b, &callback).await, 400, written(&app).await).await;
    assert!(html.contains("no longer offered"), "{html}");
    let start = app.get_with(&b, &format!("{}/authorize?{query}", app.issuer)).await;
    let login_page = app.get_with(&b, &location(&start)).await.text().await.unwrap();
    assert!(!login_page.contains("Continue with"));
}

#[actix_web::test]
async fn not_you_after_a_password_sign_in_goes_back_to_the_login_page() {
    let (app, client) = app_with_idp(|_| {}).await;
    create_user(&app, "pat@acme.com").await;
    let query = authorize_query(&client, REDIRECT, &pkce().challenge, &[]);
    let b = browser();
    let consent = app.sign_in_to_consent(&b, &query, "pat@acme.com").await;
    let form = consent.split("action=\"/consent/sign-out\"").nth(1).expect("a Not you? form");
    let (request_id, csrf) = (input_value(form, "request_id").unwrap(), input_value(form, "csrf_token").unwrap());
    let out = app.post_form_with(&b, "/consent/sign-out", &[("request_id", &request_id), ("csrf_token", &csrf)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), format!("/login?request_id={request_id}"));
    let removal = out.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(removal.starts_with("gh_session=;"), "{removal}");
    assert_eq!(written(&app).await.sessions, 0);
    // Back at the login page with the same request: sign in as someone else.
    let page = app.get_with(&b, &location(&out)).await;
    assert_eq!(page.status(), 200);
}

/// The dashboard's sign-in through a provider (SPEC §12): "Continue with" on the sign-in page
/// that names the dashboard, back from the provider straight to `/admin` (no consent), where the
/// linked user's role decides.
#[actix_web::test]
async fn the_dashboards_sign_in_through_a_provider_returns_to_admin() {
    let (app, _) = app_with_idp(|_| {}).await;
    let b = browser();
    let start = app.get_with(&b, "/admin").await;
    assert_eq!(start.status(), 303);
    let login_page = app.get_with(&b, &location(&start)).await.text().await.unwrap();
    assert!(login_page.contains("the operator dashboard"), "{login_page}");
    let upstream = press_continue(&app, &b, &login_page, "acme").await;
    let callback = at_provider(&app, &b, &upstream, "alice", false).await;
    let back = app.get_with(&b, &callback).await;
    assert_eq!(back.status(), 303, "{}", back.text().await.unwrap());
    assert_eq!(location(&back), "/admin");
    assert_eq!(app.get_with(&b, "/admin").await.status(), 403, "alice is not an admin");

    let user_id = linked_user(&app, "alice").await.expect("the identity is linked");
    let now = app.clock_now();
    app.with_db(move |conn| {
        gatehouse::operator::set_role(
            conn,
            &gatehouse::operator::UserRef::Id(user_id),
            gatehouse::operator::Role::Admin,
            gatehouse::store::audit::Actor::Cli,
            now,
        )
        .map(|_| ())
        .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await;
    let overview = app.get_with(&b, "/admin").await;
    assert_eq!(overview.status(), 200);
    assert!(overview.text().await.unwrap().contains("<svg class=\"chart\""));
}
