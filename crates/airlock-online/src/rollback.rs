//! `rollback`: points an environment's aliases back at the keys the
//! receipt recorded as their previous targets, after checking every alias
//! first (each must point at the key the import switched it to). An
//! on-demand rotation cannot be undone in KMS; rollback says so plainly,
//! per key, with what to do instead.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::kms::{self, aws_err};
use crate::receipt::{self, Strategy, now_rfc3339};

/// Options of `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The receipt folder `import` wrote.
    #[arg(long, value_name = "DIR")]
    pub receipt_dir: PathBuf,
    /// The environment to roll back.
    #[arg(long, value_name = "ENV")]
    pub environment: String,
    /// The ceremony (default: the environment's most recent receipt).
    #[arg(long, value_name = "ID")]
    pub ceremony: Option<String>,
}

/// What rollback prints for a key rotated on demand.
pub fn on_demand_notice(name: &str, arn: &str) -> String {
    format!(
        "key {name} ({arn}) was rotated on demand: an on-demand rotation CANNOT be undone in KMS. \
         The imported material stays current and new data is encrypted under it; data encrypted before \
         still decrypts with the earlier material, which KMS keeps. If the new material must not be used: \
         move the data to another key and disable this one, or rotate again with material from a new ceremony."
    )
}

/// Runs `rollback`.
pub async fn run(args: &RollbackArgs, global: &Global) -> Result<Exit> {
    let mut all: Vec<_> = receipt::read_all(&args.receipt_dir)?
        .into_iter()
        .filter(|(_, r)| r.environment == args.environment)
        .filter(|(_, r)| args.ceremony.as_ref().is_none_or(|c| &r.ceremony_id == c))
        .collect();
    all.sort_by(|a, b| a.1.started_at.cmp(&b.1.started_at));
    let Some((path, mut r)) = all.pop() else {
        return Err(Error::refused(
            Exit::Receipt,
            format!(
                "no receipt for environment {} in {}; restore it from the ceremony records",
                args.environment,
                args.receipt_dir.display()
            ),
        ));
    };
    let c = crate::aws::load(global, Some(&r.region)).await?;
    let aliases = kms::alias_targets(&c.kms).await?;
    // Check every alias before the first change.
    let mut moves = Vec::new();
    let mut notices = Vec::new();
    for k in &r.keys {
        match k.strategy {
            Strategy::OnDemand if k.rotated_at.is_some() => {
                notices.push(on_demand_notice(&k.name, &k.key_arn))
            }
            Strategy::OnDemand => {}
            Strategy::AliasSwitch => {
                let Some(prev) = &k.previous_alias_target else {
                    if k.alias_switched_at.is_some() {
                        notices.push(format!("alias {} had no target before the import; it is left on {} (delete it by hand if it must go)", k.alias, k.key_arn));
                    }
                    continue;
                };
                let now = aliases.get(&k.alias).map(String::as_str);
                if now == Some(kms::key_id_of(prev)) {
                    eprintln!("alias {} already points at {prev}", k.alias);
                    continue;
                }
                if now != Some(kms::key_id_of(&k.key_arn)) {
                    return Err(Error::refused(
                        Exit::KeyState,
                        format!(
                            "nothing was rolled back: alias {} points at {}, not at {} that the import switched it to; investigate who moved it",
                            k.alias,
                            now.unwrap_or("nothing"),
                            k.key_arn
                        ),
                    ));
                }
                moves.push((
                    k.name.clone(),
                    k.alias.clone(),
                    prev.clone(),
                    k.key_arn.clone(),
                ));
            }
        }
    }
    for n in &notices {
        eprintln!("{n}");
    }
    if global.dry_run {
        for (_, alias, prev, _) in &moves {
            eprintln!("DRY-RUN: kms:UpdateAlias AliasName={alias} TargetKeyId={prev}");
        }
        if global.json {
            println!(
                "{:#}",
                json!({"dry_run": true, "moves": moves.iter().map(|m| json!({"alias": m.1, "to": m.2})).collect::<Vec<_>>(), "notices": notices})
            );
        }
        return Ok(Exit::Ok);
    }
    for (name, alias, prev, new) in &moves {
        c.kms
            .update_alias()
            .alias_name(alias)
            .target_key_id(kms::key_id_of(prev))
            .send()
            .await
            .map_err(|e| aws_err("kms:UpdateAlias", alias, &e))?;
        kms::tag(&c.kms, new, name, &[("KeyRotationStatus", "RolledBack")]).await?;
        kms::tag(
            &c.kms,
            prev,
            &format!("{name} (previous key)"),
            &[("KeyRotationStatus", "Rotated")],
        )
        .await?;
        if let Some(k) = r.key_mut(name) {
            k.status = "rolled-back".into();
        }
        eprintln!("alias {alias} points at {prev} again (was {new})");
    }
    r.rolled_back_at = Some(now_rfc3339());
    receipt::write(&args.receipt_dir, &r)?;
    if global.json {
        println!(
            "{:#}",
            json!({"receipt": path.display().to_string(), "moved": moves.len(), "notices": notices})
        );
    } else {
        println!(
            "rolled back {} aliases of {}; receipt {}",
            moves.len(),
            args.environment,
            path.display()
        );
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_on_demand_notice_is_plain() {
        let n = super::on_demand_notice("dev-s3", "arn:k");
        assert!(
            n.contains("CANNOT be undone in KMS")
                && n.contains("dev-s3")
                && n.contains("new ceremony")
        );
    }
}
