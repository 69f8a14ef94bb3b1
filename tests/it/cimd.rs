//! Client ID Metadata Documents end to end, against a local https server with a CA made in the
//! test (trusted through `extra_root_certificates`) and `client.test` pinned to 127.0.0.1 — no
//! packet to anything but loopback.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::common::flow::*;
use crate::common::tls_server::{Route, TestPki, TlsServer};
use crate::common::TestApp;
use crate::register::{audit_rows, client_count};
use gatehouse::store::clients;

pub(crate) const HOST: &str = "client.test";

pub(crate) struct Cimd {
    pub(crate) app: TestApp,
    pub(crate) server: TlsServer,
    _ca: tempfile::NamedTempFile,
}

impl Cimd {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.server.port())
    }

    pub(crate) fn serve(&self, path: &str, document: Value) {
        self.server.set_route(path, Route::json(&document.to_string()));
    }

    /// A document for `path` naming itself, with these redirect URIs.
    pub(crate) fn document(&self, path: &str, redirect_uris: &[&str]) -> Value {
        json!({"client_id": self.url(path), "client_name": "Doc Client", "redirect_uris": redirect_uris})
    }

    pub(crate) async fn authorize(
        &self,
        b: &reqwest::Client,
        client_id: &str,
        redirect_uri: &str,
        p: &Pkce,
    ) -> reqwest::Response {
        let query = authorize_query(client_id, redirect_uri, &p.challenge, &[]);
        self.app.get_with(b, &format!("{}/authorize?{query}", self.app.issuer)).await
    }

    pub(crate) fn fetches(&self, path: &str) -> usize {
        self.server.requests().iter().filter(|r| r.path == path).count()
    }
}

pub(crate) async fn setup_with(adjust: impl FnOnce(&mut gatehouse::config::Settings) + Send + 'static) -> Cimd {
    let pki = TestPki::new(HOST);
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pki.ca_pem).unwrap();
    let ca_path = ca.path().to_str().unwrap().to_string();
    let server = TlsServer::start(&pki, HashMap::new()).await;
    let app = TestApp::spawn_with(move |s| {
        s.cimd.allow_private_addresses = true;
        s.cimd.extra_root_certificates = vec![ca_path];
        // Room for a local fetch on a busy machine; the stalling route takes far longer.
        s.cimd.http_timeout_ms = 3000;
        s.cimd.max_document_bytes = 4096;
        adjust(s);
    })
    .await;
    app.state.cimd.pin_host(HOST, vec!["127.0.0.1".parse().unwrap()]);
    create_user(&app, "alice@example.com").await;
    Cimd { app, server, _ca: ca }
}

async fn setup() -> Cimd {
    setup_with(|_| {}).await
}

async fn page_text(response: reqwest::Response, case: &str) -> String {
    assert_eq!(response.status(), 400, "{case}: expected an error page, got {:?}", response.headers().get("location"));
    response.text().await.unwrap()
}

