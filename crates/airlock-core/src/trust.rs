//! The trust store of enrolled request signers: the public keys whose
//! signature on a request bundle's `SHA256SUMS` the workstation accepts.
//!
//! It lives in `<state dir>/trust/request-signers.json` as
//! `{"format": "airlock-trust/1", "signers": [{name, fingerprint,
//! enrolled_at, spki_pem}]}`. On load every entry is re-validated (key
//! parses, is RSA 3072/4096, the stored fingerprint matches the key, names
//! and keys are unique), so a hand-edited or damaged store is refused
//! rather than half-trusted. Writes go to a temporary file in the same
//! folder, are fsynced, and renamed into place.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::exit::{ExitClass, ExitCode};
use crate::signature::{SignatureError, SignerKey, SignerKeyError};

/// Format tag of the trust store file.
pub const TRUST_FORMAT: &str = "airlock-trust/1";
/// File name under `<state dir>/trust/`.
pub const SIGNERS_FILE: &str = crate::state_layout::SIGNERS_FILE;

/// A signer's name: `^[a-z0-9][a-z0-9._-]{0,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SignerName(String);

impl SignerName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SignerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SignerName {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, TrustError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(SignerName(s.to_string()))
        } else {
            Err(TrustError::BadName {
                name: s.to_string(),
            })
        }
    }
}

/// Why a trust-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A signer name does not match the pattern.
    #[error(
        "signer name {name:?} is not valid: use 1-63 of a-z 0-9 . _ - starting with a letter or digit"
    )]
    BadName {
        /// The name given.
        name: String,
    },
    /// The key was refused.
    #[error("{source_name}: {source}")]
    Key {
        /// Where the key came from (file or store entry).
        source_name: String,
        /// What is wrong.
        source: SignerKeyError,
    },
    /// A signer of that name is already enrolled.
    #[error("a signer named {name:?} is already enrolled; remove it first or choose another name")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// The same key is already enrolled under another name.
    #[error("this key (fingerprint {fingerprint}) is already enrolled as {existing:?}")]
    DuplicateKey {
        /// The existing entry's name.
        existing: String,
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// No signer of that name.
    #[error("no signer named {name:?} is enrolled (see `airlock trust list`)")]
    UnknownName {
        /// The name.
        name: String,
    },
    /// Nothing enrolled, so no request can be verified.
    #[error("no request signer is enrolled in {}; enrol the online side's key with `airlock trust add-signer PEM --name NAME`", path.display())]
    Empty {
        /// The store file.
        path: PathBuf,
    },
    /// The store file is damaged or was edited by hand.
    #[error("{}: {message}; restore it from your backup or re-enrol the signers", path.display())]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the store failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl ExitClass for TrustError {
    fn exit_code(&self) -> ExitCode {
        match self {
            TrustError::Io { .. } => ExitCode::Io,
            _ => ExitCode::Trust,
        }
    }
}

/// One enrolled signer.
#[derive(Debug, Clone)]
pub struct EnrolledSigner {
    /// Its name.
    pub name: SignerName,
    /// Its key.
    pub key: SignerKey,
    /// When it was enrolled (UTC).
    pub enrolled_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    format: String,
    signers: Vec<StoreEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreEntry {
    name: String,
    fingerprint: String,
    enrolled_at: String,
    spki_pem: String,
}

/// The set of enrolled request signers, bound to its file.
#[derive(Debug, Clone)]
pub struct TrustStore {
    path: PathBuf,
    signers: Vec<EnrolledSigner>,
}

impl TrustStore {
    /// The store file for a state directory.
    pub fn path_in(state_dir: &Path) -> PathBuf {
        crate::state_layout::StateLayout::new(state_dir).signers()
    }

