//! The journals' events as typed enums: [`CeremonyEvent`] for a
//! ceremony's journal, [`WorkstationEvent`] for the workstation journal
//! (enrolment, the trust store, state backups, quorum rehearsals).
//! The engine writes only these ([`crate::journal::JournalWriter::record`]),
//! and every reader of a ceremony journal (resume, `ceremony status`, the
//! discard, the attestation) parses entries back into them
//! ([`crate::journal::JournalEntry::ceremony_event`]) instead of picking
//! fields out of JSON by name. The names and fields are those of
//! `docs/formats.md` ("Journal"); a line's `data` is the variant's fields
//! with keys in byte order, as the untyped writer wrote them.
//!
//! Nested records that describe another part of the workstation (the air
//! gap, the pinned module and token, the roster policy, the memory
//! hygiene) stay JSON values here: their own modules own their shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::{KeySpec, WrappingAlgorithm};
use crate::wipe::WipeReport;

/// One event of a ceremony's journal (`event` is the tag, `data` the
/// fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum CeremonyEvent {
    /// Preflight passed (air gap, clock, HSM, roster, configuration).
    Preflight(Box<Preflight>),
    /// The air gap changed since preflight.
    AirGapChanged {
        /// When it was noticed.
        stage: String,
        /// What changed.
        change: String,
        /// The air gap now.
        air_gap: Value,
        /// True when it stops the ceremony (no network override).
        stops: bool,
    },
    /// A new ceremony for a request.
    CeremonyStarted {
        /// Its id.
        ceremony_id: String,
        /// The request.
        request_id: String,
    },
    /// An unfinished ceremony for the same request goes on.
    CeremonyResumed {
        /// Its id.
        ceremony_id: String,
        /// The request.
        request_id: String,
    },
    /// The request bundle verified; the plan it asks for.
    RequestVerified(Box<RequestVerified>),
    /// A custodian's share unsealed (ceremony: with the count so far).
    CustodianAuthenticated {
        /// The same custodian a second time (not counted again).
        again: bool,
        /// Counted so far.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        have: Option<usize>,
        /// The threshold.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        need: Option<usize>,
    },
    /// A custodian's authentication failed (a wrong passphrase, a lockout).
    CustodianAuthFailed {
        /// The name as typed (a hash if it is no enrolled name).
        custodian: String,
        /// Why.
        error: String,
    },
    /// One custodian confirmed the plan.
    PlanConfirmed {
        /// Roster name.
        custodian: String,
        /// The request.
        request_id: String,
        /// Its number of keys.
        keys: usize,
        /// Its `SHA256SUMS` digest.
        sums_sha256: String,
    },
    /// A plan confirmation by a name not on the roster.
    PlanConfirmationRefused {
        /// The name's hash.
        custodian: String,
        /// Why.
        why: String,
    },
    /// The request digest was confirmed.
    RequestDigestConfirmed {
        /// The digest.
        sums_sha256: String,
        /// `read_aloud` or `given_in_full`.
        method: String,
    },
    /// The request digest given did not match.
    RequestDigestMismatch {
        /// What was given (or how long it was).
        given: String,
        /// The request's digest.
        expected: String,
    },
    /// The output folder was chosen and checked (before the login).
    OutputFolderChosen {
        /// The bundle folder to create.
        out: String,
    },
    /// The security officer marked the request's wrapping keys trusted.
    WrappingKeysMarkedTrusted {
        /// Who.
        by: String,
        /// SHA-256 of each wrapping key's SPKI.
        fingerprints: Vec<String>,
    },
    /// The quorum logged in.
    QuorumLogin {
        /// Who.
        custodians: Vec<String>,
    },
    /// The known-answer self-tests.
    SelfTest {
        /// Each test.
        tests: Vec<SelfTestResult>,
        /// The wrap path per algorithm.
        paths: Vec<WrapPathChoice>,
        /// The curves the token showed it can generate.
        curves_generated: Vec<String>,
    },
    /// The HSM's signing key is the enrolled one.
    SigningKeyChecked {
        /// Its SPKI SHA-256.
        fingerprint: String,
    },
    /// A resumed ceremony's journal had no HSM checkpoint.
    ResumeNotAuthenticated {
        /// The journal.
        journal: String,
        /// Labels it claimed.
        labels_claimed: usize,
        /// What that means.
        note: String,
    },
    /// The trust store and (resumed) journal are authenticated.
    StateAuthenticated {
        /// The trust store checked.
        trust_store: String,
        /// Entries of a resumed journal the HSM checkpoint covers.
        resumed_from_checkpoint_entries: Option<u64>,
        /// Labels trusted as this ceremony's own.
        resumable_labels: usize,
    },
    /// `existing` material refused (the code typed differs).
    ExistingMaterialRefused {
        /// Key name.
        name: String,
        /// HSM label.
        label: String,
        /// Why.
        reason: String,
    },
    /// `existing` material confirmed, with what the custodians saw.
    ExistingMaterialConfirmed(Box<ExistingMaterial>),
    /// Every label about to be generated (sealed before any exists).
    KeyGenerationPlanned {
        /// The labels.
        labels: Vec<String>,
        /// Token objects read for the label check.
        token_objects_seen: usize,
        /// How labels were checked.
        label_check: String,
    },
    /// Asked to stop between keys.
    GenerationStopped {
        /// Keys done.
        after_key: usize,
        /// Keys planned.
        of: usize,
    },
    /// One key generated (or found).
    KeyGenerated {
        /// Key name.
        name: String,
        /// HSM label.
        label: String,
        /// `generated`, `resumed` or `existing`.
        origin: String,
        /// CMAC KCV (AES).
        kcv: Option<String>,
        /// Public key SHA-256 (RSA/ECC).
        public_key_sha256: Option<String>,
    },
    /// One wrapping of a key (a replica's names its Region and ARN).
    KeyWrapped {
        /// Key name.
        name: String,
        /// HSM label.
        label: String,
        /// A multi-Region replica's Region.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replica_region: Option<String>,
        /// A replica's key ARN.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_arn: Option<String>,
        /// The algorithm.
        wrapping_algorithm: WrappingAlgorithm,
        /// How the HSM did it.
        wrap_path: String,
        /// SHA-256 of `EncryptedKeyMaterial.bin`.
        encrypted_key_material_sha256: String,
    },
    /// A staging folder of an earlier run was wiped.
    StaleStagingWiped {
        /// Where.
        path: String,
    },
    /// Sealing started.
    ExportStarted {
        /// The bundle folder.
        out: String,
        /// Its staging sibling.
        staging: String,
    },
    /// The bundle is published.
    BundlePublished {
        /// Where.
        out: String,
        /// Its `SHA256SUMS` digest.
        sums_sha256: String,
    },
    /// The bundle digest was confirmed.
    BundleDigestConfirmed {
        /// The digest.
        sums_sha256: String,
        /// `read_aloud` or `given_in_full`.
        method: String,
    },
    /// The bundle digest was not confirmed, and why.
    BundleDigestNotConfirmed {
        /// The digest.
        sums_sha256: String,
        /// Why.
        reason: String,
    },
    /// No tamper-evident bags are used.
    NoSealSerialsConfirmed {
        /// Where it was confirmed.
        confirmed_at: String,
    },
    /// A step failed.
    StepFailed {
        /// Which.
        step: String,
        /// The error (never a secret).
        error: String,
    },
    /// An abort was asked for.
    AbortRequested {
        /// Why.
        reason: String,
        /// The engine stage it aborts from.
        stage: String,
    },
    /// The wipe (or the abort's wipe) finished.
    WipeDone(Box<WipeOutcome>),
    /// The ceremony completed.
    CeremonyCompleted {},
    /// The ceremony was aborted.
    CeremonyAborted {
        /// Labels it created that stay in the token.
        hsm_labels_left: Vec<String>,
        /// Labels an earlier run planned, not looked up (no session).
        hsm_labels_unchecked: Vec<String>,
        /// The bundle's digest, when it was published before the abort.
        bundle_published: Option<String>,
    },
    /// `airlock ceremony discard` started on this ceremony.
    DiscardRequested {
        /// Its id.
        ceremony_id: String,
        /// The quorum.
        custodians: Vec<String>,
    },
    /// The discard destroyed this ceremony's keys.
    CeremonyDiscarded {
        /// Labels destroyed.
        destroyed: Vec<String>,
        /// Planned but not in the token.
        not_found: Vec<String>,
        /// Left alone, and why.
        left_alone: Vec<(String, String)>,
        /// Entries of the journal the HSM checkpoint covered.
        sealed_entries_trusted: Option<u64>,
        /// Working files wiped.
        files_wiped: u64,
    },
}

