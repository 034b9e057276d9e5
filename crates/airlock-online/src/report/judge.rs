//! Judging one resource against the plan and the receipts (never tags):
//! COMPLIANT only on a rotated key (a receipt says done, not rolled back)
//! and, for on-demand keys, with the imported material current;
//! NON_COMPLIANT on a replaced key or old material; PENDING when planned
//! but not yet imported, or, for a multi-Region key, while a replica is
//! not yet on the imported material (`replica_on_material`); ERROR when any AWS call about it failed;
//! NOT_APPLICABLE (NON_COMPLIANT with --require-byok) for SSE-S3, AWS
//! owned or managed keys, unencrypted resources and keys outside the plan.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::Plan;
use crate::receipt::{Receipt, ReplicaReceipt, Strategy};

/// A verdict, ordered from best to worst for combining parts of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Not on a customer key (and BYOK not required).
    NotApplicable,
    /// On the rotated key with the imported material.
    Compliant,
    /// Planned, not yet imported.
    Pending,
    /// On a replaced key or old material (or not BYOK under --require-byok).
    NonCompliant,
    /// An AWS call about it failed: the report cannot vouch for it.
    Error,
}

impl Status {
    /// The spelling in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotApplicable => "NOT_APPLICABLE",
            Status::Compliant => "COMPLIANT",
            Status::Pending => "PENDING",
            Status::NonCompliant => "NON_COMPLIANT",
            Status::Error => "ERROR",
        }
    }
}

/// What encrypts a resource (or one part of it, e.g. an S3 object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// No customer key: why (SSE-S3, AWS owned key, unencrypted).
    NoKey(String),
    /// A KMS key id, ARN, alias name or alias ARN.
    Key(String),
}

/// What KMS says about a referenced key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyInfo {
    /// Its ARN.
    pub arn: String,
    /// AWS or CUSTOMER.
    pub manager: String,
    /// AWS_KMS, EXTERNAL, ...
    pub origin: String,
    /// CurrentKeyMaterialId.
    pub current_material: Option<String>,
    /// KeyState (Enabled, PendingImport, ...).
    pub state: String,
    /// ValidTo (Unix seconds): the earliest expiry of any of its materials.
    pub valid_to: Option<i64>,
    /// ExpirationModel, when KMS gives one (EXTERNAL keys).
    pub expiration_model: Option<String>,
}

/// A rotated key, from a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// Plan key name.
    pub name: String,
    /// Environment.
    pub environment: String,
    /// How it was rotated.
    pub strategy: Strategy,
    /// The imported KeyMaterialId.
    pub material: Option<String>,
    /// When the receipt says the material was imported (RFC 3339).
    pub imported_at: Option<String>,
    /// The ExpirationModel the receipt recorded for the import.
    pub expiration_model: Option<String>,
    /// The ValidTo the receipt recorded (RFC 3339), for expiring material.
    pub valid_to: Option<String>,
    /// Its multi-Region replicas as the receipt records them (empty for a
    /// single-Region key).
    pub replicas: Vec<ReplicaReceipt>,
}

/// What KMS says about a rotated multi-Region key beyond its primary's
/// DescribeKey (`report` asks; any failed call is an `Err` and makes the
/// resources on the key ERROR).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MrkObserved {
    /// The KeyMaterialState of the imported material on the primary
    /// (ListKeyRotations --include-key-material); None where the endpoint
    /// has no ListKeyRotations or does not list that material.
    pub material_state: Option<String>,
    /// Per replica region: the CurrentKeyMaterialId DescribeKey gives in
    /// that region (None: KMS gave none).
    pub replica_current: BTreeMap<String, Option<String>>,
}

/// What the plan and receipts say about key ARNs.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// Rotated keys by ARN.
    pub rotated: BTreeMap<String, Rotated>,
    /// Replaced keys by ARN -> (name, environment, the key that replaced it).
    pub replaced: BTreeMap<String, (String, String, String)>,
    /// Keys planned but not rotated yet by ARN -> (name, environment).
    pub planned: BTreeMap<String, (String, String)>,
    /// The time material expiry is judged at (Unix seconds).
    pub now: i64,
    /// What KMS says about each rotated multi-Region key, by primary ARN
    /// (filled by `report` after the receipts are read).
    pub multi_region: BTreeMap<String, Result<MrkObserved, String>>,
}

