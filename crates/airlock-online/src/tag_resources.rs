//! `import --tag-resources`: after an import, the S3 buckets, DynamoDB
//! tables, RDS instances and Aurora clusters whose key (resolved to its ARN
//! with DescribeKey, once per distinct key) is one of the keys the ceremony
//! rotated get the rotation tags `KeyRotationStatus=Rotated`,
//! `LastKeyRotationDate` and `AirlockCeremony`. The resources come from the
//! report's own inventory (`report/inventory.rs`, no objects sampled), so
//! there is one listing, not two. Aurora member instances are left to their
//! cluster, as in the report. The tags are for people and dashboards:
//! `report` and the Config rule never read them. Buckets are read, merged
//! and written back (PutBucketTagging replaces the whole set), so their
//! other tags stay.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::Clients;
use crate::error::{Error, Result, sdk_code, sdk_detail};
use crate::exit::Exit;
use crate::report::inventory::{self, Resource};
use crate::report::judge::KeyRef;

/// The tags written on resources (a subset of the importer's rotation tags).
pub const RESOURCE_TAGS: [&str; 3] = [
    "KeyRotationStatus",
    "LastKeyRotationDate",
    "AirlockCeremony",
];
/// The resource kinds that are tagged.
pub const KINDS: [&str; 4] = ["bucket", "table", "db-instance", "db-cluster"];

/// A resource on a rotated key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// Its ARN.
    pub arn: String,
    /// bucket, table, db-instance, db-cluster.
    pub kind: &'static str,
    /// The plan key it is on.
    pub key_name: String,
}

/// The alias name (`alias/...`) a key reference names, if it is an alias
/// (by name or by alias ARN).
fn alias_of(reference: &str) -> Option<String> {
    if reference.starts_with("alias/") {
        return Some(reference.to_string());
    }
    reference
        .split_once(":alias/")
        .map(|(_, a)| format!("alias/{a}"))
}

/// The resources of `resources` on one of `rotated` (key ARN -> plan key
/// name), given KMS's answers `keys` (reference -> ARN or error); and the
/// problems (failed listings, failed lookups) that make the set incomplete.
/// `switching` (alias name -> plan key name) is for `--dry-run` only: a
/// resource that names an alias which the import would switch is on the
/// new key afterwards, although KMS still resolves the alias to the old one.
pub fn select(
    resources: &[Resource],
    keys: &BTreeMap<String, std::result::Result<String, String>>,
    rotated: &BTreeMap<String, String>,
    switching: &BTreeMap<String, String>,
) -> (Vec<Target>, Vec<String>) {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    for r in resources {
        let taggable = KINDS.contains(&r.kind);
        if let Some(e) = &r.error {
            if taggable || r.kind == "listing" {
                problems.push(format!("{}: {e}", r.arn));
            }
            continue;
        }
        let (true, KeyRef::Key(id)) = (taggable, &r.key) else {
            continue;
        };
        let target = |name: &String| Target {
            arn: r.arn.clone(),
            kind: r.kind,
            key_name: name.clone(),
        };
        if let Some(name) = alias_of(id).and_then(|a| switching.get(&a)) {
            targets.push(target(name));
            continue;
        }
        match keys.get(id) {
            Some(Ok(arn)) => {
                if let Some(name) = rotated.get(arn) {
                    targets.push(target(name));
                }
            }
            Some(Err(e)) => problems.push(format!("{}: key {id}: {e}", r.arn)),
            None => problems.push(format!("{}: key {id} was not looked up", r.arn)),
        }
    }
    targets.sort_by(|a, b| a.arn.cmp(&b.arn));
    (targets, problems)
}

/// A bucket's tag set with `tags` written over it: every other tag kept
/// (PutBucketTagging replaces the whole set), each of `tags` once.
pub fn merge_bucket_tags(
    existing: Vec<(String, String)>,
    tags: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut set: Vec<(String, String)> = existing
        .into_iter()
        .filter(|(k, _)| !tags.iter().any(|(t, _)| t == k))
        .collect();
    set.extend(tags.iter().map(|(k, v)| (k.to_string(), v.clone())));
    set
}

/// Lists the inventory and picks the resources on the rotated keys.
pub async fn targets(
    c: &Clients,
    account: &str,
    rotated: &BTreeMap<String, String>,
    switching: &BTreeMap<String, String>,
) -> (Vec<Target>, Vec<String>) {
    let resources = inventory::list(c, account, 16, 0).await;
    let refs: BTreeSet<String> = resources
        .iter()
        .filter(|r| KINDS.contains(&r.kind) && r.error.is_none())
        .filter_map(|r| match &r.key {
            KeyRef::Key(id) => Some(id.clone()),
            KeyRef::NoKey(_) => None,
        })
        .collect();
    let keys: BTreeMap<String, std::result::Result<String, String>> =
        crate::report::describe_all(&c.kms, refs, 16)
            .await
            .into_iter()
            .map(|(r, i)| (r, i.map(|i| i.arn)))
            .collect();
    select(&resources, &keys, rotated, switching)
}

