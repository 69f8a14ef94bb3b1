//! Operator controls (SPEC §6): one service layer under every front door, the CLI (direct
//! database access) and the admin API. Every change is audited with its actor and reason, in
//! the same transaction as the change. Clients, users, the audit trail and signing keys each
//! have a file; this one holds what they share: the error, pages and the audit helper.

use serde::Serialize;
use serde_json::Value;

use crate::db::{DbConnection, DbError};
use crate::keys::KeyError;
use crate::password::PasswordError;
use crate::store::audit::{Actor, AuditRecord};

mod audit;
mod clients;
mod keys;
mod overview;
mod settings;
mod users;

pub use audit::{parse_since, query_audit, AuditEntry, AuditRequest};
pub use clients::{
    add_manual, delete_client, disable_client, enable_client, list_clients, manual_metadata, revoke_client_sessions,
    show_client, ClientDetail, ClientListRequest, ClientSummary, Disabled, DocumentCache, DEFAULT_DISABLE_REASON,
};
pub use keys::{list_keys, rotate_key};
pub use overview::{overview, per_day, Day, Overview, CHART_DAYS};
pub use settings::{describe, describe_sign_in};
pub use users::{
    add_user, check_email, disable_user, enable_user, list_users, list_users_page, set_password, set_role, show_user,
    unlink_identity, IdentityDetail, NewUser, PasswordChanged, Role, Unlinked, UserDetail, UserRef, UserSummary,
};

pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// What went wrong, in one line an operator can act on (the CLI prints it as it is; the admin
/// API maps the kinds to statuses).
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// Not the operator's doing (a key that cannot be generated, hashing that fails).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for OperatorError {
    fn from(e: diesel::result::Error) -> Self {
        OperatorError::Db(DbError::Query(e))
    }
}

impl From<PasswordError> for OperatorError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Weak => OperatorError::Invalid(e.to_string()),
            PasswordError::Hashing(_) => OperatorError::Internal(e.to_string()),
        }
    }
}

impl From<KeyError> for OperatorError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Db(e) => OperatorError::Db(e),
            KeyError::RotationPending(..) => OperatorError::Invalid(e.to_string()),
            KeyError::Key(_) | KeyError::Sealed(..) | KeyError::Encrypt(_) => OperatorError::Internal(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, OperatorError>;

/// One page of a list, and the cursor of the next page when there is one.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` rows read: the extra row, when there, says another page follows.
    fn of<R>(mut rows: Vec<R>, limit: i64, cursor: impl Fn(&R) -> String, item: impl FnMut(R) -> T) -> Page<T> {
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(cursor)
        } else {
            None
        };
        Page { items: rows.into_iter().map(item).collect(), next_cursor }
    }
}

/// A requested page size, defaulted and kept within bounds.
fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// Audit an operator action (no address or user agent: the actor says which door it came by).
fn record(
    conn: &mut DbConnection,
    now: i64,
    event: &'static str,
    actor: Actor,
    client_id: Option<&str>,
    detail: Value,
) -> Result<()> {
    crate::store::audit::record(
        conn,
        now,
        &AuditRecord { client_id: client_id.map(str::to_string), ..AuditRecord::new(event, actor, detail) },
    )?;
    Ok(())
}
