//! The plan the custodians confirm before any login, and the digests they
//! read aloud: [`CeremonyPlan`] (every key, with what decides what the HSM
//! will do for it), [`Ceremony::confirm_plan`] (one journaled
//! `plan_confirmed` per custodian), [`Ceremony::confirm_request_digest`]
//! (journaled `request_digest_confirmed`; a given digest is compared in
//! full) and [`Ceremony::confirm_bundle_digest`] before the wipe. The
//! output folder is checked here too, before the login
//! ([`check_output_folder`]), so that a folder in the way never costs a
//! generation.

use std::collections::BTreeMap;
use std::path::Path;

use airlock_core::journal::Actor;
use airlock_core::request::VerifiedRequest;
use airlock_core::request::schema::Material;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::CeremonyError;
use crate::runner::Ceremony;
use crate::stage::{Published, RequestStage, Stage};

/// One key of the plan, as the custodians read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanKey {
    /// Key name in the request.
    pub name: String,
    /// KMS alias.
    pub alias: String,
    /// KMS key ARN.
    pub key_arn: String,
    /// AWS account of the ARN.
    pub account: String,
    /// KMS key spec.
    pub key_spec: String,
    /// Wrapping algorithm.
    pub wrapping_algorithm: String,
    /// `generate` or `existing`.
    pub material: String,
    /// The HSM label the key is (or will be) under.
    pub hsm_label: String,
    /// SHA-256 of the AWS wrapping public key (DER SPKI), hex.
    pub wrapping_key_fingerprint: String,
    /// Multi-Region replicas that take the same HSM key, each wrapped
    /// under its own Region's wrapping key (empty for most keys).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<PlanReplica>,
}

/// One replica of a multi-Region key in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanReplica {
    /// The replica's Region.
    pub region: String,
    /// The replica key's ARN (same account and `mrk-` id as the key).
    pub key_arn: String,
    /// Wrapping algorithm for this Region.
    pub wrapping_algorithm: String,
    /// SHA-256 of this Region's AWS wrapping public key (DER SPKI), hex.
    pub wrapping_key_fingerprint: String,
}

/// Everything the ceremony will do, before it does any of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CeremonyPlan {
    /// Request id.
    pub request_id: String,
    /// AWS account.
    pub account: String,
    /// AWS region.
    pub region: String,
    /// SHA-256 of the request's `SHA256SUMS`, hex: what is read aloud.
    pub request_digest: String,
    /// Every key, in request order.
    pub keys: Vec<PlanKey>,
    /// Number of keys per (key spec, wrapping algorithm).
    pub totals: BTreeMap<String, usize>,
}

impl CeremonyPlan {
    /// The plan of a verified request.
    pub fn of(request: &VerifiedRequest) -> CeremonyPlan {
        let request_id = request.request_id.to_string();
        let keys: Vec<PlanKey> = request
            .keys
            .iter()
            .map(|k| {
                let r = &k.request;
                let arn = r.key_arn.to_string();
                PlanKey {
                    name: r.name.to_string(),
                    alias: r.alias.to_string(),
                    account: arn.split(':').nth(4).unwrap_or_default().to_string(),
                    key_arn: arn,
                    key_spec: r.key_spec.to_string(),
                    wrapping_algorithm: r.wrapping_algorithm.to_string(),
                    material: r.material.source().to_string(),
                    hsm_label: match &r.material {
                        Material::Existing { hsm_label } => hsm_label.to_string(),
                        Material::Generate => crate::runner::generated_label(&r.name, &request_id),
                    },
                    wrapping_key_fingerprint: hex::encode(Sha256::digest(&k.wrapping_public_key)),
                    replicas: k
                        .replicas
                        .iter()
                        .map(|vr| PlanReplica {
                            region: vr.request.region.to_string(),
                            key_arn: vr.request.key_arn.to_string(),
                            wrapping_algorithm: vr.request.wrapping_algorithm.to_string(),
                            wrapping_key_fingerprint: hex::encode(Sha256::digest(
                                &vr.wrapping_public_key,
                            )),
                        })
                        .collect(),
                }
            })
            .collect();
        let mut totals = BTreeMap::new();
        for k in &keys {
            *totals
                .entry(format!("{} / {}", k.key_spec, k.wrapping_algorithm))
                .or_insert(0) += 1;
            if !k.replicas.is_empty() {
                *totals
                    .entry("replica wrappings of multi-Region keys".to_string())
                    .or_insert(0) += k.replicas.len();
            }
        }
        CeremonyPlan {
            request_id,
            account: request.aws_account.to_string(),
            region: request.aws_region.to_string(),
            request_digest: request.sums_sha256.to_hex(),
            keys,
            totals,
        }
    }
}

