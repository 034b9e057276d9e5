//! The inventory by direct listing in one account and region, with bounded
//! concurrency: S3 buckets (default encryption, bucket key, a bounded
//! sample of objects' keys, tags), RDS instances (Aurora members are left
//! to their cluster, so each is counted once), Aurora clusters, manual and
//! automated instance and cluster snapshots, DynamoDB tables (with their
//! global-table replicas), and their backups. A failed call about a
//! resource becomes that resource's error; a failed listing becomes one
//! ERROR row for the service, so nothing is silently skipped.

use futures::StreamExt;

use super::judge::KeyRef;
use crate::aws::Clients;
use crate::error::{sdk_code, sdk_detail};

/// One resource (or part) to judge.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its ARN (or, for a failed listing, the listing's name).
    pub arn: String,
    /// s3, rds or dynamodb.
    pub service: &'static str,
    /// bucket, db-instance, db-cluster, db-snapshot, db-cluster-snapshot,
    /// table, table-replica, table-backup, listing.
    pub kind: &'static str,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The key of the resource itself.
    pub key: KeyRef,
    /// Further parts judged with it (S3 objects), described.
    pub parts: Vec<(String, KeyRef)>,
    /// The resource's Environment tag.
    pub env_tag: Option<String>,
    /// Why it cannot be judged (an AWS call about it failed).
    pub error: Option<String>,
}

impl Resource {
    fn new(
        arn: String,
        service: &'static str,
        kind: &'static str,
        account: &str,
        region: &str,
        key: KeyRef,
    ) -> Self {
        Resource {
            arn,
            service,
            kind,
            account: account.into(),
            region: region.into(),
            key,
            parts: Vec::new(),
            env_tag: None,
            error: None,
        }
    }

    fn listing_error(
        what: &str,
        service: &'static str,
        account: &str,
        region: &str,
        detail: String,
    ) -> Self {
        let mut r = Resource::new(
            what.into(),
            service,
            "listing",
            account,
            region,
            KeyRef::NoKey(String::new()),
        );
        r.error = Some(format!("{what} failed: {detail}"));
        r
    }
}

fn env_from<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    tags.into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("environment"))
        .map(|(_, v)| v.to_string())
}

fn rds_key(encrypted: Option<bool>, key: Option<String>) -> KeyRef {
    match (encrypted, key) {
        (Some(true), Some(k)) => KeyRef::Key(k),
        (Some(true), None) => KeyRef::NoKey("encrypted without a key id in the answer".into()),
        _ => KeyRef::NoKey("unencrypted".into()),
    }
}

/// Lists everything in the account and region of `c`.
pub async fn list(
    c: &Clients,
    account: &str,
    concurrency: usize,
    object_sample: i32,
) -> Vec<Resource> {
    let (s3, rds, ddb) = tokio::join!(
        s3_buckets(c, account, concurrency, object_sample),
        rds_all(c, account),
        dynamodb_all(c, account, concurrency)
    );
    let mut out = s3;
    out.extend(rds);
    out.extend(ddb);
    out
}

async fn s3_buckets(c: &Clients, account: &str, concurrency: usize, sample: i32) -> Vec<Resource> {
    let region = c.region.clone();
    let mut names = Vec::new();
    let mut pages = c.s3.list_buckets().into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                for b in p.buckets.unwrap_or_default() {
                    if let Some(n) = b.name {
                        names.push((n, b.bucket_region));
                    }
                }
            }
            Err(e) => {
                return vec![Resource::listing_error(
                    "s3:ListBuckets",
                    "s3",
                    account,
                    &region,
                    sdk_detail(&e),
                )];
            }
        }
    }
    futures::stream::iter(names)
        .map(|(name, bregion)| bucket(c, account, name, bregion, sample))
        .buffer_unordered(concurrency.max(1))
        .filter_map(|r| async move { r })
        .collect()
        .await
}

