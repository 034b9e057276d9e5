//! `airlock bundle verify`: the online side's check of a sealed import
//! bundle (works in the CLI-only build).

use std::path::PathBuf;

use airlock_core::exit::ExitCode;
use airlock_core::import_bundle::{ImportExpectations, verify_import_bundle};
use airlock_core::signature::{SignerKey, group_hex};
use clap::Subcommand;

use super::CliError;

/// `airlock bundle ...`
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Verify an import bundle: sums, the seal by the ceremony key, schema,
    /// key file lengths, import tokens, journal chain and head.
    Verify {
        /// The import bundle folder.
        dir: PathBuf,
        /// The enrolled ceremony signing key (SPKI PEM).
        #[arg(long, value_name = "PEM")]
        ceremony_key: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `airlock bundle ...`.
pub fn run(cmd: BundleCommand) -> Result<(), CliError> {
    let BundleCommand::Verify {
        dir,
        ceremony_key,
        json,
    } = cmd;
    let pem = std::fs::read_to_string(&ceremony_key).map_err(|e| {
        CliError::new(
            ExitCode::Io,
            format!(
                "cannot read the ceremony key {}: {e}",
                ceremony_key.display()
            ),
        )
    })?;
    let key = SignerKey::from_pem(&pem).map_err(|e| {
        CliError::new(ExitCode::Signature, format!("{}: {e}", ceremony_key.display()))
            .with_hint("pass the ceremony-signing-key.pem enrolled from the workstation, not the bundle's copy")
    })?;
    let v = verify_import_bundle(&dir, &key, &ImportExpectations::default())?;
    let sums = v.sums_sha256.to_hex();
    if json {
        crate::output::print_json(&serde_json::json!({
            "bundle": dir.display().to_string(),
            "sums_sha256": sums,
            "ceremony_key_fingerprint": key.fingerprint().to_hex(),
            "request_id": v.manifest.request_id,
            "ceremony_id": v.manifest.ceremony_id,
            "air_gapped": v.manifest.workstation.air_gapped,
            "custodians": v.manifest.custodians,
            "journal_entries": v.journal.entries,
            "journal_head_sha256": v.journal.head_sha256,
            "keys": v.manifest.keys,
        }));
        return Ok(());
    }
    println!("Import bundle {} verifies.", dir.display());
    println!("  request:       {}", v.manifest.request_id);
    println!("  ceremony:      {}", v.manifest.ceremony_id);
    println!("  custodians:    {}", v.manifest.custodians.join(", "));
    if !v.manifest.workstation.air_gapped {
        println!("  NOT AIR-GAPPED: the ceremony ran with --allow-network");
    }
    println!(
        "  journal:       {} entries, head {}",
        v.journal.entries, v.journal.head_sha256
    );
    println!(
        "  sealed by:     {}",
        group_hex(&key.fingerprint().to_hex())
    );
    println!("  SHA256SUMS:    {}", group_hex(&sums));
    for k in &v.manifest.keys {
        println!(
            "  {:<24} {:<18} {:<26} KCV {}",
            k.name,
            k.key_spec.as_str(),
            k.wrapping_algorithm.as_str(),
            k.kcv.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
