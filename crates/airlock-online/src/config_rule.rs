//! `config-rule`: the AWS Config custom rule that judges each S3 bucket,
//! DynamoDB table, RDS instance and Aurora cluster like `report` does,
//! against the plan and the receipts, never tags. The Lambda is
//! `ceremony-scripts/config-rules/airlock_key_rotation_rule.py` (compiled
//! into this binary); next to it goes `airlock_rule_knowledge.json`
//! (format `airlock-rule-knowledge/1`), generated here from `--plan` and
//! `--receipt-dir`: the rotated key ARNs with the imported KeyMaterialId
//! and import time, the keys they replaced, the planned keys and aliases.
//!
//! `--out DIR` writes (atomically: a staging folder renamed into place)
//! the Lambda's source and zip, its trust policy, its least-privilege
//! execution policy, a key-policy statement for keys that do not delegate
//! to IAM, the function definition and the Config rule definition
//! (change-triggered, oversized and periodic). `--deploy` creates or
//! updates the role, the function, Config's permission to invoke it and
//! the rule with the AWS SDK, after checking the caller's account is the
//! plan's. `--dry-run` prints what would be written and called.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::kms::aws_err;
use crate::plan::Plan;
use crate::receipt::Receipt;
use crate::report::judge::Knowledge;

/// The Lambda's source, shipped as it is in the repository.
pub const LAMBDA_SOURCE: &str =
    include_str!("../../../ceremony-scripts/config-rules/airlock_key_rotation_rule.py");
/// The Lambda module's file name (and so its handler's module).
pub const LAMBDA_FILE: &str = "airlock_key_rotation_rule.py";
/// The knowledge file's name inside the zip.
pub const KNOWLEDGE_FILE: &str = "airlock_rule_knowledge.json";
/// The knowledge file's format tag (the Lambda refuses any other).
pub const KNOWLEDGE_FORMAT: &str = "airlock-rule-knowledge/1";
/// The zip's file name in `--out`.
pub const ZIP_FILE: &str = "airlock-key-rotation-rule.zip";
/// The resource types the rule covers.
pub const RESOURCE_TYPES: [&str; 4] = [
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
];
const FREQUENCIES: [&str; 5] = [
    "One_Hour",
    "Three_Hours",
    "Six_Hours",
    "Twelve_Hours",
    "TwentyFour_Hours",
];
const INLINE_POLICY_NAME: &str = "airlock-config-rule";
const INVOKE_STATEMENT_ID: &str = "airlock-config-rule-invoke";

/// Options of `config-rule`.
#[derive(Debug, Args)]
pub struct ConfigRuleArgs {
    /// The rotation plan (airlock-plan/1); its account and region are the rule's.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The receipts `import` wrote (without them every planned key is pending).
    #[arg(long, value_name = "DIR")]
    pub receipt_dir: Option<PathBuf>,
    /// Where the files go (must not exist). Required unless --deploy.
    #[arg(long, value_name = "DIR", required_unless_present = "deploy")]
    pub out: Option<PathBuf>,
    /// Create or update the role, the function and the rule in AWS.
    #[arg(long)]
    pub deploy: bool,
    /// The Config rule's name.
    #[arg(long, value_name = "NAME", default_value = "airlock-key-rotation")]
    pub rule_name: String,
    /// The Lambda function's name.
    #[arg(long, value_name = "NAME", default_value = "airlock-key-rotation-rule")]
    pub function_name: String,
    /// The Lambda execution role's name.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "airlock-config-rule-lambda"
    )]
    pub role_name: String,
    /// How often the periodic evaluation runs (One_Hour .. TwentyFour_Hours).
    #[arg(long, value_name = "FREQ", default_value = "TwentyFour_Hours")]
    pub frequency: String,
    /// The Lambda runtime.
    #[arg(long, value_name = "RUNTIME", default_value = "python3.12")]
    pub runtime: String,
    /// Resources not on a BYOK key are NON_COMPLIANT instead of NOT_APPLICABLE.
    #[arg(long)]
    pub require_byok: bool,
    /// Imported material older than N days is NON_COMPLIANT.
    #[arg(long, value_name = "N")]
    pub max_age_days: Option<u32>,
}

