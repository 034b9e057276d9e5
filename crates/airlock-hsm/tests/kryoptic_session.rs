//! Kryoptic: label policy, re-finding keys, the ceremony signing key
//! (verified by openssl), cleanup and fault injection.

use std::process::Command;

use airlock_core::spec::{KeySpec, WrappingAlgorithm};
use airlock_hsm::testing::{TestToken, TokenKind};
use airlock_hsm::{FaultPlan, Hsm, HsmError, LabelScope, UserSession};
use airlock_test_kit::wrapping::*;

fn open(t: &TestToken) -> (Hsm, UserSession) {
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let s = hsm.login_user(t.user_pin()).unwrap();
    (hsm, s)
}

/// An AES key made through the label inventory, bound to a test binding.
fn make(
    s: &mut UserSession,
    label: &str,
    labels: &mut airlock_hsm::TokenLabels,
) -> Result<airlock_hsm::HsmKey, HsmError> {
    s.generate_bound_unique(label, KeySpec::SymmetricDefault, b"binding", false, labels)
}

#[test]
fn the_label_inventory_keeps_the_never_overwrite_rule_without_a_search_per_key() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = open(&t);
    s.generate("old/req-0", KeySpec::SymmetricDefault).unwrap();
    s.generate("old/req-0b", KeySpec::Hmac256).unwrap();
    let planned = ["old/req-0".to_string(), "new/req-1".to_string()];
    let mut labels = s.token_labels(&planned).unwrap();
    assert_eq!(labels.objects_read(), 2);
    // A token this small is always read whole.
    assert_eq!(labels.scope(), LabelScope::AllObjects);
    assert_eq!(labels.contains("old/req-0"), Some(true));
    assert_eq!(labels.contains("old/req-0b"), Some(true));
    assert_eq!(labels.contains("new/req-1"), Some(false));
    // A label already on the token is refused, before any generation.
    let e = make(&mut s, "old/req-0", &mut labels).unwrap_err();
    assert!(matches!(e, HsmError::LabelExists { .. }), "{e}");
    // A new one is made and joins the inventory, so a second use of the
    // same label in one ceremony is refused too.
    make(&mut s, "new/req-1", &mut labels).unwrap();
    assert_eq!(labels.contains("new/req-1"), Some(true));
    let e = make(&mut s, "new/req-1", &mut labels).unwrap_err();
    assert!(matches!(e, HsmError::LabelExists { .. }), "{e}");
    assert_eq!(s.token_labels(&planned).unwrap().objects_read(), 3);
}

#[test]
fn the_planned_label_inventory_finds_what_is_there_and_falls_back_to_a_search() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = open(&t);
    s.generate("old/req-0", KeySpec::SymmetricDefault).unwrap();
    s.generate("other/req-9", KeySpec::SymmetricDefault)
        .unwrap();
    let planned = ["old/req-0".to_string(), "new/req-1".to_string()];
    let mut labels = s.token_labels_planned(&planned).unwrap();
    assert_eq!(labels.scope(), LabelScope::Planned);
    assert_eq!(labels.contains("old/req-0"), Some(true));
    assert_eq!(labels.contains("new/req-1"), Some(false));
    assert_eq!(labels.contains("other/req-9"), None);
    // A label outside the planned ones is searched for, so an existing
    // object is still never overwritten.
    let e = make(&mut s, "other/req-9", &mut labels).unwrap_err();
    assert!(matches!(e, HsmError::LabelExists { .. }), "{e}");
    let e = make(&mut s, "old/req-0", &mut labels).unwrap_err();
    assert!(matches!(e, HsmError::LabelExists { .. }), "{e}");
    make(&mut s, "new/req-1", &mut labels).unwrap();
}

