//! The grants of `POST /token` (SPEC §5, §10): code exchange, refresh rotation with reuse
//! detection, minting ES256 access tokens (with the `grant_id` of their grant) and, with
//! `openid` granted, id_tokens.

use serde::Serialize;
use serde_json::json;

use super::id_token::{self, IdTokenInputs};
use super::request::{narrow_scope, TokenRequest};
use crate::cimd;
use crate::config::Settings;
use crate::db::{write_tx, DbConnection, DbError};
use crate::error::AppError;
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::oidc::{has_scope, UserFacts, SCOPE_OPENID};
use crate::oauth::pkce::verify_s256;
use crate::origin::Origin;
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::{self, Status};
use crate::store::codes::{self, CodeRow};
use crate::store::refresh::{self, FamilyRow};
use crate::store::users;

/// Random bytes in a refresh token (≥ 256 bits).
const REFRESH_TOKEN_BYTES: usize = 32;

/// RFC 6749 §5.1; absent values are omitted, never `null`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// What a grant settled on, before the access token is signed.
struct Grant {
    client_id: String,
    user_id: String,
    scope: String,
    resource: Option<String>,
    refresh_token: Option<String>,
    /// The grant (its refresh family): revoking it deactivates its access tokens (SPEC §10).
    grant_id: String,
    /// With `openid` granted: what the id_token says.
    id_token: Option<IdTokenInputs>,
    /// The client's last-seen time is more than a minute old (or unset): worth a write.
    seen_long_ago: bool,
}

enum Outcome {
    Granted(Box<Grant>),
    /// Refused; nothing was changed.
    Refused(ErrorCode, &'static str),
    /// Refused after revoking what the replay or reuse put at risk (committed first).
    Revoked(&'static str),
}

fn invalid_grant(description: &str) -> AppError {
    AppError::bad_request(ErrorCode::InvalidGrant, description)
}

fn allows_refresh(client_metadata: &ClientMetadata) -> bool {
    client_metadata.grant_types.iter().any(|g| g == "refresh_token")
}

/// `POST /token`.
pub async fn token(
    state: &AppState,
    settings: &Settings,
    request: TokenRequest,
    caller: &Origin,
) -> Result<TokenResponse, AppError> {
    if let Some(message) = cimd::revalidate_for_token(state, settings, request.client_id(), caller).await? {
        tracing::warn!(client_id = request.client_id(), %message, "client metadata document unusable at /token");
        return Err(AppError::bad_request(
            ErrorCode::InvalidClient,
            "the client's metadata document cannot be fetched; try again later",
        ));
    }
    let now = state.clock.now();
    let refresh_ttl = settings.tokens.refresh_token_ttl_secs as i64;
    let access_ttl = settings.tokens.access_token_ttl_secs as i64;
    let grace = settings.tokens.refresh_reuse_grace_secs as i64;
    let caller = caller.clone();
    let (grant_type, outcome) = match request {
        TokenRequest::AuthorizationCode { code, redirect_uri, client_id, code_verifier, resource } => {
            let outcome = state
                .db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        redeem_code(
                            conn,
                            now,
                            (refresh_ttl, access_ttl),
                            &caller,
                            &code,
                            &redirect_uri,
                            &client_id,
                            &code_verifier,
                            resource.as_deref(),
                        )
                    })
                })
                .await?;
            ("authorization_code", outcome)
        }
        TokenRequest::RefreshToken { refresh_token, client_id, scope, resource } => {
            let outcome = state
                .db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        rotate_refresh(
                            conn,
                            now,
                            grace,
                            &caller,
                            &refresh_token,
                            &client_id,
                            scope.as_deref(),
                            resource.as_deref(),
                        )
                    })
                })
                .await?;
            ("refresh_token", outcome)
        }
    };
    let grant = match outcome {
        Outcome::Granted(grant) => *grant,
        Outcome::Refused(code, description) => return Err(AppError::bad_request(code, description)),
        Outcome::Revoked(description) => return Err(invalid_grant(description)),
    };
    if grant.seen_long_ago {
        touch_client_later(state, grant.client_id.clone(), now);
    }
    let access_token = mint_access_token(state, settings, &grant, now)?;
    let id_token = match &grant.id_token {
        Some(inputs) => Some(mint_id_token(state, settings, &grant, inputs, now)?),
        None => None,
    };
    state.metrics.tokens_issued.with_label_values(&[grant_type]).inc();
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: settings.tokens.access_token_ttl_secs,
        scope: (!grant.scope.is_empty()).then(|| grant.scope.clone()),
        refresh_token: grant.refresh_token,
        id_token,
    })
}

/// Last seen, off the response path: at most one write a minute, never a failed request.
fn touch_client_later(state: &AppState, client_id: String, now: i64) {
    state.db.run_detached("update the client's last-seen time", move |conn| {
        clients::touch_last_seen(conn, &client_id, now)
    });
}

