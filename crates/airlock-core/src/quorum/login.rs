//! [`QuorumLogin`]: one quorum login, for one session or command. Each
//! custodian's passphrase unseals their own share; a wrong passphrase is
//! reported for that custodian and never reaches the HSM. The same
//! custodian twice counts once. Three wrong passphrases in a row lock a
//! custodian out of this login (a new login, i.e. a new command or session,
//! starts afresh; the HSM's own retry counter is never touched). Only when M
//! distinct custodians have authenticated can the PIN be rebuilt, and it is
//! checked against the roster's PIN check value before it is handed out.

use std::collections::HashMap;

use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::pin::{PIN_LEN, check_pin_format, pin_check};
use super::roster::{ModuleRef, Pinned, Roster, SealedShare, TokenRef};
use super::seal::{UnsealFailure, unseal_share};
use super::shamir::{Share, combine};
use super::{CustodianName, QuorumError};

/// The first 16 hex digits of the SHA-256 of a name as typed: what errors
/// and journals show of a name that is not on the roster.
pub fn name_hash(typed: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(typed.trim().as_bytes())[..8])
}

/// Wrong passphrases in a row that lock a custodian out of a login.
pub const MAX_WRONG_PASSPHRASES: u32 = 3;

/// What one successful [`QuorumLogin::authenticate`] call achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The custodian's share was unsealed and now counts.
    Accepted {
        /// The custodian, spelled as on the roster.
        custodian: CustodianName,
        /// Distinct custodians authenticated so far.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// The custodian had already authenticated in this login; they still
    /// count once. The passphrase was not checked again.
    AlreadyCounted {
        /// The custodian, spelled as on the roster.
        custodian: CustodianName,
        /// Distinct custodians authenticated so far.
        have: usize,
        /// The threshold.
        need: usize,
    },
}

impl AuthOutcome {
    /// True when the quorum is now met.
    pub fn is_satisfied(&self) -> bool {
        match self {
            AuthOutcome::Accepted { have, need, .. }
            | AuthOutcome::AlreadyCounted { have, need, .. } => have >= need,
        }
    }
}

/// A quorum login in progress against one roster.
pub struct QuorumLogin {
    /// A copy of the roster, so a login can live as long as its ceremony.
    roster: Roster,
    /// What the shares' associated data binds: the module and token found
    /// on the workstation ([`QuorumLogin::for_hsm`]) or the roster's own.
    pinned: Pinned,
    /// Unsealed shares, by position in the roster.
    shares: Vec<(usize, Share)>,
    /// Who authenticated, and when, in order (public).
    authenticated: Vec<(CustodianName, OffsetDateTime)>,
    /// Wrong passphrases in a row, by position in the roster.
    wrong_in_a_row: HashMap<usize, u32>,
}

impl std::fmt::Debug for QuorumLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumLogin")
            .field("roster", &self.roster.id_hex())
            .field("authenticated", &self.authenticated)
            .field("need", &self.roster.threshold())
            .finish_non_exhaustive()
    }
}

impl QuorumLogin {
    /// Starts a login against `roster` that binds the roster's own pinned
    /// module and token (re-pinning after an HSM driver upgrade, and tests
    /// without a token); nobody has authenticated yet. A login that leads
    /// to `C_Login` uses [`QuorumLogin::for_hsm`].
    pub fn new(roster: &Roster) -> Self {
        Self::binding(roster, roster.pinned().clone())
    }

    /// Starts a login for the module and token found on the workstation:
    /// refused at once (before any passphrase is tried) when they differ
    /// from what the roster pins, and the shares' associated data is built
    /// from what was found, so a changed module or token also makes every
    /// share refuse to open.
    pub fn for_hsm(
        roster: &Roster,
        token: &TokenRef,
        module: &ModuleRef,
    ) -> Result<Self, QuorumError> {
        roster.check_pinned(token, module)?;
        Ok(Self::binding(
            roster,
            Pinned {
                token: token.clone(),
                module: module.clone(),
                policy: roster.policy(),
            },
        ))
    }

    fn binding(roster: &Roster, pinned: Pinned) -> Self {
        QuorumLogin {
            pinned,
            roster: roster.clone(),
            shares: Vec::new(),
            authenticated: Vec::new(),
            wrong_in_a_row: HashMap::new(),
        }
    }

