//! `import`: checks everything before the first change, then imports
//! environment by environment (dev -> int -> prod). Before any change: the
//! bundle verifies (as `verify`) and answers the request; STS says the
//! caller's account and the region are the bundle's; every key that still
//! needs material has `parameters_valid_to` in the future; every key's KMS
//! state allows the step (`decide.rs`); earlier environments are done and
//! reported clean (`order.rs`) unless `--override-order` says why not.
//! Then per key: ImportKeyMaterial (ImportType from the bundle,
//! ExpirationModel always explicit, KeyMaterialDescription naming the
//! ceremony), a test, RotateKeyOnDemand with a check that
//! CurrentKeyMaterialId changed to the imported material, or an alias
//! switch after one confirmation per environment. Tags are written for
//! people and dashboards; nothing here reads them back.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use airlock_core::import_manifest::ImportKey;
use airlock_core::spec::ImportType;
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::ExpirationModelType;
use clap::Args;
use serde_json::json;

use crate::aws::Clients;
use crate::cli::{Global, split_list};
use crate::decide::{Action, Observed, decide};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::kms::{self, aws_err};
use crate::mrk::{self, ReplicaObserved, Step};
use crate::receipt::{
    self, KeyReceipt, OrderOverride, Receipt, ReplicaReceipt, Strategy, now_rfc3339,
};
use crate::verify::{BundleArgs, Verified, verify_bundle};

/// Options of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The bundle and its pins.
    #[command(flatten)]
    pub bundle: BundleArgs,
    /// The request bundle this answers (supplies each key's environment).
    #[arg(long, value_name = "DIR")]
    pub request: PathBuf,
    /// Import only these keys (comma-separated names).
    #[arg(long, value_name = "LIST")]
    pub keys: Option<String>,
    /// Import only these environments (comma-separated).
    #[arg(long, value_name = "LIST")]
    pub environments: Option<String>,
    /// Where receipts go (one per environment and ceremony).
    #[arg(long, value_name = "DIR", default_value = "airlock-receipts")]
    pub receipt_dir: PathBuf,
    /// Import although an earlier environment is not done and reported
    /// clean; the reason is recorded in the receipt.
    #[arg(long, value_name = "REASON")]
    pub override_order: Option<String>,
    /// Import with ExpirationModel KEY_MATERIAL_EXPIRES and this ValidTo
    /// (RFC 3339); default KEY_MATERIAL_DOES_NOT_EXPIRE.
    #[arg(long, value_name = "RFC3339")]
    pub valid_to: Option<String>,
    /// Do not ask before each environment's alias switch.
    #[arg(long)]
    pub yes: bool,
    /// Afterwards, tag the buckets, tables, RDS instances and Aurora
    /// clusters on the rotated keys with KeyRotationStatus,
    /// LastKeyRotationDate and AirlockCeremony (for people; never read).
    #[arg(long)]
    pub tag_resources: bool,
}

/// One selected key with everything decided in preflight.
#[derive(Debug, Clone)]
struct Planned {
    key: ImportKey,
    environment: String,
    service: String,
    strategy: Strategy,
    action: Action,
    ours: Option<String>,
    current_material: Option<String>,
    alias_target: Option<String>,
    /// For a multi-Region key: its steps and a KMS client per replica region.
    mrk: Option<MrkPlan>,
}

/// What is left for a multi-Region key, decided in preflight.
#[derive(Debug, Clone)]
struct MrkPlan {
    steps: Vec<Step>,
    clients: BTreeMap<String, aws_sdk_kms::Client>,
}

/// Checks a multi-Region key's primary and every replica (each in its own
/// region) before any change, and decides what is left from the key
/// material ids KMS shows per region (read-only).
async fn plan_replicas(
    c: &Clients,
    global: &Global,
    key: &ImportKey,
    action: Action,
    ours: Option<&str>,
    prior: Option<&KeyReceipt>,
    now: time::OffsetDateTime,
) -> Result<MrkPlan> {
    let meta = kms::describe(&c.kms, &key.key_arn, &format!("key {}", key.name)).await?;
    let mrt = meta
        .multi_region_configuration
        .as_ref()
        .and_then(|m| m.multi_region_key_type.as_ref())
        .map(|t| t.as_str().to_string());
    mrk::check_primary(key, mrt.as_deref(), action).map_err(|m| {
        let exit = if matches!(action, Action::ImportThenSwitch | Action::SwitchOnly) {
            Exit::MultiRegion
        } else {
            Exit::KeyState
        };
        Error::refused(exit, format!("nothing was imported: {m}"))
    })?;
    let mut clients = BTreeMap::new();
    let mut has = BTreeMap::new();
    for r in &key.replicas {
        let kc = crate::aws::kms_in(global, &r.region).await;
        let what = format!("key {} replica {} ({})", key.name, r.region, r.key_arn);
        let mut obs = match kc.describe_key().key_id(&r.key_arn).send().await {
            Ok(o) => o.key_metadata.map(|m| ReplicaObserved {
                key_state: m
                    .key_state
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                origin: m.origin.map(|x| x.as_str().to_string()).unwrap_or_default(),
                key_spec: m
                    .key_spec
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                multi_region_type: m
                    .multi_region_configuration
                    .as_ref()
                    .and_then(|x| x.multi_region_key_type.as_ref())
                    .map(|x| x.as_str().to_string()),
                primary_arn: m
                    .multi_region_configuration
                    .as_ref()
                    .and_then(|x| x.primary_key.as_ref())
                    .and_then(|x| x.arn.clone()),
                current_material: m.current_key_material_id,
                materials: None,
            }),
            Err(e) if crate::error::sdk_code(&e).as_deref() == Some("NotFoundException") => None,
            Err(e) => return Err(aws_err("kms:DescribeKey", &what, &e)),
        };
        let known = ours.filter(|_| action != Action::ImportThenRotate);
        if let (Some(o), Some(_)) = (obs.as_mut(), known)
            && let kms::Materials::Listed(list) = kms::materials(&kc, &r.key_arn, &what).await?
        {
            o.materials = Some(list.into_iter().map(|(id, _)| id).collect());
        }
        let shown = known.is_some_and(|id| obs.as_ref().is_some_and(|o| o.has(id)));
        // Where KMS cannot list a replica's materials (no ListKeyRotations,
        // as on LocalStack) and does not show ours current there, the
        // receipt's record of this import into the replica stands in, as it
        // does for the primary's KeyMaterialId.
        let recorded = !shown
            && obs.as_ref().is_some_and(|o| o.materials.is_none())
            && known.is_some_and(|id| {
                prior.is_some_and(|p| {
                    p.replicas.iter().any(|x| {
                        x.region == r.region
                            && x.status != "pending"
                            && x.key_material_id.as_deref() == Some(id)
                    })
                })
            });
        if recorded {
            eprintln!(
                "key {} replica {}: KMS cannot list its key material here; the receipt records this ceremony's material imported, so it is not imported again",
                key.name, r.region
            );
        }
        let h = shown || recorded;
        mrk::check_replica(key, r, obs.as_ref(), !h, now)?;
        has.insert(r.region.clone(), h);
        clients.insert(r.region.clone(), kc);
    }
    let steps = mrk::steps(key, action, &has).map_err(|m| Error::refused(Exit::MultiRegion, m))?;
    Ok(MrkPlan { steps, clients })
}

