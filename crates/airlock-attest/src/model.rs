//! What the attestation prints, gathered from a verified import bundle (and,
//! optionally, the workstation's full ceremony journal) into plain,
//! already-checked values. Nothing here draws; [`crate::render`] only lays
//! these values out, so the same input always gives the same page.
//!
//! Sources: `import.json` for the ceremony, HSM, keys and digests;
//! the bundle's `journal.jsonl` for when each custodian authenticated
//! (`custodian_authenticated`), the request signer's name
//! (`request_verified`) and the overrides (`preflight`); the full journal
//! (which continues the bundle's copy past `export_started` with
//! `bundle_published`, `wipe_done` and `ceremony_completed`) for the wipe.

use std::path::Path;

use airlock_core::import_bundle::{ImportExpectations, VerifiedImportBundle, verify_import_bundle};
use airlock_core::journal::{JournalEntry, JournalSummary, verify_journal_file};
use airlock_core::journal_event::{CeremonyEvent, Preflight};
use airlock_core::request::replica_rel;
use airlock_core::signature::SignerKey;

use crate::error::AttestError;

/// The longest seal serial accepted.
pub const MAX_SEAL_SERIAL_LEN: usize = 64;

/// How many hex digits of each `EncryptedKeyMaterial.bin` digest are printed.
pub const MATERIAL_PREFIX_HEX: usize = 16;

/// The paper the attestation is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    /// ISO A4, 210 x 297 mm (the default).
    #[default]
    A4,
    /// US Letter, 8.5 x 11 in.
    Letter,
}

impl Paper {
    /// Width and height in PDF points (1/72 in).
    pub fn size_pt(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.276, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }

    /// The name CUPS and people use.
    pub fn name(self) -> &'static str {
        match self {
            Paper::A4 => "A4",
            Paper::Letter => "Letter",
        }
    }
}

/// The HSM the material was generated and wrapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmLine {
    /// CK_TOKEN_INFO manufacturerID.
    pub manufacturer: String,
    /// CK_TOKEN_INFO model.
    pub model: String,
    /// CK_TOKEN_INFO serialNumber.
    pub serial: String,
    /// CK_TOKEN_INFO label.
    pub token_label: String,
    /// How the token wrapped (e.g. `CKM_RSA_PKCS_OAEP`).
    pub wrap_path: String,
    /// SHA-256 of the PKCS#11 module the ceremony loaded (the one the
    /// quorum pinned), from the journal's preflight entry; empty when the
    /// journal predates it.
    pub module_sha256: String,
}

/// A custodian who authenticated, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodianLine {
    /// The enrolled name.
    pub name: String,
    /// When the passphrase was accepted (RFC 3339 UTC, from the journal).
    pub authenticated_at: String,
}

/// One row of the key table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    /// Key name (folder under `keys/`).
    pub name: String,
    /// KMS alias.
    pub alias: String,
    /// KMS key spec.
    pub key_spec: String,
    /// Wrapping algorithm.
    pub wrapping_algorithm: String,
    /// CMAC KCV for AES keys.
    pub kcv: Option<String>,
    /// The first [`MATERIAL_PREFIX_HEX`] hex digits of the SHA-256 of
    /// `keys/<name>/EncryptedKeyMaterial.bin`.
    pub material_sha256_prefix: String,
    /// The same material's further wrappings, one per multi-Region
    /// replica (empty for a single-Region key).
    pub replicas: Vec<ReplicaLine>,
}

/// One more wrapping of a key's material, for a multi-Region replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLine {
    /// The replica's Region.
    pub region: String,
    /// Wrapping algorithm for this Region's wrapping key.
    pub wrapping_algorithm: String,
    /// The first [`MATERIAL_PREFIX_HEX`] hex digits of the SHA-256 of
    /// `keys/<name>/replicas/<region>/EncryptedKeyMaterial.bin`.
    pub material_sha256_prefix: String,
}

/// What is known about the wipe at the end of the ceremony.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WipeResult {
    /// No full journal was given: the wipe is recorded in the workstation
    /// journal, after the bundle's copy ends.
    InWorkstationJournal,
    /// The full journal was given but has no `wipe_done` after the bundle
    /// (the ceremony has not finished yet).
    NotYetRecorded,
    /// The full journal's `wipe_done` entry.
    Recorded {
        /// When (RFC 3339 UTC).
        at: String,
        /// Working files overwritten and removed.
        work_files: u64,
        /// Bytes overwritten.
        work_bytes: u64,
        /// Request bundle files wiped (`None`: the request was kept).
        request_files: Option<u64>,
        /// HSM session objects destroyed at logout.
        session_objects_destroyed: u64,
        /// HSM session objects left (must be 0).
        session_objects_remaining: u64,
        /// `ceremony_completed`, `ceremony_aborted`, or `None` when neither follows.
        outcome: Option<String>,
        /// The full journal's head hash and entry count.
        full_journal_head: String,
        /// Entries in the full journal.
        full_journal_entries: u64,
    },
}

