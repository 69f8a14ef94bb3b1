//! The command line (SPEC §6, §2): `gatehouse [--config PATH] <command>` — the clap
//! definitions, and `run`, which loads the settings and hands each command to its group's file.
//! Tables are for people, `--json` for scripts; a failure is one line on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::{ConfigSource, Settings};
use crate::db::DbConnection;
use crate::operator::{AuditRequest, OperatorError};

pub mod audit;
pub mod clients;
pub mod config;
pub mod keys;
pub mod serve;
pub mod users;

pub use clients::ClientsCommand;
pub use config::ConfigCommand;
pub use keys::KeysCommand;
pub use users::UsersCommand;

/// Exit status for a configuration or command line that cannot be used.
const EXIT_CONFIG: u8 = 2;

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

/// How a command failed: `Failed` exits 1, `Usage` (a command line that cannot work) exits 2.
#[derive(Debug)]
pub enum CommandError {
    Failed(String),
    Usage(String),
}

impl From<String> for CommandError {
    fn from(message: String) -> Self {
        CommandError::Failed(message)
    }
}

impl From<OperatorError> for CommandError {
    fn from(error: OperatorError) -> Self {
        CommandError::Failed(error.to_string())
    }
}

/// Load the settings, run the command, and say how it went in the exit status.
pub fn run(cli: Cli) -> ExitCode {
    let source = ConfigSource::new(cli.config.clone());
    if let Command::Healthcheck = cli.command {
        // 0 or 1 only: Docker reserves 2, and a bad configuration is not an unhealthy server.
        return match serve::healthcheck(&source.bind_for_healthcheck()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gatehouse: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match source.load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("gatehouse: invalid configuration:");
            for line in error.lines() {
                eprintln!("  {line}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let result: Result<(), CommandError> = match cli.command {
        Command::Config { command } => config::run(&source, &settings, command),
        // Answered above, before the settings are loaded; kept so the match stays exhaustive.
        Command::Healthcheck => serve::healthcheck(&settings.server.bind).map_err(Into::into),
        Command::Migrate => {
            crate::logging::init(&settings.log);
            serve::migrate(&settings).map_err(Into::into)
        }
        Command::Serve => {
            crate::logging::init(&settings.log);
            serve::serve(source, settings).map_err(Into::into)
        }
        Command::Users { command } => users::run(&settings, command),
        Command::Keys { command } => keys::run(&settings, command),
        Command::Clients { command } => clients::run(&settings, command),
        Command::Cleanup { dry_run, json } => audit::cleanup(&settings, dry_run, json),
        Command::Audit { event, client, since, limit, json } => audit::audit(
            &settings,
            AuditRequest { event, client_id: client, since, cursor: None, limit: Some(limit) },
            json,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::Failed(message)) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
        Err(CommandError::Usage(message)) => {
            eprintln!("gatehouse: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Run one CLI command's work on a migrated database (direct access, beside a running server).
pub fn with_connection<T>(
    settings: &Settings,
    work: impl FnOnce(&mut DbConnection) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    let db = serve::open_command_database(settings)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    work(&mut conn)
}

fn now() -> i64 {
    SystemClock.now_secs()
}

fn print_json(value: &impl serde::Serialize) -> Result<(), CommandError> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?);
    Ok(())
}