/// Everything `--out` holds and `--deploy` sends, computed without AWS.
#[derive(Debug, Clone)]
pub struct Artifacts {
    /// Account of the plan.
    pub account: String,
    /// Region of the plan.
    pub region: String,
    /// The knowledge file.
    pub knowledge: Value,
    /// The zip with the Lambda source and the knowledge file.
    pub zip: Vec<u8>,
    /// The Lambda's trust policy.
    pub trust: Value,
    /// The Lambda's execution policy.
    pub execution: Value,
    /// A key-policy statement for keys whose policy does not delegate to IAM.
    pub key_policy_statement: Value,
    /// CreateFunction's input (without the code).
    pub function: Value,
    /// PutConfigRule's ConfigRule.
    pub rule: Value,
}

fn usage(msg: String) -> Error {
    Error::refused(Exit::Usage, msg)
}

fn check_name(what: &str, v: &str, max: usize, extra: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= max
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "{what} {v:?} is not a valid name: 1..{max} characters of letters, digits, '-', '_'{}",
            if extra.is_empty() {
                String::new()
            } else {
                format!(" and {extra:?}")
            }
        )))
    }
}

/// The knowledge file: what the plan and receipts say about key ARNs.
pub fn knowledge(plan: &Plan, receipts: &[Receipt], a: &ConfigRuleArgs, now: &str) -> Value {
    let k = Knowledge::new(plan, receipts, &BTreeMap::new());
    let rotated: serde_json::Map<String, Value> = k
        .rotated
        .iter()
        .map(|(arn, r)| {
            let strategy = match r.strategy {
                crate::receipt::Strategy::OnDemand => "on-demand",
                crate::receipt::Strategy::AliasSwitch => "alias-switch",
            };
            (
                arn.clone(),
                json!({"name": r.name, "environment": r.environment, "strategy": strategy,
                       "material": r.material, "imported_at": r.imported_at}),
            )
        })
        .collect();
    let replaced: serde_json::Map<String, Value> = k
        .replaced
        .iter()
        .map(|(arn, (name, env, by))| {
            (
                arn.clone(),
                json!({"name": name, "environment": env, "replaced_by": by}),
            )
        })
        .collect();
    let planned: serde_json::Map<String, Value> = k
        .planned
        .iter()
        .map(|(arn, (name, env))| (arn.clone(), json!({"name": name, "environment": env})))
        .collect();
    let aliases: serde_json::Map<String, Value> = plan
        .keys
        .iter()
        .map(|p| {
            (
                p.alias.clone(),
                json!({"name": p.name, "environment": p.environment}),
            )
        })
        .collect();
    let mut ceremonies: Vec<String> = receipts
        .iter()
        .map(|r| format!("{}/{}", r.environment, r.ceremony_id))
        .collect();
    ceremonies.sort();
    json!({
        "format": KNOWLEDGE_FORMAT,
        "generated_at": now,
        "request_id": plan.request_id,
        "account": plan.aws_account,
        "region": plan.aws_region,
        "receipts": ceremonies,
        "require_byok": a.require_byok,
        "max_age_days": a.max_age_days,
        "rotated": rotated,
        "replaced": replaced,
        "planned": planned,
        "aliases": aliases,
    })
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// A stored zip of `files`, byte for byte reproducible (fixed 1980-01-01
/// timestamps, 0644): the same inputs give the same CodeSha256.
pub fn zip_of(files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let zip_err = |source| Error::Zip {
        what: "building the Lambda zip",
        source,
    };
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(*name, opts).map_err(zip_err)?;
        w.write_all(bytes)
            .map_err(|e| Error::io(ZIP_FILE, "writing into the Lambda zip", e))?;
    }
    Ok(w.finish().map_err(zip_err)?.into_inner())
}

