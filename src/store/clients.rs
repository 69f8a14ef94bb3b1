//! The clients table: DCR, manual and CIMD clients alike.

use diesel::prelude::*;

use crate::db::conn::MultiBackend;
use crate::db::schema::{auth_requests, clients, refresh_families};
use crate::db::DbConnection;

pub const SOURCE_DCR: &str = "dcr";
pub const SOURCE_MANUAL: &str = "manual";
pub const SOURCE_CIMD: &str = "cimd";
pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_DISABLED: &str = "disabled";

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = clients)]
#[diesel(treat_none_as_default_value = false)]
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
    /// CIMD clients: when the document was fetched, until when it is fresh, its validators,
    /// and the last failed refetch (NULL once one succeeds).
    pub cimd_fetched_at: Option<i64>,
    pub cimd_expires_at: Option<i64>,
    pub cimd_etag: Option<String>,
    pub cimd_last_modified: Option<String>,
    pub cimd_failed_at: Option<i64>,
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

/// Find and lock the client row for the rest of the transaction (`FOR UPDATE` on Postgres;
/// SQLite's `BEGIN IMMEDIATE` already serialises writers).
pub fn find_for_update(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<ClientRow>> {
    match conn {
        DbConnection::Postgresql(c) => {
            clients::table.find(client_id).select(clients::all_columns).for_update().first(c).optional()
        }
        DbConnection::Sqlite(_) => find(conn, client_id),
    }
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

/// Delete a client. Its codes, refresh families and registration tokens go by foreign-key
/// cascade; its pending authorization requests (no foreign key: a CIMD client is stored only
/// at consent) are deleted here.
pub fn delete(conn: &mut DbConnection, client_id: &str) -> QueryResult<bool> {
    diesel::delete(auth_requests::table.filter(auth_requests::client_id.eq(client_id))).execute(conn)?;
    Ok(diesel::delete(clients::table.find(client_id)).execute(conn)? > 0)
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    clients::table.count().get_result(conn)
}

/// Whether a client last seen at `last_seen_at` is worth a last-seen write now (at most one a
/// minute).
pub fn seen_long_ago(last_seen_at: Option<i64>, now: i64) -> bool {
    last_seen_at.is_none_or(|at| at < now - 60)
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

/// The one definition of a stale client (SPEC §6), used by the list and by cleanup's
/// conditional delete: not manual, unused since `cutoff` (or never used and created before it),
/// and without a live refresh family at `now`.
fn stale(
    cutoff: i64,
    now: i64,
) -> Box<
    dyn BoxableExpression<clients::table, MultiBackend, SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>>,
> {
    Box::new(
        clients::source
            .ne(SOURCE_MANUAL)
            .and(
                clients::last_seen_at
                    .lt(cutoff)
                    .or(clients::last_seen_at.is_null().and(clients::created_at.lt(cutoff))),
            )
            .and(diesel::dsl::not(diesel::dsl::exists(
                refresh_families::table
                    .filter(refresh_families::client_id.eq(clients::client_id))
                    .filter(refresh_families::revoked_at.is_null())
                    .filter(refresh_families::expires_at.gt(now)),
            ))),
    )
}

/// Filters of the operator's client list; `stale_before` selects stale clients (see `is_stale`).
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    pub source: Option<String>,
    pub status: Option<String>,
    /// Clients not used since this time (or never used and created before it), without a live
    /// refresh family, and not manual.
    pub stale_before: Option<i64>,
    pub now: i64,
    /// Cursor: rows strictly after this (created_at, client_id), newest first.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// Newest first.
pub fn list(conn: &mut DbConnection, query: &ClientQuery) -> QueryResult<Vec<ClientRow>> {
    let mut q = clients::table.select(clients::all_columns).into_boxed();
    if let Some(source) = &query.source {
        q = q.filter(clients::source.eq(source.clone()));
    }
    if let Some(status) = &query.status {
        q = q.filter(clients::status.eq(status.clone()));
    }
    if let Some(before) = query.stale_before {
        q = q.filter(stale(before, query.now));
    }
    if let Some((created_at, client_id)) = &query.after {
        q = q.filter(
            clients::created_at
                .lt(*created_at)
                .or(clients::created_at.eq(*created_at).and(clients::client_id.lt(client_id.clone()))),
        );
    }
    q.order((clients::created_at.desc(), clients::client_id.desc())).limit(query.limit).load(conn)
}

/// Live refresh families of a client: its active sessions.
pub fn live_families(conn: &mut DbConnection, client_id: &str, now: i64) -> QueryResult<i64> {
    refresh_families::table
        .filter(refresh_families::client_id.eq(client_id))
        .filter(refresh_families::revoked_at.is_null())
        .filter(refresh_families::expires_at.gt(now))
        .count()
        .get_result(conn)
}

/// Delete the client only if it is still stale at `cutoff` and has no live refresh family
/// (the condition is re-checked in the statement, so concurrent cleanups remove it once).
pub fn delete_if_stale(conn: &mut DbConnection, client_id: &str, cutoff: i64, now: i64) -> QueryResult<bool> {
    let deleted = diesel::delete(clients::table.filter(clients::client_id.eq(client_id)).filter(stale(cutoff, now)))
        .execute(conn)?;
    Ok(deleted == 1)
}

/// Replace a CIMD client's document (metadata, name, redirect URIs, cache times, validators).
pub fn update_document(conn: &mut DbConnection, row: &ClientRow) -> QueryResult<()> {
    diesel::update(clients::table.find(&row.client_id))
        .set((
            clients::client_name.eq(&row.client_name),
            clients::redirect_uris.eq(&row.redirect_uris),
            clients::metadata.eq(&row.metadata),
            clients::updated_at.eq(row.updated_at),
            clients::cimd_fetched_at.eq(row.cimd_fetched_at),
            clients::cimd_expires_at.eq(row.cimd_expires_at),
            clients::cimd_etag.eq(&row.cimd_etag),
            clients::cimd_last_modified.eq(&row.cimd_last_modified),
            clients::cimd_failed_at.eq(row.cimd_failed_at),
        ))
        .execute(conn)?;
    Ok(())
}
