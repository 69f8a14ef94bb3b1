//! The SSRF-guarded CIMD fetcher against a local HTTPS server on 127.0.0.1.
//! No test sends a packet anywhere but 127.0.0.1: every other address is refused before connecting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::common::tls_server::{Route, TestPki, TlsServer};
use gatehouse::cimd::fetch::{check_client_id_url, looks_like_url, FetchConfig, FetchError, FetchResponse, Fetcher};
use url::Url;

const HOST: &str = "client.test";
const DOC: &str = r#"{"client_id":"https://client.test/client.json","client_name":"Test"}"#;

fn localhost() -> Vec<IpAddr> {
    vec!["127.0.0.1".parse().unwrap()]
}

/// Config for the local server: private addresses allowed, our CA trusted, client.test → 127.0.0.1.
fn local_config(pki: &TestPki) -> FetchConfig {
    FetchConfig {
        allow_private_addresses: true,
        // Generous: a busy machine must not turn a local fetch into a timeout.
        timeout: Duration::from_secs(10),
        max_document_bytes: 1024,
        extra_root_certificates: vec![pki.ca_pem.clone().into_bytes()],
        resolver_overrides: HashMap::from([(HOST.to_string(), localhost())]),
    }
}

/// Config with the production rules (no private addresses), still pinning client.test → 127.0.0.1.
fn strict_config(pki: &TestPki) -> FetchConfig {
    FetchConfig { allow_private_addresses: false, ..local_config(pki) }
}

async fn setup(routes: Vec<(&str, Route)>) -> (TestPki, TlsServer) {
    let pki = TestPki::new(HOST);
    let routes = routes.into_iter().map(|(path, route)| (path.to_string(), route)).collect();
    let server = TlsServer::start(&pki, routes).await;
    (pki, server)
}

fn url(server: &TlsServer, path: &str) -> Url {
    Url::parse(&format!("https://{HOST}:{}{path}", server.port())).unwrap()
}

#[track_caller]
fn failed(result: Result<FetchResponse, FetchError>, needle: &str) {
    match result {
        Err(FetchError::Failed(message)) => {
            assert!(message.contains(needle), "message {message:?} should contain {needle:?}")
        }
        other => panic!("expected Failed containing {needle:?}, got {other:?}"),
    }
}

