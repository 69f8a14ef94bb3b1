//! RFC 7591 Dynamic Client Registration: the validation rules.
//!
//! Pure functions only: raw request bytes or a JSON object in, the metadata to
//! store (or the first refusal) out. Nothing here knows about HTTP frameworks
//! or storage, so the rules can be unit-tested case by case.
//!
//! Product contract in short: public clients only (`token_endpoint_auth_method`
//! is always `"none"`, no secrets), authorization code flow only, and redirect
//! URIs that are checked as the exact raw strings that will be stored, echoed
//! and later compared byte for byte.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use super::profiles;
use crate::config::{AuthMethodMismatch, Settings};
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::redirect_uri::{self, RedirectRules, MAX_URI_CHARS};
use crate::text::{echo, is_bidi_control};

/// Longest `client_name` accepted.
const MAX_CLIENT_NAME_CHARS: usize = 200;
/// Longest `software_id` / `software_version` accepted.
const MAX_SOFTWARE_CHARS: usize = 200;
/// Longest `scope` string accepted (the contract sets none; this keeps huge values out).
const MAX_SCOPE_CHARS: usize = 2000;
/// Most `contacts` entries accepted.
const MAX_CONTACTS: usize = 10;
/// Longest single contact accepted (the practical limit of an e-mail address).
const MAX_CONTACT_CHARS: usize = 320;

const DEFAULT_CLIENT_NAME: &str = "Registered client";
const AUTH_METHOD_NONE: &str = "none";
const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
const GRANT_REFRESH_TOKEN: &str = "refresh_token";
const RESPONSE_TYPE_CODE: &str = "code";
/// Longer than any registered `token_endpoint_auth_method` name.
const MAX_AUTH_METHOD_LEN: usize = 64;

/// Server configuration that the rules depend on.
#[derive(Debug, Clone)]
pub struct RegistrationRules {
    pub allow_https_redirect_uris: bool,
    pub allow_loopback_redirect_uris: bool,
    /// Exact lower-case scheme names, each accepted by [`redirect_uri::check_private_use_scheme`].
    pub private_use_schemes: Vec<String>,
    pub max_redirect_uris: usize,
    pub auth_method_mismatch: AuthMethodMismatch,
    pub supported_scopes: Vec<String>,
}

impl RegistrationRules {
    /// The registration rules in force, from the current settings (profiles included).
    pub fn from_settings(settings: &Settings) -> RegistrationRules {
        RegistrationRules {
            allow_https_redirect_uris: settings.dcr.allow_https_redirect_uris,
            allow_loopback_redirect_uris: settings.dcr.allow_loopback_redirect_uris,
            private_use_schemes: profiles::effective_private_use_schemes(settings),
            max_redirect_uris: settings.dcr.max_redirect_uris,
            auth_method_mismatch: settings.dcr.auth_method_mismatch,
            supported_scopes: profiles::effective_scopes(settings),
        }
    }

    /// The part of the rules that `oauth::redirect_uri` needs.
    pub fn redirect_rules(&self) -> RedirectRules<'_> {
        RedirectRules {
            allow_https: self.allow_https_redirect_uris,
            allow_loopback: self.allow_loopback_redirect_uris,
            private_use_schemes: &self.private_use_schemes,
        }
    }
}

/// RFC 7591 section 3.2.2 error codes used by the registration endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationErrorCode {
    InvalidRedirectUri,
    InvalidClientMetadata,
}

impl RegistrationErrorCode {
    /// The `error` value of the JSON error response.
    pub fn as_str(&self) -> &'static str {
        match self {
            RegistrationErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            RegistrationErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// A refusal: `code` and `description` map to `error` and `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationError {
    pub code: RegistrationErrorCode,
    pub description: String,
}

impl fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for RegistrationError {}

// ---------------------------------------------------------------------------
// Step 4: the request body
// ---------------------------------------------------------------------------

/// Step 4: parse the raw request body (bytes) into a JSON object.
///
/// Invalid UTF-8, an empty body, malformed JSON or a JSON value that is not an
/// object are refused with `InvalidClientMetadata`.
pub fn parse_request(body: &[u8]) -> Result<Map<String, Value>, RegistrationError> {
    let text = std::str::from_utf8(body).map_err(|_| metadata_error("request body is not valid UTF-8"))?;
    if text.trim().is_empty() {
        return Err(metadata_error("request body is empty; expected a JSON object"));
    }
    // serde_json's messages give line and column only, never the input itself.
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(metadata_error(format!("request body must be a JSON object, not {}", json_kind(&other)))),
        Err(e) => Err(metadata_error(format!("request body is not valid JSON: {e}"))),
    }
}

// ---------------------------------------------------------------------------
// Step 5: the rules
// ---------------------------------------------------------------------------

/// Step 5: apply every rule; returns the metadata to store, or the first refusal.
///
/// Unknown fields are ignored (and not echoed); a JSON `null` counts as absent.
pub fn validate(request: &Map<String, Value>, rules: &RegistrationRules) -> Result<ClientMetadata, RegistrationError> {
    refuse_client_secrets(request)?;
    let token_endpoint_auth_method = auth_method(request, rules)?;
    let grant_types = grant_types(request)?;
    let response_types = response_types(request)?;
    let redirect_uris = redirect_uris(request, rules)?;
    Ok(ClientMetadata {
        client_name: client_name(request)?,
        redirect_uris,
        grant_types,
        response_types,
        token_endpoint_auth_method,
        client_uri: https_uri_field(request, "client_uri")?,
        logo_uri: https_uri_field(request, "logo_uri")?,
        scope: scope(request, rules)?,
        software_id: plain_text_field(request, "software_id", MAX_SOFTWARE_CHARS)?,
        software_version: plain_text_field(request, "software_version", MAX_SOFTWARE_CHARS)?,
        contacts: contacts(request)?,
        application_type: application_type(request)?,
        id_token_signed_response_alg: id_token_signed_response_alg(request)?,
    })
}

/// A registration request carries no control character anywhere — not even in a field that is
/// ignored — like every other request value (U+0000 above all: PostgreSQL text cannot hold
/// it). Runs after [`validate`], so a known field gets its own message first. (A CIMD document
/// is not a request: its unknown fields are dropped unread, and every field that is kept has
/// passed [`validate`].)
pub fn refuse_control_characters(request: &Map<String, Value>) -> Result<(), RegistrationError> {
    match crate::text::json_control_path(&Value::Object(request.clone())) {
        None => Ok(()),
        Some(path) => Err(metadata_error(format!("{path} contains a control character"))),
    }
}

