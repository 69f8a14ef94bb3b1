//! The signed-in user (SPEC §5): the session cookie's live session of an active user, and
//! logout.

use super::Browser;
use crate::db::{DbConnection, DbError};
use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::sessions::{self, SessionRow};
use crate::store::users::{self, UserRow};

/// The session's user, when the cookie names a live session of an active user.
pub(super) fn session_user(
    conn: &mut DbConnection,
    token: Option<&str>,
    now: i64,
) -> Result<Option<(SessionRow, UserRow)>, DbError> {
    let Some(token) = token else { return Ok(None) };
    let Some(session) = sessions::find_live(conn, &secrets::digest(token), now)? else { return Ok(None) };
    match users::find(conn, &session.user_id)? {
        Some(user) if user.is_active() => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// The session's user when a new authorization may go on with it. A session made by the app's
/// sign-in serves only the request it was made for (SPEC §9.2): each `/authorize` goes back
/// through the app, so signing out there takes effect.
pub(super) fn reusable_session_user(
    conn: &mut DbConnection,
    token: Option<&str>,
    now: i64,
) -> Result<Option<(SessionRow, UserRow)>, DbError> {
    Ok(session_user(conn, token, now)?.filter(|(session, _)| session.method != sessions::METHOD_APP))
}

/// `POST /logout`: ends the session when the form's CSRF token is the session's. Returns
/// whether a session was ended.
pub async fn logout(state: &AppState, csrf_token: String, browser: &Browser) -> Result<bool, AppError> {
    let now = state.clock.now();
    let Some(token) = browser.session_token.clone() else { return Ok(false) };
    state
        .db
        .run(move |conn| {
            let hash = secrets::digest(&token);
            let Some(session) = sessions::find_live(conn, &hash, now)? else { return Ok(false) };
            if !secrets::constant_time_eq(&csrf_token, &session.csrf_token) {
                return Ok(false);
            }
            Ok(sessions::delete(conn, &hash)?)
        })
        .await
        .map_err(AppError::from)
}

/// Who is asking for the dashboard (SPEC §12), read from the database on every request: the
/// live session's user and that user's role now, so a demoted admin's next request is refused.
#[derive(Debug, Clone)]
pub enum DashboardAccess {
    /// No live session of an active user: sign in first.
    SignedOut,
    /// Signed in, without the `admin` role.
    NotAdmin,
    /// An admin; `csrf_token` is the session's, which every dashboard form carries.
    Admin { user_id: String, email: Option<String>, csrf_token: String },
}

/// Any live session will do, whichever source made it (the app's included: the dashboard's own
/// sign-in through the app makes one).
pub async fn dashboard_access(state: &AppState, browser: &Browser) -> Result<DashboardAccess, AppError> {
    let now = state.clock.now();
    let token = browser.session_token.clone();
    let found = state.db.run_idempotent(move |conn| session_user(conn, token.as_deref(), now)).await?;
    Ok(match found {
        None => DashboardAccess::SignedOut,
        Some((_, user)) if user.role != users::ROLE_ADMIN => DashboardAccess::NotAdmin,
        Some((session, user)) => {
            DashboardAccess::Admin { user_id: user.user_id, email: user.email, csrf_token: session.csrf_token }
        }
    })
}