async fn bucket(
    c: &Clients,
    account: &str,
    name: String,
    bregion: Option<String>,
    sample: i32,
) -> Option<Resource> {
    let region = c.region.as_str();
    let arn = format!("arn:aws:s3:::{name}");
    let loc = match bregion {
        Some(r) => r,
        None => match c.s3.get_bucket_location().bucket(&name).send().await {
            Ok(l) => l
                .location_constraint
                .map(|l| l.as_str().to_string())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "us-east-1".into()),
            Err(e) => {
                let mut r = Resource::new(
                    arn,
                    "s3",
                    "bucket",
                    account,
                    region,
                    KeyRef::NoKey(String::new()),
                );
                r.error = Some(format!("s3:GetBucketLocation failed: {}", sdk_detail(&e)));
                return Some(r);
            }
        },
    };
    let loc = if loc == "EU" {
        "eu-west-1".to_string()
    } else {
        loc
    };
    if loc != region {
        return None;
    }
    let mut r = Resource::new(
        arn,
        "s3",
        "bucket",
        account,
        region,
        KeyRef::NoKey("SSE-S3 (no default encryption configuration)".into()),
    );
    match c.s3.get_bucket_encryption().bucket(&name).send().await {
        Ok(enc) => {
            let rules = enc
                .server_side_encryption_configuration
                .map(|c| c.rules)
                .unwrap_or_default();
            for rule in rules {
                let bucket_key = rule.bucket_key_enabled.unwrap_or(false);
                if let Some(d) = rule.apply_server_side_encryption_by_default {
                    let alg = d.sse_algorithm.as_str().to_string();
                    r.key = if alg.starts_with("aws:kms") {
                        KeyRef::Key(d.kms_master_key_id.unwrap_or_else(|| "alias/aws/s3".into()))
                    } else {
                        KeyRef::NoKey(format!("{alg} (SSE-S3)"))
                    };
                    if bucket_key {
                        r.parts.push(("bucket key".into(), r.key.clone()));
                    }
                }
            }
        }
        Err(e)
            if sdk_code(&e).as_deref()
                == Some("ServerSideEncryptionConfigurationNotFoundError") => {}
        Err(e) => r.error = Some(format!("s3:GetBucketEncryption failed: {}", sdk_detail(&e))),
    }
    match c.s3.get_bucket_tagging().bucket(&name).send().await {
        Ok(t) => r.env_tag = env_from(t.tag_set.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
        Err(e) if sdk_code(&e).as_deref() == Some("NoSuchTagSet") => {}
        Err(e) => {
            r.error = r.error.or(Some(format!(
                "s3:GetBucketTagging failed: {}",
                sdk_detail(&e)
            )))
        }
    }
    if sample > 0 {
        match c
            .s3
            .list_objects_v2()
            .bucket(&name)
            .max_keys(sample)
            .send()
            .await
        {
            Ok(l) => {
                for o in l.contents.unwrap_or_default() {
                    let Some(key) = o.key else { continue };
                    match c.s3.head_object().bucket(&name).key(&key).send().await {
                        Ok(h) => {
                            let alg = h
                                .server_side_encryption
                                .map(|a| a.as_str().to_string())
                                .unwrap_or_default();
                            let kr = match h.ssekms_key_id {
                                Some(k) if alg.starts_with("aws:kms") => KeyRef::Key(k),
                                _ => KeyRef::NoKey(format!("object {key}: SSE-S3")),
                            };
                            r.parts.push((format!("object {key}"), kr));
                        }
                        Err(e) => {
                            r.error = r.error.or(Some(format!(
                                "s3:HeadObject {key} failed: {}",
                                sdk_detail(&e)
                            )))
                        }
                    }
                }
            }
            Err(e) => {
                r.error = r
                    .error
                    .or(Some(format!("s3:ListObjectsV2 failed: {}", sdk_detail(&e))))
            }
        }
    }
    Some(r)
}

