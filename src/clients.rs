//! Operator-registered ("manual") clients: a public PKCE client with a known client id.

use crate::config::Settings;
use crate::db::{write_tx, DbConnection, DbError};
use crate::oauth::client_metadata::ClientMetadata;
use crate::registration::rules::{self, RegistrationRules};
use crate::secrets;
use crate::store::audit::{self, Actor, AuditRecord};
use crate::store::clients::{self, Client, Source};

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
    let mut rules = RegistrationRules::from_settings(settings);
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
) -> Result<Client, ClientError> {
    let row = Client::new(format!("app_{}", secrets::random_token(16)), Source::Manual, metadata.clone(), now);
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
                detail: serde_json::json!({"client_name": row.client_name(), "redirect_uris": metadata.redirect_uris}),
            },
        )?;
        Ok::<_, ClientError>(())
    })?;
    Ok(row)
}
