//! `import.json`, the manifest of a sealed import bundle (formats.md,
//! "Import bundle"). The same types serve the ceremony that writes it and
//! the online-side verifier that reads it; parsing is strict and every
//! field is checked before the rest of the engine sees it.

use serde::{Deserialize, Serialize};

use crate::spec::{ImportType, KeySpec, WrappingAlgorithm};

/// The `format` value of this version.
pub const IMPORT_FORMAT: &str = "airlock-import/1";

/// The workstation that ran the ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workstation {
    /// Its hostname.
    pub hostname: String,
    /// False when the ceremony ran with `--allow-network`.
    pub air_gapped: bool,
}

/// The token the material was generated and wrapped in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsmRecord {
    /// CK_TOKEN_INFO manufacturerID.
    pub manufacturer: String,
    /// CK_TOKEN_INFO model.
    pub model: String,
    /// CK_TOKEN_INFO serialNumber.
    pub serial: String,
    /// CK_TOKEN_INFO label.
    pub token_label: String,
    /// How the token wrapped: the distinct wrap paths used, in order of
    /// first use, joined by ", " (e.g. `CKM_RSA_PKCS_OAEP`).
    pub wrap_path: String,
}

/// One imported key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportKey {
    /// Key name, also its folder under `keys/`.
    pub name: String,
    /// The KMS alias.
    pub alias: String,
    /// The KMS key ARN.
    pub key_arn: String,
    /// The KMS key spec.
    pub key_spec: KeySpec,
    /// NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL.
    pub import_type: ImportType,
    /// How `EncryptedKeyMaterial.bin` was wrapped.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// AWS's ParametersValidTo for this key's import token.
    pub parameters_valid_to: String,
    /// Label of the key object kept in the HSM.
    pub hsm_label: String,
    /// CMAC key check value (6 uppercase hex) for AES keys, else null.
    pub kcv: Option<String>,
    /// SHA-256 (hex) of the public key's SPKI DER for RSA/ECC, else null.
    pub public_key_sha256: Option<String>,
    /// The same HSM object wrapped for each multi-Region replica, in
    /// request order (files under `keys/<name>/replicas/<region>/`).
    /// Absent when the key has none, so a bundle without replicas is
    /// byte for byte the v1 shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ImportReplica>,
}

/// One replica's wrapping of a key's material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportReplica {
    /// The replica's region (also its folder name).
    pub region: String,
    /// The replica key's ARN (same `mrk-` id as the primary).
    pub key_arn: String,
    /// Always EXISTING_KEY_MATERIAL: the primary takes the material first.
    pub import_type: ImportType,
    /// How this replica's `EncryptedKeyMaterial.bin` was wrapped.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// AWS's ParametersValidTo for this replica's import token.
    pub parameters_valid_to: String,
}

/// The whole `import.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportManifest {
    /// Always [`IMPORT_FORMAT`].
    pub format: String,
    /// The request this answers.
    pub request_id: String,
    /// SHA-256 (hex) of the request's `SHA256SUMS`.
    pub request_sha256sums_sha256: String,
    /// SHA-256 (hex) of the request signer's SPKI DER.
    pub request_signer_fingerprint: String,
    /// This ceremony's id.
    pub ceremony_id: String,
    /// When the ceremony started (RFC 3339 UTC).
    pub started_at: String,
    /// When the bundle was sealed (RFC 3339 UTC).
    pub completed_at: String,
    /// The workstation.
    pub workstation: Workstation,
    /// The custodians who authenticated, in order.
    pub custodians: Vec<String>,
    /// The token.
    pub hsm: HsmRecord,
    /// The keys, in request order.
    pub keys: Vec<ImportKey>,
    /// SHA-256 of the last journal line.
    pub journal_head_sha256: String,
}

