//! Registration policy over HTTP: `[dcr.policy]` rules, the webhook against a real local
//! server, and the compatibility profiles — each denial with its reason in the response and in
//! the `client.dcr.rejected` row.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use gatehouse::config::{Compatibility, WebhookOnError, Word};
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::register::{audit_rows, client_count};

async fn register(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post_json("/register", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn uris(list: &[&str]) -> Value {
    json!({"client_name": "Some app", "redirect_uris": list})
}

/// Refused with `code`, the reason in the response and in the newest rejected row.
async fn assert_denied(app: &TestApp, body: Value, code: &str, reason_part: &str) {
    let (status, response) = register(app, body.clone()).await;
    assert_eq!(status, 400, "{body}: {response}");
    assert_eq!(response["error"], code, "{body}: {response}");
    let description = response["error_description"].as_str().unwrap();
    assert!(description.contains(reason_part), "{body}: {description:?} should mention {reason_part:?}");
    let rows = audit_rows(app, "client.dcr.rejected").await;
    assert!(
        rows[0].detail.contains(&reason_part.replace('"', "\\\"")),
        "audit row carries the reason: {}",
        rows[0].detail
    );
}

#[actix_web::test]
async fn redirect_host_allow_and_deny_lists() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.policy.redirect_hosts_allow = vec!["chatgpt.com".into(), "*.example.com".into()];
        s.dcr.policy.redirect_hosts_deny = vec!["blocked.example.com".into()];
    })
    .await;
    for ok in ["https://chatgpt.com/cb", "https://app.example.com/cb"] {
        assert_eq!(register(&app, uris(&[ok])).await.0, 201, "{ok}");
    }
    for bad in [
        "https://chatgpt.com.evil.net/cb",
        "https://evilchatgpt.com/cb",
        "https://evil.net/?chatgpt.com",
        "https://example.com/cb",
        "https://xn--chtgpt-8nf.com/cb",
    ] {
        assert_denied(&app, uris(&[bad]), "invalid_client_metadata", "is not on an allowed host").await;
    }
    // Refused earlier, by the built-in rules: user-info and non-ASCII look-alikes.
    assert_eq!(register(&app, uris(&["https://chatgpt.com@evil.net/cb"])).await.1["error"], "invalid_redirect_uri");
    assert_eq!(register(&app, uris(&["https://chаtgpt.com/cb"])).await.1["error"], "invalid_redirect_uri");
    assert_denied(&app, uris(&["https://blocked.example.com/cb"]), "invalid_client_metadata", "blocked.example.com")
        .await;
}

#[actix_web::test]
async fn upper_case_and_trailing_dot_are_the_same_host() {
    let allow = TestApp::spawn_with(|s| s.dcr.policy.redirect_hosts_allow = vec!["chatgpt.com.".into()]).await;
    // The raw-string rules refuse non-canonical URIs; the trailing dot survives them.
    assert_eq!(register(&allow, uris(&["https://chatgpt.com./cb"])).await.0, 201);
    let deny = TestApp::spawn_with(|s| s.dcr.policy.redirect_hosts_deny = vec!["CHATGPT.COM".into()]).await;
    assert_denied(&deny, uris(&["https://chatgpt.com./cb"]), "invalid_client_metadata", "chatgpt.com").await;
    assert_denied(&deny, uris(&["https://chatgpt.com/cb"]), "invalid_client_metadata", "chatgpt.com").await;
}

#[actix_web::test]
async fn registrant_networks() {
    let inside = TestApp::spawn_with(|s| s.dcr.policy.registrant_networks_allow = vec!["127.0.0.0/8".into()]).await;
    assert_eq!(register(&inside, uris(&["https://a.example/cb"])).await.0, 201);
    let outside =
        TestApp::spawn_with(|s| s.dcr.policy.registrant_networks_allow = vec!["127.0.0.2/32".into(), "::2/128".into()])
            .await;
    assert_denied(
        &outside,
        uris(&["https://a.example/cb"]),
        "invalid_client_metadata",
        "not accepted from this network",
    )
    .await;
    // Behind a trusted proxy: an IPv6 registrant just outside the allowed /64.
    let v6 = TestApp::spawn_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.dcr.policy.registrant_networks_allow = vec!["2001:db8:1:2::/64".into()];
    })
    .await;
    let post = |xff: &'static str| {
        v6.http
            .post(v6.url("/register"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", xff)
            .body(uris(&["https://a.example/cb"]).to_string())
            .send()
    };
    assert_eq!(post("2001:db8:1:2::99").await.unwrap().status(), 201);
    assert_eq!(post("2001:db8:1:3::1").await.unwrap().status(), 400);
}

