//! The one test kit every Airlock test binary shares: where the repository
//! and its test-only keys are, the custodians' test passphrases, and the
//! modules below (running the binary, request bundles, workbenches, PDFs
//! read back, journals read back, a sample attestation input, the AWS side of a wrap, and,
//! with the feature `gui`, driving the desktop app).
//!
//! The `airlock` binary's path is known only inside airlock-app's test
//! crate (`CARGO_BIN_EXE_airlock`), so whatever runs it takes that path:
//! tests pass [`airlock_bin!()`](airlock_bin), which expands there.
//!
//! airlock-app, airlock-hsm and airlock-attest take the kit as a
//! dev-dependency although the kit depends on them: only their integration
//! tests use it, and those link the same library the kit links, so there is
//! one copy of each type (their unit tests do not use the kit).

use std::path::{Path, PathBuf};

pub mod attestation;
pub mod bench;
pub mod bundle;
#[cfg(feature = "gui")]
pub mod gui;
pub mod journal;
pub mod pdf;
pub mod run;
pub mod wrapping;

pub use airlock_hsm::testing::{TestToken, TokenKind};
pub use bench::{TokenlessBench, Workbench};
pub use bundle::{Wrapping, make_request_bundle, request_digest};
pub use journal::{journal_entries, journal_events, last_journal_event};
pub use run::{assert_exit, assert_ok, bare, run_bare, sh, text};

/// The path of the `airlock` binary under test; expands in the caller, so
/// it works only in airlock-app's integration tests.
#[macro_export]
macro_rules! airlock_bin {
    () => {
        ::core::env!("CARGO_BIN_EXE_airlock")
    };
}

/// The custodians the ready-made workbenches enrol (threshold 2) and their
/// passphrases, as [`passphrase_of`] gives them.
pub const CUSTODIANS: [(&str, &str); 2] = [
    ("alice", "alice has a long test passphrase"),
    ("bob", "bob has a long test passphrase"),
];

/// A custodian's test passphrase (what their passphrase file holds).
pub fn passphrase_of(name: &str) -> String {
    format!("{name} has a long test passphrase")
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A test-only key from `tests/fixtures/test-only-keys`.
pub fn fixture_key(name: &str) -> PathBuf {
    repo().join("tests/fixtures/test-only-keys").join(name)
}
