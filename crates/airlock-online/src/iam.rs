//! `iam`: the preparer, importer and reporter policies and their roles'
//! trust policies, from the plan (and, with `--request`, the exact key
//! ARNs). Every statement is time-boxed by `aws:CurrentTime` (from now to
//! `--valid-until`) and needs MFA; CreateKey may carry only the planned
//! tags (`aws:RequestTag/…`, `aws:TagKeys`); the importer may write only
//! the rotation tags on keys, call the test operations only under the test
//! encryption context, and re-point aliases back for a rollback. Only with
//! `iam --tag-resources` does the importer also get what
//! `import --tag-resources` needs: the three resource rotation tags on
//! tables, instances and clusters, and read-merge-write of bucket tags
//! pinned to the account (PutBucketTagging has no tag-key condition, so
//! that grant is off unless asked for). Pure JSON generation: no AWS call.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::plan::{self, Plan};

/// The encryption context every post-import test call carries.
pub const TEST_CONTEXT_KEY: &str = "airlock-purpose";
/// Its value.
pub const TEST_CONTEXT_VALUE: &str = "post-import-test";
/// The tags CreateKey may carry.
pub const CREATE_TAGS: [&str; 6] = [
    "KeyRotationStatus",
    "Environment",
    "Service",
    "AirlockKeyName",
    "AirlockAlias",
    "AirlockRequestId",
];
/// The only tags the importer may write.
pub const ROTATION_TAGS: [&str; 4] = [
    "KeyRotationStatus",
    "LastKeyRotationDate",
    "AirlockCeremony",
    "ReplacedBy",
];

/// Options of `iam`.
#[derive(Debug, Args)]
pub struct IamArgs {
    /// The rotation plan (airlock-plan/1).
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// End of the window in which the policies allow anything (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub valid_until: String,
    /// Where the JSON files go (must not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The request bundle: pins the importer to its exact key ARNs.
    #[arg(long, value_name = "DIR")]
    pub request: Option<PathBuf>,
    /// The KMS key that signs requests (kms:Sign allowed on it only).
    #[arg(long, value_name = "ARN")]
    pub signer_key_arn: Option<String>,
    /// The principal allowed to assume the roles (default: the account root).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// MaxSessionDuration of the roles, in seconds (900-43200).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub max_session_seconds: u32,
    /// Also let the importer run `import --tag-resources`: list the
    /// inventory and tag the buckets, tables, instances and clusters on the
    /// rotated keys. Off by default: PutBucketTagging cannot be limited to
    /// the rotation tags, so this lets the importer rewrite bucket tags.
    #[arg(long)]
    pub tag_resources: bool,
    /// Also let the importer run `import --valid-to` (ExpirationModel
    /// KEY_MATERIAL_EXPIRES), with a ValidTo no earlier than the end of the
    /// window plus --min-material-validity-days. Off by default: expiring
    /// material makes the key unusable when it expires, so the right to set
    /// an expiry is the right to schedule an outage.
    #[arg(long)]
    pub allow_expiring_material: bool,
    /// With --allow-expiring-material: the shortest validity the importer
    /// may give, in days after the end of the window (1-364).
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub min_material_validity_days: u32,
}

/// The inputs of the generator, validated.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The window.
    pub valid_from: String,
    /// The window's end.
    pub valid_until: String,
    /// The request's key ARNs, if known.
    pub key_arns: Option<Vec<String>>,
    /// The request signer in KMS.
    pub signer: Option<String>,
    /// Who may assume the roles.
    pub principal: String,
    /// Role session limit.
    pub max_session_seconds: u32,
    /// The importer may also tag resources (`import --tag-resources`).
    pub tag_resources: bool,
    /// The importer may import expiring material with a ValidTo no earlier
    /// than this (RFC 3339); None: only material that does not expire.
    pub expiring_material_floor: Option<String>,
}

