//! Known-answer self-tests, run in the user session before any ceremony use
//! of a mechanism. Session keys of known value and an RSA key pair generated
//! in software for this session prove that the token's OAEP uses the
//! requested hash and MGF1 (the software key decrypts it), that its KWP /
//! WRAP_PAD is RFC 5649 (byte-equal to `aes-kw`), that CKM_RSA_AES_KEY_WRAP
//! is OAEP || RFC 5649, and that its CMAC matches the `cmac` crate. A failed
//! test refuses that path, with the reason; wrapping only uses paths proven
//! in this session.

use std::collections::HashMap;

use aes_kw::KwpAes256;
use airlock_core::spec::{OaepHash, WrappingAlgorithm};
use cmac::{Cmac, KeyInit, Mac};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::KeyType;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Context, HsmError};
use crate::raw::RawWrapMechanism;
use crate::session::UserSession;
use crate::wrap_path::WrapPath;

/// Modulus size of the software RSA key used for the OAEP tests.
const KAT_RSA_BITS: usize = 2048;

/// One known-answer test and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KatOutcome {
    /// What was tested, e.g. `CKM_RSA_PKCS_OAEP SHA-256/MGF1-SHA-256`.
    pub test: String,
    /// Whether the token's answer was right.
    pub passed: bool,
    /// What was compared, or why it failed.
    pub detail: String,
}

/// The path one wrapping algorithm takes after the tests, or why none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlgorithmOutcome {
    /// The algorithm.
    pub algorithm: WrappingAlgorithm,
    /// The path proven for it in this session.
    pub path: Option<WrapPath>,
    /// Why each refused candidate (or the whole algorithm) was refused.
    pub refused: Vec<String>,
}

/// What [`UserSession::self_test_report`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTestReport {
    /// Every test run, in order.
    pub tests: Vec<KatOutcome>,
    /// The outcome per requested algorithm.
    pub algorithms: Vec<AlgorithmOutcome>,
}

impl SelfTestReport {
    /// The proven path for `alg`.
    pub fn path(&self, alg: WrappingAlgorithm) -> Option<WrapPath> {
        self.algorithms
            .iter()
            .find(|a| a.algorithm == alg)
            .and_then(|a| a.path)
    }
}

/// Results of tests already run in this session, and the software RSA key.
#[derive(Default)]
pub(crate) struct KatCache {
    results: HashMap<String, KatOutcome>,
    order: Vec<String>,
    software_rsa: Option<rsa::PrivateKey>,
}

pub(crate) fn hash_name(h: OaepHash) -> &'static str {
    match h {
        OaepHash::Sha1 => "SHA-1",
        OaepHash::Sha256 => "SHA-256",
    }
}

/// cryptoki OAEP parameters for `hash` (MGF1 with the same hash, empty label).
pub(crate) fn oaep_params(hash: OaepHash) -> PkcsOaepParams<'static> {
    match hash {
        OaepHash::Sha1 => PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        ),
        OaepHash::Sha256 => PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        ),
    }
}

/// OAEP decryption in software with `hash` for both the hash and MGF1.
pub fn software_oaep_decrypt(
    key: &rsa::PrivateKey,
    hash: OaepHash,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, rsa::Error> {
    let pt = match hash {
        OaepHash::Sha1 => key.decrypt(rsa::Oaep::<sha1::Sha1>::new(), ciphertext)?,
        OaepHash::Sha256 => key.decrypt(rsa::Oaep::<sha2::Sha256>::new(), ciphertext)?,
    };
    Ok(Zeroizing::new(pt))
}

/// RFC 5649 unwrap in software.
pub fn software_kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let kw = KwpAes256::new_from_slice(kek).ok()?;
    let mut buf = Zeroizing::new(vec![0u8; wrapped.len()]);
    let n = kw.unwrap_key(wrapped, &mut buf).ok()?.len();
    buf.truncate(n);
    Some(buf)
}

fn software_kwp_wrap(kek: &[u8], key: &[u8]) -> Vec<u8> {
    let kw = KwpAes256::new_from_slice(kek).expect("a 32-byte KEK");
    let mut buf = vec![0u8; key.len().div_ceil(8) * 8 + 8];
    let n = kw
        .wrap_key(key, &mut buf)
        .expect("buffer sized for RFC 5649")
        .len();
    buf.truncate(n);
    buf
}

