//! Protocol rules of the authorization endpoint (`GET /authorize`) and PKCE (RFC 7636).
//!
//! Pure functions only: no web framework, no database. Plain values in, plain results out.
//!
//! Decisions worth knowing (also noted at each function):
//! - `parse_query`: empty segments (`a=1&&b=2`, trailing `&`) are skipped; a segment without `=` is a
//!   parameter with an empty value; a `%` not followed by two hex digits is kept literally (as browsers and
//!   the WHATWG form decoder do); only bytes that are not UTF-8 after decoding make the query `Malformed`.
//!   A parameter with an empty name is ignored like any unknown parameter.
//! - Loopback redirect matching is done on raw text: the scheme must be literally `http` (no case folding),
//!   the host text literally `localhost`, `127.0.0.1` or `[::1]`; a port must be 1–5 ASCII digits with a value
//!   from 1 to 65535. `http://127.0.0.1:/cb` (separator with no digits), `:abc`, `:0`, `:99999`, userinfo (`@`)
//!   and a fragment (`#`) are all refused for the port-flexible comparison.
//! - `is_private_use_redirect` compares the scheme case-insensitively (`HTTPS:` is not private-use), as
//!   schemes are case-insensitive; an input without a syntactically valid scheme is not private-use.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::oauth::error::ErrorCode;

/// Maximum length of `state`, in characters.
pub const MAX_STATE_CHARS: usize = 1_024;
/// Maximum length of `scope`, in characters.
pub const MAX_SCOPE_CHARS: usize = 1_000;
/// Maximum length of `resource`, in characters.
pub const MAX_RESOURCE_CHARS: usize = 2_000;

// ------------------------------------------------------------------------------------------------
// Query parsing
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The named parameter appeared more than once (RFC 6749 §3.1: "MUST NOT be included more than once").
    RepeatedParameter(String),
    /// The query decodes to bytes that are not UTF-8.
    Malformed,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::RepeatedParameter(name) => write!(f, "parameter '{name}' must not be repeated"),
            QueryError::Malformed => f.write_str("the query string is not valid UTF-8 after percent-decoding"),
        }
    }
}

impl std::error::Error for QueryError {}

/// Parse a raw query string (`a=1&b=2`, application/x-www-form-urlencoded, `+` is space) into a map.
///
/// A parameter that appears twice → `Err(RepeatedParameter(name))`. Empty-valued parameters count as absent
/// (RFC 6749 §3.1) but still count for repetition. Decoded bytes that are not UTF-8 → `Err(Malformed)`.
/// The input is the query without its leading `?`.
pub fn parse_query(query: &str) -> Result<BTreeMap<String, String>, QueryError> {
    let mut seen: Vec<String> = Vec::new();
    let mut map = BTreeMap::new();
    for segment in query.split('&') {
        if segment.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = form_decode(raw_name)?;
        let value = form_decode(raw_value)?;
        if name.is_empty() {
            continue;
        }
        if seen.contains(&name) {
            return Err(QueryError::RepeatedParameter(name));
        }
        seen.push(name.clone());
        if !value.is_empty() {
            map.insert(name, value);
        }
    }
    Ok(map)
}

/// application/x-www-form-urlencoded decoding of one name or value: `+` is a space, `%XX` a byte, a `%` not
/// followed by two hex digits stays literal.
fn form_decode(raw: &str) -> Result<String, QueryError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                match (bytes.get(i + 1).and_then(|b| hex_value(*b)), bytes.get(i + 2).and_then(|b| hex_value(*b))) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::Malformed)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The error for a repeated parameter: `invalid_target` for `resource` (RFC 8707 §2), `invalid_request`
/// for any other parameter (RFC 6749 §4.1.2.1).
pub fn repeated_parameter_error(name: &str) -> (ErrorCode, String) {
    if name == "resource" {
        (ErrorCode::InvalidTarget, "only one 'resource' parameter is supported per request".to_string())
    } else {
        (ErrorCode::InvalidRequest, format!("parameter '{name}' must not be repeated"))
    }
}

// ------------------------------------------------------------------------------------------------
// Redirect URIs
// ------------------------------------------------------------------------------------------------

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// A loopback `http` URI split on raw text: host text, port text (if any), and the rest (path, query)
/// with an empty path written as `/`.
struct LoopbackParts<'a> {
    host: &'a str,
    rest: String,
}

