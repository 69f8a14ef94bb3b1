//! The clients table: DCR, manual and CIMD clients alike. Rows are read into a typed
//! [`Client`] in one place (`TryFrom<ClientRow>`); a row that does not decode is an error, never
//! a default.

use crate::config::{word_enum, Word};
use diesel::prelude::*;

use crate::db::conn::MultiBackend;
use crate::db::schema::{auth_requests, clients, refresh_families};
use crate::db::DbConnection;
use crate::oauth::client_metadata::ClientMetadata;

word_enum! {
    /// How a client came to be.
    Source {
        /// Registered itself (RFC 7591).
        Dcr = "dcr",
        /// Created by the operator.
        Manual = "manual",
        /// Described by a Client ID Metadata Document.
        Cimd = "cimd",
    }
}

word_enum! {
    /// Whether a client may start new flows.
    Status {
        Active = "active",
        Disabled = "disabled",
    }
}

/// A client as the rest of the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub source: Source,
    pub status: Status,
    pub disabled_reason: Option<String>,
    /// The registered metadata, as echoed to the client (its name and redirect URIs included).
    pub metadata: ClientMetadata,
    pub fingerprint: Option<String>,
    pub registrant_address: Option<String>,
    pub registrant_user_agent: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_seen_at: Option<i64>,
    /// CIMD clients: when the document was fetched, until when it is fresh, its validators,
    /// and the last failed refetch (`None` once one succeeds).
    pub cimd_fetched_at: Option<i64>,
    pub cimd_expires_at: Option<i64>,
    pub cimd_etag: Option<String>,
    pub cimd_last_modified: Option<String>,
    pub cimd_failed_at: Option<i64>,
}

