//! `GET|POST /userinfo` (OpenID Connect Core §5.3, SPEC §10): for a live access token of the
//! issuer's own audience with `openid` granted, `sub` and the claims its scopes allow.

use serde_json::Value;

use super::introspect::live_access_token;
use crate::config::Settings;
use crate::error::AppError;
use crate::oauth::oidc::{has_scope, user_claims, UserFacts, SCOPE_OPENID};
use crate::state::AppState;

/// The claims, or `AppError::InvalidToken` (401 with `WWW-Authenticate: Bearer
/// error="invalid_token"`) for a missing, malformed, foreign, expired, revoked or `openid`-less
/// token alike.
pub async fn userinfo(state: &AppState, settings: &Settings, bearer: Option<&str>) -> Result<Value, AppError> {
    let invalid = || AppError::InvalidToken("the access token is not valid for userinfo".into());
    let Some(token) = bearer else { return Err(invalid()) };
    let Some((claims, user)) = live_access_token(state, settings, token).await? else { return Err(invalid()) };
    // A token requested for a resource is for that resource only (RFC 8707).
    if claims.aud != settings.issuer || !has_scope(&claims.scope, SCOPE_OPENID) {
        return Err(invalid());
    }
    let facts =
        UserFacts { user_id: user.user_id, email: user.email, email_verified: user.email_verified, name: user.name };
    Ok(Value::Object(user_claims(&facts, &claims.scope)))
}