    /// Opens the store of `state_dir`; a missing file is an empty store.
    pub fn open(state_dir: &Path) -> Result<Self, TrustError> {
        let path = Self::path_in(state_dir);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustStore {
                    path,
                    signers: Vec::new(),
                });
            }
            Err(source) => return Err(TrustError::Io { path, source }),
        };
        let corrupt = |message: String| TrustError::Corrupt {
            path: path.clone(),
            message,
        };
        let file: StoreFile = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if file.format != TRUST_FORMAT {
            return Err(corrupt(format!(
                "format is {:?}, expected {TRUST_FORMAT:?}",
                file.format
            )));
        }
        let mut store = TrustStore {
            path: path.clone(),
            signers: Vec::new(),
        };
        for entry in file.signers {
            let name: SignerName = entry
                .name
                .parse()
                .map_err(|e: TrustError| corrupt(e.to_string()))?;
            let key = SignerKey::from_pem(&entry.spki_pem)
                .map_err(|e| corrupt(format!("signer {name}: {e}")))?;
            if key.fingerprint().to_hex() != entry.fingerprint {
                return Err(corrupt(format!(
                    "signer {name}: stored fingerprint {} does not match its key ({})",
                    entry.fingerprint,
                    key.fingerprint()
                )));
            }
            let enrolled_at = OffsetDateTime::parse(&entry.enrolled_at, &Rfc3339)
                .map_err(|e| corrupt(format!("signer {name}: enrolled_at: {e}")))?;
            store
                .insert(EnrolledSigner {
                    name,
                    key,
                    enrolled_at,
                })
                .map_err(|e| corrupt(e.to_string()))?;
        }
        Ok(store)
    }

    /// An empty store that would be saved at `path` (for tests and tools).
    pub fn empty_at(path: PathBuf) -> Self {
        TrustStore {
            path,
            signers: Vec::new(),
        }
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The enrolled signers, in enrolment order.
    pub fn signers(&self) -> &[EnrolledSigner] {
        &self.signers
    }

    fn insert(&mut self, signer: EnrolledSigner) -> Result<(), TrustError> {
        if self.signers.iter().any(|s| s.name == signer.name) {
            return Err(TrustError::DuplicateName {
                name: signer.name.0,
            });
        }
        let fp = signer.key.fingerprint();
        if let Some(s) = self.signers.iter().find(|s| s.key.fingerprint() == fp) {
            return Err(TrustError::DuplicateKey {
                existing: s.name.0.clone(),
                fingerprint: fp.to_hex(),
            });
        }
        self.signers.push(signer);
        Ok(())
    }

    /// Enrols `key` as `name` (in memory; call [`TrustStore::save`]).
    pub fn add(
        &mut self,
        name: SignerName,
        key: SignerKey,
        now: OffsetDateTime,
    ) -> Result<&EnrolledSigner, TrustError> {
        self.insert(EnrolledSigner {
            name,
            key,
            enrolled_at: now.to_offset(time::UtcOffset::UTC),
        })?;
        Ok(self.signers.last().expect("just inserted"))
    }

    /// Removes the signer called `name` (in memory; call [`TrustStore::save`]).
    pub fn remove(&mut self, name: &str) -> Result<EnrolledSigner, TrustError> {
        match self.signers.iter().position(|s| s.name.0 == name) {
            Some(i) => Ok(self.signers.remove(i)),
            None => Err(TrustError::UnknownName {
                name: name.to_string(),
            }),
        }
    }

    /// Finds the enrolled signer whose key verifies `signature` over
    /// `message`. An empty store is a trust error; no match is a signature
    /// error naming how many keys were tried.
    pub fn find_signer(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<&EnrolledSigner, FindSignerError> {
        if self.signers.is_empty() {
            return Err(FindSignerError::Empty(TrustError::Empty {
                path: self.path.clone(),
            }));
        }
        let mut last = SignatureError::Invalid;
        for s in &self.signers {
            match s.key.verify(message, signature) {
                Ok(()) => return Ok(s),
                Err(e) => last = e,
            }
        }
        let names = self
            .signers
            .iter()
            .map(|s| s.name.0.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Err(FindSignerError::NoMatch { tried: names, last })
    }

    /// Writes the store atomically: temporary file, fsync, rename, fsync
    /// of the folder.
    pub fn save(&self) -> Result<(), TrustError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TrustError::Io { path, source }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
        let file = StoreFile {
            format: TRUST_FORMAT.to_string(),
            signers: self
                .signers
                .iter()
                .map(|s| StoreEntry {
                    name: s.name.0.clone(),
                    fingerprint: s.key.fingerprint().to_hex(),
                    enrolled_at: s
                        .enrolled_at
                        .format(&Rfc3339)
                        .expect("UTC timestamps always format"),
                    spki_pem: s.key.to_pem(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("plain data serialises");
        text.push('\n');
        let tmp = dir.join(format!(".{SIGNERS_FILE}.tmp-{}", std::process::id()));
        // A leftover from a crashed run with the same pid is stale.
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(&self.path)(e));
        }
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok(())
    }
}

/// Why no enrolled signer accepted a signature.
#[derive(Debug, thiserror::Error)]
pub enum FindSignerError {
    /// The trust store is empty.
    #[error(transparent)]
    Empty(TrustError),
    /// No enrolled key verifies the signature.
    #[error(
        "SHA256SUMS.sig does not verify under any enrolled request signer (tried: {tried}; last: {last}); the bundle was changed after signing or signed by a key that is not enrolled"
    )]
    NoMatch {
        /// The names tried.
        tried: String,
        /// The last key's reason.
        last: SignatureError,
    },
}

impl ExitClass for FindSignerError {
    fn exit_code(&self) -> ExitCode {
        match self {
            FindSignerError::Empty(e) => e.exit_code(),
            FindSignerError::NoMatch { .. } => ExitCode::Signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> SignerKey {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/test-only-keys")
            .join(name);
        SignerKey::from_pem(&fs::read_to_string(p).unwrap()).unwrap()
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-28 09:00 UTC)
    }

    #[test]
    fn names_follow_the_pattern() {
        for ok in ["a", "online-1", "sec.team_2", &"a".repeat(63)] {
            assert!(ok.parse::<SignerName>().is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "A", "a b", "a/b", &"a".repeat(64), "é"] {
            assert!(bad.parse::<SignerName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn add_save_open_remove() {
        let t = tempfile::tempdir().unwrap();
        let mut s = TrustStore::open(t.path()).unwrap();
        assert!(s.signers().is_empty());
        s.add(
            "online".parse().unwrap(),
            key("test-only-signer-rsa3072.pub.pem"),
            now(),
        )
        .unwrap();
        s.add(
            "backup".parse().unwrap(),
            key("test-only-signer-rsa4096.pub.pem"),
            now(),
        )
        .unwrap();
        assert!(matches!(
            s.add(
                "online".parse().unwrap(),
                key("test-only-other-signer-rsa3072.pub.pem"),
                now()
            ),
            Err(TrustError::DuplicateName { .. })
        ));
        assert!(matches!(
            s.add(
                "again".parse().unwrap(),
                key("test-only-signer-rsa3072.pub.pem"),
                now()
            ),
            Err(TrustError::DuplicateKey { .. })
        ));
        s.save().unwrap();
        let mut back = TrustStore::open(t.path()).unwrap();
        assert_eq!(back.signers().len(), 2);
        assert_eq!(back.signers()[0].name.as_str(), "online");
        assert_eq!(back.signers()[0].enrolled_at, now());
        assert_eq!(
            back.signers()[1].key.fingerprint(),
            key("test-only-signer-rsa4096.pub.pem").fingerprint()
        );
        back.remove("online").unwrap();
        assert!(matches!(
            back.remove("online"),
            Err(TrustError::UnknownName { .. })
        ));
        back.save().unwrap();
        assert_eq!(TrustStore::open(t.path()).unwrap().signers().len(), 1);
        // No temporary files left behind.
        assert_eq!(fs::read_dir(t.path().join("trust")).unwrap().count(), 1);
    }

    #[test]
    fn tampered_store_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let mut s = TrustStore::open(t.path()).unwrap();
        s.add(
            "online".parse().unwrap(),
            key("test-only-signer-rsa3072.pub.pem"),
            now(),
        )
        .unwrap();
        s.save().unwrap();
        let p = TrustStore::path_in(t.path());
        let text = fs::read_to_string(&p).unwrap();
        let fp = key("test-only-signer-rsa3072.pub.pem")
            .fingerprint()
            .to_hex();
        let swapped = text.replace(&fp, &"0".repeat(64));
        fs::write(&p, swapped).unwrap();
        let e = TrustStore::open(t.path()).unwrap_err();
        assert!(matches!(e, TrustError::Corrupt { .. }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Trust);
    }

    #[test]
    fn empty_store_cannot_verify() {
        let s = TrustStore::empty_at(PathBuf::from("/nonexistent/x.json"));
        let e = s.find_signer(b"m", b"s").unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Trust);
    }
}
