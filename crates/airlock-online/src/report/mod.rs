//! `report`: which S3, RDS and DynamoDB resources are on the rotated keys,
//! judged against the plan and the receipts (`judge.rs`), never tags. The
//! inventory comes from direct listing (`inventory.rs`) or an AWS Config
//! aggregator (`aggregator.rs`); every distinct key is described once.
//! Fails closed: any AWS error about a resource makes it ERROR and the exit
//! code 3. With `--receipt-dir` it leaves a marker per environment that the
//! dev -> int -> prod rule of `import` reads.

mod aggregator;
mod cloudtrail;
pub(crate) mod inventory;
pub(crate) mod judge;
mod keys;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::Args;
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::cli::Global;
use crate::error::{Error, Result, sdk_detail};
use crate::exit::Exit;
use crate::kms::{self, aws_err};
use inventory::Resource;
use judge::{KeyInfo, KeyRef, Knowledge, Status};

/// Options of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The rotation plan (airlock-plan/1).
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The receipts `import` wrote (without them every planned key is PENDING).
    #[arg(long, value_name = "DIR")]
    pub receipt_dir: Option<PathBuf>,
    /// Take the inventory from this AWS Config aggregator (all accounts and regions).
    #[arg(long, value_name = "NAME")]
    pub aggregator: Option<String>,
    /// Count Decrypt/GenerateDataKey events per key and material over N days.
    #[arg(long, value_name = "N")]
    pub cloudtrail_days: Option<u32>,
    /// Resources not on a BYOK key are NON_COMPLIANT instead of NOT_APPLICABLE.
    #[arg(long)]
    pub require_byok: bool,
    /// CSV on stdout.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// At most this many AWS calls in flight.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
    /// Objects sampled per bucket (HeadObject each).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub s3_object_sample: i32,
    /// Warn when a rotated key's imported material expires within N days
    /// (a warning on stderr and in --json; the exit code is unchanged;
    /// expired material makes its resources NON_COMPLIANT).
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub expiry_warn_days: u32,
}

/// One judged resource.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// ARN.
    pub arn: String,
    /// s3, rds, dynamodb.
    pub service: String,
    /// The resource kind.
    pub kind: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// From the resource's tags, else the plan's environment of its key.
    pub environment: String,
    /// The verdict.
    pub status: Status,
    /// Why.
    pub reason: String,
    /// The key as the resource names it.
    pub key_ref: Option<String>,
    /// The key's ARN, when resolved.
    pub key_arn: Option<String>,
    /// When the key's imported material expires (RFC 3339), if it does.
    pub material_valid_to: Option<String>,
    /// Warnings about the key (expiry soon, few on-demand rotations left).
    pub warnings: Vec<String>,
}

fn key_text(k: &KeyRef) -> Option<String> {
    match k {
        KeyRef::Key(s) => Some(s.clone()),
        KeyRef::NoKey(_) => None,
    }
}

