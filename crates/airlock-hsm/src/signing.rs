//! The ceremony signing key: an RSA-3072 key pair created once in the
//! token (`airlock-ceremony-signing`), private half sensitive,
//! non-extractable and sign-only, that seals import bundles with
//! RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) over `SHA256SUMS`, and seals
//! workstation state ([`UserSession::sign_message`]). It is only adopted
//! when it was born in the token and never left it: `CKA_LOCAL`,
//! `CKA_ALWAYS_SENSITIVE` and `CKA_NEVER_EXTRACTABLE` must all be true, and
//! its public half must have the same modulus. A key imported under that
//! label is refused whatever else it claims.

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki_sys::{CKF_SIGN, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey as _, LineEnding};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Context, HsmError};
use crate::keys::rsa_spki;
use crate::session::UserSession;

/// CKA_LABEL of the ceremony signing key pair.
pub const SIGNING_KEY_LABEL: &str = "airlock-ceremony-signing";
const SIGNING_KEY_BITS: u64 = 3072;

/// The ceremony signing key's public half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKeyInfo {
    /// DER SubjectPublicKeyInfo.
    #[serde(skip)]
    pub spki_der: Vec<u8>,
    /// The same as PEM (`ceremony-signing-key.pem`).
    pub pem: String,
    /// True when this call created the key pair.
    pub created: bool,
}

impl UserSession {
    fn signing_objects(&mut self, class: ObjectClass) -> Result<Vec<ObjectHandle>, HsmError> {
        let t = [
            Attribute::Label(SIGNING_KEY_LABEL.as_bytes().to_vec()),
            Attribute::Class(class),
            Attribute::Token(true),
        ];
        self.call("C_FindObjects", |s| s.find_objects(&t))
            .ctx(|| format!("looking for the ceremony signing key {SIGNING_KEY_LABEL:?}"))
    }