/// [`CeremonyEvent::Preflight`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preflight {
    /// Workstation hostname.
    pub hostname: String,
    /// Workstation clock.
    pub clock: String,
    /// Only loopback up.
    pub air_gapped: bool,
    /// Non-loopback interfaces up.
    pub interfaces_up: Vec<String>,
    /// The air gap as preflight saw it.
    pub air_gap: Value,
    /// `--allow-network` given and needed.
    pub network_override: bool,
    /// `--allow-unlocked-memory` given.
    pub unlocked_memory_override: bool,
    /// `--allow-sha1` given.
    pub sha1_override: bool,
    /// The token.
    pub token: TokenRecord,
    /// The configuration file.
    pub config: String,
    /// Where the configuration came from.
    pub config_origin: Value,
    /// The PKCS#11 module found.
    pub module: ModuleRecord,
    /// What the roster pins.
    pub pinned: Value,
    /// The roster's policy.
    pub policy: Value,
    /// The process hardening.
    pub memory_hygiene: Value,
}

/// The token as preflight found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Label.
    pub label: String,
    /// Firmware version.
    pub firmware: String,
}

/// The PKCS#11 module as preflight found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Its path.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// [`CeremonyEvent::RequestVerified`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestVerified {
    /// The request.
    pub request_id: String,
    /// Its folder.
    pub request_dir: String,
    /// Its `SHA256SUMS` digest.
    pub sums_sha256: String,
    /// The signer's name.
    pub signer: String,
    /// The signer's SPKI SHA-256.
    pub signer_fingerprint: String,
    /// Warnings shown.
    pub warnings: Vec<String>,
    /// The plan.
    pub keys: Vec<PlannedKey>,
}