impl Knowledge {
    /// Builds it from the plan, the receipts and the current alias targets
    /// (alias name -> key ARN).
    pub fn new(plan: &Plan, receipts: &[Receipt], alias_arns: &BTreeMap<String, String>) -> Self {
        let mut k = Knowledge {
            now: time::OffsetDateTime::now_utc().unix_timestamp(),
            ..Knowledge::default()
        };
        let mut rs: Vec<&Receipt> = receipts.iter().collect();
        rs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        let names: BTreeMap<&str, &str> = plan
            .keys
            .iter()
            .map(|p| (p.name.as_str(), p.environment.as_str()))
            .collect();
        let mut latest: BTreeMap<String, (String, Rotated, bool)> = BTreeMap::new();
        for r in rs {
            for key in &r.keys {
                let Some(env) = names.get(key.name.as_str()) else {
                    continue;
                };
                if let Some(prev) = &key.previous_alias_target
                    && key.status == "done"
                {
                    k.replaced.insert(
                        prev.clone(),
                        (key.name.clone(), env.to_string(), key.key_arn.clone()),
                    );
                }
                let done = key.status == "done" && r.rolled_back_at.is_none();
                latest.insert(
                    key.name.clone(),
                    (
                        key.key_arn.clone(),
                        Rotated {
                            name: key.name.clone(),
                            environment: env.to_string(),
                            strategy: key.strategy,
                            material: key.imported_key_material_id.clone(),
                            imported_at: key.imported_at.clone(),
                            expiration_model: key.expiration_model.clone(),
                            valid_to: key.valid_to.clone(),
                            replicas: key.replicas.clone(),
                        },
                        done,
                    ),
                );
            }
        }
        for (arn, rot, done) in latest.into_values() {
            if done {
                k.replaced.remove(&arn);
                k.rotated.insert(arn, rot);
            } else {
                k.planned.insert(arn, (rot.name, rot.environment));
            }
        }
        for p in &plan.keys {
            if let Some(arn) = alias_arns.get(&p.alias)
                && !k.rotated.contains_key(arn)
                && !k.replaced.contains_key(arn)
            {
                k.planned
                    .insert(arn.clone(), (p.name.clone(), p.environment.clone()));
            }
        }
        k
    }

    /// The plan's environment for a key ARN, if the plan knows the key.
    pub fn environment_of(&self, arn: &str) -> Option<&str> {
        self.rotated
            .get(arn)
            .map(|r| r.environment.as_str())
            .or_else(|| self.replaced.get(arn).map(|r| r.1.as_str()))
            .or_else(|| self.planned.get(arn).map(|r| r.1.as_str()))
    }
}

/// When a rotated key's material expires (Unix seconds): KMS's ValidTo
/// when KMS gives one (it is current: a re-import of the same material
/// moves it); none when KMS says KEY_MATERIAL_DOES_NOT_EXPIRE (a re-import
/// without expiry); else the ValidTo the receipt recorded (KMS gave no
/// model, or KEY_MATERIAL_EXPIRES without a ValidTo, as LocalStack does).
pub fn effective_valid_to(
    receipt_valid_to: Option<&str>,
    kms_model: Option<&str>,
    kms_valid_to: Option<i64>,
) -> Option<i64> {
    match (kms_valid_to, kms_model) {
        (Some(t), _) => Some(t),
        (None, Some("KEY_MATERIAL_DOES_NOT_EXPIRE")) => None,
        (None, _) => receipt_valid_to
            .and_then(crate::lifecycle::parse)
            .map(|t| t.unix_timestamp()),
    }
}

/// Why a rotated key cannot be used now, if it cannot: its material
/// expired (`effective_valid_to`), or KMS shows it PendingImport (what KMS
/// does when imported material expires or is deleted).
pub fn material_unusable(rot: &Rotated, key: &KeyInfo, now: i64) -> Option<String> {
    let expiry = effective_valid_to(
        rot.valid_to.as_deref(),
        key.expiration_model.as_deref(),
        key.valid_to,
    );
    if let Some(t) = expiry
        && t <= now
    {
        let at = time::OffsetDateTime::from_unix_timestamp(t)
            .map(crate::lifecycle::rfc3339)
            .unwrap_or_else(|_| t.to_string());
        return Some(format!(
            "on {}'s key, but its imported material expired at {at}: KMS deletes expired material and the key is unusable \
             (PendingImport) until the same material is re-imported (docs/online-runbook.md, \"Expiring material\")",
            rot.name
        ));
    }
    if key.state == "PendingImport" {
        return Some(format!(
            "on {}'s key, but KMS shows it PendingImport: its material expired or was deleted and the key is unusable \
             until the same material is re-imported",
            rot.name
        ));
    }
    None
}

