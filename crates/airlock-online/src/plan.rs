//! The rotation plan, format `airlock-plan/1` (the `plan.json` of the
//! runbook): which keys, behind which aliases, in which environment and
//! service, rotated on demand or by a new key and an alias switch. Parsed
//! strictly: every problem is reported at once, naming the key and field.

use std::collections::BTreeSet;
use std::path::Path;

use airlock_core::spec::KeySpec;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::exit::Exit;

/// The plan format tag.
pub const PLAN_FORMAT: &str = "airlock-plan/1";

/// How a key is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Strategy {
    /// New material into the key the alias points to, then RotateKeyOnDemand.
    #[serde(rename = "on-demand")]
    OnDemand,
    /// A new EXTERNAL key, then the alias is switched to it.
    #[serde(rename = "new-key")]
    NewKey,
}

/// One planned key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanKey {
    /// Key name (folder name in bundles).
    pub name: String,
    /// `alias/...`.
    pub alias: String,
    /// dev, int, prod, ...
    pub environment: String,
    /// s3, rds, dynamodb, ...
    pub service: String,
    /// KMS key spec.
    pub key_spec: String,
    /// How it is rotated.
    pub strategy: Strategy,
    /// For new-key: an existing PendingImport EXTERNAL key to use.
    pub key_id: Option<String>,
    /// KMS key usage for CreateKey.
    pub key_usage: Option<String>,
    /// CreateKey description.
    pub description: Option<String>,
}

/// A validated plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// The request id the bundle will carry.
    pub request_id: String,
    /// The account (12 digits), if the plan pins one.
    pub aws_account: Option<String>,
    /// The region, if the plan pins one.
    pub aws_region: Option<String>,
    /// The keys.
    pub keys: Vec<PlanKey>,
}

const USAGES: [&str; 4] = [
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
const TOP_FIELDS: [&str; 5] = ["format", "request_id", "aws_account", "aws_region", "keys"];
const KEY_FIELDS: [&str; 9] = [
    "name",
    "alias",
    "environment",
    "service",
    "key_spec",
    "strategy",
    "key_id",
    "key_usage",
    "description",
];

fn short_name(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn alias_ok(s: &str) -> bool {
    match s.strip_prefix("alias/") {
        Some(rest) => {
            !rest.is_empty()
                && rest.len() <= 250
                && !s.starts_with("alias/aws/")
                && rest
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'-'))
        }
        None => false,
    }
}

