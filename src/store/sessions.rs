//! Browser sessions, stored by the digest of the cookie value, with when and how the person
//! authenticated (SPEC §9, §10: `auth_time`, `method`).

use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::db::DbConnection;

/// `sessions.method` of a sign-in with the password form. (A provider's sign-in records the
/// provider id; the app's, `app`.)
pub const METHOD_PASSWORD: &str = "password";
/// `sessions.method` of a sign-in through the app beside Gatehouse (SPEC §9.2). Such sessions
/// serve the one request they were made for: `/authorize` never reuses them.
pub const METHOD_APP: &str = "app";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(treat_none_as_default_value = false)]
pub struct SessionRow {
    pub session_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the person authenticated (the session's creation for a password sign-in).
    pub auth_time: i64,
    /// `password`, a provider id, or `app`.
    pub method: String,
}

pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table).values(row).execute(conn)?;
    Ok(())
}

/// The session, when it exists and has not expired.
pub fn find_live(conn: &mut DbConnection, session_hash: &str, now: i64) -> QueryResult<Option<SessionRow>> {
    crate::per_backend!(conn, |c| sessions::table
        .find(session_hash)
        .filter(sessions::expires_at.gt(now))
        .select(sessions::all_columns)
        .first(c)
        .optional())
}

pub fn delete(conn: &mut DbConnection, session_hash: &str) -> QueryResult<bool> {
    Ok(diesel::delete(sessions::table.find(session_hash)).execute(conn)? > 0)
}

pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}
