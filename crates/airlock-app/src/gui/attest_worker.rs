//! The attestation commands on the worker thread: hand the custodians'
//! seal serials and paper size to the engine (`Ceremony::set_attestation`,
//! used when the final `attestation.pdf` is written at the wipe), and build
//! the attestation of the published bundle with the ceremony's journal so
//! far (`AttestationInput::load`, `render_pdf`) to preview, save
//! (`write_pdf_atomically`) or print (`print::print_file`). The same engine
//! calls as `airlock attest` and `airlock print`.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use airlock_attest::print::{self, Printer};
use airlock_attest::{AttestationInput, Paper, render_pdf, write_pdf_atomically};
use airlock_ceremony::runner::ENROLLED_SIGNING_KEY_FILE;
use airlock_ceremony::{AttestationOptions, Ceremony};
use airlock_core::exit::{ExitClass, ExitCode};
use airlock_core::signature::SignerKey;

use super::worker::StepError;

/// What to do with the attestation once built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestAction {
    /// Only build it (the preview) and list the printers.
    Preview,
    /// Write the PDF to this file (refused if it exists).
    Save(PathBuf),
    /// Send the PDF to this CUPS printer.
    Print(String),
}

/// What the window shows about the attestation, after the last command.
#[derive(Debug, Clone)]
pub struct AttestationView {
    /// What will be printed (wipe not yet recorded).
    pub preview: AttestationInput,
    /// The seal serials the engine now holds.
    pub seal_serials: Vec<String>,
    /// The paper size the engine now holds.
    pub paper: Paper,
    /// The engine holds the custodians' confirmation that no bags are used.
    pub no_bags_confirmed: bool,
    /// The CUPS printers, or why there are none.
    pub printers: Result<Vec<Printer>, String>,
    /// What the last save or print did.
    pub last_result: Option<String>,
}

/// An engine error as the window shows it.
pub fn step_error(e: &(impl ExitClass + Display)) -> StepError {
    StepError::new(e.to_string(), e.exit_code())
}

/// Reads the enrolled ceremony signing key from the state directory.
pub fn enrolled_key(state_dir: &Path) -> Result<SignerKey, StepError> {
    let path = state_dir.join(ENROLLED_SIGNING_KEY_FILE);
    let pem = std::fs::read_to_string(&path).map_err(|e| StepError::new(format!(
            "cannot read the enrolled ceremony key {}: {e}; check the state directory in airlock.toml",
            path.display()
        ), ExitCode::Io))?;
    SignerKey::from_pem(&pem).map_err(|e| {
        StepError::new(
            format!(
                "{}: {e}; the enrolled ceremony key is damaged: re-enrol the workstation",
                path.display()
            ),
            ExitCode::Signature,
        )
    })
}

/// Hands the options to the engine, builds the attestation, does `action`.
pub fn run(
    c: &mut Ceremony,
    state_dir: &Path,
    seal_serials: Vec<String>,
    paper: Paper,
    confirm_no_bags: bool,
    action: AttestAction,
) -> Result<AttestationView, StepError> {
    let serials =
        airlock_attest::model::check_seal_serials(&seal_serials).map_err(|e| step_error(&e))?;
    let Some(export) = c.export() else {
        return Err(StepError::new(
            "the bundle is not sealed yet: seal and export first",
            ExitCode::Usage,
        ));
    };
    let bundle = export.path.clone();
    c.set_attestation(AttestationOptions {
        seal_serials: serials.clone(),
        paper,
    });
    if confirm_no_bags {
        c.confirm_no_seal_serials().map_err(|e| step_error(&e))?;
    }
    let key = enrolled_key(state_dir)?;
    let preview = AttestationInput::load(&bundle, &key, c.journal_path(), &serials, paper)
        .map_err(|e| step_error(&e))?;
    let last_result = match action {
        AttestAction::Preview => None,
        AttestAction::Save(path) => {
            let pdf = render_pdf(&preview).map_err(|e| step_error(&e))?;
            write_pdf_atomically(&path, &pdf, false).map_err(|e| step_error(&e))?;
            Some(format!("Saved the attestation to {}", path.display()))
        }
        AttestAction::Print(printer) => {
            let pdf = render_pdf(&preview).map_err(|e| step_error(&e))?;
            let tmp = std::env::temp_dir().join(format!(
                "airlock-attestation-{}-{}.pdf",
                preview.ceremony_id,
                std::process::id()
            ));
            write_pdf_atomically(&tmp, &pdf, true).map_err(|e| step_error(&e))?;
            // `lp` copies the file into the CUPS spool before it returns.
            let job = print::print_file(&tmp, Some(&printer));
            let _ = std::fs::remove_file(&tmp);
            let job = job.map_err(|e| step_error(&e))?;
            Some(format!("Sent to printer {printer} as job {job}"))
        }
    };
    Ok(AttestationView {
        preview,
        seal_serials: serials,
        paper,
        no_bags_confirmed: c.no_seal_serials_confirmed(),
        printers: list_printers(),
        last_result,
    })
}

/// The CUPS printers, or the plain reason there are none.
pub fn list_printers() -> Result<Vec<Printer>, String> {
    match print::list_printers() {
        Ok(p) if p.is_empty() => Err(print::PrintError::NoPrinters { path: None }.to_string()),
        Ok(p) => Ok(p),
        Err(e) => Err(e.to_string()),
    }
}

/// Prints the final `attestation.pdf` the ceremony wrote into the bundle.
pub fn print_final(c: &Ceremony, printer: &str) -> Result<String, StepError> {
    let Some(path) = c.attestation_path() else {
        return Err(StepError::new(
            "the bundle has no attestation.pdf yet: it is written at the wipe",
            ExitCode::Usage,
        ));
    };
    let job = print::print_file(&path, Some(printer)).map_err(|e| step_error(&e))?;
    Ok(format!(
        "Sent {} to printer {printer} as job {job}",
        path.display()
    ))
}