#[actix_web::test]
async fn software_id_and_client_name_rules() {
    let app = TestApp::spawn_with(|s| {
        s.dcr.policy.require_software_id = true;
        s.dcr.policy.software_ids_allow = vec!["com.example.agent".into()];
        s.dcr.policy.client_name_deny = vec!["paypal".into()];
    })
    .await;
    assert_denied(&app, uris(&["https://a.example/cb"]), "invalid_client_metadata", "software_id is required").await;
    assert_denied(
        &app,
        json!({"redirect_uris": ["https://a.example/cb"], "software_id": "x"}),
        "invalid_client_metadata",
        "\"x\" is not accepted",
    )
    .await;
    assert_denied(
        &app,
        json!({"redirect_uris": ["https://a.example/cb"], "software_id": "com.example.agent", "client_name": "PayPal Login"}),
        "invalid_client_metadata",
        "client_name must not contain",
    )
    .await;
    let (status, _) =
        register(&app, json!({"redirect_uris": ["https://a.example/cb"], "software_id": "com.example.agent"})).await;
    assert_eq!(status, 201);
}

/// A local policy service whose behaviour each test picks; counts its calls.
struct PolicyServer {
    url: String,
    calls: Arc<AtomicUsize>,
    last: Arc<std::sync::Mutex<Value>>,
}

