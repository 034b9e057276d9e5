//! The ceremony's steps on one [`Ceremony`] value, which is always in one
//! [`Stage`]. Each step takes its inputs as arguments, finds the stage it
//! needs (or is refused), journals before and after it acts, journals its
//! failure, and moves the ceremony to the next stage. [`Ceremony::need`]
//! says what comes next: the CLI loops over it, the window's worker sends
//! the same inputs and draws the stage it gets back.
//!
//! Steps: [`Ceremony::preflight`] -> [`Ceremony::verify_request`] and
//! [`Ceremony::authenticate`] (either order) -> [`Ceremony::confirm_plan`],
//! [`Ceremony::confirm_request_digest`], [`Ceremony::choose_output`] ->
//! [`Ceremony::login`] (which shows each `existing` key's material as
//! [`Need::ExistingConfirmation`]) -> [`Ceremony::confirm_existing`] for
//! each ->
//! [`Ceremony::generate_and_wrap`] -> [`Ceremony::seal_and_export`] ->
//! [`Ceremony::confirm_bundle_digest`] -> [`Ceremony::wipe`]; or
//! [`Ceremony::abort`] at any point before the end.
//!
//! Nothing one person can edit steers the HSM: preflight refuses a module
//! or token other than the one the quorum pinned (before any passphrase);
//! right after the login the trust store's HSM seal and, for a resumed
//! ceremony, the HSM checkpoint of its journal are checked, and only what
//! the checkpoint covers is trusted; the journal is checkpointed (sealed in
//! the HSM) after the login, before generation, after publication and at
//! the end. Generated keys carry their binding in `CKA_ID`; a resumed key
//! must be bound to this request and name, and `existing` material to the
//! same KMS key, allowed by the quorum's policy and confirmed on its own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_core::config::AirlockConfig;
use airlock_core::import_bundle::{
    CEREMONY_KEY_FILE, ENCRYPTED_MATERIAL_FILE, IMPORT_FILE, IMPORT_TOKEN_FILE, ImportExpectations,
    JOURNAL_FILE, VerifiedImportBundle, verify_import_bundle,
};
use airlock_core::import_manifest::{
    HsmRecord, IMPORT_FORMAT, ImportKey, ImportManifest, ImportReplica, Workstation,
};
use airlock_core::journal::{Actor, JournalEntry, JournalWriter};
use airlock_core::journal_event::{self as je, CeremonyEvent as E};
use airlock_core::key_binding::KeyBinding;
use airlock_core::quorum::{AuthOutcome, CustodianName, QuorumLogin, ROSTER_FILE_NAME, Roster};
use airlock_core::request::schema::Material;
use airlock_core::request::{
    VerifiedKey, VerifiedRequest, VerifyOptions, replica_rel, rfc3339, verify_request_bundle,
};
use airlock_core::signature::SignerKey;
use airlock_core::spec::{ImportType, KeySpec, WrappingAlgorithm};
use airlock_core::staged_dir::StagedDir;
use airlock_core::sums::{Sha256Digest, Sha256Sums};
use airlock_core::trust::TrustStore;
use airlock_core::wipe::wipe_tree_report;
use airlock_hsm::{Hsm, HsmKey, ProbeReport, SigningKeyInfo, TokenIdentity, UserSession, WrapPath};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::enroll::{enrolled_signing_key, found_pins, journal_name, pin_json};
use crate::error::CeremonyError;
use crate::event::Event;
use crate::key_stager::KeyStager;
use crate::lock::CeremonyLock;
use crate::preflight::{AirGapStatus, air_gap_status, hostname};
use crate::stage::{Ended, Halted, InHsm, Need, Published, RequestStage, Stage, Verified};
use crate::state::{CeremonyRecord, CeremonyStatus, CeremonyStore};
use crate::state_auth::{ceremony_journal_rel, seal_journal, verify_journal, verify_trust_store};
use crate::stop::StopSignal;

/// File name of the enrolled ceremony signing key in the state directory.
pub const ENROLLED_SIGNING_KEY_FILE: &str = airlock_core::state_layout::ENROLLED_SIGNING_KEY_FILE;

/// What the operator asked for before preflight (the request and output
/// folders are the inputs of [`Ceremony::verify_request`] and
/// [`Ceremony::choose_output`]).
#[derive(Debug, Clone, Default)]
pub struct CeremonyOptions {
    /// Accept SHA-1 wrapping algorithms.
    pub allow_sha1: bool,
    /// Run although a network interface is up (journaled, printed).
    pub allow_network: bool,
    /// Also wipe the request bundle at the end.
    pub wipe_request: bool,
    /// Run although memory could not be locked (journaled; rehearsals only).
    pub allow_unlocked_memory: bool,
}

/// How the attestation is printed (set with [`Ceremony::set_attestation`]).
#[derive(Debug, Clone, Default)]
pub struct AttestationOptions {
    /// Serial numbers of the tamper-evident bags, as typed by the custodians.
    pub seal_serials: Vec<String>,
    /// Paper size.
    pub paper: airlock_attest::Paper,
}

/// What preflight saw.
#[derive(Debug, Clone)]
pub struct PreflightReport {
    /// Workstation hostname.
    pub hostname: String,
    /// Workstation clock at preflight.
    pub clock: OffsetDateTime,
    /// Air-gap status.
    pub air_gap: AirGapStatus,
    /// The token.
    pub identity: TokenIdentity,
    /// What the token offers.
    pub probe: ProbeReport,
}

/// How a key's material came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Generated in this run.
    Generated,
    /// Generated by an earlier, interrupted run of this ceremony.
    Resumed,
    /// Existing HSM material (`material.source = existing`).
    Existing,
}

impl KeyOrigin {
    fn as_str(self) -> &'static str {
        match self {
            KeyOrigin::Generated => "generated",
            KeyOrigin::Resumed => "resumed",
            KeyOrigin::Existing => "existing",
        }
    }
}

pub use airlock_core::journal_event::{ExistingMaterial, WipeOutcome};

/// One key's result.
#[derive(Debug, Clone)]
pub struct KeyOutcome {
    /// Key name.
    pub name: String,
    /// Label of the HSM object.
    pub hsm_label: String,
    /// How the material came to be.
    pub origin: KeyOrigin,
    /// CMAC KCV for AES keys.
    pub kcv: Option<String>,
    /// SHA-256 of the public key SPKI for RSA/ECC keys.
    pub public_key_sha256: Option<String>,
    /// The wrap path used.
    pub wrap_path: WrapPath,
    /// SHA-256 of `EncryptedKeyMaterial.bin`.
    pub material_sha256: String,
    /// The wrapped material itself, held in memory until it is sealed
    /// (never written anywhere but the staged bundle).
    pub(crate) material: EncryptedMaterial,
    /// The same HSM object wrapped again for each multi-Region replica,
    /// in request order (empty for a single-Region key).
    pub replicas: Vec<ReplicaOutcome>,
}

/// One more wrapping of a key's HSM object: for a multi-Region replica
/// (the request's replica at the same position), under that Region's
/// wrapping key. Its digest is in the journal's `key_wrapped` entry.
#[derive(Debug, Clone)]
pub struct ReplicaOutcome {
    /// The wrap path used.
    pub wrap_path: WrapPath,
    pub(crate) material: EncryptedMaterial,
}

/// The HSM label of a key the ceremony generates: `NAME/REQUEST_ID`
/// (docs/formats.md), the one place that spells it.
pub(crate) fn generated_label(
    name: &impl std::fmt::Display,
    request_id: &impl std::fmt::Display,
) -> String {
    format!("{name}/{request_id}")
}

/// Wrapped key material: ciphertext under AWS's wrapping key. Not a secret,
/// but large; `Debug` shows only its length.
#[derive(Clone)]
pub(crate) struct EncryptedMaterial(pub(crate) Vec<u8>);

impl std::fmt::Debug for EncryptedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptedMaterial({} bytes)", self.0.len())
    }
}

/// The published bundle.
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    /// Where it is.
    pub path: PathBuf,
    /// SHA-256 of its `SHA256SUMS`.
    pub sums_sha256: String,
    /// What verification found.
    pub verified: VerifiedImportBundle,
}

impl ExportOutcome {
    /// The event that tells the custodians.
    pub fn event(&self) -> Event {
        Event::Exported {
            path: self.path.display().to_string(),
            sums_sha256: self.sums_sha256.clone(),
        }
    }
}

impl From<&AuthOutcome> for Event {
    fn from(o: &AuthOutcome) -> Event {
        let (AuthOutcome::Accepted {
            custodian,
            have,
            need,
        }
        | AuthOutcome::AlreadyCounted {
            custodian,
            have,
            need,
        }) = o;
        Event::CustodianAuthenticated {
            custodian: custodian.to_string(),
            have: *have,
            need: *need,
        }
    }
}

impl From<&WipeOutcome> for Event {
    fn from(w: &WipeOutcome) -> Event {
        Event::Wiped {
            files: w.work_dir.files,
            bytes: w.work_dir.bytes,
            session_objects_destroyed: w.session_objects_destroyed,
            session_objects_remaining: w.session_objects_remaining,
        }
    }
}

/// An event journaled before the journal opened (preflight, early
/// custodians), written when it opens.
pub(crate) struct Pending {
    pub(crate) at: OffsetDateTime,
    pub(crate) event: E,
    pub(crate) actor: Actor,
}

/// A ceremony in progress: the resources every stage shares (the HSM, the
/// roster, the journal and record, the locks) and the [`Stage`] it is in.
pub struct Ceremony {
    pub(crate) config: AirlockConfig,
    pub(crate) opts: CeremonyOptions,
    pub(crate) hsm: Hsm,
    pub(crate) preflight: PreflightReport,
    pub(crate) roster: Roster,
    /// Custodians who authenticated, in order (kept to the end: the
    /// manifest and the attestation name them).
    pub(crate) custodians: Vec<(CustodianName, OffsetDateTime)>,
    pub(crate) pending: Vec<Pending>,
    /// The state directory's and the token's exclusive ceremony locks.
    pub(crate) lock: CeremonyLock,
    /// Open from the request's verification on (or a discard's start).
    pub(crate) record: Option<CeremonyRecord>,
    pub(crate) journal: Option<JournalWriter>,
    /// Where the ceremony is, with what that stage has.
    pub(crate) stage: Stage,
    pub(crate) attestation: AttestationOptions,
    /// Asked to stop (honoured between keys).
    pub(crate) stop: StopSignal,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceremony")
            .field("request", &self.request().map(|r| r.request_id.to_string()))
            .field("ceremony_id", &self.ceremony_id())
            .field("stage", &self.stage.kind())
            .field("keys_done", &self.keys().len())
            .finish_non_exhaustive()
    }
}