/// A problem with an `import.json` that parsed as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("import.json: {field}: {message}")]
pub struct ManifestError {
    /// The JSON path of the field, e.g. `keys[2].kcv`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_rfc3339_utc(s: &str) -> bool {
    s.ends_with('Z')
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// True for a valid key name (`^[a-z0-9][a-z0-9-]{0,62}$`).
pub fn is_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

impl ImportManifest {
    /// Parses `import.json` strictly (unknown fields are errors) and checks
    /// every field's form.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let m: ImportManifest =
            serde_path_to_error::deserialize(de).map_err(|e| ManifestError {
                field: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        m.validate()?;
        Ok(m)
    }

    /// Checks the form of every field.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let err = |field: String, message: &str| ManifestError {
            field,
            message: message.to_string(),
        };
        if self.format != IMPORT_FORMAT {
            return Err(err("format".into(), &format!("must be {IMPORT_FORMAT:?}")));
        }
        for (field, v) in [
            ("request_sha256sums_sha256", &self.request_sha256sums_sha256),
            (
                "request_signer_fingerprint",
                &self.request_signer_fingerprint,
            ),
            ("journal_head_sha256", &self.journal_head_sha256),
        ] {
            if !is_hex64(v) {
                return Err(err(field.into(), "must be 64 lowercase hex digits"));
            }
        }
        for (field, v) in [
            ("started_at", &self.started_at),
            ("completed_at", &self.completed_at),
        ] {
            if !is_rfc3339_utc(v) {
                return Err(err(field.into(), "must be an RFC 3339 UTC timestamp"));
            }
        }
        if self.custodians.len() < 2 {
            return Err(err(
                "custodians".into(),
                "a ceremony needs at least two custodians",
            ));
        }
        if self.keys.is_empty() {
            return Err(err("keys".into(), "no keys"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, k) in self.keys.iter().enumerate() {
            let f = |name: &str| format!("keys[{i}].{name}");
            if !is_key_name(&k.name) {
                return Err(err(f("name"), "must match ^[a-z0-9][a-z0-9-]{0,62}$"));
            }
            if !names.insert(k.name.as_str()) {
                return Err(err(f("name"), "duplicate key name"));
            }
            if !is_rfc3339_utc(&k.parameters_valid_to) {
                return Err(err(
                    f("parameters_valid_to"),
                    "must be an RFC 3339 UTC timestamp",
                ));
            }
            let is_aes = k.key_spec == KeySpec::SymmetricDefault;
            match &k.kcv {
                Some(kcv) if !is_aes => {
                    return Err(err(
                        f("kcv"),
                        &format!("must be null for {} ({kcv})", k.key_spec),
                    ));
                }
                Some(kcv)
                    if kcv.len() != 6
                        || !kcv
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) =>
                {
                    return Err(err(f("kcv"), "must be 6 uppercase hex digits"));
                }
                None if is_aes => return Err(err(f("kcv"), "an AES key must carry its KCV")),
                _ => {}
            }
            let mut regions = std::collections::HashSet::new();
            for (j, r) in k.replicas.iter().enumerate() {
                let g = |name: &str| format!("keys[{i}].replicas[{j}].{name}");
                let arn = crate::request::schema::KeyArn::parse(&r.key_arn);
                let primary = crate::request::schema::KeyArn::parse(&k.key_arn);
                match (arn, primary) {
                    (Some(a), Some(p))
                        if a.region == r.region
                            && a.key_id == p.key_id
                            && a.account == p.account
                            && a.key_id.starts_with("mrk-")
                            && a.region != p.region => {}
                    _ => {
                        return Err(err(
                            g("key_arn"),
                            "must be the ARN, in the replica's region, of a key with the primary's account and mrk- key id",
                        ));
                    }
                }
                if !regions.insert(r.region.as_str()) {
                    return Err(err(g("region"), "one replica per region"));
                }
                if r.import_type != ImportType::ExistingKeyMaterial {
                    return Err(err(
                        g("import_type"),
                        "a replica takes its primary's material: EXISTING_KEY_MATERIAL",
                    ));
                }
                if !is_rfc3339_utc(&r.parameters_valid_to) {
                    return Err(err(
                        g("parameters_valid_to"),
                        "must be an RFC 3339 UTC timestamp",
                    ));
                }
            }
            let has_pub = k.key_spec.secret_len().is_none();
            match &k.public_key_sha256 {
                Some(h) if !has_pub || !is_hex64(h) => {
                    return Err(err(
                        f("public_key_sha256"),
                        "must be 64 lowercase hex for RSA/ECC keys and null otherwise",
                    ));
                }
                None if has_pub => {
                    return Err(err(
                        f("public_key_sha256"),
                        "an RSA/ECC key must carry its public key hash",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Canonical bytes: pretty JSON with a final newline, fields in the
    /// spec's order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serializes");
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ImportManifest {
        ImportManifest {
            format: IMPORT_FORMAT.into(),
            request_id: "r1".into(),
            request_sha256sums_sha256: "a".repeat(64),
            request_signer_fingerprint: "b".repeat(64),
            ceremony_id: "c1".into(),
            started_at: "2026-11-28T09:00:00Z".into(),
            completed_at: "2026-11-28T09:10:00Z".into(),
            workstation: Workstation {
                hostname: "ws".into(),
                air_gapped: true,
            },
            custodians: vec!["alice".into(), "bob".into()],
            hsm: HsmRecord {
                manufacturer: "m".into(),
                model: "x".into(),
                serial: "1".into(),
                token_label: "airlock".into(),
                wrap_path: "CKM_RSA_PKCS_OAEP".into(),
            },
            keys: vec![ImportKey {
                name: "prod-s3".into(),
                alias: "alias/prod-s3".into(),
                key_arn: "arn:aws:kms:eu-west-1:111122223333:key/x".into(),
                key_spec: KeySpec::SymmetricDefault,
                import_type: ImportType::NewKeyMaterial,
                wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
                parameters_valid_to: "2026-11-29T09:00:00Z".into(),
                hsm_label: "prod-s3/r1".into(),
                kcv: Some("0A1B2C".into()),
                public_key_sha256: None,
                replicas: Vec::new(),
            }],
            journal_head_sha256: "d".repeat(64),
        }
    }

    #[test]
    fn round_trips_and_uses_spec_field_order() {
        let m = sample();
        let bytes = m.to_bytes();
        assert_eq!(ImportManifest::parse(&bytes).unwrap(), m);
        let text = String::from_utf8(bytes).unwrap();
        let fmt = text.find("\"format\"").unwrap();
        let head = text.find("\"journal_head_sha256\"").unwrap();
        assert!(fmt < head);
        assert!(text.contains("\"key_spec\": \"SYMMETRIC_DEFAULT\""));
    }

    #[test]
    fn strict_and_checked() {
        let text = String::from_utf8(sample().to_bytes()).unwrap();
        let extra = text.replacen("{", "{\"extra\": 1,", 1);
        assert!(ImportManifest::parse(extra.as_bytes()).is_err());
        let mut m = sample();
        m.keys[0].kcv = Some("0a1b2c".into());
        assert_eq!(m.validate().unwrap_err().field, "keys[0].kcv");
        let mut m = sample();
        m.keys[0].public_key_sha256 = Some("e".repeat(64));
        assert_eq!(m.validate().unwrap_err().field, "keys[0].public_key_sha256");
        let mut m = sample();
        m.custodians.pop();
        assert_eq!(m.validate().unwrap_err().field, "custodians");
        let bad_spec = text.replace("SYMMETRIC_DEFAULT", "AES_256");
        let e = ImportManifest::parse(bad_spec.as_bytes()).unwrap_err();
        assert!(e.field.contains("key_spec"), "{e}");
    }

    #[test]
    fn replicas_are_absent_unless_present_and_checked_when_present() {
        // No replicas: not even an empty list, so v1 readers see v1 bytes.
        let text = String::from_utf8(sample().to_bytes()).unwrap();
        assert!(!text.contains("replicas"), "{text}");
        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        let mut m = sample();
        m.keys[0].key_arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{mrk}");
        m.keys[0].replicas = vec![ImportReplica {
            region: "us-east-1".into(),
            key_arn: format!("arn:aws:kms:us-east-1:111122223333:key/{mrk}"),
            import_type: ImportType::ExistingKeyMaterial,
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            parameters_valid_to: "2026-11-29T09:00:00Z".into(),
        }];
        assert_eq!(ImportManifest::parse(&m.to_bytes()).unwrap(), m);
        let field = |m: &ImportManifest| m.validate().unwrap_err().field;
        let mut bad = m.clone();
        bad.keys[0].replicas[0].import_type = ImportType::NewKeyMaterial;
        assert_eq!(field(&bad), "keys[0].replicas[0].import_type");
        let mut bad = m.clone();
        bad.keys[0].replicas[0].key_arn =
            "arn:aws:kms:us-east-1:111122223333:key/mrk-00000000000000000000000000000000".into();
        assert_eq!(field(&bad), "keys[0].replicas[0].key_arn");
        let mut bad = m.clone();
        bad.keys[0].replicas[0].region = "eu-west-1".into();
        bad.keys[0].replicas[0].key_arn = m.keys[0].key_arn.clone();
        assert_eq!(field(&bad), "keys[0].replicas[0].key_arn");
        let mut bad = m.clone();
        let again = bad.keys[0].replicas[0].clone();
        bad.keys[0].replicas.push(again);
        assert_eq!(field(&bad), "keys[0].replicas[1].region");
    }
}
