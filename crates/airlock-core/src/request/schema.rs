//! Strict parsing of `request.json` into validated types (formats.md,
//! "Request bundle"). Unknown fields, missing fields, wrong types and
//! values outside their patterns are refused with the JSON path and, for
//! keys, the key's name. Cross-key and cross-field consistency (wrapping
//! matrix, ARN account/region, duplicates, validity) is checked later, in
//! the documented order, by the verifier.

use std::fmt;

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::spec::{ImportType, KeySpec, WrappingAlgorithm, WrappingKeySpec};

/// The `format` value of a v1 request.
pub const REQUEST_FORMAT: &str = "airlock-request/1";
/// Most keys one request may carry.
pub const MAX_KEYS: usize = 10_000;

/// What is wrong with `request.json`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SchemaError {
    /// JSON path (and key name when known), e.g. `keys[3] (prod-s3).alias`.
    pub location: String,
    /// What is wrong and what is expected.
    pub message: String,
}

macro_rules! checked_string {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_string!(
    /// `request_id`: `^[A-Za-z0-9._-]{1,64}$`.
    RequestId
);
checked_string!(
    /// `aws_account`: 12 digits.
    AwsAccount
);
checked_string!(
    /// `aws_region`, e.g. `eu-west-1`.
    AwsRegion
);
checked_string!(
    /// Key `name`: `^[a-z0-9][a-z0-9-]{0,62}$`; also its folder under `keys/`.
    KeyName
);
checked_string!(
    /// `alias`: `alias/` then 1-250 of `A-Za-z0-9/_-`, not `alias/aws/...`.
    Alias
);
checked_string!(
    /// `environment` or `service`: 1-64 of `A-Za-z0-9._-`.
    Tag
);
checked_string!(
    /// An HSM object label: 1-128 printable ASCII characters.
    HsmLabel
);

/// A KMS key ARN, `arn:<partition>:kms:<region>:<account>:key/<key id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyArn {
    text: String,
    /// The region part.
    pub region: String,
    /// The account part.
    pub account: String,
    /// The key id (UUID or `mrk-` multi-Region id).
    pub key_id: String,
}

impl KeyArn {
    /// Parses `arn:<partition>:kms:<region>:<account>:key/<key id>`;
    /// `None` when it is not a KMS key ARN.
    pub fn parse(s: &str) -> Option<KeyArn> {
        parse_key_arn(s)
    }

    /// The ARN as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for KeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where the key material comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// New material, generated inside the HSM.
    Generate,
    /// Material already held in the HSM under this label.
    Existing {
        /// The HSM object label.
        hsm_label: HsmLabel,
    },
}

impl Material {
    /// `generate` or `existing`.
    pub fn source(&self) -> &'static str {
        match self {
            Material::Generate => "generate",
            Material::Existing { .. } => "existing",
        }
    }
}

/// One validated entry of `keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// Its name (and folder).
    pub name: KeyName,
    /// The KMS alias.
    pub alias: Alias,
    /// e.g. `prod`.
    pub environment: Tag,
    /// e.g. `s3`.
    pub service: Tag,
    /// The KMS key ARN.
    pub key_arn: KeyArn,
    /// The KMS key spec.
    pub key_spec: KeySpec,
    /// New or existing material.
    pub import_type: ImportType,
    /// Generate or reuse.
    pub material: Material,
    /// From GetParametersForImport.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// From GetParametersForImport.
    pub wrapping_key_spec: WrappingKeySpec,
    /// `ParametersValidTo` (UTC).
    pub parameters_valid_to: OffsetDateTime,
    /// Multi-Region replicas that take the same material
    /// (`EXISTING_KEY_MATERIAL`), in file order; empty for most keys.
    pub replicas: Vec<ReplicaRequest>,
}

/// Most replicas one key may list.
pub const MAX_REPLICAS: usize = 32;

