//! Kryoptic: every key spec with every allowed wrapping algorithm, wrapped
//! in the token and unwrapped here by openssl and by rsa + aes-kw; AES KCVs
//! recomputed from the unwrapped material, PKCS#8 public keys matched to
//! the token's SPKI.

use airlock_core::spec::{KeyFamily, KeySpec, WrappingAlgorithm};
use airlock_hsm::testing::{TestToken, TokenKind};
use airlock_hsm::{Hsm, UserSession, WrapPath};
use airlock_test_kit::wrapping::*;

fn check_round_trip(
    s: &mut UserSession,
    dir: &std::path::Path,
    wk: &AwsWrappingKey,
    spec: KeySpec,
    alg: WrappingAlgorithm,
    n: usize,
) {
    let label = format!("k{n}-{}/req-1", spec.as_str().to_lowercase());
    let key = s.generate(&label, spec).unwrap();
    let wrapped = s.wrap(&key, &wk.spki_der, alg).unwrap();
    let expected_path = if alg.is_oaep_only() {
        WrapPath::RsaOaep
    } else {
        WrapPath::KwpThenOaep
    };
    assert_eq!(wrapped.path, expected_path, "{spec} {alg}");
    let by_openssl = openssl_unwrap(dir, wk, alg, &wrapped.bytes);
    let by_rust = rust_unwrap(wk, alg, &wrapped.bytes);
    assert_eq!(
        by_openssl, by_rust,
        "{spec} {alg}: openssl and rsa+aes-kw disagree"
    );
    match spec.family() {
        KeyFamily::Aes => {
            assert_eq!(by_rust.len(), 32);
            let kcv = s.kcv(&key).unwrap().expect("AES has a KCV");
            assert_eq!(
                kcv,
                software_kcv(&by_rust),
                "{spec} {alg}: KCV from the token differs"
            );
            assert_eq!(s.public_key_spki(&key).unwrap(), None);
        }
        KeyFamily::Hmac => {
            assert_eq!(Some(by_rust.len()), spec.secret_len(), "{spec}");
            assert_eq!(s.kcv(&key).unwrap(), None);
        }
        KeyFamily::Rsa | KeyFamily::Ecc => {
            let spki = s
                .public_key_spki(&key)
                .unwrap()
                .expect("key pairs have an SPKI");
            assert_eq!(
                openssl_pkcs8_public(dir, &by_rust),
                spki,
                "{spec} {alg}: public keys differ"
            );
            if spec.family() == KeyFamily::Rsa {
                use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
                let k = rsa::PrivateKey::from_pkcs8_der(&by_rust).expect("RSA PKCS#8");
                assert_eq!(
                    k.to_public_key().to_public_key_der().unwrap().as_bytes(),
                    &spki[..]
                );
            }
        }
    }
    assert!(
        s.session_objects().unwrap().is_empty(),
        "{spec} {alg}: session objects left"
    );
}

fn session(t: &TestToken) -> (Hsm, UserSession) {
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    s.self_test(WrappingAlgorithm::ALL).unwrap();
    (hsm, s)
}

#[test]
fn secret_keys_with_both_oaep_variants() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = session(&t);
    let wk = aws_wrapping_key(t.dir(), 2048);
    let mut n = 0;
    for spec in [
        KeySpec::SymmetricDefault,
        KeySpec::Hmac224,
        KeySpec::Hmac256,
        KeySpec::Hmac384,
        KeySpec::Hmac512,
    ] {
        for alg in [
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaesOaepSha1,
        ] {
            n += 1;
            check_round_trip(&mut s, t.dir(), &wk, spec, alg, n);
        }
    }
    assert_eq!(s.close().unwrap().remaining, 0);
}

#[test]
fn rsa_keys_with_rsa_aes_key_wrap() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = session(&t);
    let wk = aws_wrapping_key(t.dir(), 4096);
    check_round_trip(
        &mut s,
        t.dir(),
        &wk,
        KeySpec::Rsa2048,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        1,
    );
    check_round_trip(
        &mut s,
        t.dir(),
        &wk,
        KeySpec::Rsa2048,
        WrappingAlgorithm::RsaAesKeyWrapSha1,
        2,
    );
    check_round_trip(
        &mut s,
        t.dir(),
        &wk,
        KeySpec::Rsa3072,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        3,
    );
    // RSA-4096 key generation in a soft token is slow: once.
    check_round_trip(
        &mut s,
        t.dir(),
        &wk,
        KeySpec::Rsa4096,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        4,
    );
    assert_eq!(s.close().unwrap().remaining, 0);
}

#[test]
fn ecc_keys_with_all_four_algorithms() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = session(&t);
    // 3072 bits: ECC_NIST_P521 with RSAES_OAEP_* is not allowed under 2048.
    let wk = aws_wrapping_key(t.dir(), 3072);
    let mut n = 0;
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
    ] {
        for alg in WrappingAlgorithm::ALL {
            n += 1;
            check_round_trip(&mut s, t.dir(), &wk, spec, *alg, n);
        }
    }
    assert_eq!(s.close().unwrap().remaining, 0);
}

#[test]
fn p521_with_oaep_under_a_2048_bit_key_is_refused_before_the_token() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = session(&t);
    let wk = aws_wrapping_key(t.dir(), 2048);
    let key = s.generate("p521/req", KeySpec::EccNistP521).unwrap();
    let e = s
        .wrap(&key, &wk.spki_der, WrappingAlgorithm::RsaesOaepSha256)
        .unwrap_err();
    assert!(e.to_string().contains("cannot carry ECC_NIST_P521"), "{e}");
    assert!(s.session_objects().unwrap().is_empty());
}
