//! The `gatehouse` binary: parse the command line, load settings, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;

use gatehouse::cli::{Cli, Command, ConfigCommand};
use gatehouse::config::ConfigSource;
use gatehouse::{commands, logging};

/// Exit status for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let source = ConfigSource::new(cli.config.clone());
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
    let result = match cli.command {
        Command::Config { command: ConfigCommand::Check } => commands::config_check(&source, &settings),
        Command::Healthcheck => commands::healthcheck(&settings),
        Command::Migrate => {
            logging::init(&settings.log);
            commands::migrate(&settings)
        }
        Command::Serve => {
            logging::init(&settings.log);
            commands::serve(source, settings)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}
