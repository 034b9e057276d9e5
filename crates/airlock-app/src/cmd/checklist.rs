//! `airlock checklist`: writes the printable ceremony checklist (PDF), or
//! prints it as Markdown (what `docs/checklist.md` holds). Needs no
//! configuration, token or state; works in the CLI-only build.

use std::path::PathBuf;

use airlock_attest::checklist::{EDITION, STEPS, markdown, render_pdf};
use airlock_attest::{AttestError, Paper, write_pdf_atomically};
use airlock_core::exit::ExitCode;
use clap::Args;

use super::CliError;

/// `airlock checklist --out FILE.pdf [--letter] | --markdown`
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 written; 2 usage; 4 the file cannot be written \
    (missing folder, permissions, disk full); 60 FILE already exists (it is never replaced)."
)]
pub struct ChecklistArgs {
    /// Where to write the PDF; it must not exist yet.
    #[arg(
        long,
        value_name = "FILE.pdf",
        required_unless_present = "markdown",
        conflicts_with = "markdown"
    )]
    pub out: Option<PathBuf>,
    /// US Letter instead of A4.
    #[arg(long, conflicts_with = "markdown")]
    pub letter: bool,
    /// Print the checklist as Markdown on stdout instead (docs/checklist.md).
    #[arg(long)]
    pub markdown: bool,
}

/// Runs `airlock checklist`.
pub fn run(a: ChecklistArgs) -> Result<(), CliError> {
    let Some(out) = a.out else {
        print!("{}", markdown());
        return Ok(());
    };
    let paper = if a.letter { Paper::Letter } else { Paper::A4 };
    let pdf = render_pdf(paper)?;
    write_pdf_atomically(&out, &pdf, false).map_err(|e| match e {
        AttestError::Exists { path } => CliError::new(
            ExitCode::Attestation,
            format!(
                "{} already exists; the checklist never replaces a file",
                path.display()
            ),
        )
        .with_hint("choose another --out, or remove the old file first"),
        other => other.into(),
    })?;
    println!(
        "Checklist (edition {EDITION}, {} steps) written to {} ({} bytes, {}).",
        STEPS.len(),
        out.display(),
        pdf.len(),
        paper.name()
    );
    println!("  print it with: airlock print {}", out.display());
    Ok(())
}
