//! Cleanup (SPEC §6): stale self-registered clients go, expired artefacts are purged — in
//! batches, so a large backlog never holds a long lock, and with conditional deletes, so several
//! replicas running it at once remove each client once and never fail. Each step logs and the
//! run continues on error. The flow's expired leftovers are also purged on their own
//! (`purge_expired`, the maintenance job of SPEC §11), whatever the DCR settings.

use serde::Serialize;
use serde_json::json;

use crate::clock::rfc3339;
use crate::config::Settings;
use crate::db::{write_tx, DbConnection};
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::{self, Client, ClientQuery, Source};
use crate::store::purge;

/// Rows removed per statement.
pub const BATCH: i64 = 500;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RemovedClient {
    pub client_id: String,
    pub client_name: String,
    pub source: Source,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Purged {
    pub authorization_codes: usize,
    pub login_failures: usize,
    pub auth_requests: usize,
    pub upstream_logins: usize,
    pub sessions: usize,
    pub device_cookies: usize,
    pub refresh_families: usize,
    pub rate_limit_windows: usize,
    pub audit_events: usize,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CleanupReport {
    pub dry_run: bool,
    /// Removed — or, in a dry run, that would be removed — and why.
    pub clients: Vec<RemovedClient>,
    /// Rows purged (in a dry run: rows that would be purged).
    pub purged: Purged,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Why a client is stale (the SPEC's two rules), or `None`.
pub fn stale_reason(client: &Client, now: i64, retention_days: u64) -> Option<String> {
    let cutoff = now - retention_days as i64 * 86_400;
    match client.last_seen_at {
        None if client.created_at < cutoff => {
            Some(format!("never used, registered {} (more than {retention_days} days ago)", rfc3339(client.created_at)))
        }
        Some(seen) if seen < cutoff => {
            Some(format!("unused for more than {retention_days} days (last seen {})", rfc3339(seen)))
        }
        _ => None,
    }
}

/// Where a purge step's count goes in the report.
type Counter = fn(&mut Purged) -> &mut usize;

/// The flow's expired leftovers (SPEC §11) — pending requests, codes, sessions, rate-limit
/// windows: purged by the maintenance job every `maintenance.purge_interval_secs` whatever the
/// DCR settings, and by every cleanup.
fn expired_leftovers(settings: &Settings, now: i64) -> [(&'static str, Counter, purge::Target); 6] {
    let refresh_ttl = settings.tokens.refresh_token_ttl_secs as i64;
    let rate_window_horizon = settings.dcr.rate_limit_window_secs.max(3600) as i64;
    [
        (
            "authorization codes",
            |p| &mut p.authorization_codes,
            purge::Target::Codes { before: now, used_before: now - refresh_ttl },
        ),
        ("upstream sign-ins", |p| &mut p.upstream_logins, purge::Target::UpstreamLogins { before: now }),
        ("authorization requests", |p| &mut p.auth_requests, purge::Target::AuthRequests { before: now }),
        ("sessions", |p| &mut p.sessions, purge::Target::Sessions { before: now }),
        ("device cookies", |p| &mut p.device_cookies, purge::Target::DeviceCookies { before: now }),
        (
            "rate-limit windows",
            |p| &mut p.rate_limit_windows,
            purge::Target::RateLimitWindows { before: now - rate_window_horizon },
        ),
    ]
}

/// Run purge steps (counting only, in a dry run); a failed step is logged and the rest go on.
fn purge_steps(
    conn: &mut DbConnection,
    steps: impl IntoIterator<Item = (&'static str, Counter, purge::Target)>,
    dry_run: bool,
    purged: &mut Purged,
) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, count, target) in steps {
        let result = if dry_run { purge::count(conn, &target) } else { purge::in_batches(conn, &target, BATCH) };
        match result {
            Ok(n) => *count(purged) = n,
            Err(e) => {
                tracing::error!(step = name, error = %e, "purge step failed; continuing");
                errors.push(format!("{name}: {e}"));
            }
        }
    }
    errors
}

/// The maintenance purge (SPEC §11): the flow's expired leftovers only — no clients, grants or
/// audit rows, which are cleanup's. What went, and the steps that failed.
pub fn purge_expired(conn: &mut DbConnection, settings: &Settings, now: i64) -> (Purged, Vec<String>) {
    let mut purged = Purged::default();
    let errors = purge_steps(conn, expired_leftovers(settings, now), false, &mut purged);
    (purged, errors)
}

pub fn run(conn: &mut DbConnection, settings: &Settings, now: i64, actor: Actor, dry_run: bool) -> CleanupReport {
    let mut report = CleanupReport { dry_run, ..CleanupReport::default() };
    let retention = settings.dcr.stale_client_retention_days;
    if let Err(e) = remove_stale_clients(conn, now, retention, actor, dry_run, &mut report) {
        report.errors.push(format!("stale clients: {e}"));
    }
    let audit_cutoff = now - settings.audit.retention_days as i64 * 86_400;
    let cleanup_only: [(&'static str, Counter, purge::Target); 3] = [
        ("login failures", |p| &mut p.login_failures, purge::Target::LoginFailures { before: now - 86_400 }),
        // Revoked families linger a day, so a late reuse still meets "revoked", not "unknown".
        (
            "refresh families",
            |p| &mut p.refresh_families,
            purge::Target::RefreshFamilies { expired_before: now, revoked_before: now - 86_400 },
        ),
        ("audit events", |p| &mut p.audit_events, purge::Target::AuditEvents { before: audit_cutoff }),
    ];
    let steps = expired_leftovers(settings, now).into_iter().chain(cleanup_only);
    let errors = purge_steps(conn, steps, dry_run, &mut report.purged);
    report.errors.extend(errors);
    if !dry_run && (!report.clients.is_empty() || report.purged != Purged::default()) {
        tracing::info!(clients_removed = report.clients.len(), purged = ?report.purged, "cleanup finished");
    }
    report
}

fn remove_stale_clients(
    conn: &mut DbConnection,
    now: i64,
    retention_days: u64,
    actor: Actor,
    dry_run: bool,
    report: &mut CleanupReport,
) -> Result<(), diesel::result::Error> {
    let cutoff = now - retention_days as i64 * 86_400;
    let mut after = None;
    loop {
        let query = ClientQuery {
            stale_before: Some(cutoff),
            now,
            after: after.clone(),
            limit: BATCH,
            ..ClientQuery::default()
        };
        let batch = clients::list(conn, &query)?;
        for client in &batch {
            let Some(reason) = stale_reason(client, now, retention_days) else { continue };
            let removed = RemovedClient {
                client_id: client.client_id.clone(),
                client_name: client.client_name().to_string(),
                source: client.source,
                reason,
            };
            if dry_run {
                report.clients.push(removed);
                continue;
            }
            // Conditional delete (still stale, still no live family) with its audit row: a
            // replica that lost the race deletes nothing and writes nothing.
            let deleted = write_tx(conn, |conn| {
                if !clients::delete_if_stale(conn, &client.client_id, cutoff, now)? {
                    return Ok(false);
                }
                audit::record(
                    conn,
                    now,
                    &AuditRecord::new(
                        event::CLIENT_CLEANUP_REMOVED,
                        actor.clone(),
                        json!({"reason": removed.reason, "client_name": removed.client_name, "source": removed.source}),
                    )
                    .client(&client.client_id),
                )?;
                Ok::<_, diesel::result::Error>(true)
            });
            match deleted {
                Ok(true) => report.clients.push(removed),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(client_id = %client.client_id, error = %e, "could not remove a stale client; continuing");
                    report.errors.push(format!("client {}: {e}", client.client_id));
                }
            }
        }
        if (batch.len() as i64) < BATCH {
            return Ok(());
        }
        after = batch.last().map(|c| (c.created_at, c.client_id.clone()));
    }
}
