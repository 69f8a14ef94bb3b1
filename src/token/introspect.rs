//! Reading Gatehouse's own access tokens back (SPEC §10): RFC 7662 introspection for the
//! configured resource servers, and the check `/userinfo` shares. A token is active only while
//! its signature, `typ`, issuer and expiry hold *and* its grant is live — revoking the grant
//! (refresh reuse, revoke-sessions, `/revoke`, set-password, unlink, a user or client disabled
//! or deleted) deactivates it at once.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{IntrospectionClient, Settings};
use crate::error::AppError;
use crate::keys::jwt::{verify_es256, TYP_ACCESS_TOKEN};
use crate::keys::KeyRing;
use crate::origin::Origin;
use crate::secrets;
use crate::state::AppState;
use crate::store::clients::Status;
use crate::store::refresh::{self, GrantState};
use crate::store::users;

/// The claims of a Gatehouse access token (SPEC §5, §10). A token without any of them is not
/// one of ours.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub grant_id: String,
}

/// The claims of `token` when it is an unexpired access token signed by one of Gatehouse's
/// published ES256 keys, with header `typ: at+jwt` (an id_token is not an access token) and
/// `iss` = the issuer. Says nothing about the grant: see [`is_live`].
pub fn read_access_token(ring: &KeyRing, issuer: &str, token: &str, now: i64) -> Option<AccessTokenClaims> {
    let (header, claims) = verify_es256(token, &ring.verifying)?;
    if header["typ"] != TYP_ACCESS_TOKEN {
        return None;
    }
    let claims: AccessTokenClaims = serde_json::from_value(claims).ok()?;
    (claims.iss == issuer && claims.exp > now).then_some(claims)
}

/// Whether the token's grant is live: not revoked, for the same client and user, both active.
/// A grant that is gone (its client deleted, purged) is not.
pub fn is_live(grant: Option<&GrantState>, claims: &AccessTokenClaims) -> bool {
    grant.is_some_and(|g| {
        g.family.revoked_at.is_none()
            && g.family.client_id == claims.client_id
            && g.family.user_id == claims.sub
            && g.client_status == Status::Active
            && g.user_status == users::STATUS_ACTIVE
    })
}

/// A verified access token whose grant is live right now, with the user's row (for
/// `/userinfo`); `None` otherwise.
pub async fn live_access_token(
    state: &AppState,
    settings: &Settings,
    token: &str,
) -> Result<Option<(AccessTokenClaims, users::UserRow)>, AppError> {
    let now = state.clock.now();
    let ring = state.keys.current().ok_or_else(|| AppError::Internal("signing keys are not loaded".into()))?;
    let Some(claims) = read_access_token(&ring, &settings.issuer, token, now) else { return Ok(None) };
    let grant_id = claims.grant_id.clone();
    let user_id = claims.sub.clone();
    let (grant, user) = state
        .db
        .run_idempotent(move |conn| Ok((refresh::grant_state(conn, &grant_id)?, users::find(conn, &user_id)?)))
        .await?;
    if !is_live(grant.as_ref(), &claims) {
        return Ok(None);
    }
    Ok(user.map(|user| (claims, user)))
}

/// The user and password of an `Authorization: Basic` header (RFC 7617). RFC 6749 §2.3.1 has
/// clients form-encode both first; many do not, so both readings are returned when they differ.
pub fn basic_credentials(header: &str) -> Vec<(String, String)> {
    let Some((scheme, encoded)) = header.trim().split_once(' ') else { return Vec::new() };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Vec::new();
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else { return Vec::new() };
    let Ok(text) = String::from_utf8(decoded) else { return Vec::new() };
    let Some((user, password)) = text.split_once(':') else { return Vec::new() };
    let mut readings = vec![(user.to_string(), password.to_string())];
    let form_decode =
        |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    if let (Some(u), Some(p)) = (form_decode(user), form_decode(password)) {
        if (u.as_str(), p.as_str()) != (user, password) {
            readings.push((u, p));
        }
    }
    readings
}

