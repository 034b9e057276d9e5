//! `report`: which S3, RDS and DynamoDB resources are on the rotated keys,
//! judged against the plan and the receipts (`judge.rs`), never tags. The
//! inventory comes from direct listing (`inventory.rs`) or an AWS Config
//! aggregator (`aggregator.rs`); every distinct key is described once.
//! Fails closed: any AWS error about a resource makes it ERROR and the exit
//! code 3. A rotated multi-Region key is asked about in each replica's
//! region too (`multi_region_all`): its resources are PENDING until every
//! replica is on the imported material. With `--receipt-dir` it leaves a
//! marker per environment that the dev -> int -> prod rule of `import`
//! reads.

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
use judge::{KeyInfo, KeyRef, Knowledge, MrkObserved, Status};

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
    /// For a rotated multi-Region key: the replica regions not yet on the
    /// imported material (empty otherwise).
    pub replicas_missing: Vec<String>,
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

/// Asks KMS about every rotated multi-Region key (its receipt lists
/// replicas): ListKeyRotations --include-key-material on the primary for
/// the imported material's KeyMaterialState (None where the endpoint has
/// no ListKeyRotations), and DescribeKey of each replica with a KMS client
/// in the replica's region (same credentials and KMS endpoint). Any failed
/// call makes that key's entry an `Err`.
pub(crate) async fn multi_region_all(
    global: &Global,
    kms_c: &aws_sdk_kms::Client,
    know: &Knowledge,
    concurrency: usize,
) -> BTreeMap<String, std::result::Result<MrkObserved, String>> {
    let mut clients: BTreeMap<String, aws_sdk_kms::Client> = BTreeMap::new();
    for rot in know.rotated.values() {
        for r in &rot.replicas {
            if !clients.contains_key(&r.region) {
                let kc = crate::aws::kms_in(global, &r.region).await;
                clients.insert(r.region.clone(), kc);
            }
        }
    }
    multi_region_with(kms_c, &clients, know, concurrency).await
}

