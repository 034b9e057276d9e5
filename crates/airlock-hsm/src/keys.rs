//! Key material inside the token: generation of every AWS KMS key spec as
//! token objects that stay in the HSM (the organisation's failsafe copy),
//! finding existing material for re-import or a resumed ceremony, the
//! attribute policy both must satisfy, the in-token CMAC KCV and the public
//! key as DER SubjectPublicKeyInfo.
//!
//! Generated objects carry their binding (request, key name, KMS key) in
//! `CKA_ID`, are made non-modifiable (`CKA_MODIFIABLE` false, so neither
//! the binding nor the label can be rewritten), and can do as little as
//! possible: they can be wrapped, an AES key can compute its CMAC KCV, and
//! nothing else (no encrypt, decrypt, sign, verify, wrap or unwrap). Every
//! key Airlock adopts must have been born in the token (`CKA_LOCAL`) and
//! never have been readable in plaintext (`CKA_ALWAYS_SENSITIVE`).

use airlock_core::spec::{KeyFamily, KeySpec};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use rsa::pkcs8::EncodePublicKey;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::{Context, HsmError};
use crate::labels::TokenLabels;
use crate::session::UserSession;

/// id-ecPublicKey.
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// A key held in the token: the secret or private key object and, for key
/// pairs, the public half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmKey {
    pub(crate) label: String,
    pub(crate) spec: KeySpec,
    pub(crate) key: ObjectHandle,
    pub(crate) public: Option<ObjectHandle>,
}

impl HsmKey {
    /// CKA_LABEL of the key (and of its public half).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key spec it was generated or checked for.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }
}

/// DER of the namedCurve OID (CKA_EC_PARAMS) of an ECC key spec.
fn ec_params(spec: KeySpec) -> Option<&'static [u8]> {
    spec.curve().map(|c| c.params_der())
}

/// Attributes every Airlock key object must have, as (attribute, expected).
fn required(spec: KeySpec) -> Vec<Attribute> {
    let mut v = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        // Born in the token, never readable in plaintext.
        Attribute::Local(true),
        Attribute::AlwaysSensitive(true),
        Attribute::Unwrap(false),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
    ];
    match spec.family() {
        KeyFamily::Aes => {
            v.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(false),
                Attribute::Encrypt(false),
                Attribute::Verify(false),
            ]);
        }
        KeyFamily::Hmac => {
            let len = spec.secret_len().expect("HMAC specs have a length") as u64;
            v.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::ValueLen(len.into()),
                Attribute::Wrap(false),
                Attribute::Encrypt(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
            ]);
        }
        KeyFamily::Rsa => {
            v.extend([
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Sign(false),
            ]);
        }
        KeyFamily::Ecc => {
            v.extend([
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(ec_params(spec).expect("ECC spec").to_vec()),
                Attribute::Sign(false),
            ]);
        }
    }
    v
}

impl UserSession {
    pub(crate) fn objects_labelled(
        &mut self,
        label: &str,
        extra: &[Attribute],
    ) -> Result<Vec<ObjectHandle>, HsmError> {
        let mut template = vec![Attribute::Label(label.as_bytes().to_vec())];
        template.extend_from_slice(extra);
        self.call("C_FindObjects", |s| s.find_objects(&template))
            .ctx(|| format!("looking for objects labelled {label:?}"))
    }

    /// [`UserSession::generate_bound`] with the label as the binding (tests
    /// and benches of the engine alone; the ceremony always binds).
    pub fn generate(&mut self, label: &str, spec: KeySpec) -> Result<HsmKey, HsmError> {
        self.generate_bound(label, spec, label.as_bytes(), false)
    }

    /// Generates `spec` key material in the token as token objects labelled
    /// `label` with `binding` as `CKA_ID`, non-modifiable and with the
    /// least usage (see the module docs), refusing a label that exists,
    /// then reads the attributes back.
    pub fn generate_bound(
        &mut self,
        label: &str,
        spec: KeySpec,
        binding: &[u8],
        wrap_with_trusted: bool,
    ) -> Result<HsmKey, HsmError> {
        if self.label_taken(label)? {
            return Err(HsmError::LabelExists {
                label: label.into(),
            });
        }
        self.generate_labelled(label, spec, binding, wrap_with_trusted)
    }