/// One key of the plan in [`RequestVerified`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedKey {
    /// Key name.
    pub name: String,
    /// KMS key ARN.
    pub key_arn: String,
    /// Key spec.
    pub key_spec: KeySpec,
    /// Wrapping algorithm.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// `generate` or `existing`.
    pub material: String,
    /// The HSM label it is generated as (or re-wraps).
    pub hsm_label: String,
    /// SHA-256 of the AWS wrapping key's SPKI.
    pub wrapping_key_fingerprint: String,
    /// Multi-Region replicas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<PlannedReplica>,
}

/// One replica of a [`PlannedKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedReplica {
    /// Its Region.
    pub region: String,
    /// Its key ARN.
    pub key_arn: String,
    /// Its wrapping algorithm.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// SHA-256 of its wrapping key's SPKI.
    pub wrapping_key_fingerprint: String,
}

/// One known-answer test in [`CeremonyEvent::SelfTest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTestResult {
    /// What was tested.
    pub test: String,
    /// Passed.
    pub passed: bool,
}

/// One algorithm's wrap path in [`CeremonyEvent::SelfTest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapPathChoice {
    /// The algorithm.
    pub algorithm: WrappingAlgorithm,
    /// The wrap path.
    pub path: String,
}

/// Existing HSM material a request wants re-wrapped, as the custodians
/// must see it before they confirm it on its own
/// ([`CeremonyEvent::ExistingMaterialConfirmed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistingMaterial {
    /// The key name in the request.
    pub name: String,
    /// The HSM object's label.
    pub hsm_label: String,
    /// The KMS key ARN the object was generated for (its binding).
    pub original_arn: String,
    /// The request and key name it was generated by.
    pub original_request: String,
    /// The KMS key ARN it is to be wrapped for now.
    pub key_arn: String,
    /// CMAC KCV (AES).
    pub kcv: Option<String>,
    /// SHA-256 of the public key (RSA/ECC).
    pub public_key_sha256: Option<String>,
    /// SHA-256 of the new wrapping public key's SPKI.
    pub wrapping_key_fingerprint: String,
    /// What the custodians type back to confirm it: the KCV, else the first
    /// 16 hex digits of the public key hash, else the label.
    pub confirmation_code: String,
}