async fn rds_all(c: &Clients, account: &str) -> Vec<Resource> {
    let region = c.region.as_str();
    let mut out = Vec::new();
    let tag_env = |tags: Option<Vec<aws_sdk_rds::types::Tag>>| {
        let tags = tags.unwrap_or_default();
        env_from(
            tags.iter()
                .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref()?))),
        )
    };
    let mut pages = c.rds.describe_db_instances().into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                for i in p.db_instances.unwrap_or_default() {
                    if i.db_cluster_identifier.is_some() {
                        continue; // an Aurora member: judged once, as its cluster
                    }
                    let arn = i.db_instance_arn.clone().unwrap_or_else(|| {
                        format!(
                            "db:{}",
                            i.db_instance_identifier.clone().unwrap_or_default()
                        )
                    });
                    let mut r = Resource::new(
                        arn,
                        "rds",
                        "db-instance",
                        account,
                        region,
                        rds_key(i.storage_encrypted, i.kms_key_id),
                    );
                    r.env_tag = tag_env(i.tag_list);
                    out.push(r);
                }
            }
            Err(e) => {
                out.push(Resource::listing_error(
                    "rds:DescribeDBInstances",
                    "rds",
                    account,
                    region,
                    sdk_detail(&e),
                ));
                break;
            }
        }
    }
    let mut pages = c.rds.describe_db_clusters().into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                for cl in p.db_clusters.unwrap_or_default() {
                    let arn = cl.db_cluster_arn.clone().unwrap_or_else(|| {
                        format!(
                            "cluster:{}",
                            cl.db_cluster_identifier.clone().unwrap_or_default()
                        )
                    });
                    let mut r = Resource::new(
                        arn,
                        "rds",
                        "db-cluster",
                        account,
                        region,
                        rds_key(cl.storage_encrypted, cl.kms_key_id),
                    );
                    r.env_tag = tag_env(cl.tag_list);
                    out.push(r);
                }
            }
            Err(e) => {
                out.push(Resource::listing_error(
                    "rds:DescribeDBClusters",
                    "rds",
                    account,
                    region,
                    sdk_detail(&e),
                ));
                break;
            }
        }
    }
    let mut pages = c.rds.describe_db_snapshots().into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                for s in p.db_snapshots.unwrap_or_default() {
                    let arn = s.db_snapshot_arn.clone().unwrap_or_default();
                    let mut r = Resource::new(
                        arn,
                        "rds",
                        "db-snapshot",
                        account,
                        region,
                        rds_key(s.encrypted, s.kms_key_id),
                    );
                    r.env_tag = tag_env(s.tag_list);
                    out.push(r);
                }
            }
            Err(e) => {
                out.push(Resource::listing_error(
                    "rds:DescribeDBSnapshots",
                    "rds",
                    account,
                    region,
                    sdk_detail(&e),
                ));
                break;
            }
        }
    }
    let mut pages = c
        .rds
        .describe_db_cluster_snapshots()
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                for s in p.db_cluster_snapshots.unwrap_or_default() {
                    let arn = s.db_cluster_snapshot_arn.clone().unwrap_or_default();
                    let mut r = Resource::new(
                        arn,
                        "rds",
                        "db-cluster-snapshot",
                        account,
                        region,
                        rds_key(s.storage_encrypted, s.kms_key_id),
                    );
                    r.env_tag = tag_env(s.tag_list);
                    out.push(r);
                }
            }
            Err(e) => {
                out.push(Resource::listing_error(
                    "rds:DescribeDBClusterSnapshots",
                    "rds",
                    account,
                    region,
                    sdk_detail(&e),
                ));
                break;
            }
        }
    }
    out
}

async fn dynamodb_all(c: &Clients, account: &str, concurrency: usize) -> Vec<Resource> {
    let region = c.region.clone();
    let mut names = Vec::new();
    let mut pages = c.dynamodb.list_tables().into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => names.extend(p.table_names.unwrap_or_default()),
            Err(e) => {
                return vec![Resource::listing_error(
                    "dynamodb:ListTables",
                    "dynamodb",
                    account,
                    &region,
                    sdk_detail(&e),
                )];
            }
        }
    }
    let mut out: Vec<Resource> = futures::stream::iter(names)
        .map(|n| table(c, account, n))
        .buffer_unordered(concurrency.max(1))
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    // Backups (ListBackups is paginated by ExclusiveStartBackupArn).
    let mut start: Option<String> = None;
    loop {
        match c
            .dynamodb
            .list_backups()
            .set_exclusive_start_backup_arn(start.clone())
            .send()
            .await
        {
            Ok(p) => {
                let arns: Vec<String> = p
                    .backup_summaries
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|b| b.backup_arn)
                    .collect();
                let backups: Vec<Resource> = futures::stream::iter(arns)
                    .map(|a| backup(c, account, a))
                    .buffer_unordered(concurrency.max(1))
                    .collect()
                    .await;
                out.extend(backups);
                start = p.last_evaluated_backup_arn;
                if start.is_none() {
                    break;
                }
            }
            Err(e) => {
                out.push(Resource::listing_error(
                    "dynamodb:ListBackups",
                    "dynamodb",
                    account,
                    &region,
                    sdk_detail(&e),
                ));
                break;
            }
        }
    }
    out
}