fn mint_access_token(state: &AppState, settings: &Settings, grant: &Grant, now: i64) -> Result<String, AppError> {
    let ring = state.keys.current().ok_or_else(|| AppError::Internal("signing keys are not loaded".into()))?;
    let audience = grant.resource.clone().unwrap_or_else(|| {
        if settings.resources.default_audience.is_empty() {
            settings.issuer.clone()
        } else {
            settings.resources.default_audience.clone()
        }
    });
    let claims = json!({
        "iss": settings.issuer,
        "sub": grant.user_id,
        "aud": audience,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "iat": now,
        "exp": now + settings.tokens.access_token_ttl_secs as i64,
        "jti": secrets::random_token(16),
        "grant_id": grant.grant_id,
    });
    ring.signing.sign(&claims).map_err(|e| AppError::Internal(format!("signing failed: {e}")))
}

fn mint_id_token(
    state: &AppState,
    settings: &Settings,
    grant: &Grant,
    inputs: &IdTokenInputs,
    now: i64,
) -> Result<String, AppError> {
    let ring = state.keys.current().ok_or_else(|| AppError::Internal("signing keys are not loaded".into()))?;
    let claims = id_token::claims(
        &settings.issuer,
        &grant.client_id,
        &grant.scope,
        inputs,
        now,
        settings.tokens.id_token_ttl_secs as i64,
    );
    id_token::sign(&ring, inputs.signing_alg.as_deref(), &claims)
        .map_err(|e| AppError::Internal(format!("signing the id_token failed: {e}")))
}

/// With `openid` in the granted scope: the user's stored facts and the client's chosen
/// algorithm, read in the grant's transaction.
fn id_token_inputs(
    conn: &mut DbConnection,
    scope: &str,
    client_id: &str,
    user_id: &str,
    auth_time: Option<i64>,
    nonce: Option<String>,
) -> Result<Option<IdTokenInputs>, DbError> {
    if !has_scope(scope, SCOPE_OPENID) {
        return Ok(None);
    }
    let Some(user) = users::find(conn, user_id)? else { return Ok(None) };
    let signing_alg = clients::find(conn, client_id)?.and_then(|c| c.metadata.id_token_signed_response_alg);
    Ok(Some(IdTokenInputs {
        user: UserFacts {
            user_id: user.user_id,
            email: user.email,
            email_verified: user.email_verified,
            name: user.name,
        },
        signing_alg,
        auth_time,
        nonce,
    }))
}

fn audit_row(event: &'static str, client_id: &str, caller: &Origin, detail: serde_json::Value) -> AuditRecord {
    AuditRecord::new(event, Actor::Client, detail).client(client_id).from(caller)
}

/// The grant of a code exchange (SPEC §10): a refresh family, with its first refresh token when
/// the client may refresh (`refresh_ttl`), else without tokens, living as long as its access
/// token (`access_ttl`). Returns the grant id and the refresh token.
fn start_grant(
    conn: &mut DbConnection,
    now: i64,
    (refresh_ttl, access_ttl): (i64, i64),
    code: &CodeRow,
    refreshable: bool,
) -> QueryResultOf<(String, Option<String>)> {
    let family_id = secrets::random_token(16);
    let ttl = if refreshable { refresh_ttl } else { access_ttl };
    refresh::insert_family(
        conn,
        &FamilyRow {
            family_id: family_id.clone(),
            client_id: code.client_id.clone(),
            user_id: code.user_id.clone(),
            scope: code.scope.clone(),
            resource: code.resource.clone(),
            created_at: now,
            expires_at: now + ttl,
            revoked_at: None,
            revoked_reason: None,
            auth_time: code.auth_time,
        },
    )?;
    codes::set_family(conn, &code.code_hash, &family_id)?;
    if !refreshable {
        return Ok((family_id, None));
    }
    let token = secrets::random_token(REFRESH_TOKEN_BYTES);
    refresh::insert_token(conn, &secrets::digest(&token), &family_id, now)?;
    Ok((family_id, Some(token)))
}

type QueryResultOf<T> = Result<T, diesel::result::Error>;

/// A replayed code: revoke what it produced, audit, refuse (SPEC §5, RFC 6749 §4.1.2).
fn code_replayed(conn: &mut DbConnection, now: i64, caller: &Origin, code_hash: &str) -> Result<Outcome, DbError> {
    let Some(code) = codes::find(conn, code_hash)? else {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "unknown code"));
    };
    let revoked = match &code.family_id {
        Some(family) => refresh::revoke_family(conn, family, "authorization code replayed", now)?,
        None => false,
    };
    audit::record(
        conn,
        now,
        &audit_row(event::TOKEN_CODE_REPLAY_DETECTED, &code.client_id, caller, json!({"family_revoked": revoked})),
    )?;
    tracing::warn!(client_id = %code.client_id, "authorization code replay detected");
    Ok(Outcome::Revoked("the authorization code was already used"))
}

