//! Signing a request bundle's SHA256SUMS with RSASSA-PSS (SHA-256,
//! MGF1-SHA-256, salt 32), as formats.md requires: with a local private key
//! PEM (`pem:FILE`) or an AWS KMS RSA_3072/RSA_4096 SIGN_VERIFY key
//! (`kms:KEY_ID`, Sign with MessageType DIGEST). Either way the signature
//! is verified with airlock-core's verifier before the bundle is published.

use std::path::PathBuf;

use airlock_core::signature::SignerKey;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::{SignatureEncoding, Signer as _};

use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::kms::aws_err;

/// Who signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A private key PEM (PKCS#8 or PKCS#1).
    Pem(PathBuf),
    /// An AWS KMS key id, ARN or alias.
    Kms(String),
}

impl std::str::FromStr for Signer {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            Some(("pem", p)) if !p.is_empty() => Ok(Signer::Pem(PathBuf::from(p))),
            Some(("kms", k)) if !k.is_empty() => Ok(Signer::Kms(k.to_string())),
            _ => Err(format!("'{s}' must be pem:FILE or kms:KEY_ID")),
        }
    }
}

/// A signature and the signer's public key (SPKI, checked to be RSA 3072/4096).
pub struct Signed {
    /// The raw PSS signature.
    pub signature: Vec<u8>,
    /// The signer's public key.
    pub public: SignerKey,
}

/// Loads the signer's public key without signing (for --dry-run checks).
pub fn check_pem(path: &std::path::Path) -> Result<(rsa::PrivateKey, SignerKey)> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading the signer key", e))?;
    let key = rsa::PrivateKey::from_pkcs8_pem(&text)
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::PrivateKey::from_pkcs1_pem(&text)
        })
        .map_err(|_| {
            Error::refused(
                Exit::Usage,
                format!("signer key {}: not an RSA private key PEM; use the enrolled request signer's key", path.display()),
            )
        })?;
    let spki = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| Error::refused(Exit::Usage, format!("signer key {}: {e}", path.display())))?;
    let public = SignerKey::from_spki_der(spki.as_bytes()).map_err(|e| {
        Error::refused(
            Exit::Usage,
            format!(
                "signer key {}: {e} (RSA 3072 or 4096 bits is required)",
                path.display()
            ),
        )
    })?;
    Ok((key, public))
}

/// Signs `message` (the exact SHA256SUMS bytes) and verifies the result.
pub async fn sign(
    signer: &Signer,
    message: &[u8],
    kms: Option<&aws_sdk_kms::Client>,
) -> Result<Signed> {
    let signed = match signer {
        Signer::Pem(path) => {
            let (key, public) = check_pem(path)?;
            let sk = rsa::pss::SigningKey::<Sha256>::new_with_salt_len(key, 32);
            let sig = sk.try_sign(message).map_err(|e| {
                Error::refused(Exit::Io, format!("signing with {}: {e}", path.display()))
            })?;
            Signed {
                signature: sig.to_vec(),
                public,
            }
        }
        Signer::Kms(id) => {
            let kms =
                kms.ok_or_else(|| Error::refused(Exit::Usage, "kms: signer needs AWS access"))?;
            let pk = kms
                .get_public_key()
                .key_id(id)
                .send()
                .await
                .map_err(|e| aws_err("kms:GetPublicKey", &format!("the signer {id}"), &e))?;
            let spec = pk
                .key_spec
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let usage = pk
                .key_usage
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if !(spec == "RSA_3072" || spec == "RSA_4096") || usage != "SIGN_VERIFY" {
                return Err(Error::refused(
                    Exit::KeyState,
                    format!(
                        "signer {id} is {spec}/{usage}; it must be an RSA_3072 or RSA_4096 SIGN_VERIFY key"
                    ),
                ));
            }
            let der = pk.public_key.map(|b| b.into_inner()).unwrap_or_default();
            let public = SignerKey::from_spki_der(&der)
                .map_err(|e| Error::refused(Exit::KeyState, format!("signer {id}: {e}")))?;
            let digest = Sha256::digest(message);
            let out = kms
                .sign()
                .key_id(id)
                .message(Blob::new(digest.to_vec()))
                .message_type(MessageType::Digest)
                .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
                .send()
                .await
                .map_err(|e| aws_err("kms:Sign", &format!("the signer {id}"), &e))?;
            Signed {
                signature: out.signature.map(|b| b.into_inner()).unwrap_or_default(),
                public,
            }
        }
    };
    signed.public.verify(message, &signed.signature).map_err(|e| {
        Error::refused(Exit::KeyState, format!("the signature just made does not verify under the signer's own public key ({e}); check the signer key"))
    })?;
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_specs() {
        assert_eq!("pem:/a/b".parse::<Signer>(), Ok(Signer::Pem("/a/b".into())));
        assert_eq!(
            "kms:alias/x".parse::<Signer>(),
            Ok(Signer::Kms("alias/x".into()))
        );
        assert!("file:/a".parse::<Signer>().is_err());
        assert!("pem:".parse::<Signer>().is_err());
    }

    #[tokio::test]
    async fn pem_signatures_verify_and_small_keys_are_refused() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/test-only-keys");
        let s = sign(
            &Signer::Pem(dir.join("test-only-signer-rsa3072.key.pem")),
            b"hello\n",
            None,
        )
        .await
        .unwrap();
        assert_eq!(s.signature.len(), 384);
        assert!(s.public.verify(b"hello\n", &s.signature).is_ok());
        assert!(s.public.verify(b"hellO\n", &s.signature).is_err());
        let e = sign(
            &Signer::Pem(dir.join("test-only-signer-rsa2048.key.pem")),
            b"x",
            None,
        )
        .await;
        assert_eq!(e.err().map(|e| e.exit()), Some(Exit::Usage));
    }
}
