//! Sealing one custodian's share under their passphrase: Argon2id (v1.3,
//! 64-byte output) stretches the passphrase with a per-custodian random
//! 16-byte salt; the first 32 output bytes key XChaCha20-Poly1305 (random
//! 24-byte nonce), the next 16 are stored as a key check so that a wrong
//! passphrase (key check differs) can be told apart from an edited roster
//! (key check matches, AEAD fails). The key check costs an attacker as much
//! per guess as the AEAD tag itself does, so it adds no shortcut.
//!
//! The AEAD's associated data binds the format version, roster id, the
//! pinned token (label, serial, manufacturer, model), the pinned PKCS#11
//! module (path and SHA-256), the quorum's policy, custodian name,
//! threshold, N, share index, PIN check value, Argon2id parameters and
//! salt, so any edit of them — or a different module or token found at
//! login — is detected on unsealing.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::QuorumError;
use super::pin::os_random;

/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// XChaCha20-Poly1305 nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Stored key-check length in bytes.
pub const KEY_CHECK_LEN: usize = 16;
/// Poly1305 tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Argon2id cost parameters, as recorded in the roster for each custodian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What enrolment uses: 64 MiB, 3 passes, 1 lane (about 0.3 s per
    /// custodian on the workstation in a release build; RFC 9106's second
    /// recommended option, and above OWASP's minimum).
    pub const PRODUCTION: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// The least a roster may record when loaded by a production build: a
    /// roster edited to cheaper parameters is refused before any passphrase
    /// is tried against it.
    pub const PRODUCTION_FLOOR: KdfParams = KdfParams::PRODUCTION;

    /// The most a roster may record (so an edited roster cannot make the
    /// workstation allocate unbounded memory): 1 GiB, 16 passes, 8 lanes.
    pub const CEILING: KdfParams = KdfParams {
        m_cost_kib: 1024 * 1024,
        t_cost: 16,
        p_cost: 8,
    };

    /// Fast parameters for tests only (64 KiB, 1 pass). Present only in
    /// unit tests and with the `insecure-test-kdf` feature, which test
    /// builds of other crates enable through their dev-dependencies.
    #[cfg(any(test, feature = "insecure-test-kdf"))]
    pub const INSECURE_TEST: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    /// The floor applied when a roster is loaded: [`Self::PRODUCTION_FLOOR`]
    /// in a production build, [`Self::INSECURE_TEST`] in a test build.
    pub fn floor() -> KdfParams {
        #[cfg(any(test, feature = "insecure-test-kdf"))]
        {
            KdfParams::INSECURE_TEST
        }
        #[cfg(not(any(test, feature = "insecure-test-kdf")))]
        {
            KdfParams::PRODUCTION_FLOOR
        }
    }

    /// The parameters enrolment should use: [`Self::PRODUCTION`], except in
    /// a test build (unit tests or the `insecure-test-kdf` feature) when the
    /// environment sets `AIRLOCK_INSECURE_TEST_KDF=1`, which selects
    /// [`Self::INSECURE_TEST`] so that tests through the binary stay fast.
    /// A production build ignores the variable.
    pub fn for_enrolment() -> KdfParams {
        #[cfg(any(test, feature = "insecure-test-kdf"))]
        if std::env::var_os("AIRLOCK_INSECURE_TEST_KDF").is_some_and(|v| v == "1") {
            return KdfParams::INSECURE_TEST;
        }
        KdfParams::PRODUCTION
    }

    /// Checks these parameters lie between `floor` and [`Self::CEILING`];
    /// the message names the parameter at fault.
    pub fn check_bounds(&self, floor: &KdfParams) -> Result<(), String> {
        let ceil = KdfParams::CEILING;
        for (what, v, lo, hi) in [
            (
                "m_cost_kib",
                self.m_cost_kib,
                floor.m_cost_kib,
                ceil.m_cost_kib,
            ),
            ("t_cost", self.t_cost, floor.t_cost, ceil.t_cost),
            ("p_cost", self.p_cost, floor.p_cost, ceil.p_cost),
        ] {
            if v < lo {
                return Err(format!(
                    "{what} = {v} is below the minimum {lo}: the roster was weakened; restore it from its backup or re-enrol"
                ));
            }
            if v > hi {
                return Err(format!("{what} = {v} is above the maximum {hi}"));
            }
        }
        if self.m_cost_kib < 8 * self.p_cost {
            return Err("m_cost_kib must be at least 8 x p_cost".into());
        }
        Ok(())
    }

    fn argon2(&self) -> Result<Argon2<'static>, QuorumError> {
        let params =
            Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(64)).map_err(|e| {
                QuorumError::KdfParams {
                    what: format!("{self:?}"),
                    reason: e.to_string(),
                }
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Everything the associated data binds a sealed share to.
#[derive(Clone, Copy)]
pub(crate) struct ShareBinding<'a> {
    pub roster_id: &'a [u8],
    pub pinned: &'a super::roster::Pinned,
    pub custodian: &'a str,
    pub threshold: u8,
    pub custodians: u8,
    pub share_index: u8,
    pub pin_check: &'a [u8],
    pub kdf: KdfParams,
    pub salt: &'a [u8],
}

impl ShareBinding<'_> {
    /// The associated data: a version label, then each field length-prefixed
    /// (u32 big-endian) so that no two bindings encode alike.
    pub(crate) fn associated_data(&self) -> Vec<u8> {
        let mut ad = b"airlock-roster/2 sealed-share\0".to_vec();
        let mut field = |bytes: &[u8]| {
            ad.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            ad.extend_from_slice(bytes);
        };
        let p = self.pinned;
        field(self.roster_id);
        field(p.token.label.as_bytes());
        field(p.token.serial.as_bytes());
        field(p.token.manufacturer.as_bytes());
        field(p.token.model.as_bytes());
        field(p.module.path.as_bytes());
        field(p.module.sha256.as_bytes());
        field(&[
            u8::from(p.policy.allow_existing_material),
            u8::from(p.policy.wrap_with_trusted),
        ]);
        field(self.custodian.as_bytes());
        field(&[self.threshold, self.custodians, self.share_index]);
        field(self.pin_check);
        field(&self.kdf.m_cost_kib.to_be_bytes());
        field(&self.kdf.t_cost.to_be_bytes());
        field(&self.kdf.p_cost.to_be_bytes());
        field(self.salt);
        ad
    }
}