#[allow(clippy::too_many_arguments)]
fn redeem_code(
    conn: &mut DbConnection,
    now: i64,
    ttls: (i64, i64),
    caller: &Origin,
    code: &str,
    redirect_uri: &str,
    client_id: &str,
    verifier: &str,
    resource: Option<&str>,
) -> Result<Outcome, DbError> {
    let hash = secrets::digest(code);
    // One query: the code, its client's and its user's current state.
    let Some(context) = codes::find_context(conn, &hash)? else {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the authorization code is unknown"));
    };
    let row = context.code;
    if row.used_at.is_some() {
        return code_replayed(conn, now, caller, &hash);
    }
    if !secrets::constant_time_eq(&row.client_id, client_id) {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the authorization code was issued to another client"));
    }
    if row.expires_at <= now {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the authorization code has expired"));
    }
    if row.redirect_uri != redirect_uri {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "redirect_uri differs from the authorization request"));
    }
    if !verify_s256(verifier, &row.code_challenge) {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the code_verifier does not match the code_challenge"));
    }
    if resource.is_some_and(|r| Some(r) != row.resource.as_deref()) {
        return Ok(Outcome::Refused(ErrorCode::InvalidTarget, "resource differs from the authorization request"));
    }
    if context.client_status != Status::Active {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the client is disabled"));
    }
    // A disabled user gets nothing new, whatever grant they had.
    if context.user_status != users::STATUS_ACTIVE {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the user's account is disabled"));
    }
    // The one conditional update that decides between parallel redemptions.
    if !codes::mark_used(conn, &hash, now)? {
        return code_replayed(conn, now, caller, &hash);
    }
    let (grant_id, refresh_token) = start_grant(conn, now, ttls, &row, allows_refresh(&context.client_metadata))?;
    let id_token = id_token_inputs(conn, &row.scope, &row.client_id, &row.user_id, row.auth_time, row.nonce.clone())?;
    Ok(Outcome::Granted(Box::new(Grant {
        client_id: row.client_id,
        user_id: row.user_id,
        scope: row.scope,
        resource: row.resource,
        refresh_token,
        grant_id,
        id_token,
        seen_long_ago: clients::seen_long_ago(context.client_last_seen_at, now),
    })))
}

#[allow(clippy::too_many_arguments)]
fn rotate_refresh(
    conn: &mut DbConnection,
    now: i64,
    grace: i64,
    caller: &Origin,
    presented: &str,
    client_id: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<Outcome, DbError> {
    let hash = secrets::digest(presented);
    // Parallel refreshes of one family must not each leave a live head.
    refresh::lock_family_of(conn, &hash)?;
    // One query: the token, its family, and the family's client's and user's current state.
    let Some(context) = refresh::find_token_context(conn, &hash)? else {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token is unknown"));
    };
    let (token, family) = (context.token, context.family);
    if !secrets::constant_time_eq(&family.client_id, client_id) {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token was issued to another client"));
    }
    if context.client_status != Status::Active {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the client is disabled"));
    }
    if context.user_status != users::STATUS_ACTIVE {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the user's account is disabled"));
    }
    if family.revoked_at.is_some() {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token has been revoked"));
    }
    if family.expires_at <= now {
        return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token has expired"));
    }
    if resource.is_some_and(|r| Some(r) != family.resource.as_deref()) {
        return Ok(Outcome::Refused(ErrorCode::InvalidTarget, "resource differs from the original grant"));
    }
    let granted_scope = match narrow_scope(&family.scope, scope) {
        Ok(scope) => scope,
        Err(OAuthError { error, .. }) => return Ok(Outcome::Refused(error, "the requested scope exceeds the grant")),
    };
    let rotated_now = token.rotated_at.is_none() && refresh::rotate(conn, &hash, now)?;
    if !rotated_now {
        // Already rotated (or rotated a moment ago by a parallel request). A retry inside the
        // grace window is tolerated; a head revoked by such a retry, or a reuse after the
        // window, means two parties hold the family's tokens.
        let rotated_at = token.rotated_at.unwrap_or(now);
        if token.revoked_at.is_some() || now - rotated_at > grace {
            refresh::revoke_family(conn, &family.family_id, "refresh token reused", now)?;
            audit::record(
                conn,
                now,
                &audit_row(
                    event::TOKEN_REFRESH_REUSE_DETECTED,
                    client_id,
                    caller,
                    json!({"family_id": family.family_id}),
                ),
            )?;
            tracing::warn!(client_id, "refresh token reuse detected; family revoked");
            return Ok(Outcome::Revoked("the refresh token was already used; the grant has been revoked"));
        }
        // Inside the grace window (a client retrying): one live head, the new one.
        refresh::revoke_heads(conn, &family.family_id, now)?;
    }
    let next = secrets::random_token(REFRESH_TOKEN_BYTES);
    refresh::insert_token(conn, &secrets::digest(&next), &family.family_id, now)?;
    // A refreshed id_token keeps the original auth_time and carries no nonce.
    let id_token = id_token_inputs(conn, &granted_scope, &family.client_id, &family.user_id, family.auth_time, None)?;
    Ok(Outcome::Granted(Box::new(Grant {
        client_id: family.client_id,
        user_id: family.user_id,
        scope: granted_scope,
        resource: family.resource,
        refresh_token: Some(next),
        grant_id: family.family_id,
        id_token,
        seen_long_ago: clients::seen_long_ago(context.client_last_seen_at, now),
    })))
}
