//! Registration rate limiting (SPEC §4.3): counted in the database, shared by replicas.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::common::{backend, TestApp, TestDb};
use crate::register::{audit_rows, client_count};
use gatehouse::store::clients;

fn distinct(n: usize) -> Value {
    json!({"client_name": format!("client {n}"), "redirect_uris": ["https://a.example/cb"]})
}

async fn post_from(app: &TestApp, forwarded_for: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request =
        app.http.post(app.url("/register")).header("content-type", "application/json").body(body.to_string());
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn the_attempt_over_the_limit_is_refused_until_the_window_rolls_over() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.max_registrations_per_window = 3;
        s.dcr.rate_limit_window_secs = 60;
    })
    .await;
    for n in 0..3 {
        assert_eq!(app.post_json("/register", &distinct(n)).await.status(), 201);
    }
    app.clock.advance(15);
    let refused = app.post_json("/register", &distinct(3)).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "45");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    assert!(body["error_description"].as_str().unwrap().contains("45"));
    assert_eq!(client_count(&app).await, 3);

    app.clock.advance(45); // the next window
    assert_eq!(app.post_json("/register", &distinct(4)).await.status(), 201);
}

#[actix_web::test]
async fn refused_bodies_count_and_no_body_is_read_over_the_limit() {
    let app = TestApp::spawn_with(|s| s.dcr.max_registrations_per_window = 2).await;
    for _ in 0..2 {
        let bad = app.post_json("/register", &json!({"redirect_uris": ["http://example.com/cb"]})).await;
        assert_eq!(bad.status(), 400);
    }
    // Over the limit even a non-JSON body gets 429, not 415: the limit comes first.
    let response =
        app.http.post(app.url("/register")).header("content-type", "text/plain").body("x").send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(client_count(&app).await, 0);
}

#[actix_web::test]
async fn a_dedupe_reuse_is_refunded() {
    let app = TestApp::spawn_with(|s| s.dcr.max_registrations_per_window = 2).await;
    let body = distinct(1);
    assert_eq!(app.post_json("/register", &body).await.status(), 201);
    assert_eq!(app.post_json("/register", &body).await.status(), 201); // reuse, refunded
    assert_eq!(app.post_json("/register", &body).await.status(), 201); // reuse, refunded
    assert_eq!(app.post_json("/register", &distinct(2)).await.status(), 201);
    assert_eq!(app.post_json("/register", &distinct(3)).await.status(), 429);
}

#[actix_web::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = TestApp::spawn_with(|s| s.dcr.max_registrations_per_window = 1).await;
    assert_eq!(post_from(&app, Some("198.51.100.1"), &distinct(1)).await.status(), 201);
    // Another claimed address from the same untrusted peer shares the peer's window.
    assert_eq!(post_from(&app, Some("198.51.100.2"), &distinct(2)).await.status(), 429);
    let stored = app.with_db(|c| Ok(clients::count(c)?)).await;
    assert_eq!(stored, 1);
}

