//! Operator controls over users of every source (SPEC §6, §9.3): create local users, list,
//! show, disable and enable, unlink an identity, set a password. Hashing is slow by design:
//! call these off the async workers.

use serde::Serialize;
use serde_json::json;

use super::{page_size, record, OperatorError, Page, Result};
use crate::clock::rfc3339;
use crate::db::{write_tx, DbConnection};
use crate::password::{check_password, hash_password};
use crate::secrets;
use crate::store::audit::{event, Actor};
use crate::store::codes;
use crate::store::devices;
use crate::store::identities::{self, IdentityRow};
use crate::store::refresh;
use crate::store::sessions;
use crate::store::users::{
    self, UserRow, ROLE_ADMIN, ROLE_USER, SOURCE_APP, SOURCE_LOCAL, SOURCE_PROVIDER, STATUS_ACTIVE,
};
use crate::text::{self, echo};

/// How an operator names a user (SPEC §9.3): by email, or by id (`--id`, or the admin API's
/// path). Users of the app or a provider may have no email, so an id always works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Email(String),
    Id(String),
}

impl UserRef {
    /// A CLI argument: an email when it holds `@`; anything else must come with `--id`, so a
    /// mistyped email is never taken for an id.
    pub fn from_cli(value: Option<String>, id: Option<String>) -> Result<UserRef> {
        match (value, id) {
            (Some(value), None) if value.contains('@') => Ok(UserRef::Email(value)),
            (Some(value), None) => Err(OperatorError::Invalid(format!(
                "\"{}\" is not an email address; give a user id with --id",
                echo(&value)
            ))),
            (None, Some(id)) => Ok(UserRef::Id(id)),
            (Some(_), Some(_)) => Err(OperatorError::Invalid("give an email or --id, not both".into())),
            (None, None) => Err(OperatorError::Invalid("name the user by email or with --id".into())),
        }
    }

    fn find(&self, conn: &mut DbConnection) -> Result<UserRow> {
        let found = match self {
            // A control character names no user (and PostgreSQL text cannot hold U+0000).
            UserRef::Email(email) | UserRef::Id(email) if text::has_control(email) => None,
            UserRef::Email(email) => users::find_by_email(conn, email)?,
            UserRef::Id(id) => users::find(conn, id)?,
        };
        found.ok_or_else(|| self.not_found())
    }

    fn not_found(&self) -> OperatorError {
        OperatorError::NotFound(match self {
            UserRef::Email(email) => format!("no user with email \"{}\"", echo(email)),
            UserRef::Id(id) => format!("no user with id \"{}\"", echo(id)),
        })
    }
}

/// A user in a list: who, from which source, with which role and identities.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserSummary {
    pub user_id: String,
    /// `None` (JSON `null`) for a user whose source gave no email.
    pub email: Option<String>,
    pub source: String,
    pub status: String,
    pub role: String,
    pub created_at: String,
    /// The providers the user has identities at.
    pub identities: Vec<String>,
}

impl UserSummary {
    fn of(row: &UserRow, identities: &[IdentityRow]) -> Self {
        let mut providers: Vec<String> = identities.iter().map(|i| i.provider.clone()).collect();
        providers.dedup();
        UserSummary {
            user_id: row.user_id.clone(),
            email: row.email.clone(),
            source: row.source.clone(),
            status: row.status.clone(),
            role: row.role.clone(),
            created_at: rfc3339(row.created_at),
            identities: providers,
        }
    }
}

/// One user in full: the JSON shape of SPEC §9.3 (`users show --json`, `GET
/// /admin/api/users/{id}`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserDetail {
    pub user_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub source: String,
    pub status: String,
    pub role: String,
    pub created_at: String,
    pub last_sign_in_at: Option<String>,
    pub identities: Vec<IdentityDetail>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IdentityDetail {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub last_sign_in_at: String,
}