fn build_err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: building the request: {e}")
}

/// Writes `tags` on one target; the error names the call and AWS's answer.
async fn tag_one(
    c: &Clients,
    t: &Target,
    tags: &[(&str, String)],
) -> std::result::Result<(), String> {
    match t.kind {
        "bucket" => {
            use aws_sdk_s3::types::{Tag, Tagging};
            let bucket = t.arn.trim_start_matches("arn:aws:s3:::");
            let existing: Vec<(String, String)> =
                match c.s3.get_bucket_tagging().bucket(bucket).send().await {
                    Ok(o) => o.tag_set.into_iter().map(|t| (t.key, t.value)).collect(),
                    Err(e) if sdk_code(&e).as_deref() == Some("NoSuchTagSet") => Vec::new(),
                    Err(e) => {
                        return Err(format!("s3:GetBucketTagging failed: {}", sdk_detail(&e)));
                    }
                };
            let mut set = Vec::new();
            for (k, v) in merge_bucket_tags(existing, tags) {
                set.push(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| build_err("s3:PutBucketTagging", e))?,
                );
            }
            let tagging = Tagging::builder()
                .set_tag_set(Some(set))
                .build()
                .map_err(|e| build_err("s3:PutBucketTagging", e))?;
            c.s3.put_bucket_tagging()
                .bucket(bucket)
                .tagging(tagging)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("s3:PutBucketTagging failed: {}", sdk_detail(&e)))
        }
        "table" => {
            let mut req = c.dynamodb.tag_resource().resource_arn(&t.arn);
            for (k, v) in tags {
                req = req.tags(
                    aws_sdk_dynamodb::types::Tag::builder()
                        .key(*k)
                        .value(v)
                        .build()
                        .map_err(|e| build_err("dynamodb:TagResource", e))?,
                );
            }
            req.send()
                .await
                .map(|_| ())
                .map_err(|e| format!("dynamodb:TagResource failed: {}", sdk_detail(&e)))
        }
        _ => {
            let mut req = c.rds.add_tags_to_resource().resource_name(&t.arn);
            for (k, v) in tags {
                req = req.tags(aws_sdk_rds::types::Tag::builder().key(*k).value(v).build());
            }
            req.send()
                .await
                .map(|_| ())
                .map_err(|e| format!("rds:AddTagsToResource failed: {}", sdk_detail(&e)))
        }
    }
}

/// The calls `--dry-run` prints for `targets`.
pub fn dry_run_calls(targets: &[Target], ceremony_id: &str) -> Vec<String> {
    targets
        .iter()
        .map(|t| {
            let call = match t.kind {
                "bucket" => "s3:GetBucketTagging + s3:PutBucketTagging (merged)",
                "table" => "dynamodb:TagResource",
                _ => "rds:AddTagsToResource",
            };
            format!(
                "{call} {} (on {}) KeyRotationStatus=Rotated LastKeyRotationDate=<now> AirlockCeremony={ceremony_id}",
                t.arn, t.key_name
            )
        })
        .collect()
}