/// How the custodians confirmed a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestConfirmation {
    /// Read aloud group by group against the other side's copy, then
    /// confirmed (typed `yes` on the terminal, the window's button).
    ReadAloud,
    /// The whole digest given (`--request-digest HEX`): compared exactly,
    /// ignoring only spaces and letter case.
    Given(String),
}

impl DigestConfirmation {
    fn method(&self) -> &'static str {
        match self {
            DigestConfirmation::ReadAloud => "read_aloud",
            DigestConfirmation::Given(_) => "given_in_full",
        }
    }
}

/// Normalises a typed digest: spaces, tabs and `:`/`-` group separators
/// dropped, lower case.
pub fn normalise_digest(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Checks, before the login, that the output folder can be created and
/// renamed into place: it does not exist, and its parent is an existing,
/// writable folder (the staging sibling is made in the same parent, so the
/// final rename never crosses a file system; a stale staging folder left by
/// a killed run is wiped when sealing starts).
pub fn check_output_folder(out: &Path) -> Result<(), CeremonyError> {
    let refuse = |problem: String| CeremonyError::OutputFolder {
        path: out.to_path_buf(),
        problem,
    };
    if out.as_os_str().is_empty() {
        return Err(refuse("no output folder was given".into()));
    }
    if std::fs::symlink_metadata(out).is_ok() {
        return Err(refuse(
            "it already exists; the bundle is always written to a new folder: choose another name, or move the old one away".into(),
        ));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let meta = std::fs::metadata(&parent).map_err(|e| {
        refuse(format!(
            "its parent folder {} cannot be read ({e}); mount the output medium first",
            parent.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(refuse(format!("{} is not a folder", parent.display())));
    }
    let probe = parent.join(format!(".airlock-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refuse(format!(
            "its parent folder {} is not writable ({e}); is the medium mounted read-only or write-protected?",
            parent.display()
        ))),
    }
}

impl Ceremony {
    /// The plan of the verified request (after [`Ceremony::verify_request`]).
    pub fn plan(&self) -> Option<CeremonyPlan> {
        self.request().map(CeremonyPlan::of)
    }

    /// Custodians who confirmed the plan so far, in order.
    pub fn plan_confirmed_by(&self) -> &[String] {
        self.stage
            .req()
            .map(|r| r.plan_confirmed.as_slice())
            .unwrap_or(&[])
    }

    /// True once the request digest was confirmed.
    pub fn request_digest_confirmed(&self) -> bool {
        self.stage.req().is_some_and(|r| r.request_digest_confirmed)
    }

    /// True once the bundle digest was confirmed or journaled as not.
    pub fn bundle_digest_settled(&self) -> bool {
        match &self.stage {
            Stage::Published(p) => p.bundle_digest_settled,
            Stage::Ended(e) => e.completed,
            _ => false,
        }
    }

    /// The request stage, for a confirmation that belongs before the login.
    fn before_login(&mut self, step: &'static str) -> Result<&mut RequestStage, CeremonyError> {
        match &mut self.stage {
            Stage::Verified(v) => Ok(&mut v.req),
            Stage::Preflighted(_) => Err(CeremonyError::OutOfOrder {
                step,
                needs: "verify the request first",
            }),
            _ => Err(CeremonyError::OutOfOrder {
                step,
                needs: "nothing: it was confirmed before the login",
            }),
        }
    }

    /// The published stage, for what belongs between publication and wipe.
    fn published(&mut self, step: &'static str) -> Result<&mut Published, CeremonyError> {
        match &mut self.stage {
            Stage::Published(p) => Ok(p),
            Stage::Ended(_) => Err(CeremonyError::OutOfOrder {
                step,
                needs: "nothing: the ceremony ended",
            }),
            _ => Err(CeremonyError::OutOfOrder {
                step,
                needs: "seal and export the bundle first",
            }),
        }
    }

    /// One custodian confirms the plan (journaled `plan_confirmed` with the
    /// roster name). Before the login; the name must be enrolled.
    pub fn confirm_plan(&mut self, custodian: &str) -> Result<(), CeremonyError> {
        self.before_login("confirm the plan")?;
        let Some(share) = self.roster.find(custodian) else {
            let typed = crate::enroll::journal_name(&self.roster, custodian);
            let _ = self.log(
                "plan_confirmation_refused",
                Actor::System,
                json!({ "custodian": typed, "why": "not an enrolled custodian" }),
            );
            return Err(CeremonyError::Quorum(
                airlock_core::quorum::QuorumError::UnknownCustodian {
                    name_sha256: airlock_core::quorum::name_hash(custodian),
                    enrolled: self.roster.names_list(),
                },
            ));
        };
        let name = share.name().clone();
        let req = self.before_login("confirm the plan")?;
        if req.plan_confirmed.iter().any(|n| n == name.as_str()) {
            return Ok(());
        }
        let data = json!({
            "custodian": name.to_string(),
            "request_id": req.request.request_id.to_string(),
            "keys": req.request.keys.len(),
            "sums_sha256": req.request.sums_sha256.to_hex(),
        });
        self.log("plan_confirmed", Actor::Custodian(name.clone()), data)?;
        self.before_login("confirm the plan")?
            .plan_confirmed
            .push(name.to_string());
        Ok(())
    }

    /// The request's `SHA256SUMS` digest was read aloud and matched, or
    /// given in full (compared exactly; a mismatch is journaled and
    /// refused). Before the login.
    pub fn confirm_request_digest(
        &mut self,
        confirmation: DigestConfirmation,
    ) -> Result<(), CeremonyError> {
        let req = self.before_login("confirm the request digest")?;
        let expected = req.request.sums_sha256.to_hex();
        if let DigestConfirmation::Given(typed) = &confirmation {
            let given = normalise_digest(typed);
            if given != expected {
                let shown = if given.len() == 64 && given.bytes().all(|b| b.is_ascii_hexdigit()) {
                    given
                } else {
                    format!("{} characters, not 64 hex digits", given.chars().count())
                };
                let _ = self.log(
                    "request_digest_mismatch",
                    Actor::System,
                    json!({ "given": shown, "expected": expected }),
                );
                return Err(CeremonyError::RequestDigestMismatch {
                    given: shown,
                    expected,
                });
            }
        }
        self.log(
            "request_digest_confirmed",
            Actor::System,
            json!({ "sums_sha256": expected, "method": confirmation.method() }),
        )?;
        self.before_login("confirm the request digest")?
            .request_digest_confirmed = true;
        Ok(())
    }

    /// The published bundle's digest was read aloud and matched (or given
    /// in full). Before the wipe.
    pub fn confirm_bundle_digest(
        &mut self,
        confirmation: DigestConfirmation,
    ) -> Result<(), CeremonyError> {
        let expected = self
            .published("confirm the bundle digest")?
            .export
            .sums_sha256
            .clone();
        if let DigestConfirmation::Given(typed) = &confirmation
            && normalise_digest(typed) != expected
        {
            return Err(CeremonyError::BundleDigestMismatch { expected });
        }
        self.log(
            "bundle_digest_confirmed",
            Actor::System,
            json!({ "sums_sha256": expected, "method": confirmation.method() }),
        )?;
        self.published("confirm the bundle digest")?
            .bundle_digest_settled = true;
        Ok(())
    }

    /// The custodians confirm that no tamper-evident bags are used (no
    /// serial typed); journaled once. Refused while serials are set.
    pub fn confirm_no_seal_serials(&mut self) -> Result<(), CeremonyError> {
        let step = "confirm that no tamper-evident bags were used";
        let already = self.published(step)?.no_seal_serials_confirmed;
        if !self.attestation.seal_serials.is_empty() {
            return Err(CeremonyError::OutOfOrder {
                step,
                needs: "no bag serials set (clear the serials first)",
            });
        }
        if !already {
            self.log(
                "no_seal_serials_confirmed",
                Actor::System,
                json!({ "confirmed_at": "the workstation window" }),
            )?;
            self.published(step)?.no_seal_serials_confirmed = true;
        }
        Ok(())
    }

    /// True when the no-bags confirmation stands (journaled, no serials).
    pub fn no_seal_serials_confirmed(&self) -> bool {
        matches!(&self.stage, Stage::Published(p) if p.no_seal_serials_confirmed)
            && self.attestation.seal_serials.is_empty()
    }

    /// The bundle digest was not confirmed (headless run, or the
    /// custodians said it differs): journaled with the reason, so the wipe
    /// can follow without claiming a read-aloud.
    pub fn bundle_digest_not_confirmed(&mut self, reason: &str) -> Result<(), CeremonyError> {
        let step = "record the bundle digest";
        let sums = self.published(step)?.export.sums_sha256.clone();
        self.log(
            "bundle_digest_not_confirmed",
            Actor::System,
            json!({ "sums_sha256": sums, "reason": reason }),
        )?;
        self.published(step)?.bundle_digest_settled = true;
        Ok(())
    }

    /// Before the login: every authenticated custodian confirmed the plan,
    /// the request digest was confirmed, and the output folder is chosen
    /// and still free.
    pub(crate) fn check_confirmed_before_login(
        &self,
        req: &RequestStage,
    ) -> Result<(), CeremonyError> {
        let missing: Vec<String> = self
            .custodians
            .iter()
            .map(|(n, _)| n.to_string())
            .filter(|n| !req.plan_confirmed.contains(n))
            .collect();
        if !missing.is_empty() || req.plan_confirmed.is_empty() {
            return Err(CeremonyError::PlanNotConfirmed {
                who: if missing.is_empty() {
                    "every custodian".into()
                } else {
                    missing.join(", ")
                },
            });
        }
        if !req.request_digest_confirmed {
            return Err(CeremonyError::OutOfOrder {
                step: "log in to the HSM",
                needs: "the request digest read aloud and confirmed (or given in full with --request-digest)",
            });
        }
        match (&req.out_dir, &req.published_before) {
            (_, Some(_)) => Ok(()),
            (Some(out), None) => check_output_folder(out),
            (None, None) => Err(CeremonyError::OutOfOrder {
                step: "log in to the HSM",
                needs: "the output folder chosen (a new folder on the export medium)",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_groups_and_case() {
        assert_eq!(normalise_digest("AB12 cd34\t-ef:56"), "ab12cd34ef56");
    }

    #[test]
    fn output_folder_must_be_new_and_writable() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("bundle");
        check_output_folder(&out).unwrap();
        std::fs::create_dir(&out).unwrap();
        let e = check_output_folder(&out).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        let e = check_output_folder(&d.path().join("missing/bundle"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be read"), "{e}");
        let file = d.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = check_output_folder(&file.join("b"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a folder"), "{e}");
        // The write probe leaves nothing behind.
        check_output_folder(&d.path().join("other")).unwrap();
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
