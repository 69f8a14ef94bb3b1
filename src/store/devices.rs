//! Device cookies (SPEC §11): browsers that signed in before, stored by digest, bound to one
//! user, at most `MAX_PER_USER` each, voided after `MAX_FAILURES` wrong passwords presented
//! with them and whenever the user's password changes or the user is disabled.

use diesel::prelude::*;

use crate::db::schema::device_cookies as d;
use crate::db::DbConnection;

/// Device cookies kept per user (the oldest go first).
pub const MAX_PER_USER: i64 = 20;
/// Wrong passwords presented with one device cookie before it is void.
pub const MAX_FAILURES: i32 = 5;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = d)]
#[diesel(treat_none_as_default_value = false)]
pub struct DeviceRow {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub failures: i32,
}

/// A new device cookie, and the user's oldest beyond `MAX_PER_USER` deleted.
pub fn insert(conn: &mut DbConnection, row: &DeviceRow) -> QueryResult<()> {
    diesel::insert_into(d::table).values(row).execute(conn)?;
    // The new one, and the user's newest others.
    let mut keep: Vec<String> = d::table
        .filter(d::user_id.eq(&row.user_id))
        .filter(d::token_hash.ne(&row.token_hash))
        .order((d::created_at.desc(), d::token_hash.desc()))
        .limit(MAX_PER_USER - 1)
        .select(d::token_hash)
        .load(conn)?;
    keep.push(row.token_hash.clone());
    diesel::delete(d::table.filter(d::user_id.eq(&row.user_id)).filter(d::token_hash.ne_all(keep))).execute(conn)?;
    Ok(())
}

/// The device cookie, when it exists, has not expired and is not void.
pub fn find_live(conn: &mut DbConnection, token_hash: &str, now: i64) -> QueryResult<Option<DeviceRow>> {
    d::table
        .find(token_hash)
        .filter(d::expires_at.gt(now))
        .filter(d::failures.lt(MAX_FAILURES))
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()
}

/// One more wrong password presented with this device cookie; at `MAX_FAILURES` it is deleted.
pub fn record_failure(conn: &mut DbConnection, token_hash: &str) -> QueryResult<()> {
    diesel::update(d::table.find(token_hash)).set(d::failures.eq(d::failures + 1)).execute(conn)?;
    diesel::delete(d::table.find(token_hash).filter(d::failures.ge(MAX_FAILURES))).execute(conn)?;
    Ok(())
}

/// A right password: the count of wrong ones presented with it starts over.
pub fn clear_failures(conn: &mut DbConnection, token_hash: &str) -> QueryResult<()> {
    diesel::update(d::table.find(token_hash).filter(d::failures.gt(0))).set(d::failures.eq(0)).execute(conn)?;
    Ok(())
}

/// Void every device cookie of a user (password changed, user disabled); returns how many.
pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(d::table.filter(d::user_id.eq(user_id))).execute(conn)
}