/// Whether `out` is RFC 5649 of `key` zero-padded to a multiple of 8
/// (SoftHSM 2.6.1's CKM_AES_KEY_WRAP_PAD).
fn is_rfc5649_of_zero_padded(kek: &[u8], key: &[u8], out: &[u8]) -> bool {
    software_kwp_unwrap(kek, out).is_some_and(|pt| {
        pt.len() == key.len().div_ceil(8) * 8
            && pt.starts_with(key)
            && pt[key.len()..].iter().all(|b| *b == 0)
    })
}

/// Whether `out` is RFC 3394 key wrap of `key` after PKCS#7 padding.
fn is_rfc3394_of_pkcs7(kek: &[u8], key: &[u8], out: &[u8]) -> bool {
    let Ok(kw) = aes_kw::KwAes256::new_from_slice(kek) else {
        return false;
    };
    let mut buf = Zeroizing::new(vec![0u8; out.len()]);
    let Ok(pt) = kw.unwrap_key(out, &mut buf) else {
        return false;
    };
    let pad = 8 - key.len() % 8;
    pt.len() == key.len() + pad
        && pt.starts_with(key)
        && pt[key.len()..].iter().all(|b| *b as usize == pad)
}

fn random(len: usize) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut v).expect("the OS random number generator failed");
    v
}