#[actix_web::test]
async fn a_document_client_authorizes_and_gets_tokens_with_no_registration() {
    let c = setup().await;
    let redirect = "https://app.example/callback";
    c.serve("/client.json", c.document("/client.json", &[redirect]));
    let client_id = c.url("/client.json");
    let b = browser();
    let p = pkce();

    // Before consent nothing is stored.
    let start = c.authorize(&b, &client_id, redirect, &p).await;
    assert_eq!(start.status(), 303);
    assert_eq!(client_count(&c.app).await, 0);
    let login = c.app.get_with(&b, &location(&start)).await.text().await.unwrap();
    assert!(login.contains("Doc Client"));
    assert_eq!(client_count(&c.app).await, 0, "unauthenticated requests cannot fill the tables");

    let query = authorize_query(&client_id, redirect, &p.challenge, &[]);
    let consent = c.app.sign_in_to_consent(&b, &query, "alice@example.com").await;
    assert!(consent.contains(HOST), "the document's host is shown: {consent}");
    assert!(consent.contains("app.example"), "and the redirect host");
    let stored = {
        let id = client_id.clone();
        c.app.with_db(move |conn| Ok(clients::find(conn, &id)?)).await.expect("stored at consent")
    };
    assert_eq!(stored.source, clients::Source::Cimd);
    assert!(stored.cimd_fetched_at.is_some() && stored.cimd_expires_at.is_some());
    assert_eq!(audit_rows(&c.app, "client.cimd.discovered").await.len(), 1);

    let decided = c.app.decide(&b, &consent, "allow").await;
    let code = query_param(&location(&decided), "code").unwrap();
    let (status, tokens) = c.app.exchange_code(&client_id, redirect, &code, &p.verifier).await;
    assert_eq!(status, 200);
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    assert_eq!(c.fetches("/client.json"), 1, "the fresh document was fetched once");

    // Operators see and control it like any other client.
    let now = c.app.clock_now();
    let listed = c
        .app
        .with_db(move |conn| {
            let request = gatehouse::operator::ClientListRequest { source: Some("cimd".into()), ..Default::default() };
            gatehouse::operator::list_clients(conn, &request, 30, now)
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    assert_eq!(listed.items.len(), 1);
    let id = client_id.clone();
    c.app
        .with_db(move |conn| {
            gatehouse::operator::disable_client(conn, &id, Some("test"), gatehouse::store::audit::Actor::Cli, now)
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    let refused = c.authorize(&browser(), &client_id, redirect, &pkce()).await;
    let text = page_text(refused, "disabled CIMD client").await;
    assert!(text.contains("disabled"), "{text}");
}

#[actix_web::test]
async fn real_client_documents_are_accepted() {
    let c = setup().await;
    let cases = [
        (
            "/chatgpt.json",
            json!({"client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}),
            "https://chatgpt.com/connector_platform_oauth_redirect",
        ),
        (
            "/vscode.json",
            json!({"client_name": "Visual Studio Code", "redirect_uris": ["https://vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}),
            "http://127.0.0.1:40000/",
        ),
        (
            "/claude-code.json",
            json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none"}),
            "http://localhost:51234/callback",
        ),
        (
            "/claude.json",
            json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]}),
            "https://claude.ai/api/mcp/auth_callback",
        ),
    ];
    for (path, mut document, redirect) in cases {
        document["client_id"] = Value::from(c.url(path));
        c.serve(path, document);
        let response = c.authorize(&browser(), &c.url(path), redirect, &pkce()).await;
        assert_eq!(response.status(), 303, "{path}: {}", response.text().await.unwrap());
    }
}

#[actix_web::test]
async fn bad_documents_and_responses_are_error_pages() {
    let c = setup().await;
    let redirect = "https://app.example/callback";
    let doc = |path: &str| c.document(path, &[redirect]);
    let mut mismatch = doc("/mismatch.json");
    mismatch["client_id"] = Value::from(format!("{}/", c.url("/mismatch.json")));
    c.serve("/mismatch.json", mismatch);
    let mut case = doc("/case.json");
    case["client_id"] = Value::from(c.url("/CASE.json"));
    c.serve("/case.json", case);
    c.server.set_route("/text.json", Route::new(200).header("content-type", "text/plain").body(b"{}".to_vec()));
    c.server.set_route("/invalid.json", Route::json("{not json"));
    c.server.set_route("/huge.json", Route::json(&format!("{{\"pad\": \"{}\"}}", "x".repeat(1_000_000))));
    c.server.set_route("/moved.json", Route::new(302).header("location", "https://client.test/elsewhere.json"));
    c.server.set_route("/missing.json", Route::new(404));
    c.server.set_route("/broken.json", Route::new(500));
    c.server.set_route("/stall.json", Route::json("{}").delay(std::time::Duration::from_secs(30)));
    let mut secret = doc("/secret.json");
    secret["token_endpoint_auth_method"] = Value::from("client_secret_basic");
    c.serve("/secret.json", secret);
    c.serve("/other-redirect.json", c.document("/other-redirect.json", &["https://elsewhere.example/cb"]));
    c.serve("/forbidden-redirect.json", c.document("/forbidden-redirect.json", &["http://example.com/cb"]));

    let cases = [
        ("/mismatch.json", "must be exactly"),
        ("/case.json", "must be exactly"),
        ("/text.json", "content type"),
        ("/invalid.json", "not valid JSON"),
        ("/huge.json", "larger than"),
        ("/moved.json", "redirect"),
        ("/missing.json", "404"),
        ("/broken.json", "500"),
        ("/stall.json", "time"),
        ("/secret.json", "public clients only"),
        ("/other-redirect.json", "redirect_uri is not registered"),
        ("/forbidden-redirect.json", "http"),
    ];
    for (path, part) in cases {
        c.app.clock.advance(61); // a fresh per-host fetch budget for each case
        let response = c.authorize(&browser(), &c.url(path), redirect, &pkce()).await;
        let text = page_text(response, path).await;
        assert!(text.to_lowercase().contains(&part.to_lowercase()), "{path}: the page should say {part:?}: {text}");
    }
    assert_eq!(client_count(&c.app).await, 0);
    // The redirect was not followed.
    assert!(c.server.requests().iter().all(|r| r.path != "/elsewhere.json"));
}

/// A document is stored as the client wrote it, so nothing in what is kept may carry a control
/// character (U+0000 above all: PostgreSQL text cannot hold it): such a document is refused;
/// fields that are not kept are dropped unread.
#[actix_web::test]
async fn documents_never_carry_control_characters_into_storage() {
    let c = setup().await;
    let redirect = "https://app.example/callback";
    for (path, field, value) in [
        ("/name.json", "client_name", json!("Doc\u{0}Client")),
        ("/software.json", "software_id", json!("sw\u{0}")),
        ("/contacts.json", "contacts", json!(["ops\u{0}@example.com"])),
        ("/logo.json", "logo_uri", json!("https://app.example/logo\u{0}.png")),
    ] {
        let mut document = c.document(path, &[redirect]);
        document[field] = value;
        c.serve(path, document);
        c.app.clock.advance(61);
        let response = c.authorize(&browser(), &c.url(path), redirect, &pkce()).await;
        let text = page_text(response, path).await;
        assert!(text.contains("not acceptable"), "{path}: {text}");
    }
    assert_eq!(client_count(&c.app).await, 0);
    for row in audit_rows(&c.app, "client.cimd.rejected").await {
        assert!(!row.detail.contains('\0'), "{}", row.detail);
    }

    // An ignored member is never read, so it cannot reach the table.
    let mut document = c.document("/extra.json", &[redirect]);
    document["description"] = json!("line\u{0}one\nline two");
    c.serve("/extra.json", document);
    let client_id = c.url("/extra.json");
    let p = pkce();
    let query = authorize_query(&client_id, redirect, &p.challenge, &[]);
    c.app.sign_in_to_consent(&browser(), &query, "alice@example.com").await;
    let row = stored(&c, &client_id).await;
    // The columns as stored: the name, and the metadata and redirect URIs as JSON text.
    let texts = [
        row.client_name().to_string(),
        serde_json::to_string(&row.metadata).unwrap(),
        serde_json::to_string(row.redirect_uris()).unwrap(),
    ];
    for text in &texts {
        assert!(!text.contains('\0') && !text.contains("\\u0000") && !text.contains("description"), "{text}");
    }
}

#[actix_web::test]
async fn invalid_client_id_urls_are_refused_without_a_request() {
    let c = setup().await;
    let redirect = "https://app.example/callback";
    let port = c.server.port();
    for client_id in [
        format!("http://{HOST}:{port}/client.json"),
        format!("https://{HOST}:{port}/client.json#frag"),
        format!("https://user@{HOST}:{port}/client.json"),
        format!("https://{HOST}:{port}/client.json?x=1"),
        format!("https://{HOST}:{port}/a/../client.json"),
        format!("https://{HOST}:{port}/./client.json"),
    ] {
        let response = c.authorize(&browser(), &client_id, redirect, &pkce()).await;
        page_text(response, &client_id).await;
    }
    assert_eq!(c.server.connections(), 0);
}

#[actix_web::test]
async fn denied_and_untrusted_hosts_are_refused_before_any_request() {
    let denied = setup_with(|s| s.cimd.denied_hosts = vec!["*.test".into()]).await;
    denied.serve("/client.json", denied.document("/client.json", &["https://app.example/cb"]));
    let text = page_text(
        denied.authorize(&browser(), &denied.url("/client.json"), "https://app.example/cb", &pkce()).await,
        "denied",
    )
    .await;
    assert!(text.contains("may not serve"), "{text}");
    assert_eq!(denied.server.connections(), 0);

    let untrusted = setup_with(|s| s.cimd.trusted_hosts = vec!["trusted.example".into()]).await;
    untrusted.serve("/client.json", untrusted.document("/client.json", &["https://app.example/cb"]));
    let text = page_text(
        untrusted.authorize(&browser(), &untrusted.url("/client.json"), "https://app.example/cb", &pkce()).await,
        "untrusted",
    )
    .await;
    assert!(text.contains("not trusted"), "{text}");
    assert_eq!(untrusted.server.connections(), 0);
}

#[actix_web::test]
async fn private_addresses_are_refused_unless_allowed() {
    let c = setup_with(|s| s.cimd.allow_private_addresses = false).await;
    c.serve("/client.json", c.document("/client.json", &["https://app.example/cb"]));
    let text =
        page_text(c.authorize(&browser(), &c.url("/client.json"), "https://app.example/cb", &pkce()).await, "private")
            .await;
    assert!(text.contains("not fetched"), "{text}");
    assert!(!text.contains("127.0.0.1"), "the page does not reveal what the host resolves to");
    assert_eq!(c.server.connections(), 0, "refused before any connection");
    assert_eq!(audit_rows(&c.app, "client.cimd.rejected").await.len(), 1);
}

#[actix_web::test]
async fn concurrent_authorizations_for_one_url_make_one_fetch() {
    let c = setup().await;
    c.server.set_route(
        "/slow.json",
        Route::json(&c.document("/slow.json", &["https://app.example/cb"]).to_string())
            .delay(std::time::Duration::from_millis(300)),
    );
    let client_id = c.url("/slow.json");
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let query = authorize_query(&client_id, "https://app.example/cb", &pkce().challenge, &[]);
            let url = format!("{}/authorize?{query}", c.app.issuer);
            async move { browser().get(url).send().await.unwrap().status().as_u16() }
        })
        .collect();
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(c.fetches("/slow.json"), 1);
}

#[actix_web::test]
async fn a_flood_of_unknown_urls_on_one_host_is_capped() {
    let c = setup().await;
    for n in 0..100 {
        let response =
            c.authorize(&browser(), &c.url(&format!("/flood-{n}.json")), "https://app.example/cb", &pkce()).await;
        assert_eq!(response.status(), 400);
    }
    assert!(
        c.server.requests().len() <= 10,
        "at most 10 fetches a minute per host, made {}",
        c.server.requests().len()
    );
    assert_eq!(client_count(&c.app).await, 0);
    let failures = audit_rows(&c.app, "client.cimd.fetch_failed").await.len()
        + audit_rows(&c.app, "client.cimd.rejected").await.len();
    assert!(failures <= 1, "at most one failure row per host per minute, got {failures}");
}

#[actix_web::test]
async fn cimd_off_means_url_client_ids_are_unknown() {
    let c = setup_with(|s| s.cimd.enabled = false).await;
    c.serve("/client.json", c.document("/client.json", &["https://app.example/cb"]));
    let text =
        page_text(c.authorize(&browser(), &c.url("/client.json"), "https://app.example/cb", &pkce()).await, "off")
            .await;
    assert!(text.contains("not registered"), "{text}");
    assert_eq!(c.server.connections(), 0);
}

// ---- Part 2: HTTP caching, revalidation, stale-if-error, change detection, operator view ----

pub(crate) const REDIRECT: &str = "https://app.example/callback";

/// Run the whole flow for `client_id` and return the token response (the client is stored).
pub(crate) async fn grant(c: &Cimd, client_id: &str) -> Value {
    let b = browser();
    let p = pkce();
    let query = authorize_query(client_id, REDIRECT, &p.challenge, &[]);
    let code = c.app.authorization_code(&b, &query, "alice@example.com").await;
    let (status, tokens) = c.app.exchange_code(client_id, REDIRECT, &code, &p.verifier).await;
    assert_eq!(status, 200);
    tokens
}

async fn refresh(c: &Cimd, client_id: &str, token: &str) -> u16 {
    c.app.refresh_token(client_id, token).await.0
}

async fn stored(c: &Cimd, client_id: &str) -> clients::Client {
    let id = client_id.to_string();
    c.app.with_db(move |conn| Ok(clients::find(conn, &id)?)).await.expect("stored client")
}

async fn document_state(c: &Cimd) -> Value {
    let now = c.app.clock_now();
    let page = c
        .app
        .with_db(move |conn| {
            let request = gatehouse::operator::ClientListRequest { source: Some("cimd".into()), ..Default::default() };
            gatehouse::operator::list_clients(conn, &request, 30, now)
                .map_err(|e| gatehouse::db::DbError::Unavailable(e.to_string()))
        })
        .await;
    serde_json::to_value(&page.items[0]).unwrap()["document"].clone()
}

#[actix_web::test]
async fn freshness_follows_cache_headers_and_a_fresh_document_needs_no_request() {
    let c = setup().await;
    let path = "/cached.json";
    c.server.set_route(
        path,
        Route::json(&c.document(path, &[REDIRECT]).to_string()).header("cache-control", "max-age=120"),
    );
    let client_id = c.url(path);
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    c.app.clock.advance(100);
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    assert_eq!(c.fetches(path), 1, "fresh for 120 s: no request");
    c.app.clock.advance(30);
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    assert_eq!(c.fetches(path), 2, "expired: fetched again");

    // Stored with the expiry its headers gave, clamped to cache_min_secs for no-store.
    let nostore = "/nostore.json";
    c.server.set_route(
        nostore,
        Route::json(&c.document(nostore, &[REDIRECT]).to_string()).header("cache-control", "no-store"),
    );
    grant(&c, &c.url(nostore)).await;
    let row = stored(&c, &c.url(nostore)).await;
    assert_eq!(row.cimd_expires_at.unwrap() - row.cimd_fetched_at.unwrap(), 60);
}

#[actix_web::test]
async fn revalidation_sends_validators_and_a_304_keeps_the_client() {
    let c = setup().await;
    let path = "/etag.json";
    c.server.set_route(
        path,
        Route::json(&c.document(path, &[REDIRECT]).to_string())
            .header("etag", "\"v1\"")
            .header("last-modified", "Wed, 25 Nov 2026 00:00:00 GMT")
            .header("cache-control", "max-age=300"),
    );
    let client_id = c.url(path);
    let tokens = grant(&c, &client_id).await;
    assert_eq!(stored(&c, &client_id).await.cimd_etag.as_deref(), Some("\"v1\""));
    assert_eq!(document_state(&c).await["state"], "fresh");

    c.app.clock.advance(301);
    assert_eq!(document_state(&c).await["state"], "stale");
    c.server.set_route(path, Route::new(304).header("etag", "\"v1\"").header("cache-control", "max-age=600"));
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    let last = c.server.requests().into_iter().rfind(|r| r.path == path).unwrap();
    assert_eq!(last.header("if-none-match"), Some("\"v1\""));
    assert_eq!(last.header("if-modified-since"), Some("Wed, 25 Nov 2026 00:00:00 GMT"));
    let row = stored(&c, &client_id).await;
    assert_eq!(row.cimd_expires_at, Some(c.app.clock_now() + 600), "a 304 refreshes the expiry");
    assert_eq!(refresh(&c, &client_id, tokens["refresh_token"].as_str().unwrap()).await, 200, "grants kept");
    assert!(audit_rows(&c.app, "client.cimd.metadata_changed").await.is_empty());
}

#[actix_web::test]
async fn a_changed_redirect_list_revokes_existing_grants_but_a_new_name_does_not() {
    let c = setup().await;
    let path = "/changing.json";
    c.server
        .set_route(path, Route::json(&c.document(path, &[REDIRECT]).to_string()).header("cache-control", "max-age=60"));
    let client_id = c.url(path);
    let tokens = grant(&c, &client_id).await;

    // A new name only: stored quietly, grants kept.
    let mut renamed = c.document(path, &[REDIRECT]);
    renamed["client_name"] = Value::from("Renamed Client");
    c.server.set_route(path, Route::json(&renamed.to_string()).header("cache-control", "max-age=60"));
    c.app.clock.advance(61);
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    assert_eq!(stored(&c, &client_id).await.client_name(), "Renamed Client");
    let (status, rotated) = c.app.refresh_token(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "a cosmetic change keeps the grant");

    // Another redirect URI: the grant is revoked and the change audited.
    c.server.set_route(path, Route::json(&c.document(path, &[REDIRECT, "https://new.example/cb"]).to_string()));
    c.app.clock.advance(61);
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    assert_eq!(refresh(&c, &client_id, rotated["refresh_token"].as_str().unwrap()).await, 400);
    let rows = audit_rows(&c.app, "client.cimd.metadata_changed").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].detail.contains("redirect_uris"), "{}", rows[0].detail);
}

/// A client that only refreshes is revalidated at the token endpoint once its copy expires: a
/// fresh copy costs no request; an expired one within the stale window is used at once and
/// revalidated in the background, where a security change still revokes the grant; an origin
/// down past the stale window is `invalid_client`.
#[actix_web::test]
async fn the_token_endpoint_revalidates_an_expired_document() {
    let c = setup_with(|s| {
        s.cimd.stale_if_error_secs = 600;
        s.cimd.http_timeout_ms = 10_000;
    })
    .await;
    let path = "/refresher.json";
    c.server
        .set_route(path, Route::json(&c.document(path, &[REDIRECT]).to_string()).header("cache-control", "max-age=60"));
    let client_id = c.url(path);
    let tokens = grant(&c, &client_id).await;
    let (status, fresh) = c.app.refresh_token(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(c.fetches(path), 1, "a fresh copy: no request at /token");

    // The document changes; its server answers slowly, so the refresh is surely served first.
    let changed = c.document(path, &[REDIRECT, "https://new.example/cb"]).to_string();
    c.server.set_route(path, Route::json(&changed).delay(std::time::Duration::from_millis(1500)));
    c.app.clock.advance(61);
    let (status, body) = c.app.refresh_token(&client_id, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "the stored copy is used at once: {body}");
    wait_for_audit(&c, "client.cimd.metadata_changed", 1).await;
    assert_eq!(c.fetches(path), 2, "revalidated once, in the background");
    let (status, body) = c.app.refresh_token(&client_id, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "revoked by the change: {body}");

    // A new grant under the new document; then the origin fails for good.
    c.server.set_route(path, Route::json(&changed));
    let tokens = grant(&c, &client_id).await;
    c.server.set_route(path, Route::new(500));
    // Past the expiry (no caching headers: the default lifetime) and the 600 s stale window.
    c.app.clock.advance(c.app.settings().cimd.cache_default_secs as i64 + 601);
    let (status, body) = c.app.refresh_token(&client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")), "{body}");
}

/// Wait (up to 20 s) until `event` has been audited `count` times.
pub(crate) async fn wait_for_audit(c: &Cimd, event: &str, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while audit_rows(&c.app, event).await.len() < count {
        assert!(std::time::Instant::now() < deadline, "{event} was not audited {count} time(s)");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A reload re-reads `cimd.extra_root_certificates`, even when the settings are unchanged (a
/// certificate replaced under the same path).
#[actix_web::test]
async fn a_reload_rereads_the_trust_roots() {
    let c = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(&config, toml::to_string(&*c.app.settings()).unwrap()).unwrap();
    let source = gatehouse::config::ConfigSource::new(Some(config));
    let ca_path = c.app.settings().cimd.extra_root_certificates[0].clone();
    let before = "/before.json";
    c.serve(before, c.document(before, &[REDIRECT]));
    assert_eq!(c.authorize(&browser(), &c.url(before), REDIRECT, &pkce()).await.status(), 303);

    // The file now holds another CA: after a reload, the server's certificate is not trusted.
    std::fs::write(&ca_path, TestPki::new(HOST).ca_pem).unwrap();
    let outcome = gatehouse::reload::reload(&c.app.state, &source).await;
    assert!(matches!(outcome, gatehouse::reload::ReloadOutcome::Unchanged), "{outcome:?}");
    let path = "/roots.json";
    c.serve(path, c.document(path, &[REDIRECT]));
    let refused = c.authorize(&browser(), &c.url(path), REDIRECT, &pkce()).await;
    assert_eq!(refused.status(), 400);
}

#[actix_web::test]
async fn a_failing_origin_is_tolerated_within_the_stale_window_only() {
    let c = setup_with(|s| s.cimd.stale_if_error_secs = 600).await;
    let path = "/flaky.json";
    c.server
        .set_route(path, Route::json(&c.document(path, &[REDIRECT]).to_string()).header("cache-control", "max-age=60"));
    let client_id = c.url(path);
    grant(&c, &client_id).await;

    c.server.set_route(path, Route::new(500));
    c.app.clock.advance(120); // expired 60 s ago: within the 600 s stale window
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303, "served stale");
    let state = document_state(&c).await;
    assert_eq!(state["state"], "failing", "{state}");
    assert!(state["failed_at"].is_string());

    c.app.clock.advance(600); // now 660 s past expiry
    let response = c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await;
    let text = page_text(response, "beyond the stale window").await;
    assert!(text.contains("500"), "{text}");

    // The origin recovers: fresh again, failure cleared.
    c.server.set_route(path, Route::json(&c.document(path, &[REDIRECT]).to_string()));
    c.app.clock.advance(61); // past the remembered failure
    assert_eq!(c.authorize(&browser(), &client_id, REDIRECT, &pkce()).await.status(), 303);
    assert_eq!(document_state(&c).await["state"], "fresh");
}

#[actix_web::test]
async fn cleanup_removes_unused_document_clients_but_not_those_with_live_grants() {
    let c = setup_with(|s| s.tokens.refresh_token_ttl_secs = 90 * 86_400).await;
    c.serve("/idle.json", c.document("/idle.json", &[REDIRECT]));
    c.serve("/busy.json", c.document("/busy.json", &[REDIRECT]));
    let idle = c.url("/idle.json");
    let busy = c.url("/busy.json");
    let tokens = grant(&c, &idle).await;
    // The idle client's grant is revoked; the busy one keeps a live family.
    let (status, _) = c.app.post_form("/revoke", &[("token", tokens["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(status, 200);
    grant(&c, &busy).await;
    c.app.clock.advance(31 * 86_400);
    let settings = c.app.settings();
    let now = c.app.clock_now();
    let report = c
        .app
        .with_db(move |conn| {
            Ok(gatehouse::cleanup::run(conn, &settings, now, gatehouse::store::audit::Actor::System, false))
        })
        .await;
    let removed: Vec<&str> = report.clients.iter().map(|r| r.client_id.as_str()).collect();
    assert_eq!(removed, vec![idle.as_str()]);
    assert_eq!(report.clients[0].source, clients::Source::Cimd);
    assert_eq!(client_count(&c.app).await, 1);
}
