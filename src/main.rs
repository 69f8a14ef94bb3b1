//! The `gatehouse` binary: parse the command line and hand it to `cli::run`.

use std::process::ExitCode;

use clap::Parser;

use gatehouse::cli::{self, Cli};

fn main() -> ExitCode {
    let code = cli::run(Cli::parse());
    // Log lines at INFO and below are written in batches: the last ones go out now.
    gatehouse::logging::flush();
    code
}
