//! The OpenID Connect half of an upstream sign-in (SPEC §9.1), free of HTTP and storage: the
//! authorization URL, the callback's `iss` rule, and the `id_token` verified by the
//! `openidconnect` crate (algorithms set explicitly, never `none` or HMAC), plus `azp`.

use std::str::FromStr;

use base64::Engine;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError};
use serde_json::{Map, Value};

use super::access::Account;
use super::upstream::Discovery;
use crate::config::ProviderSettings;

/// The only signature algorithms accepted on an upstream `id_token`.
pub const ALLOWED_ALGORITHMS: [CoreJwsSigningAlgorithm; 4] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How far an `iat` may be from now.
pub const MAX_IAT_SKEW_SECS: i64 = 300;

/// What goes into the authorization request sent upstream.
pub struct Authorization<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
    /// The pending request must sign in afresh: `prompt=login`.
    pub fresh_sign_in: bool,
}

/// The provider's authorization endpoint with the request's parameters (the endpoint may have a
/// query of its own).
pub fn authorization_url(discovery: &Discovery, provider: &ProviderSettings, request: &Authorization) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", request.redirect_uri)
        .append_pair("scope", &provider.effective_scopes().join(" "))
        .append_pair("state", request.state)
        .append_pair("nonce", request.nonce)
        .append_pair("code_challenge", request.code_challenge)
        .append_pair("code_challenge_method", "S256");
    if request.fresh_sign_in {
        query.append_pair("prompt", "login");
    }
    let separator = if discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
    format!("{}{separator}{}", discovery.authorization_endpoint, query.finish())
}

/// RFC 9207 on the callback: an `iss` must equal the issuer; when the provider advertises the
/// parameter it must be there.
pub fn check_callback_issuer(
    iss: Option<&str>,
    provider: &ProviderSettings,
    discovery: &Discovery,
) -> Result<(), String> {
    match iss {
        Some(iss) if crate::secrets::constant_time_eq(iss, &provider.issuer) => Ok(()),
        Some(_) => Err("the callback's iss is not this provider's issuer".into()),
        None if discovery.authorization_response_iss_parameter_supported => {
            Err("the provider sends iss on its callbacks, and this one had none".into())
        }
        None => Ok(()),
    }
}

/// Why an `id_token` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTokenError {
    /// No key of the JWKS matches: worth one refetch of the JWKS.
    UnknownKey,
    Invalid(String),
}

/// Verify an `id_token` against the JWKS: signature with an allowed algorithm, `iss` exact, `aud`
/// containing the client id (and `azp` = client id when there are several), `exp`, `iat`
/// within five minutes, `nonce`. Returns its claims.
pub fn verify_id_token(
    id_token: &str,
    jwks_json: &str,
    provider: &ProviderSettings,
    nonce: &str,
    now: i64,
) -> Result<Map<String, Value>, IdTokenError> {
    let invalid = |why: String| IdTokenError::Invalid(why);
    let token = CoreIdToken::from_str(id_token).map_err(|e| invalid(format!("not a JWT: {e}")))?;
    let keys: CoreJsonWebKeySet = serde_json::from_str(jwks_json).map_err(|e| invalid(format!("JWKS: {e}")))?;
    let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|e| invalid(format!("issuer: {e}")))?;
    let now_time = chrono_time(now).ok_or_else(|| invalid("clock out of range".into()))?;
    let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new(provider.client_id.clone()), issuer, keys)
        .set_allowed_algs(ALLOWED_ALGORITHMS)
        // Other audiences are allowed when `azp` names us (checked below, SPEC §9.1).
        .set_other_audience_verifier_fn(|_| true)
        .set_time_fn(move || now_time)
        .set_issue_time_verifier_fn(move |iat| {
            if (iat.timestamp() - now).abs() <= MAX_IAT_SKEW_SECS {
                Ok(())
            } else {
                Err("iat is more than five minutes from now".into())
            }
        });
    match token.claims(&verifier, &Nonce::new(nonce.to_string())) {
        Ok(_) => {}
        Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
            return Err(IdTokenError::UnknownKey)
        }
        Err(error) => return Err(invalid(error.to_string())),
    }
    // Verified: the payload of these very bytes is now trusted.
    let claims = payload(id_token).ok_or_else(|| invalid("payload is not a JSON object".into()))?;
    // The issuer the crate compared is a parsed URL; the SPEC's rule is the exact string.
    if claims.get("iss").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
        return Err(invalid("iss is not exactly the provider's issuer".into()));
    }
    let several_audiences = matches!(claims.get("aud"), Some(Value::Array(list)) if list.len() > 1);
    if several_audiences && claims.get("azp").and_then(Value::as_str) != Some(provider.client_id.as_str()) {
        return Err(invalid("several audiences and azp is not our client id".into()));
    }
    Ok(claims)
}

