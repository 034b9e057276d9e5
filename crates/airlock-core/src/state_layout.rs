//! The one place that names the files and folders of the workstation's
//! state directory (`[state] dir` in `airlock.toml`). Every crate takes
//! these names from here, so a file is never spelled two ways.
//!
//! ```text
//! STATE_DIR/
//!   roster.json (+ .hsm-seal)            custodians, threshold, pins
//!   trust/request-signers.json (+ .hsm-seal)   the trust store
//!   ceremony-signing-key.pem             the enrolled copy of the HSM key
//!   enrollment.jsonl (+ .hsm-seal)       the workstation journal
//!   ceremony.lock                        held while a ceremony runs
//!   ceremonies/<id>/record.json          one ceremony's record
//!   ceremonies/<id>/journal.jsonl        its journal (+ .hsm-seal)
//!   ceremonies/<id>/work/                left only by older, interrupted runs
//! ```

use std::path::{Path, PathBuf};

/// The custodian roster.
pub const ROSTER_FILE: &str = "roster.json";
/// The trust store of request signers (its file name).
pub const SIGNERS_FILE: &str = "request-signers.json";
/// The folder the trust store is in.
pub const TRUST_DIR: &str = "trust";
/// The trust store relative to the state directory.
pub const TRUST_STORE_REL: &str = "trust/request-signers.json";
/// The enrolled copy of the HSM's ceremony signing key (PEM).
pub const ENROLLED_SIGNING_KEY_FILE: &str = "ceremony-signing-key.pem";
/// The workstation journal (enrolment, trust changes, discards).
pub const WORKSTATION_JOURNAL_FILE: &str = "enrollment.jsonl";
/// The lock a running ceremony holds.
pub const STATE_LOCK_FILE: &str = "ceremony.lock";
/// The folder of per-ceremony folders.
pub const CEREMONIES_DIR: &str = "ceremonies";
/// A ceremony's record.
pub const RECORD_FILE: &str = "record.json";
/// A ceremony's journal.
pub const CEREMONY_JOURNAL_FILE: &str = "journal.jsonl";
/// A ceremony's working folder (only older runs made one).
pub const WORK_DIR: &str = "work";

/// Paths in one state directory.
#[derive(Debug, Clone, Copy)]
pub struct StateLayout<'a> {
    dir: &'a Path,
}

impl<'a> StateLayout<'a> {
    /// The layout of the state directory `dir`.
    pub fn new(dir: &'a Path) -> Self {
        StateLayout { dir }
    }

    /// `roster.json`.
    pub fn roster(&self) -> PathBuf {
        self.dir.join(ROSTER_FILE)
    }

    /// `trust/request-signers.json`.
    pub fn signers(&self) -> PathBuf {
        self.dir.join(TRUST_DIR).join(SIGNERS_FILE)
    }

    /// `ceremony-signing-key.pem`.
    pub fn enrolled_signing_key(&self) -> PathBuf {
        self.dir.join(ENROLLED_SIGNING_KEY_FILE)
    }

    /// `enrollment.jsonl`.
    pub fn workstation_journal(&self) -> PathBuf {
        self.dir.join(WORKSTATION_JOURNAL_FILE)
    }

    /// `ceremony.lock`.
    pub fn lock(&self) -> PathBuf {
        self.dir.join(STATE_LOCK_FILE)
    }

    /// `ceremonies/`.
    pub fn ceremonies(&self) -> PathBuf {
        self.dir.join(CEREMONIES_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_ones() {
        let l = StateLayout::new(Path::new("/s"));
        assert_eq!(l.roster(), Path::new("/s/roster.json"));
        assert_eq!(l.signers(), Path::new("/s/trust/request-signers.json"));
        assert_eq!(l.signers(), Path::new("/s").join(TRUST_STORE_REL));
        assert_eq!(l.lock(), Path::new("/s/ceremony.lock"));
        assert_eq!(l.workstation_journal(), Path::new("/s/enrollment.jsonl"));
        assert_eq!(
            l.ceremonies().join("c1").join(RECORD_FILE),
            Path::new("/s/ceremonies/c1/record.json")
        );
    }
}
