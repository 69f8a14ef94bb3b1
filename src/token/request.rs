//! Parsing token and revocation requests (RFC 6749 §4.1.3, §6; RFC 7009): raw form bytes in,
//! a typed request or an RFC 6749 error out — so every failure has the RFC's shape.

use std::collections::BTreeMap;

use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::pkce::is_valid_code_verifier;
use crate::oauth::query;
use crate::text::echo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: String,
        client_id: String,
        code_verifier: String,
        resource: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        client_id: String,
        scope: Option<String>,
        resource: Option<String>,
    },
}

impl TokenRequest {
    pub fn client_id(&self) -> &str {
        match self {
            TokenRequest::AuthorizationCode { client_id, .. } | TokenRequest::RefreshToken { client_id, .. } => {
                client_id
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRequest {
    pub token: String,
    pub client_id: Option<String>,
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

/// `application/x-www-form-urlencoded` (parameters allowed), as RFC 6749 requires.
pub fn is_form_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Form fields; a repeated parameter is an error (RFC 6749 §3.2), an empty value is absent. A
/// control character in any name or value is refused here, before anything is looked up.
pub fn parse_form(content_type: Option<&str>, body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    if !is_form_content_type(content_type) {
        return Err(invalid_request("the request body must be application/x-www-form-urlencoded"));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(invalid_request("the request body is not valid UTF-8"));
    }
    let mut fields = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in query::pairs(body, &[]).map_err(|e| invalid_request(e.to_string()))? {
        if !seen.insert(name.clone()) {
            return Err(invalid_request(format!("the parameter {} appears more than once", echo(&name))));
        }
        if !value.is_empty() {
            fields.insert(name, value);
        }
    }
    Ok(fields)
}

fn required(fields: &BTreeMap<String, String>, name: &str) -> Result<String, OAuthError> {
    fields.get(name).cloned().ok_or_else(|| invalid_request(format!("the {name} parameter is missing")))
}

pub fn parse_token_request(content_type: Option<&str>, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let fields = parse_form(content_type, body)?;
    match fields.get("grant_type").map(String::as_str) {
        None => Err(invalid_request("the grant_type parameter is missing")),
        Some("authorization_code") => {
            let code_verifier = required(&fields, "code_verifier")?;
            if !is_valid_code_verifier(&code_verifier) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
                ));
            }
            Ok(TokenRequest::AuthorizationCode {
                code: required(&fields, "code")?,
                redirect_uri: required(&fields, "redirect_uri")?,
                client_id: required(&fields, "client_id")?,
                code_verifier,
                resource: fields.get("resource").cloned(),
            })
        }
        Some("refresh_token") => Ok(TokenRequest::RefreshToken {
            refresh_token: required(&fields, "refresh_token")?,
            client_id: required(&fields, "client_id")?,
            scope: fields.get("scope").cloned(),
            resource: fields.get("resource").cloned(),
        }),
        Some(other) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type \"{}\" is not supported (authorization_code, refresh_token)", echo(other)),
        )),
    }
}

pub fn parse_revocation_request(content_type: Option<&str>, body: &[u8]) -> Result<RevocationRequest, OAuthError> {
    let fields = parse_form(content_type, body)?;
    Ok(RevocationRequest { token: required(&fields, "token")?, client_id: fields.get("client_id").cloned() })
}

/// `POST /introspect` (RFC 7662 §2.1): the `token`; `token_type_hint` is optional and, like any
/// other parameter, ignored.
pub fn parse_introspection_request(content_type: Option<&str>, body: &[u8]) -> Result<String, OAuthError> {
    let fields = parse_form(content_type, body)?;
    required(&fields, "token")
}

