//! Backup and restore of the state directory (`airlock state backup` /
//! `restore`). A backup is a folder with the state's files (roster, the
//! enrolled ceremony key, the workstation journal, the trust store and
//! every ceremony's record and journal, each with its HSM seal) and a
//! `SHA256SUMS` over them; working folders are never copied. The backup is
//! authenticated like the state itself: the HSM seals travel with the
//! files, and restore checks them (and every listed digest) against the
//! ceremony key whose fingerprint the custodians recorded at enrolment,
//! never against a key the backup merely contains. Restore refuses a state
//! directory that already holds anything, and publishes by one rename.

use std::fs;
use std::path::{Path, PathBuf};

use airlock_core::config::AirlockConfig;
use airlock_core::journal::{Actor, JournalWriter, verify_journal};
use airlock_core::journal_event::WorkstationEvent;
use airlock_core::quorum::{ROSTER_FILE_NAME, Roster};
use airlock_core::signature::SignerKey;
use airlock_core::staged_dir::StagedDir;
use airlock_core::state_seal::{self, SealError};
use airlock_core::sums::{Sha256Digest, Sha256Sums};
use serde::Serialize;

use crate::error::CeremonyError;
use crate::runner::ENROLLED_SIGNING_KEY_FILE;
use crate::state_auth::{TRUST_ADVICE, TRUST_STORE_REL, WORKSTATION_JOURNAL_REL};

/// The manifest's name in a backup.
pub const BACKUP_SUMS: &str = "SHA256SUMS";

/// What a backup or restore did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupOutcome {
    /// The backup folder (or the restored state directory).
    pub path: PathBuf,
    /// Files copied.
    pub files: usize,
    /// SHA-256 of the backup's `SHA256SUMS`, to write on its label.
    pub sums_sha256: String,
    /// SHA-256 of the ceremony signing key that authenticates it.
    pub ceremony_key_fingerprint: String,
    /// Ceremony journals whose HSM checkpoint was checked.
    pub journals_checked: usize,
}

fn is_state_file(rel: &str) -> bool {
    let top = [
        ROSTER_FILE_NAME,
        ENROLLED_SIGNING_KEY_FILE,
        WORKSTATION_JOURNAL_REL,
        TRUST_STORE_REL,
    ];
    let seal = |f: &str| format!("{f}{}", state_seal::SEAL_SUFFIX);
    if top.contains(&rel) || rel == seal(TRUST_STORE_REL) {
        return true;
    }
    use airlock_core::state_layout::{CEREMONIES_DIR, CEREMONY_JOURNAL_FILE, RECORD_FILE};
    let parts: Vec<&str> = rel.split('/').collect();
    matches!(
        parts.as_slice(),
        [dir, id, f]
            if *dir == CEREMONIES_DIR
                && !id.is_empty()
                && (*f == RECORD_FILE || *f == CEREMONY_JOURNAL_FILE || *f == seal(CEREMONY_JOURNAL_FILE))
    )
}

