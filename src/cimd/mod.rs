//! Client ID Metadata Documents (SPEC §8): a `client_id` that is an https URL names the
//! client's own metadata. This module resolves such ids to clients — through a bounded
//! in-memory cache, one fetch per URL at a time, a few fetches at once in the whole process
//! (a permit awaited at most a second, SPEC §11), failures remembered for a minute, fetches
//! capped per host (after it resolved) and, for unknown URLs, per requesting address — and stores
//! a CIMD client only once a signed-in user reaches consent, so unauthenticated requests cannot
//! fill the tables. At `/token` a stored copy within the stale window is used at once and
//! revalidated in the background.

pub mod address;
pub mod budget;
pub mod cache;
pub mod document;
pub mod documents;
pub mod fetch;

use std::sync::Arc;

use serde_json::json;

use crate::config::Settings;
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::error::ErrorCode;
use crate::origin::Origin;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::{self, Client, Source};
use crate::store::refresh;
pub use documents::Cimd;
use documents::{lock, Fetched, Resolved, Unresolved};

/// What a client lookup found.
pub enum Lookup {
    Found(Box<Client>),
    NotFound,
    /// A CIMD client id whose document cannot be used; the message is for the client's author.
    Failed(String),
    /// The document could not be fetched in time because every fetch is busy: try again shortly
    /// (a 503, not the document's fault).
    Busy(String),
}

/// What a busy lookup tells the browser or client.
const BUSY_MESSAGE: &str =
    "The application's client metadata document cannot be fetched right now: the server is busy. Try again in a moment.";

/// A CIMD client as it would be stored.
fn client_row(url: &str, doc: &Resolved) -> Client {
    Client {
        cimd_fetched_at: Some(doc.fetched_at),
        cimd_expires_at: Some(doc.expires_at),
        cimd_etag: doc.etag.clone(),
        cimd_last_modified: doc.last_modified.clone(),
        ..Client::new(url.to_string(), Source::Cimd, doc.metadata.clone(), doc.fetched_at)
    }
}

/// The client named by `client_id`: a stored one, or — for a CIMD URL while CIMD is enabled — the
/// one its document describes (fetched when not fresh; stored clients are updated quietly).
pub async fn lookup_client(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    requester: &Origin,
) -> Result<Lookup, AppError> {
    let id = client_id.to_string();
    let stored = state.db.run_idempotent(move |conn| Ok(clients::find(conn, &id)?)).await?;
    if !settings.cimd.enabled || !fetch::looks_like_url(client_id) {
        return Ok(stored.map_or(Lookup::NotFound, |row| Lookup::Found(Box::new(row))));
    }
    resolve_document(state, settings, client_id, stored, requester).await
}

/// A CIMD client id, given its stored row if any: the row while fresh (or disabled), else what
/// its document says now.
async fn resolve_document(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    stored: Option<Client>,
    requester: &Origin,
) -> Result<Lookup, AppError> {
    let now = state.clock.now();
    match &stored {
        // A disabled CIMD client is refused however good its document is.
        Some(row) if !row.is_active() => return Ok(Lookup::Found(Box::new(row.clone()))),
        Some(row) if row.cimd_expires_at.is_some_and(|at| at > now) => return Ok(Lookup::Found(Box::new(row.clone()))),
        _ => {}
    }
    let url = match fetch::check_client_id_url(client_id) {
        Ok(url) => url,
        Err(message) => {
            return Ok(Lookup::Failed(format!("this client_id is not a valid client metadata document URL: {message}")))
        }
    };
    let fetched = state.cimd.resolve(&state.db, now, settings, &url, stored.as_ref(), requester).await;
    let Some(existing) = stored else {
        return Ok(match fetched {
            Ok(Fetched::Document(doc)) => Lookup::Found(Box::new(client_row(client_id, &doc))),
            Ok(Fetched::NotModified { .. }) => {
                Lookup::Failed("the document server answered 304 to an unconditional request".into())
            }
            Err(Unresolved::Failed(message)) => Lookup::Failed(message),
            Err(Unresolved::Busy) => Lookup::Busy(BUSY_MESSAGE.into()),
        });
    };
    let stale_until = existing.cimd_expires_at.unwrap_or(0) + settings.cimd.stale_if_error_secs as i64;
    // A stored client whose document is stale: revalidated, replaced, or served stale on error.
    let row = match fetched {
        Ok(Fetched::NotModified { expires_at }) => {
            let mut row = existing;
            row.cimd_expires_at = Some(expires_at);
            row.cimd_failed_at = None;
            let update = row.clone();
            state.db.run(move |conn| Ok(clients::update_document(conn, &update)?)).await?;
            row
        }
        Ok(Fetched::Document(doc)) => {
            let mut row = client_row(client_id, &doc);
            row.created_at = existing.created_at;
            row.last_seen_at = existing.last_seen_at;
            replace_document(state, &existing, &row).await?;
            row
        }
        // No fetch could start: nothing is known about the origin, so the copy is kept unmarked.
        Err(Unresolved::Busy) if now <= stale_until => existing,
        Err(Unresolved::Busy) => return Ok(Lookup::Busy(BUSY_MESSAGE.into())),
        Err(Unresolved::Failed(message)) => {
            let mut row = existing;
            row.cimd_failed_at = Some(row.cimd_failed_at.unwrap_or(now));
            let update = row.clone();
            state.db.run(move |conn| Ok(clients::update_document(conn, &update)?)).await?;
            if now > stale_until {
                return Ok(Lookup::Failed(message));
            }
            tracing::warn!(client_id, %message, "client metadata document refetch failed; using the cached copy");
            row
        }
    };
    Ok(Lookup::Found(Box::new(row)))
}

