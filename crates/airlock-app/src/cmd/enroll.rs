//! `airlock enroll`: first enrolment of the custodian quorum, or
//! (`--replace`) re-enrolment with the current quorum's consent. Enrolment
//! pins the PKCS#11 module (path and SHA-256), the token and the quorum's
//! policy into the sealed shares; `--replace --repin-module` re-pins them
//! after an HSM driver upgrade the quorum agrees to.

use std::path::{Path, PathBuf};

use airlock_ceremony::enroll::{CustodianSecret, EnrollOptions, enroll, reenroll_custodians};
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
    /// The quorum's policy: allow requests to re-wrap material already in
    /// the HSM (`material.source = existing`), each key still confirmed on
    /// its own during the ceremony. Off unless given (again at every
    /// re-enrolment).
    #[arg(long)]
    allow_existing_material: bool,
    /// The quorum's policy: generated keys get CKA_WRAP_WITH_TRUSTED, so
    /// the token wraps them only under AWS wrapping keys the security
    /// officer marks trusted in each ceremony (`ceremony run
    /// --so-pin-file`). Only tokens with a direct wrap path.
    #[arg(long)]
    wrap_with_trusted: bool,
    /// First enrolment only: adopt a ceremony signing key that is already
    /// in the token (it must have been generated there). Journaled.
    #[arg(long)]
    adopt_signing_key: bool,
    /// With --replace: the PKCS#11 module or token changed on purpose (an
    /// HSM driver upgrade); the current custodians open their shares with
    /// the old pins and the new roster pins what is configured now.
    #[arg(long)]
    repin_module: bool,
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
    let options = EnrollOptions {
        adopt_signing_key: args.adopt_signing_key,
        allow_existing_material: args.allow_existing_material,
        wrap_with_trusted: args.wrap_with_trusted,
        repin_module: args.repin_module,
    };
    if args.repin_module && !args.replace {
        return Err(CliError::new(
            ExitCode::Usage,
            "--repin-module is only for --replace (the current custodians must agree)",
        ));
    }
    if args.adopt_signing_key && args.replace {
        return Err(CliError::new(
            ExitCode::Usage,
            "--adopt-signing-key is only for a first enrolment",
        ));
    }
    if args.threshold == args.custodians.len() {
        eprintln!(
            "warning: threshold {} of {} custodians: if any one custodian is absent or forgets their passphrase, no quorum can log in and nobody can re-enrol; enrol more custodians than the threshold (N > M)",
            args.threshold,
            args.custodians.len()
        );
    }
    let outcome = if args.replace {
        if args.current.is_empty() {
            return Err(CliError::new(
                ExitCode::Usage,
                "--replace needs the current custodians (--current NAME=@FILE, M of them)",
            ));
        }
        let current = collect(&args.current, false)?;
        reenroll_custodians(&config, &current, args.threshold, next, options)?
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
        enroll(&config, args.threshold, next, &so_pin, options)?
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
    println!(
        "Pinned:      {} (SHA-256 {})",
        outcome.module.path, outcome.module.sha256
    );
    println!("             {}", outcome.token);
    println!(
        "Policy:      existing HSM material {}",
        if outcome.policy.allow_existing_material {
            "may be re-wrapped (each key confirmed on its own)"
        } else {
            "is never re-wrapped"
        }
    );
    println!("Ceremony signing key fingerprint (SHA-256 of SPKI), read aloud and record it:");
    println!("  {}", outcome.signing_key_fingerprint);
    println!("  {}", group_hex(&outcome.signing_key_fingerprint));
    Ok(())
}