/// A share sealed under a passphrase (public: it is what the roster holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedBox {
    pub salt: [u8; SALT_LEN],
    pub nonce: [u8; NONCE_LEN],
    pub key_check: [u8; KEY_CHECK_LEN],
    pub ciphertext: Vec<u8>,
}

/// Why unsealing failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UnsealFailure {
    /// The key check differs: the passphrase is wrong.
    WrongPassphrase,
    /// The key check matches but the AEAD refused: the roster was edited.
    Tampered,
}

struct DerivedKeys {
    aead_key: Zeroizing<[u8; 32]>,
    key_check: [u8; KEY_CHECK_LEN],
}

fn derive(passphrase: &[u8], salt: &[u8], kdf: KdfParams) -> Result<DerivedKeys, QuorumError> {
    let mut out = Zeroizing::new([0u8; 64]);
    kdf.argon2()?
        .hash_password_into(passphrase, salt, out.as_mut())
        .map_err(|e| QuorumError::KdfParams {
            what: format!("{kdf:?}"),
            reason: e.to_string(),
        })?;
    let mut aead_key = Zeroizing::new([0u8; 32]);
    aead_key.copy_from_slice(&out[..32]);
    let mut key_check = [0u8; KEY_CHECK_LEN];
    key_check.copy_from_slice(&out[32..32 + KEY_CHECK_LEN]);
    Ok(DerivedKeys {
        aead_key,
        key_check,
    })
}

/// Seals `plaintext` under `passphrase`. `binding` must carry the salt that
/// is passed here too; [`seal_share`] draws it.
pub(crate) fn seal_share(
    plaintext: &[u8],
    passphrase: &[u8],
    binding_without_salt: impl Fn(&[u8]) -> Vec<u8>,
    kdf: KdfParams,
) -> Result<SealedBox, QuorumError> {
    let mut salt = [0u8; SALT_LEN];
    os_random(&mut salt)?;
    let mut nonce = [0u8; NONCE_LEN];
    os_random(&mut nonce)?;
    let keys = derive(passphrase, &salt, kdf)?;
    let ad = binding_without_salt(&salt);
    let cipher = XChaCha20Poly1305::new((&*keys.aead_key).into());
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &ad,
            },
        )
        .map_err(|_| QuorumError::KdfParams {
            what: "XChaCha20-Poly1305".into(),
            reason: "encryption failed".into(),
        })?;
    Ok(SealedBox {
        salt,
        nonce,
        key_check: keys.key_check,
        ciphertext,
    })
}