/// Per replica region of a rotated multi-Region key: whether it is on the
/// imported material. KMS decides where it can tell (the CurrentKeyMaterialId
/// DescribeKey gives in the replica's region is, or is not, the receipt's
/// imported KeyMaterialId); only where KMS gives no CurrentKeyMaterialId
/// does the receipt's replica status stand in (`current`, with that id).
pub fn replica_on_material(rot: &Rotated, obs: &MrkObserved) -> BTreeMap<String, bool> {
    let ours = rot.material.as_deref();
    rot.replicas
        .iter()
        .map(|r| {
            let on = match obs.replica_current.get(&r.region) {
                Some(Some(current)) => ours == Some(current.as_str()),
                _ => {
                    r.status == "current" && ours.is_some() && r.key_material_id.as_deref() == ours
                }
            };
            (r.region.clone(), on)
        })
        .collect()
}

/// The replica regions of a rotated multi-Region key not (yet) on the
/// imported material, as far as KMS (or, where it cannot tell, the
/// receipt) shows; empty for other keys and when KMS could not be asked.
pub fn replicas_missing(k: &Knowledge, arn: &str) -> Vec<String> {
    match (k.rotated.get(arn), k.multi_region.get(arn)) {
        (Some(rot), Some(Ok(obs))) if !rot.replicas.is_empty() => replica_on_material(rot, obs)
            .into_iter()
            .filter(|(_, on)| !on)
            .map(|(r, _)| r)
            .collect(),
        _ => Vec::new(),
    }
}

/// A rotated key that is otherwise COMPLIANT: PENDING while one of its
/// multi-Region replicas is not on the imported material (the reason from
/// `mrk::replicas_reason`), ERROR when KMS could not be asked about them.
fn multi_region_verdict(
    arn: &str,
    rot: &Rotated,
    k: &Knowledge,
    compliant: (Status, String),
) -> (Status, String) {
    if rot.replicas.is_empty() {
        return compliant;
    }
    let obs = match k.multi_region.get(arn) {
        None => {
            return (
                Status::Error,
                format!(
                    "on {}'s multi-Region key, whose replicas were not looked up",
                    rot.name
                ),
            );
        }
        Some(Err(e)) => {
            return (
                Status::Error,
                format!("on {}'s multi-Region key: {e}", rot.name),
            );
        }
        Some(Ok(o)) => o,
    };
    let on = replica_on_material(rot, obs);
    match crate::mrk::replicas_reason(&rot.name, obs.material_state.as_deref(), &on) {
        Some(why) => (
            Status::Pending,
            format!("on {}'s multi-Region key: {why}", rot.name),
        ),
        None => (
            compliant.0,
            format!(
                "{}, and every replica ({}) is on it",
                compliant.1,
                on.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ),
        ),
    }
}