/// The state files, relative, sorted; anything else (work folders,
/// temporary files) is left out. A symlink or special file is an error.
fn state_files(root: &Path) -> Result<Vec<String>, CeremonyError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for entry in fs::read_dir(&dir).map_err(CeremonyError::io("listing", &dir))? {
            let entry = entry.map_err(CeremonyError::io("listing", &dir))?;
            let rel_path = rel.join(entry.file_name());
            let path = root.join(&rel_path);
            let meta = fs::symlink_metadata(&path).map_err(CeremonyError::io("reading", &path))?;
            let name = rel_path.to_string_lossy().into_owned();
            if meta.is_dir() {
                if entry.file_name() != "work" {
                    stack.push(rel_path);
                }
            } else if meta.is_file() {
                if is_state_file(&name) {
                    out.push(name);
                }
            } else if is_state_file(&name) {
                return Err(CeremonyError::Io {
                    what: "backing up (a state file is a symlink or special file)",
                    path,
                    source: std::io::Error::other("refused"),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Checks the seals of the state files found under `root` with `key`:
/// the trust store (when present) and every ceremony journal that logged
/// in. Returns how many journals were checked.
fn check_seals(root: &Path, files: &[String], key: &SignerKey) -> Result<usize, CeremonyError> {
    if files.iter().any(|f| f == TRUST_STORE_REL) {
        state_seal::verify_file(
            &root.join(TRUST_STORE_REL),
            TRUST_STORE_REL,
            key,
            TRUST_ADVICE,
        )?;
    }
    let mut checked = 0;
    for rel in files.iter().filter(|f| f.ends_with("/journal.jsonl")) {
        let path = root.join(rel);
        let bytes = fs::read(&path).map_err(CeremonyError::io("reading", &path))?;
        let summary = verify_journal(&bytes).map_err(|e| e.with_file(&path))?;
        match state_seal::verify_journal_checkpoint(&path, rel, key, &summary)? {
            Some(_) => checked += 1,
            None if summary.events.iter().any(|e| e.claims_quorum_login()) => {
                return Err(SealError::Missing {
                    file: path.clone(),
                    seal: state_seal::seal_path(&path),
                    advice: "every ceremony that logged in leaves an HSM checkpoint of its journal",
                }
                .into());
            }
            None => {}
        }
    }
    Ok(checked)
}

fn load_key(path: &Path) -> Result<SignerKey, CeremonyError> {
    let pem = fs::read_to_string(path).map_err(CeremonyError::io("reading", path))?;
    SignerKey::from_pem(&pem).map_err(|e| CeremonyError::Io {
        what: "parsing the ceremony signing key",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn journal_note(state_dir: &Path, event: WorkstationEvent) -> Result<(), CeremonyError> {
    let path = state_dir.join(WORKSTATION_JOURNAL_REL);
    let mut j = if path.exists() {
        JournalWriter::open(&path)?.0
    } else {
        JournalWriter::create(&path)?
    };
    j.record(&event, &Actor::System)?;
    Ok(())
}

/// `airlock state backup --out DIR`: checks the state's seals with the
/// enrolled ceremony key, then writes the backup (never over an existing
/// folder) and journals it.
pub fn backup(config: &AirlockConfig, out: &Path) -> Result<BackupOutcome, CeremonyError> {
    let root = &config.state_dir;
    let files = state_files(root)?;
    if !files.iter().any(|f| f == ROSTER_FILE_NAME) {
        return Err(CeremonyError::OutOfOrder {
            step: "back up the state directory",
            needs: "enrol the custodians (there is no roster.json to back up)",
        });
    }
    let key = load_key(&root.join(ENROLLED_SIGNING_KEY_FILE))?;
    let journals_checked = check_seals(root, &files, &key)?;
    let staged = StagedDir::create(out, |_| {})?;
    let mut entries = Vec::new();
    for rel in &files {
        let bytes =
            fs::read(root.join(rel)).map_err(CeremonyError::io("reading", root.join(rel)))?;
        staged.write_file_deferred(rel, &bytes)?;
        entries.push((rel.clone(), Sha256Digest::of(&bytes)));
    }
    let sums = Sha256Sums::from_entries(entries).map_err(|e| CeremonyError::Io {
        what: "listing the backup in SHA256SUMS",
        path: out.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let sums_bytes = sums.to_bytes();
    staged.write_file_deferred(BACKUP_SUMS, &sums_bytes)?;
    staged.sync()?;
    let path = staged.publish()?;
    let outcome = BackupOutcome {
        path,
        files: files.len(),
        sums_sha256: Sha256Digest::of(&sums_bytes).to_hex(),
        ceremony_key_fingerprint: key.fingerprint().to_hex(),
        journals_checked,
    };
    journal_note(
        root,
        WorkstationEvent::StateBackedUp(serde_json::to_value(&outcome).unwrap_or_default()),
    )?;
    Ok(outcome)
}

/// `airlock state restore --from DIR --ceremony-key-fingerprint HEX`:
/// every file listed and unchanged, nothing else; the backup's ceremony key
/// is the one whose fingerprint the custodians recorded; its seals verify;
/// the roster parses. Then the state directory (absent or empty) is
/// published by one rename, and the restore journaled.
pub fn restore(
    config: &AirlockConfig,
    from: &Path,
    expected_fingerprint: &str,
) -> Result<BackupOutcome, CeremonyError> {
    let state = &config.state_dir;
    let sums_path = from.join(BACKUP_SUMS);
    let sums_bytes = fs::read(&sums_path).map_err(CeremonyError::io("reading", &sums_path))?;
    let sums = Sha256Sums::parse(&sums_bytes).map_err(|e| CeremonyError::Io {
        what: "parsing the backup's SHA256SUMS",
        path: sums_path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let found = state_files(from)?;
    let listed: Vec<String> = sums.entries().iter().map(|e| e.path.clone()).collect();
    if found != listed {
        return Err(SealError::Mismatch {
            file: sums_path,
            problem: format!(
                "the backup holds {} state file(s) but SHA256SUMS lists {}: files were added or removed",
                found.len(),
                listed.len()
            ),
        }
        .into());
    }
    for rel in &listed {
        let bytes =
            fs::read(from.join(rel)).map_err(CeremonyError::io("reading", from.join(rel)))?;
        sums.check(rel, &bytes).map_err(|e| SealError::Mismatch {
            file: from.join(rel),
            problem: e.to_string(),
        })?;
    }
    let key = load_key(&from.join(ENROLLED_SIGNING_KEY_FILE))?;
    let fp = key.fingerprint().to_hex();
    if !fp.eq_ignore_ascii_case(expected_fingerprint.trim()) {
        return Err(CeremonyError::SigningKeyMismatch {
            enrolled: from.join(ENROLLED_SIGNING_KEY_FILE),
            expected: expected_fingerprint.trim().to_ascii_lowercase(),
            found: fp,
        });
    }
    let journals_checked = check_seals(from, &listed, &key)?;
    Roster::load(&from.join(ROSTER_FILE_NAME))?;
    match fs::read_dir(state) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(CeremonyError::Io {
                    what: "restoring into",
                    path: state.clone(),
                    source: std::io::Error::other(
                        "the state directory is not empty; move it aside first (it is never overwritten)",
                    ),
                });
            }
            fs::remove_dir(state).map_err(CeremonyError::io("removing the empty", state))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CeremonyError::io("reading", state)(e)),
    }
    let staged = StagedDir::create(state, |_| {})?;
    for rel in &listed {
        let bytes =
            fs::read(from.join(rel)).map_err(CeremonyError::io("reading", from.join(rel)))?;
        staged.write_file_deferred(rel, &bytes)?;
    }
    staged.sync()?;
    let path = staged.publish()?;
    let outcome = BackupOutcome {
        path,
        files: listed.len(),
        sums_sha256: Sha256Digest::of(&sums_bytes).to_hex(),
        ceremony_key_fingerprint: fp,
        journals_checked,
    };
    journal_note(
        state,
        WorkstationEvent::StateRestored {
            from: from.display().to_string(),
            outcome: serde_json::to_value(&outcome).unwrap_or_default(),
        },
    )?;
    Ok(outcome)
}
