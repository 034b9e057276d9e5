//! Checks one `WrappingPublicKey.bin`: a DER SubjectPublicKeyInfo (the
//! base64-decoded `PublicKey` of GetParametersForImport) of an RSA key
//! (`rsaEncryption` with NULL parameters) whose modulus is exactly the
//! requested `wrapping_key_spec` and whose public exponent is 65537. Only
//! the DER structure is parsed, no big-number arithmetic, so ten thousand
//! keys check in milliseconds.

use rsa::pkcs1::RsaPublicKeyRef;
use rsa::pkcs8::SubjectPublicKeyInfoRef;
use rsa::pkcs8::der::{Decode, asn1::Null};

use crate::spec::WrappingKeySpec;

/// What is wrong with a wrapping public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrappingKeyProblem {
    /// Not a DER SubjectPublicKeyInfo.
    #[error(
        "not a DER SubjectPublicKeyInfo ({0}); it must be the base64-decoded PublicKey from get-parameters-for-import"
    )]
    NotSpki(String),
    /// Some other algorithm than RSA.
    #[error("not an RSA key (algorithm OID {0}); AWS KMS wrapping keys are RSA")]
    NotRsa(String),
    /// `rsaEncryption` parameters other than NULL.
    #[error("RSA algorithm parameters must be NULL")]
    BadParameters,
    /// The RSAPublicKey inside does not parse.
    #[error("the RSA public key inside does not parse ({0})")]
    BadRsaKey(String),
    /// The modulus size differs from `wrapping_key_spec`.
    #[error("an RSA-{bits} key, but wrapping_key_spec says {expected}")]
    WrongSize {
        /// Modulus size found.
        bits: usize,
        /// What the request says.
        expected: WrappingKeySpec,
    },
    /// The public exponent is not 65537.
    #[error("public exponent is 0x{0}; AWS KMS wrapping keys use 65537")]
    Exponent(String),
}

/// Checks `der` against `expected`.
pub fn check_wrapping_public_key(
    der: &[u8],
    expected: WrappingKeySpec,
) -> Result<(), WrappingKeyProblem> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| WrappingKeyProblem::NotSpki(e.to_string()))?;
    if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(WrappingKeyProblem::NotRsa(spki.algorithm.oid.to_string()));
    }
    match spki.algorithm.parameters {
        Some(p) if p.decode_as::<Null>().is_ok() => {}
        _ => return Err(WrappingKeyProblem::BadParameters),
    }
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| WrappingKeyProblem::BadRsaKey("unused bits in the key BIT STRING".into()))?;
    let key = RsaPublicKeyRef::from_der(key_bytes)
        .map_err(|e| WrappingKeyProblem::BadRsaKey(e.to_string()))?;
    let bits = bit_length(key.modulus.as_bytes());
    if bits != expected.bits() {
        return Err(WrappingKeyProblem::WrongSize { bits, expected });
    }
    let e = key.public_exponent.as_bytes();
    if e != [0x01, 0x00, 0x01] {
        return Err(WrappingKeyProblem::Exponent(hex::encode(e)));
    }
    Ok(())
}

/// Bit length of a big-endian unsigned integer (leading zeros ignored).
fn bit_length(be: &[u8]) -> usize {
    let first = be.iter().position(|b| *b != 0);
    match first {
        None => 0,
        Some(i) => (be.len() - i - 1) * 8 + (8 - be[i].leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn der_of(name: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/test-only-keys")
            .join(name);
        let pem = std::fs::read_to_string(p).unwrap();
        let (_, doc) = rsa::pkcs8::Document::from_pem(&pem).unwrap();
        doc.as_bytes().to_vec()
    }

    #[test]
    fn accepts_each_size_and_refuses_the_rest() {
        use WrappingKeySpec::*;
        for (file, spec) in [
            ("test-only-wrapping-rsa2048.pub.pem", Rsa2048),
            ("test-only-wrapping-rsa3072.pub.pem", Rsa3072),
            ("test-only-wrapping-rsa4096.pub.pem", Rsa4096),
        ] {
            let der = der_of(file);
            check_wrapping_public_key(&der, spec).unwrap();
            for other in WrappingKeySpec::ALL.iter().filter(|s| **s != spec) {
                assert!(matches!(
                    check_wrapping_public_key(&der, *other),
                    Err(WrappingKeyProblem::WrongSize { .. })
                ));
            }
        }
        assert_eq!(
            check_wrapping_public_key(&der_of("test-only-wrapping-rsa4096-e3.pub.pem"), Rsa4096),
            Err(WrappingKeyProblem::Exponent("03".into()))
        );
        assert!(matches!(
            check_wrapping_public_key(&der_of("test-only-ec-p256.pub.pem"), Rsa4096),
            Err(WrappingKeyProblem::NotRsa(_))
        ));
        assert!(matches!(
            check_wrapping_public_key(b"\x30\x03garbage", Rsa4096),
            Err(WrappingKeyProblem::NotSpki(_))
        ));
        let mut trailing = der_of("test-only-wrapping-rsa4096.pub.pem");
        trailing.push(0);
        assert!(matches!(
            check_wrapping_public_key(&trailing, Rsa4096),
            Err(WrappingKeyProblem::NotSpki(_))
        ));
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
    }
}