impl UserDetail {
    fn of(row: UserRow, identities: Vec<IdentityRow>) -> Self {
        UserDetail {
            created_at: rfc3339(row.created_at),
            last_sign_in_at: row.last_sign_in_at.map(rfc3339),
            user_id: row.user_id,
            email: row.email,
            email_verified: row.email_verified,
            name: row.name,
            source: row.source,
            status: row.status,
            role: row.role,
            identities: identities
                .into_iter()
                .map(|i| IdentityDetail {
                    last_sign_in_at: rfc3339(i.last_sign_in_at),
                    provider: i.provider,
                    issuer: i.issuer,
                    subject: i.subject,
                    email: i.email,
                })
                .collect(),
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

/// A local user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    /// The operator vouches for the address (`--email-verified`).
    pub email_verified: bool,
    pub role: Role,
}

/// A user's role (SPEC §12): admins may open the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn parse(value: &str) -> Result<Role> {
        match value {
            ROLE_USER => Ok(Role::User),
            ROLE_ADMIN => Ok(Role::Admin),
            other => Err(OperatorError::Invalid(format!("role \"{}\" is not one of admin, user", echo(other)))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => ROLE_USER,
            Role::Admin => ROLE_ADMIN,
        }
    }
}

/// Create a local user; audited `user.created`. An email already taken (in any case) is
/// refused. `email_verified`: the operator vouches for the address (`--email-verified`).
pub fn add_user(conn: &mut DbConnection, new: &NewUser, actor: Actor, now: i64) -> Result<UserRow> {
    let NewUser { email, password, email_verified, role } = new;
    let email_verified = *email_verified;
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
        email_verified,
        role: role.as_str().into(),
        last_sign_in_at: None,
    };
    write_tx(conn, |conn| {
        if users::find_by_email(conn, &email)?.is_some() {
            return Err(OperatorError::Invalid(format!("a user with the email {email:?} already exists")));
        }
        users::insert(conn, &row)?;
        record(
            conn,
            now,
            event::USER_CREATED,
            actor,
            None,
            json!({"user_id": row.user_id, "email": row.email, "source": SOURCE_LOCAL, "role": row.role}),
        )?;
        Ok(row.clone())
    })
}

/// Every user, by email (users without one last), for the CLI.
pub fn list_users(conn: &mut DbConnection) -> Result<Vec<UserSummary>> {
    let rows = users::list(conn)?;
    rows.iter().map(|row| Ok(UserSummary::of(row, &identities::list_for_user(conn, &row.user_id)?))).collect()
}

