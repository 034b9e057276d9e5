//! `verify`: an import bundle checked exactly as `import` checks it before
//! any AWS call, with airlock-core's verifier (layout, every digest, the
//! seal under the pinned ceremony key, schema, key files, journal chain),
//! then the digest the custodians read from the paper attestation, then the
//! air-gap claim, and (with `--request`) the link to the request bundle.
//! After a digest mismatch the real digest is never printed: the operator
//! must not be able to "fix" the typed digest by copying it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use airlock_core::import_bundle::{ImportExpectations, VerifiedImportBundle, verify_import_bundle};
use airlock_core::import_manifest::ImportKey;
use airlock_core::request::{KeyRequest, REQUEST_FILE};
use airlock_core::signature::SignerKey;
use airlock_core::sums::{Sha256Digest, Sha256Sums};
use clap::Args;
use serde_json::json;

use crate::error::{Error, Result};
use crate::exit::Exit;

/// Options of `verify` (and the bundle half of `import`).
#[derive(Debug, Args, Clone)]
pub struct BundleArgs {
    /// The import bundle folder, as copied from the USB medium.
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,
    /// The enrolled copy of the ceremony signing key (SPKI PEM), never the
    /// copy inside the bundle.
    #[arg(long, value_name = "PEM")]
    pub ceremony_key: PathBuf,
    /// The ceremony key fingerprint printed on the attestation (SHA-256 of
    /// its SPKI DER; spaces, dashes, colons and case ignored): when given,
    /// the PEM must have exactly this fingerprint.
    #[arg(long, value_name = "HEX")]
    pub ceremony_fingerprint: Option<String>,
    /// The bundle digest printed on the attestation (SHA-256 of
    /// SHA256SUMS; spaces, dashes, colons and case ignored).
    #[arg(long, value_name = "HEX")]
    pub expect_digest: String,
    /// Accept a bundle whose workstation was not air-gapped (tests and
    /// rehearsals only; recorded in the receipt).
    #[arg(long)]
    pub allow_not_air_gapped: bool,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle and its pins.
    #[command(flatten)]
    pub bundle: BundleArgs,
    /// The request bundle this answers (its digest must be the one
    /// import.json names; every key must match it).
    #[arg(long, value_name = "DIR")]
    pub request: Option<PathBuf>,
}

/// A bundle that passed every offline check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// airlock-core's result.
    pub bundle: VerifiedImportBundle,
    /// Fingerprint of the pinned ceremony key (hex).
    pub ceremony_fingerprint: String,
    /// Per key name, the request's entry (when `--request` was given).
    pub request_keys: BTreeMap<String, KeyRequest>,
    /// The request's account and region (when `--request` was given).
    pub request_account_region: Option<(String, String)>,
}

impl Verified {
    /// The manifest's keys.
    pub fn keys(&self) -> &[ImportKey] {
        &self.bundle.manifest.keys
    }

    /// The bundle's account: from the request, else from the key ARNs.
    pub fn account(&self) -> Option<String> {
        if let Some((a, _)) = &self.request_account_region {
            return Some(a.clone());
        }
        self.keys().first().and_then(|k| arn_part(&k.key_arn, 4))
    }

    /// The bundle's region: from the request, else from the key ARNs.
    pub fn region(&self) -> Option<String> {
        if let Some((_, r)) = &self.request_account_region {
            return Some(r.clone());
        }
        self.keys().first().and_then(|k| arn_part(&k.key_arn, 3))
    }
}

/// Field `n` (0-based, `:`-separated) of an ARN.
pub fn arn_part(arn: &str, n: usize) -> Option<String> {
    arn.split(':').nth(n).map(str::to_string)
}

/// A digest typed from paper: drops spaces, dashes and colons, lowercases;
/// `None` unless 64 hex digits remain.
pub fn normalise_digest(s: &str) -> Option<String> {
    let d: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | ':' | '\t'))
        .collect::<String>()
        .to_ascii_lowercase();
    (d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())).then_some(d)
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, what, e))
}