/// One replica of a multi-Region key: another region's KMS key with the
/// same `mrk-` id, its own wrapping key and import token (under
/// `keys/<name>/replicas/<region>/`). It receives the same HSM object as
/// its primary, wrapped under its own wrapping key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRequest {
    /// The replica's region (also its folder name).
    pub region: AwsRegion,
    /// The replica key's ARN: same account and key id as the primary.
    pub key_arn: KeyArn,
    /// From GetParametersForImport in that region.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// From GetParametersForImport in that region.
    pub wrapping_key_spec: WrappingKeySpec,
    /// `ParametersValidTo` of that region's import token (UTC).
    pub parameters_valid_to: OffsetDateTime,
}

/// A validated `request.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request id.
    pub request_id: RequestId,
    /// When the online side made it (UTC).
    pub created_at: OffsetDateTime,
    /// The AWS account.
    pub aws_account: AwsAccount,
    /// The AWS region.
    pub aws_region: AwsRegion,
    /// The keys, in file order.
    pub keys: Vec<KeyRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    format: String,
    request_id: String,
    created_at: String,
    aws_account: String,
    aws_region: String,
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    name: String,
    alias: String,
    environment: String,
    service: String,
    key_arn: String,
    key_spec: String,
    import_type: String,
    material: RawMaterial,
    wrapping_algorithm: String,
    wrapping_key_spec: String,
    parameters_valid_to: String,
    #[serde(default)]
    replicas: Vec<RawReplica>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplica {
    region: String,
    key_arn: String,
    wrapping_algorithm: String,
    wrapping_key_spec: String,
    parameters_valid_to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaterial {
    source: String,
    #[serde(default)]
    hsm_label: Option<String>,
}

/// Parses and validates the bytes of `request.json`.
pub fn parse_request_json(bytes: &[u8]) -> Result<Request, SchemaError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let raw: RawRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        SchemaError {
            location: if path == "." || path.is_empty() {
                format!("line {} column {}", inner.line(), inner.column())
            } else {
                format!("{path} (line {} column {})", inner.line(), inner.column())
            },
            message: strip_position(&inner.to_string()),
        }
    })?;
    let top = |field: &str, message: String| SchemaError {
        location: field.to_string(),
        message,
    };
    if raw.format != REQUEST_FORMAT {
        return Err(top(
            "format",
            format!(
                "is {:?}; this workstation reads {REQUEST_FORMAT:?}",
                raw.format
            ),
        ));
    }
    let request_id = check(&raw.request_id, is_request_id, RequestId).ok_or_else(|| {
        top(
            "request_id",
            format!("{:?} must match ^[A-Za-z0-9._-]{{1,64}}$", raw.request_id),
        )
    })?;
    let created_at = parse_utc(&raw.created_at).map_err(|m| top("created_at", m))?;
    let aws_account = check(&raw.aws_account, is_account, AwsAccount).ok_or_else(|| {
        top(
            "aws_account",
            format!("{:?} must be exactly 12 digits", raw.aws_account),
        )
    })?;
    let aws_region = check(&raw.aws_region, is_region, AwsRegion).ok_or_else(|| {
        top(
            "aws_region",
            format!(
                "{:?} is not an AWS region name like eu-west-1",
                raw.aws_region
            ),
        )
    })?;
    if raw.keys.is_empty() {
        return Err(top(
            "keys",
            "is empty; a request names at least one key".into(),
        ));
    }
    if raw.keys.len() > MAX_KEYS {
        return Err(top(
            "keys",
            format!(
                "has {} entries; at most {MAX_KEYS} keys per request, split the request",
                raw.keys.len()
            ),
        ));
    }
    let keys = raw
        .keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| parse_key(i, k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Request {
        request_id,
        created_at,
        aws_account,
        aws_region,
        keys,
    })
}