#[test]
fn an_existing_label_is_never_overwritten_and_can_be_found_again() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = open(&t);
    let k = s
        .generate("prod-s3/req-1", KeySpec::SymmetricDefault)
        .unwrap();
    let kcv = s.kcv(&k).unwrap();
    let e = s
        .generate("prod-s3/req-1", KeySpec::SymmetricDefault)
        .unwrap_err();
    assert!(matches!(e, HsmError::LabelExists { .. }), "{e}");
    assert!(e.to_string().contains("prod-s3/req-1"), "{e}");
    let again = s
        .find_key("prod-s3/req-1", KeySpec::SymmetricDefault)
        .unwrap()
        .unwrap();
    assert_eq!(s.kcv(&again).unwrap(), kcv);
    assert_eq!(
        s.find_key("absent/req", KeySpec::SymmetricDefault).unwrap(),
        None
    );
    let e = s.find_key("prod-s3/req-1", KeySpec::Hmac256).unwrap_err();
    assert!(matches!(e, HsmError::KeyMismatch { .. }), "{e}");
    let e = s.find_key("prod-s3/req-1", KeySpec::Rsa2048).unwrap_err();
    assert!(e.to_string().contains("none is a"), "{e}");

    let ec = s.generate("ec/req-1", KeySpec::EccNistP384).unwrap();
    let found = s
        .find_key("ec/req-1", KeySpec::EccNistP384)
        .unwrap()
        .unwrap();
    assert_eq!(
        s.public_key_spki(&found).unwrap(),
        s.public_key_spki(&ec).unwrap()
    );
    let e = s.find_key("ec/req-1", KeySpec::EccNistP256).unwrap_err();
    assert!(
        e.to_string().contains("CKA_EC_PARAMS") || e.to_string().contains("EcParams"),
        "{e}"
    );
}

#[test]
fn signing_key_is_created_once_and_verifies_with_openssl() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = open(&t);
    let first = s.ensure_signing_key().unwrap();
    assert!(first.created);
    let second = s.ensure_signing_key().unwrap();
    assert!(!second.created);
    assert_eq!(first.spki_der, second.spki_der);
    assert!(first.pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let sums = b"0000000000000000000000000000000000000000000000000000000000000000  import.json\n";
    let sig = s.sign_sums(sums).unwrap();
    assert_eq!(sig.len(), 384);
    let dir = t.dir();
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
    std::fs::write(dir.join("SHA256SUMS.sig"), &sig).unwrap();
    std::fs::write(dir.join("signing.pem"), &first.pem).unwrap();
    airlock_test_kit::bundle::openssl_verify_sums(dir, &dir.join("signing.pem"));
    // openssl's own key size check: RSA-3072.
    let text = airlock_test_kit::sh(
        Command::new("openssl")
            .args(["pkey", "-pubin", "-noout", "-text", "-in"])
            .arg(dir.join("signing.pem")),
    );
    assert!(String::from_utf8_lossy(&text).contains("3072 bit"));
}

#[test]
fn dropping_a_session_destroys_its_objects() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    {
        let mut s = hsm.login_user(t.user_pin()).unwrap();
        s.self_test(&[WrappingAlgorithm::RsaesOaepSha256]).unwrap();
    }
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    assert!(s.session_objects().unwrap().is_empty());
}

/// The ceremony steps for one key, as the lead's ceremony runs them.
fn flow(s: &mut UserSession, wk: &AwsWrappingKey, label: &str) -> Result<(), HsmError> {
    s.self_test(&[
        WrappingAlgorithm::RsaesOaepSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
    ])?;
    let k = s.generate(label, KeySpec::SymmetricDefault)?;
    s.kcv(&k)?;
    s.wrap(&k, &wk.spki_der, WrappingAlgorithm::RsaesOaepSha256)?;
    let e = s.generate(&format!("{label}-ec"), KeySpec::EccNistP256)?;
    s.public_key_spki(&e)?;
    s.wrap(&e, &wk.spki_der, WrappingAlgorithm::RsaAesKeyWrapSha256)?;
    Ok(())
}

