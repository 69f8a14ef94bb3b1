//! Operator controls over clients (SPEC §6): list, show, disable, enable, revoke sessions,
//! delete, and create a "manual" client (a public PKCE client with a known client id).

use serde::Serialize;
use serde_json::{json, Value};

use super::{page_size, record, AuditEntry, OperatorError, Page, Result};
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::config::Word;
use crate::db::{write_tx, DbConnection};
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::redirect_uri::display_host;
use crate::registration::rules::{self, RegistrationRules};
use crate::secrets;
use crate::store::audit::{self, event, Actor, AuditFilter};
use crate::store::clients::{self, Client, ClientQuery, Source, Status};
use crate::store::refresh;
use crate::text::echo;

/// The reason recorded when the operator gives none.
pub const DEFAULT_DISABLE_REASON: &str = "disabled by the operator (no reason given)";
/// Audit events shown with a client.
const RECENT_AUDIT_EVENTS: i64 = 20;

fn no_client(client_id: &str) -> OperatorError {
    OperatorError::NotFound(format!("no client with id \"{}\"", echo(client_id)))
}

/// A client as the list shows it; the field names are the admin API's and `--json`'s.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientSummary {
    pub client_id: String,
    pub source: Source,
    pub status: Status,
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
    fn of(row: &Client, now: i64) -> Option<DocumentCache> {
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
    pub fn of(row: &Client, now: i64) -> Self {
        let redirect_uris = row.redirect_uris().to_vec();
        let mut redirect_hosts: Vec<String> = redirect_uris.iter().map(|u| display_host(u)).collect();
        redirect_hosts.dedup();
        ClientSummary {
            client_id: row.client_id.clone(),
            source: row.source,
            status: row.status,
            client_name: row.client_name().to_string(),
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

#[derive(Debug, Clone, Default)]
pub struct ClientListRequest {
    pub source: Option<String>,
    pub status: Option<String>,
    pub stale: bool,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    /// Part of the name or id (the dashboard's search), matched literally.
    pub search: Option<String>,
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
    let source = match request.source.as_deref() {
        Some(source) => Some(Source::parse(source).ok_or_else(|| {
            OperatorError::Invalid(format!("source \"{}\" is not one of dcr, manual, cimd", echo(source)))
        })?),
        None => None,
    };
    let status = match request.status.as_deref() {
        Some(status) => Some(Status::parse(status).ok_or_else(|| {
            OperatorError::Invalid(format!("status \"{}\" is not one of active, disabled", echo(status)))
        })?),
        None => None,
    };
    let limit = page_size(request.limit);
    let query = ClientQuery {
        source,
        status,
        stale_before: request.stale.then(|| now - stale_retention_days as i64 * 86_400),
        now,
        after: request.cursor.as_deref().map(parse_client_cursor).transpose()?,
        limit: limit + 1,
        search: request.search.clone().filter(|s| !s.trim().is_empty()),
    };
    let rows = clients::list(conn, &query)?;
    Ok(Page::of(rows, limit, |row| format!("{}.{}", row.created_at, row.client_id), |row| ClientSummary::of(&row, now)))
}

pub fn show_client(conn: &mut DbConnection, client_id: &str, now: i64) -> Result<ClientDetail> {
    let row = clients::find(conn, client_id)?.ok_or_else(|| no_client(client_id))?;
    let active_sessions = clients::live_families(conn, client_id, now)?;
    let filter = AuditFilter { client_id: Some(client_id.to_string()), ..AuditFilter::default() };
    let recent_audit = audit::list(conn, &filter, RECENT_AUDIT_EVENTS)?.into_iter().map(AuditEntry::from).collect();
    Ok(ClientDetail {
        summary: ClientSummary::of(&row, now),
        // Through a JSON value, so the keys come out in the same (sorted) order as before.
        metadata: serde_json::to_value(&row.metadata)
            .map_err(|e| diesel::result::Error::SerializationError(e.into()))?,
        registrant_user_agent: row.registrant_user_agent.clone(),
        updated_at: rfc3339(row.updated_at),
        fingerprint: row.fingerprint.clone(),
        document_etag: row.cimd_etag.clone(),
        document_last_modified: row.cimd_last_modified.clone(),
        active_sessions,
        recent_audit,
    })
}

/// Validate a manual client's metadata with the registration rules; https and loopback redirect
/// URIs are always allowed for the operator, whatever the DCR switches say.
pub fn manual_metadata(settings: &Settings, name: &str, redirect_uris: &[String]) -> Result<ClientMetadata> {
    let mut rules = RegistrationRules::from_settings(settings);
    rules.allow_https_redirect_uris = true;
    rules.allow_loopback_redirect_uris = true;
    rules.max_redirect_uris = rules.max_redirect_uris.max(redirect_uris.len());
    let request = json!({
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let Value::Object(map) = request else { unreachable!("a JSON object literal") };
    rules::validate(&map, &rules).map_err(|e| OperatorError::Invalid(e.description))
}

/// Create a manual client from metadata `manual_metadata` accepted; audited `client.created`.
pub fn add_manual(conn: &mut DbConnection, metadata: &ClientMetadata, actor: Actor, now: i64) -> Result<Client> {
    let row = Client::new(format!("app_{}", secrets::random_token(16)), Source::Manual, metadata.clone(), now);
    write_tx(conn, |conn| {
        clients::insert(conn, &row)?;
        record(
            conn,
            now,
            event::CLIENT_CREATED,
            actor,
            Some(&row.client_id),
            json!({"client_name": row.client_name(), "redirect_uris": metadata.redirect_uris}),
        )
    })?;
    Ok(row)
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
        let already_disabled = row.status == Status::Disabled;
        // Disabling again without a reason keeps the reason given before.
        let kept = if already_disabled { row.disabled_reason.as_deref() } else { None };
        let reason = reason_given.or(kept).unwrap_or(DEFAULT_DISABLE_REASON).to_string();
        clients::set_status(conn, client_id, Status::Disabled, Some(&reason), now)?;
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
        clients::set_status(conn, client_id, Status::Active, None, now)?;
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
            json!({"client_name": row.client_name(), "source": row.source}),
        )?;
        Ok(())
    })
}
