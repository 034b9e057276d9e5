//! HSM seals over workstation state. The trust store, each ceremony's
//! journal (a checkpoint of its first N entries) and anything else one
//! person could edit to steer the HSM is sealed by the ceremony signing key,
//! which lives in the HSM and can only be used in a quorum session: an
//! RSASSA-PSS signature over a domain-separated message naming the file
//! (relative to the state directory), its SHA-256 (or, for a journal, the
//! hash of its Nth line) and when it was sealed. The seal sits beside the
//! file as `FILE.hsm-seal`.
//!
//! A ceremony checks the seals right after the quorum login and before any
//! key is generated or wrapped; `airlock journal verify` checks a journal's
//! checkpoint offline with the enrolled ceremony key. Restoring an older
//! file together with its older seal is not detected here (see
//! `docs/threat-model.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::{ExitClass, ExitCode};
use crate::journal::JournalSummary;
use crate::signature::SignerKey;
use crate::sums::Sha256Digest;

/// The seal's `format` value.
pub const SEAL_FORMAT: &str = "airlock-state-seal/1";
/// What is appended to a file's name to name its seal.
pub const SEAL_SUFFIX: &str = ".hsm-seal";
/// A seal file larger than this is refused before it is read.
pub const MAX_SEAL_BYTES: u64 = 64 * 1024;
/// Domain separation: a state seal can never pass for a bundle's
/// `SHA256SUMS` signature (that message is lines of hex digests).
const DOMAIN: &[u8] = b"airlock-state-seal/1\0";

/// Why a piece of state is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// There is no seal beside the file.
    #[error(
        "{file}: not sealed by the HSM (no {seal}); it was written without a quorum or edited by hand. {advice}"
    )]
    Missing {
        /// The file.
        file: PathBuf,
        /// The seal file looked for.
        seal: PathBuf,
        /// What to do.
        advice: &'static str,
    },
    /// The seal or the file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The seal does not match the file or does not verify.
    #[error(
        "{file}: the HSM seal does not match: {problem}. The file was edited, forged or replaced after the quorum sealed it; keep the medium as evidence and restore the state directory from its backup"
    )]
    Mismatch {
        /// The file.
        file: PathBuf,
        /// What did not match.
        problem: String,
    },
}

impl ExitClass for SealError {
    fn exit_code(&self) -> ExitCode {
        match self {
            SealError::Read { .. } => ExitCode::Io,
            _ => ExitCode::StateNotAuthenticated,
        }
    }
}

/// `FILE.hsm-seal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSeal {
    /// [`SEAL_FORMAT`].
    pub format: String,
    /// The sealed file, relative to the state directory (`/` separated).
    pub file: String,
    /// SHA-256 (hex) of the file, or of the journal's last sealed line.
    pub sha256: String,
    /// For a journal checkpoint: how many entries it covers.
    pub journal_entries: Option<u64>,
    /// When it was sealed (RFC 3339).
    pub sealed_at: String,
    /// SHA-256 of the sealing key's SPKI.
    pub signing_key_fingerprint: String,
    /// RSASSA-PSS signature over [`StateSeal::message`], hex.
    pub signature: String,
}

impl StateSeal {
    /// An unsigned seal of a whole file's bytes.
    pub fn of_file(rel: &str, bytes: &[u8], sealed_at: &str, key_fingerprint: &str) -> Self {
        StateSeal {
            format: SEAL_FORMAT.into(),
            file: rel.into(),
            sha256: Sha256Digest::of(bytes).to_hex(),
            journal_entries: None,
            sealed_at: sealed_at.into(),
            signing_key_fingerprint: key_fingerprint.into(),
            signature: String::new(),
        }
    }

    /// An unsigned checkpoint of a journal's first `entries` lines, whose
    /// last line hashes to `head_sha256`.
    pub fn of_journal(
        rel: &str,
        entries: u64,
        head_sha256: &str,
        sealed_at: &str,
        key_fingerprint: &str,
    ) -> Self {
        StateSeal {
            format: SEAL_FORMAT.into(),
            file: rel.into(),
            sha256: head_sha256.into(),
            journal_entries: Some(entries),
            sealed_at: sealed_at.into(),
            signing_key_fingerprint: key_fingerprint.into(),
            signature: String::new(),
        }
    }

    /// The bytes the HSM signs: domain, file, digest, entries, time, each
    /// followed by a NUL (none of them can contain one).
    pub fn message(&self) -> Vec<u8> {
        let mut m = DOMAIN.to_vec();
        let entries = self
            .journal_entries
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        for part in [
            self.file.as_str(),
            self.sha256.as_str(),
            entries.as_str(),
            self.sealed_at.as_str(),
            self.signing_key_fingerprint.as_str(),
        ] {
            m.extend_from_slice(part.as_bytes());
            m.push(0);
        }
        m
    }

