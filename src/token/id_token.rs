//! OpenID Connect id_tokens (SPEC §10): the claims, from plain values, and the signature —
//! RS256 by default, ES256 for clients that registered `id_token_signed_response_alg: "ES256"`;
//! JWS `typ: JWT`.

use serde_json::{Map, Value};

use crate::keys::jwt::{JwtError, ES256, TYP_ID_TOKEN};
use crate::keys::KeyRing;
use crate::oauth::oidc::{user_claims, UserFacts};

/// What an id_token says, besides the time.
#[derive(Debug, Clone)]
pub struct IdTokenInputs {
    pub user: UserFacts,
    /// The client's `id_token_signed_response_alg`, when it registered one.
    pub signing_alg: Option<String>,
    /// When the user signed in (the session's, kept on the code and the grant).
    pub auth_time: Option<i64>,
    /// From `/authorize`; only on the id_token of the code exchange.
    pub nonce: Option<String>,
}

/// The claims: `iss`, `sub`, `aud` = the client, `iat`, `exp`, `auth_time`, `nonce`, and the
/// user claims the scope releases.
pub fn claims(issuer: &str, client_id: &str, scope: &str, inputs: &IdTokenInputs, now: i64, ttl: i64) -> Value {
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(issuer));
    claims.insert("aud".into(), Value::from(client_id));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now + ttl));
    if let Some(auth_time) = inputs.auth_time {
        claims.insert("auth_time".into(), Value::from(auth_time));
    }
    if let Some(nonce) = &inputs.nonce {
        claims.insert("nonce".into(), Value::from(nonce.clone()));
    }
    claims.extend(user_claims(&inputs.user, scope));
    Value::Object(claims)
}

/// Sign with the algorithm the client chose (RS256 unless it registered ES256).
pub fn sign(ring: &KeyRing, signing_alg: Option<&str>, claims: &Value) -> Result<String, JwtError> {
    if signing_alg == Some(ES256) {
        ring.signing.sign_typed(claims, TYP_ID_TOKEN)
    } else {
        ring.id_token_rs256.sign_typed(claims, TYP_ID_TOKEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_carry_auth_time_nonce_and_the_scoped_user_claims() {
        let inputs = IdTokenInputs {
            user: UserFacts {
                user_id: "usr_1".into(),
                email: Some("a@example.com".into()),
                email_verified: true,
                name: Some("Ada".into()),
            },
            signing_alg: None,
            auth_time: Some(900),
            nonce: Some("n-0S6".into()),
        };
        let c = claims("https://as.example", "client-1", "openid email", &inputs, 1000, 600);
        assert_eq!(
            c,
            serde_json::json!({
                "iss": "https://as.example", "aud": "client-1", "iat": 1000, "exp": 1600, "auth_time": 900,
                "nonce": "n-0S6", "sub": "usr_1", "email": "a@example.com", "email_verified": true
            })
        );
        let refreshed = IdTokenInputs { nonce: None, ..inputs };
        let c = claims("https://as.example", "client-1", "openid profile", &refreshed, 2000, 600);
        assert!(c.get("nonce").is_none());
        assert_eq!(c["auth_time"], 900, "a refreshed id_token keeps the original auth_time");
        assert_eq!(c["name"], "Ada");
        assert!(c.get("email").is_none());
    }
}
