//! Deduplication and RFC 7592 read/delete with per-registrant tokens.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::register::{audit_rows, client_count};
use gatehouse::clock::Clock;
use gatehouse::store::clients;

fn claude() -> Value {
    json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post"
    })
}

async fn register_ok(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json("/register", body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn read(app: &TestApp, client_id: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url(&format!("/register/{client_id}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn delete(app: &TestApp, client_id: &str, token: &str) -> reqwest::Response {
    app.http.delete(app.url(&format!("/register/{client_id}"))).bearer_auth(token).send().await.unwrap()
}

async fn assert_invalid_token(response: reqwest::Response, case: &str) {
    assert_eq!(response.status(), 401, "{case}");
    assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"", "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{case}");
}

#[actix_web::test]
async fn identical_registrations_share_one_client_with_two_tokens() {
    let app = TestApp::spawn_with(|s| s.admin.token = crate::common::ADMIN_TOKEN.into()).await;
    let first = register_ok(&app, &claude()).await;
    app.clock.advance(5);
    let second = register_ok(&app, &claude()).await;
    assert_eq!(first["client_id"], second["client_id"]);
    assert_eq!(first["client_id_issued_at"], second["client_id_issued_at"]);
    assert_ne!(first["registration_access_token"], second["registration_access_token"]);
    let client_id = first["client_id"].as_str().unwrap();
    assert_eq!(first["registration_client_uri"], format!("{}/register/{client_id}", app.issuer));
    assert!(first["registration_access_token"].as_str().unwrap().len() >= 43);
    assert_eq!(client_count(&app).await, 1);
    assert_eq!(audit_rows(&app, "client.dcr.reused").await.len(), 1);

    for token in [&first, &second] {
        let response = read(&app, client_id, token["registration_access_token"].as_str()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["client_id"], client_id);
        assert_eq!(body["redirect_uris"], json!(["https://claude.ai/api/mcp/auth_callback"]));
        assert_eq!(body["registration_client_uri"], first["registration_client_uri"]);
        assert!(body.get("registration_access_token").is_none());
    }
    let text = app.metrics().await;
    assert!(text.contains(r#"gatehouse_dcr_registrations_total{error="",outcome="reused"} 1"#), "{text}");
}

#[actix_web::test]
async fn without_deduplication_identical_registrations_make_two_clients() {
    let app = TestApp::spawn_with(|s| s.dcr.deduplicate = false).await;
    let first = register_ok(&app, &claude()).await;
    let second = register_ok(&app, &claude()).await;
    assert_ne!(first["client_id"], second["client_id"]);
    assert_eq!(client_count(&app).await, 2);
    let id = first["client_id"].as_str().unwrap().to_string();
    let stored = app.with_db(move |c| Ok(clients::find(c, &id)?)).await.unwrap();
    assert_eq!(stored.fingerprint, None);
}

#[actix_web::test]
async fn concurrent_identical_registrations_yield_one_client() {
    let app = TestApp::spawn().await;
    let body = claude();
    let requests = (0..20).map(|_| app.post_json("/register", &body));
    let responses = join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        ids.push(body["client_id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(client_count(&app).await, 1);
    assert_eq!(audit_rows(&app, "client.dcr.registered").await.len(), 1);
    assert_eq!(audit_rows(&app, "client.dcr.reused").await.len(), 19);
}

#[actix_web::test]
async fn different_metadata_makes_different_clients_but_order_and_defaults_do_not() {
    let app = TestApp::spawn().await;
    let base = register_ok(
        &app,
        &json!({"client_name": "A", "redirect_uris": ["https://a.example/1", "https://a.example/2"]}),
    )
    .await;
    let reordered = register_ok(
        &app,
        &json!({"client_name": "A", "redirect_uris": ["https://a.example/2", "https://a.example/1"],
                "grant_types": ["refresh_token", "authorization_code"], "response_types": ["code"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(base["client_id"], reordered["client_id"]);
    let more = register_ok(
        &app,
        &json!({"client_name": "A", "redirect_uris": ["https://a.example/1", "https://a.example/2", "https://a.example/3"]}),
    )
    .await;
    let renamed = register_ok(
        &app,
        &json!({"client_name": "B", "redirect_uris": ["https://a.example/1", "https://a.example/2"]}),
    )
    .await;
    assert_ne!(base["client_id"], more["client_id"]);
    assert_ne!(base["client_id"], renamed["client_id"]);
    assert_eq!(client_count(&app).await, 3);
}

#[actix_web::test]
async fn a_disabled_match_is_refused_without_the_operators_reason() {
    let app = TestApp::spawn().await;
    let first = register_ok(&app, &claude()).await;
    let id = first["client_id"].as_str().unwrap().to_string();
    let now = app.clock.now();
    app.with_db(move |c| Ok(clients::set_status(c, &id, clients::Status::Disabled, Some("abuse ticket 4711"), now)?))
        .await;
    let response = app.post_json("/register", &claude()).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    assert_eq!(body["error_description"], "this client has been disabled by the operator");
    assert!(!body.to_string().contains("4711"));
    let rows = audit_rows(&app, "client.dcr.rejected").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].detail.contains("abuse ticket 4711"), "operator reason belongs in the audit row");
    assert_eq!(client_count(&app).await, 1);
}

#[actix_web::test]
async fn delete_retires_one_token_and_the_last_removes_the_client() {
    let app = TestApp::spawn().await;
    let first = register_ok(&app, &claude()).await;
    let second = register_ok(&app, &claude()).await;
    let id = first["client_id"].as_str().unwrap();
    let (t1, t2) =
        (first["registration_access_token"].as_str().unwrap(), second["registration_access_token"].as_str().unwrap());

    assert_eq!(delete(&app, id, t1).await.status(), 204);
    assert_invalid_token(read(&app, id, Some(t1)).await, "retired token").await;
    assert_eq!(read(&app, id, Some(t2)).await.status(), 200, "the other registrant still reads");
    assert_eq!(client_count(&app).await, 1);

    assert_eq!(delete(&app, id, t2).await.status(), 204);
    assert_eq!(client_count(&app).await, 0);
    assert_invalid_token(read(&app, id, Some(t2)).await, "removed client").await;
    let rows = audit_rows(&app, "client.dcr.deleted_by_client").await;
    assert_eq!(rows.len(), 2);
    let details: Vec<Value> = rows.iter().map(|r| serde_json::from_str(&r.detail).unwrap()).collect();
    assert_eq!(details[0]["client_removed"], true); // newest first
    assert_eq!(details[1]["client_removed"], false);
    // The audit history outlives the client.
    assert_eq!(audit_rows(&app, "client.dcr.registered").await.len(), 1);
}

#[actix_web::test]
async fn bad_tokens_and_methods_are_refused() {
    let app = TestApp::spawn().await;
    let mine = register_ok(&app, &claude()).await;
    let other = register_ok(&app, &json!({"redirect_uris": ["https://other.example/cb"]})).await;
    let id = mine["client_id"].as_str().unwrap();
    let token = mine["registration_access_token"].as_str().unwrap();
    let other_token = other["registration_access_token"].as_str().unwrap();
    let mut one_off = token.to_string();
    let last = one_off.pop().unwrap();
    one_off.push(if last == 'A' { 'B' } else { 'A' });

    assert_invalid_token(read(&app, id, None).await, "no token").await;
    let malformed =
        app.http.get(app.url(&format!("/register/{id}"))).header("authorization", "Basic abc").send().await.unwrap();
    assert_invalid_token(malformed, "malformed header").await;
    assert_invalid_token(read(&app, id, Some(other_token)).await, "another client's token").await;
    assert_invalid_token(read(&app, id, Some(&one_off)).await, "one character off").await;
    assert_invalid_token(read(&app, "dcr_unknown", Some(token)).await, "unknown client").await;
    assert_invalid_token(delete(&app, id, other_token).await, "delete with another client's token").await;
    assert_eq!(client_count(&app).await, 2);

    let put =
        app.http.put(app.url(&format!("/register/{id}"))).bearer_auth(token).json(&claude()).send().await.unwrap();
    assert_eq!(put.status(), 405);
    let post =
        app.http.post(app.url(&format!("/register/{id}"))).bearer_auth(token).json(&claude()).send().await.unwrap();
    assert_eq!(post.status(), 405);
    let body: Value = post.json().await.unwrap();
    assert!(body["error"].is_string());
}

#[actix_web::test]
async fn management_off_omits_the_uri_and_the_endpoints() {
    let app = TestApp::spawn_with(|s| s.dcr.registration_management = false).await;
    let response = register_ok(&app, &claude()).await;
    assert!(response.get("registration_client_uri").is_none());
    assert!(response.get("registration_access_token").is_none());
    let id = response["client_id"].as_str().unwrap();
    assert_eq!(read(&app, id, Some("whatever")).await.status(), 404);
    assert_eq!(delete(&app, id, "whatever").await.status(), 404);
}

#[actix_web::test]
async fn management_answers_while_registration_is_off() {
    let app = TestApp::spawn().await;
    let response = register_ok(&app, &claude()).await;
    app.update_settings(|s| s.dcr.enabled = false);
    let id = response["client_id"].as_str().unwrap();
    let token = response["registration_access_token"].as_str().unwrap();
    assert_eq!(read(&app, id, Some(token)).await.status(), 200);
    assert_eq!(delete(&app, id, token).await.status(), 204);
    assert_eq!(client_count(&app).await, 0);
}

#[actix_web::test]
async fn cors_on_the_client_configuration_endpoint() {
    let app = TestApp::spawn().await;
    let response = app.preflight("/register/dcr_x", "DELETE", "authorization").await;
    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}
