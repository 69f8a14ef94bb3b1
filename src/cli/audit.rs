//! `audit` and `cleanup` (SPEC §6): the audit trail through the operator service, and the
//! cleanup job run once by hand.

use super::{now, print_json, with_connection, CommandError};
use crate::config::Settings;
use crate::operator::{self, AuditRequest};
use crate::store::audit::Actor;

pub fn audit(settings: &Settings, request: AuditRequest, json: bool) -> Result<(), CommandError> {
    let page = with_connection(settings, |conn| Ok(operator::query_audit(conn, &request, now())?))?;
    if json {
        return print_json(&page.items);
    }
    println!("{:<21} {:<30} {:<10} {:<48} {:<16} DETAIL", "AT", "EVENT", "ACTOR", "CLIENT_ID", "ADDRESS");
    for entry in &page.items {
        println!(
            "{:<21} {:<30} {:<10} {:<48} {:<16} {}",
            entry.at,
            entry.event,
            entry.actor,
            entry.client_id.as_deref().unwrap_or("-"),
            entry.address.as_deref().unwrap_or("-"),
            entry.detail
        );
    }
    Ok(())
}

pub fn cleanup(settings: &Settings, dry_run: bool, json: bool) -> Result<(), CommandError> {
    let report = with_connection(settings, |conn| Ok(crate::cleanup::run(conn, settings, now(), Actor::Cli, dry_run)))?;
    if json {
        print_json(&report)?;
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        for client in &report.clients {
            println!("{verb} {} ({}, {:?}): {}", client.client_id, client.source, client.client_name, client.reason);
        }
        let p = &report.purged;
        println!(
            "{} {} stale client(s); purge{}: {} code(s), {} authorization request(s), {} session(s), {} refresh grant(s), {} rate-limit window(s), {} login-failure counter(s), {} audit event(s), {} device cookie(s)",
            verb,
            report.clients.len(),
            if dry_run { " (would)" } else { "d" },
            p.authorization_codes,
            p.auth_requests,
            p.sessions,
            p.refresh_families,
            p.rate_limit_windows,
            p.login_failures,
            p.audit_events,
            p.device_cookies
        );
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Failed(format!("cleanup finished with errors: {}", report.errors.join("; "))))
    }
}
