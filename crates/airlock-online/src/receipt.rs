//! Receipts: one JSON file per environment and ceremony in the receipt
//! folder (`<env>.<ceremony_id>.receipt.json`, format `airlock-receipt/2`),
//! rewritten atomically after every change `import` makes. They record what
//! KMS answered (key material ids, previous alias targets) so that `report`
//! can judge and `rollback` can re-point; whether a step is done is always
//! decided from KMS itself, the receipt only supplies the ids to compare.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exit::Exit;

/// The receipt format tag.
pub const RECEIPT_FORMAT: &str = "airlock-receipt/2";

/// How one key was rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// New material into the same key, then RotateKeyOnDemand.
    #[serde(rename = "on-demand")]
    OnDemand,
    /// Material into a new key, then the alias is switched to it.
    #[serde(rename = "alias-switch")]
    AliasSwitch,
}

/// One key's record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyReceipt {
    /// Key name.
    pub name: String,
    /// Its alias.
    pub alias: String,
    /// The key the material went into.
    pub key_arn: String,
    /// Its service (s3, rds, ...), from the request.
    pub service: Option<String>,
    /// How it is rotated.
    pub strategy: Strategy,
    /// CurrentKeyMaterialId before the import (on-demand keys).
    pub previous_key_material_id: Option<String>,
    /// KeyMaterialId that ImportKeyMaterial returned for this ceremony's material.
    pub imported_key_material_id: Option<String>,
    /// The key the alias pointed at before the switch (alias-switch keys).
    pub previous_alias_target: Option<String>,
    /// pending, imported, done, rolled-back.
    pub status: String,
    /// When the material was imported.
    pub imported_at: Option<String>,
    /// When RotateKeyOnDemand made it current.
    pub rotated_at: Option<String>,
    /// When the alias was switched.
    pub alias_switched_at: Option<String>,
    /// The key answered an encrypt/decrypt (or MAC/sign) test after import.
    pub tested: bool,
    /// A ciphertext made before the rotation still decrypts after it.
    pub old_ciphertext_decrypts: Option<bool>,
    /// Base64 of a probe ciphertext made before the on-demand rotation.
    pub pre_rotation_ciphertext: Option<String>,
    /// The ExpirationModel of this ceremony's import
    /// (KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE); absent in
    /// receipts written before it was recorded, and until the import.
    #[serde(default)]
    pub expiration_model: Option<String>,
    /// With KEY_MATERIAL_EXPIRES: when KMS deletes the material (RFC 3339).
    #[serde(default)]
    pub valid_to: Option<String>,
    /// Its multi-Region replicas, in bundle order (absent for single-Region
    /// keys, so their receipts keep the earlier shape).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaReceipt>,
}

/// One multi-Region replica of a key: where the same material went with
/// EXISTING_KEY_MATERIAL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReplicaReceipt {
    /// The replica's region.
    pub region: String,
    /// The replica key's ARN.
    pub key_arn: String,
    /// The KeyMaterialId KMS returned for the import into the replica.
    pub key_material_id: Option<String>,
    /// `pending`, `imported`, `current` (KMS shows the material current
    /// there after the rotation) or `not-current` (it does not; see the
    /// runbook: LocalStack never makes it current).
    pub status: String,
    /// When the material was imported into it (RFC 3339).
    pub imported_at: Option<String>,
}

/// An explicit, recorded override of the dev -> int -> prod order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderOverride {
    /// Why (as typed by the operator).
    pub reason: String,
    /// When.
    pub at: String,
    /// The environments that were not done/clean.
    pub skipped_checks: Vec<String>,
}

/// One environment's receipt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// `airlock-receipt/2`.
    pub format: String,
    /// The request.
    pub request_id: String,
    /// The ceremony.
    pub ceremony_id: String,
    /// The environment.
    pub environment: String,
    /// SHA-256 of the import bundle's SHA256SUMS.
    pub bundle_sums_sha256: String,
    /// Fingerprint of the pinned ceremony key.
    pub ceremony_key_fingerprint: String,
    /// The account the import ran in (STS).
    pub account: String,
    /// The region.
    pub region: String,
    /// Whether the workstation said it was air-gapped.
    pub air_gapped: bool,
    /// When the first import run began.
    pub started_at: String,
    /// When every key was done (null until then).
    pub completed_at: Option<String>,
    /// Set when the order rule was overridden.
    pub order_override: Option<OrderOverride>,
    /// When `rollback` re-pointed the aliases (null unless rolled back).
    pub rolled_back_at: Option<String>,
    /// The keys.
    pub keys: Vec<KeyReceipt>,
}

impl Receipt {
    /// The file name of this receipt in the receipt folder.
    pub fn file_name(environment: &str, ceremony_id: &str) -> String {
        format!("{environment}.{ceremony_id}.receipt.json")
    }

    /// The key entry named `name`.
    pub fn key_mut(&mut self, name: &str) -> Option<&mut KeyReceipt> {
        self.keys.iter_mut().find(|k| k.name == name)
    }
}

