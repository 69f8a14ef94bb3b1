//! `keys list` and `keys rotate` (SPEC §5, §6): the signing keys through the operator service.

use clap::Subcommand;

use super::{now, with_connection, CommandError};
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::operator;
use crate::store::audit::Actor;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: kid, status (active, next, retired) and their times
    List,
    /// Create a new key: published in the JWKS now, signing once every replica and cache has
    /// seen it (5.5 minutes); the old key stays published until its tokens have expired
    Rotate,
}

pub fn run(settings: &Settings, command: KeysCommand) -> Result<(), CommandError> {
    match command {
        KeysCommand::List => list(settings),
        KeysCommand::Rotate => rotate(settings),
    }
}

/// `keys list`.
pub fn list(settings: &Settings) -> Result<(), CommandError> {
    let ttl = settings.tokens.access_token_ttl_secs as i64;
    let rows = with_connection(settings, |conn| Ok(operator::list_keys(conn, now(), ttl)?))?;
    println!("{:<45} {:<8} {:<22} {:<22} RETIRE_AT", "KID", "STATUS", "CREATED", "SIGNS_FROM");
    for row in rows {
        println!(
            "{:<45} {:<8} {:<22} {:<22} {}",
            row.kid,
            row.status,
            rfc3339(row.created_at),
            rfc3339(row.activates_at),
            row.retire_at.map(rfc3339).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

/// `keys rotate`.
pub fn rotate(settings: &Settings) -> Result<(), CommandError> {
    let row = with_connection(settings, |conn| Ok(operator::rotate_key(conn, now(), Actor::Cli)?))?;
    println!(
        "new key {} published; it signs from {} (after every replica has reloaded and cached JWKS have expired)",
        row.kid,
        rfc3339(row.activates_at)
    );
    Ok(())
}
