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
    /// An ECC private key on a NIST curve (PKCS#8 when wrapped).
    Ecc,
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
            KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 => KeyFamily::Ecc,
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
