//! Verifying a sealed import bundle (formats.md, "Import bundle"): the
//! ceremony reads its own output back through this before publishing it,
//! and the online side runs the same checks (`airlock bundle verify`, in the
//! CLI-only build) before importing. Order: layout and path safety, every
//! digest, the signature by the enrolled ceremony key, the manifest schema,
//! the key files and their lengths, the journal chain and its head.

use std::collections::{BTreeMap, BTreeSet};

use crate::bundle_dir::{BundleError, BundleFiles, IMPORT_BUNDLE};
use crate::exit::{ExitClass, ExitCode};
use crate::import_manifest::{ImportManifest, ManifestError};
use crate::journal::{JournalError, JournalSummary, verify_journal_head};
use crate::signature::{SignatureError, SignerKey};
use crate::spec::{KeySpec, WrappingAlgorithm};
use crate::sums::Sha256Digest;

/// The manifest's file name.
pub const IMPORT_FILE: &str = "import.json";
/// The journal copy's file name.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// The ceremony key hint's file name.
pub const CEREMONY_KEY_FILE: &str = "ceremony-signing-key.pem";
/// The attestation's file name (not listed in `SHA256SUMS`).
pub const ATTESTATION_FILE: &str = "attestation.pdf";
/// Per-key wrapped material.
pub const ENCRYPTED_MATERIAL_FILE: &str = "EncryptedKeyMaterial.bin";
/// Per-key import token.
pub const IMPORT_TOKEN_FILE: &str = "ImportToken.bin";

/// Why an import bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportBundleError {
    /// Layout, path safety, sizes, `SHA256SUMS` or a digest.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The seal does not verify under the enrolled ceremony key.
    #[error("{0}; the bundle was not sealed by this ceremony key, or was changed after sealing")]
    Signature(#[from] SignatureError),
    /// `import.json` is missing or malformed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A key's files are missing, extra, or of the wrong size.
    #[error("keys/{name}/: {problem}")]
    KeyFiles {
        /// The key.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A file that has no place in an import bundle.
    #[error("{0} does not belong in an import bundle")]
    UnexpectedFile(String),
    /// A required top-level file is missing.
    #[error("{0} is missing from the bundle")]
    MissingFile(&'static str),
    /// The hint PEM names another key than the enrolled one.
    #[error(
        "ceremony-signing-key.pem (fingerprint {found}) is not the enrolled ceremony key ({expected}); \
         check which workstation sealed this bundle"
    )]
    CeremonyKeyMismatch {
        /// Fingerprint of the enrolled key.
        expected: String,
        /// Fingerprint of the bundle's copy.
        found: String,
    },
    /// The journal is broken or does not end at `journal_head_sha256`.
    #[error("journal.jsonl: {0}")]
    Journal(#[from] JournalError),
}

impl ExitClass for ImportBundleError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ImportBundleError::Bundle(e) => e.exit_code(),
            ImportBundleError::Signature(_) | ImportBundleError::CeremonyKeyMismatch { .. } => {
                ExitCode::Signature
            }
            ImportBundleError::Manifest(_) => ExitCode::Schema,
            ImportBundleError::Journal(_) => ExitCode::Journal,
            ImportBundleError::KeyFiles { .. }
            | ImportBundleError::MissingFile(_)
            | ImportBundleError::UnexpectedFile(_) => ExitCode::ImportBundle,
        }
    }
}