/// The configured client these credentials name, compared in constant time against every
/// client (an unknown id costs what a wrong secret costs).
pub fn authenticate_client<'a>(
    clients: &'a [IntrospectionClient],
    credentials: &[(String, String)],
) -> Option<&'a IntrospectionClient> {
    let mut found = None;
    for client in clients {
        // A secret that cannot be read (a file removed since the last check) matches nothing.
        let secret = client.resolve_secret().unwrap_or_else(|_| secrets::random_token(32));
        for (id, password) in credentials {
            let matches = secrets::constant_time_eq(id, &client.id) & secrets::constant_time_eq(password, &secret);
            if matches && found.is_none() {
                found = Some(client);
            }
        }
    }
    found
}

/// Who is asking `POST /introspect`.
pub enum Caller {
    Client(IntrospectionClient),
    /// Missing or wrong credentials: 401.
    Unauthorized,
    /// Too many wrong credentials from this address this minute: 429 after `retry_after` s.
    Throttled {
        retry_after: i64,
    },
}

/// Authenticate the caller; wrong credentials are counted per address.
pub async fn caller(
    state: &AppState,
    settings: &Settings,
    authorization: Option<&str>,
    origin: &Origin,
) -> Result<Caller, AppError> {
    let credentials = authorization.map(basic_credentials).unwrap_or_default();
    if let Some(client) = authenticate_client(&settings.introspection.clients, &credentials) {
        return Ok(Caller::Client(client.clone()));
    }
    // Like the login API's key (SPEC §9.2): the right credentials are never throttled.
    match crate::credentials::count_wrong(state, "introspect", origin).await? {
        Some(retry_after) => Ok(Caller::Throttled { retry_after }),
        None => Ok(Caller::Unauthorized),
    }
}

/// RFC 7662 §2.2: `active: true` with the token's facts only for a live access token of
/// Gatehouse whose `aud` is one of the caller's audiences; `{"active": false}` for everything
/// else, with no hint why.
pub async fn introspect(
    state: &AppState,
    settings: &Settings,
    caller: &IntrospectionClient,
    token: &str,
) -> Result<Value, AppError> {
    let inactive = json!({"active": false});
    let Some((claims, _)) = live_access_token(state, settings, token).await? else { return Ok(inactive) };
    if !caller.audiences.iter().any(|audience| audience == &claims.aud) {
        return Ok(inactive);
    }
    Ok(json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "token_type": "Bearer",
        "grant_id": claims.grant_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, secret: &str) -> IntrospectionClient {
        IntrospectionClient {
            id: id.into(),
            secret: secret.into(),
            audiences: vec!["https://mcp.example/".into()],
            ..Default::default()
        }
    }

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn basic_credentials_read_both_forms() {
        assert_eq!(basic_credentials(&basic("rs", "s3cret")), vec![("rs".to_string(), "s3cret".to_string())]);
        let both = basic_credentials(&basic("rs", "a%2Bb+c"));
        assert_eq!(both[0].1, "a%2Bb+c");
        assert_eq!(both[1].1, "a+b c");
        assert!(basic_credentials("Bearer abc").is_empty());
        assert!(basic_credentials("Basic !!!").is_empty());
        assert!(basic_credentials(&format!("Basic {}", STANDARD.encode("no-colon"))).is_empty());
        assert!(basic_credentials("Basic").is_empty());
    }

    #[test]
    fn only_the_right_pair_authenticates() {
        let secret = "s".repeat(40);
        let clients = vec![client("a", &secret), client("b", &"t".repeat(40))];
        let found = authenticate_client(&clients, &basic_credentials(&basic("a", &secret)));
        assert_eq!(found.map(|c| c.id.as_str()), Some("a"));
        assert!(authenticate_client(&clients, &basic_credentials(&basic("b", &secret))).is_none());
        assert!(authenticate_client(&clients, &basic_credentials(&basic("c", &secret))).is_none());
        assert!(authenticate_client(&clients, &[]).is_none());
        assert!(authenticate_client(&[], &basic_credentials(&basic("a", &secret))).is_none());
    }
}
