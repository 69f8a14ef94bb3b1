//! `POST /register` over HTTP: real clients' bodies accepted, every bad input refused with the
//! right status and RFC 7591 code, an audit row for each outcome and no half-written client.

use serde_json::{json, Value};

use crate::common::{assert_no_nulls, TestApp};
use gatehouse::store::audit::{self, AuditFilter, AuditRow};
use gatehouse::store::clients;

pub async fn audit_rows(app: &TestApp, event: &str) -> Vec<AuditRow> {
    let filter = AuditFilter { event: Some(event.to_string()), ..AuditFilter::default() };
    app.with_db(move |c| Ok(audit::list(c, &filter, 1000)?)).await
}

pub async fn client_count(app: &TestApp) -> i64 {
    app.with_db(|c| Ok(clients::count(c)?)).await
}

async fn register(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app.post_json("/register", body).await;
    let status = response.status().as_u16();
    if status == 201 {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    let json: Value = response.json().await.expect("JSON body");
    assert_no_nulls(&json);
    (status, json)
}

/// Registers `body` and checks the 201 echoes every stored value.
async fn accepted(app: &TestApp, body: Value) -> Value {
    let (status, response) = register(app, &body).await;
    assert_eq!(status, 201, "{body} → {response}");
    let client_id = response["client_id"].as_str().unwrap();
    assert!(client_id.starts_with("dcr_") && client_id.len() >= 4 + 22, "{client_id}");
    assert_eq!(response["client_id_issued_at"], crate::common::T0);
    assert_eq!(response["token_endpoint_auth_method"], "none");
    assert!(response.get("client_secret").is_none());
    assert!(response.get("client_secret_expires_at").is_none());
    response
}

#[actix_web::test]
async fn chatgpt_registration() {
    let app = TestApp::spawn().await;
    let response = accepted(
        &app,
        json!({
            "client_name": "ChatGPT",
            "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "offline_access"
        }),
    )
    .await;
    assert_eq!(response["client_name"], "ChatGPT");
    assert_eq!(response["redirect_uris"], json!(["https://chatgpt.com/connector_platform_oauth_redirect"]));
    assert_eq!(response["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(response["response_types"], json!(["code"]));
    assert_eq!(response["scope"], "offline_access");

    let client_id = response["client_id"].as_str().unwrap().to_string();
    let stored = app.with_db(move |c| Ok(clients::find(c, &client_id)?)).await.unwrap();
    assert_eq!(stored.source, clients::Source::Dcr);
    assert_eq!(stored.status, clients::Status::Active);
    assert_eq!(stored.last_seen_at, None);
    assert_eq!(stored.registrant_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(stored.created_at, crate::common::T0);
    let rows = audit_rows(&app, "client.dcr.registered").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].client_id.as_deref(), Some(stored.client_id.as_str()));
    assert_eq!(rows[0].actor, "anonymous");
    assert_eq!(rows[0].address.as_deref(), Some("127.0.0.1"));
}

#[actix_web::test]
async fn claude_asking_for_client_secret_post_is_registered_public() {
    let app = TestApp::spawn().await;
    let response = accepted(
        &app,
        json!({
            "client_name": "Claude",
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "claudeai"
        }),
    )
    .await;
    assert_eq!(response["token_endpoint_auth_method"], "none");
    // "claudeai" is not a supported scope: dropped, and the field omitted.
    assert!(response.get("scope").is_none(), "{response}");
}

#[actix_web::test]
async fn auth_method_mismatch_reject_refuses_confidential_requests() {
    let app = TestApp::spawn_with(|s| s.dcr.auth_method_mismatch = gatehouse::config::AuthMethodMismatch::Reject).await;
    let (status, body) = register(
        &app,
        &json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_client_metadata");
    assert_eq!(client_count(&app).await, 0);
}

#[actix_web::test]
async fn vscode_with_four_redirect_uris() {
    let app = TestApp::spawn().await;
    let uris = json!([
        "https://vscode.dev/redirect",
        "https://insiders.vscode.dev/redirect",
        "http://127.0.0.1/",
        "http://127.0.0.1:33418/"
    ]);
    let response = accepted(
        &app,
        json!({"client_name": "Visual Studio Code", "redirect_uris": uris, "grant_types": ["authorization_code", "refresh_token"],
               "response_types": ["code"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(response["redirect_uris"], uris);
}

#[actix_web::test]
async fn cursor_scheme_only_when_listed() {
    let body = json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"]});
    let refused = TestApp::spawn().await;
    let (status, error) = register(&refused, &body).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_redirect_uri");
    assert_eq!(client_count(&refused).await, 0);

    let listed = TestApp::spawn_with(|s| s.dcr.private_use_schemes = vec!["cursor".into()]).await;
    let response = accepted(&listed, body).await;
    assert_eq!(response["redirect_uris"], json!(["cursor://anysphere.cursor-mcp/oauth/callback"]));
}

#[actix_web::test]
async fn mcp_inspector_registration_with_charset() {
    let app = TestApp::spawn().await;
    let body = json!({
        "redirect_uris": ["http://localhost:6274/oauth/callback/debug", "http://localhost:6274/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "MCP Inspector",
        "client_uri": "https://github.com/modelcontextprotocol/inspector",
        "scope": ""
    });
    let response = app
        .http
        .post(app.url("/register"))
        .header("content-type", "application/json; charset=utf-8")
        .header("origin", "http://localhost:6274")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let json: Value = response.json().await.unwrap();
    assert_no_nulls(&json);
    assert_eq!(json["client_uri"], "https://github.com/modelcontextprotocol/inspector");
    assert!(json.get("scope").is_none());
}

#[actix_web::test]
async fn duplicates_collapsed_unknown_fields_ignored_nulls_absent() {
    let app = TestApp::spawn().await;
    let response = accepted(
        &app,
        json!({
            "redirect_uris": ["https://a.example/cb", "https://a.example/cb", "https://b.example/cb"],
            "grant_types": ["authorization_code", "authorization_code"],
            "client_name": null,
            "logo_uri": null,
            "jwks_uri": "https://a.example/jwks",
            "x-vendor": {"nested": true}
        }),
    )
    .await;
    assert_eq!(response["redirect_uris"], json!(["https://a.example/cb", "https://b.example/cb"]));
    assert_eq!(response["grant_types"], json!(["authorization_code"]));
    assert_eq!(response["client_name"], "Registered client");
    assert!(
        response.get("jwks_uri").is_none() && response.get("x-vendor").is_none() && response.get("logo_uri").is_none()
    );
}

#[actix_web::test]
async fn cors_preflight_on_register() {
    let app = TestApp::spawn().await;
    let response = app.preflight("/register", "POST", "content-type").await;
    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[actix_web::test]
async fn registration_is_404_while_disabled_and_follows_the_live_setting() {
    let app = TestApp::spawn_with(|s| s.dcr.enabled = false).await;
    let body = json!({"redirect_uris": ["https://a.example/cb"]});
    assert_eq!(app.post_json("/register", &body).await.status(), 404);
    app.update_settings(|s| s.dcr.enabled = true);
    assert_eq!(app.post_json("/register", &body).await.status(), 201);
}

/// Sends raw bytes with a content type; returns status and JSON body.
async fn send_raw(app: &TestApp, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response =
        app.http.post(app.url("/register")).header("content-type", content_type).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.expect("an OAuth error body"))
}

async fn assert_refused_and_audited(
    app: &TestApp,
    status: u16,
    body: &Value,
    expected_status: u16,
    code: &str,
    case: &str,
) {
    assert_eq!(status, expected_status, "{case}: {body}");
    assert_eq!(body["error"], code, "{case}: {body}");
    let description = body["error_description"].as_str().unwrap_or("");
    assert!(!description.is_empty(), "{case}: no description");
    assert_eq!(client_count(app).await, 0, "{case}: a client row was written");
    let rows = audit_rows(app, "client.dcr.rejected").await;
    let newest = rows.first().unwrap_or_else(|| panic!("{case}: no client.dcr.rejected row"));
    let detail: Value = serde_json::from_str(&newest.detail).unwrap();
    assert_eq!(detail["error"], code, "{case}");
}

#[actix_web::test]
async fn malformed_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("malformed JSON", "application/json", b"{\"redirect_uris\": [".to_vec(), 400),
        ("not an object", "application/json", b"[\"https://a.example/cb\"]".to_vec(), 400),
        ("a string", "application/json", b"\"hello\"".to_vec(), 400),
        ("empty body", "application/json", Vec::new(), 400),
        ("invalid UTF-8", "application/json", b"{\"client_name\": \"\xff\xfe\"}".to_vec(), 400),
        (
            "redirect_uris as a string",
            "application/json",
            br#"{"redirect_uris": "https://a.example/cb"}"#.to_vec(),
            400,
        ),
        (
            "a number in redirect_uris",
            "application/json",
            br#"{"redirect_uris": ["https://a.example/cb", 7]}"#.to_vec(),
            400,
        ),
        ("form content type", "application/x-www-form-urlencoded", b"redirect_uris=https://a.example/cb".to_vec(), 415),
        ("text/plain", "text/plain", br#"{"redirect_uris": ["https://a.example/cb"]}"#.to_vec(), 415),
    ];
    let total = cases.len();
    for (case, content_type, body, expected) in cases {
        let (status, json) = send_raw(&app, content_type, body).await;
        assert_refused_and_audited(&app, status, &json, expected, "invalid_client_metadata", case).await;
    }
    assert_eq!(audit_rows(&app, "client.dcr.rejected").await.len(), total);
}

#[actix_web::test]
async fn oversized_body_is_413_in_oauth_shape() {
    let app = TestApp::spawn_with(|s| s.server.max_body_bytes = 1024).await;
    let big = json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(2000)}).to_string();
    let (status, json) = send_raw(&app, "application/json", big.into_bytes()).await;
    assert_refused_and_audited(&app, status, &json, 413, "invalid_client_metadata", "oversized").await;
}

#[actix_web::test]
async fn every_rule_refusal_has_its_code_an_audit_row_and_no_client() {
    // `cursor` listed, so that `cursor:` is refused for having nothing after the scheme.
    let app = TestApp::spawn_with(|s| {
        s.dcr.max_redirect_uris = 3;
        s.dcr.private_use_schemes = vec!["cursor".into()];
    })
    .await;
    let long = "x".repeat(10_000);
    let bidi = "Safe\u{202E}nosrep";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "10,000-character client_name",
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": long}),
            "invalid_client_metadata",
        ),
        (
            "10,000-character redirect URI",
            json!({"redirect_uris": [format!("https://a.example/{long}")]}),
            "invalid_redirect_uri",
        ),
        (
            "10,000-character software_id",
            json!({"redirect_uris": ["https://a.example/cb"], "software_id": long}),
            "invalid_client_metadata",
        ),
        (
            "too many redirect URIs",
            json!({"redirect_uris": ["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"]}),
            "invalid_redirect_uri",
        ),
        ("no redirect URIs", json!({"client_name": "x"}), "invalid_redirect_uri"),
        ("ftp", json!({"redirect_uris": ["ftp://localhost/cb"]}), "invalid_redirect_uri"),
        ("http localhost.evil.com", json!({"redirect_uris": ["http://localhost.evil.com/cb"]}), "invalid_redirect_uri"),
        ("nip.io", json!({"redirect_uris": ["http://127.0.0.1.nip.io/cb"]}), "invalid_redirect_uri"),
        ("hex loopback", json!({"redirect_uris": ["http://0x7f.1/cb"]}), "invalid_redirect_uri"),
        ("upper case", json!({"redirect_uris": ["HTTPS://EXAMPLE.COM/cb"]}), "invalid_redirect_uri"),
        ("fragment", json!({"redirect_uris": ["https://example.com/cb#frag"]}), "invalid_redirect_uri"),
        ("empty fragment", json!({"redirect_uris": ["https://example.com/cb?x=1#"]}), "invalid_redirect_uri"),
        (
            "header injection",
            json!({"redirect_uris": ["https://example.com/\r\nSet-Cookie:x"]}),
            "invalid_redirect_uri",
        ),
        ("user-info", json!({"redirect_uris": ["https://user:pw@example.com/cb"]}), "invalid_redirect_uri"),
        ("javascript", json!({"redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
        ("cursor: alone", json!({"redirect_uris": ["cursor:"]}), "invalid_redirect_uri"),
        ("plain http", json!({"redirect_uris": ["http://example.com/cb"]}), "invalid_redirect_uri"),
        (
            "client_secret",
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret": "mine"}),
            "invalid_client_metadata",
        ),
        (
            "client_secret_expires_at",
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret_expires_at": 0}),
            "invalid_client_metadata",
        ),
        (
            "implicit",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            "refresh alone",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
            "invalid_client_metadata",
        ),
        (
            "response type token",
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            "bidi override",
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": bidi}),
            "invalid_client_metadata",
        ),
        (
            "application_type",
            json!({"redirect_uris": ["https://a.example/cb"], "application_type": "desktop"}),
            "invalid_client_metadata",
        ),
        (
            "logo over http",
            json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "http://a.example/logo.png"}),
            "invalid_client_metadata",
        ),
        (
            "eleven contacts",
            json!({"redirect_uris": ["https://a.example/cb"], "contacts": vec!["a@example.com"; 11]}),
            "invalid_client_metadata",
        ),
        (
            "wrong type client_name",
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": 42}),
            "invalid_client_metadata",
        ),
    ];
    let total = cases.len();
    for (case, body, code) in cases {
        let (status, json) = register(&app, &body).await;
        assert_refused_and_audited(&app, status, &json, 400, code, case).await;
        if code == "invalid_redirect_uri" && case.contains("upper") {
            assert!(json["error_description"].as_str().unwrap().contains("https://example.com/cb"), "{json}");
        }
        if case == "cursor: alone" {
            assert!(json["error_description"].as_str().unwrap().contains("nothing after the scheme"), "{json}");
        }
    }
    let rows = audit_rows(&app, "client.dcr.rejected").await;
    assert_eq!(rows.len(), total);
    // Submitted values are recorded truncated, and never a client-chosen secret.
    for row in &rows {
        assert!(row.detail.len() < 4000, "audit detail too large: {} bytes", row.detail.len());
        assert!(!row.detail.contains("\"mine\""), "secret recorded: {}", row.detail);
    }
    // A refused redirect URI is fine over https: `https://localhost.evil.com/cb` is accepted.
    accepted(&app, json!({"redirect_uris": ["https://localhost.evil.com/cb"]})).await;
}

#[actix_web::test]
async fn metrics_count_registrations_by_outcome() {
    let app = TestApp::spawn_with(|s| s.admin.token = crate::common::ADMIN_TOKEN.into()).await;
    accepted(&app, json!({"redirect_uris": ["https://a.example/cb"]})).await;
    register(&app, &json!({"redirect_uris": ["http://example.com/cb"]})).await;
    let text = app.metrics().await;
    assert!(text.contains(r#"gatehouse_dcr_registrations_total{error="",outcome="registered"} 1"#), "{text}");
    assert!(
        text.contains(r#"gatehouse_dcr_registrations_total{error="invalid_redirect_uri",outcome="rejected"} 1"#),
        "{text}"
    );
}