fn request_id_ok(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn region_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn key_id_ok(s: &str) -> bool {
    let id = match s.rsplit_once(":key/") {
        Some((prefix, id)) => {
            if !prefix.starts_with("arn:aws") || prefix.split(':').count() != 5 {
                return false;
            }
            id
        }
        None => s,
    };
    (id.len() == 36 && id.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'))
        || (id.len() == 36
            && id.starts_with("mrk-")
            && id[4..].bytes().all(|c| c.is_ascii_hexdigit()))
}

/// Validates a plan document; returns every problem (empty when valid).
pub fn problems(doc: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let Some(obj) = doc.as_object() else {
        return vec!["the plan is not a JSON object".into()];
    };
    for k in obj.keys() {
        if !TOP_FIELDS.contains(&k.as_str()) {
            p.push(format!(
                "unknown top-level field '{k}' (allowed: {})",
                TOP_FIELDS.join(", ")
            ));
        }
    }
    if obj.get("format").and_then(Value::as_str) != Some(PLAN_FORMAT) {
        p.push(format!(
            "field 'format' must be \"{PLAN_FORMAT}\", found {}",
            obj.get("format").unwrap_or(&Value::Null)
        ));
    }
    if !obj
        .get("request_id")
        .and_then(Value::as_str)
        .is_some_and(request_id_ok)
    {
        p.push("field 'request_id' must match ^[A-Za-z0-9._-]{1,64}$".into());
    }
    if let Some(a) = obj.get("aws_account")
        && !a
            .as_str()
            .is_some_and(|s| s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit()))
    {
        p.push(format!(
            "field 'aws_account' must be 12 digits in a string, found {a}"
        ));
    }
    if let Some(r) = obj.get("aws_region")
        && !r.as_str().is_some_and(region_ok)
    {
        p.push(format!(
            "field 'aws_region' is not a region name, found {r}"
        ));
    }
    let keys = match obj.get("keys").and_then(Value::as_array) {
        Some(k) if !k.is_empty() && k.len() <= 10_000 => k,
        Some(k) if k.len() > 10_000 => {
            p.push(format!(
                "field 'keys' has {} entries; at most 10000",
                k.len()
            ));
            return p;
        }
        _ => {
            p.push("field 'keys' must be a non-empty array".into());
            return p;
        }
    };
    let mut names = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    for (i, k) in keys.iter().enumerate() {
        let name = k.get("name").and_then(Value::as_str).unwrap_or("?");
        let at = format!("keys[{i}] ({name})");
        let Some(ko) = k.as_object() else {
            p.push(format!("{at}: not an object"));
            continue;
        };
        for f in ko.keys() {
            if !KEY_FIELDS.contains(&f.as_str()) {
                p.push(format!(
                    "{at}: unknown field '{f}' (allowed: {})",
                    KEY_FIELDS.join(", ")
                ));
            }
        }
        let s = |f: &str| ko.get(f).and_then(Value::as_str);
        if !s("name").is_some_and(|n| short_name(n, 63)) {
            p.push(format!(
                "{at}: field 'name' must match ^[a-z0-9][a-z0-9-]{{0,62}}$"
            ));
        } else if !names.insert(name.to_string()) {
            p.push(format!(
                "key name '{name}' appears more than once; names must be unique"
            ));
        }
        match s("alias") {
            Some(a) if alias_ok(a) => {
                if !aliases.insert(a.to_string()) {
                    p.push(format!(
                        "alias '{a}' appears more than once; aliases must be unique"
                    ));
                }
            }
            _ => p.push(format!(
                "{at}: field 'alias' must be alias/NAME (letters, digits, / _ -; not alias/aws/...)"
            )),
        }
        if !s("environment").is_some_and(|e| short_name(e, 32)) {
            p.push(format!(
                "{at}: field 'environment' must be a short lowercase name such as dev, int or prod"
            ));
        }
        if !s("service").is_some_and(|e| short_name(e, 32)) {
            p.push(format!(
                "{at}: field 'service' must be a short lowercase name such as s3, rds or dynamodb"
            ));
        }
        let spec = s("key_spec");
        // The one key-spec table, shared with the workstation.
        match spec.map(airlock_core::spec::parse_key_spec) {
            Some(Ok(_)) => {}
            Some(Err(e @ airlock_core::spec::KeySpecRefusal::NotImportable { .. })) => {
                p.push(format!("{at}: field 'key_spec': {e}"));
            }
            _ => p.push(format!(
                "{at}: field 'key_spec' must be one of {}, found {}",
                KeySpec::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                ko.get("key_spec").unwrap_or(&Value::Null)
            )),
        }
        match s("strategy") {
            Some("on-demand") => {
                if spec.is_some_and(|x| x != "SYMMETRIC_DEFAULT") {
                    p.push(format!(
                        "{at}: strategy on-demand is for SYMMETRIC_DEFAULT keys only (KMS rotates imported material on demand only for symmetric keys); use new-key"
                    ));
                }
                if ko.contains_key("key_id") {
                    p.push(format!(
                        "{at}: 'key_id' is for new-key entries (on-demand rotates the key the alias points to)"
                    ));
                }
            }
            Some("new-key") => {}
            _ => p.push(format!(
                "{at}: field 'strategy' must be \"on-demand\" or \"new-key\", found {}",
                ko.get("strategy").unwrap_or(&Value::Null)
            )),
        }
        if let Some(v) = ko.get("key_id")
            && !v.as_str().is_some_and(key_id_ok)
        {
            p.push(format!("{at}: field 'key_id' must be a key id or key ARN"));
        }
        if let Some(v) = ko.get("key_usage")
            && !v.as_str().is_some_and(|u| USAGES.contains(&u))
        {
            p.push(format!(
                "{at}: field 'key_usage' must be one of {}",
                USAGES.join(", ")
            ));
        }
        if let Some(v) = ko.get("description")
            && !v.is_string()
        {
            p.push(format!("{at}: field 'description' must be a string"));
        }
    }
    p
}

/// Parses and validates a plan document.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Plan> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::refused(
            Exit::Plan,
            format!("{origin} is not valid JSON ({e}); fix the file"),
        )
    })?;
    let p = problems(&doc);
    if !p.is_empty() {
        return Err(Error::refused(
            Exit::Plan,
            format!(
                "{origin} is not a valid plan; fix it and run again:\n  {}",
                p.join("\n  ")
            ),
        ));
    }
    let s = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
    let keys = doc["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| PlanKey {
            name: s(k, "name").unwrap_or_default(),
            alias: s(k, "alias").unwrap_or_default(),
            environment: s(k, "environment").unwrap_or_default(),
            service: s(k, "service").unwrap_or_default(),
            key_spec: s(k, "key_spec").unwrap_or_default(),
            strategy: if s(k, "strategy").as_deref() == Some("on-demand") {
                Strategy::OnDemand
            } else {
                Strategy::NewKey
            },
            key_id: s(k, "key_id"),
            key_usage: s(k, "key_usage"),
            description: s(k, "description"),
        })
        .collect();
    Ok(Plan {
        request_id: s(&doc, "request_id").unwrap_or_default(),
        aws_account: s(&doc, "aws_account"),
        aws_region: s(&doc, "aws_region"),
        keys,
    })
}