impl Client {
    /// A new, active client: the one constructor of rows to insert.
    pub fn new(client_id: String, source: Source, metadata: ClientMetadata, now: i64) -> Client {
        Client {
            client_id,
            source,
            status: Status::Active,
            disabled_reason: None,
            metadata,
            fingerprint: None,
            registrant_address: None,
            registrant_user_agent: None,
            created_at: now,
            updated_at: now,
            last_seen_at: None,
            cimd_fetched_at: None,
            cimd_expires_at: None,
            cimd_etag: None,
            cimd_last_modified: None,
            cimd_failed_at: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    /// Operator-registered: the only clients whose errors may be redirected before consent.
    pub fn is_manual(&self) -> bool {
        self.source == Source::Manual
    }

    pub fn client_name(&self) -> &str {
        &self.metadata.client_name
    }

    pub fn redirect_uris(&self) -> &[String] {
        &self.metadata.redirect_uris
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
#[diesel(treat_none_as_default_value = false)]
struct ClientRow {
    client_id: String,
    source: String,
    status: String,
    disabled_reason: Option<String>,
    client_name: String,
    /// JSON array of the raw redirect URI strings.
    redirect_uris: String,
    /// JSON object: the registered metadata, as echoed to the client.
    metadata: String,
    fingerprint: Option<String>,
    registrant_address: Option<String>,
    registrant_user_agent: Option<String>,
    created_at: i64,
    updated_at: i64,
    last_seen_at: Option<i64>,
    cimd_fetched_at: Option<i64>,
    cimd_expires_at: Option<i64>,
    cimd_etag: Option<String>,
    cimd_last_modified: Option<String>,
    cimd_failed_at: Option<i64>,
}

fn corrupt(client_id: &str, what: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(format!("client {client_id:?}: {what}").into())
}

/// A stored status column, read (also by the joined queries of the token endpoint).
pub fn decode_status(client_id: &str, status: &str) -> QueryResult<Status> {
    Status::parse(status).ok_or_else(|| corrupt(client_id, format!("unknown status {status:?}")))
}

/// A stored metadata column, read (also by the joined query of the code exchange).
pub fn decode_metadata(client_id: &str, metadata: &str) -> QueryResult<ClientMetadata> {
    serde_json::from_str(metadata).map_err(|e| corrupt(client_id, format!("stored metadata does not decode: {e}")))
}

impl TryFrom<ClientRow> for Client {
    type Error = diesel::result::Error;

    fn try_from(row: ClientRow) -> Result<Client, Self::Error> {
        let source = Source::parse(&row.source)
            .ok_or_else(|| corrupt(&row.client_id, format!("unknown source {:?}", row.source)))?;
        let status = decode_status(&row.client_id, &row.status)?;
        let metadata = decode_metadata(&row.client_id, &row.metadata)?;
        Ok(Client {
            client_id: row.client_id,
            source,
            status,
            disabled_reason: row.disabled_reason,
            metadata,
            fingerprint: row.fingerprint,
            registrant_address: row.registrant_address,
            registrant_user_agent: row.registrant_user_agent,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_seen_at: row.last_seen_at,
            cimd_fetched_at: row.cimd_fetched_at,
            cimd_expires_at: row.cimd_expires_at,
            cimd_etag: row.cimd_etag,
            cimd_last_modified: row.cimd_last_modified,
            cimd_failed_at: row.cimd_failed_at,
        })
    }
}

impl ClientRow {
    fn of(client: &Client) -> QueryResult<ClientRow> {
        let encode = |e: serde_json::Error| diesel::result::Error::SerializationError(e.into());
        Ok(ClientRow {
            client_id: client.client_id.clone(),
            source: client.source.as_str().to_string(),
            status: client.status.as_str().to_string(),
            disabled_reason: client.disabled_reason.clone(),
            client_name: client.metadata.client_name.clone(),
            redirect_uris: serde_json::to_string(&client.metadata.redirect_uris).map_err(encode)?,
            metadata: serde_json::to_string(&client.metadata).map_err(encode)?,
            fingerprint: client.fingerprint.clone(),
            registrant_address: client.registrant_address.clone(),
            registrant_user_agent: client.registrant_user_agent.clone(),
            created_at: client.created_at,
            updated_at: client.updated_at,
            last_seen_at: client.last_seen_at,
            cimd_fetched_at: client.cimd_fetched_at,
            cimd_expires_at: client.cimd_expires_at,
            cimd_etag: client.cimd_etag.clone(),
            cimd_last_modified: client.cimd_last_modified.clone(),
            cimd_failed_at: client.cimd_failed_at,
        })
    }
}

fn decode(row: Option<ClientRow>) -> QueryResult<Option<Client>> {
    row.map(Client::try_from).transpose()
}

pub fn insert(conn: &mut DbConnection, client: &Client) -> QueryResult<()> {
    let row = ClientRow::of(client)?;
    crate::per_backend!(conn, |c| diesel::insert_into(clients::table).values(&row).execute(c))?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<Client>> {
    decode(crate::per_backend!(conn, |c| clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .first(c)
        .optional())?)
}

/// Find and lock the client row for the rest of the transaction (`FOR UPDATE` on Postgres;
/// SQLite's `BEGIN IMMEDIATE` already serialises writers).
pub fn find_for_update(conn: &mut DbConnection, client_id: &str) -> QueryResult<Option<Client>> {
    match conn {
        DbConnection::Postgresql(c) => {
            decode(clients::table.find(client_id).select(ClientRow::as_select()).for_update().first(c).optional()?)
        }
        DbConnection::Sqlite(_) => find(conn, client_id),
    }
}

pub fn find_by_fingerprint(conn: &mut DbConnection, fingerprint: &str) -> QueryResult<Option<Client>> {
    decode(crate::per_backend!(conn, |c| clients::table
        .filter(clients::fingerprint.eq(fingerprint))
        .select(ClientRow::as_select())
        .first(c)
        .optional())?)
}

/// Set the status; returns false when no such client exists.
pub fn set_status(
    conn: &mut DbConnection,
    client_id: &str,
    status: Status,
    reason: Option<&str>,
    now: i64,
) -> QueryResult<bool> {
    let changed = diesel::update(clients::table.find(client_id))
        .set((clients::status.eq(status.as_str()), clients::disabled_reason.eq(reason), clients::updated_at.eq(now)))
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
            .ne(Source::Manual.as_str())
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
    pub source: Option<Source>,
    pub status: Option<Status>,
    /// Clients not used since this time (or never used and created before it), without a live
    /// refresh family, and not manual.
    pub stale_before: Option<i64>,
    pub now: i64,
    /// Cursor: rows strictly after this (created_at, client_id), newest first.
    pub after: Option<(i64, String)>,
    pub limit: i64,
    /// Part of the name or id, any case (matched literally: `%` and `_` are not wildcards).
    pub search: Option<String>,
}

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on both backends for ASCII.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern that matches `text` anywhere, literally (escape character `\`).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Newest first.
pub fn list(conn: &mut DbConnection, query: &ClientQuery) -> QueryResult<Vec<Client>> {
    let mut q = clients::table.select(ClientRow::as_select()).into_boxed();
    if let Some(source) = query.source {
        q = q.filter(clients::source.eq(source.as_str()));
    }
    if let Some(status) = query.status {
        q = q.filter(clients::status.eq(status.as_str()));
    }
    if let Some(before) = query.stale_before {
        q = q.filter(stale(before, query.now));
    }
    if let Some(search) = &query.search {
        let pattern = contains_pattern(search);
        q = q.filter(
            lower(clients::client_name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(clients::client_id).like(pattern).escape('\\')),
        );
    }
    if let Some((created_at, client_id)) = &query.after {
        q = q.filter(
            clients::created_at
                .lt(*created_at)
                .or(clients::created_at.eq(*created_at).and(clients::client_id.lt(client_id.clone()))),
        );
    }
    let rows: Vec<ClientRow> =
        q.order((clients::created_at.desc(), clients::client_id.desc())).limit(query.limit).load(conn)?;
    rows.into_iter().map(Client::try_from).collect()
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
pub fn update_document(conn: &mut DbConnection, client: &Client) -> QueryResult<()> {
    let row = ClientRow::of(client)?;
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

/// How many clients there are of each (source, status), as stored.
pub fn counts(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, i64)>> {
    clients::table
        .group_by((clients::source, clients::status))
        .select((clients::source, clients::status, diesel::dsl::count_star()))
        .load(conn)
}

/// CIMD clients whose last document fetch failed (the cached document is being served).
pub fn failing_documents(conn: &mut DbConnection) -> QueryResult<i64> {
    clients::table
        .filter(clients::source.eq(Source::Cimd.as_str()))
        .filter(clients::cimd_failed_at.is_not_null())
        .count()
        .get_result(conn)
}

/// Live refresh families of every client: the live grants.
pub fn live_grants(conn: &mut DbConnection, now: i64) -> QueryResult<i64> {
    refresh_families::table
        .filter(refresh_families::revoked_at.is_null())
        .filter(refresh_families::expires_at.gt(now))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod search_tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_and_the_escape_character_are_taken_literally() {
        assert_eq!(contains_pattern("Notes"), "%notes%");
        assert_eq!(contains_pattern("100%_off\\"), "%100\\%\\_off\\\\%");
        assert_eq!(contains_pattern("' OR '1'='1"), "%' or '1'='1%");
    }
}
