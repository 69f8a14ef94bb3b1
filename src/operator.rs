//! Operator controls (SPEC §6): one service layer under both faces, the CLI (direct database
//! access) and the admin API. Every change is audited with its actor and reason, in the same
//! transaction as the change.

use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::db::{write_tx, DbConnection, DbError};
use crate::oauth::redirect_uri::display_host;
use crate::store::audit::{self, event, Actor, AuditFilter, AuditRecord, AuditRow};
use crate::store::clients::{self, ClientQuery, ClientRow, STATUS_ACTIVE, STATUS_DISABLED};
use crate::store::codes;
use crate::store::refresh;
use crate::store::sessions;
use crate::store::users::{self, UserRow};
use crate::text::echo;

/// The reason recorded when the operator gives none.
pub const DEFAULT_DISABLE_REASON: &str = "disabled by the operator (no reason given)";
pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 1000;
/// Audit events shown with a client.
const RECENT_AUDIT_EVENTS: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for OperatorError {
    fn from(e: diesel::result::Error) -> Self {
        OperatorError::Db(DbError::Query(e))
    }
}

type Result<T> = std::result::Result<T, OperatorError>;

fn no_client(client_id: &str) -> OperatorError {
    OperatorError::NotFound(format!("no client with id \"{}\"", echo(client_id)))
}

fn no_user(email: &str) -> OperatorError {
    OperatorError::NotFound(format!("no user with email \"{}\"", echo(email)))
}

/// A client as the list shows it; the field names are the admin API's and `--json`'s.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientSummary {
    pub client_id: String,
    pub source: String,
    pub status: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub redirect_hosts: Vec<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrant_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// CIMD clients: the cached document's state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentCache>,
}

/// A CIMD client's cached document: `fresh` (used without a request), `stale` (revalidated at
/// next use) or `failing` (the last refetch failed; served stale within `stale_if_error_secs`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DocumentCache {
    pub state: &'static str,
    pub fetched_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
}

impl DocumentCache {
    fn of(row: &ClientRow, now: i64) -> Option<DocumentCache> {
        let (fetched_at, expires_at) = (row.cimd_fetched_at?, row.cimd_expires_at?);
        let state = match (row.cimd_failed_at, expires_at > now) {
            (Some(_), _) => "failing",
            (None, true) => "fresh",
            (None, false) => "stale",
        };
        Some(DocumentCache {
            state,
            fetched_at: rfc3339(fetched_at),
            expires_at: rfc3339(expires_at),
            failed_at: row.cimd_failed_at.map(rfc3339),
        })
    }
}

impl ClientSummary {
    pub fn of(row: &ClientRow, now: i64) -> Self {
        let redirect_uris: Vec<String> = serde_json::from_str(&row.redirect_uris).unwrap_or_default();
        let mut redirect_hosts: Vec<String> = redirect_uris.iter().map(|u| display_host(u)).collect();
        redirect_hosts.dedup();
        ClientSummary {
            client_id: row.client_id.clone(),
            source: row.source.clone(),
            status: row.status.clone(),
            client_name: row.client_name.clone(),
            redirect_uris,
            redirect_hosts,
            created_at: rfc3339(row.created_at),
            last_seen_at: row.last_seen_at.map(rfc3339),
            registrant_address: row.registrant_address.clone(),
            disabled_reason: row.disabled_reason.clone(),
            document: DocumentCache::of(row, now),
        }
    }
}

/// Everything stored about a client, its active sessions and its recent audit events.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientDetail {
    #[serde(flatten)]
    pub summary: ClientSummary,
    pub metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrant_user_agent: Option<String>,
    pub updated_at: String,
    /// The deduplication fingerprint (DCR clients registered while `dcr.deduplicate` was on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The validators a CIMD document was served with, sent when it is revalidated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_last_modified: Option<String>,
    pub active_sessions: i64,
    pub recent_audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub detail: Value,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            at: rfc3339(row.at),
            event: row.event,
            actor: row.actor,
            client_id: row.client_id,
            address: row.address,
            user_agent: row.user_agent,
            detail: serde_json::from_str(&row.detail).unwrap_or(Value::Object(Default::default())),
        }
    }
}

/// One page of a list, and the cursor of the next page when there is one.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ClientListRequest {
    pub source: Option<String>,
    pub status: Option<String>,
    pub stale: bool,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

fn parse_client_cursor(cursor: &str) -> Result<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_string())))
        .ok_or_else(|| OperatorError::Invalid(format!("invalid cursor \"{}\"", echo(cursor))))
}