#[track_caller]
fn refused(result: Result<FetchResponse, FetchError>, needle: &str) {
    match result {
        Err(FetchError::Refused(message)) => {
            assert!(message.contains(needle), "message {message:?} should contain {needle:?}")
        }
        other => panic!("expected Refused containing {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn fetches_a_json_document() {
    let route = Route::json(DOC)
        .header("ETag", "\"v1\"")
        .header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        .header("Cache-Control", "max-age=300")
        .header("Expires", "Wed, 21 Oct 2099 07:28:00 GMT");
    let (pki, server) = setup(vec![("/client.json", route)]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();

    let response = fetcher.fetch(&url(&server, "/client.json"), None, None).await.unwrap();
    assert_eq!(
        response,
        FetchResponse::Document {
            body: DOC.as_bytes().to_vec(),
            etag: Some("\"v1\"".to_string()),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
            cache_control: Some("max-age=300".to_string()),
            expires: Some("Wed, 21 Oct 2099 07:28:00 GMT".to_string()),
        }
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/client.json");
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.header("accept-encoding"), Some("identity"));
    assert_eq!(request.header("user-agent"), Some("gatehouse-cimd"));
    assert_eq!(request.header("host"), Some(format!("{HOST}:{}", server.port()).as_str()));
    assert_eq!(request.header("if-none-match"), None);
    assert_eq!(request.header("if-modified-since"), None);
}

#[tokio::test]
async fn accepts_structured_json_content_types() {
    let route = Route::new(200).header("Content-Type", "application/client-metadata+json; charset=utf-8");
    let (pki, server) = setup(vec![("/c.json", route.body(DOC.as_bytes().to_vec()))]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();
    let response = fetcher.fetch(&url(&server, "/c.json"), None, None).await.unwrap();
    assert!(matches!(response, FetchResponse::Document { body, .. } if body == DOC.as_bytes()));
}

#[tokio::test]
async fn conditional_request_and_not_modified() {
    let since = "Wed, 21 Oct 2015 07:28:00 GMT";
    let first = Route::json(DOC).header("ETag", "\"v1\"").header("Last-Modified", since);
    let (pki, server) = setup(vec![("/client.json", first)]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();

    let FetchResponse::Document { etag, last_modified, .. } =
        fetcher.fetch(&url(&server, "/client.json"), None, None).await.unwrap()
    else {
        panic!("expected a document");
    };
    assert_eq!((etag.as_deref(), last_modified.as_deref()), (Some("\"v1\""), Some(since)));

    // Revalidate with the validators we got; the server now answers 304.
    server.set_route("/client.json", Route::new(304).header("ETag", "\"v1\"").header("Cache-Control", "max-age=60"));
    let response =
        fetcher.fetch(&url(&server, "/client.json"), etag.as_deref(), last_modified.as_deref()).await.unwrap();
    assert_eq!(
        response,
        FetchResponse::NotModified {
            etag: Some("\"v1\"".to_string()),
            last_modified: None,
            cache_control: Some("max-age=60".to_string()),
            expires: None,
        }
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(requests[1].header("if-modified-since"), Some(since));

    // A 304 to a request that was not conditional makes no sense.
    failed(fetcher.fetch(&url(&server, "/client.json"), None, None).await, "304");
}

#[tokio::test]
async fn rejects_non_json_content_types() {
    let html = Route::new(200).header("Content-Type", "text/html").body(b"<html></html>".to_vec());
    let jsonp = Route::new(200).header("Content-Type", "application/jsonp").body(DOC.as_bytes().to_vec());
    let missing = Route::new(200).body(DOC.as_bytes().to_vec());
    let (pki, server) = setup(vec![("/html", html), ("/jsonp", jsonp), ("/missing", missing)]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();
    failed(fetcher.fetch(&url(&server, "/html"), None, None).await, "text/html");
    failed(fetcher.fetch(&url(&server, "/jsonp"), None, None).await, "application/jsonp");
    failed(fetcher.fetch(&url(&server, "/missing"), None, None).await, "content type");
}

#[tokio::test]
async fn rejects_oversized_bodies_promptly() {
    let big = vec![b' '; 1024 * 1024];
    let with_length = Route::json("").body(big.clone());
    let streamed = Route::json("").body(big).without_content_length();
    let exact = Route::json("").body(vec![b' '; 1024]);
    let (pki, server) = setup(vec![("/big", with_length), ("/streamed", streamed), ("/exact", exact)]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();

    for path in ["/big", "/streamed"] {
        let started = Instant::now();
        failed(fetcher.fetch(&url(&server, path), None, None).await, "larger than 1024 bytes");
        // Refused as soon as the limit is passed, long before the 10 s timeout.
        assert!(started.elapsed() < Duration::from_secs(5), "{path} took {:?}", started.elapsed());
    }
    // Exactly at the limit is fine.
    let response = fetcher.fetch(&url(&server, "/exact"), None, None).await.unwrap();
    assert!(matches!(response, FetchResponse::Document { body, .. } if body.len() == 1024));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let moved = Route::new(301).header("Location", "/target.json");
    let found = Route::new(302).header("Location", "/target.json");
    let (pki, server) = setup(vec![("/moved", moved), ("/found", found), ("/target.json", Route::json(DOC))]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();

    failed(fetcher.fetch(&url(&server, "/moved"), None, None).await, "redirect");
    failed(fetcher.fetch(&url(&server, "/found"), None, None).await, "redirect");
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/moved", "/found"]);
}

#[tokio::test]
async fn error_statuses_fail() {
    let (pki, server) = setup(vec![("/error", Route::new(500).body(b"oops".to_vec()))]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();
    failed(fetcher.fetch(&url(&server, "/nowhere.json"), None, None).await, "HTTP 404");
    failed(fetcher.fetch(&url(&server, "/error"), None, None).await, "HTTP 500");
}

#[tokio::test]
async fn stalls_time_out() {
    let stall_head = Route::json(DOC).delay(Duration::from_secs(30));
    let stall_body = Route::json(DOC).body_delay(Duration::from_secs(30));
    let (pki, server) = setup(vec![("/stall-head", stall_head), ("/stall-body", stall_body)]).await;
    let config = FetchConfig { timeout: Duration::from_millis(500), ..local_config(&pki) };
    let fetcher = Fetcher::new(config).unwrap();

    for path in ["/stall-head", "/stall-body"] {
        let started = Instant::now();
        failed(fetcher.fetch(&url(&server, path), None, None).await, "timed out");
        let elapsed = started.elapsed();
        // The 0.5 s timeout plus room for a busy machine; the stall itself is 30 s.
        assert!(elapsed < Duration::from_secs(8), "{path} took {elapsed:?}");
    }
}

#[tokio::test]
async fn unknown_ca_fails() {
    let (pki, server) = setup(vec![("/client.json", Route::json(DOC))]).await;
    let config = FetchConfig { extra_root_certificates: Vec::new(), ..local_config(&pki) };
    let fetcher = Fetcher::new(config).unwrap();
    let result = fetcher.fetch(&url(&server, "/client.json"), None, None).await;
    failed(result, "certificate");
    assert!(server.requests().is_empty(), "no HTTP request may follow a failed handshake");

    // A certificate from another CA does not help either.
    let other = TestPki::new(HOST);
    let config = FetchConfig { extra_root_certificates: vec![other.ca_pem.into_bytes()], ..local_config(&pki) };
    let fetcher = Fetcher::new(config).unwrap();
    failed(fetcher.fetch(&url(&server, "/client.json"), None, None).await, "certificate");
}

#[tokio::test]
async fn certificate_name_must_match() {
    // The server's certificate is for client.test; reach the same server under another name.
    let (pki, server) = setup(vec![("/client.json", Route::json(DOC))]).await;
    let mut config = local_config(&pki);
    config.resolver_overrides.insert("other.test".to_string(), localhost());
    let fetcher = Fetcher::new(config).unwrap();
    let other = Url::parse(&format!("https://other.test:{}/client.json", server.port())).unwrap();
    failed(fetcher.fetch(&other, None, None).await, "certificate");
}

#[tokio::test]
async fn bad_extra_root_pem_is_an_error() {
    let config = FetchConfig { extra_root_certificates: vec![b"not a certificate".to_vec()], ..Default::default() };
    let error = Fetcher::new(config).unwrap_err();
    assert!(error.contains("extra root certificate #0"), "{error}");

    let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".to_vec();
    let config = FetchConfig { extra_root_certificates: vec![broken], ..Default::default() };
    let error = Fetcher::new(config).unwrap_err();
    assert!(error.contains("extra root certificate #0"), "{error}");
}

#[tokio::test]
async fn strict_mode_refuses_non_443_port_before_connecting() {
    let (pki, server) = setup(vec![("/client.json", Route::json(DOC))]).await;
    let fetcher = Fetcher::new(strict_config(&pki)).unwrap();
    refused(fetcher.fetch(&url(&server, "/client.json"), None, None).await, "port");
    assert!(server.requests().is_empty());
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn strict_mode_refuses_private_address_before_connecting() {
    let (pki, server) = setup(vec![("/client.json", Route::json(DOC))]).await;
    let mut config = strict_config(&pki);
    // A mixed answer is refused too: the good address is not silently picked.
    config
        .resolver_overrides
        .insert("mixed.test".to_string(), vec!["8.8.8.8".parse().unwrap(), "127.0.0.1".parse().unwrap()]);
    config.resolver_overrides.insert("mapped.test".to_string(), vec!["::ffff:127.0.0.1".parse().unwrap()]);
    config.resolver_overrides.insert("empty.test".to_string(), Vec::new());
    let fetcher = Fetcher::new(config).unwrap();

    let port_443 = Url::parse(&format!("https://{HOST}/client.json")).unwrap();
    refused(fetcher.fetch(&port_443, None, None).await, "127.0.0.1");
    refused(fetcher.fetch(&Url::parse("https://mixed.test/client.json").unwrap(), None, None).await, "127.0.0.1");
    refused(
        fetcher.fetch(&Url::parse("https://mapped.test/client.json").unwrap(), None, None).await,
        "::ffff:127.0.0.1",
    );
    refused(fetcher.fetch(&Url::parse("https://empty.test/client.json").unwrap(), None, None).await, "resolve");
    refused(fetcher.fetch(&Url::parse("https://localhost/client.json").unwrap(), None, None).await, "localhost");
    assert!(server.requests().is_empty());
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn strict_mode_refuses_ip_literals() {
    let (pki, server) = setup(vec![("/client.json", Route::json(DOC))]).await;
    let fetcher = Fetcher::new(strict_config(&pki)).unwrap();
    let port = server.port();
    // Non-443 literal: refused (port checked first).
    refused(fetcher.fetch(&Url::parse(&format!("https://127.0.0.1:{port}/c.json")).unwrap(), None, None).await, "port");
    // Port 443 literals: refused for the address.
    for literal in
        ["https://127.0.0.1/c.json", "https://[::1]/c.json", "https://[::ffff:7f00:1]/c.json", "https://0x7f.1/c.json"]
    {
        refused(fetcher.fetch(&Url::parse(literal).unwrap(), None, None).await, "not allowed");
    }
    assert!(server.requests().is_empty());
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn permissive_mode_reaches_an_ip_literal() {
    // With private addresses allowed, the IP literal itself is fine; it fails only on the certificate
    // name (issued for client.test), which proves the connection went to the local server.
    let (pki, server) = setup(vec![("/client.json", Route::json(DOC))]).await;
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();
    let literal = Url::parse(&format!("https://127.0.0.1:{}/client.json", server.port())).unwrap();
    failed(fetcher.fetch(&literal, None, None).await, "certificate");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn refuses_non_https_and_user_info() {
    let pki = TestPki::new(HOST);
    let fetcher = Fetcher::new(local_config(&pki)).unwrap();
    refused(fetcher.fetch(&Url::parse("http://client.test/c.json").unwrap(), None, None).await, "https");
    refused(fetcher.fetch(&Url::parse("https://u:p@client.test/c.json").unwrap(), None, None).await, "user-info");
    refused(
        fetcher.fetch(&Url::parse("https://client.test/c.json").unwrap(), Some("bad\nvalue"), None).await,
        "if-none-match",
    );
}

#[test]
fn client_id_url_rules() {
    let accepted =
        ["https://client.example.com/client.json", "https://example.com:8443/a/b/metadata", "https://[2001:db8::1]/c"];
    for raw in accepted {
        assert_eq!(check_client_id_url(raw).map(|u| u.to_string()).as_deref(), Ok(raw), "{raw}");
    }
    let refused = [
        "http://client.example.com/client.json",
        "https://client.example.com/client.json#frag",
        "https://client.example.com/client.json#",
        "https://user@client.example.com/client.json",
        "https://user:pass@client.example.com/client.json",
        "https://client.example.com/client.json?x=1",
        "https://client.example.com/client.json?",
        "https://client.example.com/./client.json",
        "https://client.example.com/a/../client.json",
        "https://client.example.com/a/%2e%2e/client.json",
        "https://client.example.com/a/%2E%2E/client.json",
        "https://client.example.com/a/.%2e/client.json",
        "https://client.example.com/%2e/client.json",
        "https://client.example.com/a/..",
        "https://client.example.com",
        "https://client.example.com/",
        "HTTPS://client.example.com/client.json",
        "Https://client.example.com/client.json",
        "https://Client.Example.com/client.json",
        "https://client.example.com:443/client.json",
        "https://client.example.com/a b",
        "https:///client.json",
        "not a url",
    ];
    for raw in refused {
        assert!(check_client_id_url(raw).is_err(), "{raw} should be refused");
    }

    let prefix = "https://client.example.com/";
    let at_limit = format!("{prefix}{}", "a".repeat(2000 - prefix.len()));
    assert_eq!(at_limit.len(), 2000);
    assert!(check_client_id_url(&at_limit).is_ok());
    let over_limit = format!("{at_limit}a");
    assert_eq!(over_limit.len(), 2001);
    assert!(check_client_id_url(&over_limit).unwrap_err().contains("2000"));
}

#[test]
fn looks_like_url_prefixes() {
    for yes in ["https://x", "http://x", "HTTPS://X", "Http://x", "https://"] {
        assert!(looks_like_url(yes), "{yes}");
    }
    for no in ["", "client-123", "https:/x", "ftp://x", "urn:x", "httpsx://", "é"] {
        assert!(!looks_like_url(no), "{no}");
    }
}
