//! The operator dashboard (SPEC §12) through its real HTTP surface: the sign-in that returns
//! to `/admin`, the role read on every request, the overview chart, search, the client
//! actions with their CSRF and `Sec-Fetch-Site` checks, and the audit row they leave.

use serde_json::{json, Value};

use crate::common::flow::{browser, input_value, location, PASSWORD};
use crate::common::TestApp;
use gatehouse::operator::{self, NewUser, Role, UserRef};
use gatehouse::store::audit::Actor;

const REDIRECT: &str = "https://app.example/callback";

async fn add_user(app: &TestApp, email: &str, role: Role) -> String {
    let (email, now) = (email.to_string(), app.clock_now());
    app.with_db(move |conn| {
        operator::add_user(
            conn,
            &NewUser { email: email.clone(), password: PASSWORD.into(), email_verified: true, role },
            Actor::Cli,
            now,
        )
        .map(|u| u.user_id)
        .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await
}

async fn register(app: &TestApp, name: &str) -> String {
    let response = app.post_json("/register", &json!({"client_name": name, "redirect_uris": [REDIRECT]})).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["client_id"].as_str().unwrap().to_string()
}

/// `GET /admin` without a session, through the ordinary login page, back to `/admin`: the
/// response to that last `GET /admin`.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, email: &str) -> reqwest::Response {
    let start = app.get_with(browser, "/admin").await;
    assert_eq!(start.status(), 303);
    let login = location(&start);
    assert!(login.starts_with("/login?request_id="), "{login}");
    let page = app.get_with(browser, &login).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("to continue to <strong>the operator dashboard</strong>"), "{html}");
    let signed_in = app.submit_login(browser, &html, email, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/admin", "no consent: straight back to the dashboard");
    app.get_with(browser, "/admin").await
}

/// The CSRF token the dashboard's forms carry.
async fn csrf_of(app: &TestApp, browser: &reqwest::Client) -> String {
    let html = app.get_with(browser, "/admin").await.text().await.unwrap();
    input_value(&html, "csrf_token").expect("a CSRF token on the page")
}

async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
    fetch_site: Option<&str>,
) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut request = browser
        .post(format!("{}{path}", app.root))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(site) = fetch_site {
        request = request.header("sec-fetch-site", site);
    }
    request.send().await.unwrap()
}

