//! The pending authorization request a browser started (SPEC §5): found by its id, bound to
//! the browser that started it and, on form posts, to the form's CSRF token.

use super::{Browser, Requester};
use crate::cimd::{self, Lookup};
use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::clients::{self, Client};

/// A pending request that this browser started, checked against the form's CSRF token when given.
pub(crate) fn open_pending(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    csrf_token: Option<&str>,
    now: i64,
) -> Result<Option<AuthRequestRow>, DbError> {
    let Some(pending) = auth_requests::find_open(conn, request_id, now)? else { return Ok(None) };
    let same_browser = browser
        .browser_token
        .as_deref()
        .is_some_and(|token| secrets::constant_time_eq(&secrets::digest(token), &pending.browser_hash));
    let csrf_ok = csrf_token.is_none_or(|token| secrets::constant_time_eq(token, &pending.csrf_token));
    Ok((same_browser && csrf_ok).then_some(pending))
}

/// As `open_pending`, with the request's client, which must be stored and active (the consent
/// decision: a CIMD client was stored when the consent page was shown).
pub(super) fn open_request(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    csrf_token: Option<&str>,
    now: i64,
) -> Result<Option<(AuthRequestRow, Client)>, DbError> {
    let Some(pending) = open_pending(conn, request_id, browser, csrf_token, now)? else { return Ok(None) };
    match clients::find(conn, &pending.client_id)? {
        Some(client) if client.is_active() => Ok(Some((pending, client))),
        _ => Ok(None),
    }
}

/// The pending request and its client — stored, or (CIMD) described by its document — or the
/// dashboard for a request of purpose `admin`.
pub(crate) async fn pending_request(
    state: &AppState,
    settings: &Settings,
    request_id: String,
    browser: &Browser,
    csrf_token: Option<String>,
) -> Result<Option<(AuthRequestRow, Requester)>, AppError> {
    let now = state.clock.now();
    let for_db = browser.clone();
    let pending = state
        .db
        .run_idempotent(move |conn| open_pending(conn, &request_id, &for_db, csrf_token.as_deref(), now))
        .await?;
    let Some(pending) = pending else { return Ok(None) };
    if pending.is_admin() {
        return Ok(Some((pending, Requester::Dashboard)));
    }
    match cimd::lookup_client(state, settings, &pending.client_id, &browser.origin).await? {
        Lookup::Found(client) if client.is_active() => Ok(Some((pending, Requester::Client(client)))),
        _ => Ok(None),
    }
}
