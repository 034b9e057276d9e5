//! Documented process exit codes, one per class of refusal, so that scripts
//! and the tests outside this repository can tell failures apart without
//! parsing text. `docs/exit-codes.md` is the operator's copy of this table;
//! keep the two in step.

/// A class of outcome with a stable, documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// Success.
    Ok = 0,
    /// An unexpected internal error (a bug): report it.
    Internal = 1,
    /// The command line was wrong (clap's own code).
    Usage = 2,
    /// `airlock.toml` is missing or invalid.
    Config = 3,
    /// A file could not be read or written (permissions, disk full, ...).
    Io = 4,
    /// The operator cancelled (declined a confirmation).
    Cancelled = 5,

    /// Bundle layout or path safety: symlinks, special files, traversal,
    /// files missing from or extra to `SHA256SUMS`, size limits.
    BundleLayout = 10,
    /// `SHA256SUMS` is malformed or a digest does not match.
    Checksums = 11,
    /// The signature does not verify, or the signer is not enrolled.
    Signature = 12,
    /// `request.json` / `import.json` does not match the schema.
    Schema = 13,
    /// The key spec / wrapping algorithm pair is not allowed (incl. SHA-1
    /// without `--allow-sha1`).
    WrappingMatrix = 14,
    /// A wrapping public key is not a DER RSA SPKI of the stated size with
    /// e = 65537.
    WrappingKey = 15,
    /// A key ARN does not match the bundle's account or region.
    ArnMismatch = 16,
    /// Duplicate key names, ARNs or aliases.
    Duplicate = 17,
    /// The import parameters have expired by the workstation clock.
    Expired = 18,
    /// Trust store problem (unknown signer, duplicate name, bad PEM).
    Trust = 20,

    /// PKCS#11 module or token could not be opened or selected.
    HsmUnavailable = 30,
    /// The token lacks a capability or failed a known-answer self-test.
    HsmCapability = 31,
    /// A PKCS#11 operation failed mid-way.
    HsmOperation = 32,
    /// The PKCS#11 module or token is not the one the quorum pinned.
    HsmNotPinned = 33,
    /// An HSM object is not bound to what the request asks of it (another
    /// KMS key, another request, not born in the HSM, not sensitive), or
    /// the quorum's policy does not allow it.
    KeyBinding = 34,

    /// Quorum not met or a custodian failed to authenticate.
    Quorum = 40,
    /// The custodian roster is missing, invalid or tampered with.
    Roster = 41,

    /// The ceremony refused to start or could not finish (output exists,
    /// export or read-back failed, unfinished ceremony in the way).
    Ceremony = 50,
    /// The workstation is not air-gapped and `--allow-network` was not given.
    NotAirGapped = 51,
    /// A journal's hash chain is broken.
    Journal = 52,
    /// An import bundle does not verify.
    ImportBundle = 53,
    /// Workstation state (trust store, ceremony record, journal) is not
    /// authenticated by the HSM: edited, forged, truncated or unsealed.
    StateNotAuthenticated = 54,
    /// The request digest typed or given with `--request-digest` is not the
    /// digest of the request bundle on the medium (refused before login).
    RequestDigestMismatch = 55,
    /// Another ceremony holds the state directory or the token (its
    /// ceremony id and process id are in the message).
    CeremonyRunning = 56,
    /// Building or printing the attestation failed.
    Attestation = 60,

    /// Interrupted (Ctrl-C / SIGINT): the abort path ran and was journaled.
    Interrupted = 130,
}

impl ExitCode {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Implemented by every error that can end a command, to pick its code.
pub trait ExitClass {
    /// The exit code this error ends the process with.
    fn exit_code(&self) -> ExitCode;
}
