//! `keys list`, `keys rotate` (SPEC §5, §6) and `keys generate-encryption-key` (§11): the
//! signing keys through the operator service, unlocked with the key that encrypts them at rest.

use clap::Subcommand;

use super::{now, with_connection, CommandError};
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::keys::at_rest;
use crate::operator;
use crate::store::audit::Actor;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: kid, status (active, next, retired) and their times
    List,
    /// Create a new key: published in the JWKS now, signing once every replica and cache has
    /// seen it (5.5 minutes); the old key stays published until its tokens have expired
    Rotate,
    /// Print a new key for encrypting the signing keys at rest (32 random bytes, base64) and
    /// nothing else: `gatehouse keys generate-encryption-key > keys.secret`, then point
    /// keys.encryption_key_file at that file. Stores nothing
    GenerateEncryptionKey,
}

pub fn run(settings: &Settings, command: KeysCommand) -> Result<(), CommandError> {
    match command {
        KeysCommand::List => list(settings),
        KeysCommand::Rotate => rotate(settings),
        KeysCommand::GenerateEncryptionKey => generate_encryption_key(),
    }
}

/// `keys list`.
pub fn list(settings: &Settings) -> Result<(), CommandError> {
    let ttl = settings.tokens.longest_token_ttl_secs();
    let rows = with_connection(settings, |conn| {
        let cipher = at_rest::unlock(settings, conn)?;
        Ok(operator::list_keys(conn, now(), ttl, &cipher)?)
    })?;
    println!("{:<45} {:<6} {:<8} {:<22} {:<22} RETIRE_AT", "KID", "ALG", "STATUS", "CREATED", "SIGNS_FROM");
    for row in rows {
        println!(
            "{:<45} {:<6} {:<8} {:<22} {:<22} {}",
            row.kid,
            row.algorithm,
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
    let rows = with_connection(settings, |conn| {
        let cipher = at_rest::unlock(settings, conn)?;
        Ok(operator::rotate_key(conn, now(), Actor::Cli, &cipher)?)
    })?;
    for row in rows {
        println!(
            "new {} key {} published; it signs from {} (after every replica has reloaded and cached JWKS have expired)",
            row.algorithm,
            row.kid,
            rfc3339(row.activates_at)
        );
    }
    Ok(())
}

/// `keys generate-encryption-key`: a new key for `keys.encryption_key*` on standard output, one
/// line (so `> keys.secret` makes the file); nothing is stored.
pub fn generate_encryption_key() -> Result<(), CommandError> {
    use std::io::IsTerminal;
    let key = crate::keys::cipher::generate_key()?;
    println!("{key}");
    if std::io::stdout().is_terminal() {
        eprintln!(
            "gatehouse: store it in a file readable only by Gatehouse (chmod 600), apart from the database and its \
             backups, and set keys.encryption_key_file to its path; every replica needs the same key"
        );
    }
    Ok(())
}
