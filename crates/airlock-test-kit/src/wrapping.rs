//! The AWS side of a wrap: an RSA key pair made by openssl standing in for
//! the KMS wrapping key, and unwrapping `EncryptedKeyMaterial.bin` both by
//! the openssl command line and by the `rsa` + `aes-kw` crates.

use std::path::{Path, PathBuf};
use std::process::Command;

use airlock_core::spec::{OaepHash, WrappingAlgorithm};
use airlock_hsm::{software_kwp_unwrap, software_oaep_decrypt};
use rsa::pkcs8::DecodePrivateKey;

use crate::sh;

/// An RSA key pair standing in for the AWS KMS wrapping key.
pub struct AwsWrappingKey {
    pub pem: PathBuf,
    pub spki_der: Vec<u8>,
    pub private: rsa::PrivateKey,
    pub bytes: usize,
}

/// An RSA key pair of `bits` made by openssl in `dir`.
pub fn aws_wrapping_key(dir: &Path, bits: usize) -> AwsWrappingKey {
    let pem = dir.join(format!("wrap-{bits}.pem"));
    sh(Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .arg("-out")
        .arg(&pem));
    let spki_der = sh(Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&pem));
    let private = rsa::PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&pem).unwrap()).unwrap();
    AwsWrappingKey {
        pem,
        spki_der,
        private,
        bytes: bits / 8,
    }
}

fn md(h: OaepHash) -> &'static str {
    match h {
        OaepHash::Sha1 => "sha1",
        OaepHash::Sha256 => "sha256",
    }
}

/// Unwraps with the openssl command line, as the formats.md contract says.
pub fn openssl_unwrap(
    dir: &Path,
    key: &AwsWrappingKey,
    alg: WrappingAlgorithm,
    wrapped: &[u8],
) -> Vec<u8> {
    openssl_unwrap_with(dir, &key.pem, key.bytes, alg, wrapped)
}

/// As [`openssl_unwrap`] under the private key file `pem` whose modulus
/// is `modulus_bytes` long; `dir` takes the intermediate files.
pub fn openssl_unwrap_with(
    dir: &Path,
    pem: &Path,
    modulus_bytes: usize,
    alg: WrappingAlgorithm,
    wrapped: &[u8],
) -> Vec<u8> {
    let h = md(alg.oaep_hash());
    let oaep_decrypt = |ct: &[u8]| {
        let f = dir.join("oaep.bin");
        std::fs::write(&f, ct).unwrap();
        sh(Command::new("openssl")
            .args(["pkeyutl", "-decrypt", "-inkey"])
            .arg(pem)
            .args(["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt"])
            .arg(format!("rsa_oaep_md:{h}"))
            .arg("-pkeyopt")
            .arg(format!("rsa_mgf1_md:{h}"))
            .arg("-in")
            .arg(&f))
    };
    if alg.is_oaep_only() {
        return oaep_decrypt(wrapped);
    }
    let (oaep, kwp) = wrapped.split_at(modulus_bytes);
    let k = oaep_decrypt(oaep);
    assert_eq!(k.len(), 32, "the OAEP part must carry an AES-256 key");
    let f = dir.join("kwp.bin");
    std::fs::write(&f, kwp).unwrap();
    sh(Command::new("openssl")
        .args(["enc", "-d", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K"])
        .arg(hex::encode(&k))
        .arg("-in")
        .arg(&f))
}

/// Unwraps with the rsa and aes-kw crates.
pub fn rust_unwrap(key: &AwsWrappingKey, alg: WrappingAlgorithm, wrapped: &[u8]) -> Vec<u8> {
    let h = alg.oaep_hash();
    if alg.is_oaep_only() {
        return software_oaep_decrypt(&key.private, h, wrapped)
            .expect("OAEP decrypt")
            .to_vec();
    }
    let (oaep, kwp) = wrapped.split_at(key.bytes);
    let k = software_oaep_decrypt(&key.private, h, oaep).expect("OAEP decrypt of the AES key");
    software_kwp_unwrap(&k, kwp)
        .expect("RFC 5649 unwrap")
        .to_vec()
}

/// The SPKI DER of a PKCS#8 private key, by openssl.
pub fn openssl_pkcs8_public(dir: &Path, pkcs8_der: &[u8]) -> Vec<u8> {
    let f = dir.join("material.p8");
    std::fs::write(&f, pkcs8_der).unwrap();
    sh(Command::new("openssl")
        .args([
            "pkey", "-inform", "DER", "-pubout", "-outform", "DER", "-in",
        ])
        .arg(&f))
}

/// AES-CMAC KCV of raw AES-256 material.
pub fn software_kcv(material: &[u8]) -> [u8; 3] {
    use cmac::{Cmac, KeyInit, Mac};
    let mut mac = <Cmac<aes::Aes256> as KeyInit>::new_from_slice(material).unwrap();
    mac.update(&[0u8; 16]);
    let t = mac.finalize().into_bytes();
    [t[0], t[1], t[2]]
}
