//! `airlock attest`: builds the printed hash attestation (PDF) of a sealed
//! import bundle, after verifying the bundle against the enrolled ceremony
//! key. Works in the CLI-only build.

use std::path::PathBuf;

use airlock_attest::{AttestationInput, Paper, render_pdf, write_pdf_atomically};
use airlock_core::exit::ExitCode;
use airlock_core::import_bundle::ATTESTATION_FILE;
use airlock_core::signature::{SignerKey, group_hex};
use clap::Args;

use super::CliError;

/// `airlock attest BUNDLE_DIR ...`
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The sealed import bundle folder.
    pub bundle: PathBuf,
    /// The enrolled ceremony signing key (SPKI PEM; on the workstation,
    /// STATE_DIR/ceremony-signing-key.pem).
    #[arg(long, value_name = "PEM")]
    pub ceremony_key: PathBuf,
    /// The ceremony's full journal (STATE_DIR/ceremonies/ID/journal.jsonl),
    /// to print the wipe result; it must continue the bundle's journal.
    #[arg(long, value_name = "FULL_JOURNAL")]
    pub journal: Option<PathBuf>,
    /// Where to write the PDF (default: BUNDLE_DIR/attestation.pdf).
    #[arg(long, value_name = "FILE.pdf")]
    pub out: Option<PathBuf>,
    /// Serial number of a tamper-evident bag, printed as given (repeat for
    /// each bag).
    #[arg(long = "seal-serial", value_name = "S")]
    pub seal_serials: Vec<String>,
    /// US Letter instead of A4.
    #[arg(long)]
    pub letter: bool,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `airlock attest`.
pub fn run(a: AttestArgs) -> Result<(), CliError> {
    let pem = std::fs::read_to_string(&a.ceremony_key).map_err(|e| {
        CliError::new(
            ExitCode::Io,
            format!(
                "cannot read the ceremony key {}: {e}",
                a.ceremony_key.display()
            ),
        )
    })?;
    let key = SignerKey::from_pem(&pem).map_err(|e| {
        CliError::new(ExitCode::Signature, format!("{}: {e}", a.ceremony_key.display()))
            .with_hint("pass the ceremony-signing-key.pem enrolled from the workstation, not the bundle's copy")
    })?;
    let paper = if a.letter { Paper::Letter } else { Paper::A4 };
    let input = AttestationInput::load(
        &a.bundle,
        &key,
        a.journal.as_deref(),
        &a.seal_serials,
        paper,
    )?;
    let pdf = render_pdf(&input)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.bundle.join(ATTESTATION_FILE));
    write_pdf_atomically(&out, &pdf, a.force)?;
    println!(
        "Attestation written to {} ({} bytes, {}).",
        out.display(),
        pdf.len(),
        paper.name()
    );
    println!(
        "  import SHA256SUMS SHA-256: {}",
        group_hex(&input.bundle_sums_sha256)
    );
    if input.has_warnings() {
        println!(
            "  WARNING: the attestation prints an override or an incomplete wipe in large type."
        );
    }
    println!("  print it with: airlock print {}", out.display());
    Ok(())
}
