//! `clients …` (SPEC §6): list, show, add, disable, enable, revoke-sessions and delete, through
//! the operator service. Unknown ids exit 1 with one line.

use clap::Subcommand;

use super::{now, print_json, with_connection, CommandError};
use crate::config::Settings;
use crate::operator::{self, ClientListRequest};
use crate::store::audit::Actor;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a public PKCE client with a known client id (source "manual"); prints the client id
    Add {
        /// Name shown on the consent page
        #[arg(long)]
        name: String,
        /// Redirect URI (repeat for several): https, http on localhost/127.0.0.1/[::1], or a listed private-use scheme
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
    },
    /// List clients, newest first
    List {
        /// Only clients of this source
        #[arg(long, value_parser = ["dcr", "manual", "cimd"])]
        source: Option<String>,
        /// Only clients with this status
        #[arg(long, value_parser = ["active", "disabled"])]
        status: Option<String>,
        /// Only stale clients (what cleanup would remove)
        #[arg(long)]
        stale: bool,
        /// One JSON array, with the admin API's field names
        #[arg(long)]
        json: bool,
    },
    /// Everything stored about a client, its active sessions and recent audit events
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable a client: no new codes, tokens or refreshes from now; its refresh tokens revoked
    Disable {
        client_id: String,
        /// Why (recorded in the audit trail)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Enable a disabled client (revoked refresh tokens stay revoked)
    Enable { client_id: String },
    /// Revoke every refresh token (grant) of a client; prints how many
    RevokeSessions { client_id: String },
    /// Delete a client and everything that hangs off it (the audit history stays)
    Delete { client_id: String },
}

pub fn run(settings: &Settings, command: ClientsCommand) -> Result<(), CommandError> {
    match command {
        ClientsCommand::Add { name, redirect_uris } => add(settings, &name, &redirect_uris),
        ClientsCommand::List { source, status, stale, json } => list(settings, source, status, stale, json),
        ClientsCommand::Show { client_id, json } => show(settings, &client_id, json),
        ClientsCommand::Disable { client_id, reason } => disable(settings, &client_id, reason.as_deref()),
        ClientsCommand::Enable { client_id } => enable(settings, &client_id),
        ClientsCommand::RevokeSessions { client_id } => revoke_sessions(settings, &client_id),
        ClientsCommand::Delete { client_id } => delete(settings, &client_id),
    }
}

/// `clients add --name N --redirect-uri U…`: prints the new client id. The metadata is checked
/// before the database is opened.
pub fn add(settings: &Settings, name: &str, redirect_uris: &[String]) -> Result<(), CommandError> {
    let metadata = operator::manual_metadata(settings, name, redirect_uris)?;
    let client = with_connection(settings, |conn| Ok(operator::add_manual(conn, &metadata, Actor::Cli, now())?))?;
    println!("{}", client.client_id);
    Ok(())
}

pub fn list(
    settings: &Settings,
    source: Option<String>,
    status: Option<String>,
    stale: bool,
    json: bool,
) -> Result<(), CommandError> {
    let retention = settings.dcr.stale_client_retention_days;
    let all = with_connection(settings, |conn| {
        let mut request =
            ClientListRequest { source, status, stale, limit: Some(operator::MAX_PAGE_SIZE), ..Default::default() };
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

pub fn show(settings: &Settings, client_id: &str, json: bool) -> Result<(), CommandError> {
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

pub fn disable(settings: &Settings, client_id: &str, reason: Option<&str>) -> Result<(), CommandError> {
    let done =
        with_connection(settings, |conn| Ok(operator::disable_client(conn, client_id, reason, Actor::Cli, now())?))?;
    if done.default_reason_used {
        eprintln!("no --reason given; recorded: {:?}", done.reason);
    }
    let state = if done.already_disabled { "was already disabled" } else { "disabled" };
    println!("{} {state}; {} refresh grant(s) revoked", done.client_id, done.sessions_revoked);
    Ok(())
}

pub fn enable(settings: &Settings, client_id: &str) -> Result<(), CommandError> {
    with_connection(settings, |conn| Ok(operator::enable_client(conn, client_id, Actor::Cli, now())?))?;
    println!("{client_id} enabled");
    Ok(())
}

pub fn revoke_sessions(settings: &Settings, client_id: &str) -> Result<(), CommandError> {
    let revoked =
        with_connection(settings, |conn| Ok(operator::revoke_client_sessions(conn, client_id, Actor::Cli, now())?))?;
    println!("{revoked}");
    Ok(())
}

pub fn delete(settings: &Settings, client_id: &str) -> Result<(), CommandError> {
    with_connection(settings, |conn| Ok(operator::delete_client(conn, client_id, Actor::Cli, now())?))?;
    println!("{client_id} deleted");
    Ok(())
}
