//! Identities at upstream providers linked to users (SPEC §9.1, §9.3), keyed by (provider id,
//! the provider's issuer, subject) so that a provider id pointed at another issuer never maps
//! its subjects onto existing users.

use diesel::prelude::*;

use crate::db::schema::user_identities as i;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = i)]
#[diesel(treat_none_as_default_value = false)]
pub struct IdentityRow {
    /// The `[[login.providers]]` id.
    pub provider: String,
    /// oidc: the provider's issuer; github: its `api_base_url`.
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    /// The email the provider last gave, if any.
    pub email: Option<String>,
    pub created_at: i64,
    pub last_sign_in_at: i64,
}

/// Link an identity; an identity already linked (same provider, issuer and subject) is a
/// unique violation.
pub fn insert(conn: &mut DbConnection, row: &IdentityRow) -> QueryResult<()> {
    diesel::insert_into(i::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, provider: &str, issuer: &str, subject: &str) -> QueryResult<Option<IdentityRow>> {
    i::table.find((provider, issuer, subject)).select(IdentityRow::as_select()).first(conn).optional()
}

/// A user's identities, by provider.
pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<IdentityRow>> {
    i::table
        .filter(i::user_id.eq(user_id))
        .order((i::provider.asc(), i::issuer.asc(), i::subject.asc()))
        .select(IdentityRow::as_select())
        .load(conn)
}

/// Unlink every identity the user has at `provider`; how many went.
pub fn delete_for_user(conn: &mut DbConnection, user_id: &str, provider: &str) -> QueryResult<usize> {
    diesel::delete(i::table.filter(i::user_id.eq(user_id)).filter(i::provider.eq(provider))).execute(conn)
}