/// Split `uri` when it is `http://` + a loopback host literal + an optional well-formed port. `None` otherwise,
/// also when it contains a fragment or userinfo.
fn split_loopback(uri: &str) -> Option<LoopbackParts<'_>> {
    let after_scheme = uri.strip_prefix("http://")?;
    if uri.contains('#') {
        return None;
    }
    let authority_end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(authority_end);
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if !LOOPBACK_HOSTS.contains(&host) {
        return None;
    }
    if port.is_some_and(|p| !is_valid_port(p)) {
        return None;
    }
    let rest = if rest.is_empty() || rest.starts_with('?') { format!("/{rest}") } else { rest.to_string() };
    Some(LoopbackParts { host, rest })
}

/// 1 to 5 ASCII digits, value 1..=65535. An empty port (`host:`) is refused.
fn is_valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
}

/// `http` (literally, lower case) with host text literally `localhost`, `127.0.0.1` or `[::1]`, an optional
/// well-formed port, no userinfo and no fragment.
pub fn is_loopback_redirect(uri: &str) -> bool {
    split_loopback(uri).is_some()
}

/// The scheme is neither `http` nor `https` (compared case-insensitively). `false` when there is no valid
/// scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by `:`).
pub fn is_private_use_redirect(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid && !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https")
}

/// Exact string match; for a registered loopback URI, additionally a request that differs only in its port
/// (another port, or none) matches. Host text, scheme, path and query must be identical; an empty path equals `/`.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (split_loopback(registered), split_loopback(requested)) {
        (Some(reg), Some(req)) => reg.host == req.host && reg.rest == req.rest,
        _ => false,
    }
}

/// The registered URI that `requested` matches: an exact match first, then a loopback port-flexible match.
pub fn find_registered_redirect<'a>(registered: &'a [String], requested: &str) -> Option<&'a String> {
    registered
        .iter()
        .find(|r| r.as_str() == requested)
        .or_else(|| registered.iter().find(|r| redirect_uri_matches(r, requested)))
}

// ------------------------------------------------------------------------------------------------
// Request validation
// ------------------------------------------------------------------------------------------------

pub struct RequestRules<'a> {
    pub supported_scopes: &'a [String],
    /// the client's registered scope (space-separated) when it has one: requested scopes outside it are dropped
    /// too. `Some("")` means the client may have no scope at all.
    pub client_scope: Option<&'a str>,
    /// resources.allowed; empty = any absolute http(s) URI without fragment
    pub allowed_resources: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRequest {
    pub state: Option<String>,
    pub code_challenge: String,
    /// granted scopes after dropping (order of request, de-duplicated)
    pub scopes: Vec<String>,
    /// for a debug log line (order of request, de-duplicated)
    pub dropped_scopes: Vec<String>,
    pub resource: Option<String>,
    pub prompt_none: bool,
}

fn refuse<T>(code: ErrorCode, description: &str) -> Result<T, (ErrorCode, String)> {
    Err((code, description.to_string()))
}

/// Validate every parameter other than `client_id` and `redirect_uri` (which the caller has already verified).
/// `params` comes from [`parse_query`]. Errors carry the RFC 6749 §4.1.2.1 code and a description.
///
/// Checks run in this order: response_type, code_challenge_method, code_challenge, state, scope, resource.
pub fn validate_request(
    params: &BTreeMap<String, String>,
    rules: &RequestRules,
) -> Result<ValidatedRequest, (ErrorCode, String)> {
    let get = |name: &str| params.get(name).map(String::as_str);

    match get("response_type") {
        None => return refuse(ErrorCode::InvalidRequest, "response_type is required"),
        Some("code") => {}
        Some(_) => return refuse(ErrorCode::UnsupportedResponseType, "only response_type 'code' is supported"),
    }

    match get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return refuse(ErrorCode::InvalidRequest, "code_challenge_method is required and must be S256");
        }
        Some(_) => return refuse(ErrorCode::InvalidRequest, "code_challenge_method must be S256"),
    }

    let code_challenge = match get("code_challenge") {
        None => return refuse(ErrorCode::InvalidRequest, "code_challenge is required (PKCE with S256)"),
        Some(c) if !is_valid_code_challenge(c) => {
            return refuse(ErrorCode::InvalidRequest, "code_challenge must be exactly 43 base64url characters");
        }
        Some(c) => c.to_string(),
    };

    let state = match get("state") {
        Some(s) if s.chars().count() > MAX_STATE_CHARS => {
            return refuse(ErrorCode::InvalidRequest, "state must be at most 1024 characters");
        }
        s => s.map(str::to_string),
    };

    let (scopes, dropped_scopes) = match get("scope") {
        Some(s) if s.chars().count() > MAX_SCOPE_CHARS => {
            return refuse(ErrorCode::InvalidRequest, "scope must be at most 1000 characters");
        }
        Some(s) => filter_scopes(s, rules),
        None => (Vec::new(), Vec::new()),
    };

    let resource = match get("resource") {
        Some(r) => Some(validate_resource(r, rules.allowed_resources)?),
        None => None,
    };

    let prompt_none = get("prompt").is_some_and(|p| p.split(' ').any(|v| v == "none"));

    Ok(ValidatedRequest { state, code_challenge, scopes, dropped_scopes, resource, prompt_none })
}

