//! `airlock trust ...`: enrol, list and remove the online side's request
//! signers in the trust store under the configured state directory.

use std::path::{Path, PathBuf};

use airlock_core::exit::ExitCode;
use airlock_core::request::rfc3339;
use airlock_core::signature::SignerKey;
use airlock_core::trust::{SignerName, TrustError, TrustStore};
use clap::Subcommand;

use super::{CliError, load_config};

/// `airlock trust ...`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Enrol an online request signer's RSA 3072/4096 public key (PEM
    /// SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it) and print
    /// its SHA-256 fingerprint for reading aloud.
    AddSigner {
        /// The public key file (PEM "PUBLIC KEY").
        pem: PathBuf,
        /// The name to enrol it under: 1-63 of a-z 0-9 . _ -.
        #[arg(long)]
        name: String,
    },
    /// List the enrolled request signers.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove an enrolled request signer.
    Remove {
        /// The signer's name.
        name: String,
    },
}

/// Runs `airlock trust ...`.
pub fn run(cmd: TrustCommand, config: Option<&Path>) -> Result<(), CliError> {
    let config = load_config(config)?;
    let mut store = TrustStore::open(&config.state_dir)?;
    match cmd {
        TrustCommand::AddSigner { pem, name } => {
            let name: SignerName = name.parse()?;
            let text = std::fs::read_to_string(&pem)
                .map_err(|e| CliError::new(ExitCode::Io, format!("{}: {e}", pem.display())))?;
            let key = SignerKey::from_pem(&text).map_err(|source| TrustError::Key {
                source_name: pem.display().to_string(),
                source,
            })?;
            let now = time::OffsetDateTime::now_utc();
            let added = store.add(name, key, now)?;
            let (name, bits, fp) = (
                added.name.to_string(),
                added.key.bits(),
                added.key.fingerprint(),
            );
            store.save()?;
            println!("enrolled request signer {name} (RSA-{bits})");
            println!("SHA-256 fingerprint: {}", fp.to_hex());
            println!("read aloud:          {}", fp.grouped());
            println!(
                "compare it with the fingerprint the online operator reads out before trusting this key"
            );
            Ok(())
        }
        TrustCommand::List { json } => {
            if json {
                let list: Vec<_> = store
                    .signers()
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "name": s.name.as_str(),
                            "bits": s.key.bits(),
                            "fingerprint": s.key.fingerprint().to_hex(),
                            "enrolled_at": rfc3339(s.enrolled_at),
                        })
                    })
                    .collect();
                crate::output::print_json(&serde_json::json!({ "signers": list }));
            } else if store.signers().is_empty() {
                println!("no request signers enrolled ({})", store.path().display());
            } else {
                println!(
                    "{:<24} {:<6} {:<21} FINGERPRINT (SHA-256 of SPKI)",
                    "NAME", "BITS", "ENROLLED"
                );
                for s in store.signers() {
                    println!(
                        "{:<24} {:<6} {:<21} {}",
                        s.name,
                        s.key.bits(),
                        rfc3339(s.enrolled_at),
                        s.key.fingerprint().grouped()
                    );
                }
            }
            Ok(())
        }
        TrustCommand::Remove { name } => {
            let removed = store.remove(&name)?;
            store.save()?;
            println!(
                "removed request signer {} ({})",
                removed.name,
                removed.key.fingerprint().grouped()
            );
            Ok(())
        }
    }
}