/// What the login checked in the fresh session: the HSM's signing key, the
/// enrolled copy it matches, and the wrap path per algorithm.
type LoginChecked = (
    SigningKeyInfo,
    SignerKey,
    Vec<(WrappingAlgorithm, WrapPath)>,
);

/// Wraps `key` under an AWS wrapping key: only under a key the security
/// officer marked trusted when the policy says so.
fn wrap_under(
    h: &mut InHsm,
    key: &airlock_hsm::HsmKey,
    wrapping_spki_der: &[u8],
    alg: WrappingAlgorithm,
) -> Result<airlock_hsm::WrappedKey, CeremonyError> {
    Ok(match &h.req.trusted {
        Some(t) => h.session.wrap_trusted(key, wrapping_spki_der, alg, t)?,
        None => h.session.wrap(key, wrapping_spki_der, alg)?,
    })
}

/// The bundle files of one key, relative to the bundle: its
/// `EncryptedKeyMaterial.bin` and `ImportToken.bin`, then each replica's.
fn key_files<'a>(vk: &'a VerifiedKey, outcome: &'a KeyOutcome) -> Vec<(String, &'a [u8])> {
    let name = vk.request.name.as_str();
    let mut files = vec![
        (
            format!("keys/{name}/{ENCRYPTED_MATERIAL_FILE}"),
            outcome.material.0.as_slice(),
        ),
        (
            format!("keys/{name}/{IMPORT_TOKEN_FILE}"),
            vk.import_token.as_slice(),
        ),
    ];
    for (vr, ro) in vk.replicas.iter().zip(&outcome.replicas) {
        let rel = replica_rel(name, vr.request.region.as_str());
        files.push((
            format!("keys/{rel}/{ENCRYPTED_MATERIAL_FILE}"),
            ro.material.0.as_slice(),
        ));
        files.push((
            format!("keys/{rel}/{IMPORT_TOKEN_FILE}"),
            vr.import_token.as_slice(),
        ));
    }
    files
}

/// What the read-back expects of each key folder.
fn expectations(request: &VerifiedRequest) -> ImportExpectations {
    let mut wrapping_key_bytes = BTreeMap::new();
    for k in &request.keys {
        wrapping_key_bytes.insert(
            k.request.name.to_string(),
            k.request.wrapping_key_spec.bytes(),
        );
        for vr in &k.replicas {
            wrapping_key_bytes.insert(
                replica_rel(k.request.name.as_str(), vr.request.region.as_str()),
                vr.request.wrapping_key_spec.bytes(),
            );
        }
    }
    ImportExpectations { wrapping_key_bytes }
}