/// Every offline check of the bundle, in order; see the module docs.
pub fn verify_bundle(args: &BundleArgs, request: Option<&Path>) -> Result<Verified> {
    let expect = normalise_digest(&args.expect_digest).ok_or_else(|| {
        Error::refused(
            Exit::Usage,
            "--expect-digest is not 64 hex digits; type the bundle digest from the paper attestation again",
        )
    })?;
    let pem = read(&args.ceremony_key, "reading the ceremony key")?;
    let key = std::str::from_utf8(&pem)
        .ok()
        .and_then(|t| SignerKey::from_pem(t).ok())
        .ok_or_else(|| {
            Error::refused(
                Exit::Bundle,
                format!(
                    "{}: not an RSA 3072/4096 PUBLIC KEY PEM; use the enrolled copy of ceremony-signing-key.pem",
                    args.ceremony_key.display()
                ),
            )
        })?;
    let fingerprint = key.fingerprint().to_hex();
    if let Some(pin) = &args.ceremony_fingerprint {
        let pin = normalise_digest(pin).ok_or_else(|| {
            Error::refused(Exit::Usage, "--ceremony-fingerprint is not 64 hex digits")
        })?;
        if pin != fingerprint {
            return Err(Error::refused(
                Exit::Bundle,
                format!(
                    "{}: its fingerprint is not the one typed in --ceremony-fingerprint; this is not the enrolled ceremony key: do not import",
                    args.ceremony_key.display()
                ),
            ));
        }
    }
    if !args.bundle.is_dir() {
        return Err(Error::refused(
            Exit::Io,
            format!("bundle folder {} not found", args.bundle.display()),
        ));
    }
    let bundle = verify_import_bundle(&args.bundle, &key, &ImportExpectations::default())
        .map_err(|e| {
            Error::refused(
                Exit::Bundle,
                format!(
                    "bundle {}: {e}; do not import: copy the bundle again from the medium, or investigate",
                    args.bundle.display()
                ),
            )
        })?;
    if bundle.sums_sha256.to_hex() != expect {
        return Err(Error::refused(
            Exit::Digest,
            format!(
                "bundle {}: the SHA-256 of SHA256SUMS is not the digest typed in; do not import: \
                 compare the digest with the paper attestation again, character by character, with the custodians",
                args.bundle.display()
            ),
        ));
    }
    if !bundle.manifest.workstation.air_gapped && !args.allow_not_air_gapped {
        return Err(Error::refused(
            Exit::NotAirGapped,
            format!(
                "bundle {}: import.json says workstation {:?} was NOT air-gapped during ceremony {}; \
                 do not import. (Rehearsals only: --allow-not-air-gapped, which the receipt records.)",
                args.bundle.display(),
                bundle.manifest.workstation.hostname,
                bundle.manifest.ceremony_id
            ),
        ));
    }
    let mut out = Verified {
        bundle,
        ceremony_fingerprint: fingerprint,
        request_keys: BTreeMap::new(),
        request_account_region: None,
    };
    if let Some(dir) = request {
        link_request(&mut out, &args.bundle, dir)?;
    }
    Ok(out)
}

