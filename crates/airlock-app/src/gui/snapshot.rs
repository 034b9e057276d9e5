//! What the window shows, copied out of the engine after each step: plain
//! data, no secrets, so the window never touches the [`Ceremony`] that
//! lives on the worker thread.

use std::path::PathBuf;

use airlock_ceremony::{Ceremony, Need, StageKind, WipeOutcome};
use airlock_core::request::rfc3339;

use super::attest_worker::AttestationView;

/// Preflight facts.
#[derive(Debug, Clone)]
pub struct PreflightView {
    /// Workstation hostname.
    pub hostname: String,
    /// Clock at preflight (UTC, RFC 3339).
    pub clock: String,
    /// True when only loopback is up.
    pub air_gapped: bool,
    /// Interfaces up besides loopback.
    pub interfaces_up: Vec<String>,
    /// Manufacturer, model, serial, label, firmware.
    pub token: Vec<(&'static str, String)>,
    /// Mechanisms the token lists in all.
    pub mechanism_count: usize,
    /// The mechanisms Airlock uses: name and whether offered.
    pub mechanisms: Vec<(String, bool)>,
    /// Per wrapping algorithm: candidate paths, or why none.
    pub wrap_plans: Vec<(String, String)>,
    /// The configuration file.
    pub config: PathBuf,
}

/// One row of the plan.
#[derive(Debug, Clone)]
pub struct PlanRow {
    /// Key name.
    pub name: String,
    /// KMS alias.
    pub alias: String,
    /// The KMS key ARN it is wrapped for.
    pub key_arn: String,
    /// Key spec.
    pub key_spec: String,
    /// Wrapping algorithm.
    pub wrapping_algorithm: String,
    /// `generate` or `existing`.
    pub material: String,
    /// The Regions of its multi-Region replicas (the same HSM key wrapped
    /// once more for each), empty for most keys.
    pub replica_regions: Vec<String>,
}

/// The verified request.
#[derive(Debug, Clone)]
pub struct RequestView {
    /// Request id.
    pub request_id: String,
    /// Where it was read from.
    pub dir: PathBuf,
    /// AWS account and region.
    pub account: String,
    /// The signer's enrolled name.
    pub signer: String,
    /// SHA-256 of the signer's key (hex).
    pub signer_fingerprint: String,
    /// SHA-256 of the request's SHA256SUMS (hex).
    pub sums_sha256: String,
    /// Warnings to show.
    pub warnings: Vec<String>,
    /// The plan.
    pub plan: Vec<PlanRow>,
    /// True when an interrupted ceremony for this request resumes.
    pub resumed: bool,
}

/// A finished key.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Key name.
    pub name: String,
    /// generated / resumed / existing.
    pub origin: String,
    /// KCV for AES keys.
    pub kcv: Option<String>,
    /// Wrap path.
    pub wrap_path: String,
}

/// The published bundle.
#[derive(Debug, Clone)]
pub struct ExportView {
    /// Where.
    pub path: PathBuf,
    /// SHA-256 of its SHA256SUMS (hex).
    pub sums_sha256: String,
    /// Keys whose material was read back and checked.
    pub keys_verified: usize,
    /// Journal events in the bundle's journal copy.
    pub journal_events: usize,
    /// Journal head recorded in import.json.
    pub journal_head: String,
}

/// Everything the window shows about the ceremony.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// After preflight.
    pub preflight: Option<PreflightView>,
    /// Roster names, in enrolment order.
    pub roster: Vec<String>,
    /// M.
    pub threshold: usize,
    /// Who authenticated, with the time (UTC).
    pub authenticated: Vec<(String, String)>,
    /// After verification.
    pub request: Option<RequestView>,
    /// Ceremony id (after verification).
    pub ceremony_id: Option<String>,
    /// The journal file (after verification).
    pub journal_path: Option<PathBuf>,
    /// Wrap path per algorithm, after login and self-tests.
    pub self_tests: Option<Vec<String>>,
    /// Keys done.
    pub keys: Vec<KeyRow>,
    /// After export.
    pub export: Option<ExportView>,
    /// After the wipe (or abort).
    pub wipe: Option<WipeOutcome>,
    /// True once the ceremony was aborted.
    pub aborted: bool,
    /// The engine's stage (None before preflight).
    pub stage: Option<StageKind>,
    /// What the engine needs next (None before preflight).
    pub need: Option<Need>,
    /// The output folder, once chosen (before the login).
    pub out_dir: Option<PathBuf>,
    /// The attestation as last built on the Attestation step.
    pub attestation: Option<AttestationView>,
    /// The final `attestation.pdf` in the bundle, once the wipe wrote it.
    pub attestation_pdf: Option<PathBuf>,
    /// After login: `existing` material the custodians still must confirm.
    pub existing_pending: Vec<airlock_ceremony::ExistingMaterial>,
    /// The policy makes the security officer mark the wrapping keys
    /// trusted before the login.
    pub needs_security_officer: bool,
    /// The security officer did.
    pub trusted_marked: bool,
    /// Custodians whose plan confirmation the engine journaled.
    pub plan_confirmed_by: Vec<String>,
    /// The engine journaled the request digest's read-aloud.
    pub request_digest_confirmed: bool,
    /// The engine journaled the bundle digest's read-aloud (or that it did
    /// not match).
    pub bundle_digest_settled: bool,
    /// The engine's stop flag: an abort asked while keys are generated
    /// stops after the key in hand.
    pub stop: Option<airlock_ceremony::StopSignal>,
}

