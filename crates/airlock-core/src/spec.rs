//! The vocabulary shared by both sides of the air gap: AWS KMS key specs,
//! wrapping algorithms and wrapping key sizes, and the matrix of which
//! wrapping algorithm may carry which key material (formats.md, "Wrapping
//! algorithm per key spec").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An unrecognised spelling of one of the enumerations below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of: {expected}")]
pub struct UnknownName {
    /// Which enumeration was being parsed (e.g. "key_spec").
    pub kind: &'static str,
    /// The value that was given.
    pub value: String,
    /// The accepted spellings, comma separated.
    pub expected: &'static str,
}

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $var),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The AWS spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$var),)+
                    _ => Err(UnknownName {
                        kind: $kind,
                        value: s.to_string(),
                        expected: concat!($($s, " "),+),
                    }),
                }
            }
        }
    };
}

named_enum!(
    /// The AWS KMS key spec of the key whose material is imported.
    KeySpec, "key_spec" {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
    }
);

named_enum!(
    /// The `WrappingAlgorithm` passed to GetParametersForImport.
    WrappingAlgorithm, "wrapping_algorithm" {
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256",
        RsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1",
    }
);

named_enum!(
    /// The `WrappingKeySpec` passed to GetParametersForImport.
    WrappingKeySpec, "wrapping_key_spec" {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
    }
);

named_enum!(
    /// Whether the import adds new material or re-imports existing material.
    ImportType, "import_type" {
        NewKeyMaterial = "NEW_KEY_MATERIAL",
        ExistingKeyMaterial = "EXISTING_KEY_MATERIAL",
    }
);

/// The broad family of a key spec, which decides the material encoding and
/// the allowed wrapping algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// AES-256 (SYMMETRIC_DEFAULT).
    Aes,
    /// A generic secret used for HMAC.
    Hmac,
    /// An RSA private key (PKCS#8 when wrapped).
    Rsa,
    /// An ECC private key on a NIST curve or secp256k1 (PKCS#8 when wrapped).
    Ecc,
}

/// The named curves of the ECC key specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// SECG secp256k1 (the "Bitcoin curve").
    Secp256k1,
}

impl EcCurve {
    /// DER of the namedCurve OID, as PKCS#11 `CKA_EC_PARAMS` holds it.
    pub fn params_der(self) -> &'static [u8] {
        match self {
            EcCurve::P256 => &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
            EcCurve::P384 => &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22],
            EcCurve::P521 => &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23],
            EcCurve::Secp256k1 => &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A],
        }
    }

    /// The curve's name as OpenSSL prints it (`ASN1 OID:` of `openssl pkey -text`).
    pub fn openssl_name(self) -> &'static str {
        match self {
            EcCurve::P256 => "prime256v1",
            EcCurve::P384 => "secp384r1",
            EcCurve::P521 => "secp521r1",
            EcCurve::Secp256k1 => "secp256k1",
        }
    }
}

/// Key specs AWS KMS lists that Airlock does not import, each with the
/// reason a refusal gives. Checked before the "unknown key spec" error so
/// that an operator asking for one learns why rather than a typo hint.
pub const NOT_IMPORTABLE: &[(&str, &str)] = &[
    (
        "ML_DSA_44",
        "Airlock found no AWS KMS documentation of imported key material (Origin EXTERNAL) \
         for ML-DSA keys, and no token it is tested on can generate one; create the key in KMS",
    ),
    (
        "ML_DSA_65",
        "Airlock found no AWS KMS documentation of imported key material (Origin EXTERNAL) \
         for ML-DSA keys, and no token it is tested on can generate one; create the key in KMS",
    ),
    (
        "ML_DSA_87",
        "Airlock found no AWS KMS documentation of imported key material (Origin EXTERNAL) \
         for ML-DSA keys, and no token it is tested on can generate one; create the key in KMS",
    ),
    (
        "ECC_NIST_EDWARDS25519",
        "Airlock has not confirmed that AWS KMS accepts imported Ed25519 material, nor how it \
         wants the private key encoded, so it does not offer it; create the key in KMS instead",
    ),
    (
        "SM2",
        "SM2 keys exist only in the AWS China Regions, which this version does not support",
    ),
];