/// Checks that the bundle answers the request in `dir`, key by key.
fn link_request(v: &mut Verified, bundle_dir: &Path, dir: &Path) -> Result<()> {
    let content = |m: String| Error::refused(Exit::Content, m);
    let sums_bytes = read(&dir.join("SHA256SUMS"), "reading the request's SHA256SUMS")?;
    let digest = Sha256Digest::of(&sums_bytes).to_hex();
    let m = &v.bundle.manifest;
    if digest != m.request_sha256sums_sha256 {
        return Err(content(format!(
            "import.json answers the request with digest {} but {}/SHA256SUMS has digest {digest}; pass the request bundle this ceremony used",
            m.request_sha256sums_sha256,
            dir.display()
        )));
    }
    let sums = Sha256Sums::parse(&sums_bytes)
        .map_err(|e| content(format!("{}/SHA256SUMS: {e}", dir.display())))?;
    for entry in sums.entries() {
        let bytes = read(&dir.join(&entry.path), "reading a request file")?;
        sums.check(&entry.path, &bytes).map_err(|e| {
            content(format!(
                "request {}: {e}; the request bundle changed since the ceremony",
                dir.display()
            ))
        })?;
    }
    let json = read(&dir.join(REQUEST_FILE), "reading request.json")?;
    let req = airlock_core::request::parse_request_json(&json)
        .map_err(|e| content(format!("{}/request.json: {e}", dir.display())))?;
    if req.request_id.as_str() != m.request_id {
        return Err(content(format!(
            "import.json is for request {} but {} is request {}",
            m.request_id,
            dir.display(),
            req.request_id.as_str()
        )));
    }
    for k in &m.keys {
        let r = req
            .keys
            .iter()
            .find(|r| r.name.as_str() == k.name)
            .ok_or_else(|| {
                content(format!(
                    "key {}: not in the request {}",
                    k.name,
                    dir.display()
                ))
            })?;
        let same = r.key_arn.as_str() == k.key_arn
            && r.alias.as_str() == k.alias
            && r.key_spec == k.key_spec
            && r.import_type == k.import_type
            && r.wrapping_algorithm == k.wrapping_algorithm;
        if !same {
            return Err(content(format!(
                "key {}: import.json's ARN, alias, key spec, import type or wrapping algorithm differ from the request's; \
                 the bundle does not answer this request: do not import",
                k.name
            )));
        }
        let path = format!("keys/{}/ImportToken.bin", k.name);
        if read(&dir.join(&path), "reading an import token")?
            != read(&bundle_dir.join(&path), "reading an import token")?
        {
            return Err(content(format!(
                "key {}: {path} differs from the request's",
                k.name
            )));
        }
        // Multi-Region replicas: the same regions and ARNs in the same
        // order, each with the request's import token byte for byte.
        let ours: Vec<(&str, &str, &str)> = k
            .replicas
            .iter()
            .map(|x| {
                (
                    x.region.as_str(),
                    x.key_arn.as_str(),
                    x.wrapping_algorithm.as_str(),
                )
            })
            .collect();
        let theirs: Vec<(&str, &str, &str)> = r
            .replicas
            .iter()
            .map(|x| {
                (
                    x.region.as_str(),
                    x.key_arn.as_str(),
                    x.wrapping_algorithm.as_str(),
                )
            })
            .collect();
        if ours != theirs {
            return Err(content(format!(
                "key {}: import.json's replicas (region, ARN, wrapping algorithm) differ from the request's; \
                 the bundle does not answer this request: do not import",
                k.name
            )));
        }
        for x in &k.replicas {
            let path = format!(
                "keys/{}/ImportToken.bin",
                airlock_core::request::replica_rel(&k.name, &x.region)
            );
            if read(&dir.join(&path), "reading a replica's import token")?
                != read(&bundle_dir.join(&path), "reading a replica's import token")?
            {
                return Err(content(format!(
                    "key {} replica {}: {path} differs from the request's",
                    k.name, x.region
                )));
            }
        }
        v.request_keys.insert(k.name.clone(), r.clone());
    }
    v.request_account_region = Some((
        req.aws_account.as_str().to_string(),
        req.aws_region.as_str().to_string(),
    ));
    Ok(())
}

/// Runs `verify`.
pub fn run(args: &VerifyArgs, json_out: bool) -> Result<Exit> {
    let v = verify_bundle(&args.bundle, args.request.as_deref())?;
    let m = &v.bundle.manifest;
    if json_out {
        let keys: Vec<_> = m
            .keys
            .iter()
            .map(|k| {
                json!({"name": k.name, "alias": k.alias, "key_arn": k.key_arn,
                       "import_type": k.import_type.as_str(), "parameters_valid_to": k.parameters_valid_to,
                       "environment": v.request_keys.get(&k.name).map(|r| r.environment.as_str())})
            })
            .collect();
        let out = json!({
            "bundle": args.bundle.bundle.display().to_string(),
            "request_id": m.request_id, "ceremony_id": m.ceremony_id,
            "sums_sha256": v.bundle.sums_sha256.to_hex(),
            "ceremony_fingerprint": v.ceremony_fingerprint,
            "air_gapped": m.workstation.air_gapped,
            "request_linked": args.request.is_some(),
            "keys": keys,
        });
        println!("{out:#}");
    } else {
        println!(
            "bundle verified: request {}, ceremony {}, {} keys\n  digest              {}\n  ceremony key        {}\n  air-gapped          {}",
            m.request_id,
            m.ceremony_id,
            m.keys.len(),
            v.bundle.sums_sha256.to_hex(),
            v.ceremony_fingerprint,
            m.workstation.air_gapped
        );
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_typed_from_paper() {
        let d = "ab".repeat(32);
        assert_eq!(normalise_digest(&d).as_deref(), Some(d.as_str()));
        let grouped = "ABAB ABAB-abab:abab ".repeat(4);
        assert_eq!(normalise_digest(&grouped).as_deref(), Some(d.as_str()));
        assert_eq!(normalise_digest(&d[..62]), None);
        assert_eq!(normalise_digest(&format!("{}zz", &d[..62])), None);
    }

    #[test]
    fn arn_parts() {
        let a = "arn:aws:kms:eu-west-1:111122223333:key/abc";
        assert_eq!(arn_part(a, 3).as_deref(), Some("eu-west-1"));
        assert_eq!(arn_part(a, 4).as_deref(), Some("111122223333"));
    }
}
