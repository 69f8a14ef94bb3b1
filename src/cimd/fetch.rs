//! SSRF-guarded HTTPS fetcher for Client ID Metadata Documents.
//!
//! # How the connected address is kept equal to a checked address
//!
//! The shared `reqwest::Client` is built with a custom DNS resolver (`PinningResolver`). A fetch
//! does the following, in order, before anything is sent:
//!
//! 1. checks the URL (https, a host, no user-info) and the effective port (443 unless private
//!    addresses are allowed);
//! 2. for an IP-literal host (`https://127.0.0.1/…`, `https://[::1]/…`, which reqwest never passes
//!    to a resolver) classifies the literal address;
//! 3. for a domain, resolves it itself (`resolver_overrides` first, else the system resolver) and
//!    classifies *every* answer with [`crate::address::is_forbidden`]; a single forbidden answer
//!    refuses the whole fetch ([`FetchError::Refused`]), good answers are not silently picked;
//! 4. pins the checked addresses in the resolver's per-host table for the lifetime of the request
//!    (a guard removes the pin when the fetch ends; concurrent fetches of one host share the pin
//!    through a use count, and each of them replaces it only with a set it has itself checked).
//!
//! Steps 1–4 are [`Fetcher::resolve`], bounded by the timeout like the request itself; the request
//! is [`Fetcher::fetch_target`], so a caller can charge a per-host budget in between, only for
//! hosts that resolved to addresses it may fetch ([`Fetcher::fetch`] does both).
//!
//! When reqwest then asks the resolver for the host, the resolver answers from the pin table, so
//! the connection goes to an address that was checked in step 3 and no second DNS lookup happens
//! (no DNS-rebinding window). Should reqwest ever ask for a host that is not pinned, the resolver
//! does not fall back to an unchecked lookup: it resolves and classifies the name itself, under the
//! same policy, and fails the connection if any answer is forbidden. A pooled keep-alive connection
//! may be reused by a later fetch of the same host and port; its peer was checked when it was
//! opened, and the later fetch still has to pass steps 1–3 first.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;
use url::{Host, Url};

use super::address::is_forbidden;
use crate::text::echo;

/// The User-Agent sent with every request.
pub const USER_AGENT: &str = "gatehouse-cimd";

/// Longest `client_id` URL accepted by [`check_client_id_url`].
pub const MAX_CLIENT_ID_URL_LEN: usize = 2000;

/// Settings of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Relaxes BOTH the forbidden address ranges and the port-443 rule (tests, private deployments).
    pub allow_private_addresses: bool,
    /// Limit on the whole request: connect, TLS, headers and body.
    pub timeout: Duration,
    /// Largest accepted document body, in bytes.
    pub max_document_bytes: usize,
    /// PEM bytes of extra trust anchors, added to the built-in webpki roots. Each entry must hold
    /// at least one certificate.
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Test-only DNS pinning: host → addresses (still classified like real answers). Keys are
    /// matched against the host as the url crate serialises it (lower-case ASCII).
    pub resolver_overrides: HashMap<String, Vec<IpAddr>>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allow_private_addresses: false,
            timeout: Duration::from_secs(5),
            max_document_bytes: 5 * 1024,
            extra_root_certificates: Vec::new(),
            resolver_overrides: HashMap::new(),
        }
    }
}

/// Why a fetch did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Refused before any connection was made (bad URL, forbidden port, forbidden or unresolvable address).
    #[error("{0}")]
    Refused(String),
    /// The request was made and failed (TLS, timeout, status, redirect, size, content type, ...).
    #[error("{0}")]
    Failed(String),
}

/// A successful fetch.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchResponse {
    /// 200 with an acceptable JSON content type and a body within the size limit.
    Document {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
        cache_control: Option<String>,
        expires: Option<String>,
    },
    /// 304 to a conditional request
    NotModified {
        etag: Option<String>,
        last_modified: Option<String>,
        cache_control: Option<String>,
        expires: Option<String>,
    },
}

/// A URL whose host was resolved and checked, its addresses pinned until this is dropped.
pub struct Target {
    url: Url,
    _pin: Option<PinGuard>,
}