    /// Checks format, name, key and signature (not the file's content).
    fn check(&self, file: &Path, rel: &str, key: &SignerKey) -> Result<(), SealError> {
        let bad = |problem: String| SealError::Mismatch {
            file: file.to_path_buf(),
            problem,
        };
        if self.format != SEAL_FORMAT {
            return Err(bad(format!("format is {:?}", self.format)));
        }
        if self.file != rel {
            return Err(bad(format!(
                "the seal is for {:?}, not for {rel:?}",
                self.file
            )));
        }
        let fp = key.fingerprint().to_hex();
        if self.signing_key_fingerprint != fp {
            return Err(bad(format!(
                "sealed by key {}, not by the ceremony signing key {fp}",
                self.signing_key_fingerprint
            )));
        }
        let sig =
            hex::decode(&self.signature).map_err(|_| bad("the signature is not hex".into()))?;
        key.verify(&self.message(), &sig)
            .map_err(|e| bad(format!("the signature does not verify ({e})")))
    }
}

/// Where `file`'s seal lives.
pub fn seal_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(SEAL_SUFFIX);
    PathBuf::from(s)
}

/// Reads the seal of `file`; `None` when there is none.
pub fn read_seal(file: &Path) -> Result<Option<StateSeal>, SealError> {
    let path = seal_path(file);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SealError::Read { path, source }),
    };
    let mismatch = |problem: String| SealError::Mismatch {
        file: file.to_path_buf(),
        problem,
    };
    if !meta.is_file() || meta.len() > MAX_SEAL_BYTES {
        return Err(mismatch(format!(
            "{} is not a regular file of at most {MAX_SEAL_BYTES} bytes",
            path.display()
        )));
    }
    let bytes = std::fs::read(&path).map_err(|source| SealError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| mismatch(format!("{} does not parse: {e}", path.display())))
}

/// Writes `seal` beside `file` atomically (temporary file, fsync, rename,
/// fsync of the folder).
pub fn write_seal(file: &Path, seal: &StateSeal) -> std::io::Result<()> {
    let path = seal_path(file);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut bytes = serde_json::to_vec_pretty(seal).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()
}

/// Verifies that `file` (named `rel` in the state directory) is exactly
/// what the HSM sealed. `advice` says what to do when there is no seal.
pub fn verify_file(
    file: &Path,
    rel: &str,
    key: &SignerKey,
    advice: &'static str,
) -> Result<(), SealError> {
    let Some(seal) = read_seal(file)? else {
        return Err(SealError::Missing {
            file: file.to_path_buf(),
            seal: seal_path(file),
            advice,
        });
    };
    seal.check(file, rel, key)?;
    if seal.journal_entries.is_some() {
        return Err(SealError::Mismatch {
            file: file.to_path_buf(),
            problem: "the seal is a journal checkpoint, not a file seal".into(),
        });
    }
    let bytes = std::fs::read(file).map_err(|source| SealError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let actual = Sha256Digest::of(&bytes).to_hex();
    if actual != seal.sha256 {
        return Err(SealError::Mismatch {
            file: file.to_path_buf(),
            problem: format!("its SHA-256 is {actual}, the seal says {}", seal.sha256),
        });
    }
    Ok(())
}

/// Verifies a journal's checkpoint against the verified `summary` of the
/// journal at `file`: the seal verifies, and the journal still holds the
/// sealed entries unchanged (so truncating or rewriting it is caught).
/// Returns how many entries the checkpoint covers, or `None` when the
/// journal has no checkpoint.
pub fn verify_journal_checkpoint(
    file: &Path,
    rel: &str,
    key: &SignerKey,
    summary: &JournalSummary,
) -> Result<Option<u64>, SealError> {
    let Some(seal) = read_seal(file)? else {
        return Ok(None);
    };
    seal.check(file, rel, key)?;
    let bad = |problem: String| SealError::Mismatch {
        file: file.to_path_buf(),
        problem,
    };
    let Some(n) = seal.journal_entries else {
        return Err(bad(
            "the seal is a file seal, not a journal checkpoint".into()
        ));
    };
    if n == 0 || n > summary.entries {
        return Err(bad(format!(
            "the HSM sealed {n} entries but the journal has {}: it was truncated",
            summary.entries
        )));
    }
    let line = &summary.events[(n - 1) as usize];
    if line.sha256 != seal.sha256 {
        return Err(bad(format!(
            "entry {} (line {n}) is not the one the HSM sealed: the journal was rewritten",
            n - 1
        )));
    }
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_separates_every_field() {
        let a = StateSeal::of_file("trust/a.json", b"x", "2026-01-01T00:00:00Z", "ff");
        let mut b = a.clone();
        b.file = "trust/a.jso".into();
        assert_ne!(a.message(), b.message());
        let j = StateSeal::of_journal("j", 1, &a.sha256, &a.sealed_at, "ff");
        let mut f = j.clone();
        f.file = "j".into();
        f.journal_entries = None;
        assert_ne!(j.message(), f.message());
        assert!(a.message().starts_with(DOMAIN));
    }

    #[test]
    fn seal_path_appends_the_suffix() {
        assert_eq!(
            seal_path(Path::new("/s/trust/request-signers.json")),
            PathBuf::from("/s/trust/request-signers.json.hsm-seal")
        );
    }
}