async fn client_status(app: &TestApp, client_id: &str) -> String {
    let (id, now) = (client_id.to_string(), app.clock_now());
    app.with_db(move |conn| {
        operator::show_client(conn, &id, now)
            .map(|d| d.summary.status.to_string())
            .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await
}

async fn events_of(app: &TestApp, client_id: &str, event: &str) -> Vec<String> {
    let filter = gatehouse::store::audit::AuditFilter {
        event: Some(event.into()),
        client_id: Some(client_id.into()),
        ..Default::default()
    };
    app.with_db(move |conn| Ok(gatehouse::store::audit::list(conn, &filter, 100)?))
        .await
        .into_iter()
        .map(|r| r.actor)
        .collect()
}

#[actix_web::test]
async fn an_admin_signs_in_finds_a_client_by_name_and_disables_it_with_a_reason() {
    let app = TestApp::spawn().await;
    let admin_id = add_user(&app, "ops@example.com", Role::Admin).await;
    let client_id = register(&app, "Needle Notes").await;
    register(&app, "Haystack").await;
    let browser = browser();

    let overview = sign_in(&app, &browser, "ops@example.com").await;
    assert_eq!(overview.status(), 200);
    let headers = overview.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let html = overview.text().await.unwrap();
    assert!(html.contains("<svg class=\"chart\""), "{html}");
    assert!(html.contains("2 registrations, 0 refusals"), "the two registrations are on the chart: {html}");

    let found = app.get_with(&browser, "/admin/clients?q=needle").await;
    assert_eq!(found.status(), 200);
    let found = found.text().await.unwrap();
    assert!(found.contains(&client_id) && found.contains("Needle Notes"), "{found}");
    assert!(!found.contains("Haystack"), "only the match is listed: {found}");

    let confirm = app.get_with(&browser, &format!("/admin/client/disable?id={client_id}")).await;
    assert_eq!(confirm.status(), 200);
    let confirm = confirm.text().await.unwrap();
    let csrf = input_value(&confirm, "csrf_token").unwrap();
    let done = post(
        &app,
        &browser,
        "/admin/client/disable",
        &[("csrf_token", &csrf), ("client_id", &client_id), ("reason", "40 registrations from one address")],
        Some("same-origin"),
    )
    .await;
    assert_eq!(done.status(), 303);
    let page = app.get_with(&browser, &location(&done)).await.text().await.unwrap();
    let actor = format!("admin:{admin_id}");
    assert!(page.contains("The client is disabled."), "{page}");
    assert!(page.contains("40 registrations from one address"), "{page}");
    assert!(page.contains(&format!("<td class=\"actor\">{actor}</td>")), "the audit row names the admin: {page}");
    assert_eq!(client_status(&app, &client_id).await, "disabled");
    assert_eq!(events_of(&app, &client_id, "client.disabled").await, vec![actor]);
}

#[actix_web::test]
async fn a_user_without_the_admin_role_gets_403() {
    let app = TestApp::spawn().await;
    add_user(&app, "someone@example.com", Role::User).await;
    let browser = browser();
    let refused = sign_in(&app, &browser, "someone@example.com").await;
    assert_eq!(refused.status(), 403);
    for path in ["/admin/clients", "/admin/audit", "/admin/users", "/admin/keys", "/admin/config"] {
        assert_eq!(app.get_with(&browser, path).await.status(), 403, "{path}");
    }
}

#[actix_web::test]
async fn actions_without_a_token_with_a_stale_one_or_from_another_site_change_nothing() {
    let app = TestApp::spawn().await;
    add_user(&app, "ops@example.com", Role::Admin).await;
    let client_id = register(&app, "Target").await;
    let browser = browser();
    assert_eq!(sign_in(&app, &browser, "ops@example.com").await.status(), 200);
    let stale = csrf_of(&app, &browser).await;
    // Sign out and in again: the first session's token is stale.
    let out = post(&app, &browser, "/logout", &[("csrf_token", &stale)], Some("same-origin")).await;
    assert_eq!(out.status(), 200);
    assert_eq!(sign_in(&app, &browser, "ops@example.com").await.status(), 200);
    let current = csrf_of(&app, &browser).await;
    assert_ne!(stale, current);

    let attempts: [(&str, Option<&str>, Option<&str>); 4] = [
        ("no token", None, Some("same-origin")),
        ("stale token", Some(&stale), Some("same-origin")),
        ("cross-site", Some(&current), Some("cross-site")),
        ("same-site", Some(&current), Some("same-site")),
    ];
    for (what, token, site) in attempts {
        let mut fields = vec![("client_id", client_id.as_str()), ("reason", "x")];
        if let Some(token) = token {
            fields.push(("csrf_token", token));
        }
        let refused = post(&app, &browser, "/admin/client/disable", &fields, site).await;
        assert_eq!(refused.status(), 400, "{what}");
        assert!(refused.text().await.unwrap().contains("Nothing was changed."), "{what}");
    }
    assert_eq!(client_status(&app, &client_id).await, "active");
    assert!(events_of(&app, &client_id, "client.disabled").await.is_empty());

    // The same form with the current token and no Sec-Fetch-Site (not a browser) goes through.
    let done =
        post(&app, &browser, "/admin/client/disable", &[("csrf_token", &current), ("client_id", &client_id)], None)
            .await;
    assert_eq!(done.status(), 303);
    assert_eq!(client_status(&app, &client_id).await, "disabled");
}

#[actix_web::test]
async fn an_admin_demoted_while_signed_in_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin_id = add_user(&app, "ops@example.com", Role::Admin).await;
    let client_id = register(&app, "Target").await;
    let browser = browser();
    assert_eq!(sign_in(&app, &browser, "ops@example.com").await.status(), 200);
    let csrf = csrf_of(&app, &browser).await;

    let now = app.clock_now();
    app.with_db(move |conn| {
        operator::set_role(conn, &UserRef::Id(admin_id), Role::User, Actor::Cli, now)
            .map(|_| ())
            .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
    })
    .await;

    assert_eq!(app.get_with(&browser, "/admin").await.status(), 403);
    let action =
        post(&app, &browser, "/admin/client/enable", &[("csrf_token", &csrf), ("client_id", &client_id)], None).await;
    assert_eq!(action.status(), 403);
    assert!(events_of(&app, &client_id, "client.enabled").await.is_empty());
}

#[actix_web::test]
async fn deleting_a_client_another_admin_just_deleted_says_so() {
    let app = TestApp::spawn().await;
    add_user(&app, "one@example.com", Role::Admin).await;
    add_user(&app, "two@example.com", Role::Admin).await;
    let client_id = register(&app, "Doomed").await;
    let (first, second) = (browser(), browser());
    assert_eq!(sign_in(&app, &first, "one@example.com").await.status(), 200);
    assert_eq!(sign_in(&app, &second, "two@example.com").await.status(), 200);
    let confirm_first =
        app.get_with(&first, &format!("/admin/client/delete?id={client_id}")).await.text().await.unwrap();
    let confirm_second =
        app.get_with(&second, &format!("/admin/client/delete?id={client_id}")).await.text().await.unwrap();

    let csrf = input_value(&confirm_second, "csrf_token").unwrap();
    let deleted =
        post(&app, &second, "/admin/client/delete", &[("csrf_token", &csrf), ("client_id", &client_id)], None).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(location(&deleted), "/admin/clients?done=deleted");

    let csrf = input_value(&confirm_first, "csrf_token").unwrap();
    let late =
        post(&app, &first, "/admin/client/delete", &[("csrf_token", &csrf), ("client_id", &client_id)], None).await;
    assert_eq!(late.status(), 404);
    let page = late.text().await.unwrap();
    assert!(page.contains("deleted a moment ago"), "{page}");
    assert_eq!(events_of(&app, &client_id, "client.deleted").await.len(), 1, "deleted once");
}

#[actix_web::test]
async fn a_search_with_sql_and_html_metacharacters_is_escaped_and_literal() {
    let app = TestApp::spawn().await;
    add_user(&app, "ops@example.com", Role::Admin).await;
    let tricky = register(&app, "<b>bold</b> 100%_off' OR '1'='1").await;
    let plain = register(&app, "Plain app").await;
    let browser = browser();
    assert_eq!(sign_in(&app, &browser, "ops@example.com").await.status(), 200);

    for (query, expect_tricky) in [
        ("%27%20OR%20%271%27%3D%271", true),
        ("%25_", true),
        ("%25", true),
        ("off%27", true),
        ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", false),
        ("%22%3E%3Cb%3E", false),
    ] {
        let response = app.get_with(&browser, &format!("/admin/clients?q={query}")).await;
        assert_eq!(response.status(), 200, "{query}");
        let html = response.text().await.unwrap();
        assert_eq!(html.contains(&tricky), expect_tricky, "{query}: {html}");
        // `%` and `_` are literal: the plain app's name and id hold no `%`, no `%_`, no quote.
        assert!(!html.contains(&plain), "{query}: {html}");
        assert!(!html.contains("<script>") && !html.contains("<b>"), "{query}: {html}");
    }
    let listed = app.get_with(&browser, "/admin/clients").await.text().await.unwrap();
    assert!(listed.contains("&lt;b&gt;bold&lt;/b&gt; 100%_off&#39; OR &#39;1&#39;=&#39;1"), "{listed}");
    let echoed = app.get_with(&browser, "/admin/clients?q=%22%3E%3Cb%3E").await.text().await.unwrap();
    assert!(echoed.contains("value=\"&quot;&gt;&lt;b&gt;\""), "{echoed}");
}

/// Audit rows of `event` (any client), their actors.
async fn actors_of(app: &TestApp, event: &str) -> Vec<String> {
    let filter = gatehouse::store::audit::AuditFilter { event: Some(event.into()), ..Default::default() };
    app.with_db(move |conn| Ok(gatehouse::store::audit::list(conn, &filter, 100)?))
        .await
        .into_iter()
        .map(|r| r.actor)
        .collect()
}

#[actix_web::test]
async fn users_keys_and_configuration_go_through_the_operator_service_as_the_admin() {
    const TOKEN: &str = "a-very-secret-admin-token-of-at-least-32-chars";
    let app = TestApp::spawn_with(|s| s.admin.token = TOKEN.into()).await;
    let admin_id = add_user(&app, "ops@example.com", Role::Admin).await;
    let other = add_user(&app, "pat@example.com", Role::User).await;
    let browser = browser();
    assert_eq!(sign_in(&app, &browser, "ops@example.com").await.status(), 200);
    let csrf = csrf_of(&app, &browser).await;
    let actor = format!("admin:{admin_id}");

    let listed = app.get_with(&browser, "/admin/users").await.text().await.unwrap();
    assert!(listed.contains("pat@example.com") && listed.contains(&other), "{listed}");
    let made = post(
        &app,
        &browser,
        "/admin/users/role",
        &[("csrf_token", &csrf), ("user_id", &other), ("role", "admin")],
        None,
    )
    .await;
    assert_eq!(made.status(), 303);
    let disabled =
        post(&app, &browser, "/admin/users/disable", &[("csrf_token", &csrf), ("user_id", &other)], None).await;
    assert_eq!(disabled.status(), 303);
    assert_eq!(actors_of(&app, "user.role_changed").await, vec![actor.clone()]);
    assert_eq!(actors_of(&app, "user.disabled").await, vec![actor.clone()]);
    let bad_role = post(
        &app,
        &browser,
        "/admin/users/role",
        &[("csrf_token", &csrf), ("user_id", &other), ("role", "root")],
        None,
    )
    .await;
    assert_eq!(bad_role.status(), 400);

    let before = app.get_with(&browser, "/admin/keys").await.text().await.unwrap();
    assert!(before.contains("ES256"), "{before}");
    let rotated = post(&app, &browser, "/admin/keys/rotate", &[("csrf_token", &csrf)], None).await;
    assert_eq!(rotated.status(), 303);
    assert_eq!(actors_of(&app, "keys.rotated").await, vec![actor.clone()]);
    let cross = post(&app, &browser, "/admin/keys/rotate", &[("csrf_token", &csrf)], Some("cross-site")).await;
    assert_eq!(cross.status(), 400);
    assert_eq!(actors_of(&app, "keys.rotated").await.len(), 1, "the cross-site rotation changed nothing");

    let config = app.get_with(&browser, "/admin/config").await;
    assert_eq!(config.headers()["cache-control"], "no-store");
    let config = config.text().await.unwrap();
    assert!(!config.contains(TOKEN), "the admin token is masked");
    assert!(config.contains("********"));
    assert!(config.contains("dynamic client registration (POST /register): ON"), "{config}");
}
