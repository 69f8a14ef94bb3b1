//! Users of every identity source (SPEC §9.3: local, provider, app) and the failed sign-in
//! counters (per account, per account and network).

use diesel::prelude::*;

use crate::db::schema::{login_failures, users};
use crate::db::DbConnection;

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_DISABLED: &str = "disabled";

/// `users.source`: created by an operator with a password.
pub const SOURCE_LOCAL: &str = "local";
/// `users.source`: created at a first sign-in through an upstream provider.
pub const SOURCE_PROVIDER: &str = "provider";
/// `users.source`: created by the app beside Gatehouse (delegated sign-in).
pub const SOURCE_APP: &str = "app";

pub const ROLE_USER: &str = "user";
pub const ROLE_ADMIN: &str = "admin";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
pub struct UserRow {
    pub user_id: String,
    /// `None`: the source gave no email. Unique case-insensitively when present.
    pub email: Option<String>,
    /// The email lower-cased; `None` exactly when `email` is.
    pub email_lower: Option<String>,
    /// argon2id PHC string; local users only, and a local user may have none.
    pub password_hash: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub source: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub role: String,
    /// The last sign-in through any source; `None` before the first.
    pub last_sign_in_at: Option<i64>,
}

impl UserRow {
    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }

    pub fn is_local(&self) -> bool {
        self.source == SOURCE_LOCAL
    }

    /// How pages name the user (SPEC §9.3): the email, else the name, else the user id.
    pub fn display_name(&self) -> &str {
        self.email.as_deref().or(self.name.as_deref()).unwrap_or(&self.user_id)
    }
}

pub fn insert(conn: &mut DbConnection, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email_lower.eq(email.to_lowercase())).select(users::all_columns).first(conn).optional()
}

pub fn find(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<UserRow>> {
    crate::per_backend!(conn, |c| users::table.find(user_id).select(users::all_columns).first(c).optional())
}

pub fn set_status(conn: &mut DbConnection, user_id: &str, status: &str, now: i64) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(user_id))
        .set((users::status.eq(status), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(changed > 0)
}

/// `(failures, last_failed_at)` for an account key.
pub fn failures(conn: &mut DbConnection, account_key: &str) -> QueryResult<Option<(i32, i64)>> {
    login_failures::table
        .find(account_key)
        .select((login_failures::failures, login_failures::last_failed_at))
        .first(conn)
        .optional()
}

/// Count one more failed sign-in under `key` and return the count. A counter whose last
/// failure is before `forget_before` starts over.
pub fn record_failure(conn: &mut DbConnection, key: &str, now: i64, forget_before: i64) -> QueryResult<i32> {
    diesel::delete(login_failures::table.find(key).filter(login_failures::last_failed_at.lt(forget_before)))
        .execute(conn)?;
    // `ON CONFLICT` is not available on the combined connection: the same statement per backend.
    macro_rules! upsert {
        ($c:expr) => {
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::account_key.eq(key),
                    login_failures::failures.eq(1),
                    login_failures::last_failed_at.eq(now),
                ))
                .on_conflict(login_failures::account_key)
                .do_update()
                .set((
                    login_failures::failures.eq(login_failures::failures + 1),
                    login_failures::last_failed_at.eq(now),
                ))
                .returning(login_failures::failures)
                .get_result::<i32>($c)
        };
    }
    match conn {
        DbConnection::Postgresql(c) => upsert!(c),
        DbConnection::Sqlite(c) => upsert!(c),
    }
}

pub fn clear_failures(conn: &mut DbConnection, account_key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(account_key)).execute(conn)?;
    Ok(())
}

/// Every user by email; users without one last (in the same place on both backends), by id.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<UserRow>> {
    users::table
        .select(users::all_columns)
        .order((users::email_lower.is_null().asc(), users::email_lower.asc(), users::user_id.asc()))
        .load(conn)
}

/// One page of users by id, optionally of one source, after the id `after`.
pub fn page(
    conn: &mut DbConnection,
    source: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.select(users::all_columns).order(users::user_id.asc()).limit(limit).into_boxed();
    if let Some(source) = source {
        query = query.filter(users::source.eq(source.to_string()));
    }
    if let Some(after) = after {
        query = query.filter(users::user_id.gt(after.to_string()));
    }
    query.load(conn)
}

pub fn set_role(conn: &mut DbConnection, user_id: &str, role: &str, now: i64) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(user_id))
        .set((users::role.eq(role), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(changed > 0)
}

/// What a source says about its user at a sign-in: the name, and the email with whether it is
/// verified (the caller has checked that no other user holds it).
pub fn refresh_profile(
    conn: &mut DbConnection,
    user_id: &str,
    name: Option<&str>,
    email: Option<&str>,
    email_verified: bool,
    now: i64,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::name.eq(name),
            users::email.eq(email),
            users::email_lower.eq(email.map(str::to_lowercase)),
            users::email_verified.eq(email.is_some() && email_verified),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A sign-in through any source happened now.
pub fn record_sign_in(conn: &mut DbConnection, user_id: &str, now: i64) -> QueryResult<()> {
    diesel::update(users::table.find(user_id)).set(users::last_sign_in_at.eq(now)).execute(conn)?;
    Ok(())
}

pub fn set_password_hash(conn: &mut DbConnection, user_id: &str, hash: &str, now: i64) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(user_id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(changed > 0)
}
