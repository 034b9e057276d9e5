//! Why a ceremony step refused or failed. Each variant carries what went
//! wrong and where; the wrapped engine errors already say what to do.

use std::path::PathBuf;

use airlock_core::exit::{ExitClass, ExitCode};

/// A ceremony error.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] airlock_core::config::ConfigError),
    /// The request bundle.
    #[error(transparent)]
    Request(#[from] airlock_core::request::RequestError),
    /// The trust store.
    #[error(transparent)]
    Trust(#[from] airlock_core::trust::TrustError),
    /// The HSM.
    #[error(transparent)]
    Hsm(#[from] airlock_hsm::HsmError),
    /// Quorum or roster.
    #[error(transparent)]
    Quorum(#[from] airlock_core::quorum::QuorumError),
    /// The journal.
    #[error(transparent)]
    Journal(#[from] airlock_core::journal::JournalError),
    /// Staging or publishing the output.
    #[error(transparent)]
    Output(#[from] airlock_core::staged_dir::StagedDirError),
    /// The attestation could not be built or written.
    #[error(transparent)]
    Attestation(#[from] airlock_attest::AttestError),
    /// The bundle written did not verify when read back.
    #[error("read-back of the staged bundle failed, nothing was published: {0}")]
    ReadBack(#[source] airlock_core::import_bundle::ImportBundleError),
    /// A file operation, with its path.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A network interface is up and the override was not given.
    #[error(
        "the workstation is not air-gapped: {interfaces}; \
         unplug or disable those interfaces, or (for a rehearsal only) pass --allow-network, which is \
         journaled and printed as NOT AIR-GAPPED"
    )]
    NotAirGapped {
        /// Why, in a sentence naming the interfaces that are up (the air-gap
        /// check's reason, or what changed since the last check).
        interfaces: String,
    },
    /// The request was already completed by an earlier ceremony.
    #[error(
        "request {request_id} was already completed by ceremony {ceremony_id} (bundle at {out}); \
         its import tokens are spent on one bundle: ask the online side for a new request"
    )]
    AlreadyCompleted {
        /// The request.
        request_id: String,
        /// The ceremony that completed it.
        ceremony_id: String,
        /// Where its bundle went.
        out: PathBuf,
    },
    /// A generate-key label exists in the HSM but this ceremony did not
    /// create it.
    #[error(
        "key {name}: the HSM already holds an object labelled {label:?} that no unfinished ceremony \
         for this request created; Airlock never overwrites or reuses unknown keys. Inspect it with \
         the HSM's tools and destroy or relabel it, or ask the online side for a new request_id"
    )]
    LabelTaken {
        /// The key name.
        name: String,
        /// The label.
        label: String,
    },
    /// `material.source = existing` names a label the HSM does not hold.
    #[error(
        "key {name}: material.source is \"existing\" but the HSM holds no {spec} key labelled {label:?}"
    )]
    ExistingMissing {
        /// The key name.
        name: String,
        /// The label.
        label: String,
        /// The expected key spec.
        spec: airlock_core::spec::KeySpec,
    },
    /// The HSM's ceremony signing key is not the enrolled one.
    #[error(
        "the HSM's ceremony signing key (fingerprint {found}) is not the one enrolled in {enrolled} \
         ({expected}); this is not the enrolled HSM, or the key was replaced: stop and investigate"
    )]
    SigningKeyMismatch {
        /// The enrolled PEM's path.
        enrolled: PathBuf,
        /// Its fingerprint.
        expected: String,
        /// The HSM key's fingerprint.
        found: String,
    },
    /// A step was asked for before the steps it needs.
    #[error("cannot {step} yet: {needs} first")]
    OutOfOrder {
        /// The step asked for.
        step: &'static str,
        /// What must happen before.
        needs: &'static str,
    },
    /// Workstation state is not what the HSM sealed.
    #[error(transparent)]
    State(#[from] airlock_core::state_seal::SealError),
    /// A key object is not bound to what the request asks of it, or the
    /// quorum's policy forbids what the request asks.
    #[error("key {name}: {problem}")]
    KeyBinding {
        /// The key name in the request (or the label).
        name: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A ceremony signing key was already in the token at first enrolment.
    #[error(
        "token {label:?} already holds a ceremony signing key ({fingerprint}) although nothing was enrolled on this workstation;          Airlock does not adopt a key it did not see being made. Nothing was enrolled (the user PIN was reset).          If this key was made inside this token by an earlier enrolment that you trust, re-run with --adopt-signing-key          (journaled); otherwise remove it with the security officer"
    )]
    SigningKeyPreexisting {
        /// The token.
        label: String,
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// The `existing` material of a key was not confirmed by the custodians.
    #[error(
        "key {name}: re-wrapping existing HSM material {label:?} needs its own confirmation; nothing was wrapped.          Confirm it with --confirm-existing {name}={code} after checking the label, the original ARN and the new wrapping key"
    )]
    ExistingNotConfirmed {
        /// The key name.
        name: String,
        /// The label.
        label: String,
        /// What the custodians must type back (the KCV or public key hash prefix).
        code: String,
    },
    /// Memory could not be locked and the override was not given.
    #[error("{reason}")]
    MemoryNotLocked {
        /// What, why and what to do.
        reason: String,
    },
    /// The request digest the custodians typed (or `--request-digest`) is
    /// not this request's.
    #[error(
        "the request digest given ({given}) is not the SHA-256 of this request's SHA256SUMS ({expected}); \
         nothing was logged in to. Compare the digest the online operator read out with the one printed here: \
         a mismatch means the medium does not hold the request that was prepared; keep it as evidence"
    )]
    RequestDigestMismatch {
        /// What was given (normalised hex, or a note when it was not hex).
        given: String,
        /// This request's digest.
        expected: String,
    },
    /// Another Airlock process holds the ceremony lock of the state
    /// directory or of the token.
    #[error(
        "{holder} is running (pid {pid}) and holds the lock of the {what} ({lock}); one ceremony at a time \
         uses a state directory and a token. Let it finish, or stop it (Ctrl-C in its terminal, or close its window) \
         and run `airlock ceremony status`; nothing was logged in to"
    )]
    CeremonyRunning {
        /// "ceremony ID", or "another ceremony (still starting)" before the
        /// holder has read its request.
        holder: String,
        /// The holder's process id, as it wrote it ("unknown" if unreadable).
        pid: String,
        /// "state directory" or "token SERIAL".
        what: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The output folder cannot take the bundle (checked before the login).
    #[error(
        "the output folder {path} cannot be used: {problem}; nothing was logged in to or generated"
    )]
    OutputFolder {
        /// The folder asked for.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A custodian who authenticated has not confirmed the plan.
    #[error(
        "the plan was not confirmed by {who}; every custodian who logs in reads the plan and confirms it first \
         (type yes at the prompt, or give --request-digest HEX in a headless run)"
    )]
    PlanNotConfirmed {
        /// Who has not confirmed.
        who: String,
    },
    /// The bundle digest given does not match the published bundle.
    #[error(
        "the bundle digest given is not the published bundle's ({expected}); read it again from the screen; \
         nothing was wiped"
    )]
    BundleDigestMismatch {
        /// The published bundle's digest.
        expected: String,
    },
    /// Generation stopped between keys because an abort was asked for.
    #[error(
        "stopped after key {done} of {total} as asked; the abort path runs next \
         (keys already generated stay in the HSM: rerun the same request to reuse them, or discard them with `airlock ceremony discard`)"
    )]
    Stopped {
        /// Keys finished.
        done: usize,
        /// Keys in the request.
        total: usize,
    },
    /// `ceremony discard` of a ceremony that cannot be discarded.
    #[error("ceremony {ceremony_id} cannot be discarded: {why}")]
    NotDiscardable {
        /// The ceremony.
        ceremony_id: String,
        /// Why, and what to do.
        why: String,
    },
    /// The roster belongs to another token.
    #[error(
        "the custodian roster was enrolled for token {roster_token} but the configured token is {token}; \
         check [hsm] token in airlock.toml"
    )]
    RosterTokenMismatch {
        /// The roster's token.
        roster_token: String,
        /// The configured token.
        token: String,
    },
}