fn parse_time(s: &str, what: &str) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
        Error::refused(
            Exit::Content,
            format!("{what}: {s:?} is not an RFC 3339 time ({e})"),
        )
    })
}

/// Refuses (exit 24) a key whose import parameters are no longer valid at `now`.
pub fn check_not_expired(name: &str, valid_to: &str, now: time::OffsetDateTime) -> Result<()> {
    let valid = parse_time(valid_to, &format!("key {name} parameters_valid_to"))?;
    if valid <= now {
        return Err(Error::refused(
            Exit::Expired,
            format!(
                "key {name}: its import parameters expired at {valid_to}; nothing was imported. \
                 Prepare a new request (get-parameters-for-import) and hold a new ceremony"
            ),
        ));
    }
    Ok(())
}

/// The rotation budget of an on-demand key before it is rotated: `Some(why)`
/// when none is left (the import must refuse), a warning on stderr when
/// few are, and a warning when KMS cannot count them.
async fn rotation_budget(kms_c: &aws_sdk_kms::Client, key: &ImportKey) -> Result<Option<String>> {
    match kms::rotations(kms_c, &key.key_arn, &format!("key {}", key.name)).await? {
        kms::Rotations::Unsupported => {
            eprintln!(
                "warning: key {}: this KMS endpoint has no ListKeyRotations, so its on-demand rotations left (of {}) cannot be counted; KMS itself refuses a rotation past the limit",
                key.name,
                kms::ON_DEMAND_ROTATION_LIMIT
            );
            Ok(None)
        }
        kms::Rotations::Counted(n) if n.left() == 0 => Ok(Some(format!(
            "key {} ({}): {}",
            key.name,
            key.key_arn,
            n.describe()
        ))),
        kms::Rotations::Counted(n) => {
            if n.low() {
                eprintln!(
                    "warning: key {}: {} before this import's rotation; plan its successor as new-key",
                    key.name,
                    n.describe()
                );
            } else {
                eprintln!("key {}: {}", key.name, n.describe());
            }
            Ok(None)
        }
    }
}

/// The KeyMaterialDescription of this ceremony's material for `key`.
pub fn material_description(ceremony_id: &str, request_id: &str, key: &str) -> String {
    let mut d = format!("airlock ceremony {ceremony_id} request {request_id} key {key}");
    d.truncate(256);
    d
}

/// The ARN of key id `id` in the same partition/account/region as `like`.
fn arn_like(like: &str, id: &str) -> String {
    if id.starts_with("arn:") {
        return id.to_string();
    }
    match like.rsplit_once(":key/") {
        Some((prefix, _)) => format!("{prefix}:key/{id}"),
        None => id.to_string(),
    }
}

/// Observes one key in KMS and decides what is left (read-only).
async fn observe(
    c: &Clients,
    v: &Verified,
    key: &ImportKey,
    aliases: &BTreeMap<String, String>,
    prior: Option<&KeyReceipt>,
) -> Result<(Observed, Option<String>, Option<String>)> {
    let meta = kms::describe(&c.kms, &key.key_arn, &format!("key {}", key.name)).await?;
    let key_id = meta.key_id.clone();
    let target = aliases.get(&key.alias).cloned();
    let obs = Observed {
        state: meta
            .key_state
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        origin: meta
            .origin
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        key_spec: meta
            .key_spec
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        current_material: meta.current_key_material_id.clone(),
        alias_points_here: target.as_deref() == Some(key_id.as_str()),
    };
    let mut ours = prior.and_then(|p| p.imported_key_material_id.clone());
    if ours.is_none() && obs.state != "PendingImport" {
        let desc = material_description(
            &v.bundle.manifest.ceremony_id,
            &v.bundle.manifest.request_id,
            &key.name,
        );
        if let kms::Materials::Listed(list) =
            kms::materials(&c.kms, &key.key_arn, &key.name).await?
        {
            ours = list
                .into_iter()
                .find(|(_, d)| d.as_deref() == Some(desc.as_str()))
                .map(|(id, _)| id);
        }
    }
    Ok((obs, ours, target.map(|t| arn_like(&key.key_arn, &t))))
}

