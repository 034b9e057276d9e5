//! The lifecycle of each rotated key, next to the resource verdicts: when
//! its imported material expires (`judge::effective_valid_to`: KMS's
//! DescribeKey ValidTo when KMS gives one, so a re-import that moved it
//! counts; else the receipt's) and how many of its 25 on-demand
//! rotations are left (ListKeyRotations, every page, ON_DEMAND counted).
//! Warnings here change no exit code: an expired material already makes
//! the resources on its key NON_COMPLIANT (`judge.rs`).

use futures::StreamExt;
use serde::Serialize;

use super::judge::{Knowledge, Rotated};
use crate::kms::{self, RotationCount, Rotations};
use crate::lifecycle::{self, Expiry};
use crate::receipt::Strategy;

/// What KMS said about a rotated key (or why it could not).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// DescribeKey's ExpirationModel.
    pub expiration_model: Option<String>,
    /// DescribeKey's ValidTo (Unix seconds).
    pub valid_to: Option<i64>,
    /// DescribeKey failed: why.
    pub describe_error: Option<String>,
    /// ListKeyRotations (None: not asked, the key cannot rotate on demand).
    pub rotations: Option<Result<Rotations, String>>,
}

/// One rotated key's lifecycle, as `--json` prints it under `keys`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyLifecycle {
    /// Plan key name.
    pub name: String,
    /// Environment.
    pub environment: String,
    /// The key.
    pub key_arn: String,
    /// on-demand or alias-switch.
    pub strategy: Strategy,
    /// KEY_MATERIAL_EXPIRES / KEY_MATERIAL_DOES_NOT_EXPIRE (receipt, else KMS).
    pub expiration_model: Option<String>,
    /// The earliest known expiry (RFC 3339).
    pub valid_to: Option<String>,
    /// never, expires-later, expires-soon, expired.
    pub expiry: &'static str,
    /// Whole days until the expiry (0 when expired).
    pub days_left: Option<i64>,
    /// On-demand rotations used (None: unknown or not applicable).
    pub on_demand_rotations_used: Option<u32>,
    /// On-demand rotations left of the limit.
    pub on_demand_rotations_left: Option<u32>,
    /// KMS's limit (25).
    pub on_demand_rotation_limit: u32,
    /// How the rotations were counted, or why not.
    pub rotations_note: String,
    /// Warnings (expiry within --expiry-warn-days, expired, 5 or fewer rotations left).
    pub warnings: Vec<String>,
}

/// Builds one key's lifecycle from the receipt and KMS's answers (pure).
pub fn lifecycle_of(
    arn: &str,
    rot: &Rotated,
    obs: &Observed,
    now: time::OffsetDateTime,
    warn_days: u32,
) -> KeyLifecycle {
    let valid_to = super::judge::effective_valid_to(
        rot.valid_to.as_deref(),
        obs.expiration_model.as_deref(),
        obs.valid_to,
    )
    .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok());
    let expiry = Expiry::at(valid_to, now, warn_days);
    let mut warnings = Vec::new();
    let when = valid_to.map(lifecycle::rfc3339).unwrap_or_default();
    match expiry {
        Expiry::Expired => warnings.push(format!(
            "key {} ({arn}): its imported material EXPIRED at {when}; the key is unusable until the same material is re-imported",
            rot.name
        )),
        Expiry::Soon(d) => warnings.push(format!(
            "key {} ({arn}): its imported material expires at {when}, in {d} days (within --expiry-warn-days {warn_days}); \
             re-import the same material before then (docs/online-runbook.md, \"Expiring material\")",
            rot.name
        )),
        Expiry::Never | Expiry::Later(_) => {}
    }
    let (used, left, note) = match &obs.rotations {
        None => (
            None,
            None,
            "not applicable: only SYMMETRIC_DEFAULT keys rotate on demand".to_string(),
        ),
        Some(Err(e)) => (None, None, format!("unknown: {e}")),
        Some(Ok(Rotations::Unsupported)) => (
            None,
            None,
            "unknown: this KMS endpoint has no ListKeyRotations".to_string(),
        ),
        Some(Ok(Rotations::Counted(n))) => {
            if n.low() {
                warnings.push(format!(
                    "key {} ({arn}): {}; plan its next rotation as new-key (a new EXTERNAL key and an alias switch)",
                    rot.name,
                    n.describe()
                ));
            }
            (Some(n.used()), Some(n.left()), counted_note(n))
        }
    };
    if let Some(e) = &obs.describe_error {
        warnings.push(format!(
            "key {} ({arn}): {e}; its expiry is judged from the receipt only",
            rot.name
        ));
    }
    KeyLifecycle {
        name: rot.name.clone(),
        environment: rot.environment.clone(),
        key_arn: arn.to_string(),
        strategy: rot.strategy,
        expiration_model: obs
            .expiration_model
            .clone()
            .or_else(|| rot.expiration_model.clone()),
        valid_to: valid_to.map(lifecycle::rfc3339),
        expiry: expiry.as_str(),
        days_left: expiry.days_left(),
        on_demand_rotations_used: used,
        on_demand_rotations_left: left,
        on_demand_rotation_limit: kms::ON_DEMAND_ROTATION_LIMIT,
        rotations_note: note,
        warnings,
    }
}

