//! Pending authorization requests: from `/authorize` to the consent decision.

use diesel::prelude::*;

use crate::db::schema::auth_requests;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_requests)]
#[diesel(treat_none_as_default_value = false)]
pub struct AuthRequestRow {
    pub request_id: String,
    pub browser_hash: String,
    pub csrf_token: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    pub resource: Option<String>,
    pub user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed: bool,
    /// Sign in afresh at the source, whatever session the browser has (SPEC §9.1, §10).
    pub fresh_sign_in: bool,
    /// OpenID Connect `nonce`, echoed in the id_token (SPEC §10).
    pub nonce: Option<String>,
    /// The `prompt` values asked for, space-separated (the app's sign-in sees them, §9.2).
    pub prompt: Option<String>,
    /// OpenID Connect `max_age`, in seconds.
    pub max_age: Option<i64>,
    /// `authorize` (a client's request) or `admin` (the dashboard's sign-in, no client).
    pub purpose: String,
}

/// An OAuth authorization request of a client.
pub const PURPOSE_AUTHORIZE: &str = "authorize";
/// The dashboard's sign-in (SPEC §12): no client, no consent; it returns to `/admin`.
pub const PURPOSE_ADMIN: &str = "admin";

impl AuthRequestRow {
    pub fn is_admin(&self) -> bool {
        self.purpose == PURPOSE_ADMIN
    }

    /// The client the request is for; none for the dashboard's sign-in.
    pub fn client_id(&self) -> Option<&str> {
        (!self.is_admin()).then_some(self.client_id.as_str())
    }
}

pub fn insert(conn: &mut DbConnection, row: &AuthRequestRow) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(auth_requests::table).values(row).execute(c))?;
    Ok(())
}

/// A request that is neither expired nor consumed.
pub fn find_open(conn: &mut DbConnection, request_id: &str, now: i64) -> QueryResult<Option<AuthRequestRow>> {
    crate::per_backend!(conn, |c| auth_requests::table
        .find(request_id)
        .filter(auth_requests::expires_at.gt(now))
        .filter(auth_requests::consumed.eq(false))
        .select(auth_requests::all_columns)
        .first(c)
        .optional())
}

pub fn set_user(conn: &mut DbConnection, request_id: &str, user_id: &str) -> QueryResult<()> {
    diesel::update(auth_requests::table.find(request_id)).set(auth_requests::user_id.eq(user_id)).execute(conn)?;
    Ok(())
}

/// Mark consumed; true only for the one caller that did it (a replayed consent gets false).
pub fn consume(conn: &mut DbConnection, request_id: &str) -> QueryResult<bool> {
    let changed = crate::per_backend!(conn, |c| diesel::update(
        auth_requests::table.find(request_id).filter(auth_requests::consumed.eq(false))
    )
    .set(auth_requests::consumed.eq(true))
    .execute(c))?;
    Ok(changed == 1)
}

/// "Not you?": the request forgets its user and must sign in afresh at its source.
pub fn restart_sign_in(conn: &mut DbConnection, request_id: &str) -> QueryResult<()> {
    diesel::update(auth_requests::table.find(request_id))
        .set((auth_requests::user_id.eq(None::<String>), auth_requests::fresh_sign_in.eq(true)))
        .execute(conn)?;
    Ok(())
}
