//! Kryoptic: token selection, the capability probe and the self-tests.

use airlock_core::spec::WrappingAlgorithm::*;
use airlock_hsm::testing::{TestToken, TestTokenOptions, TokenKind};
use airlock_hsm::{Hsm, HsmError, WrapPath};

#[test]
fn probe_lists_kwp_and_oaep_and_plans_paths() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    assert_eq!(hsm.identity().label, "airlock-test");
    let p = hsm.probe().unwrap();
    let offered = |n: &str| p.mechanisms.iter().find(|m| m.name == n).unwrap().offered;
    assert!(offered("CKM_RSA_PKCS_OAEP"));
    assert!(offered("CKM_AES_KEY_WRAP_KWP"));
    assert!(!offered("CKM_RSA_AES_KEY_WRAP"));
    let plan = |a| {
        p.wrap_plans
            .iter()
            .find(|w| w.algorithm == a)
            .unwrap()
            .candidates
            .clone()
    };
    assert_eq!(plan(RsaesOaepSha256), vec![WrapPath::RsaOaep]);
    assert_eq!(plan(RsaAesKeyWrapSha256)[0], WrapPath::KwpThenOaep);
    println!("{}", serde_json::to_string_pretty(&p).unwrap());
}

#[test]
fn self_test_proves_sha256_paths() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    let start = std::time::Instant::now();
    let r = s
        .self_test(&[
            RsaesOaepSha256,
            RsaAesKeyWrapSha256,
            RsaesOaepSha1,
            RsaAesKeyWrapSha1,
        ])
        .unwrap();
    println!(
        "self-test took {:?}: {}",
        start.elapsed(),
        serde_json::to_string_pretty(&r).unwrap()
    );
    assert_eq!(r.path(RsaesOaepSha256), Some(WrapPath::RsaOaep));
    assert_eq!(r.path(RsaAesKeyWrapSha256), Some(WrapPath::KwpThenOaep));
    assert!(r.tests.iter().all(|k| k.passed), "{r:?}");
    assert!(s.session_objects().unwrap().is_empty());
    let c = s.close().unwrap();
    assert_eq!(c.remaining, 0);
    assert!(c.destroyed_during_session >= 4, "{c:?}");
}

#[test]
fn without_kwp_rsa_aes_key_wrap_is_refused_with_the_reason() {
    let t = TestToken::with_options(
        TokenKind::Kryoptic,
        TestTokenOptions {
            deny_mechanisms: vec!["CKM_AES_KEY_WRAP_KWP".into(), "CKM_AES_KEY_WRAP_PAD".into()],
            ..Default::default()
        },
    );
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    let e = s.self_test(&[RsaAesKeyWrapSha256]).unwrap_err();
    assert!(matches!(e, HsmError::NoWrapPath { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("CKM_AES_KEY_WRAP_KWP"), "{msg}");
    assert!(msg.contains("RSA_AES_KEY_WRAP_SHA_256"), "{msg}");
    assert_eq!(
        airlock_core::exit::ExitClass::exit_code(&e),
        airlock_core::exit::ExitCode::HsmCapability
    );
    // OAEP is still fine on that token.
    assert!(s.self_test(&[RsaesOaepSha256]).is_ok());
}
