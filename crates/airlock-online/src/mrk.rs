//! Multi-Region keys with imported material (issue 16), the pure part:
//! what must hold for each replica before the first change, what is still
//! to do ("already done" from the key material ids KMS shows per region,
//! never tags), the calls `--dry-run` prints, the check after the
//! rotation, and how the report reads the pending multi-Region state.
//!
//! The order KMS documents (API reference, ImportKeyMaterial): the primary
//! first with `ImportType=NEW_KEY_MATERIAL` (no KeyMaterialId: KMS refuses
//! one with NEW), then every replica, each in its own region with its own
//! wrapping and import token, with `EXISTING_KEY_MATERIAL` and the
//! KeyMaterialId the primary's import returned (KMS computes the id from the
//! key id and the material, and a replica shares the primary's key id, so it
//! is the same id; KMS checks it), then `RotateKeyOnDemand` on the primary.
//! Until every replica has the material the primary's new material is
//! `PENDING_MULTI_REGION_IMPORT_AND_ROTATION`, then `PENDING_ROTATION`.
//!
//! `import.rs` makes the calls (a KMS client per replica region).

use std::collections::BTreeMap;

use airlock_core::import_manifest::{ImportKey, ImportReplica};

use crate::decide::Action;
use crate::error::{Error, Result};
use crate::exit::Exit;

/// The KMS key-material state of a primary's new material while a replica
/// still lacks it (ListKeyRotations `KeyMaterialState`; DescribeKey's
/// KeyState has no such value).
pub const PENDING_MULTI_REGION: &str = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION";
/// The state once every replica has it and the rotation is still to run.
pub const PENDING_ROTATION: &str = "PENDING_ROTATION";

/// What KMS says about one replica key in its own region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaObserved {
    /// KeyState.
    pub key_state: String,
    /// Origin.
    pub origin: String,
    /// KeySpec.
    pub key_spec: String,
    /// MultiRegionConfiguration.MultiRegionKeyType (PRIMARY or REPLICA).
    pub multi_region_type: Option<String>,
    /// MultiRegionConfiguration.PrimaryKey.Arn.
    pub primary_arn: Option<String>,
    /// CurrentKeyMaterialId.
    pub current_material: Option<String>,
    /// The KeyMaterialIds ListKeyRotations --include-key-material lists;
    /// None where the endpoint cannot list them (some emulators).
    pub materials: Option<Vec<String>>,
}

impl ReplicaObserved {
    /// Whether KMS shows material `ours` in this replica (current, or
    /// listed by ListKeyRotations).
    pub fn has(&self, ours: &str) -> bool {
        self.current_material.as_deref() == Some(ours)
            || self
                .materials
                .as_ref()
                .is_some_and(|m| m.iter().any(|x| x == ours))
    }
}

fn arn_part(arn: &str, i: usize) -> Option<&str> {
    arn.split(':').nth(i)
}

/// The primary's own multi-Region facts: it must be the PRIMARY of its
/// multi-Region key and rotated on demand (a new multi-Region key behind
/// an alias switch would need an alias in every region: not supported).
pub fn check_primary(
    key: &ImportKey,
    multi_region_type: Option<&str>,
    action: Action,
) -> std::result::Result<(), String> {
    if multi_region_type != Some("PRIMARY") {
        return Err(format!(
            "key {} ({}): import.json lists replicas, but KMS says its MultiRegionKeyType is {}; \
             only the primary of a multi-Region key takes NEW_KEY_MATERIAL for its replicas: check the request",
            key.name,
            key.key_arn,
            multi_region_type.unwrap_or("none (a single-Region key)")
        ));
    }
    if matches!(action, Action::ImportThenSwitch | Action::SwitchOnly) {
        return Err(format!(
            "key {}: a new multi-Region key reached by an alias switch is not supported (aliases are per region); \
             rotate the existing multi-Region key on demand, or prepare a request without replicas for it",
            key.name
        ));
    }
    Ok(())
}