/// Everything the attestation prints, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationInput {
    /// The paper size.
    pub paper: Paper,
    /// Ceremony id.
    pub ceremony_id: String,
    /// Request id.
    pub request_id: String,
    /// When the ceremony started (RFC 3339 UTC).
    pub started_at: String,
    /// When the bundle was sealed (RFC 3339 UTC); also the PDF's date.
    pub completed_at: String,
    /// Workstation hostname.
    pub hostname: String,
    /// True when only loopback was up.
    pub air_gapped: bool,
    /// True when the ceremony ran with `--allow-network` (or was not air-gapped).
    pub network_override: bool,
    /// True when SHA-1 wrapping was allowed for this ceremony.
    pub sha1_override: bool,
    /// Keys wrapped with a SHA-1 algorithm.
    pub sha1_keys: Vec<String>,
    /// The HSM.
    pub hsm: HsmLine,
    /// Custodians, in the order they authenticated.
    pub custodians: Vec<CustodianLine>,
    /// The request signer's enrolled name (from the journal).
    pub request_signer_name: String,
    /// SHA-256 (hex) of the request signer's SPKI DER.
    pub request_signer_fingerprint: String,
    /// SHA-256 (hex) of the request's `SHA256SUMS`.
    pub request_sums_sha256: String,
    /// SHA-256 (hex) of the import bundle's `SHA256SUMS`: the digest read
    /// aloud and encoded in the QR code.
    pub bundle_sums_sha256: String,
    /// The keys, in request order.
    pub keys: Vec<KeyLine>,
    /// SHA-256 (hex) of the ceremony signing key's SPKI DER.
    pub ceremony_key_fingerprint: String,
    /// Head of the bundle's journal copy (= `import.json` `journal_head_sha256`).
    pub journal_head_sha256: String,
    /// Entries in the bundle's journal copy.
    pub journal_entries: u64,
    /// The wipe.
    pub wipe: WipeResult,
    /// Serial numbers of the tamper-evident bags, as typed.
    pub seal_serials: Vec<String>,
    /// No serial was typed and the custodians confirmed that no bags were
    /// used (the full journal's `no_seal_serials_confirmed`): printed as
    /// such instead of blank lines to write serials on.
    pub no_bags_confirmed: bool,
}

/// Checks seal serials: 1..=64 printable characters, no control characters,
/// not only spaces. Returns them unchanged.
pub fn check_seal_serials(serials: &[String]) -> Result<Vec<String>, AttestError> {
    serials
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let bad = |problem| AttestError::SealSerial {
                index: i + 1,
                value: s.clone(),
                problem,
            };
            if s.trim().is_empty() {
                return Err(bad("it is empty"));
            }
            if s.chars().count() > MAX_SEAL_SERIAL_LEN {
                return Err(bad("it is too long"));
            }
            if s.chars().any(char::is_control) {
                return Err(bad("it contains a control character"));
            }
            Ok(s.clone())
        })
        .collect()
}

fn content(problem: impl Into<String>) -> AttestError {
    AttestError::JournalContent {
        problem: problem.into(),
    }
}