/// What the caller knows beyond the bundle itself.
#[derive(Debug, Clone, Default)]
pub struct ImportExpectations {
    /// Per key name (or `<name>/replicas/<region>` for a replica), the
    /// wrapping key's modulus size in bytes (known to the ceremony from the
    /// request; the online side may leave it empty, and then any of
    /// 256/384/512 is accepted).
    pub wrapping_key_bytes: BTreeMap<String, usize>,
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedImportBundle {
    /// The manifest.
    pub manifest: ImportManifest,
    /// SHA-256 of the exact `SHA256SUMS` bytes (what the attestation prints).
    pub sums_sha256: Sha256Digest,
    /// The journal.
    pub journal: JournalSummary,
    /// SHA-256 of each key's `EncryptedKeyMaterial.bin`, by key name.
    pub material_sha256: BTreeMap<String, Sha256Digest>,
    /// SHA-256 of each replica's `EncryptedKeyMaterial.bin`, by
    /// `<name>/replicas/<region>`.
    pub replica_material_sha256: BTreeMap<String, Sha256Digest>,
}

const WRAPPING_MODULI: [usize; 3] = [256, 384, 512];

/// Plausible PKCS#8 DER sizes (bytes) for the private keys of a key spec.
fn pkcs8_range(spec: KeySpec) -> (usize, usize) {
    match spec {
        KeySpec::Rsa2048 => (1100, 1300),
        KeySpec::Rsa3072 => (1650, 1900),
        KeySpec::Rsa4096 => (2200, 2500),
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => (60, 160),
        KeySpec::EccNistP384 => (80, 210),
        KeySpec::EccNistP521 => (100, 260),
        other => {
            let n = other.secret_len().unwrap_or(0);
            (n, n)
        }
    }
}

/// RFC 5649 output length for `n` bytes of input.
fn kwp_len(n: usize) -> usize {
    8 + n.div_ceil(8) * 8
}

/// Checks the length of one `EncryptedKeyMaterial.bin`.
pub fn check_material_len(
    spec: KeySpec,
    alg: WrappingAlgorithm,
    len: usize,
    modulus: Option<usize>,
) -> Result<(), String> {
    let moduli: Vec<usize> = match modulus {
        Some(m) => vec![m],
        None => WRAPPING_MODULI.to_vec(),
    };
    if alg.is_oaep_only() {
        if moduli.contains(&len) {
            return Ok(());
        }
        return Err(format!(
            "{ENCRYPTED_MATERIAL_FILE} is {len} bytes; {alg} output is exactly the wrapping key's modulus size ({moduli:?} bytes)"
        ));
    }
    let (lo, hi) = pkcs8_range(spec);
    let ok = moduli.iter().any(|m| {
        len > *m && {
            let kwp = len - m;
            kwp.is_multiple_of(8) && kwp >= kwp_len(lo) && kwp <= kwp_len(hi)
        }
    });
    if ok {
        return Ok(());
    }
    Err(format!(
        "{ENCRYPTED_MATERIAL_FILE} is {len} bytes; {alg} of {spec} material is an OAEP block of \
         {moduli:?} bytes followed by an RFC 5649 wrap of {}..{} bytes",
        kwp_len(lo),
        kwp_len(hi)
    ))
}

/// Verifies the import bundle in `dir` against the enrolled ceremony key.
pub fn verify_import_bundle(
    dir: &std::path::Path,
    ceremony_key: &SignerKey,
    expect: &ImportExpectations,
) -> Result<VerifiedImportBundle, ImportBundleError> {
    let files = BundleFiles::read(dir, &IMPORT_BUNDLE)?;
    files.check_digests()?;
    ceremony_key.verify(files.sums_bytes(), files.signature())?;
    let sums_sha256 = Sha256Digest::of(files.sums_bytes());

    let manifest_bytes = files
        .get(IMPORT_FILE)
        .ok_or(ImportBundleError::MissingFile(IMPORT_FILE))?;
    let manifest = ImportManifest::parse(manifest_bytes)?;

    let pem = files
        .get(CEREMONY_KEY_FILE)
        .ok_or(ImportBundleError::MissingFile(CEREMONY_KEY_FILE))?;
    let hint = std::str::from_utf8(pem)
        .ok()
        .and_then(|t| SignerKey::from_pem(t).ok());
    let expected = ceremony_key.fingerprint().to_hex();
    match hint {
        Some(k) if k.spki_der() == ceremony_key.spki_der() => {}
        Some(k) => {
            return Err(ImportBundleError::CeremonyKeyMismatch {
                expected,
                found: k.fingerprint().to_hex(),
            });
        }
        None => {
            return Err(ImportBundleError::CeremonyKeyMismatch {
                expected,
                found: "unreadable PEM".into(),
            });
        }
    }

    // Every file under keys/ belongs to a manifest key, and every manifest
    // key has both of its files.
    let mut expected_paths = BTreeSet::new();
    let mut material_sha256 = BTreeMap::new();
    let mut replica_material_sha256 = BTreeMap::new();
    for key in &manifest.keys {
        let targets = std::iter::once((key.name.clone(), key.wrapping_algorithm)).chain(
            key.replicas.iter().map(|r| {
                (
                    crate::request::replica_rel(&key.name, &r.region),
                    r.wrapping_algorithm,
                )
            }),
        );
        for (rel, alg) in targets {
            let material_path = format!("keys/{rel}/{ENCRYPTED_MATERIAL_FILE}");
            let token_path = format!("keys/{rel}/{IMPORT_TOKEN_FILE}");
            let material =
                files
                    .get(&material_path)
                    .ok_or_else(|| ImportBundleError::KeyFiles {
                        name: rel.clone(),
                        problem: format!("{ENCRYPTED_MATERIAL_FILE} is missing"),
                    })?;
            match files.get(&token_path) {
                Some(t) if !t.is_empty() => {}
                _ => {
                    return Err(ImportBundleError::KeyFiles {
                        name: rel.clone(),
                        problem: format!("{IMPORT_TOKEN_FILE} is missing or empty"),
                    });
                }
            }
            check_material_len(
                key.key_spec,
                alg,
                material.len(),
                expect.wrapping_key_bytes.get(&rel).copied(),
            )
            .map_err(|problem| ImportBundleError::KeyFiles {
                name: rel.clone(),
                problem,
            })?;
            if rel == key.name {
                material_sha256.insert(rel, Sha256Digest::of(material));
            } else {
                replica_material_sha256.insert(rel, Sha256Digest::of(material));
            }
            expected_paths.insert(material_path);
            expected_paths.insert(token_path);
        }
    }
    for path in files.paths() {
        if path.starts_with("keys/") && !expected_paths.contains(path) {
            let name = path.split('/').nth(1).unwrap_or("").to_string();
            return Err(ImportBundleError::KeyFiles {
                name,
                problem: format!("{path} is not part of any key in import.json"),
            });
        }
        let top_level = [
            IMPORT_FILE,
            JOURNAL_FILE,
            CEREMONY_KEY_FILE,
            ATTESTATION_FILE,
            crate::bundle_dir::SUMS_FILE,
            crate::bundle_dir::SIG_FILE,
        ];
        if !path.starts_with("keys/") && !top_level.contains(&path) {
            return Err(ImportBundleError::UnexpectedFile(path.to_string()));
        }
    }

    let journal_bytes = files
        .get(JOURNAL_FILE)
        .ok_or(ImportBundleError::MissingFile(JOURNAL_FILE))?;
    let journal = verify_journal_head(journal_bytes, &manifest.journal_head_sha256)?;

    Ok(VerifiedImportBundle {
        manifest,
        sums_sha256,
        journal,
        material_sha256,
        replica_material_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_lengths() {
        use KeySpec::*;
        use WrappingAlgorithm::*;
        assert!(check_material_len(SymmetricDefault, RsaesOaepSha256, 512, None).is_ok());
        assert!(check_material_len(SymmetricDefault, RsaesOaepSha256, 512, Some(384)).is_err());
        assert!(check_material_len(SymmetricDefault, RsaesOaepSha256, 40, None).is_err());
        // RSA-2048 PKCS#8 of 1217 bytes -> KWP 1232, under a 4096-bit key.
        assert!(check_material_len(Rsa2048, RsaAesKeyWrapSha256, 512 + 1232, Some(512)).is_ok());
        assert!(check_material_len(Rsa2048, RsaAesKeyWrapSha256, 512 + 1231, Some(512)).is_err());
        // P-256 PKCS#8 of 138 bytes -> KWP 152.
        assert!(check_material_len(EccNistP256, RsaAesKeyWrapSha256, 512 + 152, None).is_ok());
        assert!(check_material_len(EccNistP256, RsaAesKeyWrapSha256, 512, Some(512)).is_err());
        assert!(check_material_len(EccNistP256, RsaAesKeyWrapSha256, 200, None).is_err());
    }
}