/// Split on spaces; keep tokens that are supported and (when the client has a registered scope) inside it.
/// Returns (granted, dropped), both de-duplicated in request order.
fn filter_scopes(scope: &str, rules: &RequestRules) -> (Vec<String>, Vec<String>) {
    let mut granted: Vec<String> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        let supported = rules.supported_scopes.iter().any(|s| s == token);
        let client_allows = rules.client_scope.is_none_or(|cs| cs.split(' ').any(|s| s == token));
        let list = if supported && client_allows { &mut granted } else { &mut dropped };
        if !list.iter().any(|t| t == token) {
            list.push(token.to_string());
        }
    }
    (granted, dropped)
}

/// RFC 8707 resource indicator: ≤ 2000 characters, no `#`, no whitespace, control characters or `\`, raw text
/// starting with `https://` or `http://` (lower case) then a non-empty authority, parsing (url crate) as an
/// absolute http(s) URI with a host, and one of `allowed` (exact string) when `allowed` is non-empty. Returned verbatim.
fn validate_resource(resource: &str, allowed: &[String]) -> Result<String, (ErrorCode, String)> {
    if resource.chars().count() > MAX_RESOURCE_CHARS {
        return refuse(ErrorCode::InvalidTarget, "resource must be at most 2000 characters");
    }
    if resource.contains('#') {
        return refuse(ErrorCode::InvalidTarget, "resource must not contain a fragment");
    }
    // The url crate silently strips tabs/newlines and trims spaces/controls; refuse them instead.
    if resource.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse(ErrorCode::InvalidTarget, "resource must not contain whitespace or control characters");
    }
    // Check the raw text too, so the stored string means what the url crate parsed: WHATWG parsing would read
    // `http:///path` as host `path`, `\` as `/`, and fold the scheme's case.
    let after_scheme = resource.strip_prefix("https://").or_else(|| resource.strip_prefix("http://"));
    let Some(after_scheme) = after_scheme else {
        return refuse(ErrorCode::InvalidTarget, "resource must be an absolute URI starting with https:// or http://");
    };
    if after_scheme.is_empty() || after_scheme.starts_with(['/', '?']) || resource.contains('\\') {
        return refuse(ErrorCode::InvalidTarget, "resource must be an absolute URI with a host");
    }
    let Ok(url) = url::Url::parse(resource) else {
        return refuse(ErrorCode::InvalidTarget, "resource must be an absolute URI");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse(ErrorCode::InvalidTarget, "resource must be an http or https URI");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return refuse(ErrorCode::InvalidTarget, "resource must have a host");
    }
    if !allowed.is_empty() && !allowed.iter().any(|a| a == resource) {
        return refuse(ErrorCode::InvalidTarget, "resource is not an allowed resource for this server");
    }
    Ok(resource.to_string())
}

// ------------------------------------------------------------------------------------------------
// PKCE (RFC 7636)
// ------------------------------------------------------------------------------------------------

/// Exactly 43 base64url characters `[A-Za-z0-9_-]` (the S256 challenge of RFC 7636 §4.2, unpadded).
pub fn is_valid_code_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub fn is_valid_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// BASE64URL-NOPAD(SHA256(ASCII(verifier))).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

