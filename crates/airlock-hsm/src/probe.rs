//! The capability probe: which of the mechanisms Airlock needs the token
//! lists (with their flags), and which wrap path each wrapping algorithm
//! will try on it. The probe only reads what the token claims; the
//! known-answer self-tests ([`crate::UserSession::self_test`]) prove it.

use std::collections::HashMap;

use airlock_core::spec::WrappingAlgorithm;
use cryptoki_sys::{
    CK_MECHANISM_INFO, CK_MECHANISM_TYPE, CKF_DECRYPT, CKF_ENCRYPT, CKF_GENERATE,
    CKF_GENERATE_KEY_PAIR, CKF_SIGN, CKF_UNWRAP, CKF_VERIFY, CKF_WRAP, CKM_AES_CMAC,
    CKM_AES_KEY_GEN, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD,
    CKM_EC_KEY_PAIR_GEN, CKM_GENERIC_SECRET_KEY_GEN, CKM_RSA_AES_KEY_WRAP,
    CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
};
use serde::Serialize;

use crate::error::{Context, HsmError};
use crate::token::{Hsm, TokenIdentity};
use crate::wrap_path::WrapPath;

/// The mechanisms Airlock cares about, with their PKCS#11 names.
pub const MECHANISMS: &[(CK_MECHANISM_TYPE, &str)] = &[
    (CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP"),
    (CKM_RSA_AES_KEY_WRAP, "CKM_RSA_AES_KEY_WRAP"),
    (CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP"),
    (CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD"),
    (CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP"),
    (CKM_AES_CMAC, "CKM_AES_CMAC"),
    (CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN"),
    (CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN"),
    (CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN"),
    (CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"),
    (CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS"),
    (CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS"),
];

/// One mechanism as the token reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MechanismReport {
    /// PKCS#11 name.
    pub name: &'static str,
    /// Numeric type, hex.
    pub id: String,
    /// Whether the token lists it.
    pub offered: bool,
    /// Flag names (CKF_WRAP, ...) when offered.
    pub flags: Vec<&'static str>,
    /// Key size range when offered.
    pub min_key_size: Option<u64>,
    /// Key size range when offered.
    pub max_key_size: Option<u64>,
}

/// The path an algorithm will try, or why none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlgorithmPlan {
    /// The wrapping algorithm.
    pub algorithm: WrappingAlgorithm,
    /// Candidate paths in the order they are tried; the first whose
    /// known-answer test passes is used.
    pub candidates: Vec<WrapPath>,
    /// Why there is no candidate, or what the candidates still need.
    pub note: String,
}

/// What `airlock hsm probe` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The token.
    pub identity: TokenIdentity,
    /// Free private memory in bytes, if the token says.
    pub free_private_memory: Option<u64>,
    /// Free public memory in bytes, if the token says.
    pub free_public_memory: Option<u64>,
    /// Number of mechanisms the token lists in all.
    pub mechanism_count: usize,
    /// The mechanisms Airlock cares about.
    pub mechanisms: Vec<MechanismReport>,
    /// Wrap path candidates per algorithm.
    pub wrap_plans: Vec<AlgorithmPlan>,
}

/// What the token claims, keyed by mechanism type.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capabilities {
    pub infos: HashMap<CK_MECHANISM_TYPE, CK_MECHANISM_INFO>,
    pub total: usize,
}

impl Capabilities {
    /// Whether the mechanism is listed with all of `flags`.
    pub fn has(&self, mech: CK_MECHANISM_TYPE, flags: cryptoki_sys::CK_FLAGS) -> bool {
        self.infos
            .get(&mech)
            .is_some_and(|i| i.flags & flags == flags)
    }

    /// Candidate paths for `alg`, and the note for the report.
    pub fn plan(&self, alg: WrappingAlgorithm) -> AlgorithmPlan {
        let oaep = self.has(CKM_RSA_PKCS_OAEP, CKF_WRAP);
        let mut candidates = Vec::new();
        let mut missing = Vec::new();
        if alg.is_oaep_only() {
            if oaep {
                candidates.push(WrapPath::RsaOaep);
            } else {
                missing.push("CKM_RSA_PKCS_OAEP with CKF_WRAP");
            }
        } else {
            if self.has(CKM_RSA_AES_KEY_WRAP, CKF_WRAP) {
                candidates.push(WrapPath::RsaAesKeyWrap);
            } else {
                missing.push("CKM_RSA_AES_KEY_WRAP with CKF_WRAP");
            }
            let gen_aes = self.has(CKM_AES_KEY_GEN, CKF_GENERATE);
            if !oaep {
                missing.push("CKM_RSA_PKCS_OAEP with CKF_WRAP (for the two-step path)");
            }
            if !gen_aes {
                missing.push("CKM_AES_KEY_GEN (for the transient AES key)");
            }
            let kwp = self.has(CKM_AES_KEY_WRAP_KWP, CKF_WRAP);
            let pad = self.has(CKM_AES_KEY_WRAP_PAD, CKF_WRAP);
            if !kwp && !pad {
                missing.push("CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD with CKF_WRAP");
            }
            if oaep && gen_aes {
                if kwp {
                    candidates.push(WrapPath::KwpThenOaep);
                }
                if pad {
                    candidates.push(WrapPath::PadThenOaep);
                }
            }
        }
        let hash = match alg.oaep_hash() {
            airlock_core::spec::OaepHash::Sha1 => "SHA-1",
            airlock_core::spec::OaepHash::Sha256 => "SHA-256",
        };
        let note = if candidates.is_empty() {
            format!("no path: the token does not offer {}", missing.join("; "))
        } else {
            format!(
                "subject to known-answer tests at ceremony start (OAEP with {hash} and MGF1-{hash}{})",
                if candidates
                    .iter()
                    .any(|c| c.is_composite() || *c == WrapPath::RsaAesKeyWrap)
                {
                    ", RFC 5649 key wrap"
                } else {
                    ""
                }
            )
        };
        AlgorithmPlan {
            algorithm: alg,
            candidates,
            note,
        }
    }
}

fn flag_names(flags: cryptoki_sys::CK_FLAGS) -> Vec<&'static str> {
    [
        (CKF_ENCRYPT, "CKF_ENCRYPT"),
        (CKF_DECRYPT, "CKF_DECRYPT"),
        (CKF_SIGN, "CKF_SIGN"),
        (CKF_VERIFY, "CKF_VERIFY"),
        (CKF_GENERATE, "CKF_GENERATE"),
        (CKF_GENERATE_KEY_PAIR, "CKF_GENERATE_KEY_PAIR"),
        (CKF_WRAP, "CKF_WRAP"),
        (CKF_UNWRAP, "CKF_UNWRAP"),
    ]
    .into_iter()
    .filter(|(f, _)| flags & f != 0)
    .map(|(_, n)| n)
    .collect()
}

impl Hsm {
    /// Reads the mechanism list and the info of the mechanisms Airlock uses.
    pub(crate) fn capabilities(&self) -> Result<Capabilities, HsmError> {
        let m = &self.module;
        let slot = self.slot.id();
        let label = &self.identity.label;
        let list = m
            .call("C_GetMechanismList", || m.raw.mechanism_list(slot))
            .ctx(|| format!("listing the mechanisms of token {label:?}"))?;
        let mut caps = Capabilities {
            total: list.len(),
            ..Default::default()
        };
        for (mech, name) in MECHANISMS {
            if list.contains(mech) {
                let info = m
                    .call("C_GetMechanismInfo", || m.raw.mechanism_info(slot, *mech))
                    .ctx(|| format!("reading {name} on token {label:?}"))?;
                caps.infos.insert(*mech, info);
            }
        }
        Ok(caps)
    }

    /// The capability probe (no login needed).
    pub fn probe(&self) -> Result<ProbeReport, HsmError> {
        let caps = self.capabilities()?;
        let info = self.token_info()?;
        let mechanisms = MECHANISMS
            .iter()
            .map(|(mech, name)| {
                let i = caps.infos.get(mech);
                MechanismReport {
                    name,
                    id: format!("0x{mech:08X}"),
                    offered: i.is_some(),
                    flags: i.map(|i| flag_names(i.flags)).unwrap_or_default(),
                    min_key_size: i.map(|i| i.ulMinKeySize),
                    max_key_size: i.map(|i| i.ulMaxKeySize),
                }
            })
            .collect();
        Ok(ProbeReport {
            identity: self.identity.clone(),
            free_private_memory: info.free_private_memory().map(|v| v as u64),
            free_public_memory: info.free_public_memory().map(|v| v as u64),
            mechanism_count: caps.total,
            mechanisms,
            wrap_plans: WrappingAlgorithm::ALL
                .iter()
                .map(|a| caps.plan(*a))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[(CK_MECHANISM_TYPE, cryptoki_sys::CK_FLAGS)]) -> Capabilities {
        Capabilities {
            infos: list
                .iter()
                .map(|(m, f)| {
                    (
                        *m,
                        CK_MECHANISM_INFO {
                            ulMinKeySize: 0,
                            ulMaxKeySize: 0,
                            flags: *f,
                        },
                    )
                })
                .collect(),
            total: list.len(),
        }
    }

    #[test]
    fn prefers_rsa_aes_key_wrap_then_kwp_then_pad() {
        let c = caps(&[
            (CKM_RSA_PKCS_OAEP, CKF_WRAP),
            (CKM_RSA_AES_KEY_WRAP, CKF_WRAP),
            (CKM_AES_KEY_WRAP_KWP, CKF_WRAP),
            (CKM_AES_KEY_WRAP_PAD, CKF_WRAP),
            (CKM_AES_KEY_GEN, CKF_GENERATE),
        ]);
        let p = c.plan(WrappingAlgorithm::RsaAesKeyWrapSha256);
        assert_eq!(
            p.candidates,
            vec![
                WrapPath::RsaAesKeyWrap,
                WrapPath::KwpThenOaep,
                WrapPath::PadThenOaep
            ]
        );
        assert_eq!(
            c.plan(WrappingAlgorithm::RsaesOaepSha1).candidates,
            vec![WrapPath::RsaOaep]
        );
    }

    #[test]
    fn no_kwp_means_no_rsa_aes_path_and_says_why() {
        let c = caps(&[
            (CKM_RSA_PKCS_OAEP, CKF_WRAP),
            (CKM_AES_KEY_GEN, CKF_GENERATE),
        ]);
        let p = c.plan(WrappingAlgorithm::RsaAesKeyWrapSha256);
        assert!(p.candidates.is_empty());
        assert!(p.note.contains("CKM_AES_KEY_WRAP_KWP"), "{}", p.note);
    }

    #[test]
    fn oaep_without_wrap_flag_is_not_a_path() {
        let c = caps(&[(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT)]);
        assert!(
            c.plan(WrappingAlgorithm::RsaesOaepSha256)
                .candidates
                .is_empty()
        );
    }
}