/// Judges one key reference; `key` is KMS's answer for it (None for
/// `KeyRef::NoKey`).
pub fn judge(
    r: &KeyRef,
    key: Option<&Result<KeyInfo, String>>,
    k: &Knowledge,
    require_byok: bool,
) -> (Status, String) {
    let not_byok = |why: String| {
        if require_byok {
            (Status::NonCompliant, format!("{why}; BYOK is required"))
        } else {
            (Status::NotApplicable, why)
        }
    };
    let key = match (r, key) {
        (KeyRef::NoKey(why), _) => return not_byok(why.clone()),
        (KeyRef::Key(id), None) => return (Status::Error, format!("key {id} was not looked up")),
        (KeyRef::Key(id), Some(Err(e))) => {
            return (Status::Error, format!("key {id}: {e}"));
        }
        (KeyRef::Key(_), Some(Ok(info))) => info,
    };
    if let Some(rot) = k.rotated.get(&key.arn) {
        if let Some(why) = material_unusable(rot, key, k.now) {
            return (Status::NonCompliant, why);
        }
        return match rot.strategy {
            Strategy::AliasSwitch => multi_region_verdict(
                &key.arn,
                rot,
                k,
                (
                    Status::Compliant,
                    format!("on {}'s rotated key (new key, alias switched)", rot.name),
                ),
            ),
            Strategy::OnDemand => {
                if rot.material.is_some() && key.current_material == rot.material {
                    multi_region_verdict(
                        &key.arn,
                        rot,
                        k,
                        (
                            Status::Compliant,
                            format!(
                                "on {}'s key, current material is the imported one",
                                rot.name
                            ),
                        ),
                    )
                } else {
                    (
                        Status::NonCompliant,
                        format!(
                            "on {}'s key but its current material {:?} is not the imported {:?}",
                            rot.name, key.current_material, rot.material
                        ),
                    )
                }
            }
        };
    }
    if let Some((name, _, new)) = k.replaced.get(&key.arn) {
        return (
            Status::NonCompliant,
            format!("on {name}'s replaced key {}; move it to {new}", key.arn),
        );
    }
    if let Some((name, _)) = k.planned.get(&key.arn) {
        return (
            Status::Pending,
            format!("on {name}'s key, planned but not yet imported"),
        );
    }
    if key.manager == "AWS" {
        return not_byok(format!("AWS managed key {}", key.arn));
    }
    if key.origin != "EXTERNAL" {
        return not_byok(format!(
            "customer key {} outside the plan, not BYOK ({})",
            key.arn, key.origin
        ));
    }
    (
        Status::NotApplicable,
        format!("BYOK key {} outside the plan", key.arn),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::KeyReceipt;

    fn plan() -> Plan {
        crate::plan::parse(
            br#"{"format": "airlock-plan/1", "request_id": "r",
                 "keys": [{"name": "dev-s3", "alias": "alias/dev-s3", "environment": "dev", "service": "s3",
                           "key_spec": "SYMMETRIC_DEFAULT", "strategy": "on-demand"},
                          {"name": "dev-rds", "alias": "alias/dev-rds", "environment": "dev", "service": "rds",
                           "key_spec": "SYMMETRIC_DEFAULT", "strategy": "new-key"},
                          {"name": "int-rds", "alias": "alias/int-rds", "environment": "int", "service": "rds",
                           "key_spec": "SYMMETRIC_DEFAULT", "strategy": "new-key"}]}"#,
            "plan",
        )
        .unwrap()
    }

    fn key(name: &str, arn: &str, strategy: Strategy, status: &str) -> KeyReceipt {
        KeyReceipt {
            name: name.into(),
            alias: format!("alias/{name}"),
            key_arn: arn.into(),
            service: None,
            strategy,
            previous_key_material_id: None,
            imported_key_material_id: Some("m-new".into()),
            previous_alias_target: (strategy == Strategy::AliasSwitch)
                .then(|| format!("{arn}-old")),
            status: status.into(),
            imported_at: None,
            rotated_at: None,
            alias_switched_at: None,
            tested: true,
            old_ciphertext_decrypts: None,
            pre_rotation_ciphertext: None,
            expiration_model: None,
            valid_to: None,
            replicas: Vec::new(),
        }
    }

    fn receipt(keys: Vec<KeyReceipt>, rolled_back: bool) -> Receipt {
        let mut r: Receipt = serde_json::from_value(serde_json::json!({
            "format": "airlock-receipt/2", "request_id": "r", "ceremony_id": "c", "environment": "dev",
            "bundle_sums_sha256": "", "ceremony_key_fingerprint": "", "account": "", "region": "",
            "air_gapped": true, "started_at": "2026-01-01T00:00:00Z", "completed_at": null,
            "order_override": null, "rolled_back_at": null, "keys": []}))
        .unwrap();
        r.keys = keys;
        if rolled_back {
            r.rolled_back_at = Some("2026-01-02T00:00:00Z".into());
        }
        r
    }

    fn info(arn: &str, material: Option<&str>) -> Option<Result<KeyInfo, String>> {
        Some(Ok(KeyInfo {
            arn: arn.into(),
            manager: "CUSTOMER".into(),
            origin: "EXTERNAL".into(),
            current_material: material.map(str::to_string),
            state: "Enabled".into(),
            valid_to: None,
            expiration_model: None,
        }))
    }

    fn aliases() -> BTreeMap<String, String> {
        [
            ("alias/dev-s3", "s3key"),
            ("alias/dev-rds", "rdsnew"),
            ("alias/int-rds", "intold"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    #[test]
    fn before_any_import_everything_planned_is_pending() {
        let k = Knowledge::new(&plan(), &[], &aliases());
        let r = KeyRef::Key("alias/int-rds".into());
        assert_eq!(
            judge(&r, info("intold", None).as_ref(), &k, false).0,
            Status::Pending
        );
        assert_eq!(
            judge(&r, info("s3key", Some("m-old")).as_ref(), &k, false).0,
            Status::Pending
        );
        assert_eq!(k.environment_of("intold"), Some("int"));
    }

    #[test]
    fn after_import() {
        let rs = vec![receipt(
            vec![
                key("dev-s3", "s3key", Strategy::OnDemand, "done"),
                key("dev-rds", "rdsnew", Strategy::AliasSwitch, "done"),
            ],
            false,
        )];
        let k = Knowledge::new(&plan(), &rs, &aliases());
        let r = KeyRef::Key("x".into());
        assert_eq!(
            judge(&r, info("s3key", Some("m-new")).as_ref(), &k, false).0,
            Status::Compliant
        );
        // on-demand key whose current material is not the imported one
        assert_eq!(
            judge(&r, info("s3key", Some("m-old")).as_ref(), &k, false).0,
            Status::NonCompliant
        );
        assert_eq!(
            judge(&r, info("rdsnew", None).as_ref(), &k, false).0,
            Status::Compliant
        );
        let (s, why) = judge(&r, info("rdsnew-old", None).as_ref(), &k, false);
        assert_eq!(s, Status::NonCompliant);
        assert!(why.contains("replaced") && why.contains("rdsnew"));
        assert_eq!(k.environment_of("rdsnew-old"), Some("dev"));
    }

    #[test]
    fn expired_material_is_non_compliant_and_soon_is_still_compliant() {
        let mut s3 = key("dev-s3", "s3key", Strategy::OnDemand, "done");
        s3.expiration_model = Some("KEY_MATERIAL_EXPIRES".into());
        s3.valid_to = Some("2026-12-14T20:00:00Z".into());
        let rs = vec![receipt(vec![s3], false)];
        let mut k = Knowledge::new(&plan(), &rs, &aliases());
        let r = KeyRef::Key("x".into());
        let ten_days_before = time::macros::datetime!(2026-12-04 20:00 UTC).unix_timestamp();
        k.now = ten_days_before;
        let (s, _) = judge(&r, info("s3key", Some("m-new")).as_ref(), &k, false);
        assert_eq!(
            s,
            Status::Compliant,
            "expiring soon is a warning, not a verdict"
        );
        k.now = time::macros::datetime!(2026-12-14 20:00 UTC).unix_timestamp();
        let (s, why) = judge(&r, info("s3key", Some("m-new")).as_ref(), &k, false);
        assert_eq!(s, Status::NonCompliant);
        assert!(why.contains("expired at 2026-12-14T20:00:00Z"), "{why}");
        // KMS's own ValidTo wins when KMS gives an ExpirationModel: earlier ...
        k.now = ten_days_before;
        let mut i = info("s3key", Some("m-new"));
        if let Some(Ok(x)) = i.as_mut() {
            x.valid_to = Some(ten_days_before - 1);
            x.expiration_model = Some("KEY_MATERIAL_EXPIRES".into());
        }
        assert_eq!(judge(&r, i.as_ref(), &k, false).0, Status::NonCompliant);
        // ... or later, after a re-import of the same material moved it.
        k.now = time::macros::datetime!(2026-12-20 00:00 UTC).unix_timestamp();
        if let Some(Ok(x)) = i.as_mut() {
            x.valid_to = Some(time::macros::datetime!(2027-06-01 00:00 UTC).unix_timestamp());
        }
        assert_eq!(judge(&r, i.as_ref(), &k, false).0, Status::Compliant);
        // ... or none, re-imported without expiry.
        if let Some(Ok(x)) = i.as_mut() {
            x.valid_to = None;
            x.expiration_model = Some("KEY_MATERIAL_DOES_NOT_EXPIRE".into());
        }
        assert_eq!(judge(&r, i.as_ref(), &k, false).0, Status::Compliant);
        // Without KMS's model or ValidTo (an emulator), the receipt's ValidTo decides.
        for model in [None, Some("KEY_MATERIAL_EXPIRES")] {
            if let Some(Ok(x)) = i.as_mut() {
                x.expiration_model = model.map(str::to_string);
            }
            assert_eq!(
                judge(&r, i.as_ref(), &k, false).0,
                Status::NonCompliant,
                "{model:?}"
            );
        }
        // And a rotated key KMS shows PendingImport is unusable.
        let mut i = info("s3key", Some("m-new"));
        if let Some(Ok(x)) = i.as_mut() {
            x.state = "PendingImport".into();
        }
        let (s, why) = judge(&r, i.as_ref(), &k, false);
        assert_eq!(s, Status::NonCompliant);
        assert!(why.contains("PendingImport"), "{why}");
    }

    #[test]
    fn rolled_back_and_unfinished_are_not_compliant() {
        let rs = vec![receipt(
            vec![key("dev-rds", "rdsnew", Strategy::AliasSwitch, "done")],
            true,
        )];
        let k = Knowledge::new(&plan(), &rs, &aliases());
        assert_eq!(
            judge(
                &KeyRef::Key("x".into()),
                info("rdsnew", None).as_ref(),
                &k,
                false
            )
            .0,
            Status::Pending
        );
        let rs = vec![receipt(
            vec![key("dev-rds", "rdsnew", Strategy::AliasSwitch, "imported")],
            false,
        )];
        let k = Knowledge::new(&plan(), &rs, &aliases());
        assert_eq!(
            judge(
                &KeyRef::Key("x".into()),
                info("rdsnew", None).as_ref(),
                &k,
                false
            )
            .0,
            Status::Pending
        );
    }

    fn mrk_receipts(replica_status: &str) -> Vec<Receipt> {
        let mut s3 = key("dev-s3", "s3key", Strategy::OnDemand, "done");
        for region in ["us-east-1", "ap-south-1"] {
            s3.replicas.push(ReplicaReceipt {
                region: region.into(),
                key_arn: format!("arn:aws:kms:{region}:1:key/mrk-1"),
                key_material_id: Some("m-new".into()),
                status: replica_status.into(),
                imported_at: Some("2026-12-04T20:00:00Z".into()),
            });
        }
        vec![receipt(vec![s3], false)]
    }

    fn seen(
        state: Option<&str>,
        us: Option<&str>,
        ap: Option<&str>,
    ) -> Result<MrkObserved, String> {
        Ok(MrkObserved {
            material_state: state.map(str::to_string),
            replica_current: [
                ("us-east-1".to_string(), us.map(str::to_string)),
                ("ap-south-1".to_string(), ap.map(str::to_string)),
            ]
            .into(),
        })
    }

    #[test]
    fn a_multi_region_key_is_pending_until_kms_shows_every_replica_on_the_material() {
        let mut k = Knowledge::new(&plan(), &mrk_receipts("not-current"), &aliases());
        let r = KeyRef::Key("alias/dev-s3".into());
        let primary = info("s3key", Some("m-new"));
        // What LocalStack 2026.3 shows after the import: the rotation did not
        // reach the replicas, both keep their old CurrentKeyMaterialId.
        k.multi_region
            .insert("s3key".into(), seen(None, Some("m-old"), Some("m-old")));
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Pending);
        assert!(
            why.contains("replicas in ap-south-1, us-east-1 are not yet on the imported material"),
            "{why}"
        );
        assert_eq!(
            replicas_missing(&k, "s3key"),
            vec!["ap-south-1", "us-east-1"]
        );
        // One replica on it: only the other is named.
        k.multi_region.insert(
            "s3key".into(),
            seen(Some("CURRENT"), Some("m-new"), Some("m-old")),
        );
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Pending);
        assert!(
            why.contains("replicas in ap-south-1 ") && !why.contains("us-east-1"),
            "{why}"
        );
        // What AWS shows after the rotation: every replica on it.
        k.multi_region.insert(
            "s3key".into(),
            seen(Some("CURRENT"), Some("m-new"), Some("m-new")),
        );
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Compliant);
        assert!(
            why.contains("every replica (ap-south-1, us-east-1) is on it"),
            "{why}"
        );
        assert!(replicas_missing(&k, "s3key").is_empty());
        // KMS's material state, where it lists one, gives the reason.
        k.multi_region.insert(
            "s3key".into(),
            seen(
                Some(crate::mrk::PENDING_MULTI_REGION),
                Some("m-new"),
                Some("m-old"),
            ),
        );
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Pending);
        assert!(
            why.contains(crate::mrk::PENDING_MULTI_REGION) && why.contains("ap-south-1"),
            "{why}"
        );
        // Old material on the primary stays NON_COMPLIANT (worse than pending).
        let (s, _) = judge(&r, info("s3key", Some("m-old")).as_ref(), &k, false);
        assert_eq!(s, Status::NonCompliant);
    }

    #[test]
    fn the_receipt_stands_in_only_where_kms_gives_no_current_material() {
        let r = KeyRef::Key("alias/dev-s3".into());
        let primary = info("s3key", Some("m-new"));
        // KMS gives no CurrentKeyMaterialId for the replicas: the receipt decides.
        let mut k = Knowledge::new(&plan(), &mrk_receipts("current"), &aliases());
        k.multi_region
            .insert("s3key".into(), seen(None, None, None));
        assert_eq!(judge(&r, primary.as_ref(), &k, false).0, Status::Compliant);
        let mut k = Knowledge::new(&plan(), &mrk_receipts("not-current"), &aliases());
        k.multi_region
            .insert("s3key".into(), seen(None, None, Some("m-new")));
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Pending);
        assert!(why.contains("replicas in us-east-1 "), "{why}");
        // Where KMS tells, a receipt that says current does not make it so.
        let mut k = Knowledge::new(&plan(), &mrk_receipts("current"), &aliases());
        k.multi_region
            .insert("s3key".into(), seen(None, Some("m-old"), Some("m-new")));
        assert_eq!(judge(&r, primary.as_ref(), &k, false).0, Status::Pending);
    }

    #[test]
    fn a_multi_region_key_kms_could_not_be_asked_about_is_error() {
        let r = KeyRef::Key("alias/dev-s3".into());
        let primary = info("s3key", Some("m-new"));
        let mut k = Knowledge::new(&plan(), &mrk_receipts("current"), &aliases());
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Error);
        assert!(why.contains("not looked up"), "{why}");
        k.multi_region.insert(
            "s3key".into(),
            Err(
                "kms:DescribeKey failed for key dev-s3 replica ap-south-1: AccessDeniedException"
                    .into(),
            ),
        );
        let (s, why) = judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Error);
        assert!(why.contains("replica ap-south-1"), "{why}");
        // A single-Region key needs no such lookup.
        let k = Knowledge::new(
            &plan(),
            &[receipt(
                vec![key("dev-s3", "s3key", Strategy::OnDemand, "done")],
                false,
            )],
            &aliases(),
        );
        assert_eq!(judge(&r, primary.as_ref(), &k, false).0, Status::Compliant);
    }

    #[test]
    fn errors_fail_closed_and_byok() {
        let k = Knowledge::default();
        let r = KeyRef::Key("k".into());
        assert_eq!(
            judge(&r, Some(&Err("AccessDenied".into())), &k, false).0,
            Status::Error
        );
        assert_eq!(judge(&r, None, &k, false).0, Status::Error);
        let sse = KeyRef::NoKey("SSE-S3".into());
        assert_eq!(judge(&sse, None, &k, false).0, Status::NotApplicable);
        assert_eq!(judge(&sse, None, &k, true).0, Status::NonCompliant);
        let mut aws = info("aws", None);
        if let Some(Ok(i)) = aws.as_mut() {
            i.manager = "AWS".into();
            i.origin = "AWS_KMS".into();
        }
        assert_eq!(judge(&r, aws.as_ref(), &k, false).0, Status::NotApplicable);
        assert_eq!(judge(&r, aws.as_ref(), &k, true).0, Status::NonCompliant);
        assert!(Status::Error > Status::NonCompliant && Status::NonCompliant > Status::Pending);
        assert!(Status::Pending > Status::Compliant && Status::Compliant > Status::NotApplicable);
    }
}