fn window(i: &Inputs) -> Value {
    json!({
        "DateGreaterThan": {"aws:CurrentTime": i.valid_from},
        "DateLessThan": {"aws:CurrentTime": i.valid_until},
        "Bool": {"aws:MultiFactorAuthPresent": "true"}
    })
}

/// Merges condition blocks: operators of `extra` added to (or into) `base`.
fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(c), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (op, kv) in e {
            let slot = c.entry(op.clone()).or_insert_with(|| json!({}));
            if let (Some(slot), Some(kv)) = (slot.as_object_mut(), kv.as_object()) {
                slot.extend(kv.clone());
            }
        }
    }
    base
}

fn with_window(i: &Inputs, extra: Value) -> Value {
    merge(window(i), extra)
}

fn stmt(sid: &str, actions: &[&str], resource: Value, condition: Value) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource, "Condition": condition})
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The preparer's policy.
pub fn preparer(p: &Plan, i: &Inputs) -> Value {
    let key = format!("arn:aws:kms:{}:{}:key/*", i.region, i.account);
    let specs = sorted_unique(p.keys.iter().map(|k| k.key_spec.clone()).collect());
    let algs = sorted_unique(
        p.keys
            .iter()
            .filter_map(|k| plan::preferred_wrapping_algorithm(&k.key_spec).map(str::to_string))
            .collect(),
    );
    let envs = sorted_unique(p.keys.iter().map(|k| k.environment.clone()).collect());
    let mut s = vec![
        stmt(
            "CreateExternalKeysWithPlannedTagsOnly",
            &["kms:CreateKey"],
            json!("*"),
            with_window(
                i,
                json!({
                    "StringEquals": {"kms:KeyOrigin": "EXTERNAL", "kms:KeySpec": specs,
                                     "aws:RequestTag/KeyRotationStatus": "Pending",
                                     "aws:RequestTag/AirlockRequestId": p.request_id,
                                     "aws:RequestTag/Environment": envs},
                    "ForAllValues:StringEquals": {"aws:TagKeys": CREATE_TAGS}
                }),
            ),
        ),
        stmt(
            "TagNewKeysWithPlannedTagsOnly",
            &["kms:TagResource"],
            json!(key),
            with_window(
                i,
                json!({
                    "StringEquals": {"aws:RequestTag/KeyRotationStatus": "Pending"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": CREATE_TAGS}
                }),
            ),
        ),
        stmt(
            "ImportParametersPlannedAlgorithmsOnly",
            &["kms:GetParametersForImport"],
            json!(key),
            with_window(
                i,
                json!({"StringEquals": {"kms:WrappingAlgorithm": algs, "kms:WrappingKeySpec": "RSA_4096"}}),
            ),
        ),
        stmt("ReadKeys", &["kms:DescribeKey"], json!(key), window(i)),
        stmt("ListAliases", &["kms:ListAliases"], json!("*"), window(i)),
    ];
    if let Some(signer) = &i.signer {
        s.push(stmt(
            "SignRequestsWithTheSignerKeyOnly",
            &["kms:Sign"],
            json!(signer),
            with_window(i, json!({"StringEquals": {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256", "kms:MessageType": "DIGEST"}})),
        ));
        s.push(stmt(
            "ReadTheSignerPublicKey",
            &["kms:GetPublicKey"],
            json!(signer),
            window(i),
        ));
    }
    json!({"Version": "2012-10-17", "Statement": s})
}

/// The importer's policy (also what `rollback` needs).
pub fn importer(p: &Plan, i: &Inputs) -> Value {
    let prefix = format!("arn:aws:kms:{}:{}", i.region, i.account);
    let any_key = format!("{prefix}:key/*");
    let aliases = sorted_unique(
        p.keys
            .iter()
            .map(|k| format!("{prefix}:{}", k.alias))
            .collect(),
    );
    let (keys, key_cond) = match &i.key_arns {
        Some(a) => (json!(sorted_unique(a.clone())), json!({})),
        None => (
            json!(any_key),
            json!({"StringEquals": {"aws:ResourceTag/AirlockRequestId": p.request_id}}),
        ),
    };
    let s = vec![stmt(
        "ImportIntoPlannedKeysWithoutExpiry",
        &["kms:ImportKeyMaterial"],
        keys.clone(),
        with_window(
            i,
            merge(
                json!({"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}}),
                key_cond.clone(),
            ),
        ),
    )];
    let mut s = s;
    if let Some(floor) = &i.expiring_material_floor {
        // `import --valid-to`: KEY_MATERIAL_EXPIRES only with a ValidTo no
        // earlier than the floor (kms:ValidTo is a Date condition key), so
        // this role cannot make the material expire within days.
        s.push(stmt(
            "ImportExpiringMaterialIntoPlannedKeys",
            &["kms:ImportKeyMaterial"],
            keys.clone(),
            with_window(
                i,
                merge(
                    json!({"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_EXPIRES"},
                           "DateGreaterThanEquals": {"kms:ValidTo": floor}}),
                    key_cond.clone(),
                ),
            ),
        ));
    }
    s.extend([
        stmt(
            "RotateAndReadPlannedKeys",
            &[
                "kms:RotateKeyOnDemand",
                "kms:DescribeKey",
                "kms:ListKeyRotations",
            ],
            keys.clone(),
            with_window(i, key_cond.clone()),
        ),
        stmt(
            "TestCallsUnderTheTestContextOnly",
            &["kms:Encrypt", "kms:Decrypt"],
            keys.clone(),
            with_window(
                i,
                json!({"StringEquals": {format!("kms:EncryptionContext:{TEST_CONTEXT_KEY}"): TEST_CONTEXT_VALUE}}),
            ),
        ),
        stmt(
            "TestCallsOfNewHmacAndAsymmetricKeys",
            &["kms:GenerateMac", "kms:VerifyMac", "kms:Sign", "kms:Verify"],
            keys.clone(),
            with_window(i, key_cond.clone()),
        ),
        stmt(
            "RotationTagsOnly",
            &["kms:TagResource"],
            json!(any_key),
            with_window(
                i,
                json!({"ForAllValues:StringEquals": {"aws:TagKeys": ROTATION_TAGS}, "Null": {"aws:TagKeys": "false"}}),
            ),
        ),
        // UpdateAlias needs the alias, the new target and the old target;
        // the old target (and a rollback's target) is not known here, so
        // keys are any key of the account while the aliases are exactly
        // the planned ones: only planned aliases can move, back or forth.
        stmt(
            "SwitchAndRollBackPlannedAliasesOnly",
            &["kms:UpdateAlias", "kms:CreateAlias"],
            json!(
                aliases
                    .iter()
                    .cloned()
                    .chain([any_key.clone()])
                    .collect::<Vec<_>>()
            ),
            window(i),
        ),
        stmt("ListAliases", &["kms:ListAliases"], json!("*"), window(i)),
    ]);
    if i.tag_resources {
        s.extend(tag_resources(i));
    }
    json!({"Version": "2012-10-17", "Statement": s})
}

/// What `import --tag-resources` needs: the report's inventory reads (no
/// objects, no CloudTrail, no aggregator), DescribeKey on the keys the
/// resources name, and tag writes limited to the three resource rotation
/// tags on tables, instances and clusters. S3's PutBucketTagging has no
/// tag-key condition (it replaces the whole set): the importer reads,
/// merges and writes back, and the policy pins the bucket owner.
fn tag_resources(i: &Inputs) -> Vec<Value> {
    let (r, a) = (&i.region, &i.account);
    vec![
        stmt(
            "TagResourcesDescribeTheirKeys",
            &["kms:DescribeKey"],
            json!(format!("arn:aws:kms:{r}:{a}:key/*")),
            window(i),
        ),
        stmt(
            "TagResourcesListInventory",
            &[
                "s3:ListAllMyBuckets",
                "rds:DescribeDBSnapshots",
                "rds:DescribeDBClusterSnapshots",
                "dynamodb:ListTables",
                "dynamodb:ListBackups",
            ],
            json!("*"),
            window(i),
        ),
        stmt(
            "TagResourcesDescribeInstancesAndClusters",
            &["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
            json!([
                format!("arn:aws:rds:{r}:{a}:db:*"),
                format!("arn:aws:rds:{r}:{a}:cluster:*")
            ]),
            window(i),
        ),
        stmt(
            "TagResourcesReadTablesAndBackups",
            &[
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
                "dynamodb:DescribeBackup",
            ],
            json!([
                format!("arn:aws:dynamodb:{r}:{a}:table/*"),
                format!("arn:aws:dynamodb:{r}:{a}:table/*/backup/*")
            ]),
            window(i),
        ),
        stmt(
            "TagResourcesReadAndMergeBucketTags",
            &[
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketLocation",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
            ],
            json!("arn:aws:s3:::*"),
            with_window(i, json!({"StringEquals": {"s3:ResourceAccount": a}})),
        ),
        stmt(
            "ResourceRotationTagsOnly",
            &["dynamodb:TagResource", "rds:AddTagsToResource"],
            json!([
                format!("arn:aws:dynamodb:{r}:{a}:table/*"),
                format!("arn:aws:rds:{r}:{a}:db:*"),
                format!("arn:aws:rds:{r}:{a}:cluster:*")
            ]),
            with_window(
                i,
                json!({"ForAllValues:StringEquals": {"aws:TagKeys": crate::tag_resources::RESOURCE_TAGS},
                       "Null": {"aws:TagKeys": "false"}}),
            ),
        ),
    ]
}

/// The reporter's read-only policy.
pub fn reporter(i: &Inputs) -> Value {
    let key = format!("arn:aws:kms:*:{}:key/*", i.account);
    let s = vec![
        stmt(
            "ReadKeysAndTheirRotations",
            &["kms:DescribeKey", "kms:ListKeyRotations"],
            json!(key),
            window(i),
        ),
        stmt(
            "ListEverything",
            &[
                "kms:ListAliases",
                "s3:ListAllMyBuckets",
                "rds:DescribeDBSnapshots",
                "rds:DescribeDBClusterSnapshots",
                "dynamodb:ListTables",
                "dynamodb:ListBackups",
                "cloudtrail:LookupEvents",
            ],
            json!("*"),
            window(i),
        ),
        stmt(
            "DescribeInstancesAndClusters",
            &["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
            json!([
                format!("arn:aws:rds:*:{}:db:*", i.account),
                format!("arn:aws:rds:*:{}:cluster:*", i.account)
            ]),
            window(i),
        ),
        stmt(
            "ReadBucketSettingsAndSampledObjectHeaders",
            &[
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketLocation",
                "s3:GetBucketTagging",
                "s3:ListBucket",
                "s3:GetObject",
            ],
            json!(["arn:aws:s3:::*", "arn:aws:s3:::*/*"]),
            window(i),
        ),
        stmt(
            "ReadTablesAndBackups",
            &[
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
                "dynamodb:DescribeBackup",
            ],
            json!([
                format!("arn:aws:dynamodb:*:{}:table/*", i.account),
                format!("arn:aws:dynamodb:*:{}:table/*/backup/*", i.account)
            ]),
            window(i),
        ),
        stmt(
            "AggregatorQueries",
            &["config:SelectAggregateResourceConfig"],
            json!(format!(
                "arn:aws:config:*:{}:config-aggregator/*",
                i.account
            )),
            window(i),
        ),
    ];
    json!({"Version": "2012-10-17", "Statement": s})
}

/// A role's trust policy: MFA within the hour, inside the window.
pub fn trust(i: &Inputs) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
    "Sid": "AssumeWithRecentMfaInsideTheWindow", "Effect": "Allow",
    "Principal": {"AWS": i.principal}, "Action": "sts:AssumeRole",
    "Condition": {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
        "DateGreaterThan": {"aws:CurrentTime": i.valid_from},
        "DateLessThan": {"aws:CurrentTime": i.valid_until}
    }}]})
}

fn write(dir: &Path, name: &str, v: &Value) -> Result<()> {
    let p = dir.join(name);
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    std::fs::write(&p, b).map_err(|e| Error::io(&p, "writing a policy", e))
}

/// Runs `iam`.
pub fn run(a: &IamArgs, g: &Global) -> Result<Exit> {
    let p = plan::load(&a.plan)?;
    let fmt = &time::format_description::well_known::Rfc3339;
    let until = time::OffsetDateTime::parse(&a.valid_until, fmt).map_err(|e| {
        Error::refused(
            Exit::Usage,
            format!("--valid-until {:?} is not RFC 3339 ({e})", a.valid_until),
        )
    })?;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    if until <= now {
        return Err(Error::refused(
            Exit::Usage,
            "--valid-until is in the past: the policies would allow nothing",
        ));
    }
    if !(900..=43200).contains(&a.max_session_seconds) {
        return Err(Error::refused(
            Exit::Usage,
            "--max-session-seconds must be 900..43200 (IAM's MaxSessionDuration range)",
        ));
    }
    if a.allow_expiring_material && !(1..=364).contains(&a.min_material_validity_days) {
        return Err(Error::refused(
            Exit::Usage,
            "--min-material-validity-days must be 1..364 (KMS accepts a ValidTo at most 365 days ahead)",
        ));
    }
    let mut account = p.aws_account.clone();
    let mut region = p.aws_region.clone();
    let mut key_arns = None;
    if let Some(dir) = &a.request {
        let path = dir.join("request.json");
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io(&path, "reading request.json", e))?;
        let r = airlock_core::request::parse_request_json(&bytes)
            .map_err(|e| Error::refused(Exit::Content, format!("{}: {e}", path.display())))?;
        let (ra, rr) = (
            r.aws_account.as_str().to_string(),
            r.aws_region.as_str().to_string(),
        );
        if account.as_ref().is_some_and(|x| x != &ra) || region.as_ref().is_some_and(|x| x != &rr) {
            return Err(Error::refused(
                Exit::Content,
                format!(
                    "{} is for {ra}/{rr}, not the plan's account/region",
                    path.display()
                ),
            ));
        }
        let missing: Vec<&str> = p
            .keys
            .iter()
            .filter(|k| !r.keys.iter().any(|x| x.name.as_str() == k.name))
            .map(|k| k.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::refused(
                Exit::Content,
                format!(
                    "planned keys missing from {}: {}; pass the request made from this plan",
                    path.display(),
                    missing.join(", ")
                ),
            ));
        }
        account = Some(ra);
        region = Some(rr);
        // A multi-Region key's replicas take the same import calls in
        // their own regions: their ARNs (each with its region) join the
        // primary's, under the same time box and MFA.
        key_arns = Some(
            r.keys
                .iter()
                .flat_map(|k| {
                    std::iter::once(k.key_arn.as_str().to_string())
                        .chain(k.replicas.iter().map(|x| x.key_arn.as_str().to_string()))
                })
                .collect(),
        );
    }
    let (Some(account), Some(region)) = (account, region) else {
        return Err(Error::refused(
            Exit::Usage,
            "no account/region: set aws_account and aws_region in the plan, or pass --request",
        ));
    };
    let i = Inputs {
        principal: a
            .principal
            .clone()
            .unwrap_or_else(|| format!("arn:aws:iam::{account}:root")),
        account,
        region,
        valid_from: airlock_core::request::rfc3339(now),
        valid_until: airlock_core::request::rfc3339(until),
        key_arns,
        signer: a.signer_key_arn.clone(),
        max_session_seconds: a.max_session_seconds,
        tag_resources: a.tag_resources,
        expiring_material_floor: a.allow_expiring_material.then(|| {
            airlock_core::request::rfc3339(
                until + time::Duration::days(i64::from(a.min_material_validity_days)),
            )
        }),
    };
    let roles: Vec<Value> = ["preparer", "importer", "reporter"]
        .iter()
        .map(|r| {
            json!({"RoleName": format!("airlock-{r}"), "MaxSessionDuration": i.max_session_seconds,
                   "AssumeRolePolicyDocument": format!("{r}-trust-policy.json"), "Policy": format!("{r}-policy.json")})
        })
        .collect();
    let files = [
        ("preparer-policy.json", preparer(&p, &i)),
        ("importer-policy.json", importer(&p, &i)),
        ("reporter-policy.json", reporter(&i)),
        ("preparer-trust-policy.json", trust(&i)),
        ("importer-trust-policy.json", trust(&i)),
        ("reporter-trust-policy.json", trust(&i)),
        ("roles.json", json!({ "roles": roles })),
    ];
    if g.dry_run || g.json {
        let all: serde_json::Map<String, Value> = files
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        if g.dry_run {
            eprintln!("dry run: nothing written to {}", a.out.display());
        }
        println!("{:#}", Value::Object(all));
        if g.dry_run {
            return Ok(Exit::Ok);
        }
    }
    if a.out.exists() {
        return Err(Error::refused(
            Exit::Io,
            format!(
                "output {} already exists; choose a new folder",
                a.out.display()
            ),
        ));
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| Error::io(&a.out, "creating the output folder", e))?;
    for (n, v) in &files {
        write(&a.out, n, v)?;
    }
    if !g.json {
        println!(
            "wrote {} policies to {} (valid {} .. {})",
            files.len(),
            a.out.display(),
            i.valid_from,
            i.valid_until
        );
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: "2026-02-01T00:00:00Z".into(),
            key_arns: Some(vec![
                "arn:aws:kms:eu-west-1:111122223333:key/b".into(),
                "arn:aws:kms:eu-west-1:111122223333:key/a".into(),
            ]),
            signer: None,
            principal: "arn:aws:iam::111122223333:root".into(),
            max_session_seconds: 3600,
            tag_resources: false,
            expiring_material_floor: None,
        }
    }

    fn inputs_tagging() -> Inputs {
        Inputs {
            tag_resources: true,
            ..inputs()
        }
    }

    fn plan() -> Plan {
        crate::plan::parse(br#"{"format": "airlock-plan/1", "request_id": "r", "keys": [
            {"name": "dev-s3", "alias": "alias/dev-s3", "environment": "dev", "service": "s3", "key_spec": "SYMMETRIC_DEFAULT", "strategy": "on-demand"}]}"#, "p").unwrap()
    }

    fn find<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap()
    }

    #[test]
    fn every_statement_is_time_boxed_and_needs_mfa() {
        let i = inputs();
        for pol in [
            preparer(&plan(), &i),
            importer(&plan(), &i),
            importer(&plan(), &inputs_tagging()),
            reporter(&i),
            trust(&i),
        ] {
            for s in pol["Statement"].as_array().unwrap() {
                assert_eq!(
                    s["Condition"]["DateLessThan"]["aws:CurrentTime"], "2026-02-01T00:00:00Z",
                    "{s}"
                );
                assert_eq!(
                    s["Condition"]["Bool"]["aws:MultiFactorAuthPresent"], "true",
                    "{s}"
                );
            }
        }
    }

    #[test]
    fn expiring_material_only_when_asked_and_not_too_soon() {
        let p = importer(&plan(), &inputs());
        assert!(
            !p.to_string().contains("KEY_MATERIAL_EXPIRES"),
            "expiring material allowed without --allow-expiring-material"
        );
        let i = Inputs {
            expiring_material_floor: Some("2026-02-08T00:00:00Z".into()),
            ..inputs()
        };
        let p = importer(&plan(), &i);
        let e = find(&p, "ImportExpiringMaterialIntoPlannedKeys");
        assert_eq!(e["Action"], json!(["kms:ImportKeyMaterial"]));
        assert_eq!(
            e["Condition"]["StringEquals"]["kms:ExpirationModel"],
            "KEY_MATERIAL_EXPIRES"
        );
        assert_eq!(
            e["Condition"]["DateGreaterThanEquals"]["kms:ValidTo"],
            "2026-02-08T00:00:00Z"
        );
        // Same keys as the non-expiring import, inside the window.
        assert_eq!(
            e["Resource"],
            find(&p, "ImportIntoPlannedKeysWithoutExpiry")["Resource"]
        );
        assert_eq!(
            e["Condition"]["DateLessThan"]["aws:CurrentTime"],
            "2026-02-01T00:00:00Z"
        );
        let r = reporter(&inputs());
        assert_eq!(
            find(&r, "ReadKeysAndTheirRotations")["Action"],
            json!(["kms:DescribeKey", "kms:ListKeyRotations"])
        );
    }

    #[test]
    fn create_key_tags_use_request_tag_and_tag_keys_not_caller_action() {
        let p = preparer(&plan(), &inputs());
        let c = &find(&p, "CreateExternalKeysWithPlannedTagsOnly")["Condition"];
        assert_eq!(
            c["StringEquals"]["aws:RequestTag/KeyRotationStatus"],
            "Pending"
        );
        assert_eq!(
            c["ForAllValues:StringEquals"]["aws:TagKeys"],
            json!(CREATE_TAGS)
        );
        assert!(!p.to_string().contains("kms:CallerAction"));
    }

    #[test]
    fn the_importer_writes_only_rotation_tags_and_tests_under_a_context() {
        let p = importer(&plan(), &inputs());
        assert_eq!(
            find(&p, "RotationTagsOnly")["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
            json!(ROTATION_TAGS)
        );
        // Without `iam --tag-resources` the importer cannot touch resources.
        let text = p.to_string();
        for a in [
            "s3:PutBucketTagging",
            "dynamodb:TagResource",
            "rds:AddTagsToResource",
        ] {
            assert!(!text.contains(a), "{a} granted without --tag-resources");
        }
        let p = importer(&plan(), &inputs_tagging());
        let res = find(&p, "ResourceRotationTagsOnly");
        assert_eq!(
            res["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
            json!([
                "KeyRotationStatus",
                "LastKeyRotationDate",
                "AirlockCeremony"
            ])
        );
        assert_eq!(
            res["Action"],
            json!(["dynamodb:TagResource", "rds:AddTagsToResource"])
        );
        assert_eq!(
            find(&p, "TagResourcesReadAndMergeBucketTags")["Condition"]["StringEquals"]["s3:ResourceAccount"],
            "111122223333"
        );
        assert_eq!(
            find(&p, "TestCallsUnderTheTestContextOnly")["Condition"]["StringEquals"]["kms:EncryptionContext:airlock-purpose"],
            "post-import-test"
        );
        let imp = find(&p, "ImportIntoPlannedKeysWithoutExpiry");
        assert_eq!(
            imp["Resource"],
            json!([
                "arn:aws:kms:eu-west-1:111122223333:key/a",
                "arn:aws:kms:eu-west-1:111122223333:key/b"
            ])
        );
        assert_eq!(
            imp["Condition"]["StringEquals"]["kms:ExpirationModel"],
            "KEY_MATERIAL_DOES_NOT_EXPIRE"
        );
        let sw = find(&p, "SwitchAndRollBackPlannedAliasesOnly");
        assert!(
            sw["Resource"]
                .as_array()
                .unwrap()
                .contains(&json!("arn:aws:kms:eu-west-1:111122223333:alias/dev-s3"))
        );
        assert_eq!(
            sw["Resource"].as_array().unwrap().len(),
            2,
            "the planned alias and the account's keys, no other alias"
        );
    }
}
