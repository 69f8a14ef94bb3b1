//! Authorization codes, stored by digest, single use.

use diesel::prelude::*;

use crate::db::schema::{authorization_codes, clients, users};
use crate::db::DbConnection;
use crate::oauth::client_metadata::ClientMetadata;
use crate::store::clients::{decode_metadata, decode_status, Status};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(treat_none_as_default_value = false)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub resource: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The grant (refresh family) the exchange created.
    pub family_id: Option<String>,
    /// OpenID Connect `nonce` from `/authorize`.
    pub nonce: Option<String>,
    /// When the user signed in (the session's `auth_time`), for the id_token.
    pub auth_time: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &CodeRow) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(authorization_codes::table).values(row).execute(c))?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, code_hash: &str) -> QueryResult<Option<CodeRow>> {
    crate::per_backend!(conn, |c| authorization_codes::table
        .find(code_hash)
        .select(authorization_codes::all_columns)
        .first(c)
        .optional())
}

/// Mark the code used; true only for the one redemption that did it (a conditional update, so
/// two parallel redemptions cannot both win).
pub fn mark_used(conn: &mut DbConnection, code_hash: &str, now: i64) -> QueryResult<bool> {
    let changed = crate::per_backend!(conn, |c| diesel::update(
        authorization_codes::table.find(code_hash).filter(authorization_codes::used_at.is_null())
    )
    .set(authorization_codes::used_at.eq(now))
    .execute(c))?;
    Ok(changed == 1)
}

pub fn set_family(conn: &mut DbConnection, code_hash: &str, family_id: &str) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::update(authorization_codes::table.find(code_hash))
        .set(authorization_codes::family_id.eq(family_id))
        .execute(c))?;
    Ok(())
}

/// Unused codes of a user (a disabled user's pending codes must not be redeemed).
pub fn delete_unused_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(
        authorization_codes::table
            .filter(authorization_codes::user_id.eq(user_id))
            .filter(authorization_codes::used_at.is_null()),
    )
    .execute(conn)
}

/// A code with the current state of its client and user — one query per code exchange.
#[derive(Debug, Clone)]
pub struct CodeContext {
    pub code: CodeRow,
    pub client_status: Status,
    pub client_metadata: ClientMetadata,
    pub client_last_seen_at: Option<i64>,
    pub user_status: String,
}

pub fn find_context(conn: &mut DbConnection, code_hash: &str) -> QueryResult<Option<CodeContext>> {
    let row: Option<(CodeRow, String, String, Option<i64>, String)> =
        crate::per_backend!(conn, |c| authorization_codes::table
            .inner_join(clients::table)
            .inner_join(users::table)
            .filter(authorization_codes::code_hash.eq(code_hash))
            .select((CodeRow::as_select(), clients::status, clients::metadata, clients::last_seen_at, users::status))
            .first(c)
            .optional())?;
    let Some((code, client_status, client_metadata, client_last_seen_at, user_status)) = row else { return Ok(None) };
    Ok(Some(CodeContext {
        client_status: decode_status(&code.client_id, &client_status)?,
        client_metadata: decode_metadata(&code.client_id, &client_metadata)?,
        code,
        client_last_seen_at,
        user_status,
    }))
}
