//! `prepare`: a plan (`airlock-plan/1`) becomes a signed request bundle
//! exactly per formats.md: for each planned key the EXTERNAL key (the one
//! behind the alias for on-demand rotation, a PendingImport `key_id`, or a
//! new key with CreateKey and the environment tags), then
//! GetParametersForImport with the preferred wrapping algorithm and
//! RSA_4096; request.json, the wrapping keys and tokens byte for byte,
//! SHA256SUMS, SHA256SUMS.sig. Written to a sibling temp folder, checked
//! with airlock-core's schema, fsynced and renamed into place.

use std::io::Write;
use std::path::{Path, PathBuf};

use airlock_core::request::parse_request_json;
use airlock_core::sums::{Sha256Digest, Sha256Sums};
use aws_sdk_kms::types::{KeySpec, KeyUsageType, OriginType, Tag, WrappingKeySpec};
use clap::Args;
use serde_json::json;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::kms::{self, aws_err};
use crate::plan::{self, PlanKey, Strategy};
use crate::sign::{self, Signer};

/// Options of `prepare`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// The rotation plan (airlock-plan/1).
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Where the request bundle goes (must not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// pem:FILE (RSA 3072/4096 private key) or kms:KEY_ID (RSA_3072/4096 SIGN_VERIFY).
    #[arg(long, value_name = "pem:FILE|kms:KEY_ID")]
    pub signer: Signer,
    /// Allow CreateKey for new-key entries without key_id.
    #[arg(long)]
    pub create_keys: bool,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, "creating a folder", e))?;
    }
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, "writing", e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, "writing", e))
}

fn rfc3339_of(t: &aws_sdk_kms::primitives::DateTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.secs())
        .map(airlock_core::request::rfc3339)
        .unwrap_or_default()
}

/// The key an entry goes into: (ARN, KeyMetadata) after its checks.
async fn resolve_key(
    kms_c: &aws_sdk_kms::Client,
    k: &PlanKey,
    request_id: &str,
    create: bool,
    created: &mut Vec<String>,
) -> Result<aws_sdk_kms::types::KeyMetadata> {
    let state = |m: &aws_sdk_kms::types::KeyMetadata| {
        (
            m.origin
                .as_ref()
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
            m.key_state
                .as_ref()
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
        )
    };
    match (k.strategy, &k.key_id) {
        (Strategy::OnDemand, _) => {
            let m = kms::describe(
                kms_c,
                &k.alias,
                &format!("key {} (alias {})", k.name, k.alias),
            )
            .await?;
            let (origin, st) = state(&m);
            if origin != "EXTERNAL" {
                return Err(Error::refused(
                    Exit::KeyState,
                    format!(
                        "key {}: {} points at {} whose origin is {origin}, not EXTERNAL; imported material can only go into EXTERNAL keys: use strategy new-key",
                        k.name,
                        k.alias,
                        m.arn.clone().unwrap_or_default()
                    ),
                ));
            }
            if st != "Enabled" {
                return Err(Error::refused(
                    Exit::KeyState,
                    format!(
                        "key {}: {} is {st}; on-demand rotation needs it Enabled with material; re-import its material first or use new-key",
                        k.name,
                        m.arn.clone().unwrap_or_default()
                    ),
                ));
            }
            Ok(m)
        }
        (Strategy::NewKey, Some(id)) => {
            let m = kms::describe(kms_c, id, &format!("key {}", k.name)).await?;
            let (origin, st) = state(&m);
            if origin != "EXTERNAL" || st != "PendingImport" {
                return Err(Error::refused(
                    Exit::KeyState,
                    format!(
                        "key {}: key_id {id} is {origin}/{st}; new-key needs an EXTERNAL key in PendingImport; remove key_id to create one with --create-keys",
                        k.name
                    ),
                ));
            }
            Ok(m)
        }
        (Strategy::NewKey, None) => {
            if !create {
                return Err(Error::refused(
                    Exit::Plan,
                    format!(
                        "key {}: strategy new-key needs --create-keys (or a key_id of a PendingImport EXTERNAL key in the plan)",
                        k.name
                    ),
                ));
            }
            let usage = k
                .key_usage
                .clone()
                .unwrap_or_else(|| plan::default_key_usage(&k.key_spec).to_string());
            let desc = k.description.clone().unwrap_or_else(|| {
                format!(
                    "Airlock BYOK {} ({} {}), request {request_id}",
                    k.name, k.environment, k.service
                )
            });
            let tag = |key: &str, v: &str| Tag::builder().tag_key(key).tag_value(v).build().ok();
            let mut req = kms_c
                .create_key()
                .origin(OriginType::External)
                .key_spec(KeySpec::from(k.key_spec.as_str()))
                .key_usage(KeyUsageType::from(usage.as_str()))
                .description(desc);
            for t in [
                tag("KeyRotationStatus", "Pending"),
                tag("Environment", &k.environment),
                tag("Service", &k.service),
                tag("AirlockKeyName", &k.name),
                tag("AirlockAlias", &k.alias),
                tag("AirlockRequestId", request_id),
            ]
            .into_iter()
            .flatten()
            {
                req = req.tags(t);
            }
            let out = req
                .send()
                .await
                .map_err(|e| aws_err("kms:CreateKey", &format!("key {}", k.name), &e))?;
            let m = out.key_metadata.ok_or_else(|| Error::Aws {
                call: "kms:CreateKey",
                what: k.name.clone(),
                detail: "no KeyMetadata in the answer".into(),
            })?;
            created.push(m.arn.clone().unwrap_or_default());
            Ok(m)
        }
    }
}

