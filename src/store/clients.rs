//! The clients table: DCR, manual and CIMD clients alike.

use diesel::prelude::*;

use crate::db::schema::clients;
use crate::db::DbConnection;

pub const SOURCE_DCR: &str = "dcr";
pub const SOURCE_MANUAL: &str = "manual";
pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_DISABLED: &str = "disabled";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub client_id: String,
    pub source: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub client_name: String,
    /// JSON array of the raw redirect URI strings.
    pub redirect_uris: String,
    /// JSON object: the registered metadata, as echoed to the client.
    pub metadata: String,
    pub fingerprint: Option<String>,
    pub registrant_address: Option<String>,
    pub registrant_user_agent: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_seen_at: Option<i64>,
}

impl ClientRow {
    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }
}

pub fn insert(conn: &mut DbConnection, row: &ClientRow) -> QueryResult<()> {
    diesel::insert_into(clients::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<ClientRow>> {
    clients::table.find(client_id).select(clients::all_columns).first(conn).optional()
}

pub fn find_by_fingerprint(conn: &mut DbConnection, fingerprint: &str) -> QueryResult<Option<ClientRow>> {
    clients::table.filter(clients::fingerprint.eq(fingerprint)).select(clients::all_columns).first(conn).optional()
}

/// Set the status; returns false when no such client exists.
pub fn set_status(
    conn: &mut DbConnection,
    client_id: &str,
    status: &str,
    reason: Option<&str>,
    now: i64,
) -> QueryResult<bool> {
    let changed = diesel::update(clients::table.find(client_id))
        .set((clients::status.eq(status), clients::disabled_reason.eq(reason), clients::updated_at.eq(now)))
        .execute(conn)?;
    Ok(changed > 0)
}

pub fn delete(conn: &mut DbConnection, client_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(clients::table.find(client_id)).execute(conn)? > 0)
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    clients::table.count().get_result(conn)
}

/// Record that the client was used, at most once a minute (no write on a hot path otherwise).
pub fn touch_last_seen(conn: &mut DbConnection, client_id: &str, now: i64) -> QueryResult<()> {
    diesel::update(
        clients::table.find(client_id).filter(clients::last_seen_at.is_null().or(clients::last_seen_at.lt(now - 60))),
    )
    .set(clients::last_seen_at.eq(now))
    .execute(conn)?;
    Ok(())
}
