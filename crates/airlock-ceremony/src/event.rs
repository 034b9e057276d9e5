//! What a running ceremony reports to its face: the CLI prints these as
//! progress lines (or JSON lines with `--json`), the desktop app shows them.
//! Events carry no secrets.

use serde::Serialize;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Preflight finished.
    Preflight {
        /// Workstation hostname.
        hostname: String,
        /// Workstation clock (UTC).
        clock: String,
        /// True when only loopback is up.
        air_gapped: bool,
        /// Non-loopback interfaces that are up.
        interfaces_up: Vec<String>,
        /// The token.
        token: String,
    },
    /// The request verified.
    RequestVerified {
        /// Its id.
        request_id: String,
        /// Number of keys.
        keys: usize,
        /// SHA-256 of its SHA256SUMS.
        sums_sha256: String,
        /// The signer.
        signer: String,
        /// Warnings to show.
        warnings: Vec<String>,
    },
    /// An unfinished ceremony for this request is being resumed.
    Resumed {
        /// Its id.
        ceremony_id: String,
    },
    /// A custodian authenticated.
    CustodianAuthenticated {
        /// Who.
        custodian: String,
        /// How many count now.
        have: usize,
        /// How many are needed.
        need: usize,
    },
    /// The quorum logged in to the HSM and the self-tests passed.
    LoggedIn {
        /// The custodians.
        custodians: Vec<String>,
        /// Wrap path per algorithm.
        wrap_paths: Vec<String>,
    },
    /// One key is being worked on.
    KeyStarted {
        /// 1-based position.
        index: usize,
        /// Number of keys.
        total: usize,
        /// Key name.
        name: String,
    },
    /// One key is generated (or found) and wrapped.
    KeyDone {
        /// 1-based position.
        index: usize,
        /// Number of keys.
        total: usize,
        /// Key name.
        name: String,
        /// `generated`, `resumed` or `existing`.
        origin: String,
        /// KCV for AES keys.
        kcv: Option<String>,
        /// The wrap path used.
        wrap_path: String,
    },
    /// The bundle was sealed, read back, verified and published.
    Exported {
        /// Where.
        path: String,
        /// SHA-256 of its SHA256SUMS.
        sums_sha256: String,
    },
    /// The wipe finished.
    Wiped {
        /// Files overwritten and removed.
        files: u64,
        /// Bytes overwritten.
        bytes: u64,
        /// HSM session objects destroyed at close.
        session_objects_destroyed: usize,
        /// HSM session objects remaining (must be 0).
        session_objects_remaining: usize,
    },
}
