//! Purging expired rows in bounded batches (each batch its own short statement).

use diesel::prelude::*;

use crate::db::schema::{
    audit_events, auth_requests, authorization_codes, device_cookies, login_failures, rate_limit_windows,
    refresh_families, sessions, upstream_logins,
};
use crate::db::DbConnection;

#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Expired codes; a used one is kept while its grant may live, so a late replay is still
    /// recognised (and revokes the grant) rather than answered "unknown code".
    Codes {
        before: i64,
        used_before: i64,
    },
    LoginFailures {
        before: i64,
    },
    AuthRequests {
        before: i64,
    },
    UpstreamLogins {
        before: i64,
    },
    Sessions {
        before: i64,
    },
    DeviceCookies {
        before: i64,
    },
    RefreshFamilies {
        expired_before: i64,
        revoked_before: i64,
    },
    RateLimitWindows {
        before: i64,
    },
    AuditEvents {
        before: i64,
    },
}

/// How many rows would go.
pub fn count(conn: &mut DbConnection, target: &Target) -> QueryResult<usize> {
    let n: i64 = match *target {
        Target::Codes { before, used_before } => authorization_codes::table
            .filter(authorization_codes::expires_at.lt(before))
            .filter(authorization_codes::used_at.is_null().or(authorization_codes::used_at.lt(used_before)))
            .count()
            .get_result(conn)?,
        Target::LoginFailures { before } => {
            login_failures::table.filter(login_failures::last_failed_at.lt(before)).count().get_result(conn)?
        }
        Target::AuthRequests { before } => {
            auth_requests::table.filter(auth_requests::expires_at.lt(before)).count().get_result(conn)?
        }
        Target::UpstreamLogins { before } => {
            upstream_logins::table.filter(upstream_logins::expires_at.lt(before)).count().get_result(conn)?
        }
        Target::Sessions { before } => {
            sessions::table.filter(sessions::expires_at.lt(before)).count().get_result(conn)?
        }
        Target::DeviceCookies { before } => {
            device_cookies::table.filter(device_cookies::expires_at.lt(before)).count().get_result(conn)?
        }
        Target::RefreshFamilies { expired_before, revoked_before } => refresh_families::table
            .filter(refresh_families::expires_at.lt(expired_before).or(refresh_families::revoked_at.lt(revoked_before)))
            .count()
            .get_result(conn)?,
        Target::RateLimitWindows { before } => {
            rate_limit_windows::table.filter(rate_limit_windows::window_start.lt(before)).count().get_result(conn)?
        }
        Target::AuditEvents { before } => {
            audit_events::table.filter(audit_events::at.lt(before)).count().get_result(conn)?
        }
    };
    Ok(n as usize)
}

/// Delete at most `batch` rows; returns how many went.
fn one_batch(conn: &mut DbConnection, target: &Target, batch: i64) -> QueryResult<usize> {
    match *target {
        Target::Codes { before, used_before } => {
            let ids: Vec<String> = authorization_codes::table
                .filter(authorization_codes::expires_at.lt(before))
                .filter(authorization_codes::used_at.is_null().or(authorization_codes::used_at.lt(used_before)))
                .select(authorization_codes::code_hash)
                .limit(batch)
                .load(conn)?;
            diesel::delete(authorization_codes::table.filter(authorization_codes::code_hash.eq_any(ids))).execute(conn)
        }
        Target::LoginFailures { before } => {
            let ids: Vec<String> = login_failures::table
                .filter(login_failures::last_failed_at.lt(before))
                .select(login_failures::account_key)
                .limit(batch)
                .load(conn)?;
            diesel::delete(login_failures::table.filter(login_failures::account_key.eq_any(ids))).execute(conn)
        }
        Target::AuthRequests { before } => {
            let ids: Vec<String> = auth_requests::table
                .filter(auth_requests::expires_at.lt(before))
                .select(auth_requests::request_id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(auth_requests::table.filter(auth_requests::request_id.eq_any(ids))).execute(conn)
        }
        Target::UpstreamLogins { before } => {
            let ids: Vec<String> = upstream_logins::table
                .filter(upstream_logins::expires_at.lt(before))
                .select(upstream_logins::state_hash)
                .limit(batch)
                .load(conn)?;
            diesel::delete(upstream_logins::table.filter(upstream_logins::state_hash.eq_any(ids))).execute(conn)
        }
        Target::Sessions { before } => {
            let ids: Vec<String> = sessions::table
                .filter(sessions::expires_at.lt(before))
                .select(sessions::session_hash)
                .limit(batch)
                .load(conn)?;
            diesel::delete(sessions::table.filter(sessions::session_hash.eq_any(ids))).execute(conn)
        }
        Target::DeviceCookies { before } => {
            let ids: Vec<String> = device_cookies::table
                .filter(device_cookies::expires_at.lt(before))
                .select(device_cookies::token_hash)
                .limit(batch)
                .load(conn)?;
            diesel::delete(device_cookies::table.filter(device_cookies::token_hash.eq_any(ids))).execute(conn)
        }
        Target::RefreshFamilies { expired_before, revoked_before } => {
            let ids: Vec<String> = refresh_families::table
                .filter(
                    refresh_families::expires_at.lt(expired_before).or(refresh_families::revoked_at.lt(revoked_before)),
                )
                .select(refresh_families::family_id)
                .limit(batch)
                .load(conn)?;
            // Their tokens go by cascade.
            diesel::delete(refresh_families::table.filter(refresh_families::family_id.eq_any(ids))).execute(conn)
        }
        Target::RateLimitWindows { before } => {
            let starts: Vec<i64> = rate_limit_windows::table
                .filter(rate_limit_windows::window_start.lt(before))
                .select(rate_limit_windows::window_start)
                .distinct()
                .limit(batch.min(50))
                .load(conn)?;
            diesel::delete(rate_limit_windows::table.filter(rate_limit_windows::window_start.eq_any(starts)))
                .execute(conn)
        }
        Target::AuditEvents { before } => {
            let ids: Vec<i64> = audit_events::table
                .filter(audit_events::at.lt(before))
                .select(audit_events::id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(audit_events::table.filter(audit_events::id.eq_any(ids))).execute(conn)
        }
    }
}

/// Delete every matching row, `batch` at a time.
pub fn in_batches(conn: &mut DbConnection, target: &Target, batch: i64) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let removed = one_batch(conn, target, batch)?;
        total += removed;
        if removed == 0 || (removed as i64) < batch.min(50) {
            return Ok(total);
        }
    }
}
