//! `users …` (SPEC §6, §9.3): add, list, show, disable, enable, unlink and set-password through
//! the operator service, and how a new password is read (the first line of standard input, or a
//! prompt on a terminal).

use clap::{Args, Subcommand};

use super::{now, print_json, with_connection, CommandError};
use crate::config::Settings;
use crate::operator::{self, NewUser, Role, UserRef};
use crate::store::audit::Actor;

/// A user named by email (a value with `@`) or by id (`--id`): users of the app or of a
/// provider may have no email.
#[derive(Debug, Args)]
pub struct UserArg {
    /// The user's email
    #[arg(required_unless_present = "id", conflicts_with = "id")]
    email: Option<String>,
    /// The user's id instead of an email
    #[arg(long)]
    id: Option<String>,
}

impl UserArg {
    fn user(self) -> Result<UserRef, CommandError> {
        Ok(UserRef::from_cli(self.email, self.id)?)
    }
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a local user. The password is read from standard input with --password-stdin
    /// (first line), or asked for twice when standard input is a terminal
    Add {
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        /// You vouch for the email address (it reaches clients as `email_verified: true`)
        #[arg(long)]
        email_verified: bool,
        /// The user may open the dashboard (`/admin`)
        #[arg(long)]
        admin: bool,
    },
    /// List users with their source, role and linked identities
    List {
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Show one user and their identities
    Show {
        #[command(flatten)]
        user: UserArg,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their sessions end and their refresh tokens are revoked
    Disable {
        #[command(flatten)]
        user: UserArg,
    },
    /// Enable a disabled user
    Enable {
        #[command(flatten)]
        user: UserArg,
    },
    /// Unlink a user's identity at a provider: their sessions end and their refresh tokens are
    /// revoked
    Unlink {
        #[command(flatten)]
        user: UserArg,
        /// The provider id (`[[login.providers]]` id)
        #[arg(long)]
        provider: String,
    },
    /// Give a user the admin role (the dashboard) or take it away: `set-role EMAIL ROLE` or
    /// `set-role --id ID ROLE`, ROLE being admin or user
    SetRole {
        /// EMAIL ROLE, or ROLE alone with --id
        #[arg(required = true, num_args = 1..=2, value_names = ["EMAIL", "ROLE"])]
        values: Vec<String>,
        /// The user's id instead of an email
        #[arg(long)]
        id: Option<String>,
    },
    /// Set a local user's password (from the first line of standard input with
    /// --password-stdin). Their sessions end, their refresh tokens are revoked and their
    /// unredeemed codes deleted
    SetPassword {
        #[command(flatten)]
        user: UserArg,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn run(settings: &Settings, command: UsersCommand) -> Result<(), CommandError> {
    match command {
        UsersCommand::Add { email, password_stdin, email_verified, admin } => {
            let role = if admin { Role::Admin } else { Role::User };
            add(settings, email, password_stdin, email_verified, role)
        }
        UsersCommand::SetRole { mut values, id } => {
            let role = values.pop().unwrap_or_default();
            set_role(settings, UserRef::from_cli(values.pop(), id)?, &role)
        }
        UsersCommand::List { json } => list(settings, json),
        UsersCommand::Show { user, json } => show(settings, user.user()?, json),
        UsersCommand::Disable { user } => disable(settings, user.user()?),
        UsersCommand::Enable { user } => enable(settings, user.user()?),
        UsersCommand::Unlink { user, provider } => unlink(settings, user.user()?, &provider),
        UsersCommand::SetPassword { user, password_stdin } => set_password(settings, user.user()?, password_stdin),
    }
}

/// `users add EMAIL [--password-stdin] [--email-verified] [--admin]`.
pub fn add(
    settings: &Settings,
    email: String,
    password_stdin: bool,
    email_verified: bool,
    role: Role,
) -> Result<(), CommandError> {
    let password = read_new_password(password_stdin)?;
    let new = NewUser { email, password, email_verified, role };
    let user = with_connection(settings, |conn| Ok(operator::add_user(conn, &new, Actor::Cli, now())?))?;
    println!("created user {} ({}, role {})", user.display_name(), user.user_id, user.role);
    Ok(())
}

pub fn set_role(settings: &Settings, user: UserRef, role: &str) -> Result<(), CommandError> {
    let role = Role::parse(role)?;
    let user = with_connection(settings, |conn| Ok(operator::set_role(conn, &user, role, Actor::Cli, now())?))?;
    println!("{} now has the role {}", display(&user), user.role);
    Ok(())
}

pub fn list(settings: &Settings, json: bool) -> Result<(), CommandError> {
    let users = with_connection(settings, |conn| Ok(operator::list_users(conn)?))?;
    if json {
        return print_json(&users);
    }
    println!(
        "{:<36} {:<9} {:<9} {:<6} {:<21} {:<24} USER_ID",
        "EMAIL", "SOURCE", "STATUS", "ROLE", "CREATED", "IDENTITIES"
    );
    for user in &users {
        let email = user.email.as_deref().unwrap_or("-");
        let identities = if user.identities.is_empty() { "-".to_string() } else { user.identities.join(",") };
        println!(
            "{:<36} {:<9} {:<9} {:<6} {:<21} {:<24} {}",
            email, user.source, user.status, user.role, user.created_at, identities, user.user_id
        );
    }
    Ok(())
}

pub fn show(settings: &Settings, user: UserRef, json: bool) -> Result<(), CommandError> {
    let user = with_connection(settings, |conn| Ok(operator::show_user(conn, &user)?))?;
    if json {
        return print_json(&user);
    }
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    println!("user_id          {}", user.user_id);
    println!("email            {}", or_dash(&user.email));
    println!("email_verified   {}", user.email_verified);
    println!("name             {}", or_dash(&user.name));
    println!("source           {}", user.source);
    println!("status           {}", user.status);
    println!("role             {}", user.role);
    println!("created_at       {}", user.created_at);
    println!("last_sign_in_at  {}", or_dash(&user.last_sign_in_at));
    if user.identities.is_empty() {
        println!("identities       none");
    }
    for identity in &user.identities {
        println!(
            "identity         {} subject {} at {} (email {}, last sign-in {})",
            identity.provider,
            identity.subject,
            identity.issuer,
            or_dash(&identity.email),
            identity.last_sign_in_at
        );
    }
    Ok(())
}

pub fn disable(settings: &Settings, user: UserRef) -> Result<(), CommandError> {
    let user = with_connection(settings, |conn| Ok(operator::disable_user(conn, &user, Actor::Cli, now())?))?;
    println!("{} disabled; sessions ended and refresh grants revoked", display(&user));
    Ok(())
}

pub fn enable(settings: &Settings, user: UserRef) -> Result<(), CommandError> {
    let user = with_connection(settings, |conn| Ok(operator::enable_user(conn, &user, Actor::Cli, now())?))?;
    println!("{} enabled", display(&user));
    Ok(())
}

pub fn unlink(settings: &Settings, user: UserRef, provider: &str) -> Result<(), CommandError> {
    let done =
        with_connection(settings, |conn| Ok(operator::unlink_identity(conn, &user, provider, Actor::Cli, now())?))?;
    println!(
        "unlinked {} identity(ies) at {provider}; {} session(s) ended, {} refresh grant(s) revoked",
        done.identities_removed, done.sessions_ended, done.families_revoked
    );
    Ok(())
}

pub fn set_password(settings: &Settings, user: UserRef, password_stdin: bool) -> Result<(), CommandError> {
    let password = read_new_password(password_stdin)?;
    let ended =
        with_connection(settings, |conn| Ok(operator::set_password(conn, &user, &password, Actor::Cli, now())?))?;
    let name = match &user {
        UserRef::Email(email) | UserRef::Id(email) => email,
    };
    println!(
        "password of {name} changed; {} session(s) ended, {} refresh grant(s) revoked, {} unredeemed code(s) deleted",
        ended.sessions_ended, ended.families_revoked, ended.codes_deleted
    );
    Ok(())
}

/// How the CLI names a user in a message: the email, else the name, else the id.
fn display(user: &operator::UserDetail) -> &str {
    user.email.as_deref().or(user.name.as_deref()).unwrap_or(&user.user_id)
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
