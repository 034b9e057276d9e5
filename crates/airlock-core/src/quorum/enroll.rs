//! Enrolment and re-enrolment: collect custodians and their passphrases,
//! check the passphrase policy (distinct passphrases compared in memory,
//! in constant time), split the user PIN into N Shamir shares with
//! threshold M, and seal each share under its custodian's passphrase into a
//! new [`Roster`]. Re-enrolment needs a satisfied [`QuorumLogin`] of the
//! current roster first.

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::passphrase::{check_passphrase_policy, same_passphrase};
use super::pin::{check_pin_format, generate_user_pin, os_random, pin_check};
use super::roster::{Pinned, ROSTER_ID_LEN, Roster, SealedShare};
use super::seal::{KdfParams, ShareBinding, seal_share};
use super::shamir::split;
use super::{CustodianName, MAX_CUSTODIANS, MIN_THRESHOLD, QuorumError, QuorumLogin};

/// Custodians being enrolled, with their passphrases (held in `Zeroizing`
/// until [`Enrollment::build`] seals the shares, then wiped).
pub struct Enrollment {
    threshold: usize,
    custodians: Vec<(CustodianName, Zeroizing<String>)>,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.custodians.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Enrollment")
            .field("threshold", &self.threshold)
            .field("custodians", &names)
            .finish_non_exhaustive()
    }
}

impl Enrollment {
    /// Starts an enrolment with threshold M (2 <= M <= 10).
    pub fn new(threshold: usize) -> Result<Self, QuorumError> {
        if !(MIN_THRESHOLD..=MAX_CUSTODIANS).contains(&threshold) {
            return Err(QuorumError::ThresholdOutOfRange {
                threshold,
                custodians: 0,
            });
        }
        Ok(Enrollment {
            threshold,
            custodians: Vec::new(),
        })
    }

    /// Adds a custodian: checks the name (rule, unique ignoring case), the
    /// passphrase policy, and that no custodian already added chose the
    /// same passphrase.
    pub fn add_custodian(
        &mut self,
        name: &str,
        passphrase: Zeroizing<String>,
    ) -> Result<&mut Self, QuorumError> {
        let name = CustodianName::parse(name)?;
        if self.custodians.iter().any(|(n, _)| n.same_person(&name)) {
            return Err(QuorumError::DuplicateCustodian {
                name: name.to_string(),
            });
        }
        if self.custodians.len() >= MAX_CUSTODIANS {
            return Err(QuorumError::ThresholdOutOfRange {
                threshold: self.threshold,
                custodians: self.custodians.len() + 1,
            });
        }
        check_passphrase_policy(&name, &passphrase)?;
        // Compare against every earlier candidate (no early exit, so the
        // time taken does not say which one matched).
        let mut reused: Option<&CustodianName> = None;
        for (other, theirs) in &self.custodians {
            if same_passphrase(&passphrase, theirs) && reused.is_none() {
                reused = Some(other);
            }
        }
        if let Some(other) = reused {
            return Err(QuorumError::PassphraseReused {
                custodian: name.to_string(),
                other: other.to_string(),
            });
        }
        self.custodians.push((name, passphrase));
        Ok(self)
    }

    /// The threshold M.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The custodians added so far, in order.
    pub fn custodian_names(&self) -> Vec<CustodianName> {
        self.custodians.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Splits `pin` into one share per custodian and seals each under its
    /// custodian's passphrase with Argon2id `kdf` (which must lie within
    /// [`KdfParams::floor`] and [`KdfParams::CEILING`]), producing a new
    /// roster with a fresh random id that pins `pinned` (module, token,
    /// policy). Runs Argon2id once per custodian. Nothing is written to
    /// disk.
    pub fn build(
        self,
        pin: &Zeroizing<String>,
        pinned: Pinned,
        kdf: KdfParams,
    ) -> Result<Roster, QuorumError> {
        let n = self.custodians.len();
        if n < self.threshold || n > MAX_CUSTODIANS {
            return Err(QuorumError::ThresholdOutOfRange {
                threshold: self.threshold,
                custodians: n,
            });
        }
        kdf.check_bounds(&KdfParams::floor())
            .map_err(|reason| QuorumError::KdfParams {
                what: format!("{kdf:?}"),
                reason,
            })?;
        check_pin_format(pin.as_bytes())?;
        let mut id = [0u8; ROSTER_ID_LEN];
        os_random(&mut id)?;
        let shares = split(pin.as_bytes(), self.threshold, n)?;
        let check = pin_check(&id, pin.as_bytes());
        let mut custodians = Vec::with_capacity(n);
        for ((name, passphrase), share) in self.custodians.iter().zip(&shares) {
            let binding = |salt: &[u8]| {
                ShareBinding {
                    roster_id: &id,
                    pinned: &pinned,
                    custodian: name.as_str(),
                    threshold: self.threshold as u8,
                    custodians: n as u8,
                    share_index: share.index(),
                    pin_check: &check,
                    kdf,
                    salt,
                }
                .associated_data()
            };
            let sealed = seal_share(share.bytes(), passphrase.as_bytes(), binding, kdf)?;
            custodians.push(SealedShare {
                name: name.clone(),
                share_index: share.index(),
                kdf,
                sealed,
            });
        }
        let roster = Roster {
            id,
            created_at: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            threshold: self.threshold as u8,
            pinned,
            pin_check: check,
            custodians,
        };
        Ok(roster)
    }
}

/// Whether re-enrolment keeps the current PIN or makes a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRotation {
    /// New shares of the same PIN; nothing changes on the token.
    KeepCurrent,
    /// A fresh PIN, which the caller must set on the token (C_SetPIN with
    /// `current_pin`, or C_InitPIN as SO) before the new roster replaces
    /// the old one.
    Fresh,
}

/// The result of a re-enrolment. Holds secrets: `Debug` shows names only.
pub struct Reenrollment {
    /// The new roster (fresh id, same token), not yet written.
    pub roster: Roster,
    /// The PIN the token has now (rebuilt by the quorum).
    pub current_pin: Zeroizing<String>,
    /// The PIN the new roster shares, when [`PinRotation::Fresh`].
    pub new_pin: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Reenrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reenrollment")
            .field("roster", &self.roster.id_hex())
            .field("pin_rotated", &self.new_pin.is_some())
            .finish_non_exhaustive()
    }
}

/// Replaces the roster's custodians: requires `login` (of the current
/// roster) to be satisfied, rebuilds and checks the current PIN, and
/// builds a new roster from `next` that pins `pinned` (the current roster's
/// pins, or a new module after an HSM driver upgrade the quorum agreed
/// to), sharing either the same PIN or a fresh one.
pub fn reenroll(
    login: QuorumLogin,
    next: Enrollment,
    kdf: KdfParams,
    rotation: PinRotation,
    pinned: Pinned,
) -> Result<Reenrollment, QuorumError> {
    let token = pinned;
    let current_pin = login.rebuild_pin()?;
    let new_pin = match rotation {
        PinRotation::KeepCurrent => None,
        PinRotation::Fresh => Some(generate_user_pin()?),
    };
    let roster = next.build(new_pin.as_ref().unwrap_or(&current_pin), token, kdf)?;
    Ok(Reenrollment {
        roster,
        current_pin,
        new_pin,
    })
}