/// The server issues no secrets, so a client-chosen one is never accepted.
fn refuse_client_secrets(request: &Map<String, Value>) -> Result<(), RegistrationError> {
    for field in ["client_secret", "client_secret_expires_at"] {
        if field_value(request, field).is_some() {
            return Err(metadata_error(format!(
                "{field} must not be sent: this server registers public clients only, \
                 issues no client secrets and does not accept client-chosen secrets"
            )));
        }
    }
    Ok(())
}

fn auth_method(request: &Map<String, Value>, rules: &RegistrationRules) -> Result<String, RegistrationError> {
    let Some(method) = opt_str(request, "token_endpoint_auth_method")? else {
        return Ok(AUTH_METHOD_NONE.to_string());
    };
    if method == AUTH_METHOD_NONE {
        return Ok(AUTH_METHOD_NONE.to_string());
    }
    // Any other method, known to us or not, asks for a confidential client (SPEC §4.1); a value
    // not shaped like a method name (`NONE`, empty, spaces, huge) is a mistake to report.
    let method_shaped = method.len() <= MAX_AUTH_METHOD_LEN
        && method.starts_with(|c: char| c.is_ascii_lowercase())
        && method.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !method_shaped {
        return Err(metadata_error(format!(
            "token_endpoint_auth_method \"{}\" is not a method name; only \"none\" (public clients) is supported",
            echo(method)
        )));
    }
    match rules.auth_method_mismatch {
        AuthMethodMismatch::Downgrade => Ok(AUTH_METHOD_NONE.to_string()),
        AuthMethodMismatch::Reject => Err(metadata_error(format!(
            "token_endpoint_auth_method \"{}\" is not supported: \
             this server registers public clients only (token_endpoint_auth_method \"none\")",
            echo(method)
        ))),
    }
}

fn grant_types(request: &Map<String, Value>) -> Result<Vec<String>, RegistrationError> {
    let Some(requested) = opt_str_array(request, "grant_types")? else {
        return Ok(vec![GRANT_AUTHORIZATION_CODE.to_string(), GRANT_REFRESH_TOKEN.to_string()]);
    };
    let grants = dedup_keep_order(requested);
    if let Some(bad) = grants.iter().find(|g| **g != GRANT_AUTHORIZATION_CODE && **g != GRANT_REFRESH_TOKEN) {
        return Err(metadata_error(format!(
            "grant_types value \"{}\" is not supported; \
             allowed values are \"authorization_code\" and \"refresh_token\"",
            echo(bad)
        )));
    }
    if !grants.contains(&GRANT_AUTHORIZATION_CODE) {
        return Err(metadata_error("grant_types must include \"authorization_code\""));
    }
    Ok(to_owned_vec(grants))
}

fn response_types(request: &Map<String, Value>) -> Result<Vec<String>, RegistrationError> {
    let Some(requested) = opt_str_array(request, "response_types")? else {
        return Ok(vec![RESPONSE_TYPE_CODE.to_string()]);
    };
    let types = dedup_keep_order(requested);
    if let Some(bad) = types.iter().find(|t| **t != RESPONSE_TYPE_CODE) {
        return Err(metadata_error(format!(
            "response_types value \"{}\" is not supported; only \"code\" is allowed",
            echo(bad)
        )));
    }
    if types.is_empty() {
        return Err(metadata_error("response_types must be [\"code\"]"));
    }
    Ok(to_owned_vec(types))
}

fn redirect_uris(request: &Map<String, Value>, rules: &RegistrationRules) -> Result<Vec<String>, RegistrationError> {
    // A wrong JSON type is a metadata problem; everything about the URIs
    // themselves (missing, empty, too many, a bad URI) is invalid_redirect_uri.
    let Some(requested) = opt_str_array(request, "redirect_uris")? else {
        return Err(redirect_error("redirect_uris is required: register at least one redirect URI"));
    };
    let uris = dedup_keep_order(requested);
    if uris.is_empty() {
        return Err(redirect_error("redirect_uris must not be empty"));
    }
    if uris.len() > rules.max_redirect_uris {
        return Err(redirect_error(format!(
            "redirect_uris has {} distinct URIs; at most {} are allowed",
            uris.len(),
            rules.max_redirect_uris
        )));
    }
    for uri in &uris {
        redirect_uri::check(uri, &rules.redirect_rules()).map_err(redirect_error)?;
    }
    Ok(to_owned_vec(uris))
}

fn client_name(request: &Map<String, Value>) -> Result<String, RegistrationError> {
    let Some(name) = opt_str(request, "client_name")? else {
        return Ok(DEFAULT_CLIENT_NAME.to_string());
    };
    check_text("client_name", name, MAX_CLIENT_NAME_CHARS)?;
    // The name is shown on the consent screen: direction overrides could make
    // it display as something else than what was registered.
    if name.chars().any(is_bidi_control) {
        return Err(metadata_error(
            "client_name must not contain bidirectional control characters \
             (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)",
        ));
    }
    if name.trim().is_empty() {
        return Ok(DEFAULT_CLIENT_NAME.to_string());
    }
    Ok(name.to_string())
}

/// `client_uri` / `logo_uri`: an absolute https URI with a host, stored as sent.
fn https_uri_field(request: &Map<String, Value>, field: &str) -> Result<Option<String>, RegistrationError> {
    let Some(raw) = opt_str(request, field)? else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    check_len(field, raw, MAX_URI_CHARS)?;
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(metadata_error(format!("{field} must not contain control characters or spaces")));
    }
    let is_https_with_host = url::Url::parse(raw)
        .map(|url| url.scheme() == "https" && url.host_str().is_some_and(|h| !h.is_empty()))
        .unwrap_or(false);
    if !is_https_with_host {
        return Err(metadata_error(format!("{field} \"{}\" must be an absolute https URI with a host", echo(raw))));
    }
    Ok(Some(raw.to_string()))
}

/// Keeps only supported scopes, first-seen order, no duplicates.
fn scope(request: &Map<String, Value>, rules: &RegistrationRules) -> Result<Option<String>, RegistrationError> {
    let Some(raw) = opt_str(request, "scope")? else {
        return Ok(None);
    };
    check_len("scope", raw, MAX_SCOPE_CHARS)?;
    let supported = raw.split(' ').filter(|token| rules.supported_scopes.iter().any(|s| s == token));
    let kept = dedup_keep_order(supported.collect());
    Ok((!kept.is_empty()).then(|| kept.join(" ")))
}

