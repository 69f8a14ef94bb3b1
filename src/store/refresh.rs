//! Refresh-token families and their tokens (stored by digest). A family is also the grant of a
//! code exchange (SPEC §10): one without tokens when the client may not refresh; access tokens
//! carry its id as `grant_id`, and revoking it deactivates them at introspection.

use diesel::prelude::*;

use crate::db::schema::{clients, refresh_families as f, refresh_tokens as t, users};
use crate::db::DbConnection;
use crate::store::clients::{decode_status, Status};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = f)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct FamilyRow {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// When the user signed in for this grant; refreshed id_tokens keep it.
    pub auth_time: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct TokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub fn insert_family(conn: &mut DbConnection, row: &FamilyRow) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(f::table).values(row).execute(c))?;
    Ok(())
}

pub fn insert_token(conn: &mut DbConnection, token_hash: &str, family_id: &str, now: i64) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(t::table)
        .values((t::token_hash.eq(token_hash), t::family_id.eq(family_id), t::created_at.eq(now)))
        .execute(c))?;
    Ok(())
}

pub fn find_token(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<(TokenRow, FamilyRow)>> {
    let Some(token) = t::table.find(token_hash).select(TokenRow::as_select()).first(conn).optional()? else {
        return Ok(None);
    };
    let family = f::table.find(&token.family_id).select(f::all_columns).first(conn)?;
    Ok(Some((token, family)))
}

/// Lock the family of a refresh token for the rest of the transaction (`FOR UPDATE` on
/// Postgres; SQLite's `BEGIN IMMEDIATE` already serialises writers), so parallel refreshes in one
/// family take turns and each sees what the one before it did. An unknown token locks nothing.
pub fn lock_family_of(conn: &mut DbConnection, token_hash: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgresql(c) => {
            let family_of_token = t::table.filter(t::token_hash.eq(token_hash)).select(t::family_id);
            f::table
                .filter(f::family_id.eq_any(family_of_token))
                .select(f::family_id)
                .for_update()
                .load::<String>(c)?;
            Ok(())
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Rotate the live head; true only for the one request that did it.
pub fn rotate(conn: &mut DbConnection, token_hash: &str, now: i64) -> QueryResult<bool> {
    let changed =
        crate::per_backend!(conn, |c| diesel::update(t::table.find(token_hash).filter(t::rotated_at.is_null()))
            .set(t::rotated_at.eq(now))
            .execute(c))?;
    Ok(changed == 1)
}

/// Revoke every live head of a family (a retry inside the grace window replaces it): a revoked
/// head is never usable again, unlike a rotated token inside its grace window.
pub fn revoke_heads(conn: &mut DbConnection, family_id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(t::table.filter(t::family_id.eq(family_id)).filter(t::rotated_at.is_null()))
        .set((t::rotated_at.eq(now), t::revoked_at.eq(now)))
        .execute(conn)
}

/// Revoke a family; returns false when it was already revoked.
pub fn revoke_family(conn: &mut DbConnection, family_id: &str, reason: &str, now: i64) -> QueryResult<bool> {
    let changed = diesel::update(f::table.find(family_id).filter(f::revoked_at.is_null()))
        .set((f::revoked_at.eq(now), f::revoked_reason.eq(reason)))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Revoke every live family of a client (disable, revoke-sessions); returns how many.
pub fn revoke_client_families(conn: &mut DbConnection, client_id: &str, reason: &str, now: i64) -> QueryResult<usize> {
    diesel::update(f::table.filter(f::client_id.eq(client_id)).filter(f::revoked_at.is_null()))
        .set((f::revoked_at.eq(now), f::revoked_reason.eq(reason)))
        .execute(conn)
}

/// Revoke every live family of a user (user disabled).
pub fn revoke_user_families(conn: &mut DbConnection, user_id: &str, reason: &str, now: i64) -> QueryResult<usize> {
    diesel::update(f::table.filter(f::user_id.eq(user_id)).filter(f::revoked_at.is_null()))
        .set((f::revoked_at.eq(now), f::revoked_reason.eq(reason)))
        .execute(conn)
}

/// A refresh token with its family and the current state of the family's client and user —
/// one query on the hot path of every refresh.
#[derive(Debug, Clone)]
pub struct TokenContext {
    pub token: TokenRow,
    pub family: FamilyRow,
    pub client_status: Status,
    pub client_last_seen_at: Option<i64>,
    pub user_status: String,
}

pub fn find_token_context(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<TokenContext>> {
    let row: Option<(TokenRow, FamilyRow, String, Option<i64>, String)> = crate::per_backend!(conn, |c| t::table
        .inner_join(f::table.inner_join(clients::table).inner_join(users::table))
        .filter(t::token_hash.eq(token_hash))
        .select((TokenRow::as_select(), FamilyRow::as_select(), clients::status, clients::last_seen_at, users::status))
        .first(c)
        .optional())?;
    let Some((token, family, client_status, client_last_seen_at, user_status)) = row else { return Ok(None) };
    Ok(Some(TokenContext {
        client_status: decode_status(&family.client_id, &client_status)?,
        token,
        family,
        client_last_seen_at,
        user_status,
    }))
}

/// A grant (family) with the current state of its client and user: the live state behind
/// introspection and `/userinfo`, in one query.
#[derive(Debug, Clone)]
pub struct GrantState {
    pub family: FamilyRow,
    pub client_status: Status,
    pub user_status: String,
}

pub fn grant_state(conn: &mut DbConnection, family_id: &str) -> QueryResult<Option<GrantState>> {
    let row: Option<(FamilyRow, String, String)> = f::table
        .inner_join(clients::table)
        .inner_join(users::table)
        .filter(f::family_id.eq(family_id))
        .select((FamilyRow::as_select(), clients::status, users::status))
        .first(conn)
        .optional()?;
    let Some((family, client_status, user_status)) = row else { return Ok(None) };
    Ok(Some(GrantState { client_status: decode_status(&family.client_id, &client_status)?, family, user_status }))
}