/// The verifier is valid and its S256 challenge equals `challenge` (compared in constant time; the length is
/// not secret).
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !is_valid_code_verifier(verifier) {
        return false;
    }
    crate::secrets::constant_time_eq(&s256_challenge(verifier), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn base_params() -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("response_type".into(), "code".into());
        m.insert("client_id".into(), "c1".into());
        m.insert("code_challenge".into(), CHALLENGE.into());
        m.insert("code_challenge_method".into(), "S256".into());
        m
    }

    fn with(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m = base_params();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    fn without(name: &str) -> BTreeMap<String, String> {
        let mut m = base_params();
        m.remove(name);
        m
    }

    fn run(params: &BTreeMap<String, String>) -> Result<ValidatedRequest, (ErrorCode, String)> {
        let supported = strings(&["openid", "read", "write"]);
        validate_request(
            params,
            &RequestRules { supported_scopes: &supported, client_scope: None, allowed_resources: &[] },
        )
    }

    fn code_of(params: &BTreeMap<String, String>) -> ErrorCode {
        run(params).expect_err("expected a refusal").0
    }

    // ---- PKCE ----

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify_s256(VERIFIER, CHALLENGE));
        assert!(!verify_s256(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!verify_s256(VERIFIER, &CHALLENGE[..42]));
        assert!(!verify_s256(VERIFIER, ""));
    }

    #[test]
    fn verifier_lengths_and_charset() {
        assert!(!is_valid_code_verifier(&"a".repeat(42)));
        assert!(is_valid_code_verifier(&"a".repeat(43)));
        assert!(is_valid_code_verifier(&"a".repeat(128)));
        assert!(!is_valid_code_verifier(&"a".repeat(129)));
        assert!(is_valid_code_verifier(&format!("{}-._~Z9", "a".repeat(40))));
        assert!(!is_valid_code_verifier(&format!("{}+", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{}/", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{} ", "a".repeat(42))));
        assert!(!is_valid_code_verifier(&format!("{}é", "a".repeat(42))));
        assert!(!is_valid_code_verifier(""));
        // an invalid verifier never verifies, even against its own hash
        let bad = format!("{}+", "a".repeat(42));
        assert!(!verify_s256(&bad, &s256_challenge(&bad)));
        let short = "a".repeat(42);
        assert!(!verify_s256(&short, &s256_challenge(&short)));
    }

    #[test]
    fn challenge_shape() {
        assert!(is_valid_code_challenge(CHALLENGE));
        assert!(!is_valid_code_challenge(&CHALLENGE[..42]));
        assert!(!is_valid_code_challenge(&format!("{CHALLENGE}A")));
        assert!(!is_valid_code_challenge(&format!("{}+", &CHALLENGE[..42])));
        assert!(!is_valid_code_challenge(&format!("{}/", &CHALLENGE[..42])));
        assert!(!is_valid_code_challenge(&format!("{}=", &CHALLENGE[..42])));
        assert!(!is_valid_code_challenge(""));
    }

    // ---- query parsing ----

    #[test]
    fn parse_simple() {
        let m = parse_query("a=1&b=2").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "2");
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn parse_repeated() {
        assert_eq!(parse_query("a=1&a=2"), Err(QueryError::RepeatedParameter("a".into())));
        assert_eq!(parse_query("a=1&b=2&a=1"), Err(QueryError::RepeatedParameter("a".into())));
        // names are compared after decoding
        assert_eq!(parse_query("state=1&st%61te=2"), Err(QueryError::RepeatedParameter("state".into())));
        // empty values still count for repetition
        assert_eq!(parse_query("state=&state=x"), Err(QueryError::RepeatedParameter("state".into())));
        assert_eq!(parse_query("state&state=x"), Err(QueryError::RepeatedParameter("state".into())));
        assert_eq!(parse_query("state=x&state="), Err(QueryError::RepeatedParameter("state".into())));
    }

    #[test]
    fn parse_decoding() {
        let m = parse_query("scope=openid+read&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&x=a%2Bb&y=%C3%A9").unwrap();
        assert_eq!(m["scope"], "openid read");
        assert_eq!(m["redirect_uri"], "http://localhost/cb");
        assert_eq!(m["x"], "a+b");
        assert_eq!(m["y"], "é");
        let m = parse_query("a%20b=c%3Dd&e=f=g").unwrap();
        assert_eq!(m["a b"], "c=d");
        assert_eq!(m["e"], "f=g");
        // lower-case hex digits
        assert_eq!(parse_query("a=%2f").unwrap()["a"], "/");
        // a '%' not followed by two hex digits stays literal
        let m = parse_query("a=100%&b=%zz&c=%4").unwrap();
        assert_eq!(m["a"], "100%");
        assert_eq!(m["b"], "%zz");
        assert_eq!(m["c"], "%4");
    }

    #[test]
    fn parse_malformed_utf8() {
        assert_eq!(parse_query("a=%FF"), Err(QueryError::Malformed));
        assert_eq!(parse_query("a=%C3"), Err(QueryError::Malformed));
        assert_eq!(parse_query("%80=x"), Err(QueryError::Malformed));
    }

    #[test]
    fn parse_empty_values_are_absent() {
        let m = parse_query("state=&scope&a=1&&").unwrap();
        assert!(!m.contains_key("state"));
        assert!(!m.contains_key("scope"));
        assert_eq!(m.len(), 1);
        // empty names are ignored
        assert!(parse_query("=x&=y").unwrap().is_empty());
    }

    #[test]
    fn repeated_parameter_codes() {
        assert_eq!(repeated_parameter_error("resource").0, ErrorCode::InvalidTarget);
        assert_eq!(repeated_parameter_error("state").0, ErrorCode::InvalidRequest);
        assert_eq!(repeated_parameter_error("scope").0, ErrorCode::InvalidRequest);
    }

    // ---- redirect URIs ----

    #[test]
    fn redirect_exact() {
        assert!(redirect_uri_matches("https://a.example/cb", "https://a.example/cb"));
        assert!(redirect_uri_matches("com.example.app:/cb", "com.example.app:/cb"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://A.example/cb"));
        assert!(!redirect_uri_matches("https://a.example/cb", "HTTPS://a.example/cb"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://a.example/CB"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://a.example/cb2"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://a.example/cb/"));
        assert!(!redirect_uri_matches("https://a.example/cb/", "https://a.example/cb"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://a.example/cb?x=1"));
        assert!(!redirect_uri_matches("https://a.example/cb?x=1", "https://a.example/cb?x=2"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://a.example/%63b"));
        assert!(!redirect_uri_matches("https://a.example/cb", "https://a.example:443/cb"));
        assert!(!redirect_uri_matches("https://a.example:8443/cb", "https://a.example:9443/cb"));
        assert!(!redirect_uri_matches("https://a.example/", "https://a.example"));
    }

    #[test]
    fn redirect_loopback_ports() {
        assert!(redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
        assert!(redirect_uri_matches("http://localhost:3000/cb", "http://localhost/cb"));
        assert!(redirect_uri_matches("http://localhost:3000/cb", "http://localhost:9/cb"));
        assert!(redirect_uri_matches("http://[::1]:1/x", "http://[::1]:2/x"));
        assert!(redirect_uri_matches("http://[::1]/x", "http://[::1]:65535/x"));
        assert!(redirect_uri_matches("http://127.0.0.1/", "http://127.0.0.1:33418/"));
        assert!(redirect_uri_matches("http://127.0.0.1/", "http://127.0.0.1:33418"));
        assert!(redirect_uri_matches("http://127.0.0.1", "http://127.0.0.1:33418/"));
        assert!(redirect_uri_matches("http://127.0.0.1/?a=1", "http://127.0.0.1:5?a=1"));
        assert!(redirect_uri_matches("http://127.0.0.1/cb?a=1", "http://127.0.0.1:5/cb?a=1"));
    }

    #[test]
    fn redirect_loopback_refusals() {
        // host text must be identical
        assert!(!redirect_uri_matches("http://localhost/cb", "http://127.0.0.1/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://localhost/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://[::1]/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://LOCALHOST:5/cb"));
        // scheme must be http on both sides
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "https://127.0.0.1/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "https://127.0.0.1:5/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "HTTP://127.0.0.1:5/cb"));
        assert!(!redirect_uri_matches("https://127.0.0.1/cb", "https://127.0.0.1:5/cb"));
        // path and query exact
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb/"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:5/CB"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb?x=1"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5/cb?x=2"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/", "http://127.0.0.1:5/?"));
        // look-alike hosts
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1.evil.com/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1.evil.com:80/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://localhost.evil.com/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://localhost@evil.com/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://localhost:80@evil.com/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://evil.com@localhost/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://localhost\\@evil.com/cb"));
        assert!(!redirect_uri_matches("http://localhost/cb", "http://localhost:1\\@evil.com/cb"));
        assert!(!redirect_uri_matches("http://[::1]/cb", "http://[::1]evil/cb"));
        assert!(!redirect_uri_matches("http://[::1]/cb", "http://[::1]:/cb"));
        // fragments
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:5/cb#x"));
        // weird ports are refused: not 1-5 digits, out of range, zero, or an empty port after ':'
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:abc/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:65536/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:123456/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:+80/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:80:81/cb"));
        assert!(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1: 80/cb"));
        // ...also on the registered side (then only an exact match works)
        assert!(!redirect_uri_matches("http://127.0.0.1:abc/cb", "http://127.0.0.1:5/cb"));
        assert!(redirect_uri_matches("http://127.0.0.1:abc/cb", "http://127.0.0.1:abc/cb"));
        // a non-loopback http registration is exact-only
        assert!(!redirect_uri_matches("http://a.example/cb", "http://a.example:8080/cb"));
    }

    #[test]
    fn find_registered() {
        let reg = strings(&["https://a.example/cb", "http://127.0.0.1/cb", "http://localhost:8000/cb"]);
        assert_eq!(find_registered_redirect(&reg, "https://a.example/cb"), Some(&reg[0]));
        assert_eq!(find_registered_redirect(&reg, "http://127.0.0.1:4000/cb"), Some(&reg[1]));
        assert_eq!(find_registered_redirect(&reg, "http://localhost:8000/cb"), Some(&reg[2]));
        assert_eq!(find_registered_redirect(&reg, "http://localhost/cb"), Some(&reg[2]));
        assert_eq!(find_registered_redirect(&reg, "http://[::1]/cb"), None);
        assert_eq!(find_registered_redirect(&reg, "https://a.example/cb/"), None);
        assert_eq!(find_registered_redirect(&[], "https://a.example/cb"), None);
        // an exact match is preferred over an earlier port-flexible one
        let reg = strings(&["http://127.0.0.1:1/cb", "http://127.0.0.1:2/cb"]);
        assert_eq!(find_registered_redirect(&reg, "http://127.0.0.1:2/cb"), Some(&reg[1]));
        assert_eq!(find_registered_redirect(&reg, "http://127.0.0.1:3/cb"), Some(&reg[0]));
    }

    #[test]
    fn loopback_and_private_use_classification() {
        assert!(is_loopback_redirect("http://localhost/cb"));
        assert!(is_loopback_redirect("http://127.0.0.1:8080/cb"));
        assert!(is_loopback_redirect("http://[::1]"));
        assert!(is_loopback_redirect("http://localhost?x=1"));
        assert!(!is_loopback_redirect("https://localhost/cb"));
        assert!(!is_loopback_redirect("HTTP://localhost/cb"));
        assert!(!is_loopback_redirect("http://127.0.0.2/cb"));
        assert!(!is_loopback_redirect("http://localhost.evil.com/cb"));
        assert!(!is_loopback_redirect("http://user@localhost/cb"));
        assert!(!is_loopback_redirect("http://localhost/cb#frag"));
        assert!(!is_loopback_redirect("http://localhost:/cb"));
        assert!(!is_loopback_redirect("http://[::1/cb"));
        assert!(!is_loopback_redirect("com.example.app:/cb"));

        assert!(is_private_use_redirect("com.example.app:/oauth2redirect"));
        assert!(is_private_use_redirect("myapp://cb"));
        assert!(is_private_use_redirect("x-y+z.1:cb"));
        assert!(!is_private_use_redirect("http://localhost/cb"));
        assert!(!is_private_use_redirect("https://a.example/cb"));
        assert!(!is_private_use_redirect("HTTPS://a.example/cb"));
        assert!(!is_private_use_redirect("Http://a.example/cb"));
        assert!(!is_private_use_redirect("no-scheme"));
        assert!(!is_private_use_redirect(":/cb"));
        assert!(!is_private_use_redirect("1app:/cb"));
        assert!(!is_private_use_redirect("my app:/cb"));
        assert!(!is_private_use_redirect(""));
    }

    // ---- validate_request ----

    #[test]
    fn minimal_valid_request() {
        let v = run(&base_params()).unwrap();
        assert_eq!(
            v,
            ValidatedRequest {
                state: None,
                code_challenge: CHALLENGE.into(),
                scopes: vec![],
                dropped_scopes: vec![],
                resource: None,
                prompt_none: false,
            }
        );
    }

    #[test]
    fn full_valid_request_from_query() {
        let q = format!(
            "response_type=code&client_id=c1&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcb&code_challenge={CHALLENGE}\
             &code_challenge_method=S256&state=xyz+%26+more&scope=openid+read&resource=https%3A%2F%2Fapi.example%2F\
             &prompt=login&unknown=ignored"
        );
        let v = run(&parse_query(&q).unwrap()).unwrap();
        assert_eq!(v.state.as_deref(), Some("xyz & more"));
        assert_eq!(v.scopes, strings(&["openid", "read"]));
        assert!(v.dropped_scopes.is_empty());
        assert_eq!(v.resource.as_deref(), Some("https://api.example/"));
        assert!(!v.prompt_none);
    }

    #[test]
    fn response_type_rules() {
        assert_eq!(code_of(&without("response_type")), ErrorCode::InvalidRequest);
        assert_eq!(code_of(&with(&[("response_type", "token")])), ErrorCode::UnsupportedResponseType);
        assert_eq!(code_of(&with(&[("response_type", "code id_token")])), ErrorCode::UnsupportedResponseType);
        assert_eq!(code_of(&with(&[("response_type", "Code")])), ErrorCode::UnsupportedResponseType);
        // an empty value is absent
        let q = format!("response_type=&code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert_eq!(code_of(&parse_query(&q).unwrap()), ErrorCode::InvalidRequest);
    }

    #[test]
    fn pkce_parameter_rules() {
        let (code, desc) = run(&without("code_challenge_method")).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(desc.contains("S256"));
        let (code, desc) = run(&with(&[("code_challenge_method", "plain")])).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(desc.contains("S256"));
        assert_eq!(code_of(&with(&[("code_challenge_method", "s256")])), ErrorCode::InvalidRequest);
        assert_eq!(code_of(&without("code_challenge")), ErrorCode::InvalidRequest);
        assert_eq!(code_of(&with(&[("code_challenge", &CHALLENGE[..42])])), ErrorCode::InvalidRequest);
        assert_eq!(code_of(&with(&[("code_challenge", &format!("{CHALLENGE}x"))])), ErrorCode::InvalidRequest);
        let plus = format!("{}+", &CHALLENGE[..42]);
        assert_eq!(code_of(&with(&[("code_challenge", &plus)])), ErrorCode::InvalidRequest);
        // `+` in a raw query decodes to a space, which is also refused
        let q = format!("response_type=code&code_challenge={plus}&code_challenge_method=S256");
        assert_eq!(code_of(&parse_query(&q).unwrap()), ErrorCode::InvalidRequest);
    }

    #[test]
    fn state_rules() {
        let s = "é".repeat(1024);
        assert_eq!(run(&with(&[("state", &s)])).unwrap().state.as_deref(), Some(s.as_str()));
        assert_eq!(code_of(&with(&[("state", &"a".repeat(1025))])), ErrorCode::InvalidRequest);
        let odd = "a b+c/=%&\"<>";
        assert_eq!(run(&with(&[("state", odd)])).unwrap().state.as_deref(), Some(odd));
    }

    #[test]
    fn scope_length() {
        let long = format!("read {}", "x".repeat(996));
        assert_eq!(long.len(), 1001);
        let (code, desc) = run(&with(&[("scope", &long)])).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(desc.contains("1000"));
        let ok = format!("read {}", "x".repeat(995));
        assert_eq!(run(&with(&[("scope", &ok)])).unwrap().scopes, strings(&["read"]));
    }

    #[test]
    fn scope_dropping_against_supported() {
        let v = run(&with(&[("scope", "read  admin openid read admin write")])).unwrap();
        assert_eq!(v.scopes, strings(&["read", "openid", "write"]));
        assert_eq!(v.dropped_scopes, strings(&["admin"]));
        let v = run(&with(&[("scope", "READ")])).unwrap();
        assert!(v.scopes.is_empty());
        assert_eq!(v.dropped_scopes, strings(&["READ"]));
        let v = run(&with(&[("scope", "   ")])).unwrap();
        assert!(v.scopes.is_empty() && v.dropped_scopes.is_empty());
    }

    #[test]
    fn scope_dropping_against_client_scope() {
        let supported = strings(&["openid", "read", "write"]);
        let params = with(&[("scope", "openid write read other")]);
        let rules =
            RequestRules { supported_scopes: &supported, client_scope: Some("read openid"), allowed_resources: &[] };
        let v = validate_request(&params, &rules).unwrap();
        assert_eq!(v.scopes, strings(&["openid", "read"]));
        assert_eq!(v.dropped_scopes, strings(&["write", "other"]));
        // a registered scope outside the supported ones is still dropped
        let rules = RequestRules { supported_scopes: &supported, client_scope: Some("other"), allowed_resources: &[] };
        let v = validate_request(&params, &rules).unwrap();
        assert!(v.scopes.is_empty());
        assert_eq!(v.dropped_scopes, strings(&["openid", "write", "read", "other"]));
        // an empty registered scope allows nothing
        let rules = RequestRules { supported_scopes: &supported, client_scope: Some(""), allowed_resources: &[] };
        assert!(validate_request(&params, &rules).unwrap().scopes.is_empty());
    }

    #[test]
    fn resource_rules_without_allow_list() {
        let ok = |r: &str| run(&with(&[("resource", r)])).map(|v| v.resource);
        assert_eq!(ok("https://api.example/"), Ok(Some("https://api.example/".into())));
        assert_eq!(ok("http://api.example:8080/v1?x=1"), Ok(Some("http://api.example:8080/v1?x=1".into())));
        assert_eq!(ok("https://API.example"), Ok(Some("https://API.example".into())));
        for bad in [
            "https://api.example/#",
            "https://api.example/#frag",
            "https://api.example/a#b",
            "/relative",
            "api.example",
            "urn:example:api",
            "ftp://api.example/",
            "mailto:a@example.com",
            "https://",
            "http:///path",
            "https://api .example/",
            "https://api.example/\n",
            " https://api.example/",
            "https://api.example/\t",
            "HTTPS://api.example/",
            "https:api.example",
            "https:/api.example",
            "https://?x",
            "https://\\evil.example/",
            "https://api.example\\@evil.example/",
            "https://:443/",
        ] {
            let res = run(&with(&[("resource", bad)]));
            assert_eq!(res.map_err(|e| e.0), Err(ErrorCode::InvalidTarget), "{bad:?}");
        }
        let long = format!("https://api.example/{}", "a".repeat(2000 - 20));
        assert_eq!(long.len(), 2000);
        assert!(ok(&long).is_ok());
        let too_long = format!("{long}a");
        assert_eq!(code_of(&with(&[("resource", &too_long)])), ErrorCode::InvalidTarget);
    }

    #[test]
    fn resource_rules_with_allow_list() {
        let supported = strings(&["read"]);
        let allowed = strings(&["https://api.example/", "https://other.example/v1"]);
        let rules = RequestRules { supported_scopes: &supported, client_scope: None, allowed_resources: &allowed };
        let check = |r: &str| validate_request(&with(&[("resource", r)]), &rules).map(|v| v.resource).map_err(|e| e.0);
        assert_eq!(check("https://api.example/"), Ok(Some("https://api.example/".into())));
        assert_eq!(check("https://other.example/v1"), Ok(Some("https://other.example/v1".into())));
        // string compare, no normalisation
        assert_eq!(check("https://api.example"), Err(ErrorCode::InvalidTarget));
        assert_eq!(check("https://API.example/"), Err(ErrorCode::InvalidTarget));
        assert_eq!(check("https://other.example/v1/"), Err(ErrorCode::InvalidTarget));
        assert_eq!(check("https://evil.example/"), Err(ErrorCode::InvalidTarget));
        // no resource at all is fine
        assert_eq!(validate_request(&base_params(), &rules).unwrap().resource, None);
    }

    #[test]
    fn repeated_resource_from_query() {
        let q = "resource=https%3A%2F%2Fa.example%2F&resource=https%3A%2F%2Fb.example%2F";
        let Err(QueryError::RepeatedParameter(name)) = parse_query(q) else { panic!("expected a repetition") };
        assert_eq!(repeated_parameter_error(&name).0, ErrorCode::InvalidTarget);
    }

    #[test]
    fn prompt_rules() {
        assert!(run(&with(&[("prompt", "none")])).unwrap().prompt_none);
        assert!(run(&with(&[("prompt", "login none")])).unwrap().prompt_none);
        assert!(!run(&with(&[("prompt", "login consent")])).unwrap().prompt_none);
        assert!(!run(&with(&[("prompt", "nonesuch")])).unwrap().prompt_none);
        assert!(!run(&with(&[("prompt", "NONE")])).unwrap().prompt_none);
    }

    #[test]
    fn unknown_parameters_ignored() {
        assert!(run(&with(&[("foo", "bar"), ("nonce", "n"), ("code_challenge_methods", "plain")])).is_ok());
    }

    #[test]
    fn no_panics_on_odd_inputs() {
        let odd = [
            "",
            "%",
            "%%",
            "%%%",
            "%2",
            "%G0",
            "%C3%28",
            "=",
            "==",
            "&",
            "&&&=&",
            "+",
            "a=%",
            "a=%F",
            "é=ü",
            "\u{0}",
            "http://",
            "http://[",
            "http://[]",
            "http://[::1",
            "http://[::1]:",
            "http://[::1]]:80",
            "http://:80",
            "http://localhost:",
            "http://localhost:99999999999999999999/",
            "http://127.0.0.1:٣/cb",
            "http://127.0.0.1:𝟗/cb",
            "http://localhost/é",
            "http://localhost?",
            "http://localhost#",
            ":",
            "::::",
            "a:",
            "é:",
            "https://[::1]/",
            "https://xn--/",
            "https://é.example/",
            "https://a.example:99999/",
            "https://%zz/",
            "\u{feff}https://a.example/",
        ];
        let supported = strings(&["read"]);
        let allowed = strings(&["https://a.example/"]);
        for s in odd {
            let _ = parse_query(s);
            let _ = is_loopback_redirect(s);
            let _ = is_private_use_redirect(s);
            let _ = is_valid_code_challenge(s);
            let _ = is_valid_code_verifier(s);
            let _ = s256_challenge(s);
            let _ = verify_s256(s, s);
            let _ = repeated_parameter_error(s);
            for t in odd {
                let _ = redirect_uri_matches(s, t);
            }
            let _ = find_registered_redirect(&strings(&odd), s);
            for name in ["response_type", "code_challenge", "code_challenge_method", "state", "scope", "resource"] {
                let params = with(&[(name, s), ("prompt", s)]);
                for allowed_resources in [&[][..], &allowed[..]] {
                    let rules = RequestRules { supported_scopes: &supported, client_scope: Some(s), allowed_resources };
                    let _ = validate_request(&params, &rules);
                }
            }
        }
    }
}