/// What the wipe (or an abort) did ([`CeremonyEvent::WipeDone`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeOutcome {
    /// The working directory.
    pub work_dir: WipeReport,
    /// The request bundle (with `--wipe-request`).
    pub request: Option<WipeReport>,
    /// HSM session objects destroyed at logout.
    pub session_objects_destroyed: usize,
    /// HSM session objects left (must be 0).
    pub session_objects_remaining: usize,
    /// After an abort: token keys this ceremony made that stay in the HSM
    /// (checked in the HSM when the quorum was logged in).
    pub hsm_labels_left: Vec<String>,
    /// After an abort before the login of a resumed ceremony: labels an
    /// earlier run planned, not checked in the HSM (no session).
    pub hsm_labels_unchecked: Vec<String>,
}

/// A journal's typed events: what [`crate::journal::JournalWriter::record`]
/// takes. Implemented by the two event enums; their serde form is
/// `{"event": NAME, "data": {...}}`.
pub trait JournalEvent: Serialize {
    /// The event's name and its `data` object, as a journal line holds
    /// them.
    fn to_parts(&self) -> (String, Value) {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => {
                let name = m
                    .remove("event")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let data = m
                    .remove("data")
                    .unwrap_or(Value::Object(Default::default()));
                (name, data)
            }
            // Every variant is a struct: serde gives an object. Should that
            // ever change, the writer refuses the empty name.
            _ => (String::new(), Value::Null),
        }
    }
}

impl JournalEvent for CeremonyEvent {}
impl JournalEvent for WorkstationEvent {}

impl CeremonyEvent {
    /// Parses a journal line's `event` and `data` back.
    pub fn from_parts(
        event: &str,
        data: &serde_json::Map<String, Value>,
    ) -> Result<Self, serde_json::Error> {
        let mut m = serde_json::Map::new();
        m.insert("event".into(), Value::String(event.to_string()));
        m.insert("data".into(), Value::Object(data.clone()));
        serde_json::from_value(Value::Object(m))
    }
}

