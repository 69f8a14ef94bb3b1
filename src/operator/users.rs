//! Operator controls over local users (SPEC §6, §9.3): create, list, disable, set a password.
//! Hashing is slow by design: call these off the async workers.

use serde::Serialize;
use serde_json::json;

use super::{record, OperatorError, Result};
use crate::clock::rfc3339;
use crate::db::{write_tx, DbConnection};
use crate::password::{check_password, hash_password};
use crate::secrets;
use crate::store::audit::{event, Actor};
use crate::store::codes;
use crate::store::devices;
use crate::store::refresh;
use crate::store::sessions;
use crate::store::users::{self, UserRow, ROLE_USER, SOURCE_LOCAL, STATUS_ACTIVE};
use crate::text::echo;

fn no_user(email: &str) -> OperatorError {
    OperatorError::NotFound(format!("no user with email \"{}\"", echo(email)))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserSummary {
    pub user_id: String,
    /// `None` (JSON `null`) for a user whose source gave no email.
    pub email: Option<String>,
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

/// The email, trimmed, when it looks like one.
pub fn check_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 320
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_string())
    } else {
        Err(OperatorError::Invalid(format!("{email:?} is not an email address")))
    }
}

/// Create a user; audited `user.created`. An email already taken (in any case) is refused.
pub fn add_user(conn: &mut DbConnection, email: &str, password: &str, actor: Actor, now: i64) -> Result<UserRow> {
    let email = check_email(email)?;
    check_password(password)?;
    let password_hash = hash_password(password)?;
    let row = UserRow {
        user_id: format!("usr_{}", secrets::random_token(12)),
        email_lower: Some(email.to_lowercase()),
        email: Some(email.clone()),
        password_hash: Some(password_hash),
        status: STATUS_ACTIVE.into(),
        created_at: now,
        updated_at: now,
        source: SOURCE_LOCAL.into(),
        name: None,
        // SPEC §9.3: a local user's email is not verified unless the operator says so.
        email_verified: false,
        role: ROLE_USER.into(),
    };
    write_tx(conn, |conn| {
        if users::find_by_email(conn, &email)?.is_some() {
            return Err(OperatorError::Invalid(format!("a user with the email {email:?} already exists")));
        }
        users::insert(conn, &row)?;
        record(conn, now, event::USER_CREATED, actor, None, json!({"user_id": row.user_id, "email": row.email}))?;
        Ok(row.clone())
    })
}

pub fn list_users(conn: &mut DbConnection) -> Result<Vec<UserSummary>> {
    Ok(users::list(conn)?.iter().map(UserSummary::from).collect())
}

/// What ending a user's sign-ins took away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ended {
    sessions: usize,
    families: usize,
    codes: usize,
    devices: usize,
}

/// End everything a user is signed in with (SPEC §6, §11): their sessions, their refresh
/// families (revoked with `reason`) and their codes not yet redeemed. Call inside the
/// transaction that makes the change it follows from.
fn end_sign_ins(conn: &mut DbConnection, user_id: &str, reason: &str, now: i64) -> Result<Ended> {
    Ok(Ended {
        sessions: sessions::delete_for_user(conn, user_id)?,
        families: refresh::revoke_user_families(conn, user_id, reason, now)?,
        codes: codes::delete_unused_for_user(conn, user_id)?,
        // A browser trusted with the old password (or before the account was disabled) is not
        // trusted any more.
        devices: devices::delete_for_user(conn, user_id)?,
    })
}

/// Disable a user: their sessions end and their refresh families are revoked.
pub fn disable_user(conn: &mut DbConnection, email: &str, actor: Actor, now: i64) -> Result<UserSummary> {
    write_tx(conn, |conn| {
        let user = users::find_by_email(conn, email)?.ok_or_else(|| no_user(email))?;
        users::set_status(conn, &user.user_id, users::STATUS_DISABLED, now)?;
        let ended = end_sign_ins(conn, &user.user_id, "user disabled", now)?;
        record(
            conn,
            now,
            event::USER_DISABLED,
            actor,
            None,
            json!({"user_id": user.user_id, "email": user.email, "sessions_ended": ended.sessions, "families_revoked": ended.families}),
        )?;
        let mut user = user;
        user.status = users::STATUS_DISABLED.into();
        Ok(UserSummary::from(&user))
    })
}

/// What a password change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PasswordChanged {
    pub sessions_ended: usize,
    pub families_revoked: usize,
    pub codes_deleted: usize,
}

/// Set a local user's password (users of a provider or the app sign in there, SPEC §9.3).
/// Whoever signed in with the old one is signed out (SPEC §11): the
/// user's sessions end, their refresh families are revoked and their unredeemed codes go, like
/// `disable_user`; audited `user.password_changed` and `user.sessions_ended`.
pub fn set_password(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    actor: Actor,
    now: i64,
) -> Result<PasswordChanged> {
    check_password(password)?;
    let hash = hash_password(password)?;
    write_tx(conn, |conn| {
        let user = users::find_by_email(conn, email)?.ok_or_else(|| no_user(email))?;
        if !user.is_local() {
            return Err(OperatorError::Invalid(format!(
                "\"{}\" signs in through its {} source and has no password here",
                echo(email),
                user.source
            )));
        }
        users::set_password_hash(conn, &user.user_id, &hash, now)?;
        record(
            conn,
            now,
            event::USER_PASSWORD_CHANGED,
            actor,
            None,
            json!({"user_id": user.user_id, "email": user.email}),
        )?;
        let ended = end_sign_ins(conn, &user.user_id, "password changed", now)?;
        record(
            conn,
            now,
            event::USER_SESSIONS_ENDED,
            actor,
            None,
            json!({
                "user_id": user.user_id,
                "email": user.email,
                "reason": "password changed",
                "sessions_ended": ended.sessions,
                "families_revoked": ended.families,
                "codes_deleted": ended.codes,
            }),
        )?;
        Ok(PasswordChanged {
            sessions_ended: ended.sessions,
            families_revoked: ended.families,
            codes_deleted: ended.codes,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check() {
        assert!(check_email("a@example.com").is_ok());
        assert!(check_email("nope").is_err());
        assert!(check_email("a b@example.com").is_err());
    }
}