/// Unseals a share. Runs Argon2id once.
pub(crate) fn unseal_share(
    sealed: &SealedBox,
    passphrase: &[u8],
    associated_data: &[u8],
    kdf: KdfParams,
) -> Result<Result<Zeroizing<Vec<u8>>, UnsealFailure>, QuorumError> {
    let keys = derive(passphrase, &sealed.salt, kdf)?;
    if !bool::from(keys.key_check.ct_eq(&sealed.key_check)) {
        return Ok(Err(UnsealFailure::WrongPassphrase));
    }
    let cipher = XChaCha20Poly1305::new((&*keys.aead_key).into());
    match cipher.decrypt(
        &XNonce::from(sealed.nonce),
        Payload {
            msg: &sealed.ciphertext,
            aad: associated_data,
        },
    ) {
        Ok(plain) => Ok(Ok(Zeroizing::new(plain))),
        Err(_) => Ok(Err(UnsealFailure::Tampered)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::roster::{ModuleRef, Pinned, RosterPolicy, TokenRef};
    use super::*;

    const FAST: KdfParams = KdfParams::INSECURE_TEST;

    fn ad(salt: &[u8]) -> Vec<u8> {
        let mut v = b"test-ad".to_vec();
        v.extend_from_slice(salt);
        v
    }

    #[test]
    fn round_trip_wrong_passphrase_and_tamper() {
        let sealed = seal_share(b"share bytes", b"correct horse", ad, FAST).unwrap();
        assert_eq!(sealed.ciphertext.len(), 11 + TAG_LEN);
        let ok = unseal_share(&sealed, b"correct horse", &ad(&sealed.salt), FAST).unwrap();
        assert_eq!(&ok.unwrap()[..], b"share bytes");

        let wrong = unseal_share(&sealed, b"correct horsE", &ad(&sealed.salt), FAST).unwrap();
        assert_eq!(wrong.unwrap_err(), UnsealFailure::WrongPassphrase);

        let other_ad = unseal_share(&sealed, b"correct horse", b"other", FAST).unwrap();
        assert_eq!(other_ad.unwrap_err(), UnsealFailure::Tampered);

        let mut cut = sealed.clone();
        cut.ciphertext.pop();
        let r = unseal_share(&cut, b"correct horse", &ad(&cut.salt), FAST).unwrap();
        assert_eq!(r.unwrap_err(), UnsealFailure::Tampered);
    }

    #[test]
    fn fresh_salt_and_nonce_each_time() {
        let a = seal_share(b"x", b"correct horse", ad, FAST).unwrap();
        let b = seal_share(b"x", b"correct horse", ad, FAST).unwrap();
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn enrolment_defaults_to_production() {
        // The test variable is not set in this test run.
        if std::env::var_os("AIRLOCK_INSECURE_TEST_KDF").is_none() {
            assert_eq!(KdfParams::for_enrolment(), KdfParams::PRODUCTION);
        }
        assert_eq!(KdfParams::floor(), KdfParams::INSECURE_TEST);
    }

    #[test]
    fn bounds_refuse_below_floor_and_above_ceiling() {
        let floor = KdfParams::PRODUCTION_FLOOR;
        KdfParams::PRODUCTION.check_bounds(&floor).unwrap();
        let weak = KdfParams {
            m_cost_kib: 1024,
            ..KdfParams::PRODUCTION
        };
        assert!(
            weak.check_bounds(&floor)
                .unwrap_err()
                .contains("m_cost_kib")
        );
        let few = KdfParams {
            t_cost: 1,
            ..KdfParams::PRODUCTION
        };
        assert!(few.check_bounds(&floor).unwrap_err().contains("t_cost"));
        let huge = KdfParams {
            m_cost_kib: u32::MAX,
            ..KdfParams::PRODUCTION
        };
        assert!(huge.check_bounds(&floor).unwrap_err().contains("maximum"));
    }

    fn pinned(label: &str, serial: &str, sha: &str, path: &str, existing: bool) -> Pinned {
        Pinned {
            token: TokenRef {
                label: label.into(),
                serial: serial.into(),
                manufacturer: "maker".into(),
                model: "model".into(),
            },
            module: ModuleRef {
                path: path.into(),
                sha256: sha.into(),
            },
            policy: RosterPolicy {
                allow_existing_material: existing,
                wrap_with_trusted: false,
            },
        }
    }

    #[test]
    fn binding_encodes_every_field() {
        let p0 = pinned("tok", "123", "aa", "/m.so", false);
        let p_serial = pinned("tok", "124", "aa", "/m.so", false);
        let p_shift = pinned("tok1", "23", "aa", "/m.so", false);
        let p_sha = pinned("tok", "123", "ab", "/m.so", false);
        let p_path = pinned("tok", "123", "aa", "/n.so", false);
        let p_policy = pinned("tok", "123", "aa", "/m.so", true);
        let base = ShareBinding {
            roster_id: b"rid",
            pinned: &p0,
            custodian: "Alice",
            threshold: 2,
            custodians: 3,
            share_index: 1,
            pin_check: &[7; 32],
            kdf: FAST,
            salt: &[1; 16],
        };
        let a = base.associated_data();
        let variants = [
            ShareBinding {
                custodian: "Alicf",
                ..base
            },
            ShareBinding {
                threshold: 3,
                ..base
            },
            ShareBinding {
                custodians: 4,
                ..base
            },
            ShareBinding {
                share_index: 2,
                ..base
            },
            ShareBinding {
                roster_id: b"ric",
                ..base
            },
            ShareBinding {
                pinned: &p_serial,
                ..base
            },
            ShareBinding {
                pinned: &p_sha,
                ..base
            },
            ShareBinding {
                pinned: &p_path,
                ..base
            },
            ShareBinding {
                pinned: &p_policy,
                ..base
            },
            ShareBinding {
                pin_check: &[8; 32],
                ..base
            },
            ShareBinding {
                salt: &[2; 16],
                ..base
            },
            ShareBinding {
                kdf: KdfParams { t_cost: 2, ..FAST },
                ..base
            },
            // Moving a byte between adjacent fields changes the encoding.
            ShareBinding {
                pinned: &p_shift,
                ..base
            },
        ];
        for v in variants {
            assert_ne!(v.associated_data(), a);
        }
    }
}