fn input_parameters(a: &ConfigRuleArgs) -> String {
    let mut p = serde_json::Map::new();
    p.insert("require_byok".into(), json!(a.require_byok.to_string()));
    if let Some(d) = a.max_age_days {
        p.insert("max_age_days".into(), json!(d.to_string()));
    }
    Value::Object(p).to_string()
}

/// Computes every artifact from the plan, the receipts and the options.
pub fn artifacts(
    plan: &Plan,
    receipts: &[Receipt],
    a: &ConfigRuleArgs,
    now: &str,
) -> Result<Artifacts> {
    let (Some(account), Some(region)) = (plan.aws_account.clone(), plan.aws_region.clone()) else {
        return Err(Error::refused(
            Exit::Plan,
            format!(
                "{}: the plan has no aws_account/aws_region; the rule's policies and ARNs need both: add them to the plan",
                a.plan.display()
            ),
        ));
    };
    if !FREQUENCIES.contains(&a.frequency.as_str()) {
        return Err(usage(format!(
            "--frequency {:?} is not one of {}",
            a.frequency,
            FREQUENCIES.join(", ")
        )));
    }
    check_name("--rule-name", &a.rule_name, 128, "")?;
    check_name("--function-name", &a.function_name, 64, "")?;
    check_name("--role-name", &a.role_name, 64, "+=,.@")?;
    if !a.runtime.starts_with("python3.") {
        return Err(usage(format!(
            "--runtime {:?}: the rule is Python; pass a python3.N runtime Lambda offers",
            a.runtime
        )));
    }
    for r in receipts {
        if r.account != account || r.region != region {
            return Err(Error::refused(
                Exit::Receipt,
                format!(
                    "receipt {}/{} is for {}/{}, not the plan's {account}/{region}; pass the receipts of this plan",
                    r.environment, r.ceremony_id, r.account, r.region
                ),
            ));
        }
    }
    let know = knowledge(plan, receipts, a, now);
    let zip = zip_of(&[
        (LAMBDA_FILE, LAMBDA_SOURCE.as_bytes()),
        (KNOWLEDGE_FILE, &pretty(&know)),
    ])?;
    let role_arn = format!("arn:aws:iam::{account}:role/{}", a.role_name);
    let function_arn = format!(
        "arn:aws:lambda:{region}:{account}:function:{}",
        a.function_name
    );
    let log_group = format!(
        "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{}",
        a.function_name
    );
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "LambdaRunsTheRule", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let execution = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "PutEvaluations", "Effect": "Allow", "Action": ["config:PutEvaluations"], "Resource": "*"},
        {"Sid": "ReadRecordedConfigurationItems", "Effect": "Allow",
         "Action": ["config:BatchGetResourceConfig", "config:GetResourceConfigHistory", "config:ListDiscoveredResources"],
         "Resource": "*"},
        {"Sid": "DescribeKeysOfThisAccountAndRegion", "Effect": "Allow", "Action": ["kms:DescribeKey"],
         "Resource": format!("arn:aws:kms:{region}:{account}:key/*")},
        {"Sid": "ResolveThePlansAliases", "Effect": "Allow", "Action": ["kms:ListAliases"], "Resource": "*"},
        {"Sid": "CreateItsOwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": log_group},
        {"Sid": "WriteItsOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": format!("{log_group}:*")}
    ]});
    let key_policy_statement = json!({
        "Sid": "AirlockConfigRuleDescribesThisKey", "Effect": "Allow",
        "Principal": {"AWS": role_arn}, "Action": "kms:DescribeKey", "Resource": "*"});
    let function = json!({
        "FunctionName": a.function_name, "Runtime": a.runtime,
        "Handler": format!("{}.lambda_handler", LAMBDA_FILE.trim_end_matches(".py")),
        "Role": role_arn, "Timeout": 300, "MemorySize": 256,
        "Description": format!("Airlock key rotation rule for {} (plan + receipts, not tags)", plan.request_id),
        "Code": {"ZipFile": ZIP_FILE, "Sha256": hex::encode(Sha256::digest(&zip))},
        "Permission": {"StatementId": INVOKE_STATEMENT_ID, "Action": "lambda:InvokeFunction",
                       "Principal": "config.amazonaws.com", "SourceAccount": account}
    });
    let source = |t: &str| json!({"EventSource": "aws.config", "MessageType": t});
    let mut scheduled = source("ScheduledNotification");
    scheduled["MaximumExecutionFrequency"] = json!(a.frequency);
    let rule = json!({
        "ConfigRuleName": a.rule_name,
        "Description": "Is the resource's KMS key the rotated one (and, on demand, its material the imported one)? Judged against the Airlock plan and receipts.",
        "Scope": {"ComplianceResourceTypes": RESOURCE_TYPES},
        "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": function_arn, "SourceDetails": [
            source("ConfigurationItemChangeNotification"),
            source("OversizedConfigurationItemChangeNotification"),
            scheduled]},
        "InputParameters": input_parameters(a),
        "MaximumExecutionFrequency": a.frequency
    });
    Ok(Artifacts {
        account,
        region,
        knowledge: know,
        zip,
        trust,
        execution,
        key_policy_statement,
        function,
        rule,
    })
}

