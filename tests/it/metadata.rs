//! RFC 8414 metadata: fields, the issuer byte for byte, the live registration switch, issuers
//! with a path, CORS.

use serde_json::Value;

use crate::common::{assert_no_nulls, backend, TestApp, TestDb};

async fn fetch(app: &TestApp, url: &str) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

#[actix_web::test]
async fn metadata_publishes_every_endpoint() {
    let app = TestApp::spawn_with(|s| s.dcr.enabled = false).await;
    let (status, headers, doc) = fetch(&app, &app.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(status, 200);
    assert!(headers.get("cache-control").unwrap().to_str().unwrap().contains("max-age"));
    assert_no_nulls(&doc);
    let issuer = &app.issuer;
    assert_eq!(doc["issuer"].as_str().unwrap().as_bytes(), issuer.as_bytes());
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/revoke"));
    assert!(doc.get("registration_endpoint").is_none(), "DCR is off: {doc}");
    assert_eq!(doc["scopes_supported"], serde_json::json!(["offline_access"]));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["response_modes_supported"], serde_json::json!(["query"]));
    assert_eq!(doc["grant_types_supported"], serde_json::json!(["authorization_code", "refresh_token"]));
    assert_eq!(doc["token_endpoint_auth_methods_supported"], serde_json::json!(["none"]));
    assert_eq!(doc["revocation_endpoint_auth_methods_supported"], serde_json::json!(["none"]));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["client_id_metadata_document_supported"], true, "CIMD is on by default");
    app.update_settings(|s| s.cimd.enabled = false);
    let (_, _, doc) = fetch(&app, &app.url("/.well-known/oauth-authorization-server")).await;
    assert!(doc.get("client_id_metadata_document_supported").is_none());
}

#[actix_web::test]
async fn registration_endpoint_follows_the_live_setting() {
    let app = TestApp::spawn_with(|s| s.dcr.enabled = false).await;
    let url = app.url("/.well-known/oauth-authorization-server");
    assert!(fetch(&app, &url).await.2.get("registration_endpoint").is_none());
    app.update_settings(|s| s.dcr.enabled = true);
    assert_eq!(fetch(&app, &url).await.2["registration_endpoint"], format!("{}/register", app.issuer));
    app.update_settings(|s| s.dcr.enabled = false);
    assert!(fetch(&app, &url).await.2.get("registration_endpoint").is_none());
}

#[actix_web::test]
async fn issuer_with_a_path_serves_under_it() {
    let db = TestDb::new(backend());
    let app = TestApp::spawn_on(db.url(), "/auth", |_| {}).await;
    assert!(app.issuer.ends_with("/auth"));
    // Path-insertion form at the root (RFC 8414 §3.1) and the issuer-relative form.
    let inserted = format!("{}/.well-known/oauth-authorization-server/auth", app.root);
    let (status, _, doc) = fetch(&app, &inserted).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], app.issuer);
    assert_eq!(doc["token_endpoint"], format!("{}/auth/token", app.root));
    assert_eq!(doc["registration_endpoint"], format!("{}/auth/register", app.root));
    assert_eq!(fetch(&app, &app.url("/.well-known/oauth-authorization-server")).await.0, 200);
    // Health at the root and under the path; registration only under the path.
    for path in ["/healthz", "/readyz", "/auth/healthz", "/auth/readyz"] {
        let status = app.http.get(format!("{}{path}", app.root)).send().await.unwrap().status();
        assert_eq!(status, 200, "{path}");
    }
    let at_root = app
        .http
        .post(format!("{}/register", app.root))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(at_root.status(), 404);
    let under = app.post_json("/register", &serde_json::json!({"redirect_uris": ["https://a.example/cb"]})).await;
    assert_eq!(under.status(), 201);
}

#[actix_web::test]
async fn cors_preflight_on_metadata() {
    let app = TestApp::spawn().await;
    let response = app.preflight("/.well-known/oauth-authorization-server", "GET", "mcp-protocol-version").await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.headers().get("access-control-allow-credentials").is_none());
    let allowed = response.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("mcp-protocol-version"), "{allowed}");

    let simple = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(simple.headers()["access-control-allow-origin"], "*");
}