/// `multi_region_all` with the replica regions' clients given.
async fn multi_region_with(
    kms_c: &aws_sdk_kms::Client,
    clients: &BTreeMap<String, aws_sdk_kms::Client>,
    know: &Knowledge,
    concurrency: usize,
) -> BTreeMap<String, std::result::Result<MrkObserved, String>> {
    futures::stream::iter(know.rotated.iter().filter(|(_, r)| !r.replicas.is_empty()))
        .map(|(arn, rot)| async move {
            let res = async {
                let what = format!("key {} (multi-Region primary)", rot.name);
                let states = kms::material_states(kms_c, arn, &what)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut obs = MrkObserved {
                    material_state: states.and_then(|list| {
                        list.into_iter()
                            .find(|(id, _)| Some(id) == rot.material.as_ref())
                            .and_then(|(_, s)| s)
                    }),
                    ..MrkObserved::default()
                };
                for r in &rot.replicas {
                    let what = format!("key {} replica {} ({})", rot.name, r.region, r.key_arn);
                    let kc = clients
                        .get(&r.region)
                        .ok_or_else(|| format!("{what}: no KMS client for its region"))?;
                    let m = kms::describe(kc, &r.key_arn, &what)
                        .await
                        .map_err(|e| e.to_string())?;
                    obs.replica_current
                        .insert(r.region.clone(), m.current_key_material_id);
                }
                Ok::<_, String>(obs)
            }
            .await;
            (arn.clone(), res)
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
            let replicas_missing = key_arn
                .as_deref()
                .map(|a| judge::replicas_missing(know, a))
                .unwrap_or_default();
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
                replicas_missing,
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
        calls.push(
            "kms:ListKeyRotations --include-key-material (paginated) per rotated multi-Region key, and kms:DescribeKey of each of its replicas in the replica's region",
        );
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
    let mut know = Knowledge::new(&plan, &receipts, &alias_arns);
    know.multi_region = multi_region_all(global, &c.kms, &know, args.concurrency).await;
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
            replicas_missing: Vec::new(),
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

    fn mrk_knowledge() -> Knowledge {
        let rot = judge::Rotated {
            name: "dev-mrk".into(),
            environment: "dev".into(),
            strategy: crate::receipt::Strategy::OnDemand,
            material: Some(M_NEW.into()),
            imported_at: None,
            expiration_model: None,
            valid_to: None,
            replicas: ["us-east-1", "ap-south-1"]
                .map(|region| crate::receipt::ReplicaReceipt {
                    region: region.into(),
                    key_arn: format!("arn:aws:kms:{region}:111122223333:key/mrk-1234abcd"),
                    key_material_id: Some(M_NEW.into()),
                    status: "not-current".into(),
                    imported_at: Some("2026-12-04T20:00:00Z".into()),
                })
                .to_vec(),
        };
        let mut k = Knowledge::default();
        k.rotated.insert(PRIMARY.into(), rot);
        k
    }

    const PRIMARY: &str = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd";
    const M_NEW: &str = "b5f4e4cc7f5a8a0b0a1f9fb1b2e9f6f3d1b4a7b0a2c3d4e5f60718293a4b5c6d";
    const M_OLD: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

    /// DescribeKey of a replica, in the API reference's shape (KeyMetadata
    /// with MultiRegionConfiguration and CurrentKeyMaterialId).
    fn replica_answer(region: &str, current: Option<&str>) -> String {
        let mut m = json!({"KeyMetadata": {
            "AWSAccountId": "111122223333", "KeyId": "mrk-1234abcd",
            "Arn": format!("arn:aws:kms:{region}:111122223333:key/mrk-1234abcd"),
            "CreationDate": 1.7E9, "Enabled": true, "KeyManager": "CUSTOMER", "KeyState": "Enabled",
            "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "EXTERNAL",
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "MultiRegion": true,
            "MultiRegionConfiguration": {"MultiRegionKeyType": "REPLICA",
                "PrimaryKey": {"Arn": PRIMARY, "Region": "eu-west-1"},
                "ReplicaKeys": [{"Arn": format!("arn:aws:kms:{region}:111122223333:key/mrk-1234abcd"), "Region": region}]}}});
        if let Some(c) = current {
            m["KeyMetadata"]["CurrentKeyMaterialId"] = json!(c);
        }
        m.to_string()
    }

    async fn observe(
        primary: (u16, String),
        us: (u16, String),
        ap: (u16, String),
    ) -> std::result::Result<MrkObserved, String> {
        use crate::kms::tests::{client, replay};
        let (pu, ph) = replay(vec![primary]);
        let (uu, uh) = replay(vec![us]);
        let (au, ah) = replay(vec![ap]);
        let clients = BTreeMap::from([
            ("us-east-1".to_string(), client(&uu)),
            ("ap-south-1".to_string(), client(&au)),
        ]);
        let mut got = multi_region_with(&client(&pu), &clients, &mrk_knowledge(), 4).await;
        let bodies = ph.join().unwrap();
        assert!(
            bodies[0].contains("\"IncludeKeyMaterial\":\"ALL_KEY_MATERIAL\""),
            "{bodies:?}"
        );
        // A replica is asked only when the calls before it answered.
        if got.get(PRIMARY).is_some_and(|r| r.is_ok()) {
            assert!(uh.join().unwrap()[0].contains("us-east-1"));
            assert!(ah.join().unwrap()[0].contains("ap-south-1"));
        }
        got.remove(PRIMARY)
            .expect("the multi-Region key was looked up")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn replicas_are_read_from_describe_key_in_their_regions_and_judged() {
        // AWS after the rotation: the material CURRENT on the primary, every replica on it.
        let rotations = json!({"Rotations": [
            {"KeyId": PRIMARY, "KeyMaterialId": M_OLD, "KeyMaterialState": "NON_CURRENT", "ImportState": "IMPORTED"},
            {"KeyId": PRIMARY, "KeyMaterialId": M_NEW, "KeyMaterialState": "CURRENT", "ImportState": "IMPORTED",
             "RotationDate": 1.7649E9, "RotationType": "ON_DEMAND"}], "Truncated": false})
        .to_string();
        let obs = observe(
            (200, rotations),
            (200, replica_answer("us-east-1", Some(M_NEW))),
            (200, replica_answer("ap-south-1", Some(M_NEW))),
        )
        .await
        .unwrap();
        assert_eq!(obs.material_state.as_deref(), Some("CURRENT"));
        let mut k = mrk_knowledge();
        k.multi_region.insert(PRIMARY.into(), Ok(obs));
        let primary = Some(Ok(KeyInfo {
            arn: PRIMARY.into(),
            manager: "CUSTOMER".into(),
            origin: "EXTERNAL".into(),
            current_material: Some(M_NEW.into()),
            state: "Enabled".into(),
            ..KeyInfo::default()
        }));
        let r = KeyRef::Key("alias/dev-mrk".into());
        assert_eq!(
            judge::judge(&r, primary.as_ref(), &k, false).0,
            Status::Compliant
        );

        // LocalStack 2026.3 after the import: no ListKeyRotations, the
        // replicas still on their old CurrentKeyMaterialId (KMS tells: PENDING).
        let localstack = r#"{"__type":"InternalFailure","message":"The API for service kms is either not included in your current license plan or has not yet been emulated by LocalStack."}"#;
        let obs = observe(
            (501, localstack.into()),
            (200, replica_answer("us-east-1", Some(M_OLD))),
            (200, replica_answer("ap-south-1", Some(M_OLD))),
        )
        .await
        .unwrap();
        assert_eq!(obs.material_state, None);
        k.multi_region.insert(PRIMARY.into(), Ok(obs));
        let (s, why) = judge::judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Pending);
        assert!(why.contains("replicas in ap-south-1, us-east-1"), "{why}");
        assert_eq!(
            exit_for(&[Row {
                status: s,
                ..row(Status::Compliant)
            }]),
            Exit::NonCompliant
        );

        // Between the replica imports: KMS's PENDING_MULTI_REGION_IMPORT_AND_ROTATION.
        let pending = json!({"Rotations": [{"KeyId": PRIMARY, "KeyMaterialId": M_NEW,
            "KeyMaterialState": "PENDING_MULTI_REGION_IMPORT_AND_ROTATION", "ImportState": "IMPORTED"}], "Truncated": false})
        .to_string();
        let obs = observe(
            (200, pending),
            (200, replica_answer("us-east-1", Some(M_NEW))),
            (200, replica_answer("ap-south-1", Some(M_OLD))),
        )
        .await
        .unwrap();
        assert_eq!(
            obs.material_state.as_deref(),
            Some(crate::mrk::PENDING_MULTI_REGION)
        );
        k.multi_region.insert(PRIMARY.into(), Ok(obs));
        let (s, why) = judge::judge(&r, primary.as_ref(), &k, false);
        assert_eq!(s, Status::Pending);
        assert!(
            why.contains("the replicas in ap-south-1 still lack it"),
            "{why}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_call_in_a_replica_region_makes_the_key_error() {
        let denied = r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: kms:DescribeKey"}"#;
        let empty = json!({"Rotations": [], "Truncated": false}).to_string();
        let e = observe(
            (200, empty),
            (200, replica_answer("us-east-1", Some(M_NEW))),
            (400, denied.into()),
        )
        .await
        .unwrap_err();
        assert!(
            e.contains("kms:DescribeKey") && e.contains("replica ap-south-1"),
            "{e}"
        );
        let mut k = mrk_knowledge();
        k.multi_region.insert(PRIMARY.into(), Err(e));
        let primary = Ok(KeyInfo {
            arn: PRIMARY.into(),
            current_material: Some(M_NEW.into()),
            ..KeyInfo::default()
        });
        let rows = judge_all(
            &[Resource {
                arn: "arn:aws:s3:::b".into(),
                service: "s3",
                kind: "bucket",
                account: String::new(),
                region: String::new(),
                key: KeyRef::Key(PRIMARY.into()),
                parts: Vec::new(),
                env_tag: None,
                error: None,
            }],
            &BTreeMap::from([(PRIMARY.to_string(), primary)]),
            &k,
            false,
        );
        assert_eq!(rows[0].status, Status::Error);
        assert_eq!(exit_for(&rows), Exit::ReportError);
        // A refused ListKeyRotations on the primary is an error too (not "unsupported").
        let e = observe(
            (400, denied.replace("DescribeKey", "ListKeyRotations")),
            (200, replica_answer("us-east-1", Some(M_NEW))),
            (200, replica_answer("ap-south-1", Some(M_NEW))),
        )
        .await
        .unwrap_err();
        assert!(e.contains("kms:ListKeyRotations"), "{e}");
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