fn ddb_key(sse: Option<&aws_sdk_dynamodb::types::SseDescription>) -> KeyRef {
    match sse {
        Some(s)
            if s.status.as_ref().map(|x| x.as_str()) != Some("DISABLED")
                && s.kms_master_key_arn.is_some() =>
        {
            KeyRef::Key(s.kms_master_key_arn.clone().unwrap_or_default())
        }
        _ => KeyRef::NoKey("AWS owned key (DynamoDB default encryption)".into()),
    }
}

async fn table(c: &Clients, account: &str, name: String) -> Vec<Resource> {
    let region = c.region.as_str();
    let mut out = Vec::new();
    let t = match c.dynamodb.describe_table().table_name(&name).send().await {
        Ok(t) => t.table,
        Err(e) => {
            let mut r = Resource::new(
                format!("table/{name}"),
                "dynamodb",
                "table",
                account,
                region,
                KeyRef::NoKey(String::new()),
            );
            r.error = Some(format!("dynamodb:DescribeTable failed: {}", sdk_detail(&e)));
            return vec![r];
        }
    };
    let Some(t) = t else { return out };
    let arn = t
        .table_arn
        .clone()
        .unwrap_or_else(|| format!("table/{name}"));
    let mut r = Resource::new(
        arn.clone(),
        "dynamodb",
        "table",
        account,
        region,
        ddb_key(t.sse_description.as_ref()),
    );
    match c
        .dynamodb
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
    {
        Ok(tags) => {
            r.env_tag = env_from(
                tags.tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            )
        }
        Err(e) => {
            r.error = Some(format!(
                "dynamodb:ListTagsOfResource failed: {}",
                sdk_detail(&e)
            ))
        }
    }
    for rep in t.replicas.unwrap_or_default() {
        let rr = rep.region_name.clone().unwrap_or_default();
        if rr == region {
            continue;
        }
        let key = match rep.kms_master_key_id {
            Some(k) => KeyRef::Key(k),
            None => KeyRef::NoKey("replica on an AWS owned key".into()),
        };
        let mut x = Resource::new(
            format!("{arn} (replica in {rr})"),
            "dynamodb",
            "table-replica",
            account,
            &rr,
            key,
        );
        x.env_tag = r.env_tag.clone();
        out.push(x);
    }
    out.insert(0, r);
    out
}

async fn backup(c: &Clients, account: &str, arn: String) -> Resource {
    let region = c.region.as_str();
    match c.dynamodb.describe_backup().backup_arn(&arn).send().await {
        Ok(b) => {
            let sse = b
                .backup_description
                .and_then(|d| d.source_table_feature_details)
                .and_then(|f| f.sse_description);
            Resource::new(
                arn,
                "dynamodb",
                "table-backup",
                account,
                region,
                ddb_key(sse.as_ref()),
            )
        }
        Err(e) => {
            let mut r = Resource::new(
                arn,
                "dynamodb",
                "table-backup",
                account,
                region,
                KeyRef::NoKey(String::new()),
            );
            r.error = Some(format!(
                "dynamodb:DescribeBackup failed: {}",
                sdk_detail(&e)
            ));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_tags_and_rds_keys() {
        assert_eq!(
            env_from([("Owner", "x"), ("environment", "int")]),
            Some("int".into())
        );
        assert_eq!(env_from([("Owner", "x")]), None);
        assert_eq!(
            rds_key(Some(true), Some("k".into())),
            KeyRef::Key("k".into())
        );
        assert!(matches!(
            rds_key(Some(false), Some("k".into())),
            KeyRef::NoKey(_)
        ));
        assert!(matches!(rds_key(None, None), KeyRef::NoKey(_)));
    }
}