/// `software_id` / `software_version`: short free text; empty counts as absent.
fn plain_text_field(
    request: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, RegistrationError> {
    let Some(value) = opt_str(request, field)? else {
        return Ok(None);
    };
    check_text(field, value, max_chars)?;
    Ok((!value.is_empty()).then(|| value.to_string()))
}

fn contacts(request: &Map<String, Value>) -> Result<Option<Vec<String>>, RegistrationError> {
    let Some(list) = opt_str_array(request, "contacts")? else {
        return Ok(None);
    };
    if list.len() > MAX_CONTACTS {
        return Err(metadata_error(format!("contacts has {} entries; at most {MAX_CONTACTS} are allowed", list.len())));
    }
    for (i, contact) in list.iter().enumerate() {
        check_text(&format!("contacts[{i}]"), contact, MAX_CONTACT_CHARS)?;
    }
    Ok((!list.is_empty()).then(|| to_owned_vec(list)))
}

fn application_type(request: &Map<String, Value>) -> Result<Option<String>, RegistrationError> {
    match opt_str(request, "application_type")? {
        None => Ok(None),
        Some(t @ ("web" | "native")) => Ok(Some(t.to_string())),
        Some(other) => Err(metadata_error(format!(
            "application_type \"{}\" is not supported; use \"web\" or \"native\"",
            echo(other)
        ))),
    }
}

/// OpenID Connect Registration §2: the id_token's JWS algorithm; Gatehouse signs RS256 (the
/// default) or ES256.
fn id_token_signed_response_alg(request: &Map<String, Value>) -> Result<Option<String>, RegistrationError> {
    match opt_str(request, "id_token_signed_response_alg")? {
        None => Ok(None),
        Some(alg @ ("RS256" | "ES256")) => Ok(Some(alg.to_string())),
        Some(other) => Err(metadata_error(format!(
            "id_token_signed_response_alg \"{}\" is not supported; use \"RS256\" or \"ES256\"",
            echo(other)
        ))),
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn metadata_error(description: impl Into<String>) -> RegistrationError {
    RegistrationError { code: RegistrationErrorCode::InvalidClientMetadata, description: description.into() }
}

fn redirect_error(description: impl Into<String>) -> RegistrationError {
    RegistrationError { code: RegistrationErrorCode::InvalidRedirectUri, description: description.into() }
}

/// A field's value, with JSON `null` treated as absent.
fn field_value<'a>(request: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    request.get(field).filter(|v| !v.is_null())
}

fn opt_str<'a>(request: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, RegistrationError> {
    match field_value(request, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(metadata_error(format!("{field} must be a string, not {}", json_kind(other)))),
    }
}

fn opt_str_array<'a>(request: &'a Map<String, Value>, field: &str) -> Result<Option<Vec<&'a str>>, RegistrationError> {
    let Some(value) = field_value(request, field) else {
        return Ok(None);
    };
    let wrong_type = || metadata_error(format!("{field} must be an array of strings"));
    let Value::Array(items) = value else {
        return Err(wrong_type());
    };
    items.iter().map(|item| item.as_str().ok_or_else(wrong_type)).collect::<Result<Vec<_>, _>>().map(Some)
}

fn check_len(field: &str, value: &str, max_chars: usize) -> Result<(), RegistrationError> {
    let len = value.chars().count();
    if len > max_chars {
        return Err(metadata_error(format!("{field} is {len} characters long; at most {max_chars} are allowed")));
    }
    Ok(())
}

/// Length limit plus no control characters: the common rule for free text.
fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), RegistrationError> {
    check_len(field, value, max_chars)?;
    if value.chars().any(char::is_control) {
        return Err(metadata_error(format!("{field} must not contain control characters")));
    }
    Ok(())
}

/// Removes later duplicates, keeping first-seen order.
fn dedup_keep_order(items: Vec<&str>) -> Vec<&str> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|item| seen.insert(*item)).collect()
}