/// Parses a `key_spec`, refusing the ones in [`NOT_IMPORTABLE`] with their reason.
pub fn parse_key_spec(s: &str) -> Result<KeySpec, KeySpecRefusal> {
    if let Some((_, why)) = NOT_IMPORTABLE.iter().find(|(n, _)| *n == s) {
        return Err(KeySpecRefusal::NotImportable {
            spec: s.to_string(),
            reason: why,
        });
    }
    s.parse().map_err(KeySpecRefusal::Unknown)
}

/// Why a `key_spec` string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySpecRefusal {
    /// A real KMS key spec that Airlock does not import.
    #[error("{spec} is not supported: {reason}")]
    NotImportable {
        /// The key spec as given.
        spec: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Not a KMS key spec at all.
    #[error(transparent)]
    Unknown(UnknownName),
}

/// Hash used for OAEP (and MGF1) by a wrapping algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OaepHash {
    /// SHA-1: refused unless the ceremony explicitly allows it.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl KeySpec {
    /// Which family this key spec belongs to.
    pub fn family(self) -> KeyFamily {
        match self {
            KeySpec::SymmetricDefault => KeyFamily::Aes,
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
                KeyFamily::Hmac
            }
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => KeyFamily::Rsa,
            KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1 => KeyFamily::Ecc,
        }
    }

    /// The elliptic curve of an ECC key spec.
    pub fn curve(self) -> Option<EcCurve> {
        match self {
            KeySpec::EccNistP256 => Some(EcCurve::P256),
            KeySpec::EccNistP384 => Some(EcCurve::P384),
            KeySpec::EccNistP521 => Some(EcCurve::P521),
            KeySpec::EccSecgP256k1 => Some(EcCurve::Secp256k1),
            _ => None,
        }
    }

    /// The signing algorithm the online side uses for its test signature
    /// after an import (`None` for keys that do not sign: AES and HMAC).
    pub fn test_signing_algorithm(self) -> Option<&'static str> {
        match self {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => Some("RSASSA_PSS_SHA_256"),
            KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => Some("ECDSA_SHA_256"),
            KeySpec::EccNistP384 => Some("ECDSA_SHA_384"),
            KeySpec::EccNistP521 => Some("ECDSA_SHA_512"),
            _ => None,
        }
    }

    /// Length in bytes of the plaintext material for secret keys
    /// (AES and HMAC); `None` for key pairs, whose material is PKCS#8 DER.
    pub fn secret_len(self) -> Option<usize> {
        match self {
            KeySpec::SymmetricDefault => Some(32),
            KeySpec::Hmac224 => Some(28),
            KeySpec::Hmac256 => Some(32),
            KeySpec::Hmac384 => Some(48),
            KeySpec::Hmac512 => Some(64),
            _ => None,
        }
    }

    /// RSA modulus size in bits for RSA key specs.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeySpec::Rsa2048 => Some(2048),
            KeySpec::Rsa3072 => Some(3072),
            KeySpec::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// Whether `alg` may carry this key's material (the KMS matrix), not
    /// counting the SHA-1 policy, which [`check_wrapping`] applies.
    pub fn allows(self, alg: WrappingAlgorithm, wrapping_key: WrappingKeySpec) -> bool {
        match self.family() {
            KeyFamily::Aes | KeyFamily::Hmac => alg.is_oaep_only(),
            KeyFamily::Rsa => !alg.is_oaep_only(),
            KeyFamily::Ecc => {
                // ECC_NIST_P521 (a ~241-byte PKCS#8) does not fit plain OAEP
                // under a 2048-bit wrapping key.
                !(self == KeySpec::EccNistP521
                    && alg.is_oaep_only()
                    && wrapping_key == WrappingKeySpec::Rsa2048)
            }
        }
    }

    /// The algorithm the online side should ask for.
    pub fn preferred_wrapping(self) -> WrappingAlgorithm {
        match self.family() {
            KeyFamily::Aes | KeyFamily::Hmac => WrappingAlgorithm::RsaesOaepSha256,
            KeyFamily::Rsa | KeyFamily::Ecc => WrappingAlgorithm::RsaAesKeyWrapSha256,
        }
    }
}