fn parse_key(i: usize, k: RawKey) -> Result<KeyRequest, SchemaError> {
    let name = check(&k.name, is_key_name, KeyName).ok_or_else(|| SchemaError {
        location: format!("keys[{i}].name"),
        message: format!("{:?} must match ^[a-z0-9][a-z0-9-]{{0,62}}$", k.name),
    })?;
    let err = |field: &str, message: String| SchemaError {
        location: format!("keys[{i}] ({name}).{field}"),
        message,
    };
    let alias = check(&k.alias, is_alias, Alias).ok_or_else(|| {
        err(
            "alias",
            format!(
                "{:?} must be alias/ followed by 1-250 of A-Za-z0-9/_- (and not alias/aws/...)",
                k.alias
            ),
        )
    })?;
    let environment = check(&k.environment, is_tag, Tag).ok_or_else(|| {
        err(
            "environment",
            format!("{:?} must be 1-64 of A-Za-z0-9._-", k.environment),
        )
    })?;
    let service = check(&k.service, is_tag, Tag).ok_or_else(|| {
        err(
            "service",
            format!("{:?} must be 1-64 of A-Za-z0-9._-", k.service),
        )
    })?;
    let key_arn = parse_key_arn(&k.key_arn).ok_or_else(|| {
        err(
            "key_arn",
            format!(
                "{:?} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)",
                k.key_arn
            ),
        )
    })?;
    let key_spec: KeySpec =
        crate::spec::parse_key_spec(&k.key_spec).map_err(|e| err("key_spec", format!("{e}")))?;
    let import_type: ImportType = k
        .import_type
        .parse()
        .map_err(|e| err("import_type", format!("{e}")))?;
    let material = match (k.material.source.as_str(), k.material.hsm_label) {
        ("generate", None) => Material::Generate,
        ("generate", Some(_)) => {
            return Err(err(
                "material.hsm_label",
                "only allowed with \"source\": \"existing\"".into(),
            ));
        }
        ("existing", Some(label)) => Material::Existing {
            hsm_label: check(&label, is_hsm_label, HsmLabel).ok_or_else(|| {
                err(
                    "material.hsm_label",
                    format!("{label:?} must be 1-128 printable ASCII characters"),
                )
            })?,
        },
        ("existing", None) => {
            return Err(err(
                "material",
                "\"source\": \"existing\" needs \"hsm_label\" naming the key in the HSM".into(),
            ));
        }
        (other, _) => {
            return Err(err(
                "material.source",
                format!("{other:?} must be \"generate\" or \"existing\""),
            ));
        }
    };
    if import_type == ImportType::ExistingKeyMaterial && material == Material::Generate {
        return Err(err(
            "material",
            "EXISTING_KEY_MATERIAL re-imports material the HSM already holds, so it needs {\"source\": \"existing\", \"hsm_label\": ...}; use NEW_KEY_MATERIAL to generate".into(),
        ));
    }
    let wrapping_algorithm: WrappingAlgorithm = k
        .wrapping_algorithm
        .parse()
        .map_err(|e| err("wrapping_algorithm", format!("{e}")))?;
    let wrapping_key_spec: WrappingKeySpec = k
        .wrapping_key_spec
        .parse()
        .map_err(|e| err("wrapping_key_spec", format!("{e}")))?;
    let parameters_valid_to =
        parse_utc(&k.parameters_valid_to).map_err(|m| err("parameters_valid_to", m))?;
    if !k.replicas.is_empty() && !key_arn.key_id.starts_with("mrk-") {
        return Err(err(
            "replicas",
            format!(
                "only a multi-Region key has replicas, and {} is not one (its key id does not start with mrk-)",
                key_arn
            ),
        ));
    }
    if k.replicas.len() > MAX_REPLICAS {
        return Err(err(
            "replicas",
            format!(
                "has {} entries; at most {MAX_REPLICAS} replicas per key",
                k.replicas.len()
            ),
        ));
    }
    let mut replicas: Vec<ReplicaRequest> = Vec::with_capacity(k.replicas.len());
    for (j, r) in k.replicas.into_iter().enumerate() {
        let rerr = |field: &str, message: String| err(&format!("replicas[{j}].{field}"), message);
        let region = check(&r.region, is_region, AwsRegion).ok_or_else(|| {
            rerr(
                "region",
                format!("{:?} is not an AWS region name like us-east-1", r.region),
            )
        })?;
        let rarn = parse_key_arn(&r.key_arn)
            .ok_or_else(|| rerr("key_arn", format!("{:?} is not a KMS key ARN", r.key_arn)))?;
        if rarn.region != region.as_str() {
            return Err(rerr(
                "key_arn",
                format!(
                    "{rarn} is in region {}, but the replica says {region}",
                    rarn.region
                ),
            ));
        }
        if rarn.key_id != key_arn.key_id || rarn.account != key_arn.account {
            return Err(rerr(
                "key_arn",
                format!(
                    "{rarn} is not a replica of {key_arn}: a replica has the same account and mrk- key id"
                ),
            ));
        }
        if region.as_str() == key_arn.region {
            return Err(rerr(
                "region",
                format!("{region} is the primary key's own region; a replica is in another region"),
            ));
        }
        if replicas.iter().any(|o| o.region == region) {
            return Err(rerr(
                "region",
                format!("{region} is listed twice; one replica per region"),
            ));
        }
        let wrapping_algorithm: WrappingAlgorithm = r
            .wrapping_algorithm
            .parse()
            .map_err(|e| rerr("wrapping_algorithm", format!("{e}")))?;
        let wrapping_key_spec: WrappingKeySpec = r
            .wrapping_key_spec
            .parse()
            .map_err(|e| rerr("wrapping_key_spec", format!("{e}")))?;
        let parameters_valid_to =
            parse_utc(&r.parameters_valid_to).map_err(|m| rerr("parameters_valid_to", m))?;
        replicas.push(ReplicaRequest {
            region,
            key_arn: rarn,
            wrapping_algorithm,
            wrapping_key_spec,
            parameters_valid_to,
        });
    }
    Ok(KeyRequest {
        name,
        alias,
        environment,
        service,
        key_arn,
        key_spec,
        import_type,
        material,
        wrapping_algorithm,
        wrapping_key_spec,
        parameters_valid_to,
        replicas,
    })
}