/// The files of `--out`, by relative path.
pub fn files(x: &Artifacts) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            format!("lambda/{LAMBDA_FILE}"),
            LAMBDA_SOURCE.as_bytes().to_vec(),
        ),
        (format!("lambda/{KNOWLEDGE_FILE}"), pretty(&x.knowledge)),
        (ZIP_FILE.to_string(), x.zip.clone()),
        ("lambda-trust-policy.json".into(), pretty(&x.trust)),
        ("lambda-execution-policy.json".into(), pretty(&x.execution)),
        (
            "key-policy-statement.json".into(),
            pretty(&x.key_policy_statement),
        ),
        ("function.json".into(), pretty(&x.function)),
        ("config-rule.json".into(), pretty(&x.rule)),
    ]
}

/// Writes `files` under `out` atomically: into a staging folder next to
/// it, each file fsynced, then the folder renamed; on any error the
/// staging folder is removed and `out` does not exist.
pub fn write_out(out: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    if out.exists() {
        return Err(Error::refused(
            Exit::Io,
            format!(
                "output {} already exists; choose a new folder (nothing was written)",
                out.display()
            ),
        ));
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| usage(format!("--out {} has no folder name", out.display())))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let write_all = || -> Result<()> {
        std::fs::create_dir(&staging)
            .map_err(|e| Error::io(&staging, "creating the staging folder", e))?;
        for (rel, bytes) in files {
            let p = staging.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, "creating a folder", e))?;
            }
            let mut f = std::fs::File::create(&p).map_err(|e| Error::io(&p, "creating", e))?;
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io(&p, "writing", e))?;
        }
        std::fs::rename(&staging, out)
            .map_err(|e| Error::io(out, "renaming the staging folder into place", e))
    };
    let r = write_all();
    if r.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    r
}

/// What `--deploy` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Deployed {
    /// The role's ARN.
    pub role_arn: String,
    /// created or updated.
    pub role: &'static str,
    /// The function's ARN.
    pub function_arn: String,
    /// created or updated.
    pub function: &'static str,
    /// The rule's ARN.
    pub rule_arn: String,
}

