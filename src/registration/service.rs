//! Storing registrations (SPEC §4.2 steps 4–7) and the RFC 7592 read/delete endpoints. Knows
//! nothing of actix: handlers hand it bytes, the registrant and a bearer token.

use serde::Serialize;
use serde_json::{Map, Value};

use super::fingerprint::fingerprint;
use super::policy::Policy;
use super::rules::{self, RegistrationRules};
use super::webhook::{self, Answer};
use crate::clock::Window;
use crate::config::Settings;
use crate::config::WebhookOnError;
use crate::db::{write_tx, DbConnection, DbError};
use crate::error::AppError;
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::error::ErrorCode;
use crate::origin::Origin;
use crate::paths;
use crate::secrets;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::{self, Client, Source};
use crate::store::{rate_limits, registration_tokens};

/// Random bytes in a client id after the `dcr_` prefix (≥ 128 bits).
const CLIENT_ID_BYTES: usize = 16;
/// Random bytes in a registration access token (≥ 256 bits).
const REGISTRATION_TOKEN_BYTES: usize = 32;
/// How often a registration is retried after losing an insert race to an identical one.
const DEDUPE_RETRIES: usize = 3;

pub const DISABLED_CLIENT_MESSAGE: &str = "this client has been disabled by the operator";

/// A counted attempt: where to give it back if it turns out to be a dedupe reuse.
#[derive(Debug, Clone)]
pub struct Admission {
    key: String,
    window_start: i64,
}

/// Step 2: count this attempt against the registrant's window (one atomic upsert of its own)
/// and refuse it over the limit. Every attempt counts, refused ones included.
pub async fn admit(state: &AppState, settings: &Settings, registrant: &Origin) -> Result<Admission, AppError> {
    let now = state.clock.now();
    let window = Window::containing(now, settings.dcr.rate_limit_window_secs);
    let limit = settings.dcr.max_registrations_per_window;
    let key = registrant.rate_limit_key.clone();
    let for_db = key.clone();
    let attempts = state.db.run(move |conn| Ok(rate_limits::hit(conn, &for_db, window.start)?)).await?;
    if attempts as i64 <= limit as i64 {
        return Ok(Admission { key, window_start: window.start });
    }
    state.metrics.registration("rate_limited", ErrorCode::SlowDown.as_str());
    let record = AuditRecord::new(
        event::DCR_RATE_LIMITED,
        Actor::Anonymous,
        serde_json::json!({
            "limit": limit,
            "window_secs": window.length,
            "window_start": window.start,
        }),
    )
    .from(registrant);
    let audit_key = key.clone();
    // At most one audit row per key and window, so a flood cannot flood the table.
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                if rate_limits::claim_audit(conn, &audit_key, window.start)? {
                    audit::record(conn, now, &record)?;
                }
                Ok::<_, DbError>(())
            })
        })
        .await?;
    let retry_after = window.seconds_left(now);
    Err(AppError::SlowDown {
        retry_after,
        description: format!(
            "too many registration attempts from this address: at most {limit} per {} seconds; retry in {retry_after} seconds",
            window.length
        ),
    })
}

/// A dedupe reuse is not a new client: give its attempt back (claude.ai registers twice per
/// connect). A failure here is logged, never turned into a failed registration.
pub async fn refund(state: &AppState, admission: Admission) {
    let refunded =
        state.db.run(move |conn| Ok(rate_limits::refund(conn, &admission.key, admission.window_start)?)).await;
    if let Err(error) = refunded {
        tracing::warn!(%error, "could not refund a reused registration's rate-limit attempt");
    }
}

/// The RFC 7591 response: every registered value as stored.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationResponse {
    pub client_id: String,
    pub client_id_issued_at: i64,
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
}

#[derive(Debug)]
pub enum Registered {
    New(RegistrationResponse),
    /// An identical registration already existed (deduplication); its client is returned.
    Reused(RegistrationResponse),
}

