//! `airlock quorum test`: custodians rehearse the quorum login without a
//! ceremony.

use std::path::Path;

use airlock_ceremony::enroll::{CustodianSecret, rehearse_quorum};
use airlock_core::quorum::AuthOutcome;
use clap::Subcommand;

use super::secrets::{CustodianArg, custodian_passphrase, parse_custodian};
use super::{CliError, load_config};

/// `airlock quorum ...`
#[derive(Debug, Subcommand)]
pub enum QuorumCommand {
    /// Rehearse the quorum login: each custodian authenticates, the HSM
    /// login is made and closed. Nothing else is touched.
    Test {
        /// A custodian: NAME=@FILE or NAME (prompted). Repeat.
        #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian, required = true)]
        custodians: Vec<CustodianArg>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `airlock quorum ...`.
pub fn run(cmd: QuorumCommand, config: Option<&Path>) -> Result<(), CliError> {
    let QuorumCommand::Test { custodians, json } = cmd;
    for note in airlock_ceremony::hygiene::harden_process().notes {
        eprintln!("warning: {note}");
    }
    let config = load_config(config)?;
    let creds = custodians
        .iter()
        .map(|a| {
            Ok(CustodianSecret {
                name: a.name.clone(),
                passphrase: custodian_passphrase(a, false)?,
            })
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let outcome = rehearse_quorum(&config, &creds, &mut |o| {
        if !json {
            match o {
                AuthOutcome::Accepted {
                    custodian,
                    have,
                    need,
                } => {
                    eprintln!("authenticated: {custodian} ({have} of {need})")
                }
                AuthOutcome::AlreadyCounted {
                    custodian,
                    have,
                    need,
                } => {
                    eprintln!("{custodian} already counted; still {have} of {need}")
                }
            }
        }
    })?;
    if json {
        crate::output::print_json(&outcome);
    } else {
        println!(
            "Quorum login OK on token {:?}: {} ({} needed).",
            outcome.token_label,
            outcome.custodians.join(", "),
            outcome.threshold
        );
    }
    Ok(())
}