/// Runs `import`.
pub async fn run(args: &ImportArgs, global: &Global) -> Result<Exit> {
    // --valid-to first: a refusal here comes before any AWS call.
    let valid_to_checked = match &args.valid_to {
        Some(t) => Some(crate::lifecycle::check_valid_to(
            t,
            time::OffsetDateTime::now_utc(),
        )?),
        None => None,
    };
    let v = verify_bundle(&args.bundle, Some(&args.request))?;
    let m = &v.bundle.manifest;
    eprintln!(
        "bundle verified: request {}, ceremony {}, {} keys, digest {}",
        m.request_id,
        m.ceremony_id,
        m.keys.len(),
        v.bundle.sums_sha256.to_hex()
    );
    if !m.workstation.air_gapped {
        eprintln!(
            "warning: the workstation was NOT air-gapped (accepted by --allow-not-air-gapped; recorded)"
        );
    }
    let env_of = |k: &ImportKey| {
        v.request_keys
            .get(&k.name)
            .map(|r| {
                (
                    r.environment.as_str().to_string(),
                    r.service.as_str().to_string(),
                )
            })
            .unwrap_or_default()
    };
    // Selection.
    let want_keys = split_list(&args.keys);
    let want_envs = split_list(&args.environments);
    if let Some(w) = &want_keys {
        for n in w {
            if !m.keys.iter().any(|k| &k.name == n) {
                return Err(Error::refused(
                    Exit::Usage,
                    format!("--keys: {n} is not a key of this bundle"),
                ));
            }
        }
    }
    let mut bundle_envs: Vec<String> = m.keys.iter().map(|k| env_of(k).0).collect();
    crate::order::sort(&mut bundle_envs);
    if let Some(w) = &want_envs {
        for e in w {
            if !bundle_envs.contains(e) {
                return Err(Error::refused(
                    Exit::Usage,
                    format!("--environments: the bundle has no key in {e}"),
                ));
            }
        }
    }
    let selected: Vec<&ImportKey> = m
        .keys
        .iter()
        .filter(|k| want_keys.as_ref().is_none_or(|w| w.contains(&k.name)))
        .filter(|k| want_envs.as_ref().is_none_or(|w| w.contains(&env_of(k).0)))
        .collect();
    if selected.is_empty() {
        return Err(Error::refused(
            Exit::Usage,
            "--keys/--environments select no key of this bundle",
        ));
    }
    let mut envs: Vec<String> = selected.iter().map(|k| env_of(k).0).collect();
    crate::order::sort(&mut envs);

    // Account and region.
    let (account, region) = (
        v.account().unwrap_or_default(),
        v.region().unwrap_or_default(),
    );
    let c = crate::aws::load(global, Some(&region)).await?;
    if c.region != region {
        return Err(Error::refused(
            Exit::Content,
            format!(
                "the bundle is for region {region} but the AWS region in force is {}; run with --region {region}",
                c.region
            ),
        ));
    }
    let who = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_err("sts:GetCallerIdentity", "the caller", &e))?;
    let caller = who.account.unwrap_or_default();
    if caller != account {
        return Err(Error::refused(
            Exit::Content,
            format!(
                "the bundle is for account {account} but the credentials are for account {caller}; switch to the right account's role"
            ),
        ));
    }
    for k in &m.keys {
        if crate::verify::arn_part(&k.key_arn, 4).as_deref() != Some(account.as_str())
            || crate::verify::arn_part(&k.key_arn, 3).as_deref() != Some(region.as_str())
        {
            return Err(Error::refused(
                Exit::Content,
                format!(
                    "key {}: {} is not in account {account} region {region}",
                    k.name, k.key_arn
                ),
            ));
        }
    }

    // Receipts of this ceremony, by environment.
    let mut receipts: BTreeMap<String, Receipt> = receipt::read_all(&args.receipt_dir)?
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.ceremony_id == m.ceremony_id)
        .map(|r| (r.environment.clone(), r))
        .collect();
    for r in receipts.values() {
        if r.bundle_sums_sha256 != v.bundle.sums_sha256.to_hex() {
            return Err(Error::refused(
                Exit::Receipt,
                format!(
                    "receipt of {} for ceremony {} names another bundle digest; receipts and bundle do not belong together",
                    r.environment, r.ceremony_id
                ),
            ));
        }
    }

    // Key states (read-only), for the selected keys and the keys of the
    // earlier environments the order rule needs.
    let aliases = kms::alias_targets(&c.kms).await?;
    let now = time::OffsetDateTime::now_utc();
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    let mut exhausted = Vec::new();
    for k in &selected {
        let (env, service) = env_of(k);
        let prior = receipts
            .get(&env)
            .and_then(|r| r.keys.iter().find(|x| x.name == k.name));
        let (obs, ours, target) = observe(&c, &v, k, &aliases, prior).await?;
        match decide(
            &k.name,
            k.key_spec.as_str(),
            k.import_type == ImportType::NewKeyMaterial,
            &obs,
            ours.as_deref(),
            prior.map(|p| p.strategy),
        ) {
            Ok((strategy, action)) => {
                if action.imports() {
                    check_not_expired(&k.name, &k.parameters_valid_to, now)?;
                }
                if matches!(action, Action::ImportThenRotate | Action::RotateOnly)
                    && let Some(why) = rotation_budget(&c.kms, k).await?
                {
                    exhausted.push(why);
                }
                let mrk = if k.replicas.is_empty() {
                    None
                } else {
                    Some(plan_replicas(&c, global, k, action, ours.as_deref(), prior, now).await?)
                };
                planned.push(Planned {
                    mrk,
                    key: (*k).clone(),
                    environment: env,
                    service,
                    strategy,
                    action,
                    ours,
                    current_material: obs.current_material.clone(),
                    alias_target: target,
                });
            }
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(Error::refused(
            Exit::KeyState,
            format!(
                "nothing was imported; these keys are not in a state to import into:\n  {}",
                problems.join("\n  ")
            ),
        ));
    }

    if !exhausted.is_empty() {
        return Err(Error::refused(
            Exit::RotationBudget,
            format!(
                "nothing was imported; these keys have no on-demand rotation left (AWS KMS allows {} per key over its life):\n  {}\n\
                 Plan them as new-key (a new EXTERNAL key and an alias switch) and prepare a new request",
                kms::ON_DEMAND_ROTATION_LIMIT,
                exhausted.join("\n  ")
            ),
        ));
    }

    // Order rule, checked before any change.
    let mut skipped = Vec::new();
    for env in &envs {
        for pre in crate::order::prerequisites(env, &bundle_envs) {
            let done_in_kms = {
                let mut ok = receipts.contains_key(&pre);
                for k in m.keys.iter().filter(|k| env_of(k).0 == pre) {
                    let prior = receipts
                        .get(&pre)
                        .and_then(|r| r.keys.iter().find(|x| x.name == k.name));
                    let (obs, ours, _) = observe(&c, &v, k, &aliases, prior).await?;
                    let d = decide(
                        &k.name,
                        k.key_spec.as_str(),
                        true,
                        &obs,
                        ours.as_deref(),
                        prior.map(|p| p.strategy),
                    );
                    ok &= matches!(d, Ok((_, Action::Done)));
                }
                ok
            };
            let marker = crate::order::read_marker(&args.receipt_dir, &pre)?;
            if let Some(why) =
                crate::order::blocker(&pre, receipts.get(&pre), marker.as_ref(), done_in_kms)
            {
                skipped.push(format!("{env} before {pre} is done: {why}"));
            }
        }
    }
    skipped.dedup();
    let order_override = match (&args.override_order, skipped.is_empty()) {
        (_, true) => None,
        (Some(reason), false) if !reason.trim().is_empty() => {
            eprintln!(
                "warning: dev -> int -> prod order overridden ({reason}); recorded in the receipt:\n  {}",
                skipped.join("\n  ")
            );
            Some(OrderOverride {
                reason: reason.clone(),
                at: now_rfc3339(),
                skipped_checks: skipped.clone(),
            })
        }
        _ => {
            return Err(Error::refused(
                Exit::Order,
                format!(
                    "nothing was imported: dev -> int -> prod order:\n  {}\n(only if policy allows: --override-order REASON, which the receipt records)",
                    skipped.join("\n  ")
                ),
            ));
        }
    };

    let (expiration, valid_to) = match valid_to_checked {
        Some(t) => {
            eprintln!(
                "the material imported now expires at {} (KEY_MATERIAL_EXPIRES): KMS then deletes it and the key is unusable \
                 until the same material is re-imported (docs/online-runbook.md, \"Expiring material\")",
                crate::lifecycle::rfc3339(t)
            );
            (
                ExpirationModelType::KeyMaterialExpires,
                Some(DateTime::from_secs(t.unix_timestamp())),
            )
        }
        None => (ExpirationModelType::KeyMaterialDoesNotExpire, None),
    };
    let valid_to_text = valid_to_checked.map(crate::lifecycle::rfc3339);

    // Report the plan; stop here on --dry-run.
    for p in &planned {
        eprintln!(
            "key {} ({} {}, {}): {}",
            p.key.name,
            p.environment,
            p.service,
            match p.strategy {
                Strategy::OnDemand => "on-demand",
                Strategy::AliasSwitch => "alias-switch",
            },
            match p.action {
                Action::Done =>
                    "already done (KMS shows this ceremony's material current and the alias on the key)",
                Action::ImportThenRotate => "import, test, rotate on demand",
                Action::RotateOnly => "material already imported; rotate on demand",
                Action::ImportThenSwitch => "import, test, switch the alias",
                Action::SwitchOnly => "material already imported; switch the alias",
            }
        );
        if let Some(mp) = &p.mrk {
            let left: Vec<&str> = mp
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::ImportReplica { region, .. } => Some(region.as_str()),
                    _ => None,
                })
                .collect();
            eprintln!(
                "key {}: multi-Region, replicas in {}; still to import into (EXISTING_KEY_MATERIAL): {}",
                p.key.name,
                p.key
                    .replicas
                    .iter()
                    .map(|r| r.region.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if left.is_empty() {
                    "none".to_string()
                } else {
                    left.join(", ")
                }
            );
        }
    }
    if global.dry_run {
        let calls: Vec<_> = planned
            .iter()
            .flat_map(|p| {
                let mut c = Vec::new();
                if let Some(mp) = &p.mrk {
                    return mrk::dry_run_calls(
                        &p.key,
                        &mp.steps,
                        &format!(
                            "ExpirationModel={}{}",
                            expiration.as_str(),
                            valid_to_text.as_ref().map(|t| format!(" ValidTo={t}")).unwrap_or_default()
                        ),
                        &material_description(&m.ceremony_id, &m.request_id, &p.key.name),
                        p.ours.as_deref(),
                    );
                }
                if p.action.imports() {
                    c.push(format!(
                        "kms:ImportKeyMaterial KeyId={} ImportType={} ExpirationModel={}{} KeyMaterialDescription={:?}",
                        p.key.key_arn,
                        p.key.import_type.as_str(),
                        expiration.as_str(),
                        valid_to_text.as_ref().map(|t| format!(" ValidTo={t}")).unwrap_or_default(),
                        material_description(&m.ceremony_id, &m.request_id, &p.key.name)
                    ));
                }
                if matches!(p.action, Action::ImportThenRotate | Action::RotateOnly) {
                    c.push(format!("kms:RotateKeyOnDemand KeyId={}", p.key.key_arn));
                }
                if matches!(p.action, Action::ImportThenSwitch | Action::SwitchOnly) {
                    c.push(format!("kms:UpdateAlias AliasName={} TargetKeyId={}", p.key.alias, p.key.key_arn));
                }
                c
            })
            .collect();
        let mut calls = calls;
        if args.tag_resources {
            let rotated: BTreeMap<String, String> = planned
                .iter()
                .map(|p| (p.key.key_arn.clone(), p.key.name.clone()))
                .collect();
            let switching: BTreeMap<String, String> = planned
                .iter()
                .filter(|p| matches!(p.action, Action::ImportThenSwitch | Action::SwitchOnly))
                .map(|p| (p.key.alias.clone(), p.key.name.clone()))
                .collect();
            let (targets, problems) =
                crate::tag_resources::targets(&c, &account, &rotated, &switching).await;
            calls.extend(crate::tag_resources::dry_run_calls(
                &targets,
                &m.ceremony_id,
            ));
            for p in &problems {
                eprintln!("warning: --tag-resources could not judge {p}");
            }
        }
        for call in &calls {
            eprintln!("DRY-RUN: {call}");
        }
        if global.json {
            let keys: Vec<_> = planned
                .iter()
                .map(|p| {
                    json!({"name": p.key.name, "environment": p.environment,
                "strategy": p.strategy, "action": format!("{:?}", p.action)})
                })
                .collect();
            println!(
                "{:#}",
                json!({"dry_run": true, "keys": keys, "calls": calls})
            );
        }
        return Ok(Exit::Ok);
    }

    // Receipts exist before the first change.
    for env in &envs {
        let r = receipts.entry(env.clone()).or_insert_with(|| Receipt {
            format: receipt::RECEIPT_FORMAT.into(),
            request_id: m.request_id.clone(),
            ceremony_id: m.ceremony_id.clone(),
            environment: env.clone(),
            bundle_sums_sha256: v.bundle.sums_sha256.to_hex(),
            ceremony_key_fingerprint: v.ceremony_fingerprint.clone(),
            account: account.clone(),
            region: region.clone(),
            air_gapped: m.workstation.air_gapped,
            started_at: now_rfc3339(),
            completed_at: None,
            order_override: None,
            rolled_back_at: None,
            keys: Vec::new(),
        });
        if order_override.is_some() {
            r.order_override = order_override.clone();
        }
        r.rolled_back_at = None;
        for p in planned.iter().filter(|p| &p.environment == env) {
            if r.key_mut(&p.key.name).is_none() {
                r.keys.push(KeyReceipt {
                    name: p.key.name.clone(),
                    alias: p.key.alias.clone(),
                    key_arn: p.key.key_arn.clone(),
                    service: Some(p.service.clone()),
                    strategy: p.strategy,
                    previous_key_material_id: match p.strategy {
                        Strategy::OnDemand => p.current_material.clone(),
                        Strategy::AliasSwitch => None,
                    },
                    imported_key_material_id: p.ours.clone(),
                    previous_alias_target: None,
                    status: "pending".into(),
                    imported_at: None,
                    rotated_at: None,
                    alias_switched_at: None,
                    tested: false,
                    old_ciphertext_decrypts: None,
                    pre_rotation_ciphertext: None,
                    expiration_model: None,
                    valid_to: None,
                    replicas: p
                        .key
                        .replicas
                        .iter()
                        .map(|x| ReplicaReceipt {
                            region: x.region.clone(),
                            key_arn: x.key_arn.clone(),
                            key_material_id: None,
                            status: "pending".into(),
                            imported_at: None,
                        })
                        .collect(),
                });
            }
        }
        receipt::write(&args.receipt_dir, r)?;
    }

    let mut done_envs = Vec::new();
    let mut rotated: BTreeMap<String, String> = BTreeMap::new();
    for env in &envs {
        let mut rc = receipts
            .remove(env)
            .unwrap_or_else(|| unreachable_receipt(env));
        let result =
            import_environment(&c, args, &v, env, &planned, &mut rc, &expiration, valid_to).await;
        rc.completed_at = if rc.keys.iter().all(|k| k.status == "done") {
            Some(now_rfc3339())
        } else {
            None
        };
        let path = receipt::write(&args.receipt_dir, &rc)?;
        result?;
        for k in rc.keys.iter().filter(|k| k.status == "done") {
            rotated.insert(k.key_arn.clone(), k.name.clone());
        }
        eprintln!("environment {env}: done; receipt {}", path.display());
        done_envs.push(path.display().to_string());
    }
    let tagged = if args.tag_resources {
        crate::tag_resources::run(&c, &account, &rotated, &m.ceremony_id, &now_rfc3339()).await?
    } else {
        Vec::new()
    };
    if global.json {
        println!("{:#}", json!({"receipts": done_envs, "tagged": tagged}));
    } else {
        for p in &done_envs {
            println!("{p}");
        }
    }
    Ok(Exit::Ok)
}