pub fn list_clients(
    conn: &mut DbConnection,
    request: &ClientListRequest,
    stale_retention_days: u64,
    now: i64,
) -> Result<Page<ClientSummary>> {
    if let Some(source) = &request.source {
        if !matches!(source.as_str(), "dcr" | "manual" | "cimd") {
            return Err(OperatorError::Invalid(format!("source \"{}\" is not one of dcr, manual, cimd", echo(source))));
        }
    }
    if let Some(status) = &request.status {
        if !matches!(status.as_str(), "active" | "disabled") {
            return Err(OperatorError::Invalid(format!("status \"{}\" is not one of active, disabled", echo(status))));
        }
    }
    let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let query = ClientQuery {
        source: request.source.clone(),
        status: request.status.clone(),
        stale_before: request.stale.then(|| now - stale_retention_days as i64 * 86_400),
        now,
        after: request.cursor.as_deref().map(parse_client_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut rows = clients::list(conn, &query)?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|row| format!("{}.{}", row.created_at, row.client_id))
    } else {
        None
    };
    Ok(Page { items: rows.iter().map(|row| ClientSummary::of(row, now)).collect(), next_cursor })
}

pub fn show_client(conn: &mut DbConnection, client_id: &str, now: i64) -> Result<ClientDetail> {
    let row = clients::find(conn, client_id)?.ok_or_else(|| no_client(client_id))?;
    let active_sessions = clients::live_families(conn, client_id, now)?;
    let filter = AuditFilter { client_id: Some(client_id.to_string()), ..AuditFilter::default() };
    let recent_audit = audit::list(conn, &filter, RECENT_AUDIT_EVENTS)?.into_iter().map(AuditEntry::from).collect();
    Ok(ClientDetail {
        summary: ClientSummary::of(&row, now),
        metadata: serde_json::from_str(&row.metadata).unwrap_or(Value::Null),
        registrant_user_agent: row.registrant_user_agent.clone(),
        updated_at: rfc3339(row.updated_at),
        fingerprint: row.fingerprint.clone(),
        document_etag: row.cimd_etag.clone(),
        document_last_modified: row.cimd_last_modified.clone(),
        active_sessions,
        recent_audit,
    })
}

fn record(
    conn: &mut DbConnection,
    now: i64,
    event: &'static str,
    actor: Actor,
    client_id: Option<&str>,
    detail: Value,
) -> Result<()> {
    audit::record(
        conn,
        now,
        &AuditRecord {
            event,
            actor,
            client_id: client_id.map(str::to_string),
            address: None,
            user_agent: None,
            detail,
        },
    )?;
    Ok(())
}

/// What a disable did.
#[derive(Debug, Clone, Serialize)]
pub struct Disabled {
    pub client_id: String,
    pub reason: String,
    pub default_reason_used: bool,
    pub already_disabled: bool,
    pub sessions_revoked: usize,
}

/// Disable a client: no new codes, tokens or refreshes from now (every grant path reads the
/// status from the database), its refresh families revoked. Idempotent.
pub fn disable_client(
    conn: &mut DbConnection,
    client_id: &str,
    reason: Option<&str>,
    actor: Actor,
    now: i64,
) -> Result<Disabled> {
    let reason_given = reason.map(str::trim).filter(|r| !r.is_empty());
    write_tx(conn, |conn| {
        let row = clients::find(conn, client_id)?.ok_or_else(|| no_client(client_id))?;
        let already_disabled = row.status == STATUS_DISABLED;
        // Disabling again without a reason keeps the reason given before.
        let kept = if already_disabled { row.disabled_reason.as_deref() } else { None };
        let reason = reason_given.or(kept).unwrap_or(DEFAULT_DISABLE_REASON).to_string();
        clients::set_status(conn, client_id, STATUS_DISABLED, Some(&reason), now)?;
        let sessions_revoked = refresh::revoke_client_families(conn, client_id, "client disabled", now)?;
        record(
            conn,
            now,
            event::CLIENT_DISABLED,
            actor,
            Some(client_id),
            json!({"reason": reason, "already_disabled": already_disabled, "sessions_revoked": sessions_revoked}),
        )?;
        Ok(Disabled {
            client_id: client_id.to_string(),
            reason: reason.clone(),
            default_reason_used: reason_given.is_none() && kept.is_none(),
            already_disabled,
            sessions_revoked,
        })
    })
}

/// Enable a client: new flows work again; families revoked while disabled stay revoked.
pub fn enable_client(conn: &mut DbConnection, client_id: &str, actor: Actor, now: i64) -> Result<()> {
    write_tx(conn, |conn| {
        let row = clients::find(conn, client_id)?.ok_or_else(|| no_client(client_id))?;
        clients::set_status(conn, client_id, STATUS_ACTIVE, None, now)?;
        record(conn, now, event::CLIENT_ENABLED, actor, Some(client_id), json!({"was": row.status}))?;
        Ok(())
    })
}

/// Revoke every refresh family of a client; returns how many.
pub fn revoke_client_sessions(conn: &mut DbConnection, client_id: &str, actor: Actor, now: i64) -> Result<usize> {
    write_tx(conn, |conn| {
        clients::find(conn, client_id)?.ok_or_else(|| no_client(client_id))?;
        let revoked = refresh::revoke_client_families(conn, client_id, "sessions revoked by the operator", now)?;
        record(conn, now, event::CLIENT_SESSIONS_REVOKED, actor, Some(client_id), json!({"revoked": revoked}))?;
        Ok(revoked)
    })
}