/// SSRF-guarded fetcher: one shared `reqwest::Client` and its pinning resolver.
pub struct Fetcher {
    client: reqwest::Client,
    resolver: Arc<PinningResolver>,
    config: FetchConfig,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Builds the shared client. A bad entry in `extra_root_certificates` is an error naming it.
    pub fn new(config: FetchConfig) -> Result<Fetcher, String> {
        let resolver = Arc::new(PinningResolver {
            policy: Arc::new(AddressPolicy {
                overrides: config.resolver_overrides.clone(),
                allow_private_addresses: config.allow_private_addresses,
            }),
            pins: Mutex::new(HashMap::new()),
        });

        let mut default_headers = HeaderMap::new();
        default_headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        default_headers.insert(reqwest::header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));

        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(USER_AGENT)
            .default_headers(default_headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .dns_resolver(resolver.clone());

        for (index, pem) in config.extra_root_certificates.iter().enumerate() {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("extra root certificate #{index} is not valid PEM: {}", error_chain(&e)))?;
            if certificates.is_empty() {
                return Err(format!("extra root certificate #{index} contains no PEM CERTIFICATE block"));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }

        let client = builder.build().map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        Ok(Fetcher { client, resolver, config })
    }

    /// Fetches the document at `url`. `if_none_match` / `if_modified_since` add conditional
    /// headers; a 304 answer to such a request is [`FetchResponse::NotModified`].
    pub async fn fetch(
        &self,
        url: &Url,
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
    ) -> Result<FetchResponse, FetchError> {
        let target = self.resolve(url).await?;
        self.fetch_target(&target, if_none_match, if_modified_since).await
    }