#[actix_web::test]
async fn the_rightmost_untrusted_hop_is_used_behind_a_trusted_proxy() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.max_registrations_per_window = 1;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into(), "10.0.0.0/8".into()];
    })
    .await;
    // Spoofed left-most hops do not matter: the right-most untrusted hop is the key.
    let first = post_from(&app, Some("1.1.1.1, 203.0.113.7, 10.0.0.5"), &distinct(1)).await;
    assert_eq!(first.status(), 201);
    let body: Value = first.json().await.unwrap();
    let id = body["client_id"].as_str().unwrap().to_string();
    let stored = app.with_db(move |c| Ok(clients::find(c, &id)?)).await.unwrap();
    assert_eq!(stored.registrant_address.as_deref(), Some("203.0.113.7"));
    assert_eq!(post_from(&app, Some("9.9.9.9, 203.0.113.7"), &distinct(2)).await.status(), 429);
    // A different client behind the same proxy has its own window.
    assert_eq!(post_from(&app, Some("203.0.113.8"), &distinct(3)).await.status(), 201);
    // A proxy that adds its own header line (instead of appending) after a forged one: the
    // lines are read in order, so the forged value cannot become the address.
    let two_lines = app
        .http
        .post(app.url("/register"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", "198.51.100.99")
        .header("x-forwarded-for", "203.0.113.7")
        .body(distinct(4).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(two_lines.status(), 429, "keyed by 203.0.113.7, whose window is spent");
}

#[actix_web::test]
async fn ipv6_addresses_share_their_slash_64_and_mapped_ipv4_is_ipv4() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.max_registrations_per_window = 1;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into(), "10.0.0.0/8".into()];
    })
    .await;
    assert_eq!(post_from(&app, Some("2001:db8:1:2::1"), &distinct(1)).await.status(), 201);
    assert_eq!(post_from(&app, Some("2001:db8:1:2:ffff::9"), &distinct(2)).await.status(), 429);
    assert_eq!(post_from(&app, Some("2001:db8:1:3::1"), &distinct(3)).await.status(), 201);

    // `::ffff:10.0.0.1` is 10.0.0.1: a trusted proxy, so the hop before it is the registrant.
    let mapped = post_from(&app, Some("192.0.2.44, ::ffff:10.0.0.1"), &distinct(4)).await;
    assert_eq!(mapped.status(), 201);
    let body: Value = mapped.json().await.unwrap();
    let id = body["client_id"].as_str().unwrap().to_string();
    let stored = app.with_db(move |c| Ok(clients::find(c, &id)?)).await.unwrap();
    assert_eq!(stored.registrant_address.as_deref(), Some("192.0.2.44"));
    // And a mapped address that is not trusted is keyed as its IPv4 form.
    assert_eq!(post_from(&app, Some("::ffff:192.0.2.99"), &distinct(5)).await.status(), 201);
    assert_eq!(post_from(&app, Some("192.0.2.99"), &distinct(6)).await.status(), 429);
}

#[actix_web::test]
async fn one_audit_row_per_key_and_window() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.max_registrations_per_window = 1;
        s.admin.token = crate::common::ADMIN_TOKEN.into();
    })
    .await;
    assert_eq!(app.post_json("/register", &distinct(0)).await.status(), 201);
    for n in 1..6 {
        assert_eq!(app.post_json("/register", &distinct(n)).await.status(), 429);
    }
    assert_eq!(audit_rows(&app, "client.dcr.rate_limited").await.len(), 1);
    app.clock.advance(60);
    assert_eq!(app.post_json("/register", &distinct(10)).await.status(), 201);
    assert_eq!(app.post_json("/register", &distinct(11)).await.status(), 429);
    assert_eq!(audit_rows(&app, "client.dcr.rate_limited").await.len(), 2);
    let text = app.metrics().await;
    assert!(
        text.contains(r#"gatehouse_dcr_registrations_total{error="slow_down",outcome="rate_limited"} 6"#),
        "{text}"
    );
}

/// Two instances on one database admit exactly the limit together under 100 concurrent requests.
#[actix_web::test]
async fn two_instances_on_one_database_share_the_limit() {
    let db = TestDb::new(backend());
    let limit = 10;
    let adjust = |s: &mut gatehouse::config::Settings| {
        s.dcr.max_registrations_per_window = limit;
        s.database.pool_size = 8;
        s.database.connect_timeout_ms = 10_000;
    };
    let a = TestApp::spawn_on(db.url(), "", adjust).await;
    let b = TestApp::spawn_on(db.url(), "", adjust).await;
    let bodies: Vec<Value> = (0..100).map(distinct).collect();
    let requests = bodies.iter().enumerate().map(|(i, body)| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post_json("/register", body)
    });
    let statuses: Vec<u16> = join_all(requests).await.iter().map(|r| r.status().as_u16()).collect();
    let admitted = statuses.iter().filter(|s| **s == 201).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(admitted, limit as usize, "{statuses:?}");
    assert_eq!(limited, 100 - limit as usize, "{statuses:?}");
    assert_eq!(client_count(&a).await, limit as i64);
}