impl CeremonyError {
    /// Wraps an I/O error with what was being done and where.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CeremonyError::Io { what, path, source }
    }
}

impl ExitClass for CeremonyError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CeremonyError::Config(e) => e.exit_code(),
            CeremonyError::Request(e) => e.exit_code(),
            CeremonyError::Trust(e) => e.exit_code(),
            CeremonyError::Hsm(e) => e.exit_code(),
            CeremonyError::Quorum(e) => e.exit_code(),
            CeremonyError::Journal(e) => e.exit_code(),
            CeremonyError::Output(e) => e.exit_code(),
            CeremonyError::Attestation(e) => e.exit_code(),
            CeremonyError::ReadBack(_) => ExitCode::Ceremony,
            CeremonyError::Io { .. } => ExitCode::Io,
            CeremonyError::NotAirGapped { .. } => ExitCode::NotAirGapped,
            CeremonyError::AlreadyCompleted { .. }
            | CeremonyError::LabelTaken { .. }
            | CeremonyError::ExistingMissing { .. }
            | CeremonyError::OutOfOrder { .. } => ExitCode::Ceremony,
            CeremonyError::SigningKeyMismatch { .. } => ExitCode::Signature,
            CeremonyError::RosterTokenMismatch { .. } => ExitCode::HsmNotPinned,
            CeremonyError::State(e) => e.exit_code(),
            CeremonyError::KeyBinding { .. } | CeremonyError::SigningKeyPreexisting { .. } => {
                ExitCode::KeyBinding
            }
            CeremonyError::ExistingNotConfirmed { .. } => ExitCode::Cancelled,
            CeremonyError::MemoryNotLocked { .. } => ExitCode::Ceremony,
            CeremonyError::RequestDigestMismatch { .. } => ExitCode::RequestDigestMismatch,
            CeremonyError::CeremonyRunning { .. } => ExitCode::CeremonyRunning,
            CeremonyError::OutputFolder { .. } => ExitCode::Ceremony,
            CeremonyError::PlanNotConfirmed { .. } => ExitCode::Cancelled,
            CeremonyError::BundleDigestMismatch { .. } => ExitCode::Cancelled,
            CeremonyError::Stopped { .. } => ExitCode::Cancelled,
            CeremonyError::NotDiscardable { .. } => ExitCode::Ceremony,
        }
    }
}
