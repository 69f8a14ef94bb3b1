//! Signing keys (SPEC §3 JWKS, §11): the rows, private keys encrypted at rest (see `keys::cipher`).

use diesel::prelude::*;

use crate::db::schema::signing_keys as k;
use crate::db::DbConnection;

pub const ACTIVE: &str = "active";
pub const NEXT: &str = "next";
pub const RETIRED: &str = "retired";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = k)]
#[diesel(treat_none_as_default_value = false)]
pub struct KeyRow {
    pub kid: String,
    pub algorithm: String,
    pub private_key: String,
    pub public_jwk: String,
    pub status: String,
    pub created_at: i64,
    pub activates_at: i64,
    pub retire_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(k::table).values(row).execute(conn)?;
    Ok(())
}

pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<KeyRow>> {
    k::table.select(k::all_columns).order(k::created_at.asc()).load(conn)
}

/// The active key of an algorithm (one per algorithm, by a unique index).
pub fn active(conn: &mut DbConnection, algorithm: &str) -> QueryResult<Option<KeyRow>> {
    k::table
        .filter(k::status.eq(ACTIVE))
        .filter(k::algorithm.eq(algorithm))
        .select(k::all_columns)
        .first(conn)
        .optional()
}

/// The pending `next` key of an algorithm.
pub fn next(conn: &mut DbConnection, algorithm: &str) -> QueryResult<Option<KeyRow>> {
    k::table.filter(k::status.eq(NEXT)).filter(k::algorithm.eq(algorithm)).select(k::all_columns).first(conn).optional()
}

/// Any pending `next` key (a rotation is under way).
pub fn any_next(conn: &mut DbConnection) -> QueryResult<Option<KeyRow>> {
    k::table.filter(k::status.eq(NEXT)).select(k::all_columns).first(conn).optional()
}

/// Promote a due `next` key: retire the older active key of its algorithm (never the one being
/// promoted, so two replicas doing this at once cannot retire the new key), then activate the
/// next one.
pub fn promote(conn: &mut DbConnection, next: &KeyRow, retire_at: i64) -> QueryResult<bool> {
    diesel::update(
        k::table
            .filter(k::status.eq(ACTIVE))
            .filter(k::algorithm.eq(&next.algorithm))
            .filter(k::activates_at.lt(next.activates_at)),
    )
    .set((k::status.eq(RETIRED), k::retire_at.eq(retire_at)))
    .execute(conn)?;
    let promoted =
        diesel::update(k::table.find(&next.kid).filter(k::status.eq(NEXT))).set(k::status.eq(ACTIVE)).execute(conn)?;
    Ok(promoted == 1)
}

/// Retired keys whose tokens have all expired.
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(k::table.filter(k::status.eq(RETIRED)).filter(k::retire_at.lt(now))).execute(conn)
}

/// Replace a key's stored private key, only while it still holds `old` (so that replicas
/// encrypting the same plaintext key at once do not overwrite each other's result).
pub fn replace_private_key(conn: &mut DbConnection, kid: &str, old: &str, new: &str) -> QueryResult<bool> {
    let updated =
        diesel::update(k::table.find(kid).filter(k::private_key.eq(old))).set(k::private_key.eq(new)).execute(conn)?;
    Ok(updated == 1)
}