/// Tags every resource on a rotated key. Returns what was tagged; refuses
/// (exit 11) when the set is incomplete or a tag write failed, after
/// tagging all it could, naming each failure.
pub async fn run(
    c: &Clients,
    account: &str,
    rotated: &BTreeMap<String, String>,
    ceremony_id: &str,
    now: &str,
) -> Result<Vec<Target>> {
    let (targets, mut problems) = targets(c, account, rotated, &BTreeMap::new()).await;
    let tags = [
        ("KeyRotationStatus", "Rotated".to_string()),
        ("LastKeyRotationDate", now.to_string()),
        ("AirlockCeremony", ceremony_id.to_string()),
    ];
    let mut done = Vec::new();
    for t in targets {
        match tag_one(c, &t, &tags).await {
            Ok(()) => {
                eprintln!("tagged {} {} (on {})", t.kind, t.arn, t.key_name);
                done.push(t);
            }
            Err(e) => problems.push(format!("{}: {e}", t.arn)),
        }
    }
    if problems.is_empty() {
        Ok(done)
    } else {
        Err(Error::refused(
            Exit::Aws,
            format!(
                "the import is done (receipts written), but --tag-resources tagged only {} resources: {}. \
                 Give the importer role the permission named (airlock-online iam writes it) and rerun the \
                 same import with --tag-resources: KMS shows the keys done, so only the tags are written",
                done.len(),
                problems.join("; ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(arn: &str, kind: &'static str, key: KeyRef, error: Option<&str>) -> Resource {
        Resource {
            arn: arn.into(),
            service: "s3",
            kind,
            account: String::new(),
            region: String::new(),
            key,
            parts: Vec::new(),
            env_tag: None,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn only_taggable_kinds_on_rotated_keys_and_every_gap_is_a_problem() {
        let rotated = BTreeMap::from([("arn:new".to_string(), "dev-rds".to_string())]);
        let keys = BTreeMap::from([
            ("alias/dev-rds".to_string(), Ok("arn:new".to_string())),
            ("arn:old".to_string(), Ok("arn:old".to_string())),
            ("gone".to_string(), Err("NotFoundException".to_string())),
        ]);
        let k = |s: &str| KeyRef::Key(s.into());
        let resources = vec![
            res("b1", "bucket", k("alias/dev-rds"), None),
            res("db1", "db-instance", k("arn:old"), None),
            res("snap", "db-snapshot", k("alias/dev-rds"), None),
            res("t1", "table", k("gone"), None),
            res("b2", "bucket", KeyRef::NoKey("SSE-S3".into()), None),
            res(
                "b3",
                "bucket",
                KeyRef::NoKey(String::new()),
                Some("AccessDenied"),
            ),
            res(
                "backup",
                "table-backup",
                KeyRef::NoKey(String::new()),
                Some("x"),
            ),
        ];
        let (t, p) = select(&resources, &keys, &rotated, &BTreeMap::new());
        assert_eq!(
            t,
            vec![Target {
                arn: "b1".into(),
                kind: "bucket",
                key_name: "dev-rds".into()
            }]
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("t1: key gone") && p[1].starts_with("b3: AccessDenied"));
    }

    #[test]
    fn a_dry_run_counts_resources_on_an_alias_it_would_switch() {
        // Before the switch KMS resolves alias/dev-s3 to the old key.
        let keys = BTreeMap::from([
            ("alias/dev-s3".to_string(), Ok("arn:old".to_string())),
            (
                "arn:aws:kms:eu-west-1:1:alias/dev-s3".to_string(),
                Ok("arn:old".to_string()),
            ),
            ("arn:old".to_string(), Ok("arn:old".to_string())),
        ]);
        let k = |s: &str| KeyRef::Key(s.into());
        let resources = vec![
            res("b1", "bucket", k("alias/dev-s3"), None),
            res(
                "b2",
                "bucket",
                k("arn:aws:kms:eu-west-1:1:alias/dev-s3"),
                None,
            ),
            res("b3", "bucket", k("arn:old"), None),
        ];
        let rotated = BTreeMap::from([("arn:new".to_string(), "dev-s3".to_string())]);
        let (t, p) = select(&resources, &keys, &rotated, &BTreeMap::new());
        assert!(t.is_empty() && p.is_empty(), "{t:?} {p:?}");
        let switching = BTreeMap::from([("alias/dev-s3".to_string(), "dev-s3".to_string())]);
        let (t, p) = select(&resources, &keys, &rotated, &switching);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            t.iter().map(|t| t.arn.as_str()).collect::<Vec<_>>(),
            ["b1", "b2"],
            "the bucket naming the old key by ARN stays untagged"
        );
    }

    #[test]
    fn bucket_tags_are_merged_not_replaced() {
        let existing = vec![
            ("Environment".to_string(), "dev".to_string()),
            ("KeyRotationStatus".to_string(), "Pending".to_string()),
            ("Owner".to_string(), "team-a".to_string()),
        ];
        let tags = [
            ("KeyRotationStatus", "Rotated".to_string()),
            ("AirlockCeremony", "c-1".to_string()),
        ];
        let mut got = merge_bucket_tags(existing, &tags);
        got.sort();
        assert_eq!(
            got,
            [
                ("AirlockCeremony".to_string(), "c-1".to_string()),
                ("Environment".to_string(), "dev".to_string()),
                ("KeyRotationStatus".to_string(), "Rotated".to_string()),
                ("Owner".to_string(), "team-a".to_string()),
            ]
        );
    }

    #[test]
    fn the_tags_written_are_never_the_ones_the_report_reads() {
        // The report attributes resources to environments by their
        // Environment tag; the importer must never write it.
        assert!(!RESOURCE_TAGS.contains(&"Environment"));
        assert!(
            RESOURCE_TAGS
                .iter()
                .all(|t| crate::iam::ROTATION_TAGS.contains(t))
        );
    }
}
