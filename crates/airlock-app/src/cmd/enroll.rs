//! `airlock enroll`: first enrolment of the custodian quorum, or
//! (`--replace`) re-enrolment with the current quorum's consent.

use std::path::{Path, PathBuf};

use airlock_ceremony::enroll::{CustodianSecret, enroll, reenroll_custodians};
use airlock_core::exit::ExitCode;
use airlock_core::signature::group_hex;
use clap::Args;

use super::secrets::{
    CustodianArg, custodian_passphrase, parse_custodian, prompt_secret, read_secret_file,
};
use super::{CliError, load_config};

/// `airlock enroll ...`
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// A custodian: NAME=@FILE (FILE holds the passphrase) or NAME to be
    /// prompted twice without echo. Repeat for each of the N custodians.
    #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian, required = true)]
    custodians: Vec<CustodianArg>,
    /// M: how many custodians must authenticate together (2 <= M <= N).
    #[arg(long)]
    threshold: usize,
    /// File holding the token's security officer PIN (else prompted).
    #[arg(long, value_name = "FILE")]
    so_pin_file: Option<PathBuf>,
    /// Replace the enrolled custodians; needs M current custodians.
    #[arg(long)]
    replace: bool,
    /// With --replace: a current custodian, NAME=@FILE or NAME.
    #[arg(long = "current", value_name = "NAME[=@FILE]", value_parser = parse_custodian)]
    current: Vec<CustodianArg>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

fn collect(args: &[CustodianArg], confirm: bool) -> Result<Vec<CustodianSecret>, CliError> {
    args.iter()
        .map(|a| {
            Ok(CustodianSecret {
                name: a.name.clone(),
                passphrase: custodian_passphrase(a, confirm)?,
            })
        })
        .collect()
}

/// Runs `airlock enroll`.
pub fn run(args: EnrollArgs, config: Option<&Path>) -> Result<(), CliError> {
    for note in airlock_ceremony::hygiene::harden_process().notes {
        eprintln!("warning: {note}");
    }
    let config = load_config(config)?;
    let next = collect(&args.custodians, true)?;
    let outcome = if args.replace {
        if args.current.is_empty() {
            return Err(CliError::new(
                ExitCode::Usage,
                "--replace needs the current custodians (--current NAME=@FILE, M of them)",
            ));
        }
        let current = collect(&args.current, false)?;
        reenroll_custodians(&config, &current, args.threshold, next)?
    } else {
        if !args.current.is_empty() {
            return Err(CliError::new(
                ExitCode::Usage,
                "--current is only for --replace",
            ));
        }
        let so_pin = match &args.so_pin_file {
            Some(f) => read_secret_file(f, "SO PIN")?,
            None => prompt_secret("Security officer PIN (not shown): ", false)?,
        };
        enroll(&config, args.threshold, next, &so_pin)?
    };
    if args.json {
        crate::output::print_json(&outcome);
        return Ok(());
    }
    println!(
        "Enrolled {} custodians ({}), threshold {} of {}.",
        outcome.custodians.len(),
        outcome.custodians.join(", "),
        outcome.threshold,
        outcome.custodians.len()
    );
    println!(
        "Roster:      {} (id {})",
        outcome.roster_path.display(),
        outcome.roster_id
    );
    println!(
        "Signing key: {} ({})",
        outcome.signing_key_path.display(),
        if outcome.signing_key_created {
            "created in the HSM"
        } else {
            "already in the HSM"
        }
    );
    println!("Ceremony signing key fingerprint (SHA-256 of SPKI), read aloud and record it:");
    println!("  {}", outcome.signing_key_fingerprint);
    println!("  {}", group_hex(&outcome.signing_key_fingerprint));
    Ok(())
}