impl WrappingAlgorithm {
    /// True for RSAES_OAEP_* (the material itself is OAEP-encrypted).
    pub fn is_oaep_only(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaesOaepSha1
        )
    }

    /// The OAEP/MGF1 hash.
    pub fn oaep_hash(self) -> OaepHash {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                OaepHash::Sha1
            }
            _ => OaepHash::Sha256,
        }
    }

    /// True for the SHA-1 variants, which need an explicit override.
    pub fn is_sha1(self) -> bool {
        self.oaep_hash() == OaepHash::Sha1
    }
}

impl WrappingKeySpec {
    /// Modulus size in bits.
    pub fn bits(self) -> usize {
        match self {
            WrappingKeySpec::Rsa2048 => 2048,
            WrappingKeySpec::Rsa3072 => 3072,
            WrappingKeySpec::Rsa4096 => 4096,
        }
    }

    /// Modulus size in bytes (the length of an OAEP ciphertext).
    pub fn bytes(self) -> usize {
        self.bits() / 8
    }
}

/// Why a key spec / wrapping algorithm pair was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrappingRefusal {
    /// The KMS matrix does not allow this combination at all.
    #[error(
        "{alg} cannot carry {spec} material under a {wrapping_key} wrapping key \
         (AWS KMS allows {allowed}); ask the online side for {preferred}"
    )]
    NotAllowed {
        /// Key spec of the material.
        spec: KeySpec,
        /// Requested algorithm.
        alg: WrappingAlgorithm,
        /// Requested wrapping key size.
        wrapping_key: WrappingKeySpec,
        /// Human list of what is allowed.
        allowed: &'static str,
        /// What the online side should request instead.
        preferred: WrappingAlgorithm,
    },
    /// A SHA-1 variant without the operator's explicit override.
    #[error("{alg} uses SHA-1; it is refused unless this ceremony is run with --allow-sha1")]
    Sha1NotAllowed {
        /// Requested algorithm.
        alg: WrappingAlgorithm,
    },
}