pub(crate) async fn describe_all(
    kms_c: &aws_sdk_kms::Client,
    refs: BTreeSet<String>,
    concurrency: usize,
) -> BTreeMap<String, std::result::Result<KeyInfo, String>> {
    futures::stream::iter(refs)
        .map(|r| async move {
            let id = if r.starts_with("aws/") {
                format!("alias/{r}")
            } else {
                r.clone()
            };
            let res = match kms_c.describe_key().key_id(&id).send().await {
                Ok(o) => match o.key_metadata {
                    Some(m) => Ok(KeyInfo {
                        arn: m.arn.unwrap_or_default(),
                        manager: m
                            .key_manager
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        origin: m.origin.map(|x| x.as_str().to_string()).unwrap_or_default(),
                        current_material: m.current_key_material_id,
                        state: m
                            .key_state
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        valid_to: m.valid_to.map(|t| t.secs()),
                        expiration_model: m.expiration_model.map(|x| x.as_str().to_string()),
                    }),
                    None => Err("kms:DescribeKey answered without KeyMetadata".to_string()),
                },
                Err(e) => Err(format!("kms:DescribeKey failed: {}", sdk_detail(&e))),
            };
            (r, res)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Judges every resource.
pub fn judge_all(
    resources: &[Resource],
    keys: &BTreeMap<String, std::result::Result<KeyInfo, String>>,
    know: &Knowledge,
    require_byok: bool,
) -> Vec<Row> {
    let mut rows: Vec<Row> = resources
        .iter()
        .map(|r| {
            let lookup = |k: &KeyRef| match k {
                KeyRef::Key(id) => keys.get(id),
                KeyRef::NoKey(_) => None,
            };
            let (mut status, mut reason) = match &r.error {
                Some(e) => (Status::Error, e.clone()),
                None => judge::judge(&r.key, lookup(&r.key), know, require_byok),
            };
            if r.error.is_none() {
                for (what, k) in &r.parts {
                    let (s, why) = judge::judge(k, lookup(k), know, require_byok);
                    if s > status {
                        status = s;
                        reason = format!("{what}: {why}");
                    }
                }
            }
            let key_arn = match lookup(&r.key) {
                Some(Ok(i)) => Some(i.arn.clone()),
                _ => None,
            };
            let environment = r
                .env_tag
                .clone()
                .or_else(|| {
                    key_arn
                        .as_deref()
                        .and_then(|a| know.environment_of(a))
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "unknown".into());
            Row {
                arn: r.arn.clone(),
                service: r.service.to_string(),
                kind: r.kind.to_string(),
                account: r.account.clone(),
                region: r.region.clone(),
                environment,
                status,
                reason,
                key_ref: key_text(&r.key),
                key_arn,
                material_valid_to: None,
                warnings: Vec::new(),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.service, &a.arn).cmp(&(&b.service, &b.arn)));
    rows
}

/// The exit code for a set of rows.
pub fn exit_for(rows: &[Row]) -> Exit {
    if rows.iter().any(|r| r.status == Status::Error) {
        Exit::ReportError
    } else if rows
        .iter()
        .any(|r| matches!(r.status, Status::NonCompliant | Status::Pending))
    {
        Exit::NonCompliant
    } else {
        Exit::Ok
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs `report`.
pub async fn run(args: &ReportArgs, global: &Global) -> Result<Exit> {
    let plan = crate::plan::load(&args.plan)?;
    let receipts: Vec<crate::receipt::Receipt> = match &args.receipt_dir {
        Some(d) => crate::receipt::read_all(d)?
            .into_iter()
            .map(|(_, r)| r)
            .collect(),
        None => Vec::new(),
    };
    if global.dry_run {
        let mut calls = vec!["sts:GetCallerIdentity", "kms:ListAliases"];
        match &args.aggregator {
            Some(_) => calls.push("config:SelectAggregateResourceConfig (paginated)"),
            None => calls.extend([
                "s3:ListBuckets",
                "s3:GetBucketEncryption/GetBucketTagging/ListObjectsV2/HeadObject per bucket",
                "rds:DescribeDBInstances",
                "rds:DescribeDBClusters",
                "rds:DescribeDBSnapshots",
                "rds:DescribeDBClusterSnapshots",
                "dynamodb:ListTables",
                "dynamodb:DescribeTable/ListTagsOfResource per table",
                "dynamodb:ListBackups",
                "dynamodb:DescribeBackup per backup",
            ]),
        }
        calls.push("kms:DescribeKey per distinct key");
        calls.push("kms:DescribeKey and kms:ListKeyRotations (paginated) per rotated key");
        if args.cloudtrail_days.is_some() {
            calls.push("cloudtrail:LookupEvents (Decrypt, GenerateDataKey*)");
        }
        for c in &calls {
            eprintln!("DRY-RUN: {c}");
        }
        if global.json {
            println!("{:#}", json!({"dry_run": true, "calls": calls}));
        }
        return Ok(Exit::Ok);
    }
    let t0 = std::time::Instant::now();
    let c = crate::aws::load(global, plan.aws_region.as_deref()).await?;
    let account = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_err("sts:GetCallerIdentity", "the caller", &e))?
        .account
        .unwrap_or_default();
    let alias_ids = kms::alias_targets(&c.kms).await?;
    let partition_prefix = format!("arn:aws:kms:{}:{account}:key/", c.region);
    let alias_arns: BTreeMap<String, String> = alias_ids
        .into_iter()
        .map(|(a, id)| {
            (
                a,
                if id.starts_with("arn:") {
                    id
                } else {
                    format!("{partition_prefix}{id}")
                },
            )
        })
        .collect();
    let know = Knowledge::new(&plan, &receipts, &alias_arns);
    let resources = match &args.aggregator {
        Some(name) => aggregator::list(&c, name).await?,
        None => inventory::list(&c, &account, args.concurrency, args.s3_object_sample).await,
    };
    let mut refs = BTreeSet::new();
    for r in &resources {
        for k in std::iter::once(&r.key).chain(r.parts.iter().map(|p| &p.1)) {
            if let KeyRef::Key(id) = k {
                refs.insert(id.clone());
            }
        }
    }
    let keys = describe_all(&c.kms, refs, args.concurrency).await;
    let mut rows = judge_all(&resources, &keys, &know, args.require_byok);
    let lifecycles = keys::all(
        &c.kms,
        &know,
        &plan,
        args.concurrency,
        args.expiry_warn_days,
    )
    .await;
    for r in rows.iter_mut() {
        if let Some(k) = lifecycles
            .iter()
            .find(|k| Some(&k.key_arn) == r.key_arn.as_ref())
        {
            r.material_valid_to = k.valid_to.clone();
            r.warnings = k.warnings.clone();
        }
    }
    let warnings: Vec<&String> = lifecycles.iter().flat_map(|k| &k.warnings).collect();
    let usage = match args.cloudtrail_days {
        Some(d) => Some(cloudtrail::usage(&c, d).await?),
        None => None,
    };
    let elapsed = t0.elapsed();
    let count = |s: Status| rows.iter().filter(|r| r.status == s).count();
    let summary = json!({"total": rows.len(), "compliant": count(Status::Compliant), "non_compliant": count(Status::NonCompliant),
        "pending": count(Status::Pending), "error": count(Status::Error), "not_applicable": count(Status::NotApplicable)});
    let trail: Vec<_> = usage
        .iter()
        .flatten()
        .map(|((k, m), n)| {
            let note = match know.rotated.get(k) {
                Some(rot) if rot.material.as_deref() != Some(m.as_str()) && m != "unknown" => {
                    "old material still in use"
                }
                _ if know.replaced.contains_key(k) => "replaced key still in use",
                _ => "",
            };
            json!({"key_arn": k, "key_material_id": m, "events": n, "note": note})
        })
        .collect();
    if global.json {
        println!(
            "{:#}",
            json!({"generated_at": crate::receipt::now_rfc3339(), "account": account, "region": c.region,
            "source": args.aggregator.as_ref().map(|a| format!("aggregator {a}")).unwrap_or_else(|| "direct listing".into()),
            "summary": summary, "resources": rows, "keys": lifecycles, "warnings": warnings,
            "expiry_warn_days": args.expiry_warn_days, "cloudtrail": trail, "elapsed_ms": elapsed.as_millis() as u64})
        );
    } else if args.csv {
        println!("arn,service,kind,account,region,environment,status,key_arn,reason");
        for r in &rows {
            println!(
                "{}",
                [
                    &r.arn,
                    &r.service,
                    &r.kind,
                    &r.account,
                    &r.region,
                    &r.environment,
                    r.status.as_str(),
                    r.key_arn.as_deref().unwrap_or(""),
                    &r.reason
                ]
                .map(csv_field)
                .join(",")
            );
        }
    } else {
        for r in &rows {
            println!(
                "{:<15} {:<8} {:<19} {:<60} {}",
                r.status.as_str(),
                r.environment,
                r.kind,
                r.arn,
                r.reason
            );
        }
        for k in &lifecycles {
            println!("{}", keys::human(k));
        }
        for t in &trail {
            eprintln!("cloudtrail: {t}");
        }
        println!(
            "{} compliant, {} non-compliant, {} pending, {} error, {} not applicable, {} resources ({} ms)",
            count(Status::Compliant),
            count(Status::NonCompliant),
            count(Status::Pending),
            count(Status::Error),
            count(Status::NotApplicable),
            rows.len(),
            elapsed.as_millis()
        );
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if let Some(dir) = &args.receipt_dir {
        write_markers(dir, &receipts, &rows)?;
    }
    Ok(exit_for(&rows))
}

fn write_markers(
    dir: &std::path::Path,
    receipts: &[crate::receipt::Receipt],
    rows: &[Row],
) -> Result<()> {
    let envs: BTreeSet<&str> = receipts.iter().map(|r| r.environment.as_str()).collect();
    let any_unattributed_bad = rows
        .iter()
        .any(|r| r.environment == "unknown" && r.status == Status::Error);
    for env in envs {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.environment == env).collect();
        let clean = !any_unattributed_bad
            && mine
                .iter()
                .all(|r| matches!(r.status, Status::Compliant | Status::NotApplicable));
        let marker = crate::order::ReportMarker {
            format: crate::order::MARKER_FORMAT.into(),
            environment: env.to_string(),
            generated_at: crate::receipt::now_rfc3339(),
            clean,
            ceremonies: receipts
                .iter()
                .filter(|r| r.environment == env)
                .map(|r| r.ceremony_id.clone())
                .collect(),
            resources: mine.len(),
        };
        let p = dir.join(crate::order::marker_name(env));
        let bytes = serde_json::to_vec_pretty(&marker).unwrap_or_default();
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, "writing a report marker", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: Status) -> Row {
        Row {
            arn: "a".into(),
            service: "s3".into(),
            kind: "bucket".into(),
            account: String::new(),
            region: String::new(),
            environment: "dev".into(),
            status: s,
            reason: String::new(),
            key_ref: None,
            key_arn: None,
            material_valid_to: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn exit_codes_follow_the_worst_row() {
        assert_eq!(
            exit_for(&[row(Status::Compliant), row(Status::NotApplicable)]),
            Exit::Ok
        );
        assert_eq!(
            exit_for(&[row(Status::Compliant), row(Status::Pending)]),
            Exit::NonCompliant
        );
        assert_eq!(exit_for(&[row(Status::NonCompliant)]), Exit::NonCompliant);
        assert_eq!(
            exit_for(&[row(Status::NonCompliant), row(Status::Error)]),
            Exit::ReportError
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    #[test]
    fn an_errored_resource_is_error_even_on_a_good_key() {
        let mut r = Resource {
            arn: "b".into(),
            service: "s3",
            kind: "bucket",
            account: String::new(),
            region: String::new(),
            key: KeyRef::NoKey("SSE-S3".into()),
            parts: Vec::new(),
            env_tag: None,
            error: Some("s3:GetBucketEncryption failed: AccessDenied".into()),
        };
        let rows = judge_all(&[r.clone()], &BTreeMap::new(), &Knowledge::default(), false);
        assert_eq!(rows[0].status, Status::Error);
        r.error = None;
        r.parts
            .push(("object o".into(), KeyRef::Key("gone".into())));
        let keys = BTreeMap::from([("gone".to_string(), Err("NotFoundException".to_string()))]);
        let rows = judge_all(&[r], &keys, &Knowledge::default(), false);
        assert_eq!(rows[0].status, Status::Error);
        assert!(rows[0].reason.starts_with("object o"));
    }
}