impl UserSession {
    fn software_rsa(&mut self) -> Result<rsa::PrivateKey, HsmError> {
        if let Some(k) = &self.kat.software_rsa {
            return Ok(k.clone());
        }
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, KAT_RSA_BITS).map_err(|e| {
            HsmError::InvalidInput {
                what: "software RSA key for the self-test".into(),
                problem: e.to_string(),
            }
        })?;
        self.kat.software_rsa = Some(k.clone());
        Ok(k)
    }

    /// Runs (or recalls) one test. `Err` is an operational failure that is
    /// not about the mechanism itself (e.g. an injected fault, a cleanup
    /// failure); a wrong answer or a refusal by the token is a failed test.
    fn kat(
        &mut self,
        test: String,
        run: impl FnOnce(&mut Self) -> Result<Result<String, String>, HsmError>,
    ) -> Result<KatOutcome, HsmError> {
        if let Some(r) = self.kat.results.get(&test) {
            return Ok(r.clone());
        }
        let outcome = self.scoped(run)?;
        let r = KatOutcome {
            test: test.clone(),
            passed: outcome.is_ok(),
            detail: match outcome {
                Ok(d) | Err(d) => d,
            },
        };
        tracing::info!(test = %r.test, passed = r.passed, detail = %r.detail, "known-answer test");
        self.kat.results.insert(test.clone(), r.clone());
        self.kat.order.push(test);
        Ok(r)
    }

    /// Token refusals of a mechanism are test failures; injected faults and
    /// other engine errors propagate.
    fn refusal(e: HsmError) -> Result<Result<String, String>, HsmError> {
        match e {
            HsmError::Pkcs11 { function, ckr, .. } => {
                Ok(Err(format!("the token refused: {function} returned {ckr}")))
            }
            other => Err(other),
        }
    }

    fn kat_oaep(&mut self, hash: OaepHash) -> Result<KatOutcome, HsmError> {
        let h = hash_name(hash);
        let test = format!("CKM_RSA_PKCS_OAEP {h}/MGF1-{h}");
        let sw = self.software_rsa()?;
        self.kat(test.clone(), |s| {
            let public = sw.to_public_key();
            let wrapping = s.import_wrapping_key(&public, "airlock-kat-rsa-public")?;
            let known = random(32);
            let target = s.create_known_secret("airlock-kat-aes", KeyType::AES, &known, false, false)?;
            let mech = Mechanism::RsaPkcsOaep(oaep_params(hash));
            let out = match s
                .call("C_WrapKey", |ss| ss.wrap_key(&mech, wrapping, target))
                .ctx(|| test.clone())
            {
                Ok(o) => o,
                Err(e) => return Self::refusal(e),
            };
            if out.len() != KAT_RSA_BITS / 8 {
                return Ok(Err(format!("output is {} bytes, expected {}", out.len(), KAT_RSA_BITS / 8)));
            }
            Ok(match software_oaep_decrypt(&sw, hash, &out) {
                Ok(pt) if *pt == *known => Ok(format!("software OAEP {h}/MGF1-{h} decryption recovered the known key")),
                Ok(_) => Err("decrypted to a different value than the known key".into()),
                Err(e) => Err(format!("software OAEP {h}/MGF1-{h} decryption failed ({e}): the token used another hash or MGF")),
            })
        })
    }

    fn kat_key_wrap(&mut self, path: WrapPath) -> Result<KatOutcome, HsmError> {
        let (name, raw) = match path {
            WrapPath::KwpThenOaep => ("CKM_AES_KEY_WRAP_KWP", true),
            _ => ("CKM_AES_KEY_WRAP_PAD", false),
        };
        let test = format!("{name} is RFC 5649");
        self.kat(test.clone(), |s| {
            let kek = random(32);
            // 28 bytes: not a multiple of 8, so the padding and the
            // length-carrying IV (A65959A6 || MLI) are both exercised.
            let secret = random(28);
            let kek_h = s.create_known_secret("airlock-kat-kek", KeyType::AES, &kek, true, false)?;
            let target = s.create_known_secret("airlock-kat-secret", KeyType::GENERIC_SECRET, &secret, false, false)?;
            let result = if raw {
                let session = s.s().handle();
                let m = s.module.clone();
                m.call("C_WrapKey", || {
                    m.raw
                        .wrap_key(session, RawWrapMechanism::AesKeyWrapKwp, kek_h.handle(), target.handle())
                })
                .ctx(|| test.clone())
            } else {
                s.call("C_WrapKey", |ss| ss.wrap_key(&Mechanism::AesKeyWrapPad, kek_h, target))
                    .ctx(|| test.clone())
            };
            let out = match result {
                Ok(o) => o,
                Err(e) => return Self::refusal(e),
            };
            let expected = software_kwp_wrap(&kek, &secret);
            Ok(if out == expected {
                Ok(format!("byte-equal to RFC 5649 (aes-kw) for a 28-byte key, {} bytes", out.len()))
            } else if is_rfc5649_of_zero_padded(&kek, &secret, &out) {
                Err(format!(
                    "the token zero-pads the key to a multiple of 8 bytes before RFC 5649, so the \
                     length in the IV is wrong: a {}-byte key unwraps to {} bytes with trailing zeros",
                    secret.len(),
                    secret.len().div_ceil(8) * 8
                ))
            } else if is_rfc3394_of_pkcs7(&kek, &secret, &out) {
                Err("it is RFC 3394 over PKCS#7-padded input (the PKCS#11 2.40 meaning of \
                     CKM_AES_KEY_WRAP_PAD), not RFC 5649 as AWS KMS requires"
                    .into())
            } else {
                Err(format!(
                    "differs from RFC 5649 (aes-kw): token gave {} bytes starting {}, RFC 5649 gives {} bytes",
                    out.len(),
                    hex::encode(&out[..out.len().min(8)]),
                    expected.len()
                ))
            })
        })
    }

    fn kat_rsa_aes(&mut self, hash: OaepHash) -> Result<KatOutcome, HsmError> {
        let h = hash_name(hash);
        let test = format!("CKM_RSA_AES_KEY_WRAP {h}/MGF1-{h}");
        let sw = self.software_rsa()?;
        self.kat(test.clone(), |s| {
            let public = sw.to_public_key();
            let wrapping = s.import_wrapping_key(&public, "airlock-kat-rsa-public")?;
            let secret = random(28);
            let target = s.create_known_secret(
                "airlock-kat-secret",
                KeyType::GENERIC_SECRET,
                &secret,
                false,
                false,
            )?;
            let session = s.s().handle();
            let m = s.module.clone();
            let out = match m
                .call("C_WrapKey", || {
                    m.raw.wrap_key(
                        session,
                        RawWrapMechanism::RsaAesKeyWrap(hash),
                        wrapping.handle(),
                        target.handle(),
                    )
                })
                .ctx(|| test.clone())
            {
                Ok(o) => o,
                Err(e) => return Self::refusal(e),
            };
            let n = KAT_RSA_BITS / 8;
            if out.len() <= n {
                return Ok(Err(format!(
                    "output is {} bytes, not OAEP ({n}) || KWP",
                    out.len()
                )));
            }
            let (oaep, kwp) = out.split_at(n);
            let Ok(k) = software_oaep_decrypt(&sw, hash, oaep) else {
                return Ok(Err(format!(
                    "the OAEP part does not decrypt with {h}/MGF1-{h}"
                )));
            };
            Ok(match software_kwp_unwrap(&k, kwp) {
                Some(pt) if *pt == *secret => {
                    Ok("OAEP part decrypts, KWP part unwraps (RFC 5649) to the known key".into())
                }
                Some(_) => Err("unwrapped to a different value than the known key".into()),
                None => Err("the KWP part is not RFC 5649 under the OAEP-carried key".into()),
            })
        })
    }

    /// The CMAC test (used for KCVs).
    pub(crate) fn kat_cmac(&mut self) -> Result<KatOutcome, HsmError> {
        let test = "CKM_AES_CMAC".to_string();
        self.kat(test.clone(), |s| {
            let key = random(32);
            let h = s.create_known_secret("airlock-kat-cmac", KeyType::AES, &key, false, true)?;
            let out = match s
                .call("C_Sign", |ss| ss.sign(&Mechanism::AesCMac, h, &[0u8; 16]))
                .ctx(|| test.clone())
            {
                Ok(o) => o,
                Err(e) => return Self::refusal(e),
            };
            let mut mac =
                <Cmac<aes::Aes256> as KeyInit>::new_from_slice(&key).expect("32-byte key");
            mac.update(&[0u8; 16]);
            let expected = mac.finalize().into_bytes();
            Ok(if out.as_slice() == expected.as_slice() {
                Ok("AES-256 CMAC of a zero block matches the cmac crate".into())
            } else {
                Err(format!(
                    "token CMAC {} differs from {}",
                    hex::encode(&out),
                    hex::encode(expected)
                ))
            })
        })
    }

    /// Runs the tests for `algs`' candidate paths and records the first
    /// passing path for each. Never fails because a test failed; see
    /// [`UserSession::self_test`] for the strict form.
    pub fn self_test_report(
        &mut self,
        algs: &[WrappingAlgorithm],
    ) -> Result<SelfTestReport, HsmError> {
        let caps = self.capabilities()?;
        let mut algorithms = Vec::new();
        for &alg in algs {
            let plan = caps.plan(alg);
            let mut refused = Vec::new();
            let mut chosen = None;
            if plan.candidates.is_empty() {
                refused.push(plan.note.clone());
            }
            for path in plan.candidates {
                let mut tests = Vec::new();
                match path {
                    WrapPath::RsaOaep => tests.push(self.kat_oaep(alg.oaep_hash())?),
                    WrapPath::RsaAesKeyWrap => tests.push(self.kat_rsa_aes(alg.oaep_hash())?),
                    WrapPath::KwpThenOaep | WrapPath::PadThenOaep => {
                        tests.push(self.kat_key_wrap(path)?);
                        tests.push(self.kat_oaep(alg.oaep_hash())?);
                    }
                }
                let failed: Vec<String> = tests
                    .iter()
                    .filter(|t| !t.passed)
                    .map(|t| format!("{} failed its known-answer test: {}", t.test, t.detail))
                    .collect();
                if !failed.is_empty() {
                    refused.push(format!("{path}: {}", failed.join(", and ")));
                } else {
                    chosen = Some(path);
                    break;
                }
            }
            if let Some(p) = chosen {
                self.proven.insert(alg, p);
            }
            algorithms.push(AlgorithmOutcome {
                algorithm: alg,
                path: chosen,
                refused,
            });
        }
        if algs.contains(&WrappingAlgorithm::RsaesOaepSha256)
            || algs.contains(&WrappingAlgorithm::RsaesOaepSha1)
        {
            self.kat_cmac()?;
        }
        let tests = self
            .kat
            .order
            .iter()
            .map(|t| self.kat.results[t].clone())
            .collect();
        Ok(SelfTestReport { tests, algorithms })
    }

    /// As [`UserSession::self_test_report`], but refuses (before any key is
    /// generated) when an algorithm has no proven path.
    pub fn self_test(&mut self, algs: &[WrappingAlgorithm]) -> Result<SelfTestReport, HsmError> {
        let report = self.self_test_report(algs)?;
        if let Some(bad) = report.algorithms.iter().find(|a| a.path.is_none()) {
            return Err(HsmError::NoWrapPath {
                alg: bad.algorithm,
                label: self.identity.label.clone(),
                reasons: bad.refused.join("; "),
            });
        }
        Ok(report)
    }

    /// The capabilities, read once per session.
    pub(crate) fn capabilities(&mut self) -> Result<crate::probe::Capabilities, HsmError> {
        if let Some(c) = &self.caps {
            return Ok(c.clone());
        }
        let hsm = crate::token::Hsm {
            module: self.module.clone(),
            slot: self.slot,
            identity: self.identity.clone(),
        };
        let c = hsm.capabilities()?;
        self.caps = Some(c.clone());
        Ok(c)
    }
}
