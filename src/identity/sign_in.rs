//! Finishing a sign-in for a pending request (SPEC §5, §9): whatever the source — the password
//! form, a provider, later the app — the same session (`auth_time`, `method`), the request
//! bound to the user, its `last_sign_in_at`, `user.login.succeeded` naming the method, and on to consent.

use serde_json::json;

use crate::config::Settings;
use crate::db::{DbConnection, DbError};
use crate::origin::Origin;
use crate::paths;
use crate::secrets;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::auth_requests::{self, AuthRequestRow};
use crate::store::sessions::{self, SessionRow};
use crate::store::users;

/// A sign-in about to be recorded: the session (its cookie value apart) and the audit row.
pub struct SignIn {
    pub session_token: String,
    pub session: SessionRow,
    pub request_id: String,
    /// The dashboard's sign-in (purpose `admin`): no consent, back to `/admin`.
    pub for_dashboard: bool,
    pub record: AuditRecord,
}

impl SignIn {
    /// `user_id` signed in now through `method` (`password`, a provider id, `app`) for the
    /// pending request `pending` (of a client, or the dashboard's).
    pub fn new(
        settings: &Settings,
        pending: &AuthRequestRow,
        user_id: &str,
        method: &str,
        origin: &Origin,
        now: i64,
    ) -> SignIn {
        let session_token = secrets::random_token(32);
        let record = AuditRecord::new(
            event::USER_LOGIN_SUCCEEDED,
            Actor::Anonymous,
            json!({"user_id": user_id, "method": method}),
        )
        .from(origin);
        SignIn {
            session: SessionRow {
                session_hash: secrets::digest(&session_token),
                user_id: user_id.to_string(),
                csrf_token: secrets::random_token(24),
                created_at: now,
                expires_at: now + settings.login.session_ttl_secs as i64,
                auth_time: now,
                method: method.to_string(),
            },
            session_token,
            request_id: pending.request_id.clone(),
            for_dashboard: pending.is_admin(),
            record: match pending.client_id() {
                Some(client_id) => record.client(client_id),
                None => record,
            },
        }
    }

    /// The same sign-in for `user_id` (a provider's user is known only once linked).
    pub fn for_user(mut self, user_id: &str) -> SignIn {
        self.session.user_id = user_id.to_string();
        self.record.detail = json!({"user_id": user_id, "method": self.session.method});
        self
    }

    /// The person authenticated at the source at `auth_time` (the app says when), not now.
    pub fn authenticated_at(mut self, auth_time: i64) -> SignIn {
        self.session.auth_time = auth_time;
        self
    }

    /// A session that ends earlier than `login.session_ttl_secs` (the app's: with the request).
    pub fn expiring_at(mut self, expires_at: i64) -> SignIn {
        self.session.expires_at = expires_at;
        self
    }

    /// Write it, inside the caller's transaction (with whatever else that sign-in changes).
    pub fn record(&self, conn: &mut DbConnection, now: i64) -> Result<(), DbError> {
        sessions::insert(conn, &self.session)?;
        auth_requests::set_user(conn, &self.request_id, &self.session.user_id)?;
        users::record_sign_in(conn, &self.session.user_id, now)?;
        audit::record(conn, now, &self.record)?;
        // The dashboard's request has nothing left to do: no consent follows.
        if self.for_dashboard {
            auth_requests::consume(conn, &self.request_id)?;
        }
        Ok(())
    }

    /// Where the browser goes next: the request's consent page, or the dashboard.
    pub fn next_location(&self, settings: &Settings) -> String {
        if self.for_dashboard {
            dashboard_location(settings)
        } else {
            consent_location(settings, &self.request_id)
        }
    }
}

pub fn consent_location(settings: &Settings, request_id: &str) -> String {
    format!("{}{}?request_id={request_id}", settings.issuer_path(), paths::CONSENT)
}

/// Where a sign-in for the dashboard ends (SPEC §12).
pub fn dashboard_location(settings: &Settings) -> String {
    format!("{}{}", settings.issuer_path(), paths::ADMIN)
}
