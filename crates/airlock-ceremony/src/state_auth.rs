//! Workstation state authenticated by the HSM, as the ceremony and the
//! quorum operations use it: the file names of the state directory that
//! are sealed, sealing a file or a journal checkpoint with the ceremony
//! signing key in a quorum session, and checking those seals right after
//! the quorum login, before any key is generated or wrapped. The seal
//! format itself is [`airlock_core::state_seal`].

use std::path::{Path, PathBuf};

use airlock_core::journal::JournalSummary;
use airlock_core::request::rfc3339;
use airlock_core::signature::SignerKey;
use airlock_core::state_seal::{self, StateSeal};
use airlock_hsm::UserSession;

use crate::error::CeremonyError;

/// The trust store, relative to the state directory.
pub const TRUST_STORE_REL: &str = airlock_core::state_layout::TRUST_STORE_REL;
/// The workstation journal (enrolment, trust changes, rehearsals).
pub const WORKSTATION_JOURNAL_REL: &str = airlock_core::state_layout::WORKSTATION_JOURNAL_FILE;

/// The journal of one ceremony, relative to the state directory.
pub fn ceremony_journal_rel(ceremony_id: &str) -> String {
    format!("ceremonies/{ceremony_id}/journal.jsonl")
}

/// What to do when the trust store has no seal.
pub const TRUST_ADVICE: &str = "Trust-store changes need the quorum: run `airlock trust seal --custodian ...` (or add the signer again with --custodian) with M custodians after checking every listed fingerprint";

fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    rfc3339(t.replace_nanosecond(0).unwrap_or(t))
}

/// Signs `seal` in the HSM and writes it beside `file`.
fn sign_and_write(
    session: &mut UserSession,
    file: &Path,
    mut seal: StateSeal,
) -> Result<(), CeremonyError> {
    let sig = session.sign_message(&seal.message(), &format!("the state seal of {}", seal.file))?;
    seal.signature = hex::encode(sig);
    state_seal::write_seal(file, &seal).map_err(CeremonyError::io(
        "writing the HSM seal of",
        file.to_path_buf(),
    ))
}

/// Seals the file `rel` of `state_dir` as it is now.
pub fn seal_file(
    session: &mut UserSession,
    key: &SignerKey,
    state_dir: &Path,
    rel: &str,
) -> Result<PathBuf, CeremonyError> {
    let file = state_dir.join(rel);
    let bytes = std::fs::read(&file).map_err(CeremonyError::io("reading", &file))?;
    let seal = StateSeal::of_file(rel, &bytes, &now(), &key.fingerprint().to_hex());
    sign_and_write(session, &file, seal)?;
    Ok(file)
}

/// Seals a checkpoint of the journal `rel`: its first `entries` lines,
/// the last of which hashes to `head_sha256`.
pub fn seal_journal(
    session: &mut UserSession,
    key: &SignerKey,
    state_dir: &Path,
    rel: &str,
    entries: u64,
    head_sha256: &str,
) -> Result<(), CeremonyError> {
    let file = state_dir.join(rel);
    let seal = StateSeal::of_journal(
        rel,
        entries,
        head_sha256,
        &now(),
        &key.fingerprint().to_hex(),
    );
    sign_and_write(session, &file, seal)
}

/// Checks the trust store's seal.
pub fn verify_trust_store(state_dir: &Path, key: &SignerKey) -> Result<(), CeremonyError> {
    let file = state_dir.join(TRUST_STORE_REL);
    state_seal::verify_file(&file, TRUST_STORE_REL, key, TRUST_ADVICE)?;
    Ok(())
}

/// Checks a journal's checkpoint; how many entries it covers (`None`
/// without a checkpoint).
pub fn verify_journal(
    state_dir: &Path,
    rel: &str,
    key: &SignerKey,
    summary: &JournalSummary,
) -> Result<Option<u64>, CeremonyError> {
    let file = state_dir.join(rel);
    Ok(state_seal::verify_journal_checkpoint(
        &file, rel, key, summary,
    )?)
}