fn deploy_calls(a: &ConfigRuleArgs) -> Vec<String> {
    vec![
        "sts:GetCallerIdentity (the caller's account must be the plan's)".into(),
        format!(
            "iam:GetRole {0}, then iam:CreateRole or iam:UpdateAssumeRolePolicy {0}",
            a.role_name
        ),
        format!(
            "iam:PutRolePolicy {} PolicyName={INLINE_POLICY_NAME}",
            a.role_name
        ),
        format!(
            "lambda:GetFunction {0}, then lambda:CreateFunction or lambda:UpdateFunctionCode + lambda:UpdateFunctionConfiguration {0}",
            a.function_name
        ),
        format!(
            "lambda:AddPermission {} StatementId={INVOKE_STATEMENT_ID} Principal=config.amazonaws.com",
            a.function_name
        ),
        format!(
            "config:PutConfigRule {} (change, oversized and {} periodic)",
            a.rule_name, a.frequency
        ),
        format!("config:DescribeConfigRules {}", a.rule_name),
    ]
}

async fn wait_function_ready(c: &aws_sdk_lambda::Client, name: &str) -> Result<()> {
    use aws_sdk_lambda::types::LastUpdateStatus;
    for _ in 0..60 {
        let o = c
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| aws_err("lambda:GetFunctionConfiguration", name, &e))?;
        match o.last_update_status {
            Some(LastUpdateStatus::InProgress) => tokio::time::sleep(Duration::from_secs(2)).await,
            Some(LastUpdateStatus::Failed) => {
                return Err(Error::refused(
                    Exit::Aws,
                    format!(
                        "the update of Lambda function {name} failed: {}; see its LastUpdateStatusReason in the Lambda console and rerun --deploy",
                        o.last_update_status_reason.unwrap_or_default()
                    ),
                ));
            }
            _ => return Ok(()),
        }
    }
    Err(Error::refused(
        Exit::Aws,
        format!(
            "Lambda function {name} was still updating after 2 minutes; rerun --deploy when it is done"
        ),
    ))
}

/// Loads the clients and checks the caller's account and region are the
/// plan's, before anything is written or changed.
pub async fn preflight(x: &Artifacts, g: &Global) -> Result<crate::aws::Clients> {
    let c = crate::aws::load(g, Some(&x.region)).await?;
    let caller = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_err("sts:GetCallerIdentity", "the caller", &e))?
        .account
        .unwrap_or_default();
    if caller != x.account || c.region != x.region {
        return Err(Error::refused(
            Exit::Content,
            format!(
                "the credentials are for account {caller} in {}, the plan is for {} in {}; use the security account's credentials and region (nothing was written or changed)",
                c.region, x.account, x.region
            ),
        ));
    }
    Ok(c)
}

