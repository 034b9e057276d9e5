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

/// Opens the desktop app on the configuration (the `gui` feature).
#[cfg(feature = "gui")]
fn gui_entry(config: Option<&std::path::Path>) -> Result<(), cmd::CliError> {
    let config = airlock_core::config::AirlockConfig::load_for_ceremony(config)?;
    airlock_app::gui::run(config).map_err(|e| {
        cmd::CliError::new(
            airlock_core::exit::ExitCode::Internal,
            format!("cannot open the desktop app window: {e}"),
        )
        .with_hint(
            "the app needs a display (DISPLAY or WAYLAND_DISPLAY) with OpenGL; on a machine without one, \
             use the subcommands (`airlock ceremony run ...`)",
        )
    })
}

/// This build has no desktop app (built without the `gui` feature).
#[cfg(not(feature = "gui"))]
fn gui_entry(_config: Option<&std::path::Path>) -> Result<(), cmd::CliError> {
    Err(cmd::CliError::new(
        airlock_core::exit::ExitCode::Usage,
        "this build of airlock has no desktop app (built without the `gui` feature)",
    )
    .with_hint("use the subcommands; see `airlock --help`"))
}

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("airlock: error: {e}");
            let code = e.exit_code();
            let guidance = code.guidance();
            if code.is_stop() {
                eprintln!(
                    "airlock: STOP: possible tampering ({}, exit {}): do not continue; keep the USB medium exactly as it is, as evidence, and call the security officer",
                    guidance.as_ref().map_or("", |g| g.name.as_str()),
                    code.code()
                );
            }
            // The command's own advice, else its class's row of
            // docs/exit-codes.md (the window shows the same).
            match (e.hint(), guidance) {
                (Some(hint), _) => eprintln!("airlock: what to do: {hint}"),
                (None, Some(g)) => eprintln!(
                    "airlock: what to do ({}, exit {}): {}",
                    g.name,
                    code.code(),
                    g.what_to_do
                ),
                (None, None) => {}
            }
            ExitCode::from(code.code())
        }
    }
}