#[test]
fn every_injected_fault_is_reported_and_leaves_no_session_objects() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let wk = aws_wrapping_key(t.dir(), 2048);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    // Count the calls of a clean run.
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    hsm.set_fault_plan(FaultPlan::None);
    flow(&mut s, &wk, "clean/req").unwrap();
    let total = hsm.call_count();
    s.close().unwrap();
    assert!(total > 20, "only {total} calls?");
    for n in 1..=total {
        let mut s = hsm.login_user(t.user_pin()).unwrap();
        hsm.set_fault_plan(FaultPlan::FailCall(n));
        let r = flow(&mut s, &wk, &format!("fault-{n}/req"));
        hsm.set_fault_plan(FaultPlan::None);
        let e = r.expect_err(&format!(
            "call {n} of {total} was failed but the flow succeeded"
        ));
        let msg = e.to_string();
        assert!(msg.contains("injected fault"), "call {n}: {msg}");
        assert!(
            matches!(e, HsmError::Injected { .. } | HsmError::Cleanup { .. }),
            "call {n}: {e:?}"
        );
        assert!(msg.contains(&format!("#{n}")), "call {n}: {msg}");
        let left = s.session_objects().unwrap();
        assert!(left.is_empty(), "call {n}: session objects left: {left:?}");
        s.close().unwrap();
    }
}

#[test]
fn failed_logins_show_in_the_flags_and_a_locked_pin_is_refused_at_open() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let clean = hsm.token_flags().unwrap();
    let wrong = zeroize::Zeroizing::new("wrong-pin".to_string());
    let mut locked = false;
    for _ in 0..20 {
        match hsm.login_user(&wrong) {
            Err(HsmError::PinIncorrect { .. }) => {}
            Err(HsmError::PinLocked { .. }) => {
                locked = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_ne!(
        hsm.token_flags().unwrap(),
        clean,
        "failed logins must show in the token flags"
    );
    assert!(
        locked,
        "Kryoptic should lock the user PIN after repeated failures"
    );
    let e = Hsm::open(t.module_path(), &t.selector()).unwrap_err();
    assert!(matches!(e, HsmError::PinLocked { .. }), "{e}");
    // The SO can still open it to reset the PIN.
    let so = Hsm::open_for_so(t.module_path(), &t.selector()).unwrap();
    so.init_user_pin(t.so_pin(), t.user_pin()).unwrap();
}

#[test]
fn generated_keys_carry_their_binding_and_cannot_be_modified() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (hsm, mut s) = open(&t);
    let binding = b"airlock-binding/1\nreq-1\nprod-s3\narn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for (label, spec) in [
        ("aes/req-1", KeySpec::SymmetricDefault),
        ("hmac/req-1", KeySpec::Hmac256),
        ("ec/req-1", KeySpec::EccNistP256),
    ] {
        let k = s.generate_bound(label, spec, binding, false).unwrap();
        assert_eq!(s.key_id(&k).unwrap(), binding.to_vec(), "{label}");
        assert!(
            !s.is_modifiable(&k).unwrap(),
            "{label} must be non-modifiable"
        );
        // Found again, it still meets the policy (born here, always sensitive).
        let again = s.find_key(label, spec).unwrap().unwrap();
        assert_eq!(s.key_id(&again).unwrap(), binding.to_vec());
    }
    // The module was hashed from the very file that was loaded.
    let want = airlock_hsm::module_sha256(t.module_path()).unwrap();
    assert_eq!(hsm.identity().module_sha256, want);
    assert_eq!(want.len(), 64);
}

#[test]
fn a_curve_the_token_lacks_is_refused_before_any_key_exists() {
    let t = TestToken::new(TokenKind::Kryoptic);
    let (_hsm, mut s) = open(&t);
    // Kryoptic 1.5 offers the NIST curves only.
    s.check_key_specs(&[
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::SymmetricDefault,
    ])
    .unwrap();
    let e = s
        .check_key_specs(&[KeySpec::EccNistP256, KeySpec::EccSecgP256k1])
        .unwrap_err();
    assert!(matches!(e, HsmError::Capability { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("ECC_SECG_P256K1"), "{msg}");
    assert!(msg.contains("secp256k1"), "{msg}");
    assert!(msg.contains("nothing was generated"), "{msg}");
    eprintln!("refusal: {msg}");
    assert!(s.session_objects().unwrap().is_empty());
}
