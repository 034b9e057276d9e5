//! The command line: one clap tree, one module per subcommand group. Each
//! handler parses its arguments into validated engine types and calls the
//! engine; nothing here decides ceremony policy.

mod attest;
mod bundle;
mod ceremony;
mod checklist;
mod config_cmd;
mod enroll;
mod hsm;
mod interrupt;
mod journal;
mod print;
mod quorum;
mod request;
mod secrets;
mod state;
mod trust;

use std::fmt;
use std::path::PathBuf;

use airlock_core::config::AirlockConfig;
use airlock_core::exit::{ExitClass, ExitCode};
use clap::{Parser, Subcommand};

/// Airlock: the offline key-ceremony workstation for AWS KMS
/// bring-your-own-key. Run without a subcommand to open the desktop app.
#[derive(Debug, Parser)]
#[command(name = "airlock", version = crate::version::LONG, about, long_about = None)]
pub struct Cli {
    /// The configuration file (else AIRLOCK_CONFIG, else
    /// $XDG_CONFIG_HOME/airlock/airlock.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration file.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Verify a hash-chained audit journal.
    #[command(subcommand)]
    Journal(journal::JournalCommand),
    /// Inspect the configured HSM token.
    #[command(subcommand)]
    Hsm(hsm::HsmCommand),
    /// Enrol, list and remove the online side's request signers.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Verify a signed request bundle from the online side.
    #[command(subcommand)]
    Request(request::RequestCommand),
    /// Enrol the custodian quorum (sets a random HSM user PIN nobody sees).
    Enroll(enroll::EnrollArgs),
    /// Rehearse the quorum login.
    #[command(subcommand)]
    Quorum(quorum::QuorumCommand),
    /// Run a key ceremony, or list unfinished ones.
    #[command(subcommand)]
    Ceremony(ceremony::CeremonyCommand),
    /// Verify a sealed import bundle (online side).
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Build the printed hash attestation (PDF) of a sealed import bundle.
    Attest(attest::AttestArgs),
    /// Back up or restore the state directory (HSM-sealed).
    #[command(subcommand)]
    State(state::StateCommand),
    /// Print a file (the attestation) through CUPS, or list printers.
    Print(print::PrintArgs),
    /// Write the printable ceremony checklist (PDF) for the witness.
    Checklist(checklist::ChecklistArgs),
}

/// An error that ends the command: message, optional advice, exit code.
#[derive(Debug)]
pub struct CliError {
    code: ExitCode,
    message: String,
    hint: Option<String>,
}

impl CliError {
    /// A new error of the given class.
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds advice on what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The advice, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The exit code.
    pub fn exit_code(&self) -> ExitCode {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: ExitClass + std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::new(e.exit_code(), e.to_string())
    }
}

/// Loads the configuration named by `--config` or the environment.
pub fn load_config(cli_config: Option<&std::path::Path>) -> Result<AirlockConfig, CliError> {
    let path = AirlockConfig::locate(cli_config)?;
    Ok(AirlockConfig::load(&path)?)
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        None => crate::gui_entry(cli.config.as_deref()),
        Some(Command::Config(c)) => config_cmd::run(c, cli.config.as_deref()),
        Some(Command::Journal(c)) => journal::run(c),
        Some(Command::Hsm(c)) => hsm::run(c, cli.config.as_deref()),
        Some(Command::Trust(c)) => trust::run(c, cli.config.as_deref()),
        Some(Command::Request(c)) => request::run(c, cli.config.as_deref()),
        Some(Command::Enroll(a)) => enroll::run(a, cli.config.as_deref()),
        Some(Command::Quorum(c)) => quorum::run(c, cli.config.as_deref()),
        Some(Command::Ceremony(c)) => ceremony::run(c, cli.config.as_deref()),
        Some(Command::Bundle(c)) => bundle::run(c),
        Some(Command::Attest(a)) => attest::run(a),
        Some(Command::Print(a)) => print::run(a),
        Some(Command::State(c)) => state::run(c, cli.config.as_deref()),
        Some(Command::Checklist(a)) => checklist::run(a),
    }
}
