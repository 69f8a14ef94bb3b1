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
    /// Remove stale self-registered clients and purge expired codes, sessions, refresh tokens,
    /// rate-limit windows and old audit rows (what the background job does)
    Cleanup {
        /// List what would go and why; change nothing
        #[arg(long)]
        dry_run: bool,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// The audit trail, newest first
    Audit {
        /// Only this event (e.g. client.dcr.rejected)
        #[arg(long)]
        event: Option<String>,
        /// Only events about this client id
        #[arg(long)]
        client: Option<String>,
        /// Only events since: a duration (1h, 30m, 7d) or an RFC 3339 time
        #[arg(long)]
        since: Option<String>,
        /// At most this many events
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON array, with the admin API's field names
        #[arg(long)]
        json: bool,
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
    /// List users
    List {
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their sessions end and their refresh tokens are revoked
    Disable { email: String },
    /// Set a user's password (from the first line of standard input with --password-stdin)
    SetPassword {
        email: String,
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
    /// Print a new key for encrypting the signing keys at rest (32 random bytes, base64) and
    /// nothing else: `gatehouse keys generate-encryption-key > keys.secret`, then point
    /// keys.encryption_key_file at that file. Stores nothing
    GenerateEncryptionKey,
}
