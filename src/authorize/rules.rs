//! Protocol rules of the authorization endpoint (`GET /authorize`, RFC 6749 §4.1.1, RFC 8707):
//! which parameters a request must carry and what they may hold.
//!
//! Pure functions only: no web framework, no database. Plain values in, plain results out. The
//! query is decoded by `oauth::query`, redirect URIs are matched by `oauth::redirect_uri`, PKCE
//! is `oauth::pkce`.

use std::collections::BTreeMap;

use crate::oauth::error::ErrorCode;
use crate::oauth::pkce::is_valid_code_challenge;

/// Maximum length of `state`, in characters.
pub const MAX_STATE_CHARS: usize = 1_024;
/// Maximum length of `scope`, in characters.
pub const MAX_SCOPE_CHARS: usize = 1_000;
/// Maximum length of `resource`, in characters.
pub const MAX_RESOURCE_CHARS: usize = 2_000;
/// Maximum length of the OpenID Connect `nonce`, in characters (SPEC §10).
pub const MAX_NONCE_CHARS: usize = 512;
/// The `prompt` values understood (OpenID Connect Core §3.1.2.1).
const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

/// The error for a repeated parameter: `invalid_target` for `resource` (RFC 8707 §2), `invalid_request`
/// for any other parameter (RFC 6749 §4.1.2.1).
pub fn repeated_parameter_error(name: &str) -> (ErrorCode, String) {
    if name == "resource" {
        (ErrorCode::InvalidTarget, "only one 'resource' parameter is supported per request".to_string())
    } else {
        (ErrorCode::InvalidRequest, format!("parameter '{}' must not be repeated", crate::text::echo(name)))
    }
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
    /// `prompt=login`: sign in afresh whatever session there is.
    pub prompt_login: bool,
    /// The `prompt` values as sent (de-duplicated, space-separated), for the sign-in sources.
    pub prompt: Option<String>,
    /// OpenID Connect `nonce`, echoed in the id_token.
    pub nonce: Option<String>,
    /// OpenID Connect `max_age`: a session older than this many seconds signs in again.
    pub max_age: Option<i64>,
}

fn refuse<T>(code: ErrorCode, description: &str) -> Result<T, (ErrorCode, String)> {
    Err((code, description.to_string()))
}

/// Validate every parameter other than `client_id` and `redirect_uri` (which the caller has already verified).
/// `params` comes from [`parse_query`]. Errors carry the RFC 6749 §4.1.2.1 code and a description.
///
/// Checks run in this order: response_type, code_challenge_method, code_challenge, state, scope, resource,
/// prompt, nonce, max_age.
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

    let prompt = match get("prompt") {
        Some(p) => Some(validate_prompt(p)?),
        None => None,
    };
    let has_prompt = |value: &str| prompt.as_ref().is_some_and(|values| values.iter().any(|v| v == value));
    let (prompt_none, prompt_login) = (has_prompt("none"), has_prompt("login"));

    let nonce = match get("nonce") {
        Some(n) if n.chars().count() > MAX_NONCE_CHARS => {
            return refuse(ErrorCode::InvalidRequest, "nonce must be at most 512 characters");
        }
        Some("") => None,
        n => n.map(str::to_string),
    };

    let max_age = match get("max_age") {
        Some(m) => Some(parse_max_age(m)?),
        None => None,
    };

    Ok(ValidatedRequest {
        state,
        code_challenge,
        scopes,
        dropped_scopes,
        resource,
        prompt_none,
        prompt_login,
        prompt: prompt.map(|values| values.join(" ")),
        nonce,
        max_age,
    })
}

/// `prompt`: space-separated values among `none`, `login`, `consent`, `select_account`, and
/// `none` alone (OpenID Connect Core §3.1.2.1). Returns the values, de-duplicated.
fn validate_prompt(prompt: &str) -> Result<Vec<String>, (ErrorCode, String)> {
    let mut values: Vec<String> = Vec::new();
    for value in prompt.split(' ').filter(|v| !v.is_empty()) {
        if !PROMPT_VALUES.contains(&value) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("prompt value '{}' is not supported", crate::text::echo(value)),
            ));
        }
        if !values.iter().any(|v| v == value) {
            values.push(value.to_string());
        }
    }
    if values.iter().any(|v| v == "none") && values.len() > 1 {
        return refuse(ErrorCode::InvalidRequest, "prompt=none cannot be combined with other prompt values");
    }
    Ok(values)
}