    fn signing_private(&mut self) -> Result<Option<ObjectHandle>, HsmError> {
        let found = self.signing_objects(ObjectClass::PRIVATE_KEY)?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(HsmError::Capability {
                label: self.identity.label.clone(),
                what: "a unique ceremony signing key".into(),
                reason: format!(
                    "{} private keys are labelled {SIGNING_KEY_LABEL:?}",
                    many.len()
                ),
            }),
        }
    }

    fn check_signing_private(&mut self, h: ObjectHandle) -> Result<(), HsmError> {
        let want = [
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            // Born in the token and never out of it.
            Attribute::Local(true),
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true),
        ];
        let types: Vec<AttributeType> = want.iter().map(|a| a.attribute_type()).collect();
        let have = self
            .call("C_GetAttributeValue", |s| s.get_attributes(h, &types))
            .ctx(|| "reading the ceremony signing key's attributes".into())?;
        for w in &want {
            if !have.contains(w) {
                return Err(HsmError::Capability {
                    label: self.identity.label.clone(),
                    what: "a ceremony signing key that meets the policy".into(),
                    reason: format!(
                        "{SIGNING_KEY_LABEL:?} does not have {w:?}: it was not generated inside this token (an imported key is never adopted), or it can be used for more than signing; remove it with the security officer and enrol again"
                    ),
                });
            }
        }
        Ok(())
    }

    fn private_modulus(&mut self, h: ObjectHandle) -> Result<Vec<u8>, HsmError> {
        let attrs = self
            .call("C_GetAttributeValue", |s| {
                s.get_attributes(h, &[AttributeType::Modulus])
            })
            .ctx(|| "reading the ceremony signing key's modulus".into())?;
        Ok(attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::Modulus(v) => Some(v.into_iter().skip_while(|b| *b == 0).collect()),
                _ => None,
            })
            .unwrap_or_default())
    }

    fn signing_public_der(&mut self) -> Result<Vec<u8>, HsmError> {
        let found = self.signing_objects(ObjectClass::PUBLIC_KEY)?;
        let [public] = found.as_slice() else {
            return Err(HsmError::Capability {
                label: self.identity.label.clone(),
                what: "the ceremony signing key's public half".into(),
                reason: format!(
                    "{} public keys are labelled {SIGNING_KEY_LABEL:?}, expected 1",
                    found.len()
                ),
            });
        };
        let public = *public;
        let attrs = self
            .call("C_GetAttributeValue", |s| {
                s.get_attributes(
                    public,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
            })
            .ctx(|| "reading the ceremony signing public key".into())?;
        let (mut n, mut e) = (Vec::new(), Vec::new());
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = v,
                Attribute::PublicExponent(v) => e = v,
                _ => {}
            }
        }
        let der = rsa_spki(&n, &e).map_err(|problem| HsmError::BadOutput {
            context: "ceremony signing public key".into(),
            problem,
        })?;
        Ok(der)
    }

    /// Finds the ceremony signing key pair, creating it on first use.
    pub fn ensure_signing_key(&mut self) -> Result<SigningKeyInfo, HsmError> {
        let mut created = false;
        let private = match self.signing_private()? {
            Some(h) => h,
            None => {
                let label = Attribute::Label(SIGNING_KEY_LABEL.as_bytes().to_vec());
                let public = [
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Verify(true),
                    Attribute::Encrypt(false),
                    Attribute::Wrap(false),
                    Attribute::ModulusBits(SIGNING_KEY_BITS.into()),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                    label.clone(),
                ];
                let private = [
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::Decrypt(false),
                    Attribute::Unwrap(false),
                    Attribute::Derive(false),
                    label,
                ];
                let (_, h) = self
                    .call("C_GenerateKeyPair", |s| {
                        s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
                    })
                    .ctx(|| {
                        format!(
                            "creating the ceremony signing key {SIGNING_KEY_LABEL:?} (RSA-3072)"
                        )
                    })?;
                created = true;
                h
            }
        };
        self.check_signing_private(private)?;
        let spki_der = self.signing_public_der()?;
        let key =
            rsa::PublicKey::from_public_key_der(&spki_der).map_err(|e| HsmError::BadOutput {
                context: "ceremony signing public key".into(),
                problem: e.to_string(),
            })?;
        {
            use rsa::traits::PublicKeyParts;
            let public_n: Vec<u8> = key
                .n_bytes()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect();
            if self.private_modulus(private)? != public_n {
                return Err(HsmError::Capability {
                    label: self.identity.label.clone(),
                    what: "a ceremony signing key whose halves belong together".into(),
                    reason: format!(
                        "the public key labelled {SIGNING_KEY_LABEL:?} is not the private key's public half"
                    ),
                });
            }
        }
        let pem = key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| HsmError::BadOutput {
                context: "ceremony signing public key".into(),
                problem: e.to_string(),
            })?;
        Ok(SigningKeyInfo {
            spki_der,
            pem,
            created,
        })
    }

    /// Signs `data` (the bytes of `SHA256SUMS`) with RSASSA-PSS SHA-256,
    /// MGF1-SHA-256, salt 32, inside the token, and verifies the signature
    /// in software before returning it.
    pub fn sign_sums(&mut self, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.sign_message(data, "SHA256SUMS")
    }

    /// Signs any message (a workstation state seal) as
    /// [`UserSession::sign_sums`] does; `what` names it in errors.
    pub fn sign_message(&mut self, data: &[u8], what: &str) -> Result<Vec<u8>, HsmError> {
        let Some(private) = self.signing_private()? else {
            return Err(HsmError::Capability {
                label: self.identity.label.clone(),
                what: "the ceremony signing key".into(),
                reason: format!(
                    "no key labelled {SIGNING_KEY_LABEL:?}; create it with ensure_signing_key"
                ),
            });
        };
        let params = PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            s_len: 32.into(),
        };
        let caps = self.capabilities()?;
        let digest = Sha256::digest(data);
        let sig = if caps.has(CKM_SHA256_RSA_PKCS_PSS, CKF_SIGN) {
            self.call("C_Sign", |s| {
                s.sign(&Mechanism::Sha256RsaPkcsPss(params), private, data)
            })
            .ctx(|| format!("signing {what} (CKM_SHA256_RSA_PKCS_PSS)"))?
        } else if caps.has(CKM_RSA_PKCS_PSS, CKF_SIGN) {
            self.call("C_Sign", |s| {
                s.sign(&Mechanism::RsaPkcsPss(params), private, &digest)
            })
            .ctx(|| format!("signing {what} (CKM_RSA_PKCS_PSS over the SHA-256 digest)"))?
        } else {
            return Err(HsmError::Capability {
                label: self.identity.label.clone(),
                what: "RSASSA-PSS signing".into(),
                reason: "the token offers neither CKM_SHA256_RSA_PKCS_PSS nor CKM_RSA_PKCS_PSS with CKF_SIGN".into(),
            });
        };
        let spki = self.signing_public_der()?;
        let key = rsa::PublicKey::from_public_key_der(&spki).map_err(|e| HsmError::BadOutput {
            context: "ceremony signing public key".into(),
            problem: e.to_string(),
        })?;
        key.verify(rsa::Pss::<Sha256>::new_with_salt(32), &digest, &sig)
            .map_err(|e| HsmError::BadOutput {
                context: format!("signing {what}"),
                problem: format!(
                    "the token's signature does not verify as PSS SHA-256 salt 32: {e}"
                ),
            })?;
        Ok(sig)
    }
}