/// serde_json appends " at line L column C"; the location already says it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn check<T>(s: &str, ok: fn(&str) -> bool, wrap: fn(String) -> T) -> Option<T> {
    ok(s).then(|| wrap(s.to_string()))
}

fn parse_utc(s: &str) -> Result<OffsetDateTime, String> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        format!("{s:?} is not an RFC 3339 timestamp ({e}); write e.g. 2026-11-28T09:00:00Z")
    })?;
    if t.offset() != UtcOffset::UTC {
        return Err(format!("{s:?} is not in UTC; write it with a Z suffix"));
    }
    Ok(t)
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(f)
}

fn is_request_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && all(s, |c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && all(s, |c| c.is_ascii_digit())
}

fn is_region(s: &str) -> bool {
    // e.g. eu-west-1, us-gov-west-1, ap-southeast-5
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && all(p, |c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| (1..=2).contains(&p.len()) && all(p, |c| c.is_ascii_digit()))
}

/// `^[a-z0-9][a-z0-9-]{0,62}$`
pub fn is_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && all(s, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'
        })
}

fn is_alias(s: &str) -> bool {
    match s.strip_prefix("alias/") {
        Some(rest) => {
            (1..=250).contains(&rest.len())
                && !rest.starts_with("aws/")
                && all(rest, |c| c.is_ascii_alphanumeric() || b"/_-".contains(&c))
        }
        None => false,
    }
}