/// `max_age`: a non-negative integer number of seconds, digits only.
fn parse_max_age(value: &str) -> Result<i64, (ErrorCode, String)> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(ErrorCode::InvalidRequest, "max_age must be a non-negative integer (seconds)");
    }
    // Beyond i64 is "any session will do".
    Ok(value.parse::<i64>().unwrap_or(i64::MAX))
}

/// Whether a request must sign in afresh at its source instead of using the browser's session
/// (SPEC §10): `prompt=login`, or a session that signed in longer ago than `max_age` (`max_age=0`
/// always: OpenID Connect Core treats it like `prompt=login`). Without a session, any
/// `prompt=login` or `max_age` still asks it of the source: an upstream provider or the app
/// could otherwise answer from a sign-in of its own older than asked for, while the id_token's
/// `auth_time` would say "now".
pub fn needs_fresh_sign_in(prompt_login: bool, max_age: Option<i64>, session_auth_time: Option<i64>, now: i64) -> bool {
    if prompt_login {
        return true;
    }
    match (max_age, session_auth_time) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(max_age), Some(auth_time)) => max_age == 0 || now.saturating_sub(auth_time) > max_age,
    }
}

/// Whether a session may answer a pending request: any live session, unless the request must
/// sign in afresh — then only a sign-in made for this request (which names its user) after the
/// request began.
pub fn session_answers_request(
    fresh_sign_in: bool,
    request_created_at: i64,
    signed_in_for_request: bool,
    session_auth_time: i64,
) -> bool {
    !fresh_sign_in || (signed_in_for_request && session_auth_time >= request_created_at)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{pkce, query, redirect_uri};

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

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

    #[test]
    fn repeated_parameter_codes() {
        assert_eq!(repeated_parameter_error("resource").0, ErrorCode::InvalidTarget);
        assert_eq!(repeated_parameter_error("state").0, ErrorCode::InvalidRequest);
        assert_eq!(repeated_parameter_error("scope").0, ErrorCode::InvalidRequest);
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
                prompt_login: false,
                prompt: None,
                nonce: None,
                max_age: None,
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
        let v = run(&query::parse_query(&q).unwrap()).unwrap();
        assert_eq!(v.state.as_deref(), Some("xyz & more"));
        assert_eq!(v.scopes, strings(&["openid", "read"]));
        assert!(v.dropped_scopes.is_empty());
        assert_eq!(v.resource.as_deref(), Some("https://api.example/"));
        assert!(!v.prompt_none);
        assert!(v.prompt_login);
    }

    #[test]
    fn response_type_rules() {
        assert_eq!(code_of(&without("response_type")), ErrorCode::InvalidRequest);
        assert_eq!(code_of(&with(&[("response_type", "token")])), ErrorCode::UnsupportedResponseType);
        assert_eq!(code_of(&with(&[("response_type", "code id_token")])), ErrorCode::UnsupportedResponseType);
        assert_eq!(code_of(&with(&[("response_type", "Code")])), ErrorCode::UnsupportedResponseType);
        // an empty value is absent
        let q = format!("response_type=&code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert_eq!(code_of(&query::parse_query(&q).unwrap()), ErrorCode::InvalidRequest);
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
        assert_eq!(code_of(&query::parse_query(&q).unwrap()), ErrorCode::InvalidRequest);
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
        let Err(query::QueryError::RepeatedParameter(name)) = query::parse_query(q) else {
            panic!("expected a repetition")
        };
        assert_eq!(repeated_parameter_error(&name).0, ErrorCode::InvalidTarget);
    }

    #[test]
    fn prompt_rules() {
        let none = run(&with(&[("prompt", "none")])).unwrap();
        assert!(none.prompt_none && !none.prompt_login);
        let both = run(&with(&[("prompt", "login consent login")])).unwrap();
        assert!(!both.prompt_none && both.prompt_login);
        assert_eq!(both.prompt.as_deref(), Some("login consent"));
        assert!(!run(&with(&[("prompt", "consent")])).unwrap().prompt_login);
        assert!(run(&with(&[("prompt", "select_account")])).is_ok());
        // none with anything else, unknown values, other spellings: invalid_request.
        for bad in ["login none", "nonesuch", "NONE", "login,consent"] {
            assert_eq!(code_of(&with(&[("prompt", bad)])), ErrorCode::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn nonce_rules() {
        let at_limit = "n".repeat(MAX_NONCE_CHARS);
        assert_eq!(run(&with(&[("nonce", &at_limit)])).unwrap().nonce.as_deref(), Some(at_limit.as_str()));
        let over = "é".repeat(MAX_NONCE_CHARS + 1);
        assert_eq!(code_of(&with(&[("nonce", &over)])), ErrorCode::InvalidRequest);
        assert_eq!(run(&with(&[("nonce", "")])).unwrap().nonce, None);
        // Given twice: the query decoder refuses the repetition.
        let Err(query::QueryError::RepeatedParameter(name)) = query::parse_query("nonce=a&nonce=b") else {
            panic!("expected a repetition")
        };
        assert_eq!(repeated_parameter_error(&name).0, ErrorCode::InvalidRequest);
    }

    #[test]
    fn max_age_rules() {
        assert_eq!(run(&with(&[("max_age", "0")])).unwrap().max_age, Some(0));
        assert_eq!(run(&with(&[("max_age", "3600")])).unwrap().max_age, Some(3600));
        assert_eq!(run(&with(&[("max_age", "99999999999999999999999")])).unwrap().max_age, Some(i64::MAX));
        for bad in ["", "-1", "+5", "1.5", "1e3", " 5", "abc", "0x10"] {
            assert_eq!(code_of(&with(&[("max_age", bad)])), ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn fresh_sign_in_rules() {
        let now = 10_000;
        // No session: the source is still asked for a fresh sign-in.
        assert!(needs_fresh_sign_in(true, None, None, now));
        assert!(needs_fresh_sign_in(false, Some(3600), None, now));
        assert!(!needs_fresh_sign_in(false, None, None, now));
        assert!(needs_fresh_sign_in(true, None, Some(now), now));
        assert!(!needs_fresh_sign_in(false, None, Some(0), now));
        assert!(!needs_fresh_sign_in(false, Some(60), Some(now - 60), now));
        assert!(needs_fresh_sign_in(false, Some(60), Some(now - 61), now));
        assert!(needs_fresh_sign_in(false, Some(0), Some(now), now));
        assert!(!needs_fresh_sign_in(false, Some(i64::MAX), Some(0), now));

        assert!(session_answers_request(false, now, false, 0));
        assert!(!session_answers_request(true, now, true, now - 1));
        assert!(!session_answers_request(true, now, false, now), "a session from before, in the same second");
        assert!(session_answers_request(true, now, true, now));
    }

    #[test]
    fn unknown_parameters_ignored() {
        assert!(run(&with(&[("foo", "bar"), ("code_challenge_methods", "plain")])).is_ok());
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
            let _ = query::parse_query(s);
            let _ = query::first_value(s, s);
            let _ = redirect_uri::is_loopback(s);
            let _ = redirect_uri::is_private_use(s);
            let _ = redirect_uri::display_host(s);
            let _ = redirect_uri::normalised_host(s);
            let _ = pkce::is_valid_code_verifier(s);
            let _ = pkce::s256_challenge(s);
            let _ = pkce::verify_s256(s, s);
            let _ = repeated_parameter_error(s);
            for t in odd {
                let _ = redirect_uri::matches(s, t);
                let _ = redirect_uri::is_loopback_on(s, t);
            }
            let _ = redirect_uri::find_registered(&strings(&odd), s);
            for name in [
                "response_type",
                "code_challenge",
                "code_challenge_method",
                "state",
                "scope",
                "resource",
                "nonce",
                "max_age",
            ] {
                let params = with(&[(name, s), ("prompt", s)]);
                for allowed_resources in [&[][..], &allowed[..]] {
                    let rules = RequestRules { supported_scopes: &supported, client_scope: Some(s), allowed_resources };
                    let _ = validate_request(&params, &rules);
                }
            }
        }
    }
}