    /// Steps 1–4: checks the URL and port, resolves the host (within the timeout) and classifies
    /// every address, and pins the checked ones until the returned target is dropped. Nothing is
    /// sent to the host.
    pub async fn resolve(&self, url: &Url) -> Result<Target, FetchError> {
        // 1. The URL and its port; nothing has touched the network yet.
        if url.scheme() != "https" {
            return Err(FetchError::Refused(format!("refusing {url}: only https URLs are fetched")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::Refused(format!("refusing {url}: URL has user-info")));
        }
        let host = url.host().ok_or_else(|| FetchError::Refused(format!("refusing {url}: URL has no host")))?;
        let port = url.port_or_known_default().unwrap_or(443);
        if port != 443 && !self.config.allow_private_addresses {
            return Err(FetchError::Refused(format!("refusing {url}: port {port} is not allowed, only 443")));
        }

        // 2./3. Resolve and classify; 4. pin the checked addresses for reqwest's resolver.
        let pin = match host {
            Host::Ipv4(ip) => {
                self.check_literal(url, IpAddr::V4(ip))?;
                None
            }
            Host::Ipv6(ip) => {
                self.check_literal(url, IpAddr::V6(ip))?;
                None
            }
            Host::Domain(domain) => {
                let timeout = self.config.timeout;
                let addresses = tokio::time::timeout(timeout, self.resolver.policy.resolve_checked(domain))
                    .await
                    .map_err(|_| {
                        FetchError::Failed(format!(
                            "fetching {url} failed: resolving {domain} timed out after {timeout:?}"
                        ))
                    })?
                    .map_err(|reason| FetchError::Refused(format!("refusing {url}: {reason}")))?;
                Some(self.resolver.pin(domain, addresses))
            }
        };
        Ok(Target { url: url.clone(), _pin: pin })
    }

    /// Sends the request to a resolved target and reads the answer, within the timeout.
    pub async fn fetch_target(
        &self,
        target: &Target,
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
    ) -> Result<FetchResponse, FetchError> {
        let url = &target.url;
        let mut headers = HeaderMap::new();
        for (name, value) in [("if-none-match", if_none_match), ("if-modified-since", if_modified_since)] {
            if let Some(value) = value {
                let value = HeaderValue::from_str(value)
                    .map_err(|_| FetchError::Refused(format!("refusing {url}: invalid {name} header value")))?;
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        let conditional = !headers.is_empty();

        let request = self.client.get(url.clone()).headers(headers);
        let limit = self.config.max_document_bytes;
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, perform(request, limit, conditional)).await {
            Ok(result) => result.map_err(|reason| FetchError::Failed(format!("fetching {url} failed: {reason}"))),
            Err(_) => Err(FetchError::Failed(format!("fetching {url} failed: timed out after {timeout:?}"))),
        }
    }

    fn check_literal(&self, url: &Url, ip: IpAddr) -> Result<(), FetchError> {
        if is_forbidden(ip) && !self.config.allow_private_addresses {
            return Err(FetchError::Refused(format!("refusing {url}: address {ip} is not allowed")));
        }
        Ok(())
    }
}

/// Sends the request and reads the answer; the caller wraps this in the overall timeout.
async fn perform(request: reqwest::RequestBuilder, limit: usize, conditional: bool) -> Result<FetchResponse, String> {
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    let headers = response.headers();
    let etag = header_string(headers, reqwest::header::ETAG);
    let last_modified = header_string(headers, reqwest::header::LAST_MODIFIED);
    let cache_control = header_string(headers, reqwest::header::CACHE_CONTROL);
    let expires = header_string(headers, reqwest::header::EXPIRES);

    if status == StatusCode::NOT_MODIFIED {
        if !conditional {
            return Err("unexpected HTTP 304 to an unconditional request".to_string());
        }
        return Ok(FetchResponse::NotModified { etag, last_modified, cache_control, expires });
    }
    if status.is_redirection() {
        let location = headers.get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        return Err(format!("HTTP {} redirect (to \"{}\") is not followed", status.as_u16(), echo(location)));
    }
    if status != StatusCode::OK {
        return Err(format!("HTTP {} (expected 200)", status.as_u16()));
    }

    let mut content_types = headers.get_all(reqwest::header::CONTENT_TYPE).iter();
    match (content_types.next(), content_types.next()) {
        (Some(value), None) => {
            let value = value.to_str().map_err(|_| "content type is not valid ASCII".to_string())?;
            if !is_json_content_type(value) {
                return Err(format!("content type \"{}\" is not application/json or application/*+json", echo(value)));
            }
        }
        (None, _) => return Err("response has no content type".to_string()),
        (Some(_), Some(_)) => return Err("response has several content types".to_string()),
    }

    let too_large = || format!("document is larger than {limit} bytes");
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if chunk.len() > limit - body.len() {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchResponse::Document { body, etag, last_modified, cache_control, expires })
}

fn header_string(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// `application/json` or `application/<something>+json`, parameters allowed.
fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    let valid_token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    subtype == "json" || subtype.strip_suffix("+json").is_some_and(valid_token)
}

/// A reqwest error with its source chain, classified for the message.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection or TLS handshake failed"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    format!("{kind}: {}", error_chain(error))
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// SPEC rules for a client_id URL: https scheme, a host, a path other than "/" (e.g.
/// https://h/client.json), no fragment, no user-info, no query, no dot segments (`/./`, `/../`,
/// also percent-encoded %2e forms), at most 2,000 chars, and the raw string must equal the url
/// crate's serialisation (so it is canonical). Returns the parsed URL.
///
/// The port is not restricted here (a non-default port is canonical); the fetcher refuses ports
/// other than 443. `https://h:443/x` is refused as non-canonical (the serialisation drops `:443`).
pub fn check_client_id_url(raw: &str) -> Result<Url, String> {
    if raw.len() > MAX_CLIENT_ID_URL_LEN {
        return Err(format!("client_id URL is longer than {MAX_CLIENT_ID_URL_LEN} characters"));
    }
    if !raw.starts_with("https://") {
        return Err("client_id URL must use the https scheme (lower-case)".to_string());
    }
    // Dot segments are looked for in the raw text: the parser would silently remove them.
    let is_dot_segment = |segment: &str| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    if raw["https://".len()..].split(['/', '?', '#']).any(is_dot_segment) {
        return Err("client_id URL must not contain dot segments".to_string());
    }
    let url = Url::parse(raw).map_err(|e| format!("client_id is not a valid URL: {e}"))?;
    if url.scheme() != "https" {
        return Err("client_id URL must use the https scheme".to_string());
    }
    if url.host().is_none() {
        return Err("client_id URL must have a host".to_string());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("client_id URL must not contain user-info".to_string());
    }
    if url.query().is_some() {
        return Err("client_id URL must not contain a query".to_string());
    }
    if url.fragment().is_some() {
        return Err("client_id URL must not contain a fragment".to_string());
    }
    if url.path().is_empty() || url.path() == "/" {
        return Err("client_id URL must have a path (e.g. https://example.com/client.json)".to_string());
    }
    if url.as_str() != raw {
        return Err(format!("client_id URL is not in canonical form (expected \"{}\")", echo(url.as_str())));
    }
    Ok(url)
}

/// Cheap pre-check used to decide whether a client_id is meant as a URL at all: starts with "https://" or "http://" (case-insensitive).
pub fn looks_like_url(client_id: &str) -> bool {
    let has_prefix =
        |prefix: &str| client_id.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix));
    has_prefix("https://") || has_prefix("http://")
}

/// The resolver installed in the shared client: answers from the per-request pin table, or else
/// resolves and classifies itself (see the module documentation).
struct PinningResolver {
    policy: Arc<AddressPolicy>,
    pins: Mutex<HashMap<String, Pin>>,
}

/// How a host name is turned into checked addresses.
struct AddressPolicy {
    overrides: HashMap<String, Vec<IpAddr>>,
    allow_private_addresses: bool,
}

struct Pin {
    addresses: Vec<IpAddr>,
    users: usize,
}