/// Creates or updates the role, the function, the permission and the rule.
pub async fn deploy(
    a: &ConfigRuleArgs,
    x: &Artifacts,
    c: &crate::aws::Clients,
) -> Result<Deployed> {
    use aws_sdk_config::types as ct;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};

    let mut d = Deployed::default();
    let trust = x.trust.to_string();
    match c.iam.get_role().role_name(&a.role_name).send().await {
        Ok(o) => {
            d.role_arn = o.role.map(|r| r.arn).unwrap_or_default();
            c.iam
                .update_assume_role_policy()
                .role_name(&a.role_name)
                .policy_document(&trust)
                .send()
                .await
                .map_err(|e| aws_err("iam:UpdateAssumeRolePolicy", &a.role_name, &e))?;
            d.role = "updated";
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            let o = c
                .iam
                .create_role()
                .role_name(&a.role_name)
                .assume_role_policy_document(&trust)
                .description("Runs the Airlock key rotation Config rule")
                .send()
                .await
                .map_err(|e| aws_err("iam:CreateRole", &a.role_name, &e))?;
            d.role_arn = o.role.map(|r| r.arn).unwrap_or_default();
            d.role = "created";
        }
        Err(e) => return Err(aws_err("iam:GetRole", &a.role_name, &e)),
    }
    c.iam
        .put_role_policy()
        .role_name(&a.role_name)
        .policy_name(INLINE_POLICY_NAME)
        .policy_document(x.execution.to_string())
        .send()
        .await
        .map_err(|e| aws_err("iam:PutRolePolicy", &a.role_name, &e))?;

    let f = &x.function;
    let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
    let (handler, description) = (text("Handler"), text("Description"));
    let (timeout, memory) = (
        f["Timeout"].as_i64().unwrap_or(300) as i32,
        f["MemorySize"].as_i64().unwrap_or(256) as i32,
    );
    let name = &a.function_name;
    match c.lambda.get_function().function_name(name).send().await {
        Ok(_) => {
            wait_function_ready(&c.lambda, name).await?;
            let o = c
                .lambda
                .update_function_code()
                .function_name(name)
                .zip_file(Blob::new(x.zip.clone()))
                .send()
                .await
                .map_err(|e| aws_err("lambda:UpdateFunctionCode", name, &e))?;
            d.function_arn = o.function_arn.unwrap_or_default();
            wait_function_ready(&c.lambda, name).await?;
            c.lambda
                .update_function_configuration()
                .function_name(name)
                .role(&d.role_arn)
                .handler(&handler)
                .runtime(Runtime::from(a.runtime.as_str()))
                .timeout(timeout)
                .memory_size(memory)
                .description(&description)
                .send()
                .await
                .map_err(|e| aws_err("lambda:UpdateFunctionConfiguration", name, &e))?;
            d.function = "updated";
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            // A new role takes a few seconds to be assumable by Lambda
            // (IAM is eventually consistent): retry that one refusal.
            let mut tries = 0;
            let o = loop {
                let r = c
                    .lambda
                    .create_function()
                    .function_name(name)
                    .runtime(Runtime::from(a.runtime.as_str()))
                    .role(&d.role_arn)
                    .handler(&handler)
                    .timeout(timeout)
                    .memory_size(memory)
                    .description(&description)
                    .code(
                        FunctionCode::builder()
                            .zip_file(Blob::new(x.zip.clone()))
                            .build(),
                    )
                    .send()
                    .await;
                match r {
                    Ok(o) => break o,
                    Err(e)
                        if tries < 6
                            && e.as_service_error()
                                .is_some_and(|s| s.is_invalid_parameter_value_exception()) =>
                    {
                        tries += 1;
                        eprintln!(
                            "config-rule: the role is not assumable by Lambda yet; retrying in 5 s ({tries}/6)"
                        );
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Err(e) => return Err(aws_err("lambda:CreateFunction", name, &e)),
                }
            };
            d.function_arn = o.function_arn.unwrap_or_default();
            d.function = "created";
        }
        Err(e) => return Err(aws_err("lambda:GetFunction", name, &e)),
    }
    match c
        .lambda
        .add_permission()
        .function_name(name)
        .statement_id(INVOKE_STATEMENT_ID)
        .action("lambda:InvokeFunction")
        .principal("config.amazonaws.com")
        .source_account(&x.account)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) => {}
        Err(e) => return Err(aws_err("lambda:AddPermission", name, &e)),
    }

    let freq = ct::MaximumExecutionFrequency::from(a.frequency.as_str());
    let detail = |t: ct::MessageType| {
        ct::SourceDetail::builder()
            .event_source(ct::EventSource::AwsConfig)
            .message_type(t)
    };
    let build_err = |e: aws_smithy_types::error::operation::BuildError| {
        Error::refused(
            Exit::Usage,
            format!("building the Config rule {}: {e}", a.rule_name),
        )
    };
    let source = ct::Source::builder()
        .owner(ct::Owner::CustomLambda)
        .source_identifier(&d.function_arn)
        .source_details(detail(ct::MessageType::ConfigurationItemChangeNotification).build())
        .source_details(
            detail(ct::MessageType::OversizedConfigurationItemChangeNotification).build(),
        )
        .source_details(
            detail(ct::MessageType::ScheduledNotification)
                .maximum_execution_frequency(freq.clone())
                .build(),
        )
        .build()
        .map_err(build_err)?;
    let mut scope = ct::Scope::builder();
    for t in RESOURCE_TYPES {
        scope = scope.compliance_resource_types(t);
    }
    let rule = ct::ConfigRule::builder()
        .config_rule_name(&a.rule_name)
        .description(x.rule["Description"].as_str().unwrap_or_default())
        .scope(scope.build())
        .source(source)
        .input_parameters(input_parameters(a))
        .maximum_execution_frequency(freq)
        .build();
    c.config
        .put_config_rule()
        .config_rule(rule)
        .send()
        .await
        .map_err(|e| aws_err("config:PutConfigRule", &a.rule_name, &e))?;
    let got = c
        .config
        .describe_config_rules()
        .config_rule_names(&a.rule_name)
        .send()
        .await
        .map_err(|e| aws_err("config:DescribeConfigRules", &a.rule_name, &e))?;
    d.rule_arn = got
        .config_rules
        .unwrap_or_default()
        .into_iter()
        .find_map(|r| r.config_rule_arn)
        .ok_or_else(|| {
            Error::refused(
                Exit::Aws,
                format!(
                    "config:DescribeConfigRules does not show {} after PutConfigRule; check AWS Config in {}",
                    a.rule_name, x.region
                ),
            )
        })?;
    Ok(d)
}