/// Runs `prepare`.
pub async fn run(args: &PrepareArgs, global: &Global) -> Result<Exit> {
    let plan = plan::load(&args.plan)?;
    if let Signer::Pem(p) = &args.signer {
        sign::check_pem(p)?;
    }
    if args.out.exists() {
        return Err(Error::refused(
            Exit::Io,
            format!(
                "output {} already exists; choose a new folder (bundles are never overwritten)",
                args.out.display()
            ),
        ));
    }
    if global.dry_run {
        eprintln!(
            "dry run: the AWS calls for request {} ({} keys); nothing is called or written",
            plan.request_id,
            plan.keys.len()
        );
        let mut calls = vec!["sts:GetCallerIdentity".to_string()];
        for k in &plan.keys {
            match (k.strategy, &k.key_id) {
                (Strategy::OnDemand, _) => calls.push(format!("kms:DescribeKey KeyId={}", k.alias)),
                (Strategy::NewKey, Some(id)) => calls.push(format!("kms:DescribeKey KeyId={id}")),
                (Strategy::NewKey, None) => calls.push(format!(
                    "kms:CreateKey Origin=EXTERNAL KeySpec={} KeyUsage={} Tags=KeyRotationStatus=Pending,Environment={},Service={}",
                    k.key_spec, k.key_usage.clone().unwrap_or_else(|| plan::default_key_usage(&k.key_spec).into()), k.environment, k.service)),
            }
            calls.push(format!(
                "kms:GetParametersForImport key={} WrappingAlgorithm={} WrappingKeySpec=RSA_4096",
                k.name,
                plan::preferred_wrapping_algorithm(&k.key_spec)
                    .unwrap_or("none (unknown key spec)")
            ));
        }
        if let Signer::Kms(id) = &args.signer {
            calls.push(format!("kms:GetPublicKey KeyId={id}"));
            calls.push(format!(
                "kms:Sign KeyId={id} MessageType=DIGEST SigningAlgorithm=RSASSA_PSS_SHA_256"
            ));
        }
        for c in &calls {
            eprintln!("DRY-RUN: {c}");
        }
        if global.json {
            println!("{:#}", json!({"dry_run": true, "calls": calls}));
        }
        return Ok(Exit::Ok);
    }
    let c = crate::aws::load(global, plan.aws_region.as_deref()).await?;
    let who = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_err("sts:GetCallerIdentity", "the caller", &e))?;
    let account = who.account.unwrap_or_default();
    if let Some(a) = &plan.aws_account
        && a != &account
    {
        return Err(Error::refused(
            Exit::Content,
            format!(
                "the plan is for account {a} but the credentials are for account {account}; switch to the right account's role"
            ),
        ));
    }
    let parent = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(parent, "creating the output's folder", e))?;
    let base = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "request".into());
    let staging = parent.join(format!(".{base}.partial.{}", std::process::id()));
    let mut created = Vec::new();
    let result = build(
        &c,
        &plan,
        &args.signer,
        args.create_keys,
        &account,
        &staging,
        &mut created,
    )
    .await;
    let (digest, fingerprint, earliest) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            if !created.is_empty() {
                eprintln!(
                    "warning: keys created before the failure (PendingImport, no material): {}; put them in the plan as key_id of their new-key entries, or schedule their deletion",
                    created.join(" ")
                );
            }
            return Err(e);
        }
    };
    if args.out.exists() {
        return Err(Error::refused(
            Exit::Io,
            format!(
                "{} appeared while the bundle was being written; the new bundle is left in {}",
                args.out.display(),
                staging.display()
            ),
        ));
    }
    std::fs::rename(&staging, &args.out)
        .map_err(|e| Error::io(&args.out, "renaming the bundle into place", e))?;
    if global.json {
        println!(
            "{:#}",
            json!({"out": args.out.display().to_string(), "request_id": plan.request_id, "account": account,
            "region": c.region, "keys": plan.keys.len(), "valid_until": earliest, "signer_fingerprint": fingerprint,
            "request_digest": digest})
        );
    } else {
        println!(
            "Request bundle written: {}\n  request id          {}\n  account / region    {account} / {}\n  keys                {}\n  valid until         {earliest} (import parameters expire then)\n  signer fingerprint  {fingerprint}\n  request digest      {digest}   (SHA-256 of SHA256SUMS)\nRead the signer fingerprint and the request digest aloud to the custodians;\nthey compare them with what 'airlock request verify' shows.",
            args.out.display(),
            plan.request_id,
            c.region,
            plan.keys.len()
        );
    }
    Ok(Exit::Ok)
}