async fn policy_server(answer: &'static str) -> PolicyServer {
    let calls = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(Value::Null));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/decide", listener.local_addr().unwrap());
    let (c, l) = (calls.clone(), last.clone());
    let server = HttpServer::new(move || {
        let (c, l) = (c.clone(), l.clone());
        App::new().route(
            "/decide",
            web::post().to(move |body: web::Json<Value>| {
                let (c, l) = (c.clone(), l.clone());
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    *l.lock().unwrap() = body.into_inner();
                    match answer {
                        "allow" => HttpResponse::Ok().json(json!({"allow": true})),
                        "deny-reason" => HttpResponse::Ok().json(json!({"allow": false, "reason": "unknown vendor"})),
                        "deny-bare" => HttpResponse::Ok().json(json!({"allow": false})),
                        "deny-controls" => {
                            HttpResponse::Ok().json(json!({"allow": false, "reason": "unknown\u{0} \u{202e}vendor\n"}))
                        }
                        "yes" => HttpResponse::Ok().json(json!({"allow": "yes"})),
                        "500" => HttpResponse::InternalServerError().json(json!({"allow": true})),
                        "text" => HttpResponse::Ok().content_type("text/plain").body("allow"),
                        "huge" => HttpResponse::Ok()
                            .body(format!("{{\"allow\": true, \"pad\": \"{}\"}}", "x".repeat(100_000))),
                        "slow" => {
                            // Far past the webhook timeout, however loaded the machine.
                            actix_web::rt::time::sleep(Duration::from_secs(20)).await;
                            HttpResponse::Ok().json(json!({"allow": true}))
                        }
                        _ => unreachable!(),
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    PolicyServer { url, calls, last }
}

/// The compatibility setting naming these profiles.
fn profiles(names: &[&str]) -> Vec<Compatibility> {
    names.iter().map(|name| Compatibility::parse(name).expect("a known profile")).collect()
}

async fn app_with_webhook(url: &str, on_error: &str) -> TestApp {
    let (url, on_error) = (url.to_string(), on_error.to_string());
    TestApp::spawn_with(move |s| {
        s.dcr.policy.webhook_url = url;
        // Long enough for a prompt answer on a busy machine; "slow" takes far longer.
        s.dcr.policy.webhook_timeout_ms = 2500;
        s.dcr.policy.webhook_on_error = WebhookOnError::parse(&on_error).expect("deny or allow");
        s.dcr.policy.redirect_hosts_deny = vec!["denied.example".into()];
    })
    .await
}

#[actix_web::test]
async fn webhook_allow_and_deny() {
    let allow = policy_server("allow").await;
    let app = app_with_webhook(&allow.url, "deny").await;
    let (status, _) =
        register(&app, json!({"client_name": "Agent", "redirect_uris": ["https://a.example/cb"], "software_id": "sw"}))
            .await;
    assert_eq!(status, 201);
    assert_eq!(allow.calls.load(Ordering::SeqCst), 1);
    let context = allow.last.lock().unwrap().clone();
    assert_eq!(context["client_name"], "Agent");
    assert_eq!(context["redirect_uris"], json!(["https://a.example/cb"]));
    assert_eq!(context["token_endpoint_auth_method"], "none");
    assert_eq!(context["registrant_ip"], "127.0.0.1");
    assert_eq!(context["software_id"], "sw");
    let registered = audit_rows(&app, "client.dcr.registered").await;
    assert!(
        registered[0].detail.contains("\"decision\":\"allow\"") && registered[0].detail.contains("latency_ms"),
        "{}",
        registered[0].detail
    );
    // Refused by an earlier rule: the webhook is never asked.
    assert_eq!(register(&app, uris(&["https://denied.example/cb"])).await.0, 400);
    assert_eq!(register(&app, uris(&["http://example.com/cb"])).await.0, 400);
    assert_eq!(allow.calls.load(Ordering::SeqCst), 1);

    let deny = policy_server("deny-reason").await;
    let app = app_with_webhook(&deny.url, "allow").await;
    assert_denied(&app, uris(&["https://a.example/cb"]), "invalid_client_metadata", "unknown vendor").await;
    assert_eq!(client_count(&app).await, 0);
    let bare = policy_server("deny-bare").await;
    let app = app_with_webhook(&bare.url, "allow").await;
    assert_denied(&app, uris(&["https://a.example/cb"]), "invalid_client_metadata", "rejected by policy").await;
}

/// A webhook's answer is stored and repeated as sent, so it carries no control or bidi character
/// (U+0000 above all, which PostgreSQL text cannot hold) into the description or the audit row.
#[actix_web::test]
async fn a_webhook_reason_is_quoted_without_control_characters() {
    let server = policy_server("deny-controls").await;
    let app = app_with_webhook(&server.url, "allow").await;
    let (status, body) = register(&app, uris(&["https://a.example/cb"])).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_client_metadata");
    assert_eq!(body["error_description"], "unknown vendor");
    let row = &audit_rows(&app, "client.dcr.rejected").await[0];
    assert!(!row.detail.contains('\0') && !row.detail.contains("\\u0000"), "{}", row.detail);
    assert!(row.detail.contains("\"reason\":\"unknown vendor\""), "{}", row.detail);
    assert_eq!(client_count(&app).await, 0);
}

#[actix_web::test]
async fn webhook_errors_follow_webhook_on_error() {
    for answer in ["slow", "500", "text", "huge", "yes"] {
        let server = policy_server(answer).await;
        let denying = app_with_webhook(&server.url, "deny").await;
        assert_denied(&denying, uris(&["https://a.example/cb"]), "invalid_client_metadata", "policy service").await;
        let row = &audit_rows(&denying, "client.dcr.rejected").await[0];
        assert!(row.detail.contains("error_denied"), "{answer}: {}", row.detail);
        let allowing = app_with_webhook(&server.url, "allow").await;
        assert_eq!(register(&allowing, uris(&["https://a.example/cb"])).await.0, 201, "{answer}");
        assert!(audit_rows(&allowing, "client.dcr.registered").await[0].detail.contains("error_allowed"), "{answer}");
    }
    // Nothing listening at all.
    let down = app_with_webhook("http://127.0.0.1:1/decide", "deny").await;
    assert_denied(&down, uris(&["https://a.example/cb"]), "invalid_client_metadata", "policy service").await;
}

#[actix_web::test]
async fn profiles_accept_their_clients_and_refuse_look_alikes() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "chatgpt",
            json!({"client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"], "scope": "offline_access"}),
            uris(&["https://chatgpt.com/evil"]),
        ),
        (
            "claude",
            json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "client_secret_post"}),
            uris(&["https://claude.ai.evil.net/api/mcp/auth_callback"]),
        ),
        (
            "vscode",
            json!({"client_name": "Visual Studio Code", "redirect_uris": ["https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"]}),
            uris(&["http://localhost:33418/"]),
        ),
        (
            "cursor",
            json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"]}),
            uris(&["cursor://anysphere.cursor-mcp/steal"]),
        ),
        (
            "mcp-inspector",
            json!({"client_name": "MCP Inspector", "redirect_uris": ["http://localhost:6274/oauth/callback"]}),
            uris(&["http://127.0.0.1:6274/oauth/callback"]),
        ),
    ];
    for (profile, real, look_alike) in cases {
        let app = TestApp::spawn_with(|s| {
            s.dcr.compatibility = profiles(&[profile]);
            s.scopes.supported = vec![];
        })
        .await;
        let (status, body) = register(&app, real.clone()).await;
        assert_eq!(status, 201, "{profile}: {body}");
        if profile == "chatgpt" {
            assert_eq!(body["scope"], "offline_access", "the chatgpt profile adds offline_access");
        }
        let (status, body) = register(&app, look_alike).await;
        assert_eq!(status, 400, "{profile}");
        assert!(body["error"] == "invalid_redirect_uri", "{profile}: {body}");
    }
    // A `{id}` template takes exactly one segment.
    let app = TestApp::spawn_with(|s| s.dcr.compatibility = profiles(&["chatgpt"])).await;
    assert_eq!(register(&app, uris(&["https://chatgpt.com/connector/oauth/abc"])).await.0, 201);
    assert_eq!(register(&app, uris(&["https://chatgpt.com/connector/oauth/abc/def"])).await.0, 400);
}

