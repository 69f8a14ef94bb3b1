//! `users …` (SPEC §6): add, list, disable and set-password through the operator service, and
//! how a new password is read (the first line of standard input, or a prompt on a terminal).

use clap::Subcommand;

use super::{now, print_json, with_connection, CommandError};
use crate::config::Settings;
use crate::operator;
use crate::store::audit::Actor;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user. The password is read from standard input with --password-stdin (first
    /// line), or asked for twice when standard input is a terminal
    Add {
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    List {
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their sessions end and their refresh tokens are revoked
    Disable { email: String },
    /// Set a user's password (from the first line of standard input with --password-stdin).
    /// Their sessions end, their refresh tokens are revoked and their unredeemed codes deleted
    SetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn run(settings: &Settings, command: UsersCommand) -> Result<(), CommandError> {
    match command {
        UsersCommand::Add { email, password_stdin } => add(settings, &email, password_stdin),
        UsersCommand::List { json } => list(settings, json),
        UsersCommand::Disable { email } => disable(settings, &email),
        UsersCommand::SetPassword { email, password_stdin } => set_password(settings, &email, password_stdin),
    }
}

/// `users add EMAIL [--password-stdin]`.
pub fn add(settings: &Settings, email: &str, password_stdin: bool) -> Result<(), CommandError> {
    let password = read_new_password(password_stdin)?;
    let user = with_connection(settings, |conn| Ok(operator::add_user(conn, email, &password, Actor::Cli, now())?))?;
    println!("created user {} ({})", user.display_name(), user.user_id);
    Ok(())
}

pub fn list(settings: &Settings, json: bool) -> Result<(), CommandError> {
    let users = with_connection(settings, |conn| Ok(operator::list_users(conn)?))?;
    if json {
        return print_json(&users);
    }
    println!("{:<40} {:<9} {:<21} USER_ID", "EMAIL", "STATUS", "CREATED");
    for user in &users {
        let email = user.email.as_deref().unwrap_or("-");
        println!("{:<40} {:<9} {:<21} {}", email, user.status, user.created_at, user.user_id);
    }
    Ok(())
}

pub fn disable(settings: &Settings, email: &str) -> Result<(), CommandError> {
    let user = with_connection(settings, |conn| Ok(operator::disable_user(conn, email, Actor::Cli, now())?))?;
    println!("{} disabled; sessions ended and refresh grants revoked", user.email.as_deref().unwrap_or(email));
    Ok(())
}

pub fn set_password(settings: &Settings, email: &str, password_stdin: bool) -> Result<(), CommandError> {
    let password = read_new_password(password_stdin)?;
    let ended =
        with_connection(settings, |conn| Ok(operator::set_password(conn, email, &password, Actor::Cli, now())?))?;
    println!(
        "password of {email} changed; {} session(s) ended, {} refresh grant(s) revoked, {} unredeemed code(s) deleted",
        ended.sessions_ended, ended.families_revoked, ended.codes_deleted
    );
    Ok(())
}

/// The first line of standard input, or — only on a terminal — a prompt, twice.
pub fn read_new_password(from_stdin: bool) -> Result<String, CommandError> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read standard input: {e}"))?;
        return password_from_first_line(&line);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Usage(
            "standard input is not a terminal: pass --password-stdin and write the password on its first line".into(),
        ));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if first != second {
        return Err(CommandError::Failed("the passwords differ".into()));
    }
    Ok(first)
}

/// The password on the first line of standard input, without its line ending. Nothing there
/// (no input at all, or an empty line) says so: the usual cause is a pipe into `docker exec`
/// without `-i`, and "must be 8 to 1024 characters" would send the operator the wrong way.
fn password_from_first_line(line: &str) -> Result<String, CommandError> {
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(CommandError::Failed(
            "no password arrived on standard input: write it on the first line \
             (when piping into `docker exec`, pass -i; into `docker compose exec`, -T)"
                .into(),
        ));
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_and_nothing_there_says_so() {
        assert!(matches!(password_from_first_line("s3cret password\n"), Ok(p) if p == "s3cret password"));
        assert!(matches!(password_from_first_line("s3cret password\r\n"), Ok(p) if p == "s3cret password"));
        assert!(matches!(password_from_first_line("no newline at the end"), Ok(p) if p == "no newline at the end"));
        // Spaces are part of a password: only the line ending goes.
        assert!(matches!(password_from_first_line("  spaced  \n"), Ok(p) if p == "  spaced  "));
        for nothing in ["", "\n", "\r\n"] {
            match password_from_first_line(nothing) {
                Err(CommandError::Failed(message)) => {
                    assert!(message.contains("no password arrived on standard input"), "{message}")
                }
                other => panic!("{nothing:?}: {other:?}"),
            }
        }
    }
}