/// At the token endpoint (SPEC §11): a stored CIMD client whose copy has expired is used at once
/// while within `stale_if_error_secs` of its expiry, and revalidated in the background — where a
/// changed redirect list or auth method still revokes its grants, on that result. Past the stale
/// window it is revalidated first, as at `/authorize`, so a client cannot live on refreshes alone
/// past its document. Unknown URLs are not fetched here (no code or grant can exist for them).
/// Returns why the document cannot be used (its origin failing past the stale window), if so.
pub async fn revalidate_for_token(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    requester: &Origin,
) -> Result<Option<String>, AppError> {
    if !settings.cimd.enabled || !fetch::looks_like_url(client_id) {
        return Ok(None);
    }
    let id = client_id.to_string();
    let Some(stored) = state.db.run_idempotent(move |conn| Ok(clients::find(conn, &id)?)).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    if let Some(expires_at) = stored.cimd_expires_at.filter(|_| stored.is_active()) {
        if expires_at > now {
            return Ok(None);
        }
        if now <= expires_at + settings.cimd.stale_if_error_secs as i64 {
            revalidate_in_background(state, stored, requester);
            return Ok(None);
        }
    }
    match resolve_document(state, settings, client_id, Some(stored), requester).await? {
        Lookup::Failed(message) => Ok(Some(message)),
        Lookup::Busy(message) => Err(AppError::protocol(ErrorCode::TemporarilyUnavailable, message)),
        Lookup::Found(_) | Lookup::NotFound => Ok(None),
    }
}

/// Revalidate a stored client's document off the request, one task per client at a time.
fn revalidate_in_background(state: &AppState, stored: Client, requester: &Origin) {
    let client_id = stored.client_id.clone();
    if !lock(&state.cimd.revalidating).insert(client_id.clone()) {
        return;
    }
    /// Lets the next revalidation of the client start once this one ends, however it ends.
    struct Done(Arc<Cimd>, String);
    impl Drop for Done {
        fn drop(&mut self) {
            lock(&self.0.revalidating).remove(&self.1);
        }
    }
    let done = Done(state.cimd.clone(), client_id.clone());
    let state = state.clone();
    let requester = requester.clone();
    actix_web::rt::spawn(async move {
        let _done = done;
        let settings = state.settings.current();
        match resolve_document(&state, &settings, &client_id, Some(stored), &requester).await {
            Ok(Lookup::Failed(message)) => {
                tracing::warn!(client_id, %message, "background revalidation: the client metadata document is unusable")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(client_id, %error, "background revalidation of a client metadata document failed")
            }
        }
    });
}

/// The security-relevant fields that differ between two versions of a document.
pub fn security_changes(old: &ClientMetadata, new: &ClientMetadata) -> Vec<&'static str> {
    let as_set = |values: &[String]| values.iter().cloned().collect::<std::collections::BTreeSet<String>>();
    let mut changed = Vec::new();
    if as_set(&old.redirect_uris) != as_set(&new.redirect_uris) {
        changed.push("redirect_uris");
    }
    if as_set(&old.grant_types) != as_set(&new.grant_types) {
        changed.push("grant_types");
    }
    if old.token_endpoint_auth_method != new.token_endpoint_auth_method {
        changed.push("token_endpoint_auth_method");
    }
    changed
}

/// Store a changed document. A change to a security-relevant field revokes the client's grants
/// and is audited `client.cimd.metadata_changed`; other changes are stored quietly.
async fn replace_document(state: &AppState, existing: &Client, row: &Client) -> Result<(), AppError> {
    let changed = security_changes(&existing.metadata, &row.metadata);
    let now = state.clock.now();
    let row = row.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                clients::update_document(conn, &row)?;
                if changed.is_empty() {
                    return Ok(());
                }
                let revoked =
                    refresh::revoke_client_families(conn, &row.client_id, "client metadata document changed", now)?;
                audit::record(
                    conn,
                    now,
                    &AuditRecord::new(
                        event::CIMD_METADATA_CHANGED,
                        Actor::System,
                        json!({"changed": changed, "sessions_revoked": revoked}),
                    )
                    .client(&row.client_id),
                )?;
                Ok::<_, DbError>(())
            })
        })
        .await
        .map_err(AppError::from)
}

/// Store a CIMD client when a signed-in user reaches consent (audited `client.cimd.discovered`
/// the first time); a no-op for stored ones.
pub async fn store_at_consent(state: &AppState, client: &Client, requester: &Origin) -> Result<(), AppError> {
    if client.source != Source::Cimd {
        return Ok(());
    }
    let row = client.clone();
    let requester = requester.clone();
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                if clients::find(conn, &row.client_id)?.is_some() {
                    return Ok(());
                }
                clients::insert(conn, &row)?;
                let host = url::Url::parse(&row.client_id).ok().and_then(|u| u.host_str().map(str::to_string));
                audit::record(
                    conn,
                    now,
                    &AuditRecord::new(
                        event::CIMD_DISCOVERED,
                        Actor::Anonymous,
                        json!({"client_name": row.client_name(), "host": host, "redirect_uris": row.redirect_uris()}),
                    )
                    .client(&row.client_id)
                    .from(&requester),
                )?;
                Ok::<_, diesel::result::Error>(())
            })
            .or_else(|error| match error {
                // Two users reached consent for the same new client at once: it is stored.
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => Ok(()),
                other => Err(DbError::from(other)),
            })
        })
        .await
        .map_err(AppError::from)
}

/// The host that serves a CIMD client's document (shown on the consent page).
pub fn document_host(client: &Client) -> Option<String> {
    (client.source == Source::Cimd)
        .then(|| url::Url::parse(&client.client_id).ok()?.host_str().map(str::to_string))
        .flatten()
}