/// Reads and validates the plan in `path`.
pub fn load(path: &Path) -> Result<Plan> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading the plan", e))?;
    parse(&bytes, &path.display().to_string())
}

/// The KMS key usage a key spec gets when the plan gives none.
pub fn default_key_usage(spec: &str) -> &'static str {
    match spec {
        "SYMMETRIC_DEFAULT" => "ENCRYPT_DECRYPT",
        s if s.starts_with("HMAC_") => "GENERATE_VERIFY_MAC",
        _ => "SIGN_VERIFY",
    }
}

/// The wrapping algorithm formats.md prefers for a key spec, from
/// airlock-core's table (`KeySpec::preferred_wrapping`). The plan is
/// validated before this is asked, so every spec here parses; an unknown
/// one gets `None` rather than a guess.
pub fn preferred_wrapping_algorithm(spec: &str) -> Option<&'static str> {
    airlock_core::spec::parse_key_spec(spec)
        .ok()
        .map(|k| k.preferred_wrapping().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"format": "airlock-plan/1", "request_id": "r-1", "aws_account": "000000000000",
               "aws_region": "eu-west-1",
               "keys": [{"name": "dev-s3", "alias": "alias/dev-s3", "environment": "dev", "service": "s3",
                         "key_spec": "SYMMETRIC_DEFAULT", "strategy": "on-demand"},
                        {"name": "dev-rds", "alias": "alias/dev-rds", "environment": "dev", "service": "rds",
                         "key_spec": "SYMMETRIC_DEFAULT", "strategy": "new-key"}]})
    }

    #[test]
    fn a_good_plan_parses() {
        let p = parse(good().to_string().as_bytes(), "plan").unwrap();
        assert_eq!(p.keys.len(), 2);
        assert_eq!(p.keys[0].strategy, Strategy::OnDemand);
        assert_eq!(p.keys[1].strategy, Strategy::NewKey);
    }

    #[test]
    fn every_problem_is_named_with_key_and_field() {
        let mut d = good();
        d["keys"][1]["strategy"] = json!("sometimes");
        d["keys"][0]["colour"] = json!("red");
        d["aws_region"] = json!("mars");
        let p = problems(&d);
        assert!(
            p.iter()
                .any(|m| m.starts_with("keys[1] (dev-rds): field 'strategy'")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("keys[0] (dev-s3): unknown field 'colour'")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("aws_region")), "{p:?}");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn on_demand_only_for_symmetric_and_names_unique() {
        let mut d = good();
        d["keys"][0]["key_spec"] = json!("HMAC_256");
        d["keys"][1]["name"] = json!("dev-s3");
        let p = problems(&d);
        assert!(
            p.iter()
                .any(|m| m.contains("on-demand is for SYMMETRIC_DEFAULT")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|m| m.contains("appears more than once")),
            "{p:?}"
        );
    }

    #[test]
    fn region_and_key_id_shapes() {
        assert!(region_ok("eu-west-1") && region_ok("us-gov-west-1"));
        assert!(!region_ok("eu-west") && !region_ok("EU-west-1"));
        assert!(key_id_ok("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(key_id_ok(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!key_id_ok("alias/foo"));
    }

    #[test]
    fn key_specs_come_from_the_shared_table() {
        let spec = |v: &str| {
            let mut d = good();
            d["keys"][1]["key_spec"] = json!(v);
            problems(&d)
        };
        assert!(spec("ECC_SECG_P256K1").is_empty());
        let p = spec("ML_DSA_44");
        assert!(
            p.len() == 1
                && p[0].starts_with(
                    "keys[1] (dev-rds): field 'key_spec': ML_DSA_44 is not supported: "
                )
                && p[0].contains("create the key in KMS"),
            "{p:?}"
        );
        let p = spec("AES_256");
        assert!(
            p.len() == 1
                && p[0].contains("must be one of SYMMETRIC_DEFAULT")
                && p[0].contains("ECC_SECG_P256K1"),
            "{p:?}"
        );
        for k in KeySpec::ALL {
            assert_eq!(
                preferred_wrapping_algorithm(k.as_str()),
                Some(k.preferred_wrapping().as_str())
            );
        }
        assert_eq!(
            preferred_wrapping_algorithm("SYMMETRIC_DEFAULT"),
            Some("RSAES_OAEP_SHA_256")
        );
        assert_eq!(
            preferred_wrapping_algorithm("ECC_SECG_P256K1"),
            Some("RSA_AES_KEY_WRAP_SHA_256")
        );
        assert_eq!(preferred_wrapping_algorithm("ML_DSA_44"), None);
    }
}