fn unreachable_receipt(env: &str) -> Receipt {
    // Every selected environment got a receipt above; an empty one keeps
    // this total without a panic.
    Receipt {
        format: receipt::RECEIPT_FORMAT.into(),
        request_id: String::new(),
        ceremony_id: String::new(),
        environment: env.into(),
        bundle_sums_sha256: String::new(),
        ceremony_key_fingerprint: String::new(),
        account: String::new(),
        region: String::new(),
        air_gapped: false,
        started_at: now_rfc3339(),
        completed_at: None,
        order_override: None,
        rolled_back_at: None,
        keys: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn import_environment(
    c: &Clients,
    args: &ImportArgs,
    v: &Verified,
    env: &str,
    planned: &[Planned],
    rc: &mut Receipt,
    expiration: &ExpirationModelType,
    valid_to: Option<DateTime>,
) -> Result<()> {
    let m = &v.bundle.manifest;
    let keys: Vec<&Planned> = planned.iter().filter(|p| p.environment == env).collect();
    eprintln!(
        "environment {env}: {}",
        keys.iter()
            .map(|p| p.key.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    for p in &keys {
        let name = p.key.name.as_str();
        let arn = p.key.key_arn.as_str();
        if p.action == Action::Done && p.mrk.as_ref().is_none_or(|mp| mp.steps.is_empty()) {
            eprintln!("key {name}: already done (decided from KMS), skipped");
            if let Some(k) = rc.key_mut(name) {
                k.status = "done".into();
            }
            continue;
        }
        let mut ours = p.ours.clone();
        if p.action == Action::ImportThenRotate {
            // A probe made under the old material must decrypt after the rotation.
            let probe = format!("airlock pre-rotation probe {name}");
            let ct = c
                .kms
                .encrypt()
                .key_id(arn)
                .encryption_context(crate::iam::TEST_CONTEXT_KEY, crate::iam::TEST_CONTEXT_VALUE)
                .plaintext(Blob::new(probe.as_bytes()))
                .send()
                .await
                .map_err(|e| aws_err("kms:Encrypt", name, &e))?
                .ciphertext_blob
                .map(|b| hex::encode(b.into_inner()));
            if let Some(k) = rc.key_mut(name) {
                k.pre_rotation_ciphertext = ct;
            }
            receipt::write(&args.receipt_dir, rc)?;
        }
        if p.action.imports() {
            let bundle = &args.bundle.bundle;
            let read = |f: &str| {
                let path = bundle.join("keys").join(name).join(f);
                std::fs::read(&path).map_err(|e| Error::io(&path, "reading key material", e))
            };
            let mut req = c
                .kms
                .import_key_material()
                .key_id(arn)
                .import_token(Blob::new(read("ImportToken.bin")?))
                .encrypted_key_material(Blob::new(read("EncryptedKeyMaterial.bin")?))
                .import_type(aws_sdk_kms::types::ImportType::from(
                    p.key.import_type.as_str(),
                ))
                .expiration_model(expiration.clone())
                .key_material_description(material_description(
                    &m.ceremony_id,
                    &m.request_id,
                    name,
                ));
            if let Some(t) = valid_to {
                req = req.valid_to(t);
            }
            let out = req.send().await.map_err(|e| {
                aws_err("kms:ImportKeyMaterial", &format!("key {name} ({arn})"), &e)
            })?;
            ours = out.key_material_id.clone();
            let now = now_rfc3339();
            if let Some(k) = rc.key_mut(name) {
                k.imported_key_material_id = ours.clone();
                k.status = "imported".into();
                k.imported_at = Some(now);
                k.expiration_model = Some(expiration.as_str().to_string());
                k.valid_to = valid_to.and_then(|t| {
                    time::OffsetDateTime::from_unix_timestamp(t.secs())
                        .ok()
                        .map(crate::lifecycle::rfc3339)
                });
            }
            receipt::write(&args.receipt_dir, rc)?;
            kms::tag(
                &c.kms,
                arn,
                name,
                &[
                    ("KeyRotationStatus", "Imported"),
                    ("AirlockCeremony", &m.ceremony_id),
                ],
            )
            .await?;
            eprintln!(
                "key {name}: material imported (KeyMaterialId {})",
                ours.as_deref().unwrap_or("not returned")
            );
        }
        if let Some(mp) = &p.mrk {
            for s in &mp.steps {
                if let Step::ImportReplica { region, key_arn } = s {
                    let id = import_replica(
                        &mp.clients[region],
                        &args.bundle.bundle,
                        name,
                        region,
                        key_arn,
                        ours.as_deref(),
                        expiration,
                        valid_to,
                        &material_description(&m.ceremony_id, &m.request_id, name),
                    )
                    .await?;
                    if let Some(r) = rc
                        .key_mut(name)
                        .and_then(|k| k.replicas.iter_mut().find(|r| &r.region == region))
                    {
                        r.key_material_id = id.clone().or(ours.clone());
                        r.status = "imported".into();
                        r.imported_at = Some(now_rfc3339());
                    }
                    receipt::write(&args.receipt_dir, rc)?;
                    eprintln!(
                        "key {name}: replica {region} ({key_arn}): material imported (EXISTING_KEY_MATERIAL, KeyMaterialId {})",
                        id.as_deref().unwrap_or("not returned")
                    );
                }
            }
            if p.action == Action::Done {
                continue;
            }
        }
        match p.strategy {
            Strategy::OnDemand => {
                let before = kms::describe(&c.kms, arn, name)
                    .await?
                    .current_key_material_id;
                c.kms
                    .rotate_key_on_demand()
                    .key_id(arn)
                    .send()
                    .await
                    .map_err(|e| aws_err("kms:RotateKeyOnDemand", name, &e))?;
                let mut after = before.clone();
                for _ in 0..60 {
                    after = kms::describe(&c.kms, arn, name)
                        .await?
                        .current_key_material_id;
                    if after != before {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                if after == before || (ours.is_some() && after != ours) {
                    return Err(Error::refused(
                        Exit::Rotation,
                        format!(
                            "key {name} ({arn}): after RotateKeyOnDemand the CurrentKeyMaterialId is {after:?} (before {before:?}, imported {ours:?}); \
                             the rotation did not take this ceremony's material: stop and investigate"
                        ),
                    ));
                }
                kms::test_key(&c.kms, arn, name, p.key.key_spec.as_str()).await?;
                let old = rc
                    .key_mut(name)
                    .and_then(|k| k.pre_rotation_ciphertext.clone());
                let old_ok = match old {
                    Some(h) => {
                        let blob = hex::decode(&h).unwrap_or_default();
                        let pt = c
                            .kms
                            .decrypt()
                            .key_id(arn)
                            .encryption_context(
                                crate::iam::TEST_CONTEXT_KEY,
                                crate::iam::TEST_CONTEXT_VALUE,
                            )
                            .ciphertext_blob(Blob::new(blob))
                            .send()
                            .await
                            .map_err(|e| {
                                aws_err("kms:Decrypt", &format!("{name} (pre-rotation probe)"), &e)
                            })?
                            .plaintext;
                        if pt.as_ref().map(|b| b.as_ref())
                            != Some(format!("airlock pre-rotation probe {name}").as_bytes())
                        {
                            return Err(Error::refused(
                                Exit::Rotation,
                                format!(
                                    "key {name} ({arn}): a ciphertext made before the rotation no longer decrypts; stop: data encrypted earlier is at risk. Delete nothing; open an AWS support case"
                                ),
                            ));
                        }
                        Some(true)
                    }
                    None => {
                        eprintln!(
                            "warning: key {name}: no pre-rotation probe in the receipt; the old-ciphertext check is skipped"
                        );
                        None
                    }
                };
                let now = now_rfc3339();
                kms::tag(
                    &c.kms,
                    arn,
                    name,
                    &[
                        ("KeyRotationStatus", "Rotated"),
                        ("LastKeyRotationDate", &now),
                        ("AirlockCeremony", &m.ceremony_id),
                    ],
                )
                .await?;
                if let Some(k) = rc.key_mut(name) {
                    k.status = "done".into();
                    k.rotated_at = Some(now);
                    k.tested = true;
                    k.old_ciphertext_decrypts = old_ok;
                    k.imported_key_material_id = after.clone();
                }
                receipt::write(&args.receipt_dir, rc)?;
                eprintln!(
                    "key {name}: rotated on demand, CurrentKeyMaterialId changed, tested, old ciphertext still decrypts"
                );
                if let (Some(mp), Some(now_current)) = (&p.mrk, after.as_deref()) {
                    replicas_after_rotation(mp, &p.key, now_current, rc).await?;
                    receipt::write(&args.receipt_dir, rc)?;
                }
            }
            Strategy::AliasSwitch => {
                if p.action == Action::ImportThenSwitch {
                    kms::test_key(&c.kms, arn, name, p.key.key_spec.as_str()).await?;
                    if let Some(k) = rc.key_mut(name) {
                        k.tested = true;
                    }
                    eprintln!("key {name}: tested");
                }
            }
        }
    }
    // Alias switches, after one confirmation for the environment.
    let switches: Vec<&&Planned> = keys
        .iter()
        .filter(|p| matches!(p.action, Action::ImportThenSwitch | Action::SwitchOnly))
        .collect();
    if switches.is_empty() {
        return Ok(());
    }
    if !args.yes {
        eprintln!("About to point these aliases in environment {env} at their new keys:");
        for p in &switches {
            eprintln!(
                "  {} -> {} (now {})",
                p.key.alias,
                p.key.key_arn,
                p.alias_target.as_deref().unwrap_or("no target")
            );
        }
        eprint!(
            "Type \"yes\" to switch the {} aliases of {env}: ",
            switches.len()
        );
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            return Err(Error::refused(
                Exit::Declined,
                format!(
                    "alias switch for environment {env} declined; no alias of {env} was switched (imports stay; rerun to continue)"
                ),
            ));
        }
    }
    for p in switches {
        let name = p.key.name.as_str();
        let arn = p.key.key_arn.as_str();
        let id = kms::key_id_of(arn);
        let now = now_rfc3339();
        match &p.alias_target {
            None => {
                c.kms
                    .create_alias()
                    .alias_name(&p.key.alias)
                    .target_key_id(id)
                    .send()
                    .await
                    .map_err(|e| aws_err("kms:CreateAlias", &p.key.alias, &e))?;
            }
            Some(old) => {
                c.kms
                    .update_alias()
                    .alias_name(&p.key.alias)
                    .target_key_id(id)
                    .send()
                    .await
                    .map_err(|e| aws_err("kms:UpdateAlias", &p.key.alias, &e))?;
                kms::tag(
                    &c.kms,
                    old,
                    &format!("{name} (old key)"),
                    &[("KeyRotationStatus", "Replaced"), ("ReplacedBy", arn)],
                )
                .await?;
            }
        }
        kms::tag(
            &c.kms,
            arn,
            name,
            &[
                ("KeyRotationStatus", "Rotated"),
                ("LastKeyRotationDate", &now),
                ("AirlockCeremony", &m.ceremony_id),
            ],
        )
        .await?;
        if let Some(k) = rc.key_mut(name) {
            if p.alias_target.is_some() {
                k.previous_alias_target = p.alias_target.clone();
            }
            k.status = "done".into();
            k.alias_switched_at = Some(now);
        }
        receipt::write(&args.receipt_dir, rc)?;
        eprintln!(
            "alias {} now points at {arn}{}",
            p.key.alias,
            p.alias_target
                .as_ref()
                .map(|o| format!(" (was {o})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// ImportKeyMaterial into one replica in its own region: EXISTING_KEY_MATERIAL,
/// its own files, and the primary's KeyMaterialId (which KMS checks).
#[allow(clippy::too_many_arguments)]
async fn import_replica(
    kc: &aws_sdk_kms::Client,
    bundle: &std::path::Path,
    name: &str,
    region: &str,
    key_arn: &str,
    ours: Option<&str>,
    expiration: &ExpirationModelType,
    valid_to: Option<DateTime>,
    description: &str,
) -> Result<Option<String>> {
    let dir = bundle.join("keys").join(name).join("replicas").join(region);
    let read = |f: &str| {
        let path = dir.join(f);
        std::fs::read(&path).map_err(|e| Error::io(&path, "reading a replica's key material", e))
    };
    let mut req = kc
        .import_key_material()
        .key_id(key_arn)
        .import_token(Blob::new(read("ImportToken.bin")?))
        .encrypted_key_material(Blob::new(read("EncryptedKeyMaterial.bin")?))
        .import_type(aws_sdk_kms::types::ImportType::ExistingKeyMaterial)
        .expiration_model(expiration.clone())
        .key_material_description(description);
    if let Some(id) = ours {
        req = req.key_material_id(id);
    }
    if let Some(t) = valid_to {
        req = req.valid_to(t);
    }
    let out = req.send().await.map_err(|e| {
        aws_err(
            "kms:ImportKeyMaterial",
            &format!("key {name} replica {region} ({key_arn}), after the primary's import (rerun import to finish the replicas)"),
            &e,
        )
    })?;
    Ok(out.key_material_id)
}

/// After the rotation on the primary: whether each replica shows the
/// material current (AWS makes it current in every replica; LocalStack
/// 2026.3 leaves the replica on its old material, so this warns, and the
/// receipt says `not-current`, rather than failing after the change).
async fn replicas_after_rotation(
    mp: &MrkPlan,
    key: &ImportKey,
    ours: &str,
    rc: &mut Receipt,
) -> Result<()> {
    let mut current = BTreeMap::new();
    for r in &key.replicas {
        let what = format!("key {} replica {}", key.name, r.region);
        let mut cur = None;
        for _ in 0..5 {
            cur = kms::describe(&mp.clients[&r.region], &r.key_arn, &what)
                .await?
                .current_key_material_id;
            if cur.as_deref() == Some(ours) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        current.insert(r.region.clone(), cur);
    }
    let behind = mrk::replicas_behind(ours, &current);
    if let Some(k) = rc.key_mut(&key.name) {
        for r in k.replicas.iter_mut() {
            r.status = if behind.contains(&r.region) {
                "not-current".into()
            } else {
                "current".into()
            };
        }
    }
    if behind.is_empty() {
        eprintln!(
            "key {}: every replica shows the new material current",
            key.name
        );
    } else {
        eprintln!(
            "warning: key {}: after the rotation the replicas in {} do not show CurrentKeyMaterialId {ours} (AWS makes it current in every replica; \
             LocalStack does not). Check them with describe-key in each region before relying on them (docs/online-runbook.md, \"Multi-Region keys\")",
            key.name,
            behind.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_ceremony_and_fit() {
        let d = material_description("c-1", "r-1", "dev-s3");
        assert!(d.contains("ceremony c-1") && d.contains("dev-s3"));
        assert!(material_description(&"x".repeat(300), "r", "k").len() <= 256);
    }

    #[test]
    fn expired_parameters_are_refused_before_any_import() {
        let now = time::macros::datetime!(2026-11-28 09:00 UTC);
        assert!(check_not_expired("k", "2026-11-29T09:00:00Z", now).is_ok());
        assert_eq!(
            check_not_expired("k", "2026-11-28T09:00:00Z", now)
                .unwrap_err()
                .exit(),
            Exit::Expired
        );
        assert_eq!(
            check_not_expired("k", "2026-11-27T09:00:00Z", now)
                .unwrap_err()
                .exit(),
            Exit::Expired
        );
        assert_eq!(
            check_not_expired("k", "yesterday", now).unwrap_err().exit(),
            Exit::Content
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_key_with_no_on_demand_rotation_left_is_refused() {
        let key: ImportKey = serde_json::from_value(serde_json::json!({
            "name": "dev-s3", "alias": "alias/dev-s3",
            "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/k",
            "key_spec": "SYMMETRIC_DEFAULT", "import_type": "NEW_KEY_MATERIAL",
            "wrapping_algorithm": "RSAES_OAEP_SHA_256",
            "parameters_valid_to": "2026-12-05T00:00:00Z",
            "hsm_label": "dev-s3/r", "kcv": "ABCDEF", "public_key_sha256": null}))
        .unwrap_or_else(|e| panic!("the test's ImportKey shape: {e}"));
        let page = |n: usize| {
            let r: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"KeyId":"k","KeyMaterialId":"m{i}","RotationDate":1.7E9,"RotationType":"ON_DEMAND"}}"#))
                .collect();
            format!(r#"{{"Rotations":[{}],"Truncated":false}}"#, r.join(","))
        };
        let (url, h) = crate::kms::tests::replay(vec![(200, page(25))]);
        let why = rotation_budget(&crate::kms::tests::client(&url), &key)
            .await
            .unwrap();
        h.join().unwrap();
        let why = why.expect("25 used: refused");
        assert!(
            why.contains("key dev-s3") && why.contains("0 left of 25"),
            "{why}"
        );
        let (url, h) = crate::kms::tests::replay(vec![(200, page(24))]);
        let why = rotation_budget(&crate::kms::tests::client(&url), &key)
            .await
            .unwrap();
        h.join().unwrap();
        assert_eq!(why, None, "one left: imported (with a warning)");
    }

    #[test]
    fn arns_from_alias_targets() {
        let like = "arn:aws:kms:eu-west-1:111122223333:key/aaa";
        assert_eq!(
            arn_like(like, "bbb"),
            "arn:aws:kms:eu-west-1:111122223333:key/bbb"
        );
        assert_eq!(arn_like(like, "arn:x"), "arn:x");
    }
}
