//! SoftHSM 2.6.1: OAEP only with SHA-1, and a CKM_AES_KEY_WRAP_PAD that its
//! known-answer test shows is not RFC 5649 (it zero-pads the key first). RSAES_OAEP_SHA_1 works end to
//! end; RSA_AES_KEY_WRAP_* is refused with that reason; SHA-256 requests are refused by the
//! self-test before any key is generated, naming the missing capability.
//! Also token selection and PIN errors.

use airlock_core::config::TokenSelector;
use airlock_core::exit::{ExitClass, ExitCode};
use airlock_core::spec::{KeySpec, WrappingAlgorithm::*};
use airlock_hsm::testing::{SOFTHSM_MODULE, TestToken, TestTokenOptions, TokenKind};
use airlock_hsm::{Hsm, HsmError, WrapPath};
use airlock_test_kit::wrapping::*;
use zeroize::Zeroizing;

#[test]
fn sha1_paths_work_end_to_end() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    let r = s.self_test(&[RsaesOaepSha1]).unwrap();
    assert_eq!(r.path(RsaesOaepSha1), Some(WrapPath::RsaOaep));
    let wk = aws_wrapping_key(t.dir(), 2048);

    let aes = s.generate("aes/req", KeySpec::SymmetricDefault).unwrap();
    let w = s.wrap(&aes, &wk.spki_der, RsaesOaepSha1).unwrap();
    let material = openssl_unwrap(t.dir(), &wk, RsaesOaepSha1, &w.bytes);
    assert_eq!(material, rust_unwrap(&wk, RsaesOaepSha1, &w.bytes));
    assert_eq!(s.kcv(&aes).unwrap().unwrap(), software_kcv(&material));

    let hmac = s.generate("hmac/req", KeySpec::Hmac384).unwrap();
    let w = s.wrap(&hmac, &wk.spki_der, RsaesOaepSha1).unwrap();
    let m = openssl_unwrap(t.dir(), &wk, RsaesOaepSha1, &w.bytes);
    assert_eq!(m, rust_unwrap(&wk, RsaesOaepSha1, &w.bytes));
    assert_eq!(m.len(), 48);

    // SoftHSM OAEP-wraps secret keys only: an EC private key is refused by
    // the token with CKR_KEY_NOT_WRAPPABLE, and nothing is left behind.
    let ec = s.generate("ec/req", KeySpec::EccNistP256).unwrap();
    let e = s.wrap(&ec, &wk.spki_der, RsaesOaepSha1).unwrap_err();
    assert!(e.to_string().contains("CKR_KEY_NOT_WRAPPABLE"), "{e}");
    assert!(e.to_string().contains("ec/req"), "{e}");
    assert!(s.session_objects().unwrap().is_empty());
    assert_eq!(s.close().unwrap().remaining, 0);
}

#[test]
fn wrap_pad_is_not_rfc_5649_so_rsa_aes_key_wrap_is_refused() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let p = hsm.probe().unwrap();
    let plan = p
        .wrap_plans
        .iter()
        .find(|w| w.algorithm == RsaAesKeyWrapSha1)
        .unwrap();
    assert_eq!(plan.candidates, vec![WrapPath::PadThenOaep]);
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    let r = s.self_test_report(&[RsaAesKeyWrapSha1]).unwrap();
    assert_eq!(r.path(RsaAesKeyWrapSha1), None);
    let e = s.self_test(&[RsaAesKeyWrapSha1]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("CKM_AES_KEY_WRAP_PAD is RFC 5649 failed"),
        "{msg}"
    );
    assert!(msg.contains("zero-pads the key"), "{msg}");
    assert!(s.session_objects().unwrap().is_empty());
}