/// Every entry of a ceremony journal with its typed event; an entry that
/// is no ceremony event is refused.
fn typed(entries: &[JournalEntry]) -> Result<Vec<(&JournalEntry, CeremonyEvent)>, AttestError> {
    entries
        .iter()
        .map(|e| {
            e.ceremony_event()
                .map(|t| (e, t))
                .map_err(|err| content(err.to_string()))
        })
        .collect()
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Reads the wipe from the part of the full journal after the bundle's copy.
fn wipe_from(full: &JournalSummary, after: usize) -> Result<WipeResult, AttestError> {
    let tail = typed(&full.events[after..])?;
    let Some((w, wipe)) = tail.iter().find_map(|(e, t)| match t {
        CeremonyEvent::WipeDone(w) => Some((*e, w)),
        _ => None,
    }) else {
        return Ok(WipeResult::NotYetRecorded);
    };
    let outcome = tail.iter().find_map(|(e, t)| match t {
        CeremonyEvent::CeremonyCompleted {} if e.seq > w.seq => Some(e.event.clone()),
        CeremonyEvent::CeremonyAborted { .. } if e.seq > w.seq => Some(e.event.clone()),
        _ => None,
    });
    Ok(WipeResult::Recorded {
        at: rfc3339(w.at),
        work_files: wipe.work_dir.files,
        work_bytes: wipe.work_dir.bytes,
        request_files: wipe.request.as_ref().map(|r| r.files),
        session_objects_destroyed: wipe.session_objects_destroyed as u64,
        session_objects_remaining: wipe.session_objects_remaining as u64,
        outcome,
        full_journal_head: full.head_sha256.clone(),
        full_journal_entries: full.entries,
    })
}

impl AttestationInput {
    /// Builds the attestation of a bundle that has passed
    /// [`verify_import_bundle`]. `ceremony_key` is the enrolled key it was
    /// verified with; `full_journal` is the workstation's whole ceremony
    /// journal, verified by the caller (its entries must start with the
    /// bundle's copy); `seal_serials` are printed as given.
    pub fn from_verified(
        bundle: &VerifiedImportBundle,
        ceremony_key: &SignerKey,
        full_journal: Option<&JournalSummary>,
        seal_serials: &[String],
        paper: Paper,
    ) -> Result<Self, AttestError> {
        let m = &bundle.manifest;
        let events = typed(&bundle.journal.events)?;

        let mut custodians = Vec::new();
        for name in &m.custodians {
            let auth = events
                .iter()
                .find_map(|(e, t)| match t {
                    CeremonyEvent::CustodianAuthenticated { again: false, .. }
                        if e.actor == *name =>
                    {
                        Some(*e)
                    }
                    _ => None,
                })
                .ok_or_else(|| {
                    content(format!(
                        "custodian {name:?} is listed in import.json but has no custodian_authenticated entry"
                    ))
                })?;
            custodians.push(CustodianLine {
                name: name.clone(),
                authenticated_at: rfc3339(auth.at),
            });
        }

        let (verified, request) = events
            .iter()
            .rev()
            .find_map(|(e, t)| match t {
                CeremonyEvent::RequestVerified(r) => Some((*e, r)),
                _ => None,
            })
            .ok_or_else(|| content("no request_verified entry"))?;
        let signer_name = request.signer.as_str();
        if request.signer_fingerprint != m.request_signer_fingerprint {
            return Err(content(format!(
                "request_verified (seq {}) names another signer fingerprint than import.json ({})",
                verified.seq, m.request_signer_fingerprint
            )));
        }
        if request.sums_sha256 != m.request_sha256sums_sha256 {
            return Err(content(format!(
                "request_verified (seq {}) names another request SHA256SUMS digest than import.json ({})",
                verified.seq, m.request_sha256sums_sha256
            )));
        }

        let preflights: Vec<&Preflight> = events
            .iter()
            .filter_map(|(_, t)| match t {
                CeremonyEvent::Preflight(p) => Some(&**p),
                _ => None,
            })
            .collect();
        if preflights.is_empty() {
            return Err(content("no preflight entry"));
        }
        let network_override =
            !m.workstation.air_gapped || preflights.iter().any(|p| p.network_override);
        let sha1_override = preflights.iter().any(|p| p.sha1_override);

        let mut keys = Vec::new();
        let mut sha1_keys = Vec::new();
        for k in &m.keys {
            let digest = bundle.material_sha256.get(&k.name).ok_or_else(|| {
                content(format!(
                    "no EncryptedKeyMaterial.bin digest for key {}",
                    k.name
                ))
            })?;
            if k.wrapping_algorithm.is_sha1() {
                sha1_keys.push(k.name.clone());
            }
            let mut replicas = Vec::with_capacity(k.replicas.len());
            for r in &k.replicas {
                let rel = replica_rel(&k.name, &r.region);
                let digest = bundle.replica_material_sha256.get(&rel).ok_or_else(|| {
                    content(format!("no EncryptedKeyMaterial.bin digest for {rel}"))
                })?;
                if r.wrapping_algorithm.is_sha1() {
                    sha1_keys.push(rel.clone());
                }
                replicas.push(ReplicaLine {
                    region: r.region.clone(),
                    wrapping_algorithm: r.wrapping_algorithm.as_str().to_string(),
                    material_sha256_prefix: digest.to_hex()[..MATERIAL_PREFIX_HEX].to_string(),
                });
            }
            keys.push(KeyLine {
                name: k.name.clone(),
                alias: k.alias.clone(),
                key_spec: k.key_spec.as_str().to_string(),
                wrapping_algorithm: k.wrapping_algorithm.as_str().to_string(),
                kcv: k.kcv.clone(),
                material_sha256_prefix: digest.to_hex()[..MATERIAL_PREFIX_HEX].to_string(),
                replicas,
            });
        }

        let wipe = match full_journal {
            None => WipeResult::InWorkstationJournal,
            Some(full) => {
                let n = bundle.journal.events.len();
                let mismatch = |problem: String| AttestError::JournalMismatch {
                    path: "(given journal)".into(),
                    problem,
                };
                if n == 0 || full.events.len() < n {
                    return Err(mismatch(format!(
                        "it has {} entries, fewer than the bundle's {}",
                        full.events.len(),
                        n
                    )));
                }
                if full.events[n - 1].sha256 != bundle.journal.head_sha256 {
                    return Err(mismatch(format!(
                        "its entry seq {} hashes to {}, but the bundle's journal head is {}",
                        n - 1,
                        full.events[n - 1].sha256,
                        bundle.journal.head_sha256
                    )));
                }
                wipe_from(full, n)?
            }
        };
        let no_bags_confirmed = seal_serials.is_empty()
            && full_journal.is_some_and(|full| {
                full.events[bundle.journal.events.len().min(full.events.len())..]
                    .iter()
                    .any(|e| {
                        matches!(
                            e.ceremony_event(),
                            Ok(CeremonyEvent::NoSealSerialsConfirmed { .. })
                        )
                    })
            });

        Ok(AttestationInput {
            paper,
            ceremony_id: m.ceremony_id.clone(),
            request_id: m.request_id.clone(),
            started_at: m.started_at.clone(),
            completed_at: m.completed_at.clone(),
            hostname: m.workstation.hostname.clone(),
            air_gapped: m.workstation.air_gapped,
            network_override,
            sha1_override,
            sha1_keys,
            hsm: HsmLine {
                manufacturer: m.hsm.manufacturer.clone(),
                model: m.hsm.model.clone(),
                serial: m.hsm.serial.clone(),
                token_label: m.hsm.token_label.clone(),
                wrap_path: m.hsm.wrap_path.clone(),
                module_sha256: preflights
                    .iter()
                    .map(|p| &p.module.sha256)
                    .find(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .cloned()
                    .unwrap_or_default(),
            },
            custodians,
            request_signer_name: signer_name.to_string(),
            request_signer_fingerprint: m.request_signer_fingerprint.clone(),
            request_sums_sha256: m.request_sha256sums_sha256.clone(),
            bundle_sums_sha256: bundle.sums_sha256.to_hex(),
            keys,
            ceremony_key_fingerprint: ceremony_key.fingerprint().to_hex(),
            journal_head_sha256: bundle.journal.head_sha256.clone(),
            journal_entries: bundle.journal.entries,
            wipe,
            seal_serials: check_seal_serials(seal_serials)?,
            no_bags_confirmed,
        })
    }

    /// Verifies the bundle in `bundle_dir` against the enrolled
    /// `ceremony_key`, reads and verifies the full journal at
    /// `full_journal` if given, and builds the attestation.
    pub fn load(
        bundle_dir: &Path,
        ceremony_key: &SignerKey,
        full_journal: Option<&Path>,
        seal_serials: &[String],
        paper: Paper,
    ) -> Result<Self, AttestError> {
        let bundle =
            verify_import_bundle(bundle_dir, ceremony_key, &ImportExpectations::default())?;
        let full = match full_journal {
            Some(p) => Some(verify_journal_file(p).map_err(AttestError::FullJournal)?),
            None => None,
        };
        Self::from_verified(&bundle, ceremony_key, full.as_ref(), seal_serials, paper).map_err(
            |e| match (e, full_journal) {
                (AttestError::JournalMismatch { problem, .. }, Some(p)) => {
                    AttestError::JournalMismatch {
                        path: p.display().to_string(),
                        problem,
                    }
                }
                (e, _) => e,
            },
        )
    }

    /// True when anything on the page must be shouted: a network or SHA-1
    /// override, or a wipe that left HSM session objects behind.
    pub fn has_warnings(&self) -> bool {
        self.network_override
            || !self.air_gapped
            || self.sha1_override
            || !self.sha1_keys.is_empty()
            || matches!(self.wipe, WipeResult::Recorded { session_objects_remaining, .. } if session_objects_remaining > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_serials_are_checked_and_kept_as_given() {
        let ok = check_seal_serials(&["AB-0012 34".into(), "Ünïcode-7".into()]).unwrap();
        assert_eq!(ok, vec!["AB-0012 34".to_string(), "Ünïcode-7".to_string()]);
        for (bad, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("a\tb", "control"),
            (&"x".repeat(65)[..], "too long"),
        ] {
            let e = check_seal_serials(&["fine".into(), bad.into()]).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("seal serial #2"), "{text}");
            assert!(text.contains(why), "{text}");
        }
    }

    #[test]
    fn paper_sizes() {
        assert_eq!(Paper::default(), Paper::A4);
        assert_eq!(Paper::Letter.size_pt(), (612.0, 792.0));
        let (w, h) = Paper::A4.size_pt();
        assert!((w / 72.0 * 25.4 - 210.0).abs() < 0.01 && (h / 72.0 * 25.4 - 297.0).abs() < 0.01);
    }
}
