//! `airlock trust ...`: enrol, list and remove the online side's request
//! signers in the trust store under the configured state directory. Once
//! custodians are enrolled, every change needs M of them (`--custodian`),
//! is sealed by the HSM and journaled; a ceremony refuses a trust store
//! that the HSM did not seal.

use std::path::{Path, PathBuf};

use airlock_ceremony::enroll::CustodianSecret;
use airlock_ceremony::trust_ops::{self, TrustChange};
use airlock_core::exit::ExitCode;
use airlock_core::request::rfc3339;
use airlock_core::signature::SignerKey;
use airlock_core::trust::{SignerName, TrustError, TrustStore};
use clap::Subcommand;

use super::secrets::{CustodianArg, custodian_passphrase, parse_custodian};
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
        /// A custodian approving the change: NAME=@FILE or NAME (prompted).
        /// M of them once custodians are enrolled.
        #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian)]
        custodians: Vec<CustodianArg>,
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
        /// A custodian approving the change: NAME=@FILE or NAME. M of them.
        #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian)]
        custodians: Vec<CustodianArg>,
    },
    /// Have the quorum seal the trust store as it is (e.g. signers added
    /// before the custodians were enrolled); lists what the seal covers.
    Seal {
        /// A custodian approving it: NAME=@FILE or NAME. M of them.
        #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian, required = true)]
        custodians: Vec<CustodianArg>,
    },
}

fn secrets(args: &[CustodianArg]) -> Result<Vec<CustodianSecret>, CliError> {
    args.iter()
        .map(|a| {
            Ok(CustodianSecret {
                name: a.name.clone(),
                passphrase: custodian_passphrase(a, false)?,
            })
        })
        .collect()
}

fn report(change: &TrustChange) {
    if change.sealed {
        println!(
            "trust store sealed by the HSM; it now lists {} signer(s):",
            change.signers.len()
        );
    } else {
        println!(
            "warning: no custodians are enrolled yet, so the trust store is NOT sealed; no ceremony will trust it until a quorum runs `airlock trust seal`"
        );
    }
    for s in &change.signers {
        println!(
            "  {:<24} RSA-{:<5} {}",
            s.name,
            s.bits,
            airlock_core::signature::group_hex(&s.fingerprint)
        );
    }
}

/// Runs `airlock trust ...`.
pub fn run(cmd: TrustCommand, config: Option<&Path>) -> Result<(), CliError> {
    let config = load_config(config)?;
    let store = TrustStore::open(&config.state_dir)?;
    match cmd {
        TrustCommand::AddSigner {
            pem,
            name,
            custodians,
        } => {
            let name: SignerName = name.parse()?;
            let text = std::fs::read_to_string(&pem)
                .map_err(|e| CliError::new(ExitCode::Io, format!("{}: {e}", pem.display())))?;
            let key = SignerKey::from_pem(&text).map_err(|source| TrustError::Key {
                source_name: pem.display().to_string(),
                source,
            })?;
            let (bits, fp) = (key.bits(), key.fingerprint());
            let hardening = !custodians.is_empty();
            if hardening {
                for note in airlock_ceremony::hygiene::harden_process().notes {
                    eprintln!("warning: {note}");
                }
            }
            let change = trust_ops::add_signer(&config, &secrets(&custodians)?, name.clone(), key)?;
            println!("enrolled request signer {name} (RSA-{bits})");
            println!("SHA-256 fingerprint: {}", fp.to_hex());
            println!("read aloud:          {}", fp.grouped());
            println!(
                "compare it with the fingerprint the online operator reads out before trusting this key"
            );
            report(&change);
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
        TrustCommand::Remove { name, custodians } => {
            let change = trust_ops::remove_signer(&config, &secrets(&custodians)?, &name)?;
            if let Some(gone) = &change.signer {
                println!(
                    "removed request signer {} ({})",
                    gone.name,
                    airlock_core::signature::group_hex(&gone.fingerprint)
                );
            }
            report(&change);
            Ok(())
        }
        TrustCommand::Seal { custodians } => {
            for note in airlock_ceremony::hygiene::harden_process().notes {
                eprintln!("warning: {note}");
            }
            let change = trust_ops::seal_store(&config, &secrets(&custodians)?)?;
            report(&change);
            Ok(())
        }
    }
}
