//! The append-only audit trail (SPEC §4.6). Rows are written in the same transaction as the
//! change they record.

use std::borrow::Cow;

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::audit_events;
use crate::db::DbConnection;
use crate::origin::Origin;

/// Event names (the complete list is SPEC §4.6).
pub mod event {
    pub const DCR_REGISTERED: &str = "client.dcr.registered";
    pub const DCR_REUSED: &str = "client.dcr.reused";
    pub const DCR_REJECTED: &str = "client.dcr.rejected";
    pub const DCR_RATE_LIMITED: &str = "client.dcr.rate_limited";
    pub const DCR_DELETED_BY_CLIENT: &str = "client.dcr.deleted_by_client";
    pub const CIMD_DISCOVERED: &str = "client.cimd.discovered";
    pub const CIMD_FETCH_FAILED: &str = "client.cimd.fetch_failed";
    pub const CIMD_REJECTED: &str = "client.cimd.rejected";
    pub const CIMD_METADATA_CHANGED: &str = "client.cimd.metadata_changed";
    pub const CLIENT_CREATED: &str = "client.created";
    pub const CLIENT_DISABLED: &str = "client.disabled";
    pub const CLIENT_ENABLED: &str = "client.enabled";
    pub const CLIENT_SESSIONS_REVOKED: &str = "client.sessions_revoked";
    pub const CLIENT_DELETED: &str = "client.deleted";
    pub const CLIENT_CLEANUP_REMOVED: &str = "client.cleanup.removed";
    pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const USER_ENABLED: &str = "user.enabled";
    pub const USER_ROLE_CHANGED: &str = "user.role_changed";
    pub const USER_IDENTITY_UNLINKED: &str = "user.identity.unlinked";
    pub const USER_SESSIONS_ENDED: &str = "user.sessions_ended";
    pub const CONFIG_RELOADED: &str = "config.reloaded";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_LOGIN_SUCCEEDED: &str = "user.login.succeeded";
    pub const USER_LOGIN_FAILED: &str = "user.login.failed";
    /// A sign-in through a provider refused by its access or linking rules (SPEC §9.1).
    pub const USER_LOGIN_DENIED: &str = "user.login.denied";
    pub const USER_IDENTITY_LINKED: &str = "user.identity.linked";
    pub const TOKEN_CODE_REPLAY_DETECTED: &str = "token.code_replay_detected";
    pub const TOKEN_REFRESH_REUSE_DETECTED: &str = "token.refresh_reuse_detected";
    pub const KEYS_ROTATED: &str = "keys.rotated";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    Client,
    Cli,
    AdminApi,
    System,
    /// The app beside Gatehouse, through the login API (SPEC §9.2).
    App,
    /// An admin user on the dashboard (SPEC §12), by user id: written `admin:{user_id}`.
    Admin(String),
}

impl Actor {
    pub fn as_str(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Actor::Anonymous => "anonymous",
            Actor::Client => "client",
            Actor::Cli => "cli",
            Actor::AdminApi => "admin_api",
            Actor::System => "system",
            Actor::App => "app",
            Actor::Admin(user_id) => return Cow::Owned(format!("admin:{user_id}")),
        })
    }
}

/// Who did what, from where; `detail` never holds a secret. Built with [`AuditRecord::new`]
/// and, where they apply, [`AuditRecord::client`] and [`AuditRecord::from`].
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub event: &'static str,
    pub actor: Actor,
    pub client_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditRecord {
    /// `event` done by `actor`, described by `detail`.
    pub fn new(event: &'static str, actor: Actor, detail: serde_json::Value) -> AuditRecord {
        AuditRecord { event, actor, client_id: None, address: None, user_agent: None, detail }
    }

    /// The client the event is about.
    pub fn client(mut self, client_id: impl Into<String>) -> AuditRecord {
        self.client_id = Some(client_id.into());
        self
    }

    /// Where the request behind the event came from.
    pub fn from(mut self, origin: &Origin) -> AuditRecord {
        self.address = origin.address.clone();
        self.user_agent = origin.user_agent.clone();
        self
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(treat_none_as_default_value = false)]
struct NewAuditRow<'a> {
    at: i64,
    event: &'a str,
    actor: &'a str,
    client_id: Option<&'a str>,
    address: Option<&'a str>,
    user_agent: Option<&'a str>,
    detail: String,
}

/// Write one row. Whatever a client sent ends up here as submitted, so nothing in it may carry
/// U+0000 into PostgreSQL (text cannot hold it, and the row — with the change it records —
/// would fail): the detail is JSON text, which escapes every control character (`\u0000`), and
/// a U+0000 that reached a text column is written as U+FFFD.
pub fn record(conn: &mut DbConnection, at: i64, record: &AuditRecord) -> QueryResult<()> {
    let client_id = record.client_id.as_deref().map(storable);
    let address = record.address.as_deref().map(storable);
    let user_agent = record.user_agent.as_deref().map(storable);
    let actor = record.actor.as_str();
    let row = NewAuditRow {
        at,
        event: record.event,
        actor: &actor,
        client_id: client_id.as_deref(),
        address: address.as_deref(),
        user_agent: user_agent.as_deref(),
        detail: without_nulls(record.detail.clone()).to_string(),
    };
    crate::per_backend!(conn, |c| diesel::insert_into(audit_events::table).values(&row).execute(c))?;
    Ok(())
}

fn storable(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(value)
    }
}

#[derive(Debug, Clone, Queryable, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub actor: String,
    pub client_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub event: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<i64>,
    /// Only rows older than this id (cursor paging, newest first).
    pub before_id: Option<i64>,
}

/// Newest first.
pub fn list(conn: &mut DbConnection, filter: &AuditFilter, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_events::table.into_boxed();
    if let Some(event) = &filter.event {
        query = query.filter(audit_events::event.eq(event.clone()));
    }
    if let Some(client_id) = &filter.client_id {
        query = query.filter(audit_events::client_id.eq(client_id.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_events::at.ge(since));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(audit_events::id.lt(before));
    }
    query.order(audit_events::id.desc()).limit(limit).load(conn)
}

/// The times of the events named, since `since` (the dashboard's chart counts them per day).
pub fn times_of(conn: &mut DbConnection, events: &[&str], since: i64) -> QueryResult<Vec<(String, i64)>> {
    audit_events::table
        .filter(audit_events::event.eq_any(events.iter().map(|e| e.to_string()).collect::<Vec<_>>()))
        .filter(audit_events::at.ge(since))
        .select((audit_events::event, audit_events::at))
        .load(conn)
}

/// Drop `null` members (recursively): audit details are served by the admin API, whose JSON
/// never contains `null`.
fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().filter(|v| !v.is_null()).map(without_nulls).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_nul_reaches_the_text() {
        assert_eq!(storable("a\0b"), "a\u{fffd}b");
        assert!(matches!(storable("ab"), Cow::Borrowed("ab")));
        let detail = without_nulls(serde_json::json!({"reason": "a\u{0}b\u{1}", "gone": null})).to_string();
        assert_eq!(detail, r#"{"reason":"a\u0000b\u0001"}"#);
    }
}
