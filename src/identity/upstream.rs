//! Calls to upstream providers (SPEC §9): one HTTP client (rustls with the webpki roots plus
//! `login.extra_root_certificates`, no proxy variables, no redirects, `upstream_timeout_ms` per
//! call), the discovery documents and the JWKS, cached.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{check_upstream_url, LoginSettings, ProviderSettings};

/// How long a discovery document is reused; a failed sign-in step never extends it.
const DISCOVERY_TTL_SECS: i64 = 3600;
/// JWKS freshness bounds, whatever the provider's caching headers say: a key rotation is seen
/// within a day, and every sign-in is not a JWKS fetch.
const JWKS_MIN_SECS: i64 = 60;
const JWKS_MAX_SECS: i64 = 86_400;
const JWKS_DEFAULT_SECS: i64 = 3600;
/// Largest response read from a provider.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What the sign-in needs of a provider's discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the provider sends `iss` on its authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl Discovery {
    /// `client_secret_basic` unless the provider lists only `client_secret_post` (SPEC §9.1).
    pub fn uses_client_secret_post(&self) -> bool {
        matches!(&self.token_endpoint_auth_methods_supported, Some(methods)
            if methods.iter().any(|m| m == "client_secret_post") && !methods.iter().any(|m| m == "client_secret_basic"))
    }
}

/// Why a call to a provider failed; the text is for the log and names no secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(pub String);

#[derive(Debug, Clone)]
struct Cached<T> {
    value: T,
    fresh_until: i64,
}

/// The HTTP client and caches, shared by every request; rebuilt on reload.
pub struct Upstream {
    client: RwLock<reqwest::Client>,
    discovery: Mutex<HashMap<String, Cached<Discovery>>>,
    jwks: Mutex<HashMap<String, Cached<String>>>,
}

/// What a token endpoint answered: tokens, or an OAuth error (RFC 6749 §5.2).
#[derive(Debug, Clone)]
pub enum TokenAnswer {
    Tokens(TokenResponse),
    /// The `error` code (GitHub answers errors with status 200).
    Error(String),
}

/// The token endpoint's answer (only what is used: upstream tokens are not kept).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
}

fn build_client(login: &LoginSettings) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
    for path in &login.extra_root_certificates {
        let pem = std::fs::read(path).map_err(|e| format!("login.extra_root_certificates: {path:?}: {e}"))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("login.extra_root_certificates: {path:?} is not valid PEM: {e}"))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| format!("the HTTP client for providers could not be built: {e}"))
}

impl Upstream {
    pub fn new(login: &LoginSettings) -> Upstream {
        let client = build_client(login).unwrap_or_else(|error| {
            tracing::error!(%error, "provider calls use the built-in roots only");
            build_client(&LoginSettings::default()).expect("the default HTTP client builds")
        });
        Upstream { client: RwLock::new(client), discovery: Mutex::default(), jwks: Mutex::default() }
    }