impl Registered {
    pub fn response(&self) -> &RegistrationResponse {
        match self {
            Registered::New(r) | Registered::Reused(r) => r,
        }
    }
}

/// Steps 4–7: parse, apply the rules, store. Every refusal is audited before it is returned.
pub async fn register(
    state: &AppState,
    settings: &Settings,
    registrant: &Origin,
    body: &[u8],
) -> Result<Registered, AppError> {
    let request = match rules::parse_request(body) {
        Ok(request) => request,
        Err(e) => return Err(refuse(state, registrant, 400, code_of(&e), &e.description, None).await),
    };
    let validated = rules::validate(&request, &RegistrationRules::from_settings(settings))
        .and_then(|metadata| rules::refuse_control_characters(&request).map(|()| metadata));
    let metadata = match validated {
        Ok(metadata) => metadata,
        Err(e) => return Err(refuse(state, registrant, 400, code_of(&e), &e.description, Some(&request)).await),
    };
    let decision = match apply_policy(state, settings, registrant, &request, &metadata).await {
        Ok(decision) => decision,
        Err(refused) => return Err(refused),
    };

    let now = state.clock.now();
    let fingerprint = settings.dcr.deduplicate.then(|| fingerprint(&metadata));
    let token = settings.dcr.registration_management.then(|| secrets::random_token(REGISTRATION_TOKEN_BYTES));
    let token_hash = token.as_deref().map(secrets::digest);
    let registrant_owned = registrant.clone();
    let submitted = submitted_values(&request);
    let stored = state
        .db
        .run(move |conn| {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let new = NewRegistration {
                    metadata: &metadata,
                    fingerprint: fingerprint.as_deref(),
                    token_hash: token_hash.as_deref(),
                    registrant: &registrant_owned,
                    submitted: &submitted,
                    decision: &decision,
                };
                let result = store_registration(conn, now, &new);
                match result {
                    // Lost a race with an identical registration: the retry finds its row.
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) if attempt < DEDUPE_RETRIES => continue,
                    other => return other.map_err(DbError::from),
                }
            }
        })
        .await?;

    let issuer = &settings.issuer;
    match stored {
        Stored::Disabled => {
            state.metrics.registration("rejected", ErrorCode::InvalidClientMetadata.as_str());
            Err(AppError::bad_request(ErrorCode::InvalidClientMetadata, DISABLED_CLIENT_MESSAGE))
        }
        Stored::New(row) => {
            state.metrics.registration("registered", "");
            tracing::info!(client_id = %row.client_id, "client registered");
            Ok(Registered::New(response_for(&row, issuer, token)))
        }
        Stored::Reused(row) => {
            state.metrics.registration("reused", "");
            tracing::info!(client_id = %row.client_id, "identical registration reused");
            Ok(Registered::Reused(response_for(&row, issuer, token)))
        }
    }
}

enum Stored {
    New(Client),
    Reused(Client),
    Disabled,
}

/// Step 7, one transaction: dedupe lookup or insert, registration token, audit row.
/// What one registration writes (step 7).
struct NewRegistration<'a> {
    metadata: &'a ClientMetadata,
    fingerprint: Option<&'a str>,
    token_hash: Option<&'a str>,
    registrant: &'a Origin,
    submitted: &'a Value,
    decision: &'a Value,
}