async fn build(
    c: &crate::aws::Clients,
    plan: &plan::Plan,
    signer: &Signer,
    create: bool,
    account: &str,
    staging: &Path,
    created: &mut Vec<String>,
) -> Result<(String, String, String)> {
    std::fs::create_dir(staging)
        .map_err(|e| Error::io(staging, "creating the staging folder", e))?;
    let mut keys = Vec::new();
    let mut files: Vec<(String, Sha256Digest)> = Vec::new();
    for k in &plan.keys {
        let m = resolve_key(&c.kms, k, &plan.request_id, create, created).await?;
        let arn = m.arn.clone().unwrap_or_default();
        let spec = m
            .key_spec
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if spec != k.key_spec {
            return Err(Error::refused(
                Exit::KeyState,
                format!(
                    "key {}: {arn} has key spec {spec}, the plan says {}; fix the plan",
                    k.name, k.key_spec
                ),
            ));
        }
        if crate::verify::arn_part(&arn, 4).as_deref() != Some(account)
            || crate::verify::arn_part(&arn, 3).as_deref() != Some(c.region.as_str())
        {
            return Err(Error::refused(
                Exit::KeyState,
                format!(
                    "key {}: {arn} is not in account {account} region {}",
                    k.name, c.region
                ),
            ));
        }
        let alg = plan::preferred_wrapping_algorithm(&k.key_spec).ok_or_else(|| {
            Error::refused(
                Exit::Plan,
                format!(
                    "key {}: key spec {} is not one Airlock imports",
                    k.name, k.key_spec
                ),
            )
        })?;
        let p = c
            .kms
            .get_parameters_for_import()
            .key_id(&arn)
            .wrapping_algorithm(aws_sdk_kms::types::AlgorithmSpec::from(alg))
            .wrapping_key_spec(WrappingKeySpec::Rsa4096)
            .send()
            .await
            .map_err(|e| aws_err("kms:GetParametersForImport", &format!("key {}", k.name), &e))?;
        let public = p.public_key.map(|b| b.into_inner()).unwrap_or_default();
        let token = p.import_token.map(|b| b.into_inner()).unwrap_or_default();
        let valid_to = p
            .parameters_valid_to
            .as_ref()
            .map(rfc3339_of)
            .unwrap_or_default();
        for (f, bytes) in [
            ("WrappingPublicKey.bin", &public),
            ("ImportToken.bin", &token),
        ] {
            let rel = format!("keys/{}/{f}", k.name);
            write_file(&staging.join(&rel), bytes)?;
            files.push((rel, Sha256Digest::of(bytes)));
        }
        eprintln!(
            "key {}: {arn} ({:?}, {alg}, parameters valid to {valid_to})",
            k.name, k.strategy
        );
        keys.push(json!({"name": k.name, "alias": k.alias, "environment": k.environment, "service": k.service,
            "key_arn": arn, "key_spec": k.key_spec, "import_type": "NEW_KEY_MATERIAL", "material": {"source": "generate"},
            "wrapping_algorithm": alg, "wrapping_key_spec": "RSA_4096", "parameters_valid_to": valid_to}));
    }
    let created_at = airlock_core::request::rfc3339(
        time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
    );
    let request = json!({"format": "airlock-request/1", "request_id": plan.request_id, "created_at": created_at,
        "aws_account": account, "aws_region": c.region, "keys": keys});
    let mut bytes = serde_json::to_vec_pretty(&request).unwrap_or_default();
    bytes.push(b'\n');
    parse_request_json(&bytes).map_err(|e| {
        Error::refused(
            Exit::KeyState,
            format!("the request built from AWS's answers does not pass the request schema: {e}"),
        )
    })?;
    write_file(&staging.join("request.json"), &bytes)?;
    files.push(("request.json".into(), Sha256Digest::of(&bytes)));
    let sums = Sha256Sums::from_entries(files)
        .map_err(|e| Error::refused(Exit::Plan, format!("SHA256SUMS: {e}")))?;
    let sums_bytes = sums.to_bytes();
    write_file(&staging.join("SHA256SUMS"), &sums_bytes)?;
    let signed = sign::sign(signer, &sums_bytes, Some(&c.kms)).await?;
    write_file(&staging.join("SHA256SUMS.sig"), &signed.signature)?;
    let earliest = keys
        .iter()
        .filter_map(|k| k["parameters_valid_to"].as_str())
        .min()
        .unwrap_or_default()
        .to_string();
    Ok((
        Sha256Digest::of(&sums_bytes).to_hex(),
        signed.public.fingerprint().to_hex(),
        earliest,
    ))
}
