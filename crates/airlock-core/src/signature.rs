//! Request-signer keys and the signature over `SHA256SUMS`: RSASSA-PSS with
//! SHA-256, MGF1-SHA-256 and a 32-byte salt, by an RSA 3072 or 4096 key
//! (formats.md, "Common rules"). Keys arrive as SubjectPublicKeyInfo, DER or
//! PEM (`openssl pkey -pubout`); a key is known by the SHA-256 of its SPKI
//! DER, which custodians read aloud in groups of four hex digits.

use std::fmt;

use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::pss::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use sha2::Sha256;

use crate::exit::{ExitClass, ExitCode};
use crate::sums::Sha256Digest;

/// The PSS salt length both sides use.
pub const PSS_SALT_LEN: usize = 32;

/// Signer key sizes accepted, in bits.
pub const SIGNER_BITS: [usize; 2] = [3072, 4096];

/// The SHA-256 of a key's SubjectPublicKeyInfo DER.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub Sha256Digest);

impl Fingerprint {
    /// The fingerprint of `spki_der`.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Fingerprint(Sha256Digest::of(spki_der))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Hex in groups of four, for reading aloud: `ab12 cd34 ...`.
    pub fn grouped(&self) -> String {
        group_hex(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Splits hex into groups of four separated by spaces.
pub fn group_hex(hex: &str) -> String {
    let mut out = String::with_capacity(hex.len() + hex.len() / 4);
    for (i, c) in hex.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Why a signer key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerKeyError {
    /// Not PEM with a `PUBLIC KEY` block.
    #[error("not a PEM public key ({0}); export it with `openssl pkey -in KEY -pubout`")]
    Pem(String),
    /// A PKCS#1 `RSA PUBLIC KEY` block instead of SPKI.
    #[error(
        "this is a PKCS#1 \"RSA PUBLIC KEY\"; convert it to SubjectPublicKeyInfo with `openssl rsa -RSAPublicKey_in -in FILE -pubout`"
    )]
    Pkcs1Pem,
    /// Not a DER SubjectPublicKeyInfo of an RSA key.
    #[error("not an RSA SubjectPublicKeyInfo ({0})")]
    NotRsaSpki(String),
    /// An RSA key of a size other than 3072 or 4096 bits.
    #[error("an RSA-{bits} key; request signers must be RSA 3072 or 4096")]
    WrongSize {
        /// Modulus size.
        bits: usize,
    },
}

impl ExitClass for SignerKeyError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Trust
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature is not as long as the key's modulus.
    #[error(
        "SHA256SUMS.sig is {len} bytes, but an RSA-{bits} signature is {expected} bytes (truncated or made with another key?)"
    )]
    WrongLength {
        /// Length found.
        len: usize,
        /// Length expected.
        expected: usize,
        /// Key size.
        bits: usize,
    },
    /// The PSS check failed.
    #[error("SHA256SUMS.sig does not verify under this key (RSASSA-PSS, SHA-256, salt 32)")]
    Invalid,
}

impl ExitClass for SignatureError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Signature
    }
}

/// A validated request-signer public key (RSA 3072/4096).
#[derive(Clone)]
pub struct SignerKey {
    spki_der: Vec<u8>,
    verifying: VerifyingKey<Sha256>,
    bits: usize,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("bits", &self.bits)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl SignerKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SignerKeyError> {
        let key = rsa::PublicKey::from_public_key_der(der)
            .map_err(|e| SignerKeyError::NotRsaSpki(e.to_string()))?;
        // Normalise: the stored bytes are the canonical re-encoding, and a
        // non-canonical input (trailing data, odd length forms) is refused.
        let canonical = key
            .to_public_key_der()
            .map_err(|e| SignerKeyError::NotRsaSpki(e.to_string()))?;
        if canonical.as_bytes() != der {
            return Err(SignerKeyError::NotRsaSpki(
                "not in canonical DER form".to_string(),
            ));
        }
        let bits = key.n().bit_width() as usize;
        if !SIGNER_BITS.contains(&bits) {
            return Err(SignerKeyError::WrongSize { bits });
        }
        Ok(SignerKey {
            spki_der: der.to_vec(),
            verifying: VerifyingKey::new_with_salt_len(key, PSS_SALT_LEN),
            bits,
        })
    }