    /// The roster this login is against.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Authenticates one custodian: unseals their share with `passphrase`
    /// (one Argon2id run). Errors name the custodian: unknown name, wrong
    /// passphrase (with the tries left), locked out, or a tampered roster
    /// entry. A custodian who already counts is not checked again.
    pub fn authenticate(
        &mut self,
        name: &str,
        passphrase: &Zeroizing<String>,
    ) -> Result<AuthOutcome, QuorumError> {
        let Some(pos) = self.position(name) else {
            return Err(QuorumError::UnknownCustodian {
                name_sha256: name_hash(name),
                enrolled: self.roster.names_list(),
            });
        };
        let entry: &SealedShare = &self.roster.custodians[pos];
        let custodian = entry.name.clone();
        if self.shares.iter().any(|(p, _)| *p == pos) {
            return Ok(AuthOutcome::AlreadyCounted {
                custodian,
                have: self.shares.len(),
                need: self.roster.threshold(),
            });
        }
        let wrong = self.wrong_in_a_row.entry(pos).or_insert(0);
        if *wrong >= MAX_WRONG_PASSPHRASES {
            return Err(QuorumError::LockedOut {
                custodian: custodian.to_string(),
                attempts: *wrong,
            });
        }
        let ad = self
            .roster
            .binding(&self.pinned, entry, &entry.sealed.salt)
            .associated_data();
        match unseal_share(&entry.sealed, passphrase.as_bytes(), &ad, entry.kdf)? {
            Err(UnsealFailure::WrongPassphrase) => {
                *wrong += 1;
                if *wrong >= MAX_WRONG_PASSPHRASES {
                    Err(QuorumError::LockedOut {
                        custodian: custodian.to_string(),
                        attempts: *wrong,
                    })
                } else {
                    Err(QuorumError::WrongPassphrase {
                        custodian: custodian.to_string(),
                        tries_left: MAX_WRONG_PASSPHRASES - *wrong,
                    })
                }
            }
            Err(UnsealFailure::Tampered) => Err(QuorumError::RosterTampered {
                custodian: custodian.to_string(),
                what: "the sealed share does not match the roster's id, pinned module, token or policy, name, threshold, custodian count, share index or KDF parameters",
            }),
            Ok(plain) => {
                if plain.len() != 1 + PIN_LEN || plain[0] != entry.share_index {
                    return Err(QuorumError::RosterTampered {
                        custodian: custodian.to_string(),
                        what: "the unsealed share has the wrong length or index",
                    });
                }
                *wrong = 0;
                self.shares.push((pos, Share::from_bytes(plain)));
                self.authenticated
                    .push((custodian.clone(), OffsetDateTime::now_utc()));
                Ok(AuthOutcome::Accepted {
                    custodian,
                    have: self.shares.len(),
                    need: self.roster.threshold(),
                })
            }
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        let found = self.roster.find(name)?;
        self.roster
            .custodians
            .iter()
            .position(|c| std::ptr::eq(c, found))
    }

    /// Who has authenticated, and when (UTC), in order. Public information.
    pub fn authenticated(&self) -> Vec<(CustodianName, OffsetDateTime)> {
        self.authenticated.clone()
    }

    /// True when M distinct custodians have authenticated.
    pub fn is_satisfied(&self) -> bool {
        self.shares.len() >= self.roster.threshold()
    }

    /// How many more custodians must authenticate.
    pub fn remaining(&self) -> usize {
        self.roster.threshold().saturating_sub(self.shares.len())
    }

    /// Rebuilds the user PIN from the authenticated custodians' shares and
    /// checks it against the roster's PIN check value. Refused with fewer
    /// than M custodians. The caller hands the PIN to C_Login and drops it.
    pub fn rebuild_pin(self) -> Result<Zeroizing<String>, QuorumError> {
        let who = if self.authenticated.is_empty() {
            "none".to_string()
        } else {
            self.authenticated
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.is_satisfied() {
            return Err(QuorumError::QuorumNotMet {
                have: self.shares.len(),
                need: self.roster.threshold(),
                who,
            });
        }
        let shares: Vec<&Share> = self.shares.iter().map(|(_, s)| s).collect();
        let pin = combine(&shares)?;
        let check = pin_check(&self.roster.id, &pin);
        if check_pin_format(&pin).is_err() || !bool::from(check.ct_eq(&self.roster.pin_check)) {
            return Err(QuorumError::SharesInconsistent { who });
        }
        let mut out = Zeroizing::new(String::with_capacity(PIN_LEN));
        out.extend(pin.iter().map(|&b| b as char));
        Ok(out)
    }
}
