//! What handlers read off a request: its origin (address behind trusted proxies, rate-limit
//! key, user agent), a bearer token, a size-limited body.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::config::{parsed_cidrs, Settings};
use crate::error::AppError;
use crate::net;
use crate::oauth::error::ErrorCode;
use crate::origin::Origin;
use crate::text;

/// Where the request came from, once per request.
pub fn origin(request: &HttpRequest, settings: &Settings) -> Origin {
    let ip = request.peer_addr().map(|peer| {
        // Every X-Forwarded-For line, in order: some proxies add a line instead of appending.
        let forwarded: Vec<&str> =
            request.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        net::client_ip(peer.ip(), forwarded.as_deref(), &parsed_cidrs(&settings.server.trusted_proxies))
    });
    let address = ip.map(|ip| ip.to_string());
    let rate_limit_key = ip.map(net::rate_limit_key).unwrap_or_else(|| "unknown".into());
    let network_key = ip.map(net::network_key).unwrap_or_else(|| "unknown".into());
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| crate::text::truncate(ua, 300));
    Origin { address, rate_limit_key, network_key, user_agent }
}

/// The token of an `Authorization: Bearer …` header; `None` when absent or malformed.
pub fn bearer_token(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then(|| token.to_string())
}

pub enum BodyError {
    TooLarge,
    Broken,
}

/// Read the body, refusing (early, from Content-Length when given) more than `limit` bytes.
pub async fn read_body(request: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, BodyError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `application/json` (parameters allowed) or any `…+json` media type.
pub fn is_json_content_type(request: &HttpRequest) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A server-to-server API's body (the admin API, the login API): a JSON object of at most
/// `limit` bytes — an empty body reads as `{}` when `optional` — with no control character
/// anywhere, refused before anything is stored or looked up (PostgreSQL text cannot hold U+0000).
pub async fn json_object(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    optional: bool,
) -> Result<serde_json::Value, AppError> {
    use serde_json::Value;
    let body = read_body(request, payload, limit).await.map_err(|e| match e {
        BodyError::TooLarge => AppError::oauth(413, ErrorCode::InvalidRequest, "body too large"),
        BodyError::Broken => AppError::bad_request(ErrorCode::InvalidRequest, "the body could not be read"),
    })?;
    if optional && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value = match serde_json::from_slice::<Value>(&body) {
        Ok(value @ Value::Object(_)) => value,
        _ => return Err(AppError::bad_request(ErrorCode::InvalidRequest, "the body must be a JSON object")),
    };
    if let Some(path) = text::json_control_path(&value) {
        return Err(AppError::bad_request(ErrorCode::InvalidRequest, format!("{path} contains a control character")));
    }
    Ok(value)
}
