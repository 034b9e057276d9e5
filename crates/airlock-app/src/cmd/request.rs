//! `airlock request verify DIR`: verify a request bundle from the online
//! side against the trust store and print what it asks for. Nothing here
//! touches an HSM.

use std::path::{Path, PathBuf};

use airlock_core::request::{VerifiedRequest, VerifyOptions, rfc3339, verify_request_bundle};
use airlock_core::trust::TrustStore;
use clap::Subcommand;

use super::{CliError, load_config};

/// `airlock request ...`
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Verify a request bundle: layout, SHA256SUMS, signature, schema,
    /// wrapping matrix, wrapping keys, ARNs, duplicates, validity.
    Verify {
        /// The bundle folder (with request.json, keys/, SHA256SUMS, SHA256SUMS.sig).
        dir: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Accept the SHA-1 wrapping algorithms (RSAES_OAEP_SHA_1,
        /// RSA_AES_KEY_WRAP_SHA_1) for this ceremony.
        #[arg(long)]
        allow_sha1: bool,
    },
}

/// Runs `airlock request ...`.
pub fn run(cmd: RequestCommand, config: Option<&Path>) -> Result<(), CliError> {
    match cmd {
        RequestCommand::Verify {
            dir,
            json,
            allow_sha1,
        } => {
            let config = load_config(config)?;
            let trust = TrustStore::open(&config.state_dir)?;
            let opts = VerifyOptions {
                allow_sha1,
                now: time::OffsetDateTime::now_utc(),
            };
            let verified = verify_request_bundle(&dir, &trust, &opts)?;
            for w in &verified.warnings {
                eprintln!("airlock: warning: {w}");
            }
            if json {
                crate::output::print_json(&to_json(&verified));
            } else {
                print_table(&dir, &verified);
            }
            Ok(())
        }
    }
}

fn to_json(v: &VerifiedRequest) -> serde_json::Value {
    let keys: Vec<_> = v
        .keys
        .iter()
        .map(|k| {
            let r = &k.request;
            let mut material = serde_json::json!({ "source": r.material.source() });
            if let airlock_core::request::Material::Existing { hsm_label } = &r.material {
                material["hsm_label"] = hsm_label.as_str().into();
            }
            serde_json::json!({
                "name": r.name.as_str(),
                "alias": r.alias.as_str(),
                "environment": r.environment.as_str(),
                "service": r.service.as_str(),
                "key_arn": r.key_arn.as_str(),
                "key_spec": r.key_spec.as_str(),
                "import_type": r.import_type.as_str(),
                "material": material,
                "wrapping_algorithm": r.wrapping_algorithm.as_str(),
                "wrapping_key_spec": r.wrapping_key_spec.as_str(),
                "parameters_valid_to": rfc3339(r.parameters_valid_to),
            })
        })
        .collect();
    serde_json::json!({
        "verified": true,
        "request_id": v.request_id.as_str(),
        "created_at": rfc3339(v.created_at),
        "aws_account": v.aws_account.as_str(),
        "aws_region": v.aws_region.as_str(),
        "keys": keys,
        "signer": {
            "name": v.signer.name.as_str(),
            "fingerprint": v.signer.fingerprint.to_hex(),
        },
        "sha256sums_sha256": v.sums_sha256.to_hex(),
        "uses_sha1": v.uses_sha1,
        "warnings": v.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
    })
}

fn print_table(dir: &Path, v: &VerifiedRequest) {
    println!("request bundle {} verified", dir.display());
    println!(
        "request {} for account {} in {}, created {}, {} key(s)",
        v.request_id,
        v.aws_account,
        v.aws_region,
        rfc3339(v.created_at),
        v.keys.len()
    );
    let name_w = v
        .keys
        .iter()
        .map(|k| k.request.name.as_str().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let alias_w = v
        .keys
        .iter()
        .map(|k| k.request.alias.as_str().len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<name_w$}  {:<alias_w$}  {:<17}  {:<24}  {:<8}  VALID TO",
        "NAME", "ALIAS", "KEY SPEC", "ALGORITHM", "WRAP KEY"
    );
    for k in &v.keys {
        let r = &k.request;
        println!(
            "{:<name_w$}  {:<alias_w$}  {:<17}  {:<24}  {:<8}  {}",
            r.name.as_str(),
            r.alias.as_str(),
            r.key_spec.as_str(),
            r.wrapping_algorithm.as_str(),
            r.wrapping_key_spec.as_str(),
            rfc3339(r.parameters_valid_to)
        );
    }
    println!();
    println!("signer:              {}", v.signer.name);
    println!("signer fingerprint:  {}", v.signer.fingerprint.to_hex());
    println!("  read aloud:        {}", v.signer.fingerprint.grouped());
    println!("SHA-256 of SHA256SUMS: {}", v.sums_sha256.to_hex());
    println!(
        "  read aloud:        {}",
        crate::output::grouped_hex(&v.sums_sha256.to_hex())
    );
}
