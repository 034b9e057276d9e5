//! The two-person (M of N) quorum, without the HSM: the user PIN is
//! random and never shown; it is split into N Shamir shares (threshold M),
//! each sealed under one custodian's passphrase (Argon2id + XChaCha20-
//! Poly1305) in the roster; a [`QuorumLogin`] unseals the shares of M
//! distinct custodians and rebuilds the PIN for the caller's C_Login.
//! `docs/quorum.md` describes the scheme and its threat model.
//!
//! Flow for the caller (the CLI/engine, which owns the HSM):
//! - enrol: [`generate_user_pin`], set it on the token (C_InitPIN), then
//!   [`Enrollment::new`] / [`Enrollment::add_custodian`] /
//!   [`Enrollment::build`], then [`Roster::write_new`];
//! - log in: [`Roster::load`], [`QuorumLogin::new`],
//!   [`QuorumLogin::authenticate`] per custodian,
//!   [`QuorumLogin::rebuild_pin`], C_Login, drop the PIN;
//! - re-enrol: a satisfied login of the current roster, then [`reenroll`]
//!   and [`Roster::replace`].

mod enroll;
mod error;
mod login;
mod name;
mod passphrase;
mod pin;
mod roster;
mod seal;
mod shamir;
mod store;

#[cfg(test)]
mod tests;

pub use enroll::{Enrollment, PinRotation, Reenrollment, reenroll};
pub use error::QuorumError;
pub use login::{AuthOutcome, MAX_WRONG_PASSPHRASES, QuorumLogin, name_hash};
pub use name::{CustodianName, RESERVED_ACTOR};
pub use passphrase::{MAX_PASSPHRASE_BYTES, MIN_PASSPHRASE_CHARS, check_passphrase_policy};
pub use pin::{PIN_ALPHABET, PIN_LEN, generate_user_pin};
pub use roster::{
    MAX_ROSTER_BYTES, ModuleRef, Pinned, ROSTER_FILE_NAME, ROSTER_FORMAT, ROSTER_FORMAT_UNPINNED,
    Roster, RosterFile, RosterPolicy, SEALED_SHARE_LEN, SealedShare, TokenRef,
};
pub use seal::KdfParams;

/// The smallest threshold M.
pub const MIN_THRESHOLD: usize = 2;
/// The most custodians N a roster may have.
pub const MAX_CUSTODIANS: usize = 10;
