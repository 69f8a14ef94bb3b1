//! The `gatehouse` binary: parse the command line, load settings, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;

use gatehouse::cli::{Cli, ClientsCommand, Command, ConfigCommand, KeysCommand, UsersCommand};
use gatehouse::commands::CommandError;
use gatehouse::config::ConfigSource;
use gatehouse::operator::AuditRequest;
use gatehouse::{commands, logging, operator_cli};

/// Exit status for a configuration or command line that cannot be used.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let source = ConfigSource::new(cli.config.clone());
    if let Command::Healthcheck = cli.command {
        // 0 or 1 only: Docker reserves 2, and a bad configuration is not an unhealthy server.
        return match commands::healthcheck(&source.bind_for_healthcheck()) {
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
        Command::Config { command: ConfigCommand::Check } => {
            commands::config_check(&source, &settings).map_err(Into::into)
        }
        // Answered above, before the settings are loaded; kept so the match stays exhaustive.
        Command::Healthcheck => commands::healthcheck(&settings.server.bind).map_err(Into::into),
        Command::Migrate => {
            logging::init(&settings.log);
            commands::migrate(&settings).map_err(Into::into)
        }
        Command::Serve => {
            logging::init(&settings.log);
            commands::serve(source, settings).map_err(Into::into)
        }
        Command::Users { command: UsersCommand::Add { email, password_stdin } } => {
            commands::users_add(&settings, &email, password_stdin)
        }
        Command::Keys { command: KeysCommand::List } => commands::keys_list(&settings),
        Command::Keys { command: KeysCommand::Rotate } => commands::keys_rotate(&settings),
        Command::Keys { command: KeysCommand::GenerateEncryptionKey } => commands::keys_generate_encryption_key(),
        Command::Clients { command: ClientsCommand::Add { name, redirect_uris } } => {
            commands::clients_add(&settings, &name, &redirect_uris)
        }
        Command::Clients { command: ClientsCommand::List { source, status, stale, json } } => {
            operator_cli::clients_list(&settings, source, status, stale, json)
        }
        Command::Clients { command: ClientsCommand::Show { client_id, json } } => {
            operator_cli::clients_show(&settings, &client_id, json)
        }
        Command::Clients { command: ClientsCommand::Disable { client_id, reason } } => {
            operator_cli::clients_disable(&settings, &client_id, reason.as_deref())
        }
        Command::Clients { command: ClientsCommand::Enable { client_id } } => {
            operator_cli::clients_enable(&settings, &client_id)
        }
        Command::Clients { command: ClientsCommand::RevokeSessions { client_id } } => {
            operator_cli::clients_revoke_sessions(&settings, &client_id)
        }
        Command::Clients { command: ClientsCommand::Delete { client_id } } => {
            operator_cli::clients_delete(&settings, &client_id)
        }
        Command::Users { command: UsersCommand::List { json } } => operator_cli::users_list(&settings, json),
        Command::Users { command: UsersCommand::Disable { email } } => operator_cli::users_disable(&settings, &email),
        Command::Users { command: UsersCommand::SetPassword { email, password_stdin } } => {
            operator_cli::users_set_password(&settings, &email, password_stdin)
        }
        Command::Cleanup { dry_run, json } => operator_cli::cleanup(&settings, dry_run, json),
        Command::Audit { event, client, since, limit, json } => operator_cli::audit(
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