/// Checks one replica before the first change: it exists in its region, is
/// a REPLICA of this primary (same `mrk-` key id), EXTERNAL, of the same
/// key spec, in a state that allows ImportKeyMaterial, and, when it still
/// needs the material, its import parameters are valid at `now`.
/// `obs` is None when DescribeKey in its region said NotFound.
pub fn check_replica(
    key: &ImportKey,
    r: &ImportReplica,
    obs: Option<&ReplicaObserved>,
    needs_import: bool,
    now: time::OffsetDateTime,
) -> Result<()> {
    let at = format!("key {} replica {} ({})", key.name, r.region, r.key_arn);
    let state = |m: String| Error::refused(Exit::KeyState, format!("{at}: {m}"));
    if arn_part(&r.key_arn, 3) != Some(r.region.as_str())
        || crate::kms::key_id_of(&r.key_arn) != crate::kms::key_id_of(&key.key_arn)
        || !crate::kms::key_id_of(&key.key_arn).starts_with("mrk-")
    {
        return Err(Error::refused(
            Exit::Content,
            format!(
                "{at}: not the ARN of the primary's mrk- key id in region {}; the bundle does not match its request",
                r.region
            ),
        ));
    }
    let Some(o) = obs else {
        return Err(state(format!(
            "KMS in {} has no such key; replicate the primary there (ReplicateKey) before importing, or prepare a request without this replica",
            r.region
        )));
    };
    if o.multi_region_type.as_deref() != Some("REPLICA")
        || o.primary_arn.as_deref() != Some(key.key_arn.as_str())
    {
        return Err(state(format!(
            "KMS says MultiRegionKeyType {} with primary {}; it is not a replica of {}",
            o.multi_region_type.as_deref().unwrap_or("none"),
            o.primary_arn.as_deref().unwrap_or("none"),
            key.key_arn
        )));
    }
    if o.origin != "EXTERNAL" {
        return Err(state(format!(
            "origin is {}, not EXTERNAL; imported material can only go into EXTERNAL keys",
            o.origin
        )));
    }
    if o.key_spec != key.key_spec.as_str() {
        return Err(state(format!(
            "KMS says key spec {} but import.json says {}",
            o.key_spec,
            key.key_spec.as_str()
        )));
    }
    if !matches!(o.key_state.as_str(), "Enabled" | "PendingImport") {
        return Err(state(format!(
            "its state is {}; ImportKeyMaterial needs Enabled or PendingImport (enable it, or cancel its deletion)",
            o.key_state
        )));
    }
    if needs_import {
        crate::import::check_not_expired(
            &format!("{} replica {}", key.name, r.region),
            &r.parameters_valid_to,
            now,
        )?;
    }
    Ok(())
}

/// One step of importing a multi-Region key, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// ImportKeyMaterial into the primary, NEW_KEY_MATERIAL, the primary's files.
    ImportPrimary,
    /// ImportKeyMaterial into the replica in `region`, EXISTING_KEY_MATERIAL,
    /// its own files and the primary's KeyMaterialId.
    ImportReplica {
        /// The replica's region.
        region: String,
        /// The replica's ARN.
        key_arn: String,
    },
    /// RotateKeyOnDemand on the primary.
    RotatePrimary,
    /// The primary's CurrentKeyMaterialId changed to the imported material.
    CheckPrimary,
}

/// What is left for a key with replicas, from the primary's action
/// (`decide.rs`) and, per replica region, whether KMS already shows this
/// ceremony's material there (`ReplicaObserved::has`). Replicas come in
/// bundle order. Done is empty only when the primary is rotated to it and
/// every replica has it.
pub fn steps(
    key: &ImportKey,
    action: Action,
    replica_has_ours: &BTreeMap<String, bool>,
) -> std::result::Result<Vec<Step>, String> {
    let missing = || {
        key.replicas
            .iter()
            .filter(|r| {
                action == Action::ImportThenRotate
                    || !replica_has_ours.get(&r.region).copied().unwrap_or(false)
            })
            .map(|r| Step::ImportReplica {
                region: r.region.clone(),
                key_arn: r.key_arn.clone(),
            })
    };
    Ok(match action {
        Action::ImportThenRotate => std::iter::once(Step::ImportPrimary)
            .chain(missing())
            .chain([Step::RotatePrimary, Step::CheckPrimary])
            .collect(),
        Action::RotateOnly => missing()
            .chain([Step::RotatePrimary, Step::CheckPrimary])
            .collect(),
        // Rotated already; a replica without the material (added or
        // deleted since) takes the same material again, with no rotation.
        Action::Done => missing().collect(),
        Action::ImportThenSwitch | Action::SwitchOnly => {
            return Err(format!(
                "key {}: a new multi-Region key reached by an alias switch is not supported (aliases are per region)",
                key.name
            ));
        }
    })
}

