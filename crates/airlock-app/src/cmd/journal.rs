//! `airlock journal verify FILE [--head HEX] [--json]`: check a
//! hash-chained audit journal and name the first broken line (1-based line
//! number and seq). Exit code 52 (journal) when the chain is broken.

use std::path::PathBuf;

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
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `airlock journal ...`.
pub fn run(cmd: JournalCommand) -> Result<(), CliError> {
    match cmd {
        JournalCommand::Verify { file, head, json } => verify(file, head, json),
    }
}

fn verify(file: PathBuf, head: Option<String>, as_json: bool) -> Result<(), CliError> {
    let result = match &head {
        Some(h) => journal::verify_journal_file_head(&file, h),
        None => journal::verify_journal_file(&file),
    };
    match result {
        Ok(s) => {
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
                }));
            } else {
                println!("journal:  {}", file.display());
                println!("entries:  {}", s.entries);
                println!("head:     {}", grouped_hex(&s.head_sha256));
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