/// Runs `config-rule`.
pub async fn run(a: &ConfigRuleArgs, g: &Global) -> Result<Exit> {
    let plan = crate::plan::load(&a.plan)?;
    let receipts: Vec<Receipt> = match &a.receipt_dir {
        Some(d) => crate::receipt::read_all(d)?
            .into_iter()
            .map(|(_, r)| r)
            .collect(),
        None => Vec::new(),
    };
    let x = artifacts(&plan, &receipts, a, &crate::receipt::now_rfc3339())?;
    let files = files(&x);
    let rotated = x.knowledge["rotated"].as_object().map_or(0, |m| m.len());
    let summary = |deployed: Option<&Deployed>| {
        json!({"dry_run": g.dry_run, "out": a.out.as_ref().map(|p| p.display().to_string()),
               "rule_name": a.rule_name, "function_name": a.function_name, "role_name": a.role_name,
               "rotated_keys": rotated, "receipts": x.knowledge["receipts"],
               "zip_sha256": hex::encode(Sha256::digest(&x.zip)),
               "files": files.iter().map(|(n, b)| json!({"name": n, "sha256": hex::encode(Sha256::digest(b))})).collect::<Vec<_>>(),
               "deployed": deployed})
    };
    if g.dry_run {
        if let Some(out) = &a.out {
            if out.exists() {
                return Err(Error::refused(
                    Exit::Io,
                    format!(
                        "output {} already exists; choose a new folder",
                        out.display()
                    ),
                ));
            }
            for (n, _) in &files {
                eprintln!("DRY-RUN: write {}", out.join(n).display());
            }
        }
        if a.deploy {
            for call in deploy_calls(a) {
                eprintln!("DRY-RUN: {call}");
            }
        }
        if g.json {
            println!("{:#}", summary(None));
        }
        return Ok(Exit::Ok);
    }
    let clients = match a.deploy {
        true => Some(preflight(&x, g).await?),
        false => None,
    };
    if let Some(out) = &a.out {
        write_out(out, &files)?;
        if !g.json {
            println!(
                "wrote the Config rule ({} files, {rotated} rotated keys from {} receipts) to {}",
                files.len(),
                receipts.len(),
                out.display()
            );
        }
    }
    let deployed = if let Some(c) = &clients {
        let d = deploy(a, &x, c).await?;
        if !g.json {
            println!("role      {} ({})", d.role_arn, d.role);
            println!("function  {} ({})", d.function_arn, d.function);
            println!("rule      {}", d.rule_arn);
        }
        Some(d)
    } else {
        None
    };
    if g.json {
        println!("{:#}", summary(deployed.as_ref()));
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConfigRuleArgs {
        ConfigRuleArgs {
            plan: "plan.json".into(),
            receipt_dir: None,
            out: Some("out".into()),
            deploy: false,
            rule_name: "airlock-key-rotation".into(),
            function_name: "airlock-key-rotation-rule".into(),
            role_name: "airlock-config-rule-lambda".into(),
            frequency: "TwentyFour_Hours".into(),
            runtime: "python3.12".into(),
            require_byok: false,
            max_age_days: Some(400),
        }
    }

    fn plan(with_account: bool) -> Plan {
        let acct = if with_account {
            r#""aws_account": "111122223333", "aws_region": "eu-west-1","#
        } else {
            ""
        };
        crate::plan::parse(
            format!(
                r#"{{"format": "airlock-plan/1", "request_id": "r", {acct}
                 "keys": [{{"name": "dev-s3", "alias": "alias/dev-s3", "environment": "dev", "service": "s3",
                           "key_spec": "SYMMETRIC_DEFAULT", "strategy": "on-demand"}}]}}"#
            )
            .as_bytes(),
            "plan",
        )
        .unwrap()
    }

    #[test]
    fn the_policies_are_least_privilege_and_the_rule_has_both_triggers() {
        let x = artifacts(&plan(true), &[], &args(), "2026-01-01T00:00:00Z").unwrap();
        let actions: Vec<&str> = x.execution["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap())
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "config:PutEvaluations",
                "config:BatchGetResourceConfig",
                "config:GetResourceConfigHistory",
                "config:ListDiscoveredResources",
                "kms:DescribeKey",
                "kms:ListAliases",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ]
        );
        assert!(!x.execution.to_string().contains("kms:ListResourceTags"));
        let kinds: Vec<&str> = x.rule["Source"]["SourceDetails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["MessageType"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "ConfigurationItemChangeNotification",
                "OversizedConfigurationItemChangeNotification",
                "ScheduledNotification"
            ]
        );
        assert_eq!(
            x.rule["InputParameters"],
            r#"{"max_age_days":"400","require_byok":"false"}"#
        );
        assert_eq!(x.knowledge["aliases"]["alias/dev-s3"]["name"], "dev-s3");
    }

    #[test]
    fn the_zip_is_reproducible_and_holds_the_source_and_the_knowledge() {
        let a = zip_of(&[("a.py", b"print(1)\n"), ("k.json", b"{}\n")]).unwrap();
        let b = zip_of(&[("a.py", b"print(1)\n"), ("k.json", b"{}\n")]).unwrap();
        assert_eq!(a, b);
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        assert_eq!(z.len(), 2);
        assert_eq!(z.by_index(0).unwrap().name().unwrap(), "a.py");
    }

    #[test]
    fn bad_inputs_are_refused_with_their_codes() {
        let e = artifacts(&plan(false), &[], &args(), "now").unwrap_err();
        assert_eq!(e.exit(), Exit::Plan);
        let mut a = args();
        a.frequency = "Daily".into();
        assert_eq!(
            artifacts(&plan(true), &[], &a, "now").unwrap_err().exit(),
            Exit::Usage
        );
        let mut a = args();
        a.function_name = "no spaces".into();
        assert_eq!(
            artifacts(&plan(true), &[], &a, "now").unwrap_err().exit(),
            Exit::Usage
        );
    }

    #[test]
    fn an_existing_output_is_refused_and_nothing_half_written_stays() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("rule");
        write_out(&out, &[("a/b.txt".into(), b"x".to_vec())]).unwrap();
        assert_eq!(std::fs::read(out.join("a/b.txt")).unwrap(), b"x");
        assert_eq!(
            write_out(&out, &[("c".into(), Vec::new())])
                .unwrap_err()
                .exit(),
            Exit::Io
        );
        // A file where a folder must go: the write fails, no staging folder stays.
        let out2 = d.path().join("rule2");
        let bad = vec![("x".into(), b"1".to_vec()), ("x/y".into(), b"2".to_vec())];
        assert!(write_out(&out2, &bad).is_err());
        assert!(!out2.exists());
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
