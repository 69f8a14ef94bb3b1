//! RFC 7592 registration access tokens, stored as digests.

use diesel::prelude::*;

use crate::db::schema::registration_tokens;
use crate::db::DbConnection;

pub fn insert(conn: &mut DbConnection, token_hash: &str, client_id: &str, now: i64) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(registration_tokens::table)
        .values((
            registration_tokens::token_hash.eq(token_hash),
            registration_tokens::client_id.eq(client_id),
            registration_tokens::created_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

/// The client id a token digest belongs to.
pub fn client_of(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<(String, String)>> {
    registration_tokens::table
        .find(token_hash)
        .select((registration_tokens::token_hash, registration_tokens::client_id))
        .first(conn)
        .optional()
}

pub fn touch(conn: &mut DbConnection, token_hash: &str, now: i64) -> QueryResult<()> {
    diesel::update(registration_tokens::table.find(token_hash))
        .set(registration_tokens::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Retire one token; returns false when it was already gone.
pub fn delete(conn: &mut DbConnection, token_hash: &str) -> QueryResult<bool> {
    Ok(diesel::delete(registration_tokens::table.find(token_hash)).execute(conn)? > 0)
}

pub fn count_for_client(conn: &mut DbConnection, client_id: &str) -> QueryResult<i64> {
    registration_tokens::table.filter(registration_tokens::client_id.eq(client_id)).count().get_result(conn)
}