fn store_registration(
    conn: &mut DbConnection,
    now: i64,
    new: &NewRegistration,
) -> Result<Stored, diesel::result::Error> {
    let NewRegistration { metadata, fingerprint, token_hash, registrant, submitted, decision } = *new;
    write_tx(conn, |conn| {
        let audit_row = |event: &'static str, client_id: &str, detail: Value| {
            AuditRecord::new(event, Actor::Anonymous, detail).client(client_id).from(registrant)
        };
        if let Some(fingerprint) = fingerprint {
            // Locked, so a registrant deleting it cannot remove it under this reuse.
            let existing = match clients::find_by_fingerprint(conn, fingerprint)? {
                Some(found) => clients::find_for_update(conn, &found.client_id)?,
                None => None,
            };
            if let Some(existing) = existing {
                if !existing.is_active() {
                    let detail = serde_json::json!({
                        "error": ErrorCode::InvalidClientMetadata.as_str(),
                        "reason": DISABLED_CLIENT_MESSAGE,
                        "operator_reason": existing.disabled_reason,
                        "submitted": submitted,
                    });
                    audit::record(conn, now, &audit_row(event::DCR_REJECTED, &existing.client_id, detail))?;
                    return Ok(Stored::Disabled);
                }
                if let Some(hash) = token_hash {
                    registration_tokens::insert(conn, hash, &existing.client_id, now)?;
                }
                let detail = with_decision(serde_json::json!({}), decision);
                audit::record(conn, now, &audit_row(event::DCR_REUSED, &existing.client_id, detail))?;
                return Ok(Stored::Reused(existing));
            }
        }
        let client_id = format!("dcr_{}", secrets::random_token(CLIENT_ID_BYTES));
        let row = Client {
            fingerprint: fingerprint.map(str::to_string),
            registrant_address: registrant.address.clone(),
            registrant_user_agent: registrant.user_agent.as_deref().map(|ua| crate::text::truncate(ua, 300)),
            ..Client::new(client_id, Source::Dcr, metadata.clone(), now)
        };
        clients::insert(conn, &row)?;
        if let Some(hash) = token_hash {
            registration_tokens::insert(conn, hash, &row.client_id, now)?;
        }
        let detail = with_decision(
            serde_json::json!({
                "client_name": crate::text::truncate(&metadata.client_name, 200),
                "redirect_uris": metadata.redirect_uris,
            }),
            decision,
        );
        audit::record(conn, now, &audit_row(event::DCR_REGISTERED, &row.client_id, detail))?;
        Ok(Stored::New(row))
    })
}

fn response_for(row: &Client, issuer: &str, token: Option<String>) -> RegistrationResponse {
    RegistrationResponse {
        client_id: row.client_id.clone(),
        client_id_issued_at: row.created_at,
        metadata: row.metadata.clone(),
        registration_client_uri: token.as_ref().map(|_| paths::registration_client_uri(issuer, &row.client_id)),
        registration_access_token: token,
    }
}

fn code_of(e: &rules::RegistrationError) -> ErrorCode {
    match e.code {
        rules::RegistrationErrorCode::InvalidRedirectUri => ErrorCode::InvalidRedirectUri,
        rules::RegistrationErrorCode::InvalidClientMetadata => ErrorCode::InvalidClientMetadata,
    }
}

/// Audit and count a refused registration, and build its error response. Used for every
/// refusal from the content-type check on (steps 3–6).
pub async fn refuse(
    state: &AppState,
    registrant: &Origin,
    status: u16,
    code: ErrorCode,
    description: &str,
    request: Option<&Map<String, Value>>,
) -> AppError {
    refuse_with(state, registrant, status, code, description, request, &Value::Null).await
}

/// As `refuse`, with the policy webhook's decision in the audit detail.
async fn refuse_with(
    state: &AppState,
    registrant: &Origin,
    status: u16,
    code: ErrorCode,
    description: &str,
    request: Option<&Map<String, Value>>,
    decision: &Value,
) -> AppError {
    state.metrics.registration("rejected", code.as_str());
    tracing::info!(error = code.as_str(), reason = description, "registration refused");
    let detail = serde_json::json!({
        "error": code.as_str(),
        "reason": crate::text::truncate(description, 500),
        "submitted": request.map(submitted_values).unwrap_or(Value::Null),
    });
    let record =
        AuditRecord::new(event::DCR_REJECTED, Actor::Anonymous, with_decision(detail, decision)).from(registrant);
    let now = state.clock.now();
    let written = state.db.run(move |conn| Ok(audit::record(conn, now, &record)?)).await;
    match written {
        Ok(()) => AppError::oauth(status, code, description),
        // Without its audit row the refusal cannot be recorded; say so rather than pretend.
        Err(e) => AppError::Db(e),
    }
}