/// One page of users by id, optionally of one source (`GET /admin/api/users`).
pub fn list_users_page(
    conn: &mut DbConnection,
    source: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<UserSummary>> {
    if let Some(source) = source {
        if ![SOURCE_LOCAL, SOURCE_PROVIDER, SOURCE_APP].contains(&source) {
            return Err(OperatorError::Invalid(format!(
                "source \"{}\" is not one of local, provider, app",
                echo(source)
            )));
        }
    }
    if cursor.is_some_and(text::has_control) {
        return Err(OperatorError::Invalid("invalid cursor".into()));
    }
    let limit = page_size(limit);
    let rows = users::page(conn, source, cursor, limit + 1)?;
    let mut summaries = Vec::with_capacity(rows.len());
    for row in rows {
        let identities = identities::list_for_user(conn, &row.user_id)?;
        summaries.push((row.user_id.clone(), UserSummary::of(&row, &identities)));
    }
    Ok(Page::of(summaries, limit, |(id, _)| id.clone(), |(_, summary)| summary))
}

/// A user with their identities.
pub fn show_user(conn: &mut DbConnection, user: &UserRef) -> Result<UserDetail> {
    let row = user.find(conn)?;
    let identities = identities::list_for_user(conn, &row.user_id)?;
    Ok(UserDetail::of(row, identities))
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
pub fn disable_user(conn: &mut DbConnection, user: &UserRef, actor: Actor, now: i64) -> Result<UserDetail> {
    write_tx(conn, |conn| {
        let user = user.find(conn)?;
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
        let identities = identities::list_for_user(conn, &user.user_id)?;
        Ok(UserDetail::of(user, identities))
    })
}

/// Enable a disabled user again (they sign in afresh: nothing of before comes back).
pub fn enable_user(conn: &mut DbConnection, user: &UserRef, actor: Actor, now: i64) -> Result<UserDetail> {
    write_tx(conn, |conn| {
        let mut user = user.find(conn)?;
        users::set_status(conn, &user.user_id, STATUS_ACTIVE, now)?;
        record(conn, now, event::USER_ENABLED, actor, None, json!({"user_id": user.user_id, "email": user.email}))?;
        user.status = STATUS_ACTIVE.into();
        let identities = identities::list_for_user(conn, &user.user_id)?;
        Ok(UserDetail::of(user, identities))
    })
}

/// Give a user a role (SPEC §12); audited `user.role_changed`. The dashboard reads the role
/// on every request, so a demotion takes effect at the user's next click.
pub fn set_role(conn: &mut DbConnection, user: &UserRef, role: Role, actor: Actor, now: i64) -> Result<UserDetail> {
    write_tx(conn, |conn| {
        let mut user = user.find(conn)?;
        if user.role != role.as_str() {
            users::set_role(conn, &user.user_id, role.as_str(), now)?;
            record(
                conn,
                now,
                event::USER_ROLE_CHANGED,
                actor,
                None,
                json!({"user_id": user.user_id, "email": user.email, "from": user.role, "to": role.as_str()}),
            )?;
            user.role = role.as_str().into();
        }
        let identities = identities::list_for_user(conn, &user.user_id)?;
        Ok(UserDetail::of(user, identities))
    })
}

/// What unlinking an identity removed and ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Unlinked {
    pub identities_removed: usize,
    pub sessions_ended: usize,
    pub families_revoked: usize,
}

/// Unlink the user's identities at `provider` (SPEC §9.3): the user's sessions end and their
/// refresh families are revoked, since they may have been signed in through it. The next
/// sign-in through that provider is a first one again, under the linking rules.
pub fn unlink_identity(
    conn: &mut DbConnection,
    user: &UserRef,
    provider: &str,
    actor: Actor,
    now: i64,
) -> Result<Unlinked> {
    write_tx(conn, |conn| {
        let user = user.find(conn)?;
        let removed =
            if text::has_control(provider) { 0 } else { identities::delete_for_user(conn, &user.user_id, provider)? };
        if removed == 0 {
            return Err(OperatorError::NotFound(format!(
                "{} has no identity at provider \"{}\"",
                user.display_name(),
                echo(provider)
            )));
        }
        let ended = end_sign_ins(conn, &user.user_id, "identity unlinked", now)?;
        record(
            conn,
            now,
            event::USER_IDENTITY_UNLINKED,
            actor,
            None,
            json!({
                "user_id": user.user_id,
                "email": user.email,
                "provider": provider,
                "sessions_ended": ended.sessions,
                "families_revoked": ended.families,
            }),
        )?;
        Ok(Unlinked { identities_removed: removed, sessions_ended: ended.sessions, families_revoked: ended.families })
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
    user: &UserRef,
    password: &str,
    actor: Actor,
    now: i64,
) -> Result<PasswordChanged> {
    check_password(password)?;
    let hash = hash_password(password)?;
    write_tx(conn, |conn| {
        let user = user.find(conn)?;
        if !user.is_local() {
            return Err(OperatorError::Invalid(format!(
                "\"{}\" signs in through its {} source and has no password here",
                echo(user.display_name()),
                user.source
            )));
        }
        users::set_password_hash(conn, &user.user_id, &hash, now)?;
        record(
            conn,
            now,
            event::USER_PASSWORD_CHANGED,
            actor.clone(),
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