/// Delete a client and everything that hangs off it (registration tokens, codes, families,
/// pending requests); the audit history stays.
pub fn delete_client(conn: &mut DbConnection, client_id: &str, actor: Actor, now: i64) -> Result<()> {
    write_tx(conn, |conn| {
        let row = clients::find(conn, client_id)?.ok_or_else(|| no_client(client_id))?;
        clients::delete(conn, client_id)?;
        record(
            conn,
            now,
            event::CLIENT_DELETED,
            actor,
            Some(client_id),
            json!({"client_name": row.client_name, "source": row.source}),
        )?;
        Ok(())
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserSummary {
    pub user_id: String,
    pub email: String,
    pub status: String,
    pub created_at: String,
}

impl From<&UserRow> for UserSummary {
    fn from(row: &UserRow) -> Self {
        UserSummary {
            user_id: row.user_id.clone(),
            email: row.email.clone(),
            status: row.status.clone(),
            created_at: rfc3339(row.created_at),
        }
    }
}

pub fn list_users(conn: &mut DbConnection) -> Result<Vec<UserSummary>> {
    Ok(users::list(conn)?.iter().map(UserSummary::from).collect())
}

/// Disable a user: their sessions end and their refresh families are revoked.
pub fn disable_user(conn: &mut DbConnection, email: &str, actor: Actor, now: i64) -> Result<UserSummary> {
    write_tx(conn, |conn| {
        let user = users::find_by_email(conn, email)?.ok_or_else(|| no_user(email))?;
        users::set_status(conn, &user.user_id, users::STATUS_DISABLED, now)?;
        let sessions_ended = sessions::delete_for_user(conn, &user.user_id)?;
        let families_revoked = refresh::revoke_user_families(conn, &user.user_id, "user disabled", now)?;
        codes::delete_unused_for_user(conn, &user.user_id)?;
        record(
            conn,
            now,
            event::USER_DISABLED,
            actor,
            None,
            json!({"user_id": user.user_id, "email": user.email, "sessions_ended": sessions_ended, "families_revoked": families_revoked}),
        )?;
        let mut user = user;
        user.status = users::STATUS_DISABLED.into();
        Ok(UserSummary::from(&user))
    })
}

/// Set a user's password (hashing included: call off the async workers).
pub fn set_password(conn: &mut DbConnection, email: &str, password: &str, actor: Actor, now: i64) -> Result<()> {
    crate::users::check_password(password).map_err(|e| OperatorError::Invalid(e.to_string()))?;
    let hash = crate::users::hash_password(password).map_err(|e| OperatorError::Invalid(e.to_string()))?;
    write_tx(conn, |conn| {
        let user = users::find_by_email(conn, email)?.ok_or_else(|| no_user(email))?;
        users::set_password_hash(conn, &user.user_id, &hash, now)?;
        record(
            conn,
            now,
            event::USER_PASSWORD_CHANGED,
            actor,
            None,
            json!({"user_id": user.user_id, "email": user.email}),
        )?;
        Ok(())
    })
}

#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    pub event: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// `1h`, `30m`, `7d`, `45s` ago, or an RFC 3339 time.
pub fn parse_since(value: &str, now: i64) -> Result<i64> {
    let invalid = || {
        OperatorError::Invalid(format!(
            "--since \"{}\": use a duration such as 1h, 30m, 7d, or an RFC 3339 time",
            echo(value)
        ))
    };
    let value = value.trim();
    if let Some(unit) = value.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        if let Ok(amount) = value[..value.len() - 1].parse::<i64>() {
            let seconds = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(invalid()),
            };
            return amount.checked_mul(seconds).filter(|s| *s >= 0).map(|s| now - s).ok_or_else(invalid);
        }
    }
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| invalid())
}

/// Newest first.
pub fn query_audit(conn: &mut DbConnection, request: &AuditRequest, now: i64) -> Result<Page<AuditEntry>> {
    let since = request.since.as_deref().map(|s| parse_since(s, now)).transpose()?;
    let before_id = request
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| OperatorError::Invalid(format!("invalid cursor \"{}\"", echo(c)))))
        .transpose()?;
    let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let filter = AuditFilter { event: request.event.clone(), client_id: request.client_id.clone(), since, before_id };
    let mut rows = audit::list(conn, &filter, limit + 1)?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|row| row.id.to_string())
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(AuditEntry::from).collect(), next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_rfc3339() {
        let now = 1_000_000;
        assert_eq!(parse_since("1h", now).unwrap(), now - 3600);
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400);
        assert_eq!(parse_since("30m", now).unwrap(), now - 1800);
        assert_eq!(parse_since("2026-11-26T00:00:00Z", now).unwrap(), 1_795_651_200);
        for bad in ["", "yesterday", "1y", "-1h", "h", "2026-13-01T00:00:00Z"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
