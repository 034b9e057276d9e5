//! Wrapping key material for AWS KMS inside the token. The AWS wrapping
//! public key is imported as a session object; the material is wrapped by
//! the path its algorithm's known-answer tests proved in this session; every
//! output's length and structure is checked before it is returned; the
//! imported key and any transient AES key are destroyed in every outcome.

use airlock_core::spec::{KeyFamily, KeySpec, WrappingAlgorithm, WrappingKeySpec};
use cryptoki::mechanism::Mechanism;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

use crate::error::{Context, HsmError};
use crate::kat::oaep_params;
use crate::keys::HsmKey;
use crate::raw::RawWrapMechanism;
use crate::session::UserSession;
use crate::wrap_path::WrapPath;

/// `EncryptedKeyMaterial.bin` and how the token produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The bytes for `import-key-material --encrypted-key-material`.
    pub bytes: Vec<u8>,
    /// The path that ran.
    pub path: WrapPath,
}

/// Parses a DER SPKI as an RSA wrapping key of 2048/3072/4096 bits.
pub fn parse_wrapping_key(spki_der: &[u8]) -> Result<(rsa::PublicKey, WrappingKeySpec), HsmError> {
    let key =
        rsa::PublicKey::from_public_key_der(spki_der).map_err(|e| HsmError::InvalidInput {
            what: "wrapping public key".into(),
            problem: format!("not a DER RSA SubjectPublicKeyInfo: {e}"),
        })?;
    let spec = match key.size() * 8 {
        2048 => WrappingKeySpec::Rsa2048,
        3072 => WrappingKeySpec::Rsa3072,
        4096 => WrappingKeySpec::Rsa4096,
        other => {
            return Err(HsmError::InvalidInput {
                what: "wrapping public key".into(),
                problem: format!("{other}-bit modulus; AWS KMS uses 2048, 3072 or 4096"),
            });
        }
    };
    Ok((key, spec))
}

impl UserSession {
    /// Wraps `key` under the AWS wrapping public key (DER SPKI) with `alg`.
    /// Requires that `alg`'s path passed its self-test in this session.
    pub fn wrap(
        &mut self,
        key: &HsmKey,
        wrapping_spki_der: &[u8],
        alg: WrappingAlgorithm,
    ) -> Result<WrappedKey, HsmError> {
        self.wrap_with(key, wrapping_spki_der, alg, None)
    }

    /// As [`UserSession::wrap`], but under the wrapping key the security
    /// officer marked trusted (for keys generated with
    /// `CKA_WRAP_WITH_TRUSTED`). Only the direct wrap paths can do this.
    pub fn wrap_trusted(
        &mut self,
        key: &HsmKey,
        wrapping_spki_der: &[u8],
        alg: WrappingAlgorithm,
        trusted: &crate::TrustedWrappingKeys,
    ) -> Result<WrappedKey, HsmError> {
        let Some(h) = trusted.handle_for(wrapping_spki_der) else {
            return Err(HsmError::InvalidInput {
                what: format!("key {:?}", key.label),
                problem: "its wrapping key was not marked trusted by the security officer".into(),
            });
        };
        self.wrap_with(key, wrapping_spki_der, alg, Some(h))
    }

