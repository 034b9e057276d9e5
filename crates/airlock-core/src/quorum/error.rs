//! [`QuorumError`]: every way enrolment, a quorum login or the roster can
//! be refused, each naming the custodian or roster field concerned and what
//! to do. No variant carries a passphrase, share or PIN, so `Display` and
//! `Debug` are safe to print and log.

use std::path::PathBuf;

use crate::exit::{ExitClass, ExitCode};

/// Why a quorum operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    /// The threshold or the number of custodians is outside 2 <= M <= N <= 10.
    #[error(
        "threshold {threshold} of {custodians} custodian(s) is not allowed: need 2 <= threshold <= custodians <= 10"
    )]
    ThresholdOutOfRange {
        /// The threshold asked for (M).
        threshold: usize,
        /// The number of custodians (N).
        custodians: usize,
    },
    /// A custodian name does not follow the naming rule.
    #[error("custodian name {name:?} is not allowed: {reason}")]
    InvalidCustodianName {
        /// The name as given (names are public).
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// The same custodian name was given twice at enrolment.
    #[error(
        "custodian {name:?} is enrolled twice (names are compared ignoring case); give each custodian a distinct name"
    )]
    DuplicateCustodian {
        /// The repeated name.
        name: String,
    },
    /// A passphrase does not meet the policy.
    #[error("the passphrase for custodian {custodian:?} is refused: {reason}")]
    PassphrasePolicy {
        /// Whose passphrase.
        custodian: String,
        /// What rule it breaks and what to do.
        reason: &'static str,
    },
    /// Two custodians chose the same passphrase.
    #[error(
        "custodians {custodian:?} and {other:?} chose the same passphrase; each custodian must choose their own"
    )]
    PassphraseReused {
        /// The custodian being added.
        custodian: String,
        /// The custodian already added with the same passphrase.
        other: String,
    },
    /// A login named a custodian who is not on the roster. The name typed
    /// is never repeated (it may be a passphrase typed into the wrong
    /// field): only a short hash of it, to tell two attempts apart.
    #[error(
        "the name typed (SHA-256 {name_sha256}...) is not an enrolled custodian; enrolled: {enrolled}"
    )]
    UnknownCustodian {
        /// The first 16 hex digits of the SHA-256 of the name as typed.
        name_sha256: String,
        /// The enrolled names, comma separated.
        enrolled: String,
    },
    /// The passphrase did not unseal the custodian's share. No login to the
    /// HSM was attempted.
    #[error(
        "wrong passphrase for custodian {custodian:?} (no HSM login was attempted); {tries_left} more wrong passphrase(s) lock {custodian:?} out of this session"
    )]
    WrongPassphrase {
        /// Whose passphrase was wrong.
        custodian: String,
        /// Wrong tries left before the lockout.
        tries_left: u32,
    },
    /// The custodian gave a wrong passphrase too many times in a row.
    #[error(
        "custodian {custodian:?} is locked out of this session after {attempts} wrong passphrases in a row; start a new session (a new command) to try again"
    )]
    LockedOut {
        /// Who is locked out.
        custodian: String,
        /// How many wrong passphrases were given.
        attempts: u32,
    },
    /// Fewer than M custodians authenticated.
    #[error(
        "quorum not met: {have} of the {need} required custodians authenticated ({who}); nothing was logged in to. Each of {need} different custodians must give their passphrase"
    )]
    QuorumNotMet {
        /// Distinct custodians authenticated so far.
        have: usize,
        /// The roster's threshold.
        need: usize,
        /// Their names, or "none".
        who: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// The PIN handed to enrolment is not one Airlock generated.
    #[error(
        "the user PIN is not in Airlock's format ({reason}); enrol with a PIN from generate_user_pin()"
    )]
    PinFormat {
        /// What is wrong with it (never the PIN itself).
        reason: &'static str,
    },
    /// The Argon2id parameters are unusable.
    #[error("Argon2id parameters {what}: {reason}")]
    KdfParams {
        /// Which parameter set.
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// There is no roster file.
    #[error("no custodian roster at {path}; enrol the custodians first (`airlock enroll`)")]
    RosterMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The roster file is too large to be a roster.
    #[error(
        "{path}: {size} bytes is too large for a roster (limit {limit}); it is not a roster file"
    )]
    RosterTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The roster does not parse or breaks a rule.
    #[error("{origin}: {field}: {message}")]
    RosterInvalid {
        /// The file, or "roster" for in-memory bytes.
        origin: String,
        /// The JSON field (e.g. `custodians[1].kdf.m_cost_kib`) or the JSON
        /// position.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The passphrase was right but the sealed share does not match the
    /// roster around it: the roster was edited.
    #[error(
        "the roster entry of custodian {custodian:?} was tampered with: the passphrase is right but {what}; restore roster.json from its backup or re-enrol"
    )]
    RosterTampered {
        /// Whose entry.
        custodian: String,
        /// What did not match.
        what: &'static str,
    },
    /// The PKCS#11 module or token found now is not the one the quorum
    /// pinned at enrolment. Nothing was unsealed and the PIN was not
    /// rebuilt.
    #[error(
        "the {what} is not the one the custodians pinned at enrolment (enrolled: {enrolled}; found: {found}); no share was opened and the HSM PIN was not rebuilt. If the HSM driver was upgraded on purpose, M custodians re-pin it with `airlock enroll --replace --repin-module`; otherwise treat the workstation as tampered with"
    )]
    NotPinned {
        /// What differs (module path, module SHA-256, token).
        what: &'static str,
        /// What the roster pins.
        enrolled: String,
        /// What was found.
        found: String,
    },
    /// The roster was written by an Airlock that did not pin the module.
    #[error(
        "{origin}: this roster ({format}) was enrolled by an earlier Airlock that did not pin the PKCS#11 module and token; re-enrol: move roster.json aside and run `airlock enroll` with the security officer and every custodian (docs/quorum.md)"
    )]
    RosterOutdated {
        /// Where the roster came from.
        origin: String,
        /// Its format.
        format: &'static str,
    },
    /// The authenticated custodians' shares rebuild a PIN that does not
    /// match the roster's check value.
    #[error(
        "the shares of {who} rebuild a PIN that does not match the roster's check value: a sealed share was replaced by someone who knew that custodian's passphrase, or the roster was edited. No HSM login was attempted; restore roster.json from its backup or re-enrol"
    )]
    SharesInconsistent {
        /// The custodians whose shares were combined.
        who: String,
    },
    /// The roster file could not be read.
    #[error("cannot read the roster {path}: {source}")]
    RosterRead {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The roster file could not be written.
    #[error("cannot write the roster {path}: {source}")]
    RosterWrite {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A roster already exists where a new one was to be written.
    #[error(
        "a roster already exists at {path}; to replace its custodians use re-enrolment, which needs a quorum of the current ones"
    )]
    RosterExists {
        /// The file.
        path: PathBuf,
    },
}

impl ExitClass for QuorumError {
    fn exit_code(&self) -> ExitCode {
        use QuorumError::*;
        match self {
            ThresholdOutOfRange { .. }
            | InvalidCustodianName { .. }
            | DuplicateCustodian { .. }
            | PassphrasePolicy { .. }
            | PassphraseReused { .. }
            | UnknownCustodian { .. }
            | WrongPassphrase { .. }
            | LockedOut { .. }
            | QuorumNotMet { .. } => ExitCode::Quorum,
            RosterMissing { .. }
            | RosterTooLarge { .. }
            | RosterInvalid { .. }
            | RosterTampered { .. }
            | RosterOutdated { .. }
            | SharesInconsistent { .. }
            | RosterExists { .. } => ExitCode::Roster,
            NotPinned { .. } => ExitCode::HsmNotPinned,
            RosterRead { .. } | RosterWrite { .. } => ExitCode::Io,
            Random(_) | PinFormat { .. } | KdfParams { .. } => ExitCode::Internal,
        }
    }
}