    /// After a reload: a new client (the roots may have changed) and empty caches (an issuer
    /// may have changed).
    pub fn rebuild(&self, login: &LoginSettings) {
        match build_client(login) {
            Ok(client) => *self.client.write().unwrap_or_else(|e| e.into_inner()) = client,
            Err(error) => tracing::error!(%error, "provider HTTP client kept as it was"),
        }
        self.discovery.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.jwks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn client(&self) -> reqwest::Client {
        self.client.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The provider's discovery document, fetched from `{issuer}/.well-known/openid-configuration`;
    /// its `issuer` must equal the configured one exactly and its endpoints be https (or http on
    /// loopback).
    pub async fn discovery(
        &self,
        provider: &ProviderSettings,
        timeout: Duration,
        now: i64,
    ) -> Result<Discovery, UpstreamError> {
        let key = provider.issuer.clone();
        if let Some(hit) = self.discovery.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            if hit.fresh_until > now {
                return Ok(hit.value.clone());
            }
        }
        let url = format!("{}/.well-known/openid-configuration", provider.issuer.trim_end_matches('/'));
        let (body, _) = self.get(&url, None, timeout).await?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError(format!("discovery document at {url} is not valid: {e}")))?;
        if discovery.issuer != provider.issuer {
            return Err(UpstreamError(format!(
                "discovery document at {url} names issuer {:?}, not {:?}",
                discovery.issuer, provider.issuer
            )));
        }
        for (name, endpoint) in [
            ("authorization_endpoint", &discovery.authorization_endpoint),
            ("token_endpoint", &discovery.token_endpoint),
            ("jwks_uri", &discovery.jwks_uri),
        ] {
            check_endpoint(endpoint).map_err(|why| UpstreamError(format!("discovery {name}: {why}")))?;
        }
        if let Some(userinfo) = &discovery.userinfo_endpoint {
            check_endpoint(userinfo).map_err(|why| UpstreamError(format!("discovery userinfo_endpoint: {why}")))?;
        }
        self.discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Cached { value: discovery.clone(), fresh_until: now + DISCOVERY_TTL_SECS });
        Ok(discovery)
    }

    /// The JWKS (JSON text), from the cache while its caching headers say it is fresh, or
    /// fetched (`refetch`: after an unknown `kid`, whatever the cache says).
    pub async fn jwks(
        &self,
        jwks_uri: &str,
        refetch: bool,
        timeout: Duration,
        now: i64,
    ) -> Result<String, UpstreamError> {
        if !refetch {
            if let Some(hit) = self.jwks.lock().unwrap_or_else(|e| e.into_inner()).get(jwks_uri) {
                if hit.fresh_until > now {
                    return Ok(hit.value.clone());
                }
            }
        }
        let (body, headers) = self.get(jwks_uri, None, timeout).await?;
        let text = String::from_utf8(body).map_err(|_| UpstreamError(format!("JWKS at {jwks_uri} is not UTF-8")))?;
        let header =
            |name: reqwest::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let fresh = jwks_freshness_secs(
            header(reqwest::header::CACHE_CONTROL).as_deref(),
            header(reqwest::header::EXPIRES).as_deref(),
            now,
        );
        self.jwks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jwks_uri.to_string(), Cached { value: text.clone(), fresh_until: now + fresh });
        Ok(text)
    }

    /// The authorization-code exchange at `token_endpoint`, the client authenticated in the
    /// form (`client_secret_post`) or with HTTP Basic.
    pub async fn exchange(
        &self,
        token_endpoint: &str,
        client_secret_post: bool,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<TokenAnswer, UpstreamError> {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut request = self.client().post(token_endpoint).timeout(timeout).header("accept", "application/json");
        if client_secret_post {
            fields.push(("client_id", client_id));
            fields.push(("client_secret", client_secret));
        } else {
            // RFC 6749 §2.3.1: both form-encoded before the Basic encoding.
            let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(client_id), Some(encode(client_secret)));
        }
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| UpstreamError(format!("token endpoint: {}", describe(&e))))?;
        let status = response.status();
        let body = read_limited(response).await?;
        // An `error` is the answer whatever the status: GitHub sends its errors with 200.
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(|e| crate::text::truncate(e, 64)));
        if let Some(error) = error {
            return Ok(TokenAnswer::Error(error));
        }
        if !status.is_success() {
            return Err(UpstreamError(format!("token endpoint answered HTTP {}", status.as_u16())));
        }
        serde_json::from_slice(&body)
            .map(TokenAnswer::Tokens)
            .map_err(|e| UpstreamError(format!("token endpoint answer is not valid: {e}")))
    }

    /// A GET to a provider's API with the access token just obtained and the provider's
    /// headers: its status and body whatever the status (a 404 may be an answer).
    pub async fn api_get(
        &self,
        url: &str,
        access_token: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), UpstreamError> {
        let mut request = self.client().get(url).timeout(timeout).bearer_auth(access_token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(|e| UpstreamError(format!("{url}: {}", describe(&e))))?;
        let status = response.status().as_u16();
        Ok((status, read_limited(response).await?))
    }

    /// The userinfo claims (JSON), with the access token just obtained.
    pub async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
        timeout: Duration,
    ) -> Result<serde_json::Map<String, serde_json::Value>, UpstreamError> {
        let (body, _) = self.get(endpoint, Some(access_token), timeout).await?;
        serde_json::from_slice(&body).map_err(|e| UpstreamError(format!("userinfo answer is not a JSON object: {e}")))
    }

    async fn get(
        &self,
        url: &str,
        bearer: Option<&str>,
        timeout: Duration,
    ) -> Result<(Vec<u8>, reqwest::header::HeaderMap), UpstreamError> {
        let mut request = self.client().get(url).timeout(timeout).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| UpstreamError(format!("{url}: {}", describe(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError(format!("{url} answered HTTP {}", status.as_u16())));
        }
        let headers = response.headers().clone();
        Ok((read_limited(response).await?, headers))
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| UpstreamError(describe(&e)))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(UpstreamError("the answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }
}

/// A discovered endpoint: https (http only on loopback), no fragment. (An authorization
/// endpoint may carry a query.)
fn check_endpoint(value: &str) -> Result<(), String> {
    let without_query = value.split('?').next().unwrap_or(value);
    check_upstream_url(without_query)?;
    if value.contains('#') {
        return Err(format!("{value:?} has a fragment"));
    }
    Ok(())
}

/// Seconds a JWKS stays fresh: `Cache-Control: max-age`, else `Expires`, within bounds;
/// `no-store`/`no-cache` get the lower bound.
pub fn jwks_freshness_secs(cache_control: Option<&str>, expires: Option<&str>, now: i64) -> i64 {
    let clamp = |secs: i64| secs.clamp(JWKS_MIN_SECS, JWKS_MAX_SECS);
    if let Some(cache_control) = cache_control {
        let directives: Vec<String> = cache_control.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
        if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
            return JWKS_MIN_SECS;
        }
        if let Some(max_age) =
            directives.iter().find_map(|d| d.strip_prefix("max-age=")?.trim_matches('"').parse::<i64>().ok())
        {
            return clamp(max_age);
        }
    }
    if let Some(at) = expires.and_then(|e| httpdate::parse_http_date(e.trim()).ok()) {
        let at = at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        return clamp(at - now);
    }
    JWKS_DEFAULT_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_freshness_follows_caching_headers_within_bounds() {
        assert_eq!(jwks_freshness_secs(Some("public, max-age=600"), None, 0), 600);
        assert_eq!(jwks_freshness_secs(Some("max-age=1"), None, 0), 60);
        assert_eq!(jwks_freshness_secs(Some("no-cache"), None, 0), 60);
        assert_eq!(jwks_freshness_secs(None, None, 0), 3600);
        assert_eq!(jwks_freshness_secs(Some("max-age=99999999"), None, 0), 86_400);
    }

    #[test]
    fn client_secret_post_only_when_basic_is_not_listed() {
        let mut d: Discovery = serde_json::from_value(serde_json::json!({
            "issuer": "https://i", "authorization_endpoint": "https://i/a", "token_endpoint": "https://i/t", "jwks_uri": "https://i/j"
        }))
        .unwrap();
        assert!(!d.uses_client_secret_post());
        d.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        assert!(d.uses_client_secret_post());
        d.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into(), "client_secret_basic".into()]);
        assert!(!d.uses_client_secret_post());
    }
}