    fn wrap_with(
        &mut self,
        key: &HsmKey,
        wrapping_spki_der: &[u8],
        alg: WrappingAlgorithm,
        trusted: Option<cryptoki::object::ObjectHandle>,
    ) -> Result<WrappedKey, HsmError> {
        let (public, wk_spec) = parse_wrapping_key(wrapping_spki_der)?;
        if !key.spec.allows(alg, wk_spec) {
            return Err(HsmError::InvalidInput {
                what: format!("key {:?}", key.label),
                problem: format!(
                    "{alg} cannot carry {} material under a {wk_spec} key",
                    key.spec
                ),
            });
        }
        let Some(path) = self.proven.get(&alg).copied() else {
            let plan = self.capabilities()?.plan(alg);
            return match plan.candidates.first() {
                Some(p) => Err(HsmError::NotSelfTested { alg, path: *p }),
                None => Err(HsmError::NoWrapPath {
                    alg,
                    label: self.identity.label.clone(),
                    reasons: plan.note,
                }),
            };
        };
        if trusted.is_some() && matches!(path, WrapPath::KwpThenOaep | WrapPath::PadThenOaep) {
            return Err(HsmError::Capability {
                label: self.identity.label.clone(),
                what: format!("a direct {alg} wrap for wrap-with-trusted keys"),
                reason: format!(
                    "this token wraps {alg} via {path}, under a transient AES key that no security officer can mark trusted"
                ),
            });
        }
        let modulus = public.size();
        let label = key.label.clone();
        let hash = alg.oaep_hash();
        let bytes = self.scoped(|s| {
            let wrapping = match trusted {
                Some(h) => h,
                None => s.import_wrapping_key(&public, "airlock-aws-wrapping-key")?,
            };
            let ctx = |what: &str| format!("wrapping {label:?} with {alg} ({what})");
            match path {
                WrapPath::RsaOaep => {
                    let mech = Mechanism::RsaPkcsOaep(oaep_params(hash));
                    s.call("C_WrapKey", |ss| ss.wrap_key(&mech, wrapping, key.key))
                        .ctx(|| ctx("CKM_RSA_PKCS_OAEP"))
                }
                WrapPath::RsaAesKeyWrap => {
                    let session = s.s().handle();
                    let m = s.module.clone();
                    m.call("C_WrapKey", || {
                        m.raw.wrap_key(
                            session,
                            RawWrapMechanism::RsaAesKeyWrap(hash),
                            wrapping.handle(),
                            key.key.handle(),
                        )
                    })
                    .ctx(|| ctx("CKM_RSA_AES_KEY_WRAP"))
                }
                WrapPath::KwpThenOaep | WrapPath::PadThenOaep => {
                    let transient = s.generate_transient_aes("airlock-transient-aes")?;
                    let kwp = if path == WrapPath::KwpThenOaep {
                        let session = s.s().handle();
                        let m = s.module.clone();
                        m.call("C_WrapKey", || {
                            m.raw.wrap_key(
                                session,
                                RawWrapMechanism::AesKeyWrapKwp,
                                transient.handle(),
                                key.key.handle(),
                            )
                        })
                        .ctx(|| ctx("CKM_AES_KEY_WRAP_KWP"))?
                    } else {
                        s.call("C_WrapKey", |ss| {
                            ss.wrap_key(&Mechanism::AesKeyWrapPad, transient, key.key)
                        })
                        .ctx(|| ctx("CKM_AES_KEY_WRAP_PAD"))?
                    };
                    let mech = Mechanism::RsaPkcsOaep(oaep_params(hash));
                    let mut out = s
                        .call("C_WrapKey", |ss| ss.wrap_key(&mech, wrapping, transient))
                        .ctx(|| ctx("CKM_RSA_PKCS_OAEP of the transient AES key"))?;
                    out.extend_from_slice(&kwp);
                    Ok(out)
                }
            }
        })?;
        check_output(key.spec, alg, modulus, &bytes).map_err(|problem| HsmError::BadOutput {
            context: format!("wrapping {:?} with {alg} via {path}", key.label),
            problem,
        })?;
        Ok(WrappedKey { bytes, path })
    }
}

/// Length and structure checks of `EncryptedKeyMaterial.bin`.
pub(crate) fn check_output(
    spec: KeySpec,
    alg: WrappingAlgorithm,
    modulus: usize,
    out: &[u8],
) -> Result<(), String> {
    if alg.is_oaep_only() {
        if out.len() != modulus {
            return Err(format!(
                "{} bytes, expected the modulus size {modulus}",
                out.len()
            ));
        }
        return Ok(());
    }
    if out.len() <= modulus {
        return Err(format!(
            "{} bytes: no key-wrap part after the {modulus}-byte OAEP part",
            out.len()
        ));
    }
    let kwp = out.len() - modulus;
    if !kwp.is_multiple_of(8) || kwp < 16 {
        return Err(format!(
            "the key-wrap part is {kwp} bytes, not a multiple of 8 of at least 16"
        ));
    }
    match spec.secret_len() {
        Some(n) => {
            let expected = n.div_ceil(8) * 8 + 8;
            if kwp != expected {
                return Err(format!(
                    "the key-wrap part is {kwp} bytes; {n} bytes of material wrap to {expected}"
                ));
            }
        }
        None => {
            // PKCS#8 of the smallest key (P-256) is > 64 bytes; RSA-4096's < 2600.
            let min = if spec.family() == KeyFamily::Ecc {
                64
            } else {
                600
            };
            if !(min + 8..=4096).contains(&kwp) {
                return Err(format!(
                    "the key-wrap part is {kwp} bytes, implausible for {} PKCS#8",
                    spec
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oaep_output_must_be_modulus_size() {
        let k = KeySpec::SymmetricDefault;
        assert!(check_output(k, WrappingAlgorithm::RsaesOaepSha256, 512, &[0; 512]).is_ok());
        assert!(check_output(k, WrappingAlgorithm::RsaesOaepSha256, 512, &[0; 511]).is_err());
    }

    #[test]
    fn kwp_part_is_checked_against_material_size() {
        let k = KeySpec::EccNistP256;
        assert!(
            check_output(
                k,
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                256,
                &[0; 256 + 144]
            )
            .is_ok()
        );
        let e = check_output(
            k,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            256,
            &[0; 256 + 145],
        )
        .unwrap_err();
        assert!(e.contains("multiple of 8"), "{e}");
        assert!(check_output(k, WrappingAlgorithm::RsaAesKeyWrapSha256, 256, &[0; 256]).is_err());
        let r = KeySpec::Rsa2048;
        assert!(
            check_output(
                r,
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                256,
                &[0; 256 + 80]
            )
            .is_err()
        );
    }
}