/// Add the webhook's decision (when one was asked for) to an audit detail.
fn with_decision(mut detail: Value, decision: &Value) -> Value {
    if let (Value::Object(map), false) = (&mut detail, decision.is_null()) {
        map.insert("webhook".into(), decision.clone());
    }
    detail
}

/// Step 6: compatibility profiles, the `[dcr.policy]` rules, then the webhook — outside any
/// transaction, holding no pooled connection. Returns the webhook's decision for the audit
/// detail (`null` when there is no webhook), or the audited refusal.
async fn apply_policy(
    state: &AppState,
    settings: &Settings,
    registrant: &Origin,
    request: &Map<String, Value>,
    metadata: &ClientMetadata,
) -> Result<Value, AppError> {
    let policy = Policy::from_settings(settings);
    let bad_request = 400;
    if let Err(reason) = policy.check_profiles(metadata) {
        return Err(refuse(state, registrant, bad_request, ErrorCode::InvalidRedirectUri, &reason, Some(request)).await);
    }
    let ip = registrant.address.as_deref().and_then(|a| a.parse().ok());
    if let Err(reason) = policy.check(metadata, ip) {
        return Err(
            refuse(state, registrant, bad_request, ErrorCode::InvalidClientMetadata, &reason, Some(request)).await
        );
    }
    let webhook = &settings.dcr.policy;
    if webhook.webhook_url.is_empty() {
        return Ok(Value::Null);
    }
    let context = serde_json::json!({
        "client_name": metadata.client_name,
        "redirect_uris": metadata.redirect_uris,
        "grant_types": metadata.grant_types,
        "response_types": metadata.response_types,
        "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
        "software_id": metadata.software_id,
        "software_version": metadata.software_version,
        "registrant_ip": registrant.address,
        "user_agent": registrant.user_agent,
    });
    let timeout = std::time::Duration::from_millis(webhook.webhook_timeout_ms);
    let outcome = webhook::decide(&state.webhook, &webhook.webhook_url, timeout, &context).await;
    let latency_ms = outcome.latency_ms;
    match outcome.answer {
        Ok(Answer::Allow) => Ok(serde_json::json!({"decision": "allow", "latency_ms": latency_ms})),
        Ok(Answer::Deny(reason)) => {
            let decision = serde_json::json!({"decision": "deny", "latency_ms": latency_ms});
            Err(refuse_with(
                state,
                registrant,
                bad_request,
                ErrorCode::InvalidClientMetadata,
                &reason,
                Some(request),
                &decision,
            )
            .await)
        }
        Err(error) if webhook.webhook_on_error == WebhookOnError::Allow => {
            tracing::warn!(%error, "policy webhook failed; allowed by webhook_on_error = \"allow\"");
            Ok(serde_json::json!({"decision": "error_allowed", "error": error, "latency_ms": latency_ms}))
        }
        Err(error) => {
            tracing::warn!(%error, "policy webhook failed; denied by webhook_on_error = \"deny\"");
            let decision = serde_json::json!({"decision": "error_denied", "error": error, "latency_ms": latency_ms});
            let reason =
                "the registration could not be approved right now (the policy service did not answer); try again later";
            Err(refuse_with(
                state,
                registrant,
                bad_request,
                ErrorCode::InvalidClientMetadata,
                reason,
                Some(request),
                &decision,
            )
            .await)
        }
    }
}

/// The submitted values worth keeping in the audit trail: known fields only, truncated, never
/// a secret.
fn submitted_values(request: &Map<String, Value>) -> Value {
    const FIELDS: &[&str] = &[
        "client_name",
        "redirect_uris",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
        "scope",
        "software_id",
        "software_version",
        "application_type",
        "id_token_signed_response_alg",
        "client_uri",
    ];
    let mut kept = Map::new();
    for field in FIELDS {
        if let Some(value) = request.get(*field) {
            kept.insert(field.to_string(), truncate_value(value, 0));
        }
    }
    for secret_field in ["client_secret", "client_secret_expires_at"] {
        if request.contains_key(secret_field) {
            kept.insert(secret_field.to_string(), Value::String("[present]".into()));
        }
    }
    Value::Object(kept)
}