/// Scopes asked for on refresh must be within the grant; returns the granted list.
pub fn narrow_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else { return Ok(granted.to_string()) };
    let allowed: Vec<&str> = granted.split(' ').filter(|s| !s.is_empty()).collect();
    let mut narrowed: Vec<&str> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.contains(&scope) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("the scope \"{}\" was not granted", echo(scope)),
            ));
        }
        if !narrowed.contains(&scope) {
            narrowed.push(scope);
        }
    }
    Ok(narrowed.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn code_body(verifier: &str) -> String {
        format!("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fa.example%2Fcb&client_id=c1&code_verifier={verifier}")
    }

    #[test]
    fn parses_a_code_exchange() {
        let request = parse_token_request(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            code_body(VERIFIER).as_bytes(),
        );
        assert_eq!(
            request,
            Ok(TokenRequest::AuthorizationCode {
                code: "abc".into(),
                redirect_uri: "https://a.example/cb".into(),
                client_id: "c1".into(),
                code_verifier: VERIFIER.into(),
                resource: None,
            })
        );
    }

    #[test]
    fn refuses_bad_requests_with_rfc_codes() {
        let code = |r: Result<TokenRequest, OAuthError>| r.unwrap_err().error;
        assert_eq!(code(parse_token_request(Some("application/json"), b"{}")), ErrorCode::InvalidRequest);
        assert_eq!(code(parse_token_request(None, code_body(VERIFIER).as_bytes())), ErrorCode::InvalidRequest);
        assert_eq!(code(parse_token_request(FORM, b"code=x")), ErrorCode::InvalidRequest);
        assert_eq!(code(parse_token_request(FORM, b"grant_type=password&username=a")), ErrorCode::UnsupportedGrantType);
        assert_eq!(code(parse_token_request(FORM, b"grant_type=refresh_token&client_id=c")), ErrorCode::InvalidRequest);
        let repeated = format!("{}&code=again", code_body(VERIFIER));
        assert_eq!(code(parse_token_request(FORM, repeated.as_bytes())), ErrorCode::InvalidRequest);
        let missing_verifier = "grant_type=authorization_code&code=abc&redirect_uri=x&client_id=c1";
        assert_eq!(code(parse_token_request(FORM, missing_verifier.as_bytes())), ErrorCode::InvalidRequest);
        for bad in ["short", &"a".repeat(129), &format!("{}+", &VERIFIER[..43]), &format!("{}%20", &VERIFIER[..43])] {
            assert_eq!(code(parse_token_request(FORM, code_body(bad).as_bytes())), ErrorCode::InvalidGrant, "{bad}");
        }
        assert_eq!(
            code(parse_token_request(FORM, b"grant_type=refresh_token&refresh_token=\xff")),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn control_characters_are_refused_before_anything_else() {
        for control in ["%00", "%01", "%09", "%0A", "%1F", "%7F"] {
            let bodies = [
                format!("grant_type=refresh_token&refresh_token=x{control}&client_id=c"),
                format!("grant_type=refresh_token&refresh_token=x&client_id=https%3A%2F%2Fa.example%2F{control}"),
                format!("{}&resource=https%3A%2F%2Fr.example%2F{control}", code_body(VERIFIER)),
                format!("grant_type=x{control}"),
                format!("grant{control}_type=authorization_code"),
            ];
            for body in bodies {
                let error = parse_token_request(FORM, body.as_bytes()).unwrap_err();
                assert_eq!(error.error, ErrorCode::InvalidRequest, "{body}");
                assert!(error.error_description.contains("control character"), "{body}: {error}");
            }
            let revoke = format!("token=t{control}");
            assert_eq!(parse_revocation_request(FORM, revoke.as_bytes()).unwrap_err().error, ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn an_unsupported_grant_type_is_echoed_without_what_follows() {
        let secret = "Xr8Qw2pLm0Zt7Yv4Nc6Bd1Hf9Jk3Sa5Ge0Ui2Oo4Pq6";
        for body in [
            format!("grant_type=refresh_token;refresh_token={secret};client_id=c"),
            format!("grant_type=+;refresh_token={secret};client_id=c"),
            format!("grant_type=refresh_token+refresh_token={secret}"),
            format!("grant_type={}", "g".repeat(5000)),
        ] {
            let error = parse_token_request(FORM, body.as_bytes()).unwrap_err();
            assert_eq!(error.error, ErrorCode::UnsupportedGrantType, "{body}");
            assert!(!error.error_description.contains(secret), "{}", error.error_description);
            assert!(error.error_description.len() < 200, "{}", error.error_description);
        }
        let error = narrow_scope("a", Some(&format!("a;refresh_token={secret}"))).unwrap_err();
        assert!(!error.error_description.contains(secret), "{}", error.error_description);
    }

    #[test]
    fn revocation_needs_a_token() {
        assert_eq!(
            parse_revocation_request(FORM, b"token_type_hint=refresh_token").unwrap_err().error,
            ErrorCode::InvalidRequest
        );
        assert_eq!(parse_revocation_request(FORM, b"token=t&client_id=c").unwrap().token, "t");
    }

    #[test]
    fn scope_can_only_narrow() {
        assert_eq!(narrow_scope("a b", None).unwrap(), "a b");
        assert_eq!(narrow_scope("a b", Some("b")).unwrap(), "b");
        assert_eq!(narrow_scope("a b", Some("b c")).unwrap_err().error, ErrorCode::InvalidScope);
    }
}