/// Removes (or releases its share of) a host's pin when the fetch ends.
struct PinGuard {
    resolver: Arc<PinningResolver>,
    host: String,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut pins = self.resolver.pins.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(pin) = pins.get_mut(&self.host) {
            pin.users -= 1;
            if pin.users == 0 {
                pins.remove(&self.host);
            }
        }
    }
}

impl AddressPolicy {
    /// Resolves `host` (overrides first, else the system resolver) and classifies every answer.
    /// Fails when there is no answer or (unless private addresses are allowed) any answer is forbidden.
    async fn resolve_checked(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let mut addresses: Vec<IpAddr> = match self.overrides.get(host) {
            Some(addresses) => addresses.clone(),
            None => tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .map(|socket| socket.ip())
                .collect(),
        };
        let mut seen = std::collections::HashSet::new();
        addresses.retain(|ip| seen.insert(*ip));
        if addresses.is_empty() {
            return Err(format!("cannot resolve {host}: no addresses"));
        }
        if !self.allow_private_addresses {
            if let Some(bad) = addresses.iter().find(|ip| is_forbidden(**ip)) {
                return Err(format!("{host} resolves to {bad}, which is not allowed"));
            }
        }
        Ok(addresses)
    }
}

impl PinningResolver {
    fn pin(self: &Arc<Self>, host: &str, addresses: Vec<IpAddr>) -> PinGuard {
        let mut pins = self.pins.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pin = pins.entry(host.to_string()).or_insert(Pin { addresses: Vec::new(), users: 0 });
        pin.addresses = addresses;
        pin.users += 1;
        PinGuard { resolver: self.clone(), host: host.to_string() }
    }

    fn pinned(&self, host: &str) -> Option<Vec<IpAddr>> {
        let pins = self.pins.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pins.get(host).map(|pin| pin.addresses.clone())
    }
}

/// Port 0 is replaced by reqwest with the URL's port.
fn to_addrs(addresses: Vec<IpAddr>) -> Addrs {
    Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)))
}

impl Resolve for PinningResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        if let Some(addresses) = self.pinned(&host) {
            return Box::pin(async move { Ok(to_addrs(addresses)) });
        }
        let policy = self.policy.clone();
        Box::pin(async move {
            match policy.resolve_checked(&host).await {
                Ok(addresses) => Ok(to_addrs(addresses)),
                Err(reason) => Err(reason.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn resolver(allow_private_addresses: bool) -> Arc<PinningResolver> {
        let mut overrides = HashMap::new();
        overrides.insert("internal.test".to_string(), vec!["10.0.0.1".parse().unwrap()]);
        overrides.insert("mixed.test".to_string(), vec!["8.8.8.8".parse().unwrap(), "127.0.0.1".parse().unwrap()]);
        overrides.insert("public.test".to_string(), vec!["8.8.8.8".parse().unwrap(), "8.8.8.8".parse().unwrap()]);
        let policy = Arc::new(AddressPolicy { overrides, allow_private_addresses });
        Arc::new(PinningResolver { policy, pins: Mutex::new(HashMap::new()) })
    }

    async fn answer(resolver: &PinningResolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        let name = Name::from_str(host).unwrap();
        resolver.resolve(name).await.map(|addrs| addrs.collect()).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn unpinned_lookup_revalidates() {
        let r = resolver(false);
        assert!(answer(&r, "internal.test").await.unwrap_err().contains("10.0.0.1"));
        assert!(answer(&r, "mixed.test").await.unwrap_err().contains("127.0.0.1"));
        assert_eq!(answer(&r, "public.test").await.unwrap(), vec!["8.8.8.8:0".parse().unwrap()]);
        assert_eq!(answer(&resolver(true), "internal.test").await.unwrap(), vec!["10.0.0.1:0".parse().unwrap()]);
    }

    #[tokio::test]
    async fn pinned_answers_are_returned_and_released() {
        let r = resolver(false);
        let checked = r.policy.resolve_checked("public.test").await.unwrap();
        let first = r.pin("public.test", checked.clone());
        let second = r.pin("public.test", checked);
        assert_eq!(answer(&r, "public.test").await.unwrap(), vec!["8.8.8.8:0".parse().unwrap()]);
        drop(first);
        assert!(r.pinned("public.test").is_some());
        drop(second);
        assert!(r.pinned("public.test").is_none());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/client-metadata+json"));
        assert!(!is_json_content_type("application/+json"));
        assert!(!is_json_content_type("text/json"));
        assert!(!is_json_content_type("application/jsonp"));
        assert!(!is_json_content_type("text/html"));
        assert!(!is_json_content_type(""));
    }
}