/// The calls `--dry-run` prints for `steps` (`expiration`: the
/// ExpirationModel and ValidTo text of the primary's call; `description`:
/// the KeyMaterialDescription; `ours`: the KeyMaterialId when known).
pub fn dry_run_calls(
    key: &ImportKey,
    steps: &[Step],
    expiration: &str,
    description: &str,
    ours: Option<&str>,
) -> Vec<String> {
    let primary_region = arn_part(&key.key_arn, 3).unwrap_or("?");
    let id = ours.unwrap_or("<the KeyMaterialId the primary's import returns>");
    steps
        .iter()
        .map(|s| match s {
            Step::ImportPrimary => format!(
                "kms:ImportKeyMaterial Region={primary_region} KeyId={} ImportType=NEW_KEY_MATERIAL {expiration} \
                 KeyMaterialDescription={description:?} files=keys/{}/{{EncryptedKeyMaterial.bin,ImportToken.bin}}",
                key.key_arn, key.name
            ),
            Step::ImportReplica { region, key_arn } => format!(
                "kms:ImportKeyMaterial Region={region} KeyId={key_arn} ImportType=EXISTING_KEY_MATERIAL KeyMaterialId={id} {expiration} \
                 KeyMaterialDescription={description:?} files=keys/{}/replicas/{region}/{{EncryptedKeyMaterial.bin,ImportToken.bin}}",
                key.name
            ),
            Step::RotatePrimary => format!(
                "kms:RotateKeyOnDemand Region={primary_region} KeyId={}",
                key.key_arn
            ),
            Step::CheckPrimary => format!(
                "kms:DescribeKey Region={primary_region} KeyId={} (CurrentKeyMaterialId must become {id})",
                key.key_arn
            ),
        })
        .collect()
}

/// After the rotation: the replica regions whose CurrentKeyMaterialId is
/// not `ours` (on AWS the rotation on the primary makes it current in every
/// replica; LocalStack 2026.3 leaves the replica on its old material).
pub fn replicas_behind(ours: &str, current: &BTreeMap<String, Option<String>>) -> Vec<String> {
    current
        .iter()
        .filter(|(_, c)| c.as_deref() != Some(ours))
        .map(|(r, _)| r.clone())
        .collect()
}

/// The report's reason for a key whose newest material is pending: named
/// for the replicas still missing it (PENDING_MULTI_REGION_IMPORT_AND_ROTATION)
/// or the rotation still to run (PENDING_ROTATION). None for any other
/// material state. `replica_has_ours`: region -> whether KMS shows it there.
pub fn pending_reason(
    name: &str,
    material_state: &str,
    replica_has_ours: &BTreeMap<String, bool>,
) -> Option<String> {
    match material_state {
        PENDING_MULTI_REGION => {
            let missing: Vec<&str> = replica_has_ours
                .iter()
                .filter(|(_, has)| !**has)
                .map(|(r, _)| r.as_str())
                .collect();
            Some(if missing.is_empty() {
                format!(
                    "{name}: imported into the primary, KMS still shows {PENDING_MULTI_REGION}; \
                     every listed replica has it: rerun import to rotate on demand"
                )
            } else {
                format!(
                    "{name}: imported into the primary only ({PENDING_MULTI_REGION}); the replicas in {} still lack it: \
                     rerun import to import them and rotate",
                    missing.join(", ")
                )
            })
        }
        PENDING_ROTATION => Some(format!(
            "{name}: imported (every replica has it) but not rotated yet ({PENDING_ROTATION}): rerun import to rotate on demand"
        )),
        _ => None,
    }
}

