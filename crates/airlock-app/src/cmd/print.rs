//! `airlock print`: sends a file (the attestation) to a CUPS printer and
//! reports the job id, or lists the printers. Works in the CLI-only build.

use std::path::PathBuf;

use airlock_attest::print::{list_printers, print_file};
use clap::Args;

use super::CliError;

/// `airlock print FILE [--printer NAME] | --list`
#[derive(Debug, Args)]
pub struct PrintArgs {
    /// The file to print (e.g. BUNDLE_DIR/attestation.pdf).
    #[arg(required_unless_present = "list")]
    pub file: Option<PathBuf>,
    /// The CUPS queue (default: the system default, or the only printer).
    #[arg(long, value_name = "NAME")]
    pub printer: Option<String>,
    /// List the printers instead of printing.
    #[arg(long)]
    pub list: bool,
}

/// Runs `airlock print`.
pub fn run(a: PrintArgs) -> Result<(), CliError> {
    if a.list {
        let printers = list_printers()?;
        if printers.is_empty() {
            println!("No printers are set up in CUPS.");
        }
        for p in printers {
            println!(
                "{}{}{}",
                p.name,
                if p.is_default { " (default)" } else { "" },
                if p.enabled { "" } else { " (disabled)" }
            );
        }
        if a.file.is_none() {
            return Ok(());
        }
    }
    let Some(file) = a.file else {
        return Ok(());
    };
    let job = print_file(&file, a.printer.as_deref())?;
    println!("Sent {} to the printer: job {job}.", file.display());
    Ok(())
}