fn truncate_value(value: &Value, depth: usize) -> Value {
    match value {
        Value::String(s) => Value::String(crate::text::truncate(s, 300)),
        Value::Array(items) if depth == 0 => {
            Value::Array(items.iter().take(20).map(|v| truncate_value(v, 1)).collect())
        }
        Value::Array(_) | Value::Object(_) => Value::String("[structured value]".into()),
        other => other.clone(),
    }
}

// ---- RFC 7592: read and delete with the registration access token ----

/// RFC 7592's answer for an unknown client, a deleted client or a wrong token alike.
pub fn invalid_token() -> AppError {
    AppError::InvalidToken("the registration access token is missing, invalid or was retired".into())
}

/// Check the bearer token against the client's registration tokens. The lookup is by digest
/// and the digest is compared in constant time; unknown client and wrong token look the same.
fn authorise(conn: &mut DbConnection, client_id: &str, token: &str) -> Result<Option<String>, DbError> {
    let presented = secrets::digest(token);
    let Some((stored_hash, owner)) = registration_tokens::client_of(conn, &presented)? else {
        return Ok(None);
    };
    let matches = secrets::constant_time_eq(&stored_hash, &presented) & secrets::constant_time_eq(&owner, client_id);
    Ok(matches.then_some(stored_hash))
}

/// `GET /register/{client_id}`: the registration as stored, without a token.
pub async fn read_registration(
    state: &AppState,
    settings: &Settings,
    client_id: String,
    token: Option<String>,
) -> Result<RegistrationResponse, AppError> {
    let token = token.ok_or_else(invalid_token)?;
    let now = state.clock.now();
    let row = state
        .db
        .run(move |conn| {
            let Some(hash) = authorise(conn, &client_id, &token)? else {
                return Ok(None);
            };
            registration_tokens::touch(conn, &hash, now)?;
            Ok(clients::find(conn, &client_id)?)
        })
        .await?
        .ok_or_else(invalid_token)?;
    let mut response = response_for(&row, &settings.issuer, None);
    response.registration_client_uri = Some(paths::registration_client_uri(&settings.issuer, &row.client_id));
    Ok(response)
}

/// `DELETE /register/{client_id}`: retire this token; the client goes with its last token.
/// Returns whether the client was removed.
pub async fn delete_registration(
    state: &AppState,
    registrant: &Origin,
    client_id: String,
    token: Option<String>,
) -> Result<bool, AppError> {
    let token = token.ok_or_else(invalid_token)?;
    let now = state.clock.now();
    let registrant = registrant.clone();
    let removed = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let Some(hash) = authorise(conn, &client_id, &token)? else {
                    return Ok(None);
                };
                // Locked, so two registrants deleting at once count each other's tokens right.
                clients::find_for_update(conn, &client_id)?;
                registration_tokens::delete(conn, &hash)?;
                let client_removed = registration_tokens::count_for_client(conn, &client_id)? == 0;
                if client_removed {
                    clients::delete(conn, &client_id)?;
                }
                let record = AuditRecord::new(
                    event::DCR_DELETED_BY_CLIENT,
                    Actor::Client,
                    serde_json::json!({ "client_removed": client_removed }),
                )
                .client(client_id.clone())
                .from(&registrant);
                audit::record(conn, now, &record)?;
                Ok::<_, DbError>(Some(client_removed))
            })
        })
        .await?
        .ok_or_else(invalid_token)?;
    state
        .metrics
        .registration_deletions
        .with_label_values(&[if removed { "client_removed" } else { "token_retired" }])
        .inc();
    Ok(removed)
}