/// One event of the workstation journal (`journal.jsonl` in the state
/// directory): enrolment, re-enrolment, trust store changes, quorum
/// rehearsals, state backups. Nested records owned by other modules (the
/// pinned module and token, the roster policy, the KDF cost, a trust
/// change, a backup's outcome) stay JSON values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum WorkstationEvent {
    /// A first enrolment started.
    EnrollmentStarted {
        /// The custodians' names.
        custodians: Vec<String>,
        /// M.
        threshold: usize,
        /// The passphrase KDF's cost.
        kdf: Value,
        /// The configuration file.
        config: String,
        /// The policy: re-wrapping existing material allowed.
        allow_existing_material: bool,
        /// An existing ceremony signing key adopted.
        adopt_signing_key: bool,
    },
    /// The module and token the roster pins.
    HsmPinned(Value),
    /// The token's user PIN was set (never journaled itself).
    UserPinSet {
        /// Token label.
        token_label: String,
        /// Token serial.
        token_serial: String,
    },
    /// The ceremony signing key was created (or adopted) and enrolled.
    SigningKeyEnrolled {
        /// Its SPKI SHA-256.
        fingerprint: String,
        /// Created now.
        created: bool,
        /// An existing key adopted.
        adopted_preexisting: bool,
    },
    /// The roster was written.
    RosterWritten {
        /// Its id.
        roster_id: String,
        /// The custodians.
        custodians: Vec<String>,
        /// M.
        threshold: usize,
        /// The quorum's policy.
        policy: Value,
    },
    /// The enrolment failed.
    EnrollmentFailed {
        /// Why.
        error: String,
    },
    /// A custodian's share unsealed for a workstation change.
    CustodianAuthenticated {
        /// The same custodian again (not counted twice).
        again: bool,
    },
    /// A custodian's authentication failed.
    CustodianAuthFailed {
        /// The name as typed (a hash if it is no enrolled name).
        custodian: String,
        /// Why.
        error: String,
    },
    /// A re-enrolment started.
    ReenrollmentStarted {
        /// The roster replaced.
        old_roster_id: String,
        /// The new custodians.
        custodians: Vec<String>,
        /// The new M.
        threshold: usize,
        /// The old policy.
        old_policy: Value,
        /// The new policy.
        policy: Value,
        /// The module is pinned anew.
        repin_module: bool,
    },
    /// The quorum asked to pin another module.
    ModuleRepinRequested {
        /// What was pinned.
        from: Value,
        /// What is pinned now.
        to: Value,
    },
    /// The re-enrolment failed.
    ReenrollmentFailed {
        /// Why.
        error: String,
    },
    /// The roster was replaced.
    RosterReplaced {
        /// The new roster's id.
        roster_id: String,
        /// Its custodians.
        custodians: Vec<String>,
        /// Its M.
        threshold: usize,
        /// Its policy.
        policy: Value,
        /// What it pins.
        pinned: Value,
    },
    /// The trust store changed under the quorum.
    TrustStoreChanged {
        /// The quorum.
        custodians: Vec<String>,
        /// What changed.
        change: Value,
    },
    /// A trust store change failed.
    TrustStoreChangedFailed {
        /// Why.
        error: String,
        /// The module and token found (when the pins did not match).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        found: Option<Value>,
        /// The quorum, once authenticated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        custodians: Option<Vec<String>>,
    },
    /// A quorum rehearsal started (module and token found).
    QuorumRehearsalStarted(Value),
    /// The rehearsal failed.
    QuorumRehearsalFailed {
        /// Why.
        error: String,
    },
    /// The rehearsal passed: the quorum rebuilt the PIN and logged in.
    QuorumRehearsalPassed {
        /// The quorum.
        custodians: Vec<String>,
    },
    /// The state directory was backed up.
    StateBackedUp(Value),
    /// The state directory was restored.
    StateRestored {
        /// From where.
        from: String,
        /// What was restored.
        outcome: Value,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys_are_written_in_byte_order_as_before() {
        let e = CeremonyEvent::KeyGenerated {
            name: "prod-s3".into(),
            label: "prod-s3/r1".into(),
            origin: "generated".into(),
            kcv: None,
            public_key_sha256: Some("ab".into()),
        };
        let (name, data) = e.to_parts();
        assert_eq!(name, "key_generated");
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"kcv":null,"label":"prod-s3/r1","name":"prod-s3","origin":"generated","public_key_sha256":"ab"}"#
        );
        let Value::Object(m) = data else {
            panic!("not an object")
        };
        assert_eq!(CeremonyEvent::from_parts(&name, &m).unwrap(), e);
    }

    #[test]
    fn an_empty_event_round_trips_and_an_unknown_one_is_refused() {
        let (name, data) = CeremonyEvent::CeremonyCompleted {}.to_parts();
        assert_eq!(
            (name.as_str(), data.to_string().as_str()),
            ("ceremony_completed", "{}")
        );
        let Value::Object(m) = data else {
            panic!("not an object")
        };
        assert_eq!(
            CeremonyEvent::from_parts(&name, &m).unwrap(),
            CeremonyEvent::CeremonyCompleted {}
        );
        assert!(CeremonyEvent::from_parts("no_such_event", &m).is_err());
        // A field of the wrong type is refused, not read as missing.
        let mut bad = serde_json::Map::new();
        bad.insert("labels".into(), Value::String("not a list".into()));
        bad.insert("token_objects_seen".into(), Value::from(1));
        bad.insert("label_check".into(), Value::from("x"));
        assert!(CeremonyEvent::from_parts("key_generation_planned", &bad).is_err());
    }

    #[test]
    fn a_workstation_event_with_a_record_as_its_data_round_trips() {
        let pins = serde_json::json!({ "module": { "path": "/m.so", "sha256": "00" } });
        let (name, data) = WorkstationEvent::HsmPinned(pins.clone()).to_parts();
        assert_eq!((name.as_str(), &data), ("hsm_pinned", &pins));
        let (name, data) = WorkstationEvent::TrustStoreChangedFailed {
            error: "no".into(),
            found: None,
            custodians: None,
        }
        .to_parts();
        assert_eq!(name, "trust_store_changed_failed");
        assert_eq!(data.to_string(), r#"{"error":"no"}"#);
    }

    #[test]
    fn optional_replica_fields_appear_only_for_a_replica() {
        let e = CeremonyEvent::KeyWrapped {
            name: "k".into(),
            label: "k/r".into(),
            replica_region: None,
            key_arn: None,
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            wrap_path: "CKM_RSA_PKCS_OAEP".into(),
            encrypted_key_material_sha256: "00".into(),
        };
        let (_, data) = e.to_parts();
        assert!(data.get("replica_region").is_none(), "{data}");
        assert_eq!(data["wrapping_algorithm"], "RSAES_OAEP_SHA_256");
    }
}