fn counted_note(n: &RotationCount) -> String {
    let mut s = format!(
        "ListKeyRotations: {} ON_DEMAND, {} AUTOMATIC",
        n.on_demand, n.automatic
    );
    if n.untyped > 0 {
        s.push_str(&format!(
            ", {} without a RotationType (counted as on-demand)",
            n.untyped
        ));
    }
    s
}

/// Asks KMS about every rotated key (bounded concurrency) and builds the
/// lifecycles, sorted by environment and name.
pub async fn all(
    kms_c: &aws_sdk_kms::Client,
    know: &Knowledge,
    plan: &crate::plan::Plan,
    concurrency: usize,
    warn_days: u32,
) -> Vec<KeyLifecycle> {
    let now = time::OffsetDateTime::from_unix_timestamp(know.now)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let mut out: Vec<KeyLifecycle> = futures::stream::iter(know.rotated.iter())
        .map(|(arn, rot)| async move {
            let spec = plan
                .keys
                .iter()
                .find(|k| k.name == rot.name)
                .map(|k| k.key_spec.as_str())
                .unwrap_or("");
            let mut obs = Observed::default();
            match kms::describe(kms_c, arn, &format!("key {}", rot.name)).await {
                Ok(m) => {
                    obs.expiration_model = m.expiration_model.map(|x| x.as_str().to_string());
                    obs.valid_to = m.valid_to.map(|t| t.secs());
                }
                Err(e) => obs.describe_error = Some(e.to_string()),
            }
            if spec == "SYMMETRIC_DEFAULT" {
                obs.rotations = Some(
                    kms::rotations(kms_c, arn, &format!("key {}", rot.name))
                        .await
                        .map_err(|e| e.to_string()),
                );
            }
            lifecycle_of(arn, rot, &obs, now, warn_days)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    out.sort_by(|a, b| (&a.environment, &a.name).cmp(&(&b.environment, &b.name)));
    out
}

/// The line `report` prints for a key.
pub fn human(k: &KeyLifecycle) -> String {
    let expiry = match (k.expiry, &k.valid_to, k.days_left) {
        ("expired", Some(t), _) => format!("material EXPIRED at {t}"),
        (_, Some(t), Some(d)) => format!("material expires {t} (in {d} days)"),
        _ => "material does not expire".to_string(),
    };
    let rotations = match (k.on_demand_rotations_used, k.on_demand_rotations_left) {
        (Some(u), Some(l)) => format!(
            "{u} used, {l} left of {} on-demand rotations",
            k.on_demand_rotation_limit
        ),
        _ => format!("on-demand rotations {}", k.rotations_note),
    };
    format!(
        "KEY {:<8} {:<14} {expiry}; {rotations}  {}",
        k.environment, k.name, k.key_arn
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-12-04 20:00 UTC);

    fn rot(valid_to: Option<&str>) -> Rotated {
        Rotated {
            name: "dev-s3".into(),
            environment: "dev".into(),
            strategy: Strategy::OnDemand,
            material: Some("m".into()),
            imported_at: None,
            expiration_model: valid_to.map(|_| "KEY_MATERIAL_EXPIRES".to_string()),
            valid_to: valid_to.map(str::to_string),
            replicas: Vec::new(),
        }
    }

    fn counted(on_demand: usize) -> Observed {
        let types = vec![Some("ON_DEMAND"); on_demand];
        Observed {
            rotations: Some(Ok(Rotations::Counted(RotationCount::of(&types)))),
            ..Observed::default()
        }
    }

    #[test]
    fn expiry_within_the_window_warns_with_the_date() {
        let k = lifecycle_of(
            "arn",
            &rot(Some("2026-12-14T20:00:00Z")),
            &counted(1),
            NOW,
            30,
        );
        assert_eq!(k.expiry, "expires-soon");
        assert_eq!(k.days_left, Some(10));
        assert_eq!(k.valid_to.as_deref(), Some("2026-12-14T20:00:00Z"));
        assert_eq!(k.expiration_model.as_deref(), Some("KEY_MATERIAL_EXPIRES"));
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].contains("in 10 days"), "{:?}", k.warnings);
        assert!(human(&k).contains("material expires 2026-12-14T20:00:00Z (in 10 days)"));
        // The same key with a 7-day window does not warn.
        let k = lifecycle_of(
            "arn",
            &rot(Some("2026-12-14T20:00:00Z")),
            &counted(1),
            NOW,
            7,
        );
        assert_eq!((k.expiry, k.warnings.len()), ("expires-later", 0));
    }

    #[test]
    fn kms_valid_to_counts_when_the_receipt_has_none() {
        let obs = Observed {
            valid_to: Some(datetime!(2026-12-01 00:00 UTC).unix_timestamp()),
            expiration_model: Some("KEY_MATERIAL_EXPIRES".into()),
            ..counted(0)
        };
        let k = lifecycle_of("arn", &rot(None), &obs, NOW, 30);
        assert_eq!(k.expiry, "expired");
        assert_eq!(k.expiration_model.as_deref(), Some("KEY_MATERIAL_EXPIRES"));
        assert!(k.warnings[0].contains("EXPIRED"));
        let k = lifecycle_of("arn", &rot(None), &counted(0), NOW, 30);
        assert_eq!((k.expiry, k.days_left), ("never", None));
        assert!(k.warnings.is_empty());
    }

    #[test]
    fn a_reimport_that_moved_kms_valid_to_ends_the_warning() {
        let obs = Observed {
            valid_to: Some(datetime!(2027-06-01 00:00 UTC).unix_timestamp()),
            expiration_model: Some("KEY_MATERIAL_EXPIRES".into()),
            ..counted(1)
        };
        let k = lifecycle_of("arn", &rot(Some("2026-12-14T20:00:00Z")), &obs, NOW, 30);
        assert_eq!(k.expiry, "expires-later");
        assert_eq!(k.valid_to.as_deref(), Some("2027-06-01T00:00:00Z"));
        assert!(k.warnings.is_empty());
        // KEY_MATERIAL_EXPIRES without a ValidTo (LocalStack): the receipt's.
        let obs = Observed {
            valid_to: None,
            ..obs
        };
        let k = lifecycle_of("arn", &rot(Some("2026-12-14T20:00:00Z")), &obs, NOW, 30);
        assert_eq!((k.expiry, k.days_left), ("expires-soon", Some(10)));
        // KEY_MATERIAL_DOES_NOT_EXPIRE (re-imported without expiry): never.
        let obs = Observed {
            expiration_model: Some("KEY_MATERIAL_DOES_NOT_EXPIRE".into()),
            ..obs
        };
        let k = lifecycle_of("arn", &rot(Some("2026-12-14T20:00:00Z")), &obs, NOW, 30);
        assert_eq!(k.expiry, "never");
    }

    #[test]
    fn the_rotation_budget_warns_at_five_left() {
        let k = lifecycle_of("arn", &rot(None), &counted(3), NOW, 30);
        assert_eq!(
            (k.on_demand_rotations_used, k.on_demand_rotations_left),
            (Some(3), Some(22))
        );
        assert!(k.warnings.is_empty());
        assert!(human(&k).contains("3 used, 22 left of 25 on-demand rotations"));
        let k = lifecycle_of("arn", &rot(None), &counted(20), NOW, 30);
        assert_eq!(k.on_demand_rotations_left, Some(5));
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].contains("5 left of 25"), "{:?}", k.warnings);
        let k = lifecycle_of("arn", &rot(None), &counted(19), NOW, 30);
        assert!(k.warnings.is_empty());
        let unsupported = Observed {
            rotations: Some(Ok(Rotations::Unsupported)),
            ..Observed::default()
        };
        let k = lifecycle_of("arn", &rot(None), &unsupported, NOW, 30);
        assert_eq!(k.on_demand_rotations_left, None);
        assert!(k.rotations_note.contains("no ListKeyRotations"));
        let k = lifecycle_of("arn", &rot(None), &Observed::default(), NOW, 30);
        assert!(k.rotations_note.starts_with("not applicable"));
    }
}