fn chrono_time(epoch: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(epoch, 0)
}

/// The claims of a JWT's payload (no verification: call after `verify_id_token` only).
fn payload(jwt: &str) -> Option<Map<String, Value>> {
    let middle = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(middle.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The account the provider vouches for: from the `id_token`, with `userinfo` filling in the
/// email when the token has none (its `sub` must be the token's).
pub fn account(
    provider: &ProviderSettings,
    id_claims: Map<String, Value>,
    userinfo: Option<Map<String, Value>>,
) -> Result<Account, String> {
    let subject = id_claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("the id_token has no sub")?
        .to_string();
    let mut claims = id_claims;
    if let Some(info) = userinfo {
        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
            return Err("userinfo answered for another subject".into());
        }
        for (name, value) in info {
            claims.entry(name).or_insert(value);
        }
    }
    let email = claims.get("email").and_then(Value::as_str).map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
    // Some providers send "true" as a string.
    let email_verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)))
        || matches!(claims.get("email_verified"), Some(Value::String(s)) if s == "true");
    let name =
        claims.get("name").and_then(Value::as_str).map(|n| crate::text::truncate(n, 200)).filter(|n| !n.is_empty());
    Ok(Account { issuer: provider.identity_issuer().to_string(), subject, email, email_verified, name, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(iss_supported: bool, endpoint: &str) -> Discovery {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example", "authorization_endpoint": endpoint, "token_endpoint": "https://idp.example/t",
            "jwks_uri": "https://idp.example/j", "authorization_response_iss_parameter_supported": iss_supported,
        }))
        .unwrap()
    }

    fn provider() -> ProviderSettings {
        ProviderSettings {
            id: "corp".into(),
            issuer: "https://idp.example".into(),
            client_id: "gh".into(),
            ..Default::default()
        }
    }

    #[test]
    fn callback_iss_must_equal_when_present_and_be_present_when_advertised() {
        let p = provider();
        assert!(
            check_callback_issuer(Some("https://idp.example"), &p, &discovery(true, "https://idp.example/a")).is_ok()
        );
        assert!(check_callback_issuer(Some("https://evil.example"), &p, &discovery(false, "https://idp.example/a"))
            .is_err());
        assert!(check_callback_issuer(Some("https://idp.example/"), &p, &discovery(false, "https://idp.example/a"))
            .is_err());
        assert!(check_callback_issuer(None, &p, &discovery(true, "https://idp.example/a")).is_err());
        assert!(check_callback_issuer(None, &p, &discovery(false, "https://idp.example/a")).is_ok());
    }

    #[test]
    fn authorization_url_carries_pkce_state_nonce_and_prompt_when_fresh() {
        let request = |fresh| Authorization {
            redirect_uri: "https://gh.example/login/corp/callback",
            state: "st",
            nonce: "no",
            code_challenge: "ch",
            fresh_sign_in: fresh,
        };
        let url = authorization_url(&discovery(false, "https://idp.example/a?tenant=x"), &provider(), &request(true));
        assert!(url.starts_with("https://idp.example/a?tenant=x&response_type=code&client_id=gh&"), "{url}");
        for part in ["code_challenge_method=S256", "state=st", "nonce=no", "prompt=login", "scope=openid+email+profile"]
        {
            assert!(url.contains(part), "{part} in {url}");
        }
        let url = authorization_url(&discovery(false, "https://idp.example/a"), &provider(), &request(false));
        assert!(url.starts_with("https://idp.example/a?response_type=code") && !url.contains("prompt="), "{url}");
    }

    #[test]
    fn userinfo_for_another_subject_is_refused_and_fills_in_the_email() {
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let id = claims(serde_json::json!({"sub": "u1", "name": "U"}));
        let other = claims(serde_json::json!({"sub": "u2", "email": "a@b.c", "email_verified": true}));
        assert!(account(&provider(), id.clone(), Some(other)).is_err());
        let same = claims(serde_json::json!({"sub": "u1", "email": "a@b.c", "email_verified": true}));
        let account = account(&provider(), id, Some(same)).unwrap();
        assert_eq!(account.verified_email(), Some("a@b.c"));
        assert_eq!(account.issuer, "https://idp.example");
    }
}
