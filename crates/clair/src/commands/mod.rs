//! One module per subcommand.

mod index;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Run the chosen subcommand; the exit code on success.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Index(args) => index::run(&args, cli.quiet),
    }
}