/// Applies the KMS matrix and the SHA-1 policy to one key.
pub fn check_wrapping(
    spec: KeySpec,
    alg: WrappingAlgorithm,
    wrapping_key: WrappingKeySpec,
    allow_sha1: bool,
) -> Result<(), WrappingRefusal> {
    if !spec.allows(alg, wrapping_key) {
        let allowed = match spec.family() {
            KeyFamily::Aes | KeyFamily::Hmac => "RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1",
            KeyFamily::Rsa => "RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1",
            KeyFamily::Ecc => "RSA_AES_KEY_WRAP_* (and RSAES_OAEP_* with RSA_3072/RSA_4096)",
        };
        return Err(WrappingRefusal::NotAllowed {
            spec,
            alg,
            wrapping_key,
            allowed,
            preferred: spec.preferred_wrapping(),
        });
    }
    if alg.is_sha1() && !allow_sha1 {
        return Err(WrappingRefusal::Sha1NotAllowed { alg });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in KeySpec::ALL {
            assert_eq!(s.as_str().parse::<KeySpec>().unwrap(), *s);
        }
        for a in WrappingAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<WrappingAlgorithm>().unwrap(), *a);
        }
        assert!("AES_256".parse::<KeySpec>().is_err());
    }

    #[test]
    fn matrix_matches_kms_reference() {
        use KeySpec::*;
        use WrappingAlgorithm::*;
        let w = WrappingKeySpec::Rsa4096;
        assert!(SymmetricDefault.allows(RsaesOaepSha256, w));
        assert!(!SymmetricDefault.allows(RsaAesKeyWrapSha256, w));
        assert!(!Hmac512.allows(RsaAesKeyWrapSha1, w));
        assert!(Rsa2048.allows(RsaAesKeyWrapSha256, w));
        assert!(!Rsa4096.allows(RsaesOaepSha256, w));
        assert!(EccNistP256.allows(RsaesOaepSha256, w));
        assert!(EccNistP521.allows(RsaesOaepSha256, w));
        assert!(!EccNistP521.allows(RsaesOaepSha1, WrappingKeySpec::Rsa2048));
        assert!(EccNistP521.allows(RsaAesKeyWrapSha256, WrappingKeySpec::Rsa2048));
        // secp256k1 is a 32-byte scalar like P-256: plain OAEP carries it
        // even under a 2048-bit wrapping key.
        assert!(EccSecgP256k1.allows(RsaesOaepSha256, WrappingKeySpec::Rsa2048));
        assert!(EccSecgP256k1.allows(RsaAesKeyWrapSha256, WrappingKeySpec::Rsa2048));
        assert_eq!(EccSecgP256k1.preferred_wrapping(), RsaAesKeyWrapSha256);
    }

    #[test]
    fn every_ecc_spec_has_a_curve_and_a_test_signature() {
        for s in KeySpec::ALL {
            let ecc = s.family() == KeyFamily::Ecc;
            assert_eq!(s.curve().is_some(), ecc, "{s}");
            let signs = matches!(s.family(), KeyFamily::Rsa | KeyFamily::Ecc);
            assert_eq!(s.test_signing_algorithm().is_some(), signs, "{s}");
        }
        assert_eq!(
            KeySpec::EccSecgP256k1.curve().unwrap().params_der(),
            // 1.3.132.0.10
            &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A]
        );
    }

    /// The matrix table in docs/formats.md, row by row, against the code.
    #[test]
    fn docs_matrix_matches_the_code() {
        let doc = include_str!("../../../docs/formats.md");
        let start = doc.find("<!-- key-spec-matrix -->").expect("start marker");
        let end = doc.find("<!-- /key-spec-matrix -->").expect("end marker");
        let rows: Vec<Vec<&str>> = doc[start..end]
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| key spec"))
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        let cell = |spec: KeySpec, oaep: bool| {
            let ok: Vec<&str> = WrappingKeySpec::ALL
                .iter()
                .filter(|w| {
                    WrappingAlgorithm::ALL
                        .iter()
                        .filter(|a| a.is_oaep_only() == oaep)
                        .all(|a| spec.allows(*a, **w))
                })
                .map(|w| w.as_str())
                .collect();
            match ok.len() {
                0 => "no".to_string(),
                n if n == WrappingKeySpec::ALL.len() => "yes".to_string(),
                _ => format!("{} only", ok.join(", ")),
            }
        };
        assert_eq!(rows.len(), KeySpec::ALL.len(), "one row per key spec");
        for (row, spec) in rows.iter().zip(KeySpec::ALL) {
            assert_eq!(row[0], spec.as_str());
            assert_eq!(row[1], cell(*spec, true), "{spec} RSAES_OAEP_*");
            assert_eq!(row[2], cell(*spec, false), "{spec} RSA_AES_KEY_WRAP_*");
            assert_eq!(row[3], spec.preferred_wrapping().as_str(), "{spec}");
        }
    }

    #[test]
    fn newer_kms_specs_are_refused_with_a_reason() {
        for name in [
            "ML_DSA_44",
            "ML_DSA_65",
            "ML_DSA_87",
            "ECC_NIST_EDWARDS25519",
            "SM2",
        ] {
            let e = parse_key_spec(name).unwrap_err();
            assert!(matches!(e, KeySpecRefusal::NotImportable { .. }), "{name}");
            assert!(
                e.to_string()
                    .starts_with(&format!("{name} is not supported: "))
            );
        }
        assert!(matches!(
            parse_key_spec("AES_256"),
            Err(KeySpecRefusal::Unknown(_))
        ));
        assert_eq!(
            parse_key_spec("ECC_SECG_P256K1"),
            Ok(KeySpec::EccSecgP256k1)
        );
    }

    #[test]
    fn sha1_needs_override() {
        let r = check_wrapping(
            KeySpec::SymmetricDefault,
            WrappingAlgorithm::RsaesOaepSha1,
            WrappingKeySpec::Rsa4096,
            false,
        );
        assert!(matches!(r, Err(WrappingRefusal::Sha1NotAllowed { .. })));
        assert!(
            check_wrapping(
                KeySpec::SymmetricDefault,
                WrappingAlgorithm::RsaesOaepSha1,
                WrappingKeySpec::Rsa4096,
                true
            )
            .is_ok()
        );
    }
}
