//! `airlock state backup --out DIR` and `airlock state restore --from DIR
//! --ceremony-key-fingerprint HEX`: the state directory's backup after every
//! ceremony, and its restore, checked against the HSM seals and the
//! ceremony key fingerprint recorded at enrolment.

use std::path::{Path, PathBuf};

use airlock_ceremony::backup::{BackupOutcome, backup, restore};
use airlock_core::signature::group_hex;
use clap::Subcommand;

use super::{CliError, load_config};

/// `airlock state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Back up the state directory into a new folder (never over an
    /// existing one), after checking its HSM seals; prints the backup's
    /// SHA256SUMS digest for its label.
    Backup {
        /// The backup folder to create (e.g. on the backup medium).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore the state directory (absent or empty) from a backup.
    Restore {
        /// The backup folder.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The ceremony signing key fingerprint recorded at enrolment (and
        /// printed on every attestation): the backup must be sealed by it.
        #[arg(long, value_name = "HEX")]
        ceremony_key_fingerprint: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn report(what: &str, o: &BackupOutcome, json: bool) {
    if json {
        crate::output::print_json(o);
        return;
    }
    println!("{what} {} ({} files)", o.path.display(), o.files);
    println!(
        "HSM seals checked: the trust store and {} ceremony journal(s), by the ceremony key {}",
        o.journals_checked,
        group_hex(&o.ceremony_key_fingerprint)
    );
    println!("Backup SHA256SUMS digest (write it on the medium's label):");
    println!("  {}", group_hex(&o.sums_sha256));
}

/// Runs `airlock state ...`.
pub fn run(cmd: StateCommand, config: Option<&Path>) -> Result<(), CliError> {
    let config = load_config(config)?;
    match cmd {
        StateCommand::Backup { out, json } => {
            let o = backup(&config, &out)?;
            report("Backed up the state directory to", &o, json);
        }
        StateCommand::Restore {
            from,
            ceremony_key_fingerprint,
            json,
        } => {
            let o = restore(&config, &from, &ceremony_key_fingerprint)?;
            report("Restored the state directory at", &o, json);
        }
    }
    Ok(())
}
