//! The CLI face of the operator service: tables for people, `--json` for scripts (one JSON
//! array with the admin API's field names). Unknown ids and emails exit 1 with one line.

use crate::clock::SystemClock;
use crate::commands::{with_connection, CommandError};
use crate::config::Settings;
use crate::operator::{self, AuditRequest, ClientListRequest, OperatorError};
use crate::store::audit::Actor;

impl From<OperatorError> for CommandError {
    fn from(error: OperatorError) -> Self {
        CommandError::Failed(error.to_string())
    }
}

fn now() -> i64 {
    SystemClock.now_secs()
}

fn print_json(value: &impl serde::Serialize) -> Result<(), CommandError> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?);
    Ok(())
}

pub fn clients_list(
    settings: &Settings,
    source: Option<String>,
    status: Option<String>,
    stale: bool,
    json: bool,
) -> Result<(), CommandError> {
    let retention = settings.dcr.stale_client_retention_days;
    let all = with_connection(settings, |conn| {
        let mut request =
            ClientListRequest { source, status, stale, cursor: None, limit: Some(operator::MAX_PAGE_SIZE) };
        let mut all = Vec::new();
        loop {
            let page = operator::list_clients(conn, &request, retention, now())?;
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => return Ok(all),
            }
        }
    })?;
    if json {
        return print_json(&all);
    }
    println!(
        "{:<48} {:<7} {:<9} {:<21} {:<21} {:<24} {:<30} {:<16} DOCUMENT (CIMD)",
        "CLIENT_ID", "SOURCE", "STATUS", "CREATED", "LAST_SEEN", "NAME", "REDIRECT_HOSTS", "REGISTRANT"
    );
    for client in &all {
        println!(
            "{:<48} {:<7} {:<9} {:<21} {:<21} {:<24} {:<30} {:<16} {}",
            client.client_id,
            client.source,
            client.status,
            client.created_at,
            client.last_seen_at.as_deref().unwrap_or("never"),
            client.client_name.chars().take(24).collect::<String>(),
            client.redirect_hosts.join(","),
            client.registrant_address.as_deref().unwrap_or("-"),
            client
                .document
                .as_ref()
                .map(|d| format!("{}, fetched {}, expires {}", d.state, d.fetched_at, d.expires_at))
                .unwrap_or_else(|| "-".into()),
        );
    }
    eprintln!("{} client(s)", all.len());
    Ok(())
}

pub fn clients_show(settings: &Settings, client_id: &str, json: bool) -> Result<(), CommandError> {
    let detail = with_connection(settings, |conn| Ok(operator::show_client(conn, client_id, now())?))?;
    if json {
        return print_json(&detail);
    }
    let s = &detail.summary;
    println!("client_id:        {}", s.client_id);
    println!("name:             {}", s.client_name);
    println!("source:           {}", s.source);
    println!(
        "status:           {}{}",
        s.status,
        s.disabled_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    );
    println!("created:          {}", s.created_at);
    println!("last seen:        {}", s.last_seen_at.as_deref().unwrap_or("never"));
    println!("redirect URIs:    {}", s.redirect_uris.join("\n                  "));
    println!("registrant:       {}", s.registrant_address.as_deref().unwrap_or("-"));
    println!("user agent:       {}", detail.registrant_user_agent.as_deref().unwrap_or("-"));
    if let Some(document) = &s.document {
        println!(
            "document cache:   {} (fetched {}, fresh until {}{})",
            document.state,
            document.fetched_at,
            document.expires_at,
            document.failed_at.as_deref().map(|at| format!(", last refetch failed {at}")).unwrap_or_default()
        );
    }
    if let Some(etag) = &detail.document_etag {
        println!("document ETag:    {etag}");
    }
    if let Some(last_modified) = &detail.document_last_modified {
        println!("last modified:    {last_modified}");
    }
    println!("fingerprint:      {}", detail.fingerprint.as_deref().unwrap_or("-"));
    println!("updated:          {}", detail.updated_at);
    println!("active sessions:  {}", detail.active_sessions);
    println!("metadata:         {}", detail.metadata);
    println!("recent audit events:");
    for entry in &detail.recent_audit {
        println!("  {}  {:<28} {:<10} {}", entry.at, entry.event, entry.actor, entry.detail);
    }
    Ok(())
}

pub fn clients_disable(settings: &Settings, client_id: &str, reason: Option<&str>) -> Result<(), CommandError> {
    let done =
        with_connection(settings, |conn| Ok(operator::disable_client(conn, client_id, reason, Actor::Cli, now())?))?;
    if done.default_reason_used {
        eprintln!("no --reason given; recorded: {:?}", done.reason);
    }
    let state = if done.already_disabled { "was already disabled" } else { "disabled" };
    println!("{} {state}; {} refresh grant(s) revoked", done.client_id, done.sessions_revoked);
    Ok(())
}

pub fn clients_enable(settings: &Settings, client_id: &str) -> Result<(), CommandError> {
    with_connection(settings, |conn| Ok(operator::enable_client(conn, client_id, Actor::Cli, now())?))?;
    println!("{client_id} enabled");
    Ok(())
}

pub fn clients_revoke_sessions(settings: &Settings, client_id: &str) -> Result<(), CommandError> {
    let revoked =
        with_connection(settings, |conn| Ok(operator::revoke_client_sessions(conn, client_id, Actor::Cli, now())?))?;
    println!("{revoked}");
    Ok(())
}

pub fn clients_delete(settings: &Settings, client_id: &str) -> Result<(), CommandError> {
    with_connection(settings, |conn| Ok(operator::delete_client(conn, client_id, Actor::Cli, now())?))?;
    println!("{client_id} deleted");
    Ok(())
}

pub fn users_list(settings: &Settings, json: bool) -> Result<(), CommandError> {
    let users = with_connection(settings, |conn| Ok(operator::list_users(conn)?))?;
    if json {
        return print_json(&users);
    }
    println!("{:<40} {:<9} {:<21} USER_ID", "EMAIL", "STATUS", "CREATED");
    for user in &users {
        println!("{:<40} {:<9} {:<21} {}", user.email, user.status, user.created_at, user.user_id);
    }
    Ok(())
}

pub fn users_disable(settings: &Settings, email: &str) -> Result<(), CommandError> {
    let user = with_connection(settings, |conn| Ok(operator::disable_user(conn, email, Actor::Cli, now())?))?;
    println!("{} disabled; sessions ended and refresh grants revoked", user.email);
    Ok(())
}

pub fn users_set_password(settings: &Settings, email: &str, password_stdin: bool) -> Result<(), CommandError> {
    let password = crate::commands::read_new_password(password_stdin)?;
    with_connection(settings, |conn| Ok(operator::set_password(conn, email, &password, Actor::Cli, now())?))?;
    println!("password of {email} changed");
    Ok(())
}

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
            "{} {} stale client(s); purge{}: {} code(s), {} authorization request(s), {} session(s), {} refresh grant(s), {} rate-limit window(s), {} login-failure counter(s), {} audit event(s)",
            verb,
            report.clients.len(),
            if dry_run { " (would)" } else { "d" },
            p.authorization_codes,
            p.auth_requests,
            p.sessions,
            p.refresh_families,
            p.rate_limit_windows,
            p.login_failures,
            p.audit_events
        );
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Failed(format!("cleanup finished with errors: {}", report.errors.join("; "))))
    }
}
