//! Operator-registered ("manual") clients: a public PKCE client with a known client id.

use crate::config::Settings;
use crate::db::{write_tx, DbConnection, DbError};
use crate::registration::rules::{self, ClientMetadata};
use crate::registration::service::rules_from;
use crate::secrets;
use crate::store::audit::{self, Actor, AuditRecord};
use crate::store::clients::{self, ClientRow, SOURCE_MANUAL, STATUS_ACTIVE};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ClientError {
    fn from(e: diesel::result::Error) -> Self {
        ClientError::Db(DbError::Query(e))
    }
}

/// Validate a manual client's metadata with the registration rules; https and loopback redirect
/// URIs are always allowed for the operator, whatever the DCR switches say.
pub fn manual_metadata(
    settings: &Settings,
    name: &str,
    redirect_uris: &[String],
) -> Result<ClientMetadata, ClientError> {
    let mut rules = rules_from(settings);
    rules.allow_https_redirect_uris = true;
    rules.allow_loopback_redirect_uris = true;
    rules.max_redirect_uris = rules.max_redirect_uris.max(redirect_uris.len());
    let request = serde_json::json!({
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let serde_json::Value::Object(map) = request else { unreachable!("a JSON object literal") };
    rules::validate(&map, &rules).map_err(|e| ClientError::Invalid(e.description))
}

/// Create a manual client; audited `client.created`.
pub fn add_manual(
    conn: &mut DbConnection,
    metadata: &ClientMetadata,
    actor: Actor,
    now: i64,
) -> Result<ClientRow, ClientError> {
    let row = ClientRow {
        client_id: format!("app_{}", secrets::random_token(16)),
        source: SOURCE_MANUAL.into(),
        status: STATUS_ACTIVE.into(),
        disabled_reason: None,
        client_name: metadata.client_name.clone(),
        redirect_uris: serde_json::to_string(&metadata.redirect_uris).unwrap_or_default(),
        metadata: serde_json::to_string(metadata).unwrap_or_default(),
        fingerprint: None,
        registrant_address: None,
        registrant_user_agent: None,
        created_at: now,
        updated_at: now,
        last_seen_at: None,
        ..ClientRow::default()
    };
    write_tx(conn, |conn| {
        clients::insert(conn, &row)?;
        audit::record(
            conn,
            now,
            &AuditRecord {
                event: audit::event::CLIENT_CREATED,
                actor,
                client_id: Some(row.client_id.clone()),
                address: None,
                user_agent: None,
                detail: serde_json::json!({"client_name": row.client_name, "redirect_uris": metadata.redirect_uris}),
            },
        )?;
        Ok::<_, ClientError>(())
    })?;
    Ok(row)
}
