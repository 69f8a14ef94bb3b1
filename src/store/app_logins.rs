//! Login challenges handed to the app beside Gatehouse (SPEC §9.2), and the app's statement
//! about each until the browser brings its verifier back. Challenges and verifiers are stored
//! as digests; every step moves the status forward exactly once.

use diesel::prelude::*;

use crate::db::schema::app_logins as a;
use crate::db::DbConnection;

pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";
/// The statement was redeemed by the browser that started the request.
pub const USED: &str = "used";
/// The verifier came back in another browser: the statement is void.
pub const VOID: &str = "void";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = a)]
#[diesel(treat_none_as_default_value = false)]
pub struct AppLoginRow {
    pub challenge_hash: String,
    pub request_id: String,
    pub browser_hash: String,
    pub status: String,
    pub verifier_hash: Option<String>,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub error_description: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &AppLoginRow) -> QueryResult<()> {
    diesel::insert_into(a::table).values(row).execute(conn)?;
    Ok(())
}

/// A challenge the app has not answered yet, unexpired.
pub fn find_pending(conn: &mut DbConnection, challenge_hash: &str, now: i64) -> QueryResult<Option<AppLoginRow>> {
    a::table
        .find(challenge_hash)
        .filter(a::status.eq(PENDING))
        .filter(a::expires_at.gt(now))
        .select(AppLoginRow::as_select())
        .first(conn)
        .optional()
}

/// The app's answer: `accepted` (with the user) or `rejected` (with its words), and the
/// verifier the browser must bring back. Only a pending challenge changes: true for the one
/// caller that answered it.
pub fn answer(
    conn: &mut DbConnection,
    challenge_hash: &str,
    answer: &AppAnswer,
    verifier_hash: &str,
    now: i64,
) -> QueryResult<bool> {
    let (status, user_id, auth_time, error_description) = match answer {
        AppAnswer::Accepted { user_id, auth_time } => (ACCEPTED, Some(user_id.as_str()), Some(*auth_time), None),
        AppAnswer::Rejected { error_description } => (REJECTED, None, None, Some(error_description.as_str())),
    };
    let changed =
        diesel::update(a::table.find(challenge_hash).filter(a::status.eq(PENDING)).filter(a::expires_at.gt(now)))
            .set((
                a::status.eq(status),
                a::verifier_hash.eq(verifier_hash),
                a::user_id.eq(user_id),
                a::auth_time.eq(auth_time),
                a::error_description.eq(error_description),
            ))
            .execute(conn)?;
    Ok(changed == 1)
}

/// What the app said about a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppAnswer {
    Accepted { user_id: String, auth_time: i64 },
    Rejected { error_description: String },
}

/// An answered, unexpired statement by its verifier.
pub fn find_answered(conn: &mut DbConnection, verifier_hash: &str, now: i64) -> QueryResult<Option<AppLoginRow>> {
    a::table
        .filter(a::verifier_hash.eq(verifier_hash))
        .filter(a::status.eq_any([ACCEPTED, REJECTED]))
        .filter(a::expires_at.gt(now))
        .select(AppLoginRow::as_select())
        .first(conn)
        .optional()
}

/// Close an answered statement as `used` or `void`; true for the one caller that closed it (a
/// replayed return finds it closed).
pub fn close(conn: &mut DbConnection, challenge_hash: &str, status: &str) -> QueryResult<bool> {
    let changed = diesel::update(a::table.find(challenge_hash).filter(a::status.eq_any([ACCEPTED, REJECTED])))
        .set(a::status.eq(status))
        .execute(conn)?;
    Ok(changed == 1)
}
