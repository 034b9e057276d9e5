//! `airlock`: the offline key-ceremony workstation for AWS KMS BYOK.
//!
//! With no arguments it opens the desktop app; every subcommand drives the
//! same engine headless. This file only parses the command line, dispatches,
//! and turns errors into documented exit codes.

mod cmd;
mod output;
mod version;

use std::process::ExitCode;

use clap::Parser;

/// Opens the desktop app (the `gui` feature).
fn gui_entry(_config: Option<&std::path::Path>) -> Result<(), cmd::CliError> {
    Err(cmd::CliError::new(
        airlock_core::exit::ExitCode::Usage,
        "the desktop app is not built yet",
    )
    .with_hint("use the subcommands; see `airlock --help`"))
}

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("airlock: error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("airlock: what to do: {hint}");
            }
            ExitCode::from(e.exit_code().code())
        }
    }
}