/// Now, RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Reads one receipt.
pub fn read(path: &Path) -> Result<Receipt> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading a receipt", e))?;
    let r: Receipt = serde_json::from_slice(&bytes).map_err(|e| {
        Error::refused(
            Exit::Receipt,
            format!("{}: not an {RECEIPT_FORMAT} receipt ({e}); restore it from the copy kept with the ceremony records", path.display()),
        )
    })?;
    if r.format != RECEIPT_FORMAT {
        return Err(Error::refused(
            Exit::Receipt,
            format!(
                "{}: format {:?}, expected {RECEIPT_FORMAT}",
                path.display(),
                r.format
            ),
        ));
    }
    Ok(r)
}

/// Every receipt in `dir` (sorted by file name); none when `dir` is absent.
pub fn read_all(dir: &Path) -> Result<Vec<(PathBuf, Receipt)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, "listing the receipt folder", e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".receipt.json") && !n.starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        let r = read(&p)?;
        out.push((p, r));
    }
    Ok(out)
}

/// Writes `r` to `dir` atomically (temp file, fsync, rename).
pub fn write(dir: &Path, r: &Receipt) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating the receipt folder", e))?;
    let path = dir.join(Receipt::file_name(&r.environment, &r.ceremony_id));
    let tmp = dir.join(format!(
        ".{}.tmp",
        Receipt::file_name(&r.environment, &r.ceremony_id)
    ));
    let mut bytes = serde_json::to_vec_pretty(r).unwrap_or_default();
    bytes.push(b'\n');
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, "writing a receipt", e))?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, "writing a receipt", e))?;
    std::fs::rename(&tmp, &path)
        .map_err(|e| Error::io(&path, "renaming a receipt into place", e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        Receipt {
            format: RECEIPT_FORMAT.into(),
            request_id: "r".into(),
            ceremony_id: "c-1".into(),
            environment: "dev".into(),
            bundle_sums_sha256: "00".repeat(32),
            ceremony_key_fingerprint: "11".repeat(32),
            account: "000000000000".into(),
            region: "eu-west-1".into(),
            air_gapped: true,
            started_at: now_rfc3339(),
            completed_at: None,
            order_override: None,
            rolled_back_at: None,
            keys: vec![KeyReceipt {
                name: "dev-s3".into(),
                alias: "alias/dev-s3".into(),
                key_arn: "arn:aws:kms:eu-west-1:000000000000:key/x".into(),
                service: Some("s3".into()),
                strategy: Strategy::OnDemand,
                previous_key_material_id: Some("a".into()),
                imported_key_material_id: None,
                previous_alias_target: None,
                status: "pending".into(),
                imported_at: None,
                rotated_at: None,
                alias_switched_at: None,
                tested: false,
                old_ciphertext_decrypts: None,
                pre_rotation_ciphertext: None,
                expiration_model: None,
                valid_to: None,
                replicas: Vec::new(),
            }],
        }
    }

    #[test]
    fn round_trip_and_listing() {
        let d = tempfile::tempdir().unwrap();
        let r = sample();
        let p = write(d.path(), &r).unwrap();
        assert!(p.ends_with("dev.c-1.receipt.json"));
        let all = read_all(d.path()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1, r);
    }

    #[test]
    fn receipts_without_the_expiry_fields_still_read() {
        let d = tempfile::tempdir().unwrap();
        let mut v = serde_json::to_value(sample()).unwrap();
        let k = v["keys"][0].as_object_mut().unwrap();
        k.remove("expiration_model");
        k.remove("valid_to");
        let p = d.path().join("dev.c.receipt.json");
        std::fs::write(&p, v.to_string()).unwrap();
        let r = read(&p).unwrap();
        assert_eq!(r.keys[0].valid_to, None);
        let mut with = sample();
        with.keys[0].expiration_model = Some("KEY_MATERIAL_EXPIRES".into());
        with.keys[0].valid_to = Some("2026-12-14T20:00:00Z".into());
        write(d.path(), &with).unwrap();
        let back = read(&d.path().join("dev.c-1.receipt.json")).unwrap();
        assert_eq!(
            back.keys[0].valid_to.as_deref(),
            Some("2026-12-14T20:00:00Z")
        );
    }

    #[test]
    fn replicas_are_recorded_and_absent_for_single_region_keys() {
        let text = serde_json::to_string(&sample()).unwrap();
        assert!(!text.contains("replicas"), "{text}");
        let d = tempfile::tempdir().unwrap();
        let mut r = sample();
        r.keys[0].replicas.push(ReplicaReceipt {
            region: "us-east-1".into(),
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/mrk-x".into(),
            key_material_id: Some("m".into()),
            status: "imported".into(),
            imported_at: Some(now_rfc3339()),
        });
        write(d.path(), &r).unwrap();
        let back = read(&d.path().join("dev.c-1.receipt.json")).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut v = serde_json::to_value(sample()).unwrap();
        v["surprise"] = serde_json::json!(1);
        let p = d.path().join("dev.c.receipt.json");
        std::fs::write(&p, v.to_string()).unwrap();
        assert_eq!(read(&p).unwrap_err().exit(), Exit::Receipt);
    }
}