    /// Parses a PEM `PUBLIC KEY` (SPKI) block.
    pub fn from_pem(text: &str) -> Result<Self, SignerKeyError> {
        if text.contains("-----BEGIN RSA PUBLIC KEY-----") {
            return Err(SignerKeyError::Pkcs1Pem);
        }
        let (label, doc) =
            rsa::pkcs8::Document::from_pem(text).map_err(|e| SignerKeyError::Pem(e.to_string()))?;
        if label != "PUBLIC KEY" {
            return Err(SignerKeyError::Pem(format!(
                "found a \"{label}\" block, expected \"PUBLIC KEY\""
            )));
        }
        Self::from_spki_der(doc.as_bytes())
    }

    /// The SPKI as PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> String {
        self.verifying
            .as_ref()
            .to_public_key_pem(LineEnding::LF)
            .expect("a parsed RSA key always re-encodes")
    }

    /// The SPKI DER bytes.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// SHA-256 of the SPKI DER.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_spki(&self.spki_der)
    }

    /// Verifies an RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) signature
    /// over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let expected = self.bits.div_ceil(8);
        if signature.len() != expected {
            return Err(SignatureError::WrongLength {
                len: signature.len(),
                expected,
                bits: self.bits,
            });
        }
        let sig = Signature::try_from(signature).map_err(|_| SignatureError::Invalid)?;
        self.verifying
            .verify(message, &sig)
            .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/test-only-keys")
            .join(name)
    }

    fn openssl_sign(key: &str, msg: &[u8], salt: &str) -> Vec<u8> {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("m");
        std::fs::write(&m, msg).unwrap();
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss"])
            .args(["-sigopt", &format!("rsa_pss_saltlen:{salt}"), "-sign"])
            .arg(fixture(key))
            .arg(&m)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    }

    fn signer() -> SignerKey {
        let pem = std::fs::read_to_string(fixture("test-only-signer-rsa3072.pub.pem")).unwrap();
        SignerKey::from_pem(&pem).unwrap()
    }

    #[test]
    fn verifies_openssl_pss_signatures() {
        let k = signer();
        assert_eq!(k.bits(), 3072);
        let sig = openssl_sign("test-only-signer-rsa3072.key.pem", b"hello\n", "32");
        k.verify(b"hello\n", &sig).unwrap();
        assert_eq!(k.verify(b"hello", &sig), Err(SignatureError::Invalid));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(k.verify(b"hello\n", &bad), Err(SignatureError::Invalid));
        assert!(matches!(
            k.verify(b"hello\n", &sig[..sig.len() - 1]),
            Err(SignatureError::WrongLength { .. })
        ));
        // A different salt length is a different scheme: refused.
        let sig20 = openssl_sign("test-only-signer-rsa3072.key.pem", b"hello\n", "20");
        assert_eq!(k.verify(b"hello\n", &sig20), Err(SignatureError::Invalid));
        // Another key's signature is refused.
        let other = openssl_sign("test-only-other-signer-rsa3072.key.pem", b"hello\n", "32");
        assert_eq!(k.verify(b"hello\n", &other), Err(SignatureError::Invalid));
    }

    #[test]
    fn fingerprint_matches_openssl() {
        let k = signer();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl pkey -pubin -in {} -outform DER | sha256sum",
                fixture("test-only-signer-rsa3072.pub.pem").display()
            ))
            .output()
            .unwrap();
        let want = String::from_utf8(out.stdout).unwrap();
        assert_eq!(k.fingerprint().to_hex(), want[..64]);
        assert_eq!(k.fingerprint().grouped().len(), 64 + 15);
        assert_eq!(
            SignerKey::from_pem(&k.to_pem()).unwrap().spki_der(),
            k.spki_der()
        );
    }

    #[test]
    fn refuses_wrong_keys() {
        let read = |n: &str| std::fs::read_to_string(fixture(n)).unwrap();
        assert_eq!(
            SignerKey::from_pem(&read("test-only-signer-rsa2048.pub.pem")).unwrap_err(),
            SignerKeyError::WrongSize { bits: 2048 }
        );
        assert!(matches!(
            SignerKey::from_pem(&read("test-only-ec-p256.pub.pem")),
            Err(SignerKeyError::NotRsaSpki(_))
        ));
        assert!(matches!(
            SignerKey::from_pem(&read("test-only-signer-rsa3072.key.pem")),
            Err(SignerKeyError::Pem(_))
        ));
        assert!(matches!(
            SignerKey::from_pem("garbage"),
            Err(SignerKeyError::Pem(_))
        ));
        assert!(SignerKey::from_pem(&read("test-only-signer-rsa4096.pub.pem")).is_ok());
        assert_eq!(group_hex("0123456789"), "0123 4567 89");
    }
}