/// The HSM's ceremony signing key as a verifier.
fn ceremony_key(info: &SigningKeyInfo) -> Result<SignerKey, CeremonyError> {
    SignerKey::from_spki_der(&info.spki_der).map_err(|e| CeremonyError::Io {
        what: "parsing the ceremony signing key",
        path: PathBuf::from("HSM"),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Reads a bundle back and verifies it whole, with the import tokens
/// byte-equal to the request's.
fn read_back(h: &InHsm, dir: &Path) -> Result<VerifiedImportBundle, CeremonyError> {
    let key = ceremony_key(&h.signing_key)?;
    let request = &h.req.request;
    let verified =
        verify_import_bundle(dir, &key, &expectations(request)).map_err(CeremonyError::ReadBack)?;
    for vk in &request.keys {
        let name = vk.request.name.as_str();
        let tokens = std::iter::once((name.to_string(), &vk.import_token)).chain(
            vk.replicas.iter().map(|vr| {
                (
                    replica_rel(name, vr.request.region.as_str()),
                    &vr.import_token,
                )
            }),
        );
        for (rel, token) in tokens {
            let p = dir.join("keys").join(&rel).join(IMPORT_TOKEN_FILE);
            let copied = fs::read(&p).map_err(CeremonyError::io("reading back", &p))?;
            if &copied != token {
                return Err(CeremonyError::ReadBack(
                    airlock_core::import_bundle::ImportBundleError::KeyFiles {
                        name: rel,
                        problem: "ImportToken.bin is not byte-identical to the request's".into(),
                    },
                ));
            }
        }
    }
    Ok(verified)
}

/// What an earlier run of this ceremony claims in `events`: the labels it
/// planned, and the bundle it published (and where).
fn resume_claims(req: &mut RequestStage, events: impl IntoIterator<Item = E>) {
    for e in events {
        match e {
            E::KeyGenerationPlanned { labels, .. } => req.resumable_labels.extend(labels),
            E::BundlePublished { out, sums_sha256 } => {
                req.published_before = Some(sums_sha256);
                req.out_dir = Some(PathBuf::from(out));
            }
            _ => {}
        }
    }
}

/// Existing material the custodians have not confirmed yet.
fn existing_pending_in(h: &InHsm) -> Vec<ExistingMaterial> {
    h.existing
        .iter()
        .flatten()
        .filter(|m| !h.existing_confirmed.contains(&m.name))
        .cloned()
        .collect()
}

/// Each `existing` key's HSM object, checked once after the login.
fn existing_in(h: &mut InHsm) -> Result<Vec<ExistingMaterial>, CeremonyError> {
    if let Some(found) = &h.existing {
        return Ok(found.clone());
    }
    let request = h.req.request.clone();
    let mut found = Vec::new();
    for vk in &request.keys {
        let k = &vk.request;
        let Material::Existing { hsm_label } = &k.material else {
            continue;
        };
        let name = k.name.to_string();
        let label = hsm_label.to_string();
        let session = &mut h.session;
        let key = session
            .find_key(&label, k.key_spec)
            .map_err(|e| CeremonyError::KeyBinding {
                name: name.clone(),
                problem: format!("existing material {label:?} is not adoptable: {e}"),
            })?
            .ok_or_else(|| CeremonyError::ExistingMissing {
                name: name.clone(),
                label: label.clone(),
                spec: k.key_spec,
            })?;
        let id = session.key_id(&key)?;
        let binding = KeyBinding::parse(&id).map_err(|e| CeremonyError::KeyBinding {
            name: name.clone(),
            problem: format!(
                "existing material {label:?} carries no Airlock binding ({e}); only keys a ceremony generated for a known KMS key are re-wrapped"
            ),
        })?;
        if !binding.same_kms_key(&k.key_arn) {
            return Err(CeremonyError::KeyBinding {
                name,
                problem: format!(
                    "existing material {label:?} was generated for {} (request {}, key {}), not for {}; \
                     HSM material is only re-wrapped for the KMS key it was made for (a multi-Region replica shares its mrk- id)",
                    binding.key_arn, binding.request_id, binding.name, k.key_arn
                ),
            });
        }
        let kcv = session.kcv(&key)?.map(hex::encode_upper);
        let public_key_sha256 = session.public_key_spki(&key)?.map(|s| sha256_hex(&s));
        let confirmation_code = kcv
            .clone()
            .or_else(|| public_key_sha256.as_ref().map(|h| h[..16].to_string()))
            .unwrap_or_else(|| label.clone());
        found.push(ExistingMaterial {
            name,
            hsm_label: label,
            original_arn: binding.key_arn.clone(),
            original_request: format!("{} / {}", binding.request_id, binding.name),
            key_arn: k.key_arn.to_string(),
            kcv,
            public_key_sha256,
            wrapping_key_fingerprint: sha256_hex(&vk.wrapping_public_key),
            confirmation_code,
        });
    }
    h.existing = Some(found.clone());
    Ok(found)
}

/// The workstation clock in whole seconds (timestamps in bundles are
/// RFC 3339 without fractions, as in the spec's examples).
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Ceremony {
    /// Step 1: the air gap, the clock, the HSM (open and probe), the roster.
    pub fn preflight(config: AirlockConfig, opts: CeremonyOptions) -> Result<Self, CeremonyError> {
        // The engine hardens the process itself if the face did not.
        if crate::hygiene::last_report().is_none() {
            crate::hygiene::harden_process();
        }
        if let Some(report) = crate::hygiene::last_report() {
            crate::hygiene::require_locked_memory(report, opts.allow_unlocked_memory)
                .map_err(|reason| CeremonyError::MemoryNotLocked { reason })?;
        }
        let air_gap = air_gap_status().map_err(CeremonyError::io(
            "listing network interfaces",
            "getifaddrs",
        ))?;
        if !air_gap.air_gapped() && !opts.allow_network {
            return Err(CeremonyError::NotAirGapped {
                interfaces: air_gap
                    .reason()
                    .unwrap_or_else(|| air_gap.offending_everywhere().join(", ")),
            });
        }
        let hsm = Hsm::open(&config.module, &config.token)?;
        let probe = hsm.probe()?;
        let identity = hsm.identity().clone();
        let roster = Roster::load(&config.state_dir.join(ROSTER_FILE_NAME))?;
        // The module and token must be the ones the quorum pinned, before
        // any custodian types a passphrase.
        let (token, module) = found_pins(&identity)?;
        let lock = CeremonyLock::acquire(&config.state_dir, &identity)?;
        let quorum = QuorumLogin::for_hsm(&roster, &token, &module)?;
        let preflight = PreflightReport {
            hostname: hostname(),
            clock: now(),
            air_gap,
            identity,
            probe,
        };
        let mut c = Ceremony {
            stage: Stage::Preflighted(Box::new(quorum)),
            roster,
            config,
            opts,
            hsm,
            preflight,
            custodians: Vec::new(),
            pending: Vec::new(),
            record: None,
            journal: None,
            attestation: AttestationOptions::default(),
            lock,
            stop: StopSignal::new(),
        };
        let p = &c.preflight;
        let event = E::Preflight(Box::new(je::Preflight {
            hostname: p.hostname.clone(),
            clock: rfc3339(p.clock),
            air_gapped: p.air_gap.air_gapped(),
            interfaces_up: p.air_gap.offending_everywhere(),
            air_gap: serde_json::to_value(&p.air_gap).unwrap_or(Value::Null),
            network_override: c.opts.allow_network && !p.air_gap.air_gapped(),
            unlocked_memory_override: c.opts.allow_unlocked_memory,
            sha1_override: c.opts.allow_sha1,
            token: je::TokenRecord {
                manufacturer: p.identity.manufacturer.clone(),
                model: p.identity.model.clone(),
                serial: p.identity.serial.clone(),
                label: p.identity.label.clone(),
                firmware: p.identity.firmware.clone(),
            },
            config: c.config.source.display().to_string(),
            config_origin: serde_json::to_value(&c.config.origin).unwrap_or(Value::Null),
            module: je::ModuleRecord {
                path: p.identity.module_path.clone(),
                sha256: p.identity.module_sha256.clone(),
            },
            pinned: pin_json(c.roster.token(), c.roster.module()),
            policy: serde_json::to_value(c.roster.policy()).unwrap_or(Value::Null),
            memory_hygiene: crate::hygiene::last_report_json(),
        }));
        c.log(event, Actor::System)?;
        Ok(c)
    }

    /// Checks the air gap again (before login, before export, at the
    /// wipe); a change is journaled and stops the ceremony unless the
    /// network override was given.
    fn recheck_air_gap(&mut self, stage: &'static str) -> Result<(), CeremonyError> {
        let now = air_gap_status().map_err(CeremonyError::io(
            "listing network interfaces",
            "getifaddrs",
        ))?;
        if let Some(change) = now.changes_since(&self.preflight.air_gap) {
            let stops = !now.air_gapped() && !self.opts.allow_network;
            self.log(
                E::AirGapChanged {
                    stage: stage.to_string(),
                    change: change.to_string(),
                    air_gap: serde_json::to_value(&now).unwrap_or(Value::Null),
                    stops,
                },
                Actor::System,
            )?;
            if stops {
                return Err(CeremonyError::NotAirGapped {
                    interfaces: format!("{change} (noticed {stage})"),
                });
            }
        }
        Ok(())
    }

    /// What preflight saw.
    pub fn preflight_report(&self) -> &PreflightReport {
        &self.preflight
    }

    /// The preflight facts as an event.
    pub fn preflight_event(&self) -> Event {
        let p = &self.preflight;
        Event::Preflight {
            hostname: p.hostname.clone(),
            clock: rfc3339(p.clock),
            air_gapped: p.air_gap.air_gapped(),
            interfaces_up: p.air_gap.offending.clone(),
            token: format!(
                "{} {} serial {} label {}",
                p.identity.manufacturer, p.identity.model, p.identity.serial, p.identity.label
            ),
        }
    }

    /// The roster (for listing custodian names).
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The verified request, once [`Ceremony::verify_request`] ran.
    pub fn request(&self) -> Option<&VerifiedRequest> {
        self.stage.req().map(|r| &*r.request)
    }

    /// The request folder, once verified.
    pub fn request_dir(&self) -> Option<&Path> {
        self.stage.req().map(|r| r.request_dir.as_path())
    }

    /// The output folder, once chosen.
    pub fn out_dir(&self) -> Option<&Path> {
        self.stage.req().and_then(|r| r.out_dir.as_deref())
    }

    /// The ceremony id, once known (after request verification).
    pub fn ceremony_id(&self) -> Option<&str> {
        self.record.as_ref().map(|r| r.ceremony_id.as_str())
    }

    /// Custodians who authenticated, in order.
    pub fn custodians(&self) -> &[(CustodianName, OffsetDateTime)] {
        &self.custodians
    }

    /// Per-key results so far.
    pub fn keys(&self) -> &[KeyOutcome] {
        self.stage.keys()
    }

    /// Where the ceremony is.
    pub fn stage(&self) -> &Stage {
        &self.stage
    }

    /// The wrap path the self-tests chose per algorithm (after the login).
    pub fn wrap_paths(&self) -> &[(WrappingAlgorithm, WrapPath)] {
        match &self.stage {
            Stage::Ended(e) => &e.wrap_paths,
            s => s.in_hsm().map(|h| h.wrap_paths.as_slice()).unwrap_or(&[]),
        }
    }

    /// True when this run resumes an unfinished ceremony for the request.
    pub fn resumed(&self) -> bool {
        self.stage.req().is_some_and(|r| r.resumed)
    }

    /// What the ceremony needs next, in the order the engine takes it.
    pub fn need(&self) -> Need {
        match &self.stage {
            Stage::Preflighted(_) => Need::Request,
            Stage::Verified(v) => {
                let r = &v.req;
                if r.plan_confirmed.is_empty() {
                    return Need::PlanConfirmation {
                        missing: Vec::new(),
                    };
                }
                if !r.request_digest_confirmed {
                    return Need::RequestDigest;
                }
                if r.out_dir.is_none() {
                    return Need::OutputFolder;
                }
                if self.needs_security_officer() && r.trusted.is_none() {
                    return Need::SecurityOfficer;
                }
                if !v.quorum.is_satisfied() {
                    return Need::Custodians {
                        have: self.custodians.len(),
                        need: self.roster.threshold(),
                    };
                }
                let missing = self.plan_missing(r);
                if !missing.is_empty() {
                    return Need::PlanConfirmation { missing };
                }
                Need::Login
            }
            Stage::LoggedIn(h) => {
                let pending = existing_pending_in(h);
                if !pending.is_empty() {
                    return Need::ExistingConfirmation(pending);
                }
                Need::Generate
            }
            Stage::Wrapped(_) => Need::Seal,
            Stage::Published(p) if !p.bundle_digest_settled => Need::BundleDigest {
                sums_sha256: p.export.sums_sha256.clone(),
            },
            Stage::Published(_) => Need::Wipe,
            Stage::Halted(_) | Stage::InStep => Need::Abort,
            Stage::Ended(_) => Need::Nothing,
        }
    }

    /// Authenticated custodians who have not confirmed the plan.
    fn plan_missing(&self, r: &RequestStage) -> Vec<String> {
        self.custodians
            .iter()
            .map(|(n, _)| n.to_string())
            .filter(|n| !r.plan_confirmed.contains(n))
            .collect()
    }

    /// Takes the stage's contents for a step; the step puts a stage back
    /// on every path (see [`Stage::InStep`]).
    pub(crate) fn take_stage(&mut self) -> Stage {
        std::mem::replace(&mut self.stage, Stage::InStep)
    }

    /// Sets the seal serials and paper size for the attestation (any time
    /// before [`Ceremony::wipe`]).
    pub fn set_attestation(&mut self, options: AttestationOptions) {
        self.attestation = options;
    }

    /// The attestation written into the bundle after the wipe.
    pub fn attestation_path(&self) -> Option<PathBuf> {
        self.export()
            .map(|e| e.path.join(airlock_core::import_bundle::ATTESTATION_FILE))
            .filter(|p| p.exists())
    }

    /// The published bundle, once exported.
    pub fn export(&self) -> Option<&ExportOutcome> {
        self.stage.export()
    }

    /// What the wipe (or the abort) did, once the ceremony ended.
    pub fn wipe_outcome(&self) -> Option<&WipeOutcome> {
        match &self.stage {
            Stage::Ended(e) => Some(&e.wipe),
            _ => None,
        }
    }

    /// The flag a face sets to stop generation after the key in hand
    /// (Ctrl-C, closing the window); the face then runs [`Ceremony::abort`].
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// The journal file of this ceremony (in the state directory).
    pub fn journal_path(&self) -> Option<&Path> {
        self.journal.as_ref().map(|j| j.path())
    }

    /// Chooses the output folder: after the request is verified and before
    /// the login (the CLI) or at the latest before sealing. It must not
    /// exist and its parent must be a writable folder (the bundle is staged
    /// beside it and renamed, so both are on one file system). Refused once
    /// a bundle was published (a resumed ceremony keeps its folder).
    pub fn choose_output(&mut self, dir: &Path) -> Result<(), CeremonyError> {
        let req = match &mut self.stage {
            Stage::Verified(v) => &mut v.req,
            Stage::LoggedIn(h) | Stage::Wrapped(h) => &mut h.req,
            Stage::Preflighted(_) => {
                return Err(CeremonyError::OutOfOrder {
                    step: "choose the output folder",
                    needs: "verify the request first",
                });
            }
            _ => {
                return Err(CeremonyError::OutOfOrder {
                    step: "change the output folder",
                    needs: "nothing: the bundle is already published at its folder, or the ceremony ended",
                });
            }
        };
        if req.published_before.is_some() {
            return Err(CeremonyError::OutOfOrder {
                step: "change the output folder",
                needs: "nothing: an earlier run of this ceremony published its bundle; it is checked there",
            });
        }
        crate::plan::check_output_folder(dir)?;
        req.out_dir = Some(dir.to_path_buf());
        if let Stage::LoggedIn(h) | Stage::Wrapped(h) = &mut self.stage {
            // Files staged for the old folder are not this one's: Seal &
            // export stages them again.
            h.stager = None;
        }
        if let Some(rec) = self.record.as_mut() {
            rec.out_dir = dir.to_path_buf();
        }
        self.save_record()?;
        self.log(
            E::OutputFolderChosen {
                out: dir.display().to_string(),
            },
            Actor::System,
        )
    }

    pub(crate) fn store(&self) -> CeremonyStore {
        CeremonyStore::new(&self.config.state_dir)
    }

    fn work_dir(&self) -> Option<PathBuf> {
        self.ceremony_id().map(|id| {
            self.store()
                .dir(id)
                .join(airlock_core::state_layout::WORK_DIR)
        })
    }

    /// Journals an event, or keeps it until the journal is open.
    pub(crate) fn log(&mut self, event: E, actor: Actor) -> Result<(), CeremonyError> {
        match &mut self.journal {
            Some(j) => {
                j.record(&event, &actor)?;
            }
            None => self.pending.push(Pending {
                at: now(),
                event,
                actor,
            }),
        }
        Ok(())
    }

    /// Journals an event without its own fsync (see
    /// [`JournalWriter::append_deferred`]); only once the journal is open.
    fn log_deferred(&mut self, event: E, actor: Actor) -> Result<(), CeremonyError> {
        match &mut self.journal {
            Some(j) => {
                j.record_deferred(&event, &actor)?;
                Ok(())
            }
            None => self.log(event, actor),
        }
    }

    /// Writes what was journaled before the journal opened.
    pub(crate) fn flush_pending(&mut self) -> Result<(), CeremonyError> {
        if let Some(j) = self.journal.as_mut() {
            for p in std::mem::take(&mut self.pending) {
                j.record_at(p.at, &p.event, &p.actor)?;
            }
        }
        Ok(())
    }

    /// Journals the stale staging folder a crashed run left, if one was
    /// wiped before staging anew.
    fn log_stale_staging(&mut self, stale: Option<PathBuf>) -> Result<(), CeremonyError> {
        match stale {
            Some(p) => self.log(
                E::StaleStagingWiped {
                    path: p.display().to_string(),
                },
                Actor::System,
            ),
            None => Ok(()),
        }
    }

    /// Journals a failed step (best effort: the original error wins).
    pub(crate) fn failed(&mut self, step: &'static str, e: CeremonyError) -> CeremonyError {
        let _ = self.log(
            E::StepFailed {
                step: step.to_string(),
                error: e.to_string(),
            },
            Actor::System,
        );
        e
    }

    /// Step 2: verifies the request bundle in `dir`, then opens this
    /// ceremony's journal: a new ceremony, or the unfinished one for the
    /// same request. Returns what to tell the custodians.
    pub fn verify_request(&mut self, dir: &Path) -> Result<Vec<Event>, CeremonyError> {
        let quorum = match self.take_stage() {
            Stage::Preflighted(q) => q,
            other => {
                self.stage = other;
                return Err(CeremonyError::OutOfOrder {
                    step: "verify a request",
                    needs: "start a new ceremony (this one verified its request already)",
                });
            }
        };
        match self.verify_request_inner(dir) {
            Ok(req) => {
                self.stage = Stage::Verified(Box::new(Verified {
                    quorum: *quorum,
                    req,
                }));
                Ok(self.request_events())
            }
            Err(e) => {
                self.stage = Stage::Preflighted(quorum);
                Err(self.failed("verify_request", e))
            }
        }
    }

    fn verify_request_inner(&mut self, dir: &Path) -> Result<RequestStage, CeremonyError> {
        let trust = TrustStore::open(&self.config.state_dir)?;
        let opts = VerifyOptions {
            allow_sha1: self.opts.allow_sha1,
            now: now(),
        };
        let request = verify_request_bundle(dir, &trust, &opts)?;
        self.check_material_plan(&request)?;
        let sums_hex = request.sums_sha256.to_hex();
        let store = CeremonyStore::new(&self.config.state_dir);
        let previous = store.for_request(&sums_hex).map_err(CeremonyError::io(
            "reading ceremony records in",
            store.dir(""),
        ))?;
        if let Some(done) = previous
            .iter()
            .find(|r| r.status == CeremonyStatus::Completed)
        {
            return Err(CeremonyError::AlreadyCompleted {
                request_id: done.request_id.clone(),
                ceremony_id: done.ceremony_id.clone(),
                out: done.out_dir.clone(),
            });
        }
        let mut req = RequestStage {
            request: Arc::new(request),
            request_dir: dir.to_path_buf(),
            out_dir: None,
            plan_confirmed: Vec::new(),
            request_digest_confirmed: false,
            trusted: None,
            resumable_labels: HashSet::new(),
            published_before: None,
            resumed: false,
        };
        let request = req.request.clone();
        let (record, journal, resumed) = match previous.into_iter().last() {
            Some(mut rec) => {
                let (journal, summary) =
                    JournalWriter::open(&store.journal_path(&rec.ceremony_id))?;
                // Claims only, until the HSM checkpoint after the login
                // says which of them the HSM sealed.
                // Unauthenticated claims: what does not parse claims
                // nothing (the HSM checkpoint after the login decides).
                resume_claims(
                    &mut req,
                    summary
                        .events
                        .iter()
                        .filter_map(|e| e.ceremony_event().ok()),
                );
                rec.status = CeremonyStatus::Running;
                rec.ended_at = None;
                if req.published_before.is_some() {
                    req.out_dir = Some(rec.out_dir.clone());
                }
                req.resumed = !req.resumable_labels.is_empty() || req.published_before.is_some();
                (rec, journal, true)
            }
            None => {
                let ceremony_id = uuid::Uuid::new_v4().to_string();
                let rec = CeremonyRecord {
                    ceremony_id: ceremony_id.clone(),
                    request_id: request.request_id.to_string(),
                    request_sha256sums_sha256: sums_hex.clone(),
                    request_dir: dir.to_path_buf(),
                    out_dir: PathBuf::new(),
                    started_at: rfc3339(self.preflight.clock),
                    status: CeremonyStatus::Running,
                    ended_at: None,
                    bundle_sha256sums_sha256: None,
                };
                fs::create_dir_all(store.dir(&ceremony_id))
                    .map_err(CeremonyError::io("creating", store.dir(&ceremony_id)))?;
                let journal = JournalWriter::create(&store.journal_path(&ceremony_id))?;
                (rec, journal, false)
            }
        };
        store.save(&record).map_err(CeremonyError::io(
            "saving the ceremony record in",
            store.dir(&record.ceremony_id),
        ))?;
        self.journal = Some(journal);
        let ceremony_id = record.ceremony_id.clone();
        self.record = Some(record);
        let (id, request_id) = (ceremony_id.clone(), request.request_id.to_string());
        self.log(
            if resumed {
                E::CeremonyResumed {
                    ceremony_id: id,
                    request_id,
                }
            } else {
                E::CeremonyStarted {
                    ceremony_id: id,
                    request_id,
                }
            },
            Actor::System,
        )?;
        self.flush_pending()?;
        let keys: Vec<je::PlannedKey> = request
            .keys
            .iter()
            .map(|k| {
                let r = &k.request;
                je::PlannedKey {
                    name: r.name.to_string(),
                    key_arn: r.key_arn.to_string(),
                    key_spec: r.key_spec,
                    wrapping_algorithm: r.wrapping_algorithm,
                    material: r.material.source().to_string(),
                    hsm_label: match &r.material {
                        Material::Existing { hsm_label } => hsm_label.to_string(),
                        Material::Generate => generated_label(&r.name, &request.request_id),
                    },
                    wrapping_key_fingerprint: sha256_hex(&k.wrapping_public_key),
                    replicas: k
                        .replicas
                        .iter()
                        .map(|vr| je::PlannedReplica {
                            region: vr.request.region.as_str().to_string(),
                            key_arn: vr.request.key_arn.to_string(),
                            wrapping_algorithm: vr.request.wrapping_algorithm,
                            wrapping_key_fingerprint: sha256_hex(&vr.wrapping_public_key),
                        })
                        .collect(),
                }
            })
            .collect();
        self.log(
            E::RequestVerified(Box::new(je::RequestVerified {
                request_id: request.request_id.to_string(),
                request_dir: dir.display().to_string(),
                sums_sha256: sums_hex,
                signer: request.signer.name.to_string(),
                signer_fingerprint: request.signer.fingerprint.to_hex(),
                warnings: request.warnings.iter().map(|w| w.to_string()).collect(),
                keys,
            })),
            Actor::System,
        )?;
        self.lock.set_ceremony(&ceremony_id)?;
        Ok(req)
    }

    /// Before login: `existing` material only when the quorum's policy
    /// allows it, no HSM label twice, and never a label this request also
    /// generates.
    fn check_material_plan(&self, request: &VerifiedRequest) -> Result<(), CeremonyError> {
        let generated: HashSet<String> = request
            .keys
            .iter()
            .filter(|k| matches!(k.request.material, Material::Generate))
            .map(|k| generated_label(&k.request.name, &request.request_id))
            .collect();
        let mut seen: HashMap<String, String> = HashMap::new();
        for vk in &request.keys {
            let k = &vk.request;
            let Material::Existing { hsm_label } = &k.material else {
                continue;
            };
            let label = hsm_label.to_string();
            let name = k.name.to_string();
            if !self.roster.policy().allow_existing_material {
                return Err(CeremonyError::KeyBinding {
                    name,
                    problem: format!(
                        "material.source is \"existing\" ({label:?}) but the custodians' enrolment does not allow re-wrapping existing HSM material; \
                         a quorum can allow it with `airlock enroll --replace --allow-existing-material`"
                    ),
                });
            }
            if generated.contains(&label) {
                return Err(CeremonyError::KeyBinding {
                    name,
                    problem: format!(
                        "existing material {label:?} is a label this same request generates; one request never both makes and re-wraps a key"
                    ),
                });
            }
            if let Some(other) = seen.insert(label.clone(), name.clone()) {
                return Err(CeremonyError::KeyBinding {
                    name,
                    problem: format!(
                        "existing material {label:?} is also named by key {other}; the same HSM object is never wrapped twice in one request"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The events for a verified (and possibly resumed) request.
    fn request_events(&self) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(r) = self.request() {
            out.push(Event::RequestVerified {
                request_id: r.request_id.to_string(),
                keys: r.keys.len(),
                sums_sha256: r.sums_sha256.to_hex(),
                signer: format!("{} ({})", r.signer.name, r.signer.fingerprint.to_hex()),
                warnings: r.warnings.iter().map(|w| w.to_string()).collect(),
            });
        }
        if let Some(id) = self.ceremony_id().filter(|_| self.resumed()) {
            out.push(Event::Resumed {
                ceremony_id: id.to_string(),
            });
        }
        out
    }

    /// Step 3 (once per custodian): unseals that custodian's share. A
    /// wrong passphrase never reaches the HSM.
    pub fn authenticate(
        &mut self,
        name: &str,
        passphrase: &Zeroizing<String>,
    ) -> Result<AuthOutcome, CeremonyError> {
        let quorum = match &mut self.stage {
            Stage::Preflighted(q) => &mut **q,
            Stage::Verified(v) => &mut v.quorum,
            _ => {
                return Err(CeremonyError::OutOfOrder {
                    step: "authenticate",
                    needs: "nothing: the quorum has already logged in (or the ceremony ended)",
                });
            }
        };
        match quorum.authenticate(name, passphrase) {
            Ok(outcome) => {
                let (custodian, have, need, again) = match &outcome {
                    AuthOutcome::Accepted {
                        custodian,
                        have,
                        need,
                    } => (custodian, have, need, false),
                    AuthOutcome::AlreadyCounted {
                        custodian,
                        have,
                        need,
                    } => (custodian, have, need, true),
                };
                let custodian = custodian.clone();
                let event = E::CustodianAuthenticated {
                    again,
                    have: Some(*have),
                    need: Some(*need),
                };
                if !again {
                    self.custodians.push((custodian.clone(), now()));
                }
                self.log(event, Actor::Custodian(custodian))?;
                Ok(outcome)
            }
            Err(e) => {
                let err = CeremonyError::Quorum(e);
                let who = journal_name(&self.roster, name);
                let _ = self.log(
                    E::CustodianAuthFailed {
                        custodian: who,
                        error: err.to_string(),
                    },
                    Actor::System,
                );
                Err(err)
            }
        }
    }

    /// True when the quorum's policy makes the security officer mark the
    /// request's wrapping keys trusted ([`Ceremony::mark_trusted_wrapping_keys`])
    /// before the login.
    pub fn needs_security_officer(&self) -> bool {
        self.roster.policy().wrap_with_trusted
    }

    /// Step 3a (policy `wrap_with_trusted` only), after the request is
    /// verified and before the login: the security officer marks each of
    /// the request's AWS wrapping keys trusted; journaled with their
    /// fingerprints.
    pub fn mark_trusted_wrapping_keys(
        &mut self,
        so_pin: &Zeroizing<String>,
    ) -> Result<(), CeremonyError> {
        let request = match &self.stage {
            Stage::Verified(v) => v.req.request.clone(),
            Stage::Preflighted(_) => {
                return Err(CeremonyError::OutOfOrder {
                    step: "mark the wrapping keys trusted",
                    needs: "verify the request",
                });
            }
            _ => {
                return Err(CeremonyError::OutOfOrder {
                    step: "mark the wrapping keys trusted",
                    needs: "do it before the quorum login",
                });
            }
        };
        // Every wrapping key the ceremony will wrap under: each key's and
        // each of its replicas'.
        let keys: Vec<&[u8]> = request
            .keys
            .iter()
            .flat_map(|k| {
                std::iter::once(k.wrapping_public_key.as_slice())
                    .chain(k.replicas.iter().map(|r| r.wrapping_public_key.as_slice()))
            })
            .collect();
        match self.hsm.so_mark_trusted(so_pin, &keys) {
            Ok(t) => {
                let fps = t.fingerprints();
                if let Stage::Verified(v) = &mut self.stage {
                    v.req.trusted = Some(t);
                }
                self.log(
                    E::WrappingKeysMarkedTrusted {
                        by: "security officer".into(),
                        fingerprints: fps,
                    },
                    Actor::System,
                )
            }
            Err(e) => Err(self.failed("mark_trusted_wrapping_keys", e.into())),
        }
    }

    /// Step 4: rebuilds the PIN from the quorum, logs in, runs the
    /// known-answer self-tests for the request's algorithms, and checks the
    /// ceremony signing key against the enrolled copy. Needs the plan and
    /// request digest confirmed and the output folder chosen. Returns what
    /// to tell the custodians.
    pub fn login(&mut self) -> Result<Event, CeremonyError> {
        let v = match &self.stage {
            Stage::Verified(v) => v,
            Stage::Preflighted(_) => {
                return Err(CeremonyError::OutOfOrder {
                    step: "log in to the HSM",
                    needs: "verify the request",
                });
            }
            _ => {
                return Err(CeremonyError::OutOfOrder {
                    step: "log in to the HSM",
                    needs: "nothing: the quorum logged in already (or the ceremony ended)",
                });
            }
        };
        if self.needs_security_officer() && v.req.trusted.is_none() {
            return Err(CeremonyError::OutOfOrder {
                step: "log in to the HSM",
                needs: "the custodians' policy is wrap-with-trusted: the security officer marks the wrapping keys trusted (ceremony run --so-pin-file)",
            });
        }
        if let Err(e) = self.check_confirmed_before_login(&v.req) {
            return Err(self.failed("login", e));
        }
        if !v.quorum.is_satisfied() {
            let have = self.custodians.len();
            let who = self
                .custodians
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CeremonyError::Quorum(
                airlock_core::quorum::QuorumError::QuorumNotMet {
                    have,
                    need: self.roster.threshold(),
                    who: if who.is_empty() { "none".into() } else { who },
                },
            ));
        }
        // Before the shares are used: a network change leaves the ceremony
        // where it was.
        if let Err(e) = self.recheck_air_gap("before the quorum login") {
            return Err(self.failed("login", e));
        }
        let Stage::Verified(v) = self.take_stage() else {
            unreachable!("matched above")
        };
        let Verified { quorum, req } = *v;
        let session = {
            let opened = quorum
                .rebuild_pin()
                .map_err(CeremonyError::from)
                .and_then(|pin| Ok(self.hsm.login_user(&pin)?));
            // `pin` is wiped here.
            match opened {
                Ok(s) => s,
                Err(e) => {
                    self.stage = Stage::Halted(Box::new(Halted {
                        req: Some(req),
                        ..Halted::default()
                    }));
                    return Err(self.failed("login", e));
                }
            }
        };
        let mut halted = Halted {
            req: Some(req),
            session: Some(session),
            ..Halted::default()
        };
        match self.login_inner(&mut halted) {
            Ok((signing_key, state_key, wrap_paths)) => {
                let Halted { req, session, .. } = halted;
                let mut h = InHsm {
                    req: req.expect("set above"),
                    session: session.expect("opened above"),
                    signing_key,
                    state_key,
                    wrap_paths,
                    existing: None,
                    existing_confirmed: HashSet::new(),
                    keys: Vec::new(),
                    stager: None,
                };
                // `existing` material is checked now, so that the custodians
                // see it (and confirm it on its own) before any generation.
                if let Err(e) = existing_in(&mut h) {
                    self.stage = Stage::Halted(Box::new(halt(Stage::LoggedIn(Box::new(h)))));
                    return Err(self.failed("login", e));
                }
                self.stage = Stage::LoggedIn(Box::new(h));
                Ok(self.login_event())
            }
            Err(e) => {
                self.stage = Stage::Halted(Box::new(halted));
                Err(self.failed("login", e))
            }
        }
    }

    /// The login's checks in the fresh session: self-tests, curves, the
    /// signing key, then the state (trust store, resumed journal).
    fn login_inner(&mut self, h: &mut Halted) -> Result<LoginChecked, CeremonyError> {
        let names: Vec<String> = self.custodians.iter().map(|(n, _)| n.to_string()).collect();
        self.log(E::QuorumLogin { custodians: names }, Actor::System)?;

        let request = h.req.as_ref().expect("set").request.clone();
        let mut algs: Vec<WrappingAlgorithm> = Vec::new();
        let every_algorithm = request.keys.iter().flat_map(|k| {
            std::iter::once(k.request.wrapping_algorithm)
                .chain(k.replicas.iter().map(|r| r.request.wrapping_algorithm))
        });
        for alg in every_algorithm {
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        let mut specs: Vec<KeySpec> = Vec::new();
        for k in &request.keys {
            if !specs.contains(&k.request.key_spec) {
                specs.push(k.request.key_spec);
            }
        }
        let session = h.session.as_mut().expect("opened");
        let report = session.self_test(&algs)?;
        // Before any key exists: every planned curve can be generated here.
        session.check_key_specs(&specs)?;
        let curves: Vec<&str> = specs
            .iter()
            .filter(|s| s.curve().is_some())
            .map(|s| s.as_str())
            .collect();
        let paths: Vec<(WrappingAlgorithm, WrapPath)> = algs
            .iter()
            .filter_map(|a| report.path(*a).map(|p| (*a, p)))
            .collect();
        let tests = report
            .tests
            .iter()
            .map(|t| je::SelfTestResult {
                test: t.test.to_string(),
                passed: t.passed,
            })
            .collect();
        let path_data = paths
            .iter()
            .map(|(a, p)| je::WrapPathChoice {
                algorithm: *a,
                path: p.as_str().to_string(),
            })
            .collect();
        self.log(
            E::SelfTest {
                tests,
                paths: path_data,
                curves_generated: curves.iter().map(|c| c.to_string()).collect(),
            },
            Actor::System,
        )?;

        let session = h.session.as_mut().expect("opened");
        let info = session.ensure_signing_key()?;
        let enrolled = enrolled_signing_key(&self.config.state_dir, &info.spki_der)?;
        self.log(
            E::SigningKeyChecked {
                fingerprint: sha256_hex(&info.spki_der),
            },
            Actor::System,
        )?;
        h.state_key = Some(enrolled.clone());
        self.authenticate_state(h, &enrolled)?;
        Ok((info, enrolled, paths))
    }

    /// Right after the login, before anything is generated or wrapped: the
    /// trust store must carry the HSM's seal, and a resumed ceremony trusts
    /// only what its journal's HSM checkpoint covers. Then the journal is
    /// checkpointed.
    fn authenticate_state(&mut self, h: &mut Halted, key: &SignerKey) -> Result<(), CeremonyError> {
        verify_trust_store(&self.config.state_dir, key)?;
        let id = self.ceremony_id().expect("verified").to_string();
        let rel = ceremony_journal_rel(&id);
        let mut resumed_from = None;
        let req = h.req.as_mut().expect("set");
        if !req.resumable_labels.is_empty() || req.published_before.is_some() {
            let candidates = req.resumable_labels.len();
            req.resumable_labels.clear();
            req.published_before = None;
            let path = self.journal.as_ref().expect("open").path().to_path_buf();
            self.journal.as_mut().expect("open").sync()?;
            let summary = airlock_core::journal::verify_journal_file(&path)?;
            match verify_journal(&self.config.state_dir, &rel, key, &summary)? {
                Some(n) => {
                    let sealed = &summary.events[..n as usize];
                    self.check_sealed_record(&req.request, &path, sealed)?;
                    // Sealed by the HSM: every entry must be an event.
                    let events = sealed
                        .iter()
                        .map(JournalEntry::ceremony_event)
                        .collect::<Result<Vec<_>, _>>()?;
                    resume_claims(req, events);
                    resumed_from = Some(n);
                }
                None => {
                    self.log(
                        E::ResumeNotAuthenticated {
                            journal: rel.clone(),
                            labels_claimed: candidates,
                            note: "the earlier run left no HSM checkpoint, so nothing it claims is trusted".into(),
                        },
                        Actor::System,
                    )?;
                }
            }
        }
        let resumable = h.req.as_ref().map_or(0, |r| r.resumable_labels.len());
        self.log(
            E::StateAuthenticated {
                trust_store: crate::state_auth::TRUST_STORE_REL.to_string(),
                resumed_from_checkpoint_entries: resumed_from,
                resumable_labels: resumable,
            },
            Actor::System,
        )?;
        self.checkpoint(h.session.as_mut().expect("opened"), key)
    }

    /// The record found for this request must be the ceremony whose sealed
    /// journal verified this same request and did not complete.
    fn check_sealed_record(
        &self,
        request: &VerifiedRequest,
        journal: &Path,
        sealed: &[JournalEntry],
    ) -> Result<(), CeremonyError> {
        let record = self
            .store()
            .dir(self.ceremony_id().expect("id"))
            .join(airlock_core::state_layout::RECORD_FILE);
        let mut sums = None;
        for e in sealed {
            if let E::RequestVerified(r) = e.ceremony_event()? {
                sums = Some(r.sums_sha256);
                break;
            }
        }
        if sums.as_deref() != Some(request.sums_sha256.to_hex().as_str()) {
            return Err(airlock_core::state_seal::SealError::Mismatch {
                file: record,
                problem: format!(
                    "it resumes ceremony journal {} for this request, but that sealed journal verified another request ({})",
                    journal.display(),
                    sums.as_deref().unwrap_or("none")
                ),
            }
            .into());
        }
        // A sealed `ceremony_completed` whose record still says running
        // (the logout after the final checkpoint failed): the rerun only
        // re-verifies the published bundle and wipes again.
        Ok(())
    }

    /// Seals (in the HSM) a checkpoint of this ceremony's journal as it is
    /// now.
    pub(crate) fn checkpoint(
        &mut self,
        session: &mut UserSession,
        key: &SignerKey,
    ) -> Result<(), CeremonyError> {
        let (Some(journal), Some(record)) = (self.journal.as_mut(), self.record.as_ref()) else {
            return Ok(());
        };
        journal.sync()?;
        let entries = journal.next_seq();
        let head = journal.head_sha256().to_string();
        seal_journal(
            session,
            key,
            &self.config.state_dir,
            &ceremony_journal_rel(&record.ceremony_id),
            entries,
            &head,
        )
    }

    /// After login: each `existing` key's HSM object, checked (born in the
    /// HSM, always sensitive, bound to the same KMS key), with what the
    /// custodians must see before confirming it with
    /// [`Ceremony::confirm_existing`]. Empty when the request has none.
    fn existing_material(&mut self) -> Result<Vec<ExistingMaterial>, CeremonyError> {
        match &mut self.stage {
            Stage::LoggedIn(h) => existing_in(h),
            _ => Err(CeremonyError::OutOfOrder {
                step: "check existing material",
                needs: "log in with the quorum (and not yet generated)",
            }),
        }
    }

    /// Existing material checked after login that the custodians have not
    /// confirmed yet.
    pub fn existing_pending(&self) -> Vec<ExistingMaterial> {
        match &self.stage {
            Stage::LoggedIn(h) => existing_pending_in(h),
            _ => Vec::new(),
        }
    }

    /// True once the security officer marked the wrapping keys trusted.
    pub fn trusted_marked(&self) -> bool {
        self.stage.req().is_some_and(|r| r.trusted.is_some())
    }

    /// The custodians confirm one `existing` key by typing back its
    /// confirmation code (KCV, public key hash prefix or label) after
    /// seeing [`ExistingMaterial`]; journaled with what they saw.
    pub fn confirm_existing(&mut self, name: &str, typed_code: &str) -> Result<(), CeremonyError> {
        let found = self.existing_material()?;
        let Some(m) = found.into_iter().find(|m| m.name == name) else {
            return Err(CeremonyError::KeyBinding {
                name: name.to_string(),
                problem: "this request has no key of that name with existing material".into(),
            });
        };
        let typed = typed_code.trim();
        if !typed.eq_ignore_ascii_case(&m.confirmation_code) {
            let _ = self.log(
                E::ExistingMaterialRefused {
                    name: m.name.clone(),
                    label: m.hsm_label.clone(),
                    reason: "the code typed differs".into(),
                },
                Actor::System,
            );
            return Err(CeremonyError::ExistingNotConfirmed {
                name: m.name,
                label: m.hsm_label,
                code: m.confirmation_code,
            });
        }
        let name = m.name.clone();
        self.log(E::ExistingMaterialConfirmed(Box::new(m)), Actor::System)?;
        if let Stage::LoggedIn(h) = &mut self.stage {
            h.existing_confirmed.insert(name);
        }
        Ok(())
    }

    /// The event for a finished login.
    fn login_event(&self) -> Event {
        Event::LoggedIn {
            custodians: self.custodians.iter().map(|(n, _)| n.to_string()).collect(),
            wrap_paths: self
                .wrap_paths()
                .iter()
                .map(|(a, p)| format!("{a}: {}", p.as_str()))
                .collect(),
        }
    }

    /// Step 5: for each key, generate it in the HSM (or find the existing
    /// or resumed object), compute its KCV / public key hash, and wrap it
    /// under the AWS wrapping key. Wrapped material stays in memory until
    /// it is sealed; `on_event` hears about each key. Honours the stop
    /// signal between keys ([`CeremonyError::Stopped`]).
    pub fn generate_and_wrap(
        &mut self,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<(), CeremonyError> {
        let mut h = match self.take_stage() {
            Stage::LoggedIn(h) => h,
            other => {
                let needs = match other {
                    Stage::Wrapped(_) | Stage::Published(_) | Stage::Ended(_) => {
                        "nothing: every key was generated and wrapped already"
                    }
                    _ => "log in with the quorum",
                };
                self.stage = other;
                return Err(CeremonyError::OutOfOrder {
                    step: "generate keys",
                    needs,
                });
            }
        };
        if h.req.published_before.is_some() {
            // An earlier run published; sealing checks that bundle.
            self.stage = Stage::Wrapped(h);
            return Ok(());
        }
        match self.generate_inner(&mut h, on_event) {
            Ok(()) => {
                self.stage = Stage::Wrapped(h);
                Ok(())
            }
            Err(e) => {
                // What was staged is wiped; a rerun stages afresh.
                h.stager = None;
                self.stage = Stage::LoggedIn(h);
                match e {
                    // Asked for: journaled as `generation_stopped`, not a failure.
                    e @ CeremonyError::Stopped { .. } => Err(e),
                    e => Err(self.failed("generate_and_wrap", e)),
                }
            }
        }
    }

    fn generate_inner(
        &mut self,
        h: &mut InHsm,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<(), CeremonyError> {
        let request = h.req.request.clone();
        let request_id = request.request_id.to_string();
        let total = request.keys.len();
        h.keys.clear();

        // Before anything is generated: each label this request generates
        // is absent from the HSM or was made by this ceremony; then one
        // durable journal entry names every label about to be made, so a
        // rerun after a crash knows them as its own (and reuses them).
        // One inventory of the token's labels instead of a search per key,
        // true for as long as this ceremony holds the token's lock.
        let generated_labels: Vec<String> = request
            .keys
            .iter()
            .filter(|vk| matches!(vk.request.material, Material::Generate))
            .map(|vk| generated_label(&vk.request.name, &request_id))
            .collect();
        let mut labels = h.session.token_labels(&generated_labels)?;
        let mut resumed: HashMap<String, HsmKey> = HashMap::new();
        let mut planned: Vec<String> = Vec::new();
        for vk in &request.keys {
            let k = &vk.request;
            if let Material::Existing { hsm_label } = &k.material
                && !h.existing_confirmed.contains(k.name.as_str())
            {
                let code = existing_in(h)?
                    .into_iter()
                    .find(|m| m.name == k.name.as_str())
                    .map(|m| m.confirmation_code)
                    .unwrap_or_default();
                return Err(CeremonyError::ExistingNotConfirmed {
                    name: k.name.to_string(),
                    label: hsm_label.to_string(),
                    code,
                });
            }
            if let Material::Generate = k.material {
                let label = generated_label(&k.name, &request_id);
                if labels.contains(&label) == Some(false) {
                    planned.push(label);
                    continue;
                }
                let session = &mut h.session;
                match session.find_key(&label, k.key_spec)? {
                    Some(existing) if h.req.resumable_labels.contains(&label) => {
                        let id = session.key_id(&existing)?;
                        let bound = KeyBinding::parse(&id)
                            .is_ok_and(|b| b.is_for(&request_id, k.name.as_str(), &k.key_arn));
                        if !bound {
                            return Err(CeremonyError::KeyBinding {
                                name: k.name.to_string(),
                                problem: format!(
                                    "the HSM object {label:?} is not bound to request {request_id}, key {} and {}; a resumed ceremony re-wraps only its own keys",
                                    k.name, k.key_arn
                                ),
                            });
                        }
                        resumed.insert(label, existing);
                    }
                    Some(_) => {
                        return Err(CeremonyError::LabelTaken {
                            name: k.name.to_string(),
                            label,
                        });
                    }
                    None => planned.push(label),
                }
            }
        }
        if !planned.is_empty() {
            self.log(
                E::KeyGenerationPlanned {
                    labels: planned.clone(),
                    token_objects_seen: labels.objects_read(),
                    label_check: labels.scope().as_str().to_string(),
                },
                Actor::System,
            )?;
            h.req.resumable_labels.extend(planned);
            // Sealed before anything is generated: a rerun trusts these
            // labels only because the HSM signed this entry.
            self.checkpoint(&mut h.session, &h.state_key)?;
        }
        // The bundle's staging folder, filled beside the generation. A
        // stager from an earlier attempt stops (and wipes) first, so that
        // the new one never wipes a folder its writer is still filling.
        h.stager = None;
        let out = h.req.out_dir.clone().ok_or(CeremonyError::OutOfOrder {
            step: "generate keys",
            needs: "choose the output folder",
        })?;
        let mut stale = None;
        h.stager = Some(KeyStager::start(&out, |p| stale = Some(p.to_path_buf()))?);
        self.log_stale_staging(stale)?;
        let mut handles: HashMap<u64, String> = HashMap::new();

        for (i, vk) in request.keys.iter().enumerate() {
            if self.stop.is_requested() {
                // Between keys: the one before is wrapped and journaled;
                // nothing of this one exists yet.
                self.log(
                    E::GenerationStopped {
                        after_key: i,
                        of: total,
                    },
                    Actor::System,
                )?;
                return Err(CeremonyError::Stopped { done: i, total });
            }
            let k = &vk.request;
            let name = k.name.to_string();
            on_event(Event::KeyStarted {
                index: i + 1,
                total,
                name: name.clone(),
            });
            let (key, label, origin) = match &k.material {
                Material::Generate => {
                    let label = generated_label(&name, &request_id);
                    match resumed.remove(&label) {
                        Some(existing) => (existing, label, KeyOrigin::Resumed),
                        None => {
                            let binding = KeyBinding::new(&request_id, k.name.as_str(), &k.key_arn);
                            let trusted_only = self.roster.policy().wrap_with_trusted;
                            let key = h.session.generate_bound_unique(
                                &label,
                                k.key_spec,
                                &binding.to_bytes(),
                                trusted_only,
                                &mut labels,
                            )?;
                            (key, label, KeyOrigin::Generated)
                        }
                    }
                }
                Material::Existing { hsm_label } => {
                    let label = hsm_label.to_string();
                    let session = &mut h.session;
                    match session.find_key(&label, k.key_spec)? {
                        Some(key) => {
                            // Re-checked at wrap time: still bound to this KMS key.
                            let id = session.key_id(&key)?;
                            if !KeyBinding::parse(&id).is_ok_and(|b| b.same_kms_key(&k.key_arn)) {
                                return Err(CeremonyError::KeyBinding {
                                    name,
                                    problem: format!(
                                        "existing material {label:?} is not bound to {}",
                                        k.key_arn
                                    ),
                                });
                            }
                            (key, label, KeyOrigin::Existing)
                        }
                        None => {
                            return Err(CeremonyError::ExistingMissing {
                                name,
                                label,
                                spec: k.key_spec,
                            });
                        }
                    }
                }
            };
            if let Some(other) =
                handles.insert(airlock_hsm::UserSession::handle(&key), name.clone())
            {
                return Err(CeremonyError::KeyBinding {
                    name,
                    problem: format!(
                        "the HSM object {label:?} was already wrapped for key {other} in this request; the same object is never wrapped twice"
                    ),
                });
            }
            let session = &mut h.session;
            let kcv = session.kcv(&key)?.map(hex::encode_upper);
            let public_key_sha256 = session.public_key_spki(&key)?.map(|spki| sha256_hex(&spki));
            // Per-key progress is journaled without an fsync of its own: a
            // rerun recomputes it, and the durable entries around the loop
            // (and `sync` after it) bound what a power cut can lose.
            self.log_deferred(
                E::KeyGenerated {
                    name: name.clone(),
                    label: label.clone(),
                    origin: origin.as_str().to_string(),
                    kcv: kcv.clone(),
                    public_key_sha256: public_key_sha256.clone(),
                },
                Actor::System,
            )?;
            let wrapped = wrap_under(h, &key, &vk.wrapping_public_key, k.wrapping_algorithm)?;
            let material_sha256 = sha256_hex(&wrapped.bytes);
            self.log_deferred(
                E::KeyWrapped {
                    name: name.clone(),
                    label: label.clone(),
                    replica_region: None,
                    key_arn: None,
                    wrapping_algorithm: k.wrapping_algorithm,
                    wrap_path: wrapped.path.as_str().to_string(),
                    encrypted_key_material_sha256: material_sha256.clone(),
                },
                Actor::System,
            )?;
            // A multi-Region key: the same HSM object, wrapped once more
            // under each replica Region's wrapping key.
            let mut replicas = Vec::with_capacity(vk.replicas.len());
            for vr in &vk.replicas {
                let r = &vr.request;
                let again = wrap_under(h, &key, &vr.wrapping_public_key, r.wrapping_algorithm)?;
                let sha = sha256_hex(&again.bytes);
                self.log_deferred(
                    E::KeyWrapped {
                        name: name.clone(),
                        label: label.clone(),
                        replica_region: Some(r.region.as_str().to_string()),
                        key_arn: Some(r.key_arn.to_string()),
                        wrapping_algorithm: r.wrapping_algorithm,
                        wrap_path: again.path.as_str().to_string(),
                        encrypted_key_material_sha256: sha,
                    },
                    Actor::System,
                )?;
                replicas.push(ReplicaOutcome {
                    wrap_path: again.path,
                    material: EncryptedMaterial(again.bytes),
                });
            }
            on_event(Event::KeyDone {
                index: i + 1,
                total,
                name: name.clone(),
                origin: origin.as_str().to_string(),
                kcv: kcv.clone(),
                wrap_path: wrapped.path.as_str().to_string(),
            });
            let outcome = KeyOutcome {
                name,
                hsm_label: label,
                origin,
                kcv,
                public_key_sha256,
                wrap_path: wrapped.path,
                material_sha256,
                material: EncryptedMaterial(wrapped.bytes),
                replicas,
            };
            if let Some(stager) = h.stager.as_mut() {
                for (rel, bytes) in key_files(vk, &outcome) {
                    stager.stage(rel, bytes.to_vec())?;
                }
            }
            h.keys.push(outcome);
        }
        // Every key's files are written before the step reports done (a
        // full medium fails this step, not the export).
        if let Some(stager) = h.stager.as_mut() {
            stager.settle()?;
        }
        self.journal.as_mut().expect("open").sync()?;
        Ok(())
    }

    /// Step 6: writes the import bundle into a staging sibling of the
    /// output, signs `SHA256SUMS` in the HSM, reads everything back and
    /// verifies it (sums, seal, schema, lengths, journal, import tokens
    /// byte-equal to the request's), then renames it into place.
    pub fn seal_and_export(&mut self) -> Result<&ExportOutcome, CeremonyError> {
        let mut h = match self.take_stage() {
            Stage::Wrapped(h) => h,
            other => {
                let needs = match other {
                    Stage::Published(_) | Stage::Ended(_) => {
                        "nothing: the bundle is published already"
                    }
                    _ => "generate and wrap every key",
                };
                self.stage = other;
                return Err(CeremonyError::OutOfOrder {
                    step: "seal and export",
                    needs,
                });
            }
        };
        let result = match h.req.published_before.clone() {
            // An interrupted run published already: check it, do not redo it.
            Some(sums) => self.check_published(&h, &sums),
            None => self.export_inner(&mut h),
        };
        match result {
            Ok(export) => {
                self.stage = Stage::Published(Box::new(Published {
                    hsm: *h,
                    export,
                    bundle_digest_settled: false,
                    no_seal_serials_confirmed: false,
                }));
                Ok(self.export().expect("just published"))
            }
            Err(e) => {
                self.stage = Stage::Wrapped(h);
                Err(self.failed("seal_and_export", e))
            }
        }
    }

    /// The bundle an interrupted run published, read back and checked
    /// against the digest its sealed journal recorded.
    fn check_published(&self, h: &InHsm, sums: &str) -> Result<ExportOutcome, CeremonyError> {
        let out = h.req.out_dir.clone().unwrap_or_default();
        let verified = read_back(h, &out)?;
        if verified.sums_sha256.to_hex() != sums {
            return Err(CeremonyError::OutOfOrder {
                step: "finish the interrupted ceremony",
                needs: "restore the published bundle (its SHA256SUMS changed since publication)",
            });
        }
        Ok(ExportOutcome {
            path: out,
            sums_sha256: sums.to_string(),
            verified,
        })
    }

    fn export_inner(&mut self, h: &mut InHsm) -> Result<ExportOutcome, CeremonyError> {
        self.recheck_air_gap("before export")?;
        let out = h.req.out_dir.clone().ok_or(CeremonyError::OutOfOrder {
            step: "seal and export",
            needs: "choose the output folder",
        })?;
        // The key files were staged as the keys were wrapped; after a
        // failed export (or a new folder) they are staged here.
        let mut stale = None;
        let (staged, keys_staged) = match h.stager.take() {
            Some(stager) => (stager.finish()?, true),
            None => (
                StagedDir::create(&out, |p| stale = Some(p.to_path_buf()))?,
                false,
            ),
        };
        self.log_stale_staging(stale)?;
        self.log(
            E::ExportStarted {
                out: out.display().to_string(),
                staging: staged.staging_path().display().to_string(),
            },
            Actor::System,
        )?;
        let request = h.req.request.clone();
        let mut entries: Vec<(String, Sha256Digest)> = Vec::new();
        // Writes one file of the bundle (unless it is staged already) and
        // records its digest for SHA256SUMS.
        let mut put = |rel: String, bytes: &[u8], write: bool| -> Result<(), CeremonyError> {
            if write {
                staged.write_file_deferred(&rel, bytes)?;
            }
            entries.push((rel, Sha256Digest::of(bytes)));
            Ok(())
        };
        let mut import_keys = Vec::new();
        let mut wrap_paths: Vec<&'static str> = Vec::new();
        for (vk, outcome) in request.keys.iter().zip(&h.keys) {
            let k = &vk.request;
            let name = k.name.to_string();
            for (rel, bytes) in key_files(vk, outcome) {
                put(rel, bytes, !keys_staged)?;
            }
            if !wrap_paths.contains(&outcome.wrap_path.as_str()) {
                wrap_paths.push(outcome.wrap_path.as_str());
            }
            let mut replicas = Vec::with_capacity(vk.replicas.len());
            for (vr, ro) in vk.replicas.iter().zip(&outcome.replicas) {
                let r = &vr.request;
                if !wrap_paths.contains(&ro.wrap_path.as_str()) {
                    wrap_paths.push(ro.wrap_path.as_str());
                }
                replicas.push(ImportReplica {
                    region: r.region.as_str().to_string(),
                    key_arn: r.key_arn.to_string(),
                    import_type: ImportType::ExistingKeyMaterial,
                    wrapping_algorithm: r.wrapping_algorithm,
                    parameters_valid_to: rfc3339(r.parameters_valid_to),
                });
            }
            import_keys.push(ImportKey {
                name,
                alias: k.alias.to_string(),
                key_arn: k.key_arn.to_string(),
                key_spec: k.key_spec,
                import_type: k.import_type,
                wrapping_algorithm: k.wrapping_algorithm,
                parameters_valid_to: rfc3339(k.parameters_valid_to),
                hsm_label: outcome.hsm_label.clone(),
                kcv: outcome.kcv.clone(),
                public_key_sha256: outcome.public_key_sha256.clone(),
                replicas,
            });
        }
        put(
            CEREMONY_KEY_FILE.to_string(),
            h.signing_key.pem.as_bytes(),
            true,
        )?;

        // The journal copy ends here; its head goes into import.json.
        let journal_path = self.journal.as_ref().expect("open").path().to_path_buf();
        let journal_bytes =
            fs::read(&journal_path).map_err(CeremonyError::io("reading", &journal_path))?;
        let journal_head = self
            .journal
            .as_ref()
            .expect("open")
            .head_sha256()
            .to_string();
        put(JOURNAL_FILE.to_string(), &journal_bytes, true)?;

        let record = self.record.as_ref().expect("set");
        let p = &self.preflight;
        let manifest = ImportManifest {
            format: IMPORT_FORMAT.to_string(),
            request_id: request.request_id.to_string(),
            request_sha256sums_sha256: request.sums_sha256.to_hex(),
            request_signer_fingerprint: request.signer.fingerprint.to_hex(),
            ceremony_id: record.ceremony_id.clone(),
            started_at: record.started_at.clone(),
            completed_at: rfc3339(now()),
            workstation: Workstation {
                hostname: p.hostname.clone(),
                air_gapped: p.air_gap.air_gapped(),
            },
            custodians: self.custodians.iter().map(|(n, _)| n.to_string()).collect(),
            hsm: HsmRecord {
                manufacturer: p.identity.manufacturer.clone(),
                model: p.identity.model.clone(),
                serial: p.identity.serial.clone(),
                token_label: p.identity.label.clone(),
                wrap_path: wrap_paths.join(", "),
            },
            keys: import_keys,
            journal_head_sha256: journal_head,
        };
        put(IMPORT_FILE.to_string(), &manifest.to_bytes(), true)?;

        let sums = Sha256Sums::from_entries(entries).map_err(|e| CeremonyError::Io {
            what: "building SHA256SUMS for",
            path: out.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let sums_bytes = sums.to_bytes();
        let signature = h.session.sign_sums(&sums_bytes)?;
        staged.write_file_deferred(airlock_core::bundle_dir::SUMS_FILE, &sums_bytes)?;
        staged.write_file_deferred(airlock_core::bundle_dir::SIG_FILE, &signature)?;
        // One flush for the whole bundle, before it is read back and published.
        staged.sync()?;

        let verified = read_back(h, staged.staging_path())?;
        let sums_sha256 = verified.sums_sha256.to_hex();
        let path = staged.publish()?;
        self.log(
            E::BundlePublished {
                out: path.display().to_string(),
                sums_sha256: sums_sha256.clone(),
            },
            Actor::System,
        )?;
        self.checkpoint(&mut h.session, &h.state_key)?;
        if let Some(rec) = self.record.as_mut() {
            rec.bundle_sha256sums_sha256 = Some(sums_sha256.clone());
        }
        self.save_record()?;
        Ok(ExportOutcome {
            path,
            sums_sha256,
            verified,
        })
    }

    pub(crate) fn save_record(&self) -> Result<(), CeremonyError> {
        if let Some(rec) = &self.record {
            let store = self.store();
            store.save(rec).map_err(CeremonyError::io(
                "saving the ceremony record in",
                store.dir(&rec.ceremony_id),
            ))?;
        }
        Ok(())
    }

    /// Step 7: wipes the working directory (and the request with
    /// `--wipe-request`), destroys the HSM session objects, checks none
    /// remain, logs out, and marks the ceremony completed; then writes the
    /// attestation into the bundle. Needs the bundle digest settled.
    pub fn wipe(&mut self) -> Result<WipeOutcome, CeremonyError> {
        let settled = match &self.stage {
            Stage::Published(p) => p.bundle_digest_settled,
            Stage::Ended(_) => {
                return Err(CeremonyError::OutOfOrder {
                    step: "wipe and finish",
                    needs: "nothing: the ceremony ended",
                });
            }
            _ => {
                return Err(CeremonyError::OutOfOrder {
                    step: "wipe and finish",
                    needs: "seal and export the bundle (or abort)",
                });
            }
        };
        if !settled {
            return Err(CeremonyError::OutOfOrder {
                step: "wipe and finish",
                needs: "the bundle digest read aloud and confirmed (or the reason it was not, journaled)",
            });
        }
        // Before anything is wiped: a network change leaves it published.
        if let Err(e) = self.recheck_air_gap("at the wipe") {
            return Err(self.failed("wipe", e));
        }
        let mut h = halt(self.take_stage());
        let outcome = match self.wipe_inner(&mut h, true) {
            Ok(w) => w,
            Err(e) => {
                // Half wiped: only an abort follows.
                self.stage = Stage::Halted(Box::new(h));
                return Err(self.failed("wipe", e));
            }
        };
        let written = self.write_attestation(&h);
        self.stage = Stage::Ended(Box::new(Ended {
            completed: true,
            req: h.req,
            wrap_paths: h.wrap_paths,
            keys: h.keys,
            export: h.export,
            wipe: outcome.clone(),
        }));
        written?;
        Ok(outcome)
    }

    /// Writes `attestation.pdf` into the published bundle (atomically; it is
    /// not listed in `SHA256SUMS`), from the verified bundle and the full
    /// journal, so that it can print the wipe result.
    fn write_attestation(&self, h: &Halted) -> Result<(), CeremonyError> {
        let (Some(export), Some(key)) = (h.export.as_ref(), h.state_key.as_ref()) else {
            return Err(CeremonyError::OutOfOrder {
                step: "write the attestation",
                needs: "a published bundle and the checked ceremony key",
            });
        };
        let journal_path = self.journal.as_ref().expect("open").path().to_path_buf();
        let full = airlock_core::journal::verify_journal_file(&journal_path)?;
        let input = airlock_attest::AttestationInput::from_verified(
            &export.verified,
            key,
            Some(&full),
            &self.attestation.seal_serials,
            self.attestation.paper,
        )?;
        let pdf = airlock_attest::render_pdf(&input)?;
        let path = export
            .path
            .join(airlock_core::import_bundle::ATTESTATION_FILE);
        airlock_attest::write_pdf_atomically(&path, &pdf, true)?;
        Ok(())
    }

    fn wipe_inner(
        &mut self,
        h: &mut Halted,
        completed: bool,
    ) -> Result<WipeOutcome, CeremonyError> {
        let mut outcome = WipeOutcome::default();
        if let Some(work) = self.work_dir() {
            outcome.work_dir =
                wipe_tree_report(&work).map_err(CeremonyError::io("wiping", &work))?;
        }
        let out_dir = h.req.as_ref().and_then(|r| r.out_dir.clone());
        if let Some(staging) = out_dir
            .as_deref()
            .and_then(airlock_core::staged_dir::staging_path_for)
        {
            wipe_tree_report(&staging).map_err(CeremonyError::io("wiping", &staging))?;
        }
        if completed
            && self.opts.wipe_request
            && let Some(req) = h.req.as_ref().map(|r| r.request_dir.clone())
        {
            outcome.request =
                Some(wipe_tree_report(&req).map_err(CeremonyError::io("wiping", &req))?);
        }
        if !completed {
            labels_left(h, &mut outcome);
        }
        // The SO's trusted wrapping keys go first (closing its session
        // destroys them), so that none is counted as left behind.
        if let Some(t) = h.req.as_mut().and_then(|r| r.trusted.take()) {
            t.close()?;
        }
        if let Some(session) = h.session.as_mut() {
            let report = session.destroy_session_objects()?;
            outcome.session_objects_destroyed = report.destroyed_at_close.len();
            outcome.session_objects_remaining = report.remaining;
        }
        self.log(E::WipeDone(Box::new(outcome.clone())), Actor::System)?;
        let status = if completed {
            CeremonyStatus::Completed
        } else {
            CeremonyStatus::Aborted
        };
        if completed {
            self.log(E::CeremonyCompleted {}, Actor::System)?;
        } else {
            self.log(
                E::CeremonyAborted {
                    hsm_labels_left: outcome.hsm_labels_left.clone(),
                    hsm_labels_unchecked: outcome.hsm_labels_unchecked.clone(),
                    bundle_published: h.export.as_ref().map(|e| e.sums_sha256.clone()),
                },
                Actor::System,
            )?;
        }
        // The journal's final head, sealed in the HSM, then log out.
        if let (Some(session), Some(key)) = (h.session.as_mut(), h.state_key.as_ref()) {
            let key = key.clone();
            self.checkpoint(session, &key)?;
        }
        if let Some(session) = h.session.take() {
            let report = session.close()?;
            outcome.session_objects_remaining = report.remaining;
        }
        if let Some(rec) = self.record.as_mut() {
            rec.status = status;
            rec.ended_at = Some(rfc3339(now()));
        }
        self.save_record()?;
        Ok(outcome)
    }

    /// Aborts at any point before the end: wipes the working directory and
    /// any staging, destroys session objects, logs out, and records the
    /// abort with the HSM labels it leaves. Keys already generated stay in
    /// the HSM and are reused by a rerun of the same request. After the end
    /// it changes nothing and returns what the end did.
    pub fn abort(&mut self, reason: &str) -> Result<WipeOutcome, CeremonyError> {
        if let Stage::Ended(e) = &self.stage {
            return Ok(e.wipe.clone());
        }
        if self
            .record
            .as_ref()
            .is_some_and(|r| r.status != CeremonyStatus::Running)
        {
            // Closed by another path (a discard).
            return Ok(WipeOutcome::default());
        }
        let stage = serde_json::to_value(self.stage.kind())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        self.log(
            E::AbortRequested {
                reason: reason.to_string(),
                stage,
            },
            Actor::System,
        )?;
        let mut h = halt(self.take_stage());
        match self.wipe_inner(&mut h, false) {
            Ok(w) => {
                self.stage = Stage::Ended(Box::new(Ended {
                    completed: false,
                    req: h.req,
                    wrap_paths: h.wrap_paths,
                    keys: h.keys,
                    export: h.export,
                    wipe: w.clone(),
                }));
                Ok(w)
            }
            Err(e) => {
                self.stage = Stage::Halted(Box::new(h));
                Err(e)
            }
        }
    }
}

/// Whatever a stage holds, as the abort (or the wipe) takes it apart.
fn halt(stage: Stage) -> Halted {
    let from_hsm = |h: InHsm, export: Option<ExportOutcome>| Halted {
        req: Some(h.req),
        session: Some(h.session),
        state_key: Some(h.state_key),
        wrap_paths: h.wrap_paths,
        keys: h.keys,
        export,
    };
    match stage {
        Stage::Preflighted(_) | Stage::InStep | Stage::Ended(_) => Halted::default(),
        Stage::Verified(v) => Halted {
            req: Some(v.req),
            ..Halted::default()
        },
        Stage::LoggedIn(h) | Stage::Wrapped(h) => from_hsm(*h, None),
        Stage::Published(p) => from_hsm(p.hsm, Some(p.export)),
        Stage::Halted(h) => *h,
    }
}

/// The token keys an aborted ceremony leaves in the HSM: those this run
/// made or reused, and (with a session) those an earlier run of it made,
/// looked up in the HSM; without a session, what an earlier run planned.
fn labels_left(h: &mut Halted, outcome: &mut WipeOutcome) {
    let mut left: std::collections::BTreeSet<String> = h
        .keys
        .iter()
        .filter(|k| k.origin != KeyOrigin::Existing)
        .map(|k| k.hsm_label.clone())
        .collect();
    let mut unchecked = std::collections::BTreeSet::new();
    if let Some(req) = h.req.as_ref() {
        let request_id = req.request.request_id.to_string();
        for vk in &req.request.keys {
            let k = &vk.request;
            if !matches!(k.material, Material::Generate) {
                continue;
            }
            let label = generated_label(&k.name, &request_id);
            if left.contains(&label) || !req.resumable_labels.contains(&label) {
                continue;
            }
            match h.session.as_mut() {
                Some(s) => {
                    if s.find_key(&label, k.key_spec).ok().flatten().is_some() {
                        left.insert(label);
                    }
                }
                None => {
                    unchecked.insert(label);
                }
            }
        }
    }
    outcome.hsm_labels_left = left.into_iter().collect();
    outcome.hsm_labels_unchecked = unchecked.into_iter().collect();
}

#[cfg(test)]
mod tests {
    #[test]
    fn ceremony_can_move_to_a_worker_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<super::Ceremony>();
    }
}