#[actix_web::test]
async fn profiles_never_enable_registration_and_restrict_as_written() {
    let off = TestApp::spawn_with(|s| {
        s.dcr.enabled = false;
        s.dcr.compatibility = profiles(&["claude"]);
    })
    .await;
    assert_eq!(off.post_json("/register", &uris(&["https://claude.ai/api/mcp/auth_callback"])).await.status(), 404);

    let claude = TestApp::spawn_with(|s| s.dcr.compatibility = profiles(&["claude"])).await;
    assert_eq!(register(&claude, uris(&["https://app.example.com/cb"])).await.0, 400);

    // "Only ChatGPT and Claude may register."
    let only = TestApp::spawn_with(|s| s.dcr.compatibility = profiles(&["chatgpt", "claude"])).await;
    assert_eq!(register(&only, uris(&["https://chatgpt.com/connector_platform_oauth_redirect"])).await.0, 201);
    assert_eq!(register(&only, uris(&["https://claude.com/api/mcp/auth_callback"])).await.0, 201);
    assert_eq!(register(&only, uris(&["http://localhost:3000/cb"])).await.0, 400);
    assert_eq!(register(&only, uris(&["https://vscode.dev/redirect"])).await.0, 400);

    // The switches still win: loopback off refuses even a profile's loopback kind.
    let no_loopback = TestApp::spawn_with(|s| {
        s.dcr.compatibility = profiles(&["mcp-inspector"]);
        s.dcr.allow_loopback_redirect_uris = false;
    })
    .await;
    assert_eq!(register(&no_loopback, uris(&["http://localhost:6274/oauth/callback"])).await.0, 400);
    // "Make Cursor work": the profile adds the scheme.
    let cursor = TestApp::spawn_with(|s| s.dcr.compatibility = profiles(&["cursor"])).await;
    assert_eq!(register(&cursor, uris(&["cursor://anysphere.cursor-mcp/oauth/callback"])).await.0, 201);
}

#[actix_web::test]
async fn a_policy_edit_in_the_file_takes_effect_without_a_restart() {
    let app = TestApp::spawn().await;
    assert_eq!(register(&app, uris(&["https://a.example/cb"])).await.0, 201);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.toml");
    let db = app.settings().database.url.clone();
    std::fs::write(
        &path,
        format!(
            "issuer = {:?}\n[database]\nurl = {db:?}\npool_size = 4\nconnect_timeout_ms = 500\n[dcr]\nenabled = true\nmax_registrations_per_window = 10000\n[dcr.policy]\nredirect_hosts_deny = [\"b.example\"]\n",
            app.issuer
        ),
    )
    .unwrap();
    let outcome = gatehouse::reload::reload(&app.state, &gatehouse::config::ConfigSource::new(Some(path))).await;
    assert!(matches!(outcome, gatehouse::reload::ReloadOutcome::Applied { .. }), "{outcome:?}");
    assert_denied(&app, uris(&["https://b.example/cb"]), "invalid_client_metadata", "b.example").await;
}