    /// [`UserSession::generate_bound`] checked against a label inventory
    /// taken under the ceremony lock instead of a search of the token:
    /// refuses a label the inventory holds, and adds the new one to it.
    pub fn generate_bound_unique(
        &mut self,
        label: &str,
        spec: KeySpec,
        binding: &[u8],
        wrap_with_trusted: bool,
        labels: &mut TokenLabels,
    ) -> Result<HsmKey, HsmError> {
        let taken = match labels.contains(label) {
            Some(taken) => taken,
            // Outside the inventory's scope: ask the token.
            None => self.label_taken(label)?,
        };
        if taken {
            return Err(HsmError::LabelExists {
                label: label.into(),
            });
        }
        let key = self.generate_labelled(label, spec, binding, wrap_with_trusted)?;
        labels.insert(label);
        Ok(key)
    }

    /// Proves, before any token object is made, that the token can
    /// generate a key pair on the curve of every ECC spec in `specs`: one
    /// session key pair (`CKA_TOKEN` false) per curve, destroyed at once.
    /// The mechanism list cannot say which curves a token has, and a
    /// ceremony that learns it half-way has already generated keys. A
    /// curve the token refuses is a [`HsmError::Capability`] naming it.
    pub fn check_key_specs(&mut self, specs: &[KeySpec]) -> Result<(), HsmError> {
        let mut seen = Vec::new();
        for spec in specs {
            let Some(curve) = spec.curve() else { continue };
            if seen.contains(&curve) {
                continue;
            }
            seen.push(curve);
            let public = [
                Attribute::Token(false),
                Attribute::EcParams(curve.params_der().to_vec()),
            ];
            let private = [
                Attribute::Token(false),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(false),
                Attribute::Derive(false),
            ];
            let made = self
                .call("C_GenerateKeyPair", |s| {
                    s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                })
                .ctx(|| format!("checking that the token can generate {spec} keys"));
            match made {
                Ok((pub_h, priv_h)) => {
                    self.call("C_DestroyObject", |s| s.destroy_object(priv_h))
                        .ctx(|| format!("destroying the {spec} test key pair"))?;
                    self.call("C_DestroyObject", |s| s.destroy_object(pub_h))
                        .ctx(|| format!("destroying the {spec} test key pair"))?;
                }
                Err(HsmError::Pkcs11 { ckr, .. }) => {
                    return Err(HsmError::Capability {
                        label: self.identity.label.clone(),
                        what: format!("{spec} keys (curve {})", curve.openssl_name()),
                        reason: format!(
                            "C_GenerateKeyPair on that curve answered {ckr}; nothing was \
                             generated. Ask the online side for another key spec, or use an HSM \
                             that offers the curve (docs/hsm-compatibility.md)"
                        ),
                    });
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Generates and checks the key; the label's uniqueness is the
    /// caller's check.
    fn generate_labelled(
        &mut self,
        label: &str,
        spec: KeySpec,
        binding: &[u8],
        wrap_with_trusted: bool,
    ) -> Result<HsmKey, HsmError> {
        if label.is_empty() || label.len() > 128 {
            return Err(HsmError::InvalidInput {
                what: format!("key label {label:?}"),
                problem: "must be 1 to 128 bytes".into(),
            });
        }
        let lab = Attribute::Label(label.as_bytes().to_vec());
        let id = Attribute::Id(binding.to_vec());
        let trusted_only = Attribute::WrapWithTrusted(wrap_with_trusted);
        let ctx = |mech: &str| format!("generating {spec} key {label:?} ({mech})");
        let key = match spec.family() {
            KeyFamily::Aes | KeyFamily::Hmac => {
                let (mech, kt, name) = if spec.family() == KeyFamily::Aes {
                    (Mechanism::AesKeyGen, KeyType::AES, "CKM_AES_KEY_GEN")
                } else {
                    (
                        Mechanism::GenericSecretKeyGen,
                        KeyType::GENERIC_SECRET,
                        "CKM_GENERIC_SECRET_KEY_GEN",
                    )
                };
                let aes = spec.family() == KeyFamily::Aes;
                let len = spec.secret_len().expect("secret spec") as u64;
                let template = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(kt),
                    Attribute::ValueLen(len.into()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(true),
                    Attribute::Wrap(false),
                    Attribute::Unwrap(false),
                    Attribute::Encrypt(false),
                    Attribute::Decrypt(false),
                    Attribute::Derive(false),
                    // Only an AES key signs: its CMAC KCV.
                    Attribute::Sign(aes),
                    Attribute::Verify(false),
                    Attribute::Modifiable(false),
                    trusted_only.clone(),
                    lab.clone(),
                    id.clone(),
                ];
                let h = self
                    .call("C_GenerateKey", |s| s.generate_key(&mech, &template))
                    .ctx(|| ctx(name))?;
                HsmKey {
                    label: label.into(),
                    spec,
                    key: h,
                    public: None,
                }
            }
            KeyFamily::Rsa | KeyFamily::Ecc => {
                let rsa = spec.family() == KeyFamily::Rsa;
                let mut public = vec![
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Verify(false),
                    Attribute::Encrypt(false),
                    Attribute::Wrap(false),
                    Attribute::Modifiable(false),
                    lab.clone(),
                    id.clone(),
                ];
                let (mech, name) = if rsa {
                    public.extend([
                        Attribute::ModulusBits((spec.rsa_bits().expect("RSA spec") as u64).into()),
                        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                    ]);
                    (Mechanism::RsaPkcsKeyPairGen, "CKM_RSA_PKCS_KEY_PAIR_GEN")
                } else {
                    public.push(Attribute::EcParams(
                        ec_params(spec).expect("ECC spec").to_vec(),
                    ));
                    (Mechanism::EccKeyPairGen, "CKM_EC_KEY_PAIR_GEN")
                };
                let private = [
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(true),
                    Attribute::Sign(false),
                    Attribute::Decrypt(false),
                    Attribute::Unwrap(false),
                    Attribute::Derive(false),
                    Attribute::Modifiable(false),
                    trusted_only.clone(),
                    lab.clone(),
                    id.clone(),
                ];
                let (pub_h, priv_h) = self
                    .call("C_GenerateKeyPair", |s| {
                        s.generate_key_pair(&mech, &public, &private)
                    })
                    .ctx(|| ctx(name))?;
                HsmKey {
                    label: label.into(),
                    spec,
                    key: priv_h,
                    public: Some(pub_h),
                }
            }
        };
        let checked = self.check_key(&key).and_then(|()| {
            if !wrap_with_trusted {
                return Ok(());
            }
            let have = self
                .call("C_GetAttributeValue", |s| {
                    s.get_attributes(key.key, &[AttributeType::WrapWithTrusted])
                })
                .ctx(|| format!("reading CKA_WRAP_WITH_TRUSTED of {label:?}"))?;
            if have.contains(&Attribute::WrapWithTrusted(true)) {
                Ok(())
            } else {
                Err(HsmError::Capability {
                    label: self.identity.label.clone(),
                    what: "CKA_WRAP_WITH_TRUSTED on generated keys".into(),
                    reason: "the token did not keep CKA_WRAP_WITH_TRUSTED true".into(),
                })
            }
        });
        if let Err(e) = checked {
            // A key that does not meet the policy is never used: remove it.
            let _ = self.call("C_DestroyObject", |s| s.destroy_object(key.key));
            if let Some(p) = key.public {
                let _ = self.call("C_DestroyObject", |s| s.destroy_object(p));
            }
            return Err(e);
        }
        Ok(key)
    }

    /// Reads the key's attributes back and checks them against the policy
    /// for its spec (and the public half's size / curve).
    pub(crate) fn check_key(&mut self, key: &HsmKey) -> Result<(), HsmError> {
        let want = required(key.spec);
        let types: Vec<AttributeType> = want.iter().map(|a| a.attribute_type()).collect();
        let have = self
            .call("C_GetAttributeValue", |s| s.get_attributes(key.key, &types))
            .ctx(|| format!("reading the attributes of key {:?}", key.label))?;
        let mismatch = |problem: String| HsmError::KeyMismatch {
            label: key.label.clone(),
            spec: key.spec,
            problem,
        };
        for w in &want {
            match have
                .iter()
                .find(|h| h.attribute_type() == w.attribute_type())
            {
                Some(h) if h == w => {}
                Some(h) => {
                    return Err(mismatch(format!(
                        "{} is {h:?}, expected {w:?}",
                        w.attribute_type()
                    )));
                }
                None => {
                    return Err(mismatch(format!(
                        "the token does not report {}",
                        w.attribute_type()
                    )));
                }
            }
        }
        if key.spec.family() == KeyFamily::Rsa {
            let bits = self.rsa_modulus(key)?.len() * 8;
            if Some(bits) != key.spec.rsa_bits() {
                return Err(mismatch(format!("the modulus has {bits} bits")));
            }
        }
        Ok(())
    }

    fn rsa_modulus(&mut self, key: &HsmKey) -> Result<Vec<u8>, HsmError> {
        let (n, _) = self.rsa_public_parts(key)?;
        Ok(n)
    }

    fn rsa_public_parts(&mut self, key: &HsmKey) -> Result<(Vec<u8>, Vec<u8>), HsmError> {
        let obj = key.public.unwrap_or(key.key);
        let attrs = self
            .call("C_GetAttributeValue", |s| {
                s.get_attributes(
                    obj,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
            })
            .ctx(|| format!("reading the public key of {:?}", key.label))?;
        let mut n = None;
        let mut e = None;
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        match (n, e) {
            (Some(n), Some(e)) => {
                let strip = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>();
                Ok((strip(n), strip(e)))
            }
            _ => Err(HsmError::KeyMismatch {
                label: key.label.clone(),
                spec: key.spec,
                problem: "the token does not report CKA_MODULUS / CKA_PUBLIC_EXPONENT".into(),
            }),
        }
    }

    /// The key's `CKA_ID` (Airlock writes its binding there).
    pub fn key_id(&mut self, key: &HsmKey) -> Result<Vec<u8>, HsmError> {
        let attrs = self
            .call("C_GetAttributeValue", |s| {
                s.get_attributes(key.key, &[AttributeType::Id])
            })
            .ctx(|| format!("reading CKA_ID of {:?}", key.label))?;
        Ok(attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(v) => Some(v),
                _ => None,
            })
            .unwrap_or_default())
    }

    /// Destroys a token key (and its public half): only for
    /// `airlock ceremony discard`, on keys whose binding names the discarded
    /// ceremony's request.
    pub fn destroy_key(&mut self, key: HsmKey) -> Result<(), HsmError> {
        let label = key.label.clone();
        self.call("C_DestroyObject", |s| s.destroy_object(key.key))
            .ctx(|| format!("destroying key {label:?}"))?;
        if let Some(p) = key.public {
            self.call("C_DestroyObject", |s| s.destroy_object(p))
                .ctx(|| format!("destroying the public half of {label:?}"))?;
        }
        Ok(())
    }

    /// Whether the token reports the key object as modifiable.
    pub fn is_modifiable(&mut self, key: &HsmKey) -> Result<bool, HsmError> {
        let attrs = self
            .call("C_GetAttributeValue", |s| {
                s.get_attributes(key.key, &[AttributeType::Modifiable])
            })
            .ctx(|| format!("reading CKA_MODIFIABLE of {:?}", key.label))?;
        Ok(!attrs.contains(&Attribute::Modifiable(false)))
    }

    /// The token's object handle of the key (to tell two labels that name
    /// the same object apart); stable within a session.
    pub fn handle(key: &HsmKey) -> u64 {
        key.key.handle()
    }

    /// Finds existing material labelled `label` and checks it is `spec` and
    /// meets the key policy. `None` when no such key exists.
    pub fn find_key(&mut self, label: &str, spec: KeySpec) -> Result<Option<HsmKey>, HsmError> {
        let class = match spec.family() {
            KeyFamily::Aes | KeyFamily::Hmac => ObjectClass::SECRET_KEY,
            _ => ObjectClass::PRIVATE_KEY,
        };
        let found =
            self.objects_labelled(label, &[Attribute::Token(true), Attribute::Class(class)])?;
        let key = match found.as_slice() {
            [] => {
                let other = self.objects_labelled(label, &[Attribute::Token(true)])?;
                if other.is_empty() {
                    return Ok(None);
                }
                return Err(HsmError::KeyMismatch {
                    label: label.into(),
                    spec,
                    problem: format!("objects with this label exist but none is a {class}"),
                });
            }
            [one] => *one,
            many => {
                return Err(HsmError::KeyMismatch {
                    label: label.into(),
                    spec,
                    problem: format!(
                        "{} key objects carry this label; labels must be unique",
                        many.len()
                    ),
                });
            }
        };
        let public = if class == ObjectClass::PRIVATE_KEY {
            let p = self.objects_labelled(
                label,
                &[
                    Attribute::Token(true),
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                ],
            )?;
            match p.as_slice() {
                [one] => Some(*one),
                [] if spec.family() == KeyFamily::Rsa => None,
                _ => {
                    return Err(HsmError::KeyMismatch {
                        label: label.into(),
                        spec,
                        problem: format!(
                            "expected exactly one public key with this label, found {}",
                            p.len()
                        ),
                    });
                }
            }
        } else {
            None
        };
        let k = HsmKey {
            label: label.into(),
            spec,
            key,
            public,
        };
        self.check_key(&k)?;
        Ok(Some(k))
    }

    /// The CMAC KCV of an AES key, computed in the token: AES-CMAC over one
    /// zero block, first 3 bytes. `None` for other key types. The CMAC
    /// known-answer test runs first if it has not in this session.
    pub fn kcv(&mut self, key: &HsmKey) -> Result<Option<[u8; 3]>, HsmError> {
        if key.spec != KeySpec::SymmetricDefault {
            return Ok(None);
        }
        let kat = self.kat_cmac()?;
        if !kat.passed {
            return Err(HsmError::Capability {
                label: self.identity.label.clone(),
                what: "a working CKM_AES_CMAC (for the KCV)".into(),
                reason: kat.detail,
            });
        }
        let mac = self
            .call("C_Sign", |s| {
                s.sign(&Mechanism::AesCMac, key.key, &[0u8; 16])
            })
            .ctx(|| format!("computing the KCV of {:?} (CKM_AES_CMAC)", key.label))?;
        if mac.len() != 16 {
            return Err(HsmError::BadOutput {
                context: format!("KCV of {:?}", key.label),
                problem: format!("CMAC is {} bytes, expected 16", mac.len()),
            });
        }
        Ok(Some([mac[0], mac[1], mac[2]]))
    }

    /// The public key of an RSA or ECC key as DER SubjectPublicKeyInfo;
    /// `None` for secret keys.
    pub fn public_key_spki(&mut self, key: &HsmKey) -> Result<Option<Vec<u8>>, HsmError> {
        let bad = |problem: String| HsmError::BadOutput {
            context: format!("public key of {:?}", key.label),
            problem,
        };
        match key.spec.family() {
            KeyFamily::Aes | KeyFamily::Hmac => Ok(None),
            KeyFamily::Rsa => {
                let (n, e) = self.rsa_public_parts(key)?;
                Ok(Some(rsa_spki(&n, &e).map_err(bad)?))
            }
            KeyFamily::Ecc => {
                let Some(public) = key.public else {
                    return Err(bad("no public key object".into()));
                };
                let attrs = self
                    .call("C_GetAttributeValue", |s| {
                        s.get_attributes(public, &[AttributeType::EcPoint, AttributeType::EcParams])
                    })
                    .ctx(|| format!("reading the public key of {:?}", key.label))?;
                let mut point = None;
                let mut params = None;
                for a in attrs {
                    match a {
                        Attribute::EcPoint(v) => point = Some(v),
                        Attribute::EcParams(v) => params = Some(v),
                        _ => {}
                    }
                }
                let (Some(point), Some(params)) = (point, params) else {
                    return Err(bad(
                        "the token does not report CKA_EC_POINT / CKA_EC_PARAMS".into(),
                    ));
                };
                Ok(Some(ec_spki(&params, &point).map_err(bad)?))
            }
        }
    }
}

/// DER SPKI of an RSA public key from its big-endian modulus and exponent.
pub(crate) fn rsa_spki(n: &[u8], e: &[u8]) -> Result<Vec<u8>, String> {
    let n = rsa::BoxedUint::from_be_slice_vartime(n);
    let e = rsa::BoxedUint::from_be_slice_vartime(e);
    let key = rsa::PublicKey::new(n, e).map_err(|e| format!("not a valid RSA public key: {e}"))?;
    key.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| e.to_string())
}

/// DER SPKI of an EC public key from CKA_EC_PARAMS and CKA_EC_POINT (DER
/// OCTET STRING or raw uncompressed point).
pub(crate) fn ec_spki(params: &[u8], point: &[u8]) -> Result<Vec<u8>, String> {
    let raw = match OctetString::from_der(point) {
        Ok(os) if os.as_bytes().first() == Some(&0x04) => os.as_bytes().to_vec(),
        _ if point.first() == Some(&0x04) => point.to_vec(),
        _ => {
            return Err(
                "CKA_EC_POINT is neither a DER OCTET STRING nor an uncompressed point".into(),
            );
        }
    };
    let curve = der::Any::from_der(params).map_err(|e| format!("CKA_EC_PARAMS: {e}"))?;
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ID_EC_PUBLIC_KEY,
            parameters: Some(curve),
        },
        subject_public_key: BitString::from_bytes(&raw).map_err(|e| e.to_string())?,
    };
    spki.to_der().map_err(|e| e.to_string())
}
