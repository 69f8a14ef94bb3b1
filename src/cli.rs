//! The command line: `gatehouse [--config PATH] <command>`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A standalone OAuth 2.1 authorization server for clients that register themselves",
    long_about = "A standalone OAuth 2.1 authorization server for clients that register themselves \
                  (RFC 7591 Dynamic Client Registration). Settings come from built-in defaults, then \
                  the TOML file, then GATEHOUSE__SECTION__KEY environment variables."
)]
pub struct Cli {
    /// The TOML configuration file [default: config/gatehouse.toml; a missing default file is fine]
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: migrate the database, then answer HTTP on server.bind
    Serve,
    /// Run pending database migrations and exit
    Migrate,
    /// Inspect the configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// GET /healthz on server.bind; exit 0 when healthy, 1 otherwise (for container health checks)
    Healthcheck,
    /// Local user accounts (who may sign in at /login)
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Signing keys (ES256) of access tokens
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Clients (registered, operator-created, metadata documents)
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

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
}

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
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration, print the effective settings (secrets masked) and the
    /// registration rules in plain words
    Check,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: kid, status (active, next, retired) and their times
    List,
    /// Create a new key: published in the JWKS now, signing once every replica and cache has
    /// seen it (5.5 minutes); the old key stays published until its tokens have expired
    Rotate,
}
