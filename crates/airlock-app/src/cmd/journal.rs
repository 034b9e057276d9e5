//! `airlock journal verify FILE [--head HEX] [--ceremony-key PEM] [--json]`:
//! check a hash-chained audit journal and name the first broken line
//! (1-based line number and seq), exit code 52 when the chain is broken.
//! A ceremony journal in the state directory must also match its HSM
//! checkpoint (`journal.jsonl.hsm-seal`, signed by the ceremony signing
//! key in a quorum session), so that cutting lines off its end or
//! rewriting it with a recomputed chain is caught (exit code 54).

use std::path::{Path, PathBuf};

use airlock_core::exit::ExitClass;
use airlock_core::journal::{self, JournalError};
use clap::Subcommand;
use serde_json::json;

use super::CliError;
use crate::output::{grouped_hex, print_json};

/// `airlock journal ...`
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Verify a journal's hash chain and name the first broken line.
    Verify {
        /// The journal file (journal.jsonl).
        file: PathBuf,
        /// The head hash the journal must end at (e.g. import.json's
        /// journal_head_sha256 or the printed attestation). Without it a
        /// changed last line or a cut-off tail cannot be seen.
        #[arg(long, value_name = "HEX")]
        head: Option<String>,
        /// The enrolled ceremony signing key (PEM) that checks the journal's
        /// HSM checkpoint; by default the state directory's
        /// `ceremony-signing-key.pem` when FILE is a ceremony journal in it.
        /// Compare its printed fingerprint with the attestation.
        #[arg(long, value_name = "PEM")]
        ceremony_key: Option<PathBuf>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `airlock journal ...`.
pub fn run(cmd: JournalCommand) -> Result<(), CliError> {
    match cmd {
        JournalCommand::Verify {
            file,
            head,
            ceremony_key,
            json,
        } => verify(file, head, ceremony_key, json),
    }
}

/// Where FILE sits in a state directory: the state directory and FILE's
/// name relative to it, for `<state>/ceremonies/<id>/journal.jsonl`.
fn in_state_dir(file: &Path) -> Option<(PathBuf, String)> {
    let dir = file.parent()?;
    let workstation = airlock_ceremony::state_auth::WORKSTATION_JOURNAL_REL;
    if file.file_name()? == workstation && dir.join(airlock_core::quorum::ROSTER_FILE_NAME).exists()
    {
        return Some((dir.to_path_buf(), workstation.to_string()));
    }
    let id = dir.file_name()?.to_str()?;
    let ceremonies = dir.parent()?;
    use airlock_core::state_layout::{CEREMONIES_DIR, CEREMONY_JOURNAL_FILE};
    if ceremonies.file_name()? != CEREMONIES_DIR || file.file_name()? != CEREMONY_JOURNAL_FILE {
        return None;
    }
    Some((
        ceremonies.parent()?.to_path_buf(),
        airlock_ceremony::state_auth::ceremony_journal_rel(id),
    ))
}

/// What the HSM checkpoint says about the journal.
struct Checkpoint {
    entries: u64,
    fingerprint: String,
}

fn check_checkpoint(
    file: &Path,
    key_path: Option<PathBuf>,
    summary: &journal::JournalSummary,
) -> Result<Option<Checkpoint>, CliError> {
    let located = in_state_dir(file);
    let has_seal = airlock_core::state_seal::seal_path(file).exists();
    let logged_in = summary.events.iter().any(|e| e.claims_quorum_login());
    let Some((state, rel)) = located.clone().or_else(|| {
        key_path.as_ref().map(|_| {
            (
                file.parent().unwrap_or(Path::new(".")).to_path_buf(),
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
    }) else {
        // A journal copied out of a bundle: its head is checked with --head.
        return Ok(None);
    };
    if !has_seal {
        if located.is_some() && logged_in {
            return Err(CliError::from(
                airlock_core::state_seal::SealError::Missing {
                    file: file.to_path_buf(),
                    seal: airlock_core::state_seal::seal_path(file),
                    advice: "every ceremony that logged in leaves an HSM checkpoint of its journal; a missing one means the journal was replaced or its checkpoint deleted",
                },
            ));
        }
        return Ok(None);
    }
    let key_path =
        key_path.unwrap_or_else(|| state.join(airlock_ceremony::runner::ENROLLED_SIGNING_KEY_FILE));
    let pem = std::fs::read_to_string(&key_path).map_err(|e| {
        CliError::new(
            airlock_core::exit::ExitCode::Io,
            format!(
                "cannot read the ceremony signing key {}: {e}",
                key_path.display()
            ),
        )
        .with_hint("pass the enrolled key with --ceremony-key PEM")
    })?;
    let key = airlock_core::signature::SignerKey::from_pem(&pem).map_err(|e| {
        CliError::new(
            airlock_core::exit::ExitCode::Signature,
            format!("{}: {e}", key_path.display()),
        )
    })?;
    let n = airlock_core::state_seal::verify_journal_checkpoint(file, &rel, &key, summary)?
        .unwrap_or(0);
    Ok(Some(Checkpoint {
        entries: n,
        fingerprint: key.fingerprint().to_hex(),
    }))
}

fn verify(
    file: PathBuf,
    head: Option<String>,
    ceremony_key: Option<PathBuf>,
    as_json: bool,
) -> Result<(), CliError> {
    let result = match &head {
        Some(h) => journal::verify_journal_file_head(&file, h),
        None => journal::verify_journal_file(&file),
    };
    match result {
        Ok(s) => {
            let checkpoint = check_checkpoint(&file, ceremony_key, &s)?;
            let first = s.events.first().map(|e| e.at.to_string());
            let last = s.events.last().map(|e| e.at.to_string());
            if as_json {
                print_json(&json!({
                    "ok": true,
                    "file": file.display().to_string(),
                    "entries": s.entries,
                    "head_sha256": s.head_sha256,
                    "head_checked": head.is_some(),
                    "first_at": first,
                    "last_at": last,
                    "checkpoint_entries": checkpoint.as_ref().map(|c| c.entries),
                    "checkpoint_key_fingerprint": checkpoint.as_ref().map(|c| c.fingerprint.clone()),
                }));
            } else {
                println!("journal:  {}", file.display());
                println!("entries:  {}", s.entries);
                println!("head:     {}", grouped_hex(&s.head_sha256));
                if let Some(c) = &checkpoint {
                    println!(
                        "HSM checkpoint: the first {} of {} entries are sealed by the ceremony key {}",
                        c.entries,
                        s.entries,
                        grouped_hex(&c.fingerprint)
                    );
                    if c.entries < s.entries {
                        println!(
                            "note: {} entr(ies) after the checkpoint are not sealed (a run that stopped before its next checkpoint)",
                            s.entries - c.entries
                        );
                    }
                }
                if head.is_some() {
                    println!("OK: the hash chain is intact and ends at the expected head");
                } else {
                    println!(
                        "OK: the hash chain is intact (compare the head with the one recorded in import.json or on the attestation)"
                    );
                }
            }
            Ok(())
        }
        Err(e) => {
            if as_json {
                let (line, seq) = e.broken_line().unzip();
                print_json(&json!({
                    "ok": false,
                    "file": file.display().to_string(),
                    "line": line,
                    "seq": seq.flatten(),
                    "error": e.to_string(),
                    "exit_code": e.exit_code().code(),
                }));
            }
            Err(hint(e))
        }
    }
}

fn hint(e: JournalError) -> CliError {
    let advice = match &e {
        JournalError::Broken { .. } | JournalError::HeadMismatch { .. } => Some(
            "treat the journal and the bundle it came with as untrusted; compare with the printed attestation",
        ),
        _ => None,
    };
    let err = CliError::from(e);
    match advice {
        Some(a) => err.with_hint(a),
        None => err,
    }
}