/// The report's reason for a rotated multi-Region key whose resources are
/// not yet on the imported material everywhere: `pending_reason` where
/// KMS shows the primary's material pending (ListKeyRotations
/// `KeyMaterialState`); otherwise, when a replica is not on it
/// (`replica_on_ours`: region -> whether its CurrentKeyMaterialId is the
/// imported one, or, where KMS gives none, the receipt says so), a reason
/// naming those replicas. None when every replica is on it.
pub fn replicas_reason(
    name: &str,
    material_state: Option<&str>,
    replica_on_ours: &BTreeMap<String, bool>,
) -> Option<String> {
    if let Some(why) = material_state.and_then(|s| pending_reason(name, s, replica_on_ours)) {
        return Some(why);
    }
    let missing: Vec<&str> = replica_on_ours
        .iter()
        .filter(|(_, on)| !**on)
        .map(|(r, _)| r.as_str())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{name}: rotated on the primary, but the replicas in {} are not yet on the imported material \
             (by their CurrentKeyMaterialId in their own regions; the receipt only where KMS gives none): \
             rerun import to import it into them, then check each with describe-key in its region \
             (docs/online-runbook.md, \"Multi-Region keys\")",
            missing.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: &str = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd";

    fn key() -> ImportKey {
        let replica = |region: &str| {
            serde_json::json!({"region": region,
                "key_arn": format!("arn:aws:kms:{region}:111122223333:key/mrk-1234abcd"),
                "import_type": "EXISTING_KEY_MATERIAL", "wrapping_algorithm": "RSAES_OAEP_SHA_256",
                "parameters_valid_to": "2026-12-05T00:00:00Z"})
        };
        serde_json::from_value(serde_json::json!({
            "name": "prod-s3", "alias": "alias/prod-s3", "key_arn": PRIMARY,
            "key_spec": "SYMMETRIC_DEFAULT", "import_type": "NEW_KEY_MATERIAL",
            "wrapping_algorithm": "RSAES_OAEP_SHA_256",
            "parameters_valid_to": "2026-12-05T00:00:00Z",
            "hsm_label": "prod-s3/r", "kcv": "ABCDEF", "public_key_sha256": null,
            "replicas": [replica("us-east-1"), replica("ap-south-1")]}))
        .unwrap_or_else(|e| panic!("the test's ImportKey shape: {e}"))
    }

    fn replica_obs() -> ReplicaObserved {
        ReplicaObserved {
            key_state: "Enabled".into(),
            origin: "EXTERNAL".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            multi_region_type: Some("REPLICA".into()),
            primary_arn: Some(PRIMARY.into()),
            current_material: Some("old".into()),
            materials: None,
        }
    }

    fn now() -> time::OffsetDateTime {
        time::macros::datetime!(2026-12-04 20:00 UTC)
    }

    #[test]
    fn a_good_replica_passes_and_every_broken_fact_is_refused_naming_it() {
        let k = key();
        let r = &k.replicas[0];
        assert!(check_replica(&k, r, Some(&replica_obs()), true, now()).is_ok());
        let refused = |o: Option<&ReplicaObserved>, needs: bool, at| {
            let e = check_replica(&k, r, o, needs, at).unwrap_err();
            (e.exit(), e.to_string())
        };
        let (x, m) = refused(None, true, now());
        assert_eq!(x, Exit::KeyState);
        assert!(
            m.contains("replica us-east-1") && m.contains("ReplicateKey"),
            "{m}"
        );
        let mut o = replica_obs();
        o.multi_region_type = Some("PRIMARY".into());
        assert!(
            refused(Some(&o), true, now())
                .1
                .contains("not a replica of")
        );
        let mut o = replica_obs();
        o.primary_arn = Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-other".into());
        assert_eq!(refused(Some(&o), true, now()).0, Exit::KeyState);
        let mut o = replica_obs();
        o.origin = "AWS_KMS".into();
        assert!(refused(Some(&o), true, now()).1.contains("not EXTERNAL"));
        let mut o = replica_obs();
        o.key_spec = "HMAC_256".into();
        assert!(
            refused(Some(&o), true, now())
                .1
                .contains("key spec HMAC_256")
        );
        let mut o = replica_obs();
        o.key_state = "PendingDeletion".into();
        assert!(refused(Some(&o), true, now()).1.contains("PendingDeletion"));
        o.key_state = "PendingImport".into();
        assert!(check_replica(&k, r, Some(&o), true, now()).is_ok());
        // Expired parameters: refused only while the replica still needs them.
        let later = time::macros::datetime!(2026-12-06 00:00 UTC);
        assert_eq!(refused(Some(&replica_obs()), true, later).0, Exit::Expired);
        assert!(check_replica(&k, r, Some(&replica_obs()), false, later).is_ok());
        // A replica ARN in another region or with another key id.
        let mut bad = r.clone();
        bad.key_arn = PRIMARY.into();
        let e = check_replica(&k, &bad, Some(&replica_obs()), true, now()).unwrap_err();
        assert_eq!(e.exit(), Exit::Content);
    }

    #[test]
    fn the_primary_must_be_primary_and_rotated_on_demand() {
        let k = key();
        assert!(check_primary(&k, Some("PRIMARY"), Action::ImportThenRotate).is_ok());
        assert!(
            check_primary(&k, None, Action::ImportThenRotate)
                .unwrap_err()
                .contains("single-Region")
        );
        assert!(
            check_primary(&k, Some("REPLICA"), Action::RotateOnly)
                .unwrap_err()
                .contains("REPLICA")
        );
        assert!(
            check_primary(&k, Some("PRIMARY"), Action::ImportThenSwitch)
                .unwrap_err()
                .contains("not supported")
        );
    }

    fn has(us: bool, ap: bool) -> BTreeMap<String, bool> {
        [
            ("us-east-1".to_string(), us),
            ("ap-south-1".to_string(), ap),
        ]
        .into()
    }

    fn rep(region: &str) -> Step {
        Step::ImportReplica {
            region: region.into(),
            key_arn: format!("arn:aws:kms:{region}:111122223333:key/mrk-1234abcd"),
        }
    }

    #[test]
    fn steps_are_primary_then_replicas_then_rotation_and_skip_what_kms_shows_done() {
        let k = key();
        assert_eq!(
            steps(&k, Action::ImportThenRotate, &has(false, false)).unwrap(),
            vec![
                Step::ImportPrimary,
                rep("us-east-1"),
                rep("ap-south-1"),
                Step::RotatePrimary,
                Step::CheckPrimary
            ]
        );
        // The primary's import is not known to KMS yet: no replica can be done.
        assert_eq!(
            steps(&k, Action::ImportThenRotate, &has(true, true))
                .unwrap()
                .len(),
            5
        );
        // A rerun after us-east-1 took it: only ap-south-1, then the rotation.
        assert_eq!(
            steps(&k, Action::RotateOnly, &has(true, false)).unwrap(),
            vec![rep("ap-south-1"), Step::RotatePrimary, Step::CheckPrimary]
        );
        assert_eq!(
            steps(&k, Action::RotateOnly, &has(true, true)).unwrap(),
            vec![Step::RotatePrimary, Step::CheckPrimary]
        );
        assert_eq!(steps(&k, Action::Done, &has(true, true)).unwrap(), vec![]);
        assert_eq!(
            steps(&k, Action::Done, &has(false, true)).unwrap(),
            vec![rep("us-east-1")]
        );
        // A region KMS was not asked about counts as missing.
        assert_eq!(
            steps(&k, Action::RotateOnly, &BTreeMap::new())
                .unwrap()
                .len(),
            4
        );
        assert!(steps(&k, Action::SwitchOnly, &has(true, true)).is_err());
    }

    #[test]
    fn already_done_comes_from_the_material_ids_kms_shows() {
        let mut o = replica_obs();
        assert!(!o.has("m-ours"));
        o.materials = Some(vec!["old".into(), "m-ours".into()]);
        assert!(o.has("m-ours"), "listed by ListKeyRotations");
        o.materials = None;
        o.current_material = Some("m-ours".into());
        assert!(o.has("m-ours"), "current");
    }

    #[test]
    fn dry_run_names_every_call_with_its_region_and_the_primary_material_id() {
        let k = key();
        let s = steps(&k, Action::ImportThenRotate, &has(false, false)).unwrap();
        let calls = dry_run_calls(
            &k,
            &s,
            "ExpirationModel=KEY_MATERIAL_DOES_NOT_EXPIRE",
            "airlock ceremony c",
            None,
        );
        assert_eq!(calls.len(), 5);
        assert!(
            calls[0].starts_with("kms:ImportKeyMaterial Region=eu-west-1")
                && calls[0].contains("ImportType=NEW_KEY_MATERIAL")
                && !calls[0].contains("KeyMaterialId="),
            "{}",
            calls[0]
        );
        assert!(
            calls[1].contains("Region=us-east-1")
                && calls[1].contains("ImportType=EXISTING_KEY_MATERIAL")
                && calls[1]
                    .contains("KeyMaterialId=<the KeyMaterialId the primary's import returns>")
                && calls[1].contains("keys/prod-s3/replicas/us-east-1/"),
            "{}",
            calls[1]
        );
        assert!(calls[2].contains("Region=ap-south-1"));
        assert!(calls[3].starts_with("kms:RotateKeyOnDemand Region=eu-west-1"));
        let s = steps(&k, Action::RotateOnly, &has(true, false)).unwrap();
        let calls = dry_run_calls(&k, &s, "", "d", Some("m-ours"));
        assert!(calls[0].contains("KeyMaterialId=m-ours"), "{}", calls[0]);
    }

    #[test]
    fn replicas_behind_after_the_rotation_are_named() {
        let cur: BTreeMap<String, Option<String>> = [
            ("us-east-1".to_string(), Some("m-ours".to_string())),
            ("ap-south-1".to_string(), Some("old".to_string())),
        ]
        .into();
        assert_eq!(replicas_behind("m-ours", &cur), vec!["ap-south-1"]);
        assert!(replicas_behind("old", &cur) == vec!["us-east-1"]);
    }

    #[test]
    fn the_report_reads_the_pending_multi_region_state_naming_missing_replicas() {
        let why = pending_reason("prod-s3", PENDING_MULTI_REGION, &has(true, false)).unwrap();
        assert!(
            why.contains("replicas in ap-south-1") && !why.contains("us-east-1"),
            "{why}"
        );
        let why = pending_reason("prod-s3", PENDING_MULTI_REGION, &has(false, false)).unwrap();
        assert!(why.contains("ap-south-1, us-east-1"), "{why}");
        assert!(
            pending_reason("prod-s3", PENDING_ROTATION, &has(true, true))
                .unwrap()
                .contains("not rotated yet")
        );
        assert_eq!(pending_reason("prod-s3", "CURRENT", &has(true, true)), None);
    }

    #[test]
    fn the_report_names_replicas_not_on_the_material_of_a_rotated_key() {
        // KMS's material state wins where it shows one.
        let why =
            replicas_reason("prod-s3", Some(PENDING_MULTI_REGION), &has(true, false)).unwrap();
        assert!(
            why.contains(PENDING_MULTI_REGION) && why.contains("replicas in ap-south-1"),
            "{why}"
        );
        // CURRENT on the primary (or no ListKeyRotations): the replicas decide.
        for state in [Some("CURRENT"), None] {
            let why = replicas_reason("prod-s3", state, &has(false, false)).unwrap();
            assert!(
                why.contains(
                    "replicas in ap-south-1, us-east-1 are not yet on the imported material"
                ) && !why.contains(PENDING_MULTI_REGION),
                "{why}"
            );
            assert_eq!(replicas_reason("prod-s3", state, &has(true, true)), None);
        }
    }
}
