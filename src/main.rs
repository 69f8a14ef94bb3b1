//! The `gatehouse` binary: parse the command line and hand it to `cli::run`.

use std::process::ExitCode;

use clap::Parser;

use gatehouse::cli::{self, Cli};

fn main() -> ExitCode {
    cli::run(Cli::parse())
}
