//! Trips to an upstream provider in progress (SPEC §9.1): the `state` by digest, bound to the
//! pending request, the browser and the provider; taken once by the callback.

use diesel::prelude::*;

use crate::db::schema::upstream_logins;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = upstream_logins)]
#[diesel(treat_none_as_default_value = false)]
pub struct UpstreamLoginRow {
    pub state_hash: String,
    pub request_id: String,
    /// The `[[login.providers]]` id the state was issued for (the mix-up defence).
    pub provider: String,
    /// Digest of the browser-binding cookie of the browser that went upstream.
    pub browser_hash: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &UpstreamLoginRow) -> QueryResult<()> {
    diesel::insert_into(upstream_logins::table).values(row).execute(conn)?;
    Ok(())
}

/// Delete the row of a state and return it: whoever presents a state uses it up, whether or not
/// the rest of the callback holds (a state from another browser is consumed too).
pub fn take(conn: &mut DbConnection, state_hash: &str) -> QueryResult<Option<UpstreamLoginRow>> {
    diesel::delete(upstream_logins::table.find(state_hash))
        .returning(upstream_logins::all_columns)
        .get_result(conn)
        .optional()
}