impl Snapshot {
    /// Copies what the window needs out of `c`.
    pub fn of(c: &Ceremony) -> Snapshot {
        let p = c.preflight_report();
        let preflight = PreflightView {
            hostname: p.hostname.clone(),
            clock: rfc3339(p.clock),
            air_gapped: p.air_gap.air_gapped(),
            interfaces_up: p.air_gap.offending.clone(),
            token: vec![
                ("Manufacturer", p.identity.manufacturer.clone()),
                ("Model", p.identity.model.clone()),
                ("Serial", p.identity.serial.clone()),
                ("Label", p.identity.label.clone()),
                ("Firmware", p.identity.firmware.clone()),
            ],
            mechanism_count: p.probe.mechanism_count,
            mechanisms: p
                .probe
                .mechanisms
                .iter()
                .map(|m| (m.name.to_string(), m.offered))
                .collect(),
            wrap_plans: p
                .probe
                .wrap_plans
                .iter()
                .map(|w| {
                    let paths: Vec<&str> = w.candidates.iter().map(|c| c.as_str()).collect();
                    let text = if paths.is_empty() {
                        format!("no path: {}", w.note)
                    } else {
                        paths.join(", then ")
                    };
                    (w.algorithm.to_string(), text)
                })
                .collect(),
            config: PathBuf::new(),
        };
        let roster = c.roster();
        let request = c.request().map(|r| RequestView {
            request_id: r.request_id.to_string(),
            dir: c.request_dir().map(PathBuf::from).unwrap_or_default(),
            account: format!("{} in {}", r.aws_account, r.aws_region),
            signer: r.signer.name.to_string(),
            signer_fingerprint: r.signer.fingerprint.to_hex(),
            sums_sha256: r.sums_sha256.to_hex(),
            warnings: r.warnings.iter().map(|w| w.to_string()).collect(),
            plan: r
                .keys
                .iter()
                .map(|k| PlanRow {
                    name: k.request.name.to_string(),
                    alias: k.request.alias.to_string(),
                    key_arn: k.request.key_arn.to_string(),
                    key_spec: k.request.key_spec.to_string(),
                    wrapping_algorithm: k.request.wrapping_algorithm.to_string(),
                    material: k.request.material.source().to_string(),
                    replica_regions: k
                        .replicas
                        .iter()
                        .map(|r| r.request.region.to_string())
                        .collect(),
                })
                .collect(),
            resumed: c.resumed(),
        });
        Snapshot {
            preflight: Some(preflight),
            roster: roster
                .custodians()
                .iter()
                .map(|s| s.name().to_string())
                .collect(),
            threshold: roster.threshold(),
            authenticated: c
                .custodians()
                .iter()
                .map(|(n, t)| (n.to_string(), rfc3339(*t)))
                .collect(),
            request,
            ceremony_id: c.ceremony_id().map(str::to_string),
            journal_path: c.journal_path().map(PathBuf::from),
            self_tests: (!c.wrap_paths().is_empty()).then(|| {
                c.wrap_paths()
                    .iter()
                    .map(|(a, p)| format!("{a}: {}", p.as_str()))
                    .collect()
            }),
            keys: c
                .keys()
                .iter()
                .map(|k| KeyRow {
                    name: k.name.clone(),
                    origin: format!("{:?}", k.origin).to_lowercase(),
                    kcv: k.kcv.clone(),
                    wrap_path: k.wrap_path.as_str().to_string(),
                })
                .collect(),
            export: c.export().map(|e| ExportView {
                path: e.path.clone(),
                sums_sha256: e.sums_sha256.clone(),
                keys_verified: e.verified.material_sha256.len(),
                journal_events: e.verified.journal.entries as usize,
                journal_head: e.verified.manifest.journal_head_sha256.clone(),
            }),
            wipe: c.wipe_outcome().cloned(),
            aborted: c.stage().kind() == StageKind::Aborted,
            stage: Some(c.stage().kind()),
            need: Some(c.need()),
            out_dir: c.out_dir().map(PathBuf::from),
            attestation: None,
            attestation_pdf: c.attestation_path(),
            existing_pending: c.existing_pending(),
            needs_security_officer: c.needs_security_officer(),
            trusted_marked: c.trusted_marked(),
            plan_confirmed_by: c.plan_confirmed_by().to_vec(),
            request_digest_confirmed: c.request_digest_confirmed(),
            bundle_digest_settled: c.bundle_digest_settled(),
            stop: Some(c.stop_signal()),
        }
    }
}