#[test]
fn sha256_is_refused_before_any_key_is_generated() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    let e = s.self_test(&[RsaesOaepSha256]).unwrap_err();
    let msg = e.to_string();
    println!("{msg}");
    assert!(
        matches!(
            e,
            HsmError::NoWrapPath {
                alg: RsaesOaepSha256,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("CKM_RSA_PKCS_OAEP SHA-256/MGF1-SHA-256"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), ExitCode::HsmCapability);
    let e = s.self_test(&[RsaAesKeyWrapSha256]).unwrap_err();
    assert!(
        e.to_string()
            .contains("CKM_RSA_PKCS_OAEP SHA-256/MGF1-SHA-256 failed"),
        "{e}"
    );
    // Wrapping refuses too, since nothing was proven for SHA-256.
    let wk = aws_wrapping_key(t.dir(), 2048);
    let aes = s.generate("aes/req", KeySpec::SymmetricDefault).unwrap();
    let e = s.wrap(&aes, &wk.spki_der, RsaesOaepSha256).unwrap_err();
    assert!(matches!(e, HsmError::NotSelfTested { .. }), "{e}");
    assert!(s.session_objects().unwrap().is_empty());
}

#[test]
fn wrong_pin_is_a_quorum_error_and_good_login_keeps_flags_clean() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let before = hsm.token_flags().unwrap();
    assert!(!before.user_pin_count_low && !before.user_pin_locked);
    let s = hsm.login_user(t.user_pin()).unwrap();
    s.close().unwrap();
    assert_eq!(hsm.token_flags().unwrap(), before);
    let e = hsm
        .login_user(&Zeroizing::new("not-the-pin".into()))
        .unwrap_err();
    assert!(matches!(e, HsmError::PinIncorrect { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Quorum);
    assert!(
        !e.to_string().contains("not-the-pin"),
        "a PIN leaked into {e}"
    );
}

#[test]
fn so_sets_the_user_pin_at_enrolment() {
    let t = TestToken::with_options(
        TokenKind::SoftHsm,
        TestTokenOptions {
            skip_user_pin: true,
            ..Default::default()
        },
    );
    let hsm = Hsm::open_for_so(t.module_path(), &t.selector()).unwrap();
    let e = hsm.login_user(t.user_pin()).unwrap_err();
    assert!(matches!(e, HsmError::UserPinNotInitialised { .. }), "{e}");
    let wrong_so = hsm
        .init_user_pin(&Zeroizing::new("wrong-so".into()), t.user_pin())
        .unwrap_err();
    assert!(
        matches!(
            wrong_so,
            HsmError::PinIncorrect {
                who: "security officer",
                ..
            }
        ),
        "{wrong_so}"
    );
    hsm.init_user_pin(t.so_pin(), t.user_pin()).unwrap();
    hsm.login_user(t.user_pin()).unwrap().close().unwrap();
}

#[test]
fn selection_errors_name_the_tokens() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let e = Hsm::open(t.module_path(), &TokenSelector::parse("nope").unwrap()).unwrap_err();
    assert!(matches!(e, HsmError::NoToken { .. }), "{e}");
    assert!(e.to_string().contains("\"airlock-test\""), "{e}");
    assert_eq!(e.exit_code(), ExitCode::HsmUnavailable);

    t.initialise("airlock-test", false);
    let e = Hsm::open(t.module_path(), &t.selector()).unwrap_err();
    assert!(
        matches!(e, HsmError::AmbiguousToken { count: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("serial"), "{e}");
    // A serial disambiguates.
    let serial = match &e {
        HsmError::AmbiguousToken { matches, .. } => matches
            .split("serial ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string(),
        _ => unreachable!(),
    };
    let sel = TokenSelector::parse(&format!("pkcs11:token=airlock-test;serial={serial}")).unwrap();
    assert_eq!(
        Hsm::open(t.module_path(), &sel).unwrap().identity().serial,
        serial
    );
}

#[test]
fn module_errors_are_clear() {
    let e = Hsm::open(
        std::path::Path::new("/nonexistent/libpkcs11.so"),
        &TokenSelector::parse("x").unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, HsmError::ModuleNotFound { .. }), "{e}");
    let e = Hsm::open(
        std::path::Path::new("/lib/x86_64-linux-gnu/libm.so.6"),
        &TokenSelector::parse("x").unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, HsmError::NotPkcs11 { .. }), "{e}");
    assert!(e.to_string().contains("C_GetFunctionList"), "{e}");
    assert_eq!(e.exit_code(), ExitCode::HsmUnavailable);
    assert!(std::path::Path::new(SOFTHSM_MODULE).exists());
}

#[test]
fn wrap_with_trusted_keys_wrap_only_under_a_key_the_so_marked_trusted() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let wk = aws_wrapping_key(t.dir(), 2048);
    std::fs::create_dir_all(t.dir().join("other")).unwrap();
    let other = aws_wrapping_key(&t.dir().join("other"), 2048);
    // The SO marks the AWS wrapping key trusted before the user logs in.
    let trusted = hsm.so_mark_trusted(t.so_pin(), &[&wk.spki_der]).unwrap();
    assert_eq!(trusted.fingerprints().len(), 1);
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    s.self_test(&[RsaesOaepSha1]).unwrap();
    let aes = s
        .generate_bound("aes/req", KeySpec::SymmetricDefault, b"binding", true)
        .unwrap();
    // The attack: the same key wrapped under a key the user imported (not
    // trusted) is refused by the token itself.
    let e = s.wrap(&aes, &other.spki_der, RsaesOaepSha1).unwrap_err();
    assert!(e.to_string().contains("CKR_KEY_NOT_WRAPPABLE"), "{e}");
    let e = s.wrap(&aes, &wk.spki_der, RsaesOaepSha1).unwrap_err();
    assert!(e.to_string().contains("CKR_KEY_NOT_WRAPPABLE"), "{e}");
    // Under the trusted object it wraps, and openssl unwraps it.
    let w = s
        .wrap_trusted(&aes, &wk.spki_der, RsaesOaepSha1, &trusted)
        .unwrap();
    let material = openssl_unwrap(t.dir(), &wk, RsaesOaepSha1, &w.bytes);
    assert_eq!(s.kcv(&aes).unwrap().unwrap(), software_kcv(&material));
    // Not marked: refused before the token.
    assert!(
        s.wrap_trusted(&aes, &other.spki_der, RsaesOaepSha1, &trusted)
            .is_err()
    );
    trusted.close().unwrap();
    assert_eq!(s.close().unwrap().remaining, 0);
}

#[test]
fn secp256k1_keys_are_generated_in_the_token_under_the_key_policy() {
    let t = TestToken::new(TokenKind::SoftHsm);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    // The curve check passes for every ECC spec SoftHSM has, and leaves
    // nothing behind.
    s.check_key_specs(&[
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
    ])
    .unwrap();
    assert!(s.session_objects().unwrap().is_empty());

    let k = s.generate("coin/req", KeySpec::EccSecgP256k1).unwrap();
    // Found again under the same policy, and refused as another curve.
    let found = s
        .find_key("coin/req", KeySpec::EccSecgP256k1)
        .unwrap()
        .unwrap();
    assert!(s.find_key("coin/req", KeySpec::EccNistP256).is_err());
    let spki = s.public_key_spki(&found).unwrap().unwrap();
    assert_eq!(Some(spki.clone()), s.public_key_spki(&k).unwrap());
    // openssl reads the public half as a secp256k1 key.
    let der = t.dir().join("coin.spki.der");
    std::fs::write(&der, &spki).unwrap();
    let text = String::from_utf8(airlock_test_kit::sh(
        std::process::Command::new("openssl")
            .args(["pkey", "-pubin", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&der),
    ))
    .unwrap();
    assert!(text.contains("ASN1 OID: secp256k1"), "{text}");
    assert_eq!(s.close().unwrap().remaining, 0);
}