fn is_tag(s: &str) -> bool {
    (1..=64).contains(&s.len()) && all(s, |c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

fn is_hsm_label(s: &str) -> bool {
    (1..=128).contains(&s.len()) && all(s, |c| (0x20..0x7f).contains(&c))
}

fn is_lower_hex(s: &str) -> bool {
    all(s, |c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn is_key_id(s: &str) -> bool {
    if let Some(h) = s.strip_prefix("mrk-") {
        return h.len() == 32 && is_lower_hex(h);
    }
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && is_lower_hex(g))
}

/// Parses `arn:<partition>:kms:<region>:<account>:key/<key id>`.
fn parse_key_arn(s: &str) -> Option<KeyArn> {
    let mut parts = s.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let partition_ok = partition == "aws"
        || partition
            .strip_prefix("aws-")
            .is_some_and(|p| !p.is_empty() && all(p, |c| c.is_ascii_lowercase() || c == b'-'));
    let key_id = resource.strip_prefix("key/")?;
    (arn == "arn"
        && partition_ok
        && service == "kms"
        && is_region(region)
        && is_account(account)
        && is_key_id(key_id))
    .then(|| KeyArn {
        text: s.to_string(),
        region: region.to_string(),
        account: account.to_string(),
        key_id: key_id.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A key name for tests elsewhere in the crate.
    pub(crate) fn key_name(s: &str) -> KeyName {
        assert!(is_key_name(s));
        KeyName(s.to_string())
    }

    pub(crate) const EXAMPLE: &str = r#"{
      "format": "airlock-request/1",
      "request_id": "2026-11-28-prod-rotation",
      "created_at": "2026-11-28T09:00:00Z",
      "aws_account": "111122223333",
      "aws_region": "eu-west-1",
      "keys": [
        {
          "name": "prod-s3",
          "alias": "alias/prod-s3",
          "environment": "prod",
          "service": "s3",
          "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
          "key_spec": "SYMMETRIC_DEFAULT",
          "import_type": "NEW_KEY_MATERIAL",
          "material": { "source": "generate" },
          "wrapping_algorithm": "RSAES_OAEP_SHA_256",
          "wrapping_key_spec": "RSA_4096",
          "parameters_valid_to": "2026-11-29T09:00:00Z"
        }
      ]
    }"#;

    #[test]
    fn parses_the_spec_example() {
        let r = parse_request_json(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(r.request_id.as_str(), "2026-11-28-prod-rotation");
        let k = &r.keys[0];
        assert_eq!(k.name.as_str(), "prod-s3");
        assert_eq!(k.key_arn.account, "111122223333");
        assert_eq!(k.key_arn.region, "eu-west-1");
        assert_eq!(k.material, Material::Generate);
        assert_eq!(k.wrapping_key_spec, WrappingKeySpec::Rsa4096);
        assert_eq!(
            k.parameters_valid_to,
            time::macros::datetime!(2026-11-29 09:00 UTC)
        );
    }

    fn mutate(from: &str, to: &str) -> Result<Request, SchemaError> {
        assert!(EXAMPLE.contains(from), "{from}");
        parse_request_json(EXAMPLE.replacen(from, to, 1).as_bytes())
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (
                "\"service\": \"s3\",",
                "\"service\": \"s3\", \"extra\": 1,",
                "keys[0]",
            ),
            ("\"service\": \"s3\",", "", "keys[0]"),
            ("2026-11-28-prod-rotation", "bad id!", "request_id"),
            ("\"111122223333\"", "\"11112222333\"", "aws_account"),
            ("\"prod-s3\",", "\"Prod_S3\",", "keys[0].name"),
            ("alias/prod-s3", "prod-s3", "keys[0] (prod-s3).alias"),
            ("alias/prod-s3", "alias/aws/s3", "keys[0] (prod-s3).alias"),
            (":key/1234", ":alias/1234", "keys[0] (prod-s3).key_arn"),
            ("SYMMETRIC_DEFAULT", "AES_256", "keys[0] (prod-s3).key_spec"),
            (
                "SYMMETRIC_DEFAULT",
                "ML_DSA_65",
                "keys[0] (prod-s3).key_spec",
            ),
            (
                "NEW_KEY_MATERIAL",
                "EXISTING_KEY_MATERIAL",
                "keys[0] (prod-s3).material",
            ),
            (
                "\"generate\" }",
                "\"existing\" }",
                "keys[0] (prod-s3).material",
            ),
            (
                "\"generate\" }",
                "\"generate\", \"hsm_label\": \"x\" }",
                "keys[0] (prod-s3).material.hsm_label",
            ),
            (
                "RSAES_OAEP_SHA_256",
                "RSAES_OAEP_SHA_512",
                "keys[0] (prod-s3).wrapping_algorithm",
            ),
            (
                "\"RSA_4096\"",
                "\"RSA_1024\"",
                "keys[0] (prod-s3).wrapping_key_spec",
            ),
            (
                "2026-11-29T09:00:00Z",
                "2026-11-29T10:00:00+01:00",
                "keys[0] (prod-s3).parameters_valid_to",
            ),
            (
                "2026-11-29T09:00:00Z",
                "tomorrow",
                "keys[0] (prod-s3).parameters_valid_to",
            ),
            ("airlock-request/1", "airlock-request/2", "format"),
            ("\"eu-west-1\",", "\"Ireland\",", "aws_region"),
            ("\"prod\"", "null", "keys[0].environment"),
        ];
        for (from, to, location) in cases {
            let e = mutate(from, to).unwrap_err();
            assert!(e.location.starts_with(location), "{from} -> {to}: {e}");
        }
        assert!(
            mutate(
                "\"generate\" }",
                "\"existing\", \"hsm_label\": \"old key 1\" }"
            )
            .is_ok()
        );
        assert!(parse_request_json(b"{").is_err());
        // A newer KMS key spec says why it is refused, not "unknown".
        let e = mutate("SYMMETRIC_DEFAULT", "ML_DSA_65").unwrap_err();
        assert!(e.message.contains("not supported"), "{e}");
        assert!(e.message.contains("Origin EXTERNAL"), "{e}");
        let k = mutate("SYMMETRIC_DEFAULT", "ECC_SECG_P256K1").unwrap();
        assert_eq!(k.keys[0].key_spec, KeySpec::EccSecgP256k1);
    }

    #[test]
    fn at_most_10000_keys() {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        let key = v["keys"][0].clone();
        v["keys"] = serde_json::Value::Array(vec![key; MAX_KEYS + 1]);
        let e = parse_request_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(e.location, "keys");
        assert!(e.message.contains("10001"), "{e}");
        v["keys"].as_array_mut().unwrap().pop();
        // Exactly 10,000 parses (duplicates are the verifier's business).
        assert_eq!(
            parse_request_json(&serde_json::to_vec(&v).unwrap())
                .unwrap()
                .keys
                .len(),
            MAX_KEYS
        );
    }

    #[test]
    fn arns_and_names() {
        assert!(parse_key_arn("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef").is_some());
        assert!(
            parse_key_arn(
                "arn:aws:kms:eu-west-1:111122223333:key/1234ABCD-12ab-34cd-56ef-1234567890ab"
            )
            .is_none()
        );
        assert!(parse_key_arn("arn:aws:s3:::bucket").is_none());
        assert!(
            is_key_name("a")
                && is_key_name("0-a")
                && !is_key_name("-a")
                && !is_key_name(&"a".repeat(64))
        );
        assert!(is_region("ap-southeast-5") && !is_region("eu-west") && !is_region("EU-west-1"));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_request_json(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_example(pos in 0usize..1200, byte in any::<u8>(), cut in 0usize..1300) {
            let mut b = EXAMPLE.as_bytes().to_vec();
            let p = pos % b.len();
            b[p] = byte;
            b.truncate(cut.max(1));
            let _ = parse_request_json(&b);
        }

        #[test]
        fn never_panics_on_field_values(v in "\\PC{0,80}") {
            for field in ["2026-11-28-prod-rotation", "111122223333", "eu-west-1", "prod-s3", "alias/prod-s3",
                          "SYMMETRIC_DEFAULT", "RSA_4096", "2026-11-29T09:00:00Z",
                          "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"] {
                let json = EXAMPLE.replacen(field, &v.replace(['"', '\\'], ""), 1);
                let _ = parse_request_json(json.as_bytes());
            }
        }
    }
}