fn to_owned_vec(items: Vec<&str>) -> Vec<String> {
    items.into_iter().map(str::to_string).collect()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::redirect_uri::check_private_use_scheme;
    use serde_json::json;

    // -- helpers -------------------------------------------------------------

    /// The registration-time check of one URI under these rules.
    fn check_redirect_uri(uri: &str, rules: &RegistrationRules) -> Result<(), String> {
        redirect_uri::check(uri, &rules.redirect_rules())
    }

    fn rules() -> RegistrationRules {
        RegistrationRules {
            allow_https_redirect_uris: true,
            allow_loopback_redirect_uris: true,
            private_use_schemes: vec![],
            max_redirect_uris: 5,
            auth_method_mismatch: AuthMethodMismatch::Downgrade,
            supported_scopes: vec!["mcp".to_string(), "openid".to_string()],
        }
    }

    fn rules_with_cursor() -> RegistrationRules {
        RegistrationRules { private_use_schemes: vec!["cursor".to_string()], ..rules() }
    }

    fn register(body: &str, rules: &RegistrationRules) -> Result<ClientMetadata, RegistrationError> {
        validate(&parse_request(body.as_bytes())?, rules)
    }

    fn accept(body: &str, rules: &RegistrationRules) -> ClientMetadata {
        match register(body, rules) {
            Ok(meta) => meta,
            Err(e) => panic!("expected {body} to be accepted, got {e}"),
        }
    }

    /// Asserts the refusal code, a non-empty description that mentions `needle`.
    fn refuse(body: &str, rules: &RegistrationRules, code: RegistrationErrorCode, needle: &str) {
        match register(body, rules) {
            Ok(meta) => panic!("expected {body} to be refused, got {meta:?}"),
            Err(e) => {
                assert_eq!(e.code, code, "wrong code for {body}: {e}");
                assert!(!e.description.is_empty(), "empty description for {body}");
                assert!(
                    e.description.contains(needle),
                    "description for {body} should mention {needle:?}: {}",
                    e.description
                );
            }
        }
    }

    fn body_with_uri(uri: &str) -> String {
        json!({ "redirect_uris": [uri] }).to_string()
    }

    fn uri_ok(uri: &str, rules: &RegistrationRules) {
        if let Err(e) = redirect_uri::check(uri, &rules.redirect_rules()) {
            panic!("expected {uri:?} to be accepted: {e}");
        }
        let meta = accept(&body_with_uri(uri), rules);
        assert_eq!(meta.redirect_uris, vec![uri.to_string()], "echoed exactly");
    }

    /// Refused both by redirect_uri::check and by validate (with invalid_redirect_uri).
    fn uri_refused(uri: &str, rules: &RegistrationRules, needle: &str) {
        match check_redirect_uri(uri, rules) {
            Ok(()) => panic!("expected {uri:?} to be refused"),
            Err(d) => assert!(d.contains(needle), "{uri:?}: {d:?} should mention {needle:?}"),
        }
        refuse(&body_with_uri(uri), rules, RegistrationErrorCode::InvalidRedirectUri, needle);
    }

    use RegistrationErrorCode::{InvalidClientMetadata, InvalidRedirectUri};

    // -- real clients ----------------------------------------------------------

    #[test]
    fn chatgpt_registration_is_accepted() {
        let meta = accept(
            r#"{"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}"#,
            &rules(),
        );
        assert_eq!(meta.client_name, "ChatGPT");
        assert_eq!(meta.redirect_uris, vec!["https://chatgpt.com/connector_platform_oauth_redirect"]);
        assert_eq!(meta.grant_types, vec!["authorization_code", "refresh_token"]);
        assert_eq!(meta.response_types, vec!["code"]);
        assert_eq!(meta.token_endpoint_auth_method, "none");
        assert_eq!(meta.scope, None);
    }

    const CLAUDE: &str = r#"{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post","scope":"claudeai"}"#;

    #[test]
    fn claude_is_downgraded_to_none_and_unsupported_scope_dropped() {
        let meta = accept(CLAUDE, &rules());
        assert_eq!(meta.client_name, "Claude");
        assert_eq!(meta.token_endpoint_auth_method, "none");
        assert_eq!(meta.scope, None);
        assert_eq!(meta.redirect_uris, vec!["https://claude.ai/api/mcp/auth_callback"]);
    }

    #[test]
    fn claude_scope_kept_when_supported() {
        let rules = RegistrationRules { supported_scopes: vec!["claudeai".to_string()], ..rules() };
        assert_eq!(accept(CLAUDE, &rules).scope.as_deref(), Some("claudeai"));
    }

    #[test]
    fn claude_refused_when_mismatch_is_reject() {
        let rules = RegistrationRules { auth_method_mismatch: AuthMethodMismatch::Reject, ..rules() };
        refuse(CLAUDE, &rules, InvalidClientMetadata, "client_secret_post");
        refuse(CLAUDE, &rules, InvalidClientMetadata, "\"none\"");
    }

    #[test]
    fn vscode_with_four_redirect_uris_is_accepted() {
        let uris = [
            "https://vscode.dev/redirect",
            "https://insiders.vscode.dev/redirect",
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/",
        ];
        let body = json!({
            "client_name": "Visual Studio Code",
            "redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        let meta = accept(&body.to_string(), &rules());
        assert_eq!(meta.redirect_uris, uris);
    }

    const CURSOR: &str = r#"{"client_name":"Cursor","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}"#;

    #[test]
    fn cursor_accepted_when_scheme_listed() {
        let meta = accept(CURSOR, &rules_with_cursor());
        assert_eq!(meta.redirect_uris, vec!["cursor://anysphere.cursor-mcp/oauth/callback"]);
    }

    #[test]
    fn cursor_refused_when_scheme_not_listed() {
        refuse(CURSOR, &rules(), InvalidRedirectUri, "cursor");
    }

    #[test]
    fn mcp_inspector_is_accepted_with_optional_metadata() {
        let body = json!({
            "client_name": "MCP Inspector",
            "client_uri": "https://github.com/modelcontextprotocol/inspector",
            "logo_uri": "https://example.com/logo.png",
            "redirect_uris": ["http://localhost:6274/oauth/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "mcp",
            "software_id": "mcp-inspector",
            "software_version": "0.16.2",
            "contacts": ["dev@example.com"],
            "application_type": "native",
        });
        let meta = accept(&body.to_string(), &rules());
        assert_eq!(meta.redirect_uris, vec!["http://localhost:6274/oauth/callback"]);
        assert_eq!(meta.client_uri.as_deref(), Some("https://github.com/modelcontextprotocol/inspector"));
        assert_eq!(meta.logo_uri.as_deref(), Some("https://example.com/logo.png"));
        assert_eq!(meta.scope.as_deref(), Some("mcp"));
        assert_eq!(meta.software_id.as_deref(), Some("mcp-inspector"));
        assert_eq!(meta.software_version.as_deref(), Some("0.16.2"));
        assert_eq!(meta.contacts, Some(vec!["dev@example.com".to_string()]));
        assert_eq!(meta.application_type.as_deref(), Some("native"));
    }

    // -- defaults, normalisation, echo -------------------------------------

    #[test]
    fn minimal_body_gets_defaults() {
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"]}"#, &rules());
        assert_eq!(meta.client_name, "Registered client");
        assert_eq!(meta.grant_types, vec!["authorization_code", "refresh_token"]);
        assert_eq!(meta.response_types, vec!["code"]);
        assert_eq!(meta.token_endpoint_auth_method, "none");
        assert_eq!(meta.client_uri, None);
        assert_eq!(meta.contacts, None);
        assert_eq!(meta.application_type, None);
    }

    #[test]
    fn duplicates_are_collapsed_in_first_seen_order() {
        let body = r#"{"redirect_uris":["https://b.example/cb","https://a.example/cb","https://b.example/cb"],
            "grant_types":["refresh_token","authorization_code","refresh_token"],
            "response_types":["code","code"],"scope":"openid mcp openid"}"#;
        let meta = accept(body, &rules());
        assert_eq!(meta.redirect_uris, vec!["https://b.example/cb", "https://a.example/cb"]);
        assert_eq!(meta.grant_types, vec!["refresh_token", "authorization_code"]);
        assert_eq!(meta.response_types, vec!["code"]);
        assert_eq!(meta.scope.as_deref(), Some("openid mcp"));
    }

    #[test]
    fn duplicates_do_not_count_towards_the_limit() {
        let rules = RegistrationRules { max_redirect_uris: 1, ..rules() };
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb","https://example.com/cb"]}"#, &rules);
        assert_eq!(meta.redirect_uris.len(), 1);
    }

    #[test]
    fn unknown_scopes_dropped_and_none_when_nothing_left() {
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"],"scope":"admin  mcp  root"}"#, &rules());
        assert_eq!(meta.scope.as_deref(), Some("mcp"));
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"],"scope":"admin root"}"#, &rules());
        assert_eq!(meta.scope, None);
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"],"scope":""}"#, &rules());
        assert_eq!(meta.scope, None);
    }

    #[test]
    fn unknown_fields_are_ignored_and_not_echoed() {
        let meta =
            accept(r#"{"redirect_uris":["https://example.com/cb"],"jwks_uri":"https://x/","x":{"y":[1,2]}}"#, &rules());
        let echoed = serde_json::to_value(&meta).expect("serialisable");
        assert!(echoed.get("jwks_uri").is_none());
        assert!(echoed.get("x").is_none());
    }

    #[test]
    fn null_fields_count_as_absent() {
        let body = r#"{"redirect_uris":["https://example.com/cb"],"client_name":null,"grant_types":null,
            "response_types":null,"token_endpoint_auth_method":null,"client_uri":null,"logo_uri":null,
            "scope":null,"software_id":null,"software_version":null,"contacts":null,
            "application_type":null,"client_secret":null,"client_secret_expires_at":null}"#;
        let meta = accept(body, &rules());
        assert_eq!(meta, accept(r#"{"redirect_uris":["https://example.com/cb"]}"#, &rules()));
    }

    #[test]
    fn null_redirect_uris_counts_as_missing() {
        refuse(r#"{"redirect_uris":null}"#, &rules(), InvalidRedirectUri, "redirect_uris");
    }

    #[test]
    fn redirect_uri_echoed_exactly_as_sent() {
        for uri in [
            "https://example.com",
            "https://example.com/cb?x=1&y=%20z",
            "http://localhost:6274/oauth/callback",
            "http://[::1]:8080/cb",
        ] {
            let meta = accept(&body_with_uri(uri), &rules());
            assert_eq!(meta.redirect_uris, vec![uri.to_string()], "{uri}");
        }
    }

    #[test]
    fn serialisation_skips_none_and_never_emits_null() {
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"]}"#, &rules());
        let text = serde_json::to_string(&meta).expect("serialisable");
        assert!(!text.contains("null"), "{text}");
        assert!(!text.contains("scope"), "{text}");
        let back: ClientMetadata = serde_json::from_str(&text).expect("round trip");
        assert_eq!(back, meta);
    }

    #[test]
    fn whitespace_only_client_name_gets_default() {
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"],"client_name":"   "}"#, &rules());
        assert_eq!(meta.client_name, "Registered client");
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"],"client_name":""}"#, &rules());
        assert_eq!(meta.client_name, "Registered client");
    }

    #[test]
    fn authorization_code_alone_is_accepted() {
        let meta =
            accept(r#"{"redirect_uris":["https://example.com/cb"],"grant_types":["authorization_code"]}"#, &rules());
        assert_eq!(meta.grant_types, vec!["authorization_code"]);
    }

    /// RFC 7591 §2 and IANA's registry methods, and one the server has never heard of.
    const OTHER_AUTH_METHODS: &[&str] = &[
        "client_secret_post",
        "client_secret_basic",
        "client_secret_jwt",
        "private_key_jwt",
        "tls_client_auth",
        "self_signed_tls_client_auth",
        "attest_jwt_client_auth",
    ];

    #[test]
    fn every_other_method_is_downgraded_or_refused_under_reject() {
        let reject = RegistrationRules { auth_method_mismatch: AuthMethodMismatch::Reject, ..rules() };
        for method in OTHER_AUTH_METHODS {
            let body = json!({"redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": method});
            let meta = accept(&body.to_string(), &rules());
            assert_eq!(meta.token_endpoint_auth_method, "none", "{method}");
            let refused = validate(&parse_request(body.to_string().as_bytes()).unwrap(), &reject).unwrap_err();
            assert_eq!(refused.code, InvalidClientMetadata, "{method}");
            assert!(refused.description.contains("public clients only"), "{method}: {}", refused.description);
        }
        let empty = json!({"redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": ""});
        assert!(validate(&parse_request(empty.to_string().as_bytes()).unwrap(), &rules()).is_err());
    }

    // -- parse_request -----------------------------------------------------

    fn parse_refused(body: &[u8], needle: &str) {
        match parse_request(body) {
            Ok(map) => panic!("expected {body:?} to be refused, got {map:?}"),
            Err(e) => {
                assert_eq!(e.code, InvalidClientMetadata, "{body:?}");
                assert!(e.description.contains(needle), "{body:?}: {}", e.description);
            }
        }
    }

    #[test]
    fn malformed_json_is_refused() {
        parse_refused(br#"{"redirect_uris": ["https://example.com/cb"]"#, "not valid JSON");
        parse_refused(b"{redirect_uris: 1}", "not valid JSON");
    }

    #[test]
    fn json_array_is_refused() {
        parse_refused(br#"[{"redirect_uris":["https://example.com/cb"]}]"#, "JSON object");
    }

    #[test]
    fn json_string_is_refused() {
        parse_refused(br#""hello""#, "JSON object");
    }

    #[test]
    fn empty_body_is_refused() {
        parse_refused(b"", "empty");
        parse_refused(b"  \n", "empty");
    }

    #[test]
    fn invalid_utf8_is_refused() {
        parse_refused(b"{\"client_name\":\"\xff\xfe\"}", "UTF-8");
    }

    #[test]
    fn deeply_nested_json_is_refused_without_panic() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        parse_refused(deep.as_bytes(), "not valid JSON");
    }

    // -- wrong JSON types ------------------------------------------------------

    #[test]
    fn redirect_uris_as_string_is_refused() {
        refuse(
            r#"{"redirect_uris":"https://example.com/cb"}"#,
            &rules(),
            InvalidClientMetadata,
            "redirect_uris must be an array of strings",
        );
    }

    #[test]
    fn number_inside_redirect_uris_is_refused() {
        refuse(
            r#"{"redirect_uris":["https://example.com/cb", 42]}"#,
            &rules(),
            InvalidClientMetadata,
            "redirect_uris must be an array of strings",
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (r#""client_name":42"#, "client_name"),
            (r#""grant_types":"authorization_code""#, "grant_types"),
            (r#""response_types":[true]"#, "response_types"),
            (r#""token_endpoint_auth_method":["none"]"#, "token_endpoint_auth_method"),
            (r#""client_uri":{}"#, "client_uri"),
            (r#""logo_uri":1"#, "logo_uri"),
            (r#""scope":["mcp"]"#, "scope"),
            (r#""software_id":1"#, "software_id"),
            (r#""software_version":false"#, "software_version"),
            (r#""contacts":"a@example.com""#, "contacts"),
            (r#""application_type":1"#, "application_type"),
        ];
        for (field, name) in cases {
            let body = format!(r#"{{"redirect_uris":["https://example.com/cb"],{field}}}"#);
            refuse(&body, &rules(), InvalidClientMetadata, name);
        }
    }

    // -- 10,000-character values ---------------------------------------------

    #[test]
    fn huge_values_are_refused_cleanly() {
        let huge = "a".repeat(10_000);
        let huge_uri = format!("https://example.com/{huge}");
        let fields = [
            "client_name",
            "client_uri",
            "logo_uri",
            "scope",
            "software_id",
            "software_version",
            "application_type",
            "token_endpoint_auth_method",
        ];
        for field in fields {
            let value = if field.ends_with("uri") { &huge_uri } else { &huge };
            let body = json!({"redirect_uris": ["https://example.com/cb"], field: value});
            match register(&body.to_string(), &rules()) {
                Ok(_) => panic!("{field}: 10,000 characters accepted"),
                Err(e) => {
                    assert_eq!(e.code, InvalidClientMetadata, "{field}");
                    assert!(e.description.contains(field), "{field}: {}", e.description);
                    assert!(e.description.len() < 400, "{field}: description too long");
                }
            }
        }
        let body = json!({"redirect_uris": ["https://example.com/cb"], "contacts": [huge]});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "contacts[0]");
        let body = json!({"redirect_uris": ["https://example.com/cb"], "grant_types": [huge]});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "grant_types");
    }

    #[test]
    fn huge_redirect_uri_is_refused_with_truncated_echo() {
        let uri = format!("https://example.com/{}", "a".repeat(10_000));
        uri_refused(&uri, &rules(), "at most 2000");
        let err = check_redirect_uri(&uri, &rules()).unwrap_err();
        assert!(err.len() < 300, "description not truncated: {} chars", err.len());
        assert!(err.contains("https://example.com/"));
    }

    #[test]
    fn redirect_uri_of_exactly_2000_chars_is_accepted() {
        let prefix = "https://example.com/";
        let uri = format!("{prefix}{}", "a".repeat(2000 - prefix.len()));
        uri_ok(&uri, &rules());
        uri_refused(&format!("{uri}a"), &rules(), "2000");
    }

    // -- redirect_uris list ------------------------------------------------

    #[test]
    fn missing_redirect_uris_is_refused() {
        refuse(r#"{"client_name":"x"}"#, &rules(), InvalidRedirectUri, "redirect_uris");
    }

    #[test]
    fn empty_redirect_uris_is_refused() {
        refuse(r#"{"redirect_uris":[]}"#, &rules(), InvalidRedirectUri, "redirect_uris");
    }

    #[test]
    fn more_than_max_redirect_uris_is_refused() {
        let uris: Vec<String> = (0..6).map(|i| format!("https://example.com/cb{i}")).collect();
        let body = json!({ "redirect_uris": uris });
        refuse(&body.to_string(), &rules(), InvalidRedirectUri, "at most 5");
        let body = json!({ "redirect_uris": &uris[..5] });
        accept(&body.to_string(), &rules());
    }

    #[test]
    fn one_bad_uri_among_good_ones_is_refused_and_named() {
        let body = r#"{"redirect_uris":["https://example.com/cb","ftp://localhost/cb"]}"#;
        refuse(body, &rules(), InvalidRedirectUri, "ftp://localhost/cb");
    }

    #[test]
    fn empty_string_redirect_uri_is_refused() {
        uri_refused("", &rules(), "empty");
    }

    // -- individual redirect URIs: refused -------------------------------------

    #[test]
    fn ftp_is_refused() {
        uri_refused("ftp://localhost/cb", &rules(), "ftp");
    }

    #[test]
    fn http_lookalike_loopback_hosts_are_refused() {
        uri_refused("http://localhost.evil.com/cb", &rules(), "localhost.evil.com");
        uri_refused("http://127.0.0.1.nip.io/cb", &rules(), "127.0.0.1.nip.io");
        uri_refused("http://localhost./cb", &rules(), "localhost.");
    }

    #[test]
    fn http_non_loopback_is_refused() {
        uri_refused("http://example.com/cb", &rules(), "http://example.com/cb");
        uri_refused("http://example.com/cb", &rules(), "use https");
    }

    #[test]
    fn hex_ip_is_refused_with_canonical_suggestion() {
        uri_refused("http://0x7f.1/cb", &rules(), "did you mean http://127.0.0.1/cb");
    }

    #[test]
    fn uppercase_is_refused_with_canonical_suggestion() {
        uri_refused("HTTPS://EXAMPLE.COM/cb", &rules(), "did you mean https://example.com/cb");
        uri_refused("HTTPS://X", &rules(), "did you mean https://x/");
    }

    #[test]
    fn default_port_is_refused_with_canonical_suggestion() {
        uri_refused("https://example.com:443/cb", &rules(), "did you mean https://example.com/cb");
        uri_refused("http://localhost:80/cb", &rules(), "did you mean http://localhost/cb");
    }

    #[test]
    fn other_non_canonical_forms_are_refused() {
        let cases = [
            ("https:example.com/cb", "https://example.com/cb"),
            ("https:///example.com/cb", "https://example.com/cb"),
            ("https://example.com/a b", ""), // space: caught before parsing
            ("https://example.com/<x>", "https://example.com/%3Cx%3E"),
            ("https://example.com?x=1", "https://example.com/?x=1"),
            ("https://example.com:", "https://example.com/"),
            ("http://[0:0:0:0:0:0:0:1]/cb", "http://[::1]/cb"),
            ("http://%6cocalhost/cb", "http://localhost/cb"),
            ("Cursor://host/cb", "cursor://host/cb"),
            ("https://example.com/a/../b", "https://example.com/b"),
            ("https://example.com/a/./b", "https://example.com/a/b"),
        ];
        for (uri, suggestion) in cases {
            match check_redirect_uri(uri, &rules_with_cursor()) {
                Ok(()) => panic!("{uri:?} accepted"),
                Err(d) => assert!(d.contains(suggestion), "{uri:?}: {d}"),
            }
        }
    }

    #[test]
    fn fragments_are_refused_even_when_empty() {
        uri_refused("https://example.com/cb#frag", &rules(), "fragment");
        uri_refused("https://example.com/cb?x=1#", &rules(), "fragment");
        uri_refused("https://example.com/cb?x=1#", &rules(), "https://example.com/cb?x=1#");
    }

    #[test]
    fn crlf_injection_is_refused_and_not_echoed() {
        let uri = "https://example.com/\r\nSet-Cookie:x";
        uri_refused(uri, &rules(), "control characters");
        let err = check_redirect_uri(uri, &rules()).unwrap_err();
        assert!(!err.contains('\r') && !err.contains('\n'), "{err:?}");
        assert!(err.contains("https://example.com/Set-Cookie:x"), "{err:?}");
    }

    #[test]
    fn userinfo_is_refused() {
        uri_refused("https://user:pw@example.com/cb", &rules(), "user information");
        uri_refused("https://user@example.com/cb", &rules(), "user information");
        uri_refused("https://@example.com/cb", &rules(), "user information");
        uri_refused("http://localhost@evil.com/cb", &rules(), "user information");
        uri_refused("cursor://u@host/cb", &rules_with_cursor(), "user information");
    }

    #[test]
    fn at_sign_in_path_or_query_is_fine() {
        uri_ok("https://example.com/@user/cb?next=a@b", &rules());
    }

    #[test]
    fn javascript_is_refused() {
        uri_refused("javascript:alert(1)", &rules(), "javascript");
    }

    #[test]
    fn javascript_is_refused_even_if_misconfigured() {
        let rules =
            RegistrationRules { private_use_schemes: vec!["javascript".to_string(), "data".to_string()], ..rules() };
        uri_refused("javascript:alert(1)", &rules, "javascript");
        uri_refused("data:text/html,x", &rules, "data");
    }

    #[test]
    fn private_scheme_without_anything_after_colon_is_refused() {
        uri_refused("cursor:", &rules_with_cursor(), "nothing after the scheme");
        uri_refused("cursor://", &rules_with_cursor(), "nothing after the scheme");
    }

    #[test]
    fn private_scheme_forms_accepted_when_listed() {
        uri_ok("cursor://anysphere.cursor-mcp/oauth/callback", &rules_with_cursor());
        uri_ok("cursor:/oauth/callback", &rules_with_cursor());
        uri_ok("cursor:callback", &rules_with_cursor());
        // Opaque hosts of non-special schemes keep their case.
        uri_ok("cursor://AnySphere.Cursor-MCP/oauth/callback", &rules_with_cursor());
    }

    #[test]
    fn forbidden_characters_are_refused() {
        uri_refused("https://example.com/c\\b", &rules(), "backslash");
        uri_refused("https://example.com/c b", &rules(), "spaces");
        uri_refused("https://example.com/c\tb", &rules(), "control characters");
        uri_refused("https://example.com/caf\u{e9}", &rules(), "ASCII");
        uri_refused("https://ex\u{0430}mple.com/cb", &rules(), "ASCII");
    }

    #[test]
    fn relative_and_unparseable_uris_are_refused() {
        uri_refused("/cb", &rules(), "absolute");
        uri_refused("example.com/cb", &rules(), "absolute");
        uri_refused("https://exa mple.com/", &rules(), "spaces");
        uri_refused("https://[::1/cb", &rules(), "not a valid URI");
        uri_refused("https://example.com:99999/cb", &rules(), "not a valid URI");
    }

    // -- individual redirect URIs: accepted ----------------------------------

    #[test]
    fn loopback_forms_are_accepted() {
        uri_ok("http://[::1]:8080/cb", &rules());
        uri_ok("http://localhost/cb", &rules());
        uri_ok("http://localhost:6274/oauth/callback", &rules());
        uri_ok("http://127.0.0.1/", &rules());
        uri_ok("http://127.0.0.1:33418/", &rules());
        uri_ok("http://127.0.0.1:33418", &rules());
    }

    #[test]
    fn https_lookalike_hosts_are_fine() {
        uri_ok("https://localhost.evil.com/cb", &rules());
        uri_ok("https://localhost/cb", &rules());
    }

    #[test]
    fn empty_path_without_trailing_slash_is_accepted_as_sent() {
        uri_ok("https://example.com", &rules());
        uri_ok("https://example.com:8443", &rules());
    }

    // -- the allow switches ----------------------------------------------------

    #[test]
    fn https_switch_off_refuses_https() {
        let rules = RegistrationRules { allow_https_redirect_uris: false, ..rules() };
        uri_refused("https://example.com/cb", &rules, "https");
        uri_ok("http://127.0.0.1:9000/cb", &rules);
    }

    #[test]
    fn loopback_switch_off_refuses_http_loopback() {
        let rules = RegistrationRules { allow_loopback_redirect_uris: false, ..rules() };
        uri_refused("http://127.0.0.1/cb", &rules, "loopback");
        uri_refused("http://localhost:6274/oauth/callback", &rules, "http");
        uri_refused("http://[::1]:8080/cb", &rules, "http");
        uri_ok("https://example.com/cb", &rules);
    }

    #[test]
    fn everything_off_refuses_everything() {
        let rules =
            RegistrationRules { allow_https_redirect_uris: false, allow_loopback_redirect_uris: false, ..rules() };
        uri_refused("https://example.com/cb", &rules, "https");
        uri_refused("ftp://x/", &rules, "accepts no redirect URIs");
    }

    // -- secrets and auth methods ------------------------------------------

    #[test]
    fn client_secret_is_always_refused() {
        let body = r#"{"redirect_uris":["https://example.com/cb"],"client_secret":"s3cret"}"#;
        refuse(body, &rules(), InvalidClientMetadata, "client_secret");
        refuse(body, &rules(), InvalidClientMetadata, "no client secrets");
        let body = r#"{"redirect_uris":["https://example.com/cb"],"client_secret":""}"#;
        refuse(body, &rules(), InvalidClientMetadata, "client_secret");
    }

    #[test]
    fn client_secret_expires_at_is_always_refused() {
        let body = r#"{"redirect_uris":["https://example.com/cb"],"client_secret_expires_at":0}"#;
        refuse(body, &rules(), InvalidClientMetadata, "client_secret_expires_at");
    }

    #[test]
    fn unknown_auth_method_is_refused() {
        for method in ["NONE", "", "client secret", "private-key-jwt", "none\u{0}"] {
            let body = json!({"redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": method});
            refuse(&body.to_string(), &rules(), InvalidClientMetadata, "token_endpoint_auth_method");
        }
    }

    #[test]
    fn private_key_jwt_refused_when_reject() {
        let rules = RegistrationRules { auth_method_mismatch: AuthMethodMismatch::Reject, ..rules() };
        let body = r#"{"redirect_uris":["https://example.com/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#;
        refuse(body, &rules, InvalidClientMetadata, "public clients only");
        let body = r#"{"redirect_uris":["https://example.com/cb"],"token_endpoint_auth_method":"none"}"#;
        assert_eq!(accept(body, &rules).token_endpoint_auth_method, "none");
    }

    // -- grant and response types ----------------------------------------------

    #[test]
    fn implicit_grant_is_refused() {
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"grant_types":["implicit"]}"#,
            &rules(),
            InvalidClientMetadata,
            "implicit",
        );
    }

    #[test]
    fn refresh_token_alone_is_refused() {
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"grant_types":["refresh_token"]}"#,
            &rules(),
            InvalidClientMetadata,
            "authorization_code",
        );
    }

    #[test]
    fn other_grants_are_refused() {
        for grant in ["client_credentials", "password", "urn:ietf:params:oauth:grant-type:device_code"] {
            let body =
                json!({"redirect_uris": ["https://example.com/cb"], "grant_types": ["authorization_code", grant]});
            refuse(&body.to_string(), &rules(), InvalidClientMetadata, grant);
        }
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"grant_types":[]}"#,
            &rules(),
            InvalidClientMetadata,
            "grant_types",
        );
    }

    #[test]
    fn token_response_type_is_refused() {
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"response_types":["token"]}"#,
            &rules(),
            InvalidClientMetadata,
            "token",
        );
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"response_types":["code","id_token"]}"#,
            &rules(),
            InvalidClientMetadata,
            "id_token",
        );
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"response_types":[]}"#,
            &rules(),
            InvalidClientMetadata,
            "response_types",
        );
    }

    // -- optional metadata ---------------------------------------------------

    #[test]
    fn client_name_with_bidi_override_is_refused() {
        for c in ['\u{202E}', '\u{2066}', '\u{200F}'] {
            let body = json!({"redirect_uris": ["https://example.com/cb"], "client_name": format!("evil{c}txt.exe")});
            refuse(&body.to_string(), &rules(), InvalidClientMetadata, "client_name");
        }
    }

    #[test]
    fn client_name_with_control_character_is_refused() {
        let body = json!({"redirect_uris": ["https://example.com/cb"], "client_name": "a\nb"});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "client_name");
    }

    #[test]
    fn control_characters_anywhere_are_refused_after_the_field_rules() {
        let base = json!({"redirect_uris": ["https://example.com/cb"], "client_name": "App"});
        let map = |v: &Value| v.as_object().unwrap().clone();
        assert_eq!(refuse_control_characters(&map(&base)), Ok(()));
        for (field, value) in [
            ("scope", json!("offline_access\u{0}")),
            ("x_unknown", json!("a\u{1}b")),
            ("jwks", json!({"keys": [{"n": "a\nb"}]})),
        ] {
            let mut body = map(&base);
            body.insert(field.into(), value);
            let error = refuse_control_characters(&body).unwrap_err();
            assert_eq!(error.code, InvalidClientMetadata);
            assert!(error.description.contains(field) && error.description.contains("control character"), "{error}");
        }
        let mut body = map(&base);
        body.insert("a\u{0}b".into(), json!(1));
        assert!(refuse_control_characters(&body).is_err());
    }

    #[test]
    fn client_name_limit_is_200_characters() {
        let name = "\u{e9}".repeat(200); // counted in characters, not bytes
        let body = json!({"redirect_uris": ["https://example.com/cb"], "client_name": name});
        assert_eq!(accept(&body.to_string(), &rules()).client_name, name);
        let body = json!({"redirect_uris": ["https://example.com/cb"], "client_name": format!("{name}x")});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "at most 200");
    }

    #[test]
    fn application_type_desktop_is_refused() {
        refuse(
            r#"{"redirect_uris":["https://example.com/cb"],"application_type":"desktop"}"#,
            &rules(),
            InvalidClientMetadata,
            "desktop",
        );
    }

    #[test]
    fn id_token_signed_response_alg_is_rs256_or_es256() {
        let es =
            accept(r#"{"redirect_uris":["https://example.com/cb"],"id_token_signed_response_alg":"ES256"}"#, &rules());
        assert_eq!(es.id_token_signed_response_alg.as_deref(), Some("ES256"));
        let absent = accept(r#"{"redirect_uris":["https://example.com/cb"]}"#, &rules());
        assert_eq!(absent.id_token_signed_response_alg, None);
        for bad in [r#""none""#, r#""HS256""#, r#""es256""#, "256"] {
            let body =
                format!(r#"{{"redirect_uris":["https://example.com/cb"],"id_token_signed_response_alg":{bad}}}"#);
            refuse(&body, &rules(), RegistrationErrorCode::InvalidClientMetadata, "id_token_signed_response_alg");
        }
    }

    #[test]
    fn application_type_web_is_accepted() {
        let meta = accept(r#"{"redirect_uris":["https://example.com/cb"],"application_type":"web"}"#, &rules());
        assert_eq!(meta.application_type.as_deref(), Some("web"));
    }

    #[test]
    fn client_and_logo_uri_must_be_https_with_host() {
        for field in ["client_uri", "logo_uri"] {
            for bad in [
                "http://example.com/",
                "javascript:alert(1)",
                "example.com",
                "https://example.com/a b",
                "https://example.com/\n",
            ] {
                let body = json!({"redirect_uris": ["https://example.com/cb"], field: bad});
                refuse(&body.to_string(), &rules(), InvalidClientMetadata, field);
            }
        }
    }

    #[test]
    fn contacts_limits() {
        let eleven: Vec<String> = (0..11).map(|i| format!("a{i}@example.com")).collect();
        let body = json!({"redirect_uris": ["https://example.com/cb"], "contacts": eleven});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "at most 10");
        let body = json!({"redirect_uris": ["https://example.com/cb"], "contacts": ["a\u{7}@x"]});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "contacts[0]");
        let body = json!({"redirect_uris": ["https://example.com/cb"], "contacts": ["a@x", 3]});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "contacts");
    }

    #[test]
    fn software_fields_limits() {
        let body = json!({"redirect_uris": ["https://example.com/cb"], "software_version": "1.0\u{0}"});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "software_version");
        let body = json!({"redirect_uris": ["https://example.com/cb"], "software_id": "x".repeat(201)});
        refuse(&body.to_string(), &rules(), InvalidClientMetadata, "at most 200");
    }

    // -- private-use scheme configuration -----------------------------------

    #[test]
    fn private_use_scheme_names() {
        for ok in ["cursor", "com.example.app", "vscode-insiders", "x+y", "a1"] {
            assert!(check_private_use_scheme(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "https",
            "http",
            "javascript",
            "data",
            "file",
            "blob",
            "about",
            "vbscript",
            "ws",
            "wss",
            "Cursor",
            "java script",
            "",
            "1app",
            "-app",
            "app:",
            "caf\u{e9}",
        ] {
            match check_private_use_scheme(bad) {
                Ok(()) => panic!("{bad:?} should be refused"),
                Err(reason) => assert!(!reason.is_empty(), "{bad:?}"),
            }
        }
    }

    // -- small pieces --------------------------------------------------------

    #[test]
    fn error_codes_as_str() {
        assert_eq!(InvalidRedirectUri.as_str(), "invalid_redirect_uri");
        assert_eq!(InvalidClientMetadata.as_str(), "invalid_client_metadata");
    }

    /// Deterministic pseudo-random inputs: nothing may panic.
    #[test]
    fn random_inputs_never_panic() {
        let alphabet: Vec<char> = "htps:/@[]#?%.:\\ \r\u{7f}\u{202e}\u{e9}0x7f1cursorlocalhost\"{}".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        for _ in 0..5_000 {
            let len = next() % 40;
            let text: String = (0..len).map(|_| alphabet[next() % alphabet.len()]).collect();
            let _ = check_redirect_uri(&text, &rules_with_cursor());
            let _ = check_private_use_scheme(&text);
            let _ = parse_request(text.as_bytes());
            let body = json!({"redirect_uris": [text], "client_name": text, "scope": text,
                "client_uri": text, "contacts": [text], "grant_types": [text]});
            let _ = validate(body.as_object().expect("object"), &rules_with_cursor());
        }
    }
}
