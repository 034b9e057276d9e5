//! The dev -> int -> prod rule: an environment may be imported only when
//! every earlier environment of the same ceremony is imported (its receipt
//! complete and not rolled back, and KMS agreeing) and its last report was
//! clean after that. `report --receipt-dir` writes the report marker
//! (`<env>.report.json`); `import --override-order REASON` is the explicit,
//! recorded way past the rule.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::receipt::Receipt;

/// The fixed order of the standard environments.
pub const ORDER: [&str; 3] = ["dev", "int", "prod"];

/// Rank of an environment: dev 0, int 1, prod 2, anything else after prod.
pub fn rank(env: &str) -> usize {
    ORDER.iter().position(|e| *e == env).unwrap_or(ORDER.len())
}

/// Sorts environments into import order (dev, int, prod, then by name).
pub fn sort(envs: &mut Vec<String>) {
    envs.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    envs.dedup();
}

/// The environments that must be done before `env`: the standard ones
/// ranked lower that have keys in the bundle.
pub fn prerequisites(env: &str, bundle_envs: &[String]) -> Vec<String> {
    let r = rank(env);
    if r == ORDER.len() {
        return Vec::new();
    }
    ORDER[..r]
        .iter()
        .filter(|e| bundle_envs.iter().any(|b| b == *e))
        .map(|e| e.to_string())
        .collect()
}

/// The marker `report` leaves per environment in the receipt folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportMarker {
    /// `airlock-env-report/1`.
    pub format: String,
    /// The environment.
    pub environment: String,
    /// When the report ran.
    pub generated_at: String,
    /// Every resource of the environment COMPLIANT or NOT_APPLICABLE, none ERROR.
    pub clean: bool,
    /// The ceremonies whose receipts the report judged against.
    pub ceremonies: Vec<String>,
    /// Resources judged in this environment.
    pub resources: usize,
}

/// The marker format tag.
pub const MARKER_FORMAT: &str = "airlock-env-report/1";

/// The marker's file name.
pub fn marker_name(env: &str) -> String {
    format!("{env}.report.json")
}

/// Reads the marker of `env`, if any.
pub fn read_marker(dir: &Path, env: &str) -> Result<Option<ReportMarker>> {
    let p = dir.join(marker_name(env));
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::refused(
                Exit::Receipt,
                format!("{}: not a report marker ({e})", p.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&p, "reading a report marker", e)),
    }
}

/// Why an earlier environment does not yet allow the next one, or `None`
/// when it does. `kms_done` is whether KMS shows every key of it done.
pub fn blocker(
    env: &str,
    receipt: Option<&Receipt>,
    marker: Option<&ReportMarker>,
    kms_done: bool,
) -> Option<String> {
    let Some(r) = receipt else {
        return Some(format!(
            "{env} has no receipt of this ceremony: import {env} first"
        ));
    };
    let Some(done_at) = &r.completed_at else {
        return Some(format!(
            "{env}'s import is not complete: rerun import for {env}"
        ));
    };
    if r.rolled_back_at.is_some() {
        return Some(format!("{env} was rolled back: import {env} again first"));
    }
    if !kms_done {
        return Some(format!(
            "KMS does not show {env}'s keys done (material or alias differ from the receipt): rerun import for {env}"
        ));
    }
    match marker {
        None => Some(format!(
            "no report of {env} since its import: run 'airlock-online report --receipt-dir ...' and fix what it lists"
        )),
        Some(m) if !m.clean => Some(format!(
            "the last report of {env} ({}) was not clean: move the listed resources, then report again",
            m.generated_at
        )),
        Some(m)
            if m.generated_at.as_str() < done_at.as_str()
                || !m.ceremonies.contains(&r.ceremony_id) =>
        {
            Some(format!(
                "the last report of {env} ({}) is older than its import ({done_at}): report again",
                m.generated_at
            ))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_prerequisites() {
        let mut e = vec![
            "prod".to_string(),
            "zz".into(),
            "dev".into(),
            "int".into(),
            "dev".into(),
        ];
        sort(&mut e);
        assert_eq!(e, ["dev", "int", "prod", "zz"]);
        let all: Vec<String> = ["dev", "int", "prod"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(prerequisites("dev", &all).is_empty());
        assert_eq!(prerequisites("prod", &all), ["dev", "int"]);
        assert_eq!(
            prerequisites("prod", &["prod".to_string(), "int".into()]),
            ["int"]
        );
        assert!(prerequisites("sandbox", &all).is_empty());
    }

    fn receipt(done: Option<&str>) -> Receipt {
        serde_json::from_value(serde_json::json!({
            "format": "airlock-receipt/2", "request_id": "r", "ceremony_id": "c", "environment": "dev",
            "bundle_sums_sha256": "", "ceremony_key_fingerprint": "", "account": "", "region": "",
            "air_gapped": true, "started_at": "2026-01-01T00:00:00Z", "completed_at": done,
            "order_override": null, "rolled_back_at": null, "keys": []}))
        .unwrap()
    }

    fn marker(at: &str, clean: bool) -> ReportMarker {
        ReportMarker {
            format: MARKER_FORMAT.into(),
            environment: "dev".into(),
            generated_at: at.into(),
            clean,
            ceremonies: vec!["c".into()],
            resources: 3,
        }
    }

    #[test]
    fn blockers() {
        let done = receipt(Some("2026-01-02T00:00:00Z"));
        assert!(
            blocker("dev", None, None, true)
                .unwrap()
                .contains("no receipt")
        );
        assert!(
            blocker("dev", Some(&receipt(None)), None, true)
                .unwrap()
                .contains("not complete")
        );
        assert!(
            blocker("dev", Some(&done), None, false)
                .unwrap()
                .contains("KMS does not show")
        );
        assert!(
            blocker("dev", Some(&done), None, true)
                .unwrap()
                .contains("no report")
        );
        let dirty = marker("2026-01-03T00:00:00Z", false);
        assert!(
            blocker("dev", Some(&done), Some(&dirty), true)
                .unwrap()
                .contains("not clean")
        );
        let old = marker("2026-01-01T12:00:00Z", true);
        assert!(
            blocker("dev", Some(&done), Some(&old), true)
                .unwrap()
                .contains("older")
        );
        let good = marker("2026-01-03T00:00:00Z", true);
        assert_eq!(blocker("dev", Some(&done), Some(&good), true), None);
        let mut rolled = done.clone();
        rolled.rolled_back_at = Some("2026-01-04T00:00:00Z".into());
        assert!(
            blocker("dev", Some(&rolled), Some(&good), true)
                .unwrap()
                .contains("rolled back")
        );
    }
}
