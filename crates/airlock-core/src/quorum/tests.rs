//! Scenario tests of the quorum across modules: enrolment, login, roster
//! round trips and tampering, re-enrolment, and that no secret ever shows
//! in an error or a `Debug` output. They use [`KdfParams::INSECURE_TEST`]
//! so that Argon2id stays fast; one test runs the production parameters.

use std::time::Instant;

use proptest::prelude::*;
use serde_json::Value;
use zeroize::Zeroizing;

use super::*;
use crate::exit::{ExitClass, ExitCode};

const FAST: KdfParams = KdfParams::INSECURE_TEST;

fn pass(name: &str) -> Zeroizing<String> {
    Zeroizing::new(format!("{name} passphrase, long enough"))
}

fn token() -> Pinned {
    Pinned {
        token: test_token(),
        module: test_module(),
        policy: RosterPolicy::default(),
    }
}

fn test_token() -> TokenRef {
    TokenRef::new(
        "airlock-test   ",
        "0123456789abcdef",
        "Test Maker",
        "Model 1",
    )
    .unwrap()
}

fn test_module() -> ModuleRef {
    ModuleRef {
        path: "/usr/lib/pkcs11/test.so".into(),
        sha256: "ab".repeat(32),
    }
}

const NAMES: [&str; 10] = [
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
];

/// Enrols the first `n` of [`NAMES`] with threshold `m`; returns the
/// roster and the PIN.
fn enrol(m: usize, n: usize) -> (Roster, Zeroizing<String>) {
    let pin = generate_user_pin().unwrap();
    let mut e = Enrollment::new(m).unwrap();
    for name in &NAMES[..n] {
        e.add_custodian(name, pass(name)).unwrap();
    }
    let roster = e.build(&pin, token(), FAST).unwrap();
    (roster, pin)
}

fn login_with(roster: &Roster, who: &[&str]) -> Result<Zeroizing<String>, QuorumError> {
    let mut login = QuorumLogin::new(roster);
    for name in who {
        login.authenticate(name, &pass(name))?;
    }
    login.rebuild_pin()
}

#[test]
fn round_trips_2_of_2_2_of_3_3_of_5() {
    for (m, n, who) in [
        (2, 2, &["Alice", "Bob"][..]),
        (2, 3, &["Carol", "Alice"][..]),
        (2, 3, &["Bob", "Carol"][..]),
        (3, 5, &["Erin", "Bob", "Dave"][..]),
        (3, 5, &["Alice", "Bob", "Carol", "Dave", "Erin"][..]),
    ] {
        let (roster, pin) = enrol(m, n);
        assert_eq!(roster.threshold(), m);
        assert_eq!(roster.custodian_count(), n);
        // Through JSON, as on disk.
        let reparsed = Roster::from_json(roster.to_json().as_bytes(), "roster.json").unwrap();
        assert_eq!(reparsed, roster);
        let rebuilt = login_with(&reparsed, who).unwrap();
        assert_eq!(rebuilt.as_str(), pin.as_str(), "{m} of {n} with {who:?}");
    }
}

#[test]
fn one_custodian_alone_is_refused() {
    let (roster, _) = enrol(2, 3);
    let mut login = QuorumLogin::new(&roster);
    let out = login.authenticate("Alice", &pass("Alice")).unwrap();
    assert!(!out.is_satisfied());
    assert!(!login.is_satisfied());
    assert_eq!(login.remaining(), 1);
    let e = login.rebuild_pin().unwrap_err();
    assert!(
        matches!(
            e,
            QuorumError::QuorumNotMet {
                have: 1,
                need: 2,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.exit_code(), ExitCode::Quorum);
    assert!(e.to_string().contains("Alice"));
    // Nobody at all.
    let e = QuorumLogin::new(&roster).rebuild_pin().unwrap_err();
    assert!(e.to_string().contains("(none)"), "{e}");
}

#[test]
fn same_custodian_twice_counts_once() {
    let (roster, _) = enrol(2, 3);
    let mut login = QuorumLogin::new(&roster);
    login.authenticate("Alice", &pass("Alice")).unwrap();
    // Again, with another spelling of the same name.
    let again = login.authenticate(" alice ", &pass("Alice")).unwrap();
    assert!(matches!(
        again,
        AuthOutcome::AlreadyCounted {
            have: 1,
            need: 2,
            ..
        }
    ));
    assert!(!login.is_satisfied());
    assert_eq!(login.authenticated().len(), 1);
    assert_eq!(login.authenticated()[0].0.as_str(), "Alice");
    assert!(matches!(
        login.rebuild_pin(),
        Err(QuorumError::QuorumNotMet { have: 1, .. })
    ));
}

#[test]
fn wrong_passphrase_names_the_custodian_and_others_still_count() {
    let (roster, pin) = enrol(2, 3);
    let mut login = QuorumLogin::new(&roster);
    let e = login.authenticate("Bob", &pass("Alice")).unwrap_err();
    assert!(
        matches!(&e, QuorumError::WrongPassphrase { custodian, tries_left: 2 } if custodian == "Bob"),
        "{e}"
    );
    assert_eq!(e.exit_code(), ExitCode::Quorum);
    assert!(e.to_string().contains("\"Bob\""));
    assert!(e.to_string().contains("no HSM login was attempted"));
    // Bob then gets it right, Carol joins: the quorum is met.
    login.authenticate("Bob", &pass("Bob")).unwrap();
    login.authenticate("Carol", &pass("Carol")).unwrap();
    assert_eq!(login.rebuild_pin().unwrap().as_str(), pin.as_str());
}

#[test]
fn unknown_custodian_is_refused_with_the_roster_names() {
    let (roster, _) = enrol(2, 2);
    let mut login = QuorumLogin::new(&roster);
    let e = login.authenticate("Mallory", &pass("Mallory")).unwrap_err();
    assert!(matches!(e, QuorumError::UnknownCustodian { .. }));
    assert!(e.to_string().contains("Alice, Bob"), "{e}");
}

#[test]
fn three_wrong_passphrases_lock_the_custodian_out_of_this_login() {
    let (roster, pin) = enrol(2, 3);
    let mut login = QuorumLogin::new(&roster);
    let wrong = Zeroizing::new("not the right passphrase".to_string());
    for left in [2, 1] {
        let e = login.authenticate("Alice", &wrong).unwrap_err();
        assert!(matches!(e, QuorumError::WrongPassphrase { tries_left, .. } if tries_left == left));
    }
    let e = login.authenticate("Alice", &wrong).unwrap_err();
    assert!(
        matches!(&e, QuorumError::LockedOut { custodian, attempts: 3 } if custodian == "Alice"),
        "{e}"
    );
    // Even the right passphrase is now refused in this login.
    let e = login.authenticate("Alice", &pass("Alice")).unwrap_err();
    assert!(matches!(e, QuorumError::LockedOut { .. }));
    // Others are unaffected.
    login.authenticate("Bob", &pass("Bob")).unwrap();
    login.authenticate("Carol", &pass("Carol")).unwrap();
    assert_eq!(login.rebuild_pin().unwrap().as_str(), pin.as_str());
    // A new login starts afresh.
    assert_eq!(
        login_with(&roster, &["Alice", "Bob"]).unwrap().as_str(),
        pin.as_str()
    );
}

#[test]
fn wrong_tries_reset_when_not_in_a_row() {
    let (roster, _) = enrol(2, 2);
    let mut login = QuorumLogin::new(&roster);
    let wrong = Zeroizing::new("not the right passphrase".to_string());
    login.authenticate("Alice", &wrong).unwrap_err();
    login.authenticate("Alice", &wrong).unwrap_err();
    login.authenticate("Alice", &pass("Alice")).unwrap();
    // Alice counts; further calls report her as counted, not locked out.
    assert!(matches!(
        login.authenticate("Alice", &wrong).unwrap(),
        AuthOutcome::AlreadyCounted { .. }
    ));
}

// ---- tampered rosters -------------------------------------------------

fn edit(roster: &Roster, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(&roster.to_json()).unwrap();
    f(&mut v);
    serde_json::to_vec_pretty(&v).unwrap()
}

#[test]
fn changed_name_is_detected_on_unsealing() {
    let (roster, _) = enrol(2, 3);
    let bytes = edit(&roster, |v| v["custodians"][0]["name"] = "Alicia".into());
    let tampered = Roster::from_json(&bytes, "roster.json").unwrap();
    let mut login = QuorumLogin::new(&tampered);
    let e = login.authenticate("Alicia", &pass("Alice")).unwrap_err();
    assert!(
        matches!(&e, QuorumError::RosterTampered { custodian, .. } if custodian == "Alicia"),
        "{e}"
    );
    assert_eq!(e.exit_code(), ExitCode::Roster);
}

#[test]
fn swapped_shares_are_detected() {
    let (roster, _) = enrol(2, 3);
    // Swap the whole sealed material of Alice and Bob, keeping names and
    // indices: each passphrase now meets the other's salt -> wrong; and
    // with the entries' names swapped too, the AEAD binding refuses.
    let sealed_fields = ["kdf", "salt", "nonce", "key_check", "ciphertext"];
    let bytes = edit(&roster, |v| {
        let c = v["custodians"].as_array_mut().unwrap();
        for f in sealed_fields {
            let a = c[0][f].take();
            let b = c[1][f].take();
            c[0][f] = b;
            c[1][f] = a;
        }
    });
    let tampered = Roster::from_json(&bytes, "roster.json").unwrap();
    let mut login = QuorumLogin::new(&tampered);
    assert!(matches!(
        login.authenticate("Alice", &pass("Alice")),
        Err(QuorumError::WrongPassphrase { .. })
    ));
    // Bob's sealed share now sits under "Alice": Bob's passphrase opens the
    // key but the binding (name, index) does not match.
    let e = login.authenticate("Alice", &pass("Bob")).unwrap_err();
    assert!(matches!(e, QuorumError::RosterTampered { .. }), "{e}");

    // Swapping only the share indices is caught by the binding too.
    let bytes = edit(&roster, |v| {
        v["custodians"][0]["share_index"] = 2.into();
        v["custodians"][1]["share_index"] = 1.into();
    });
    let tampered = Roster::from_json(&bytes, "roster.json").unwrap();
    let e = QuorumLogin::new(&tampered)
        .authenticate("Alice", &pass("Alice"))
        .unwrap_err();
    assert!(matches!(e, QuorumError::RosterTampered { .. }), "{e}");
}

#[test]
fn truncated_ciphertext_is_refused_at_load() {
    let (roster, _) = enrol(2, 2);
    let bytes = edit(&roster, |v| {
        let ct = v["custodians"][1]["ciphertext"]
            .as_str()
            .unwrap()
            .to_string();
        v["custodians"][1]["ciphertext"] = ct[..ct.len() - 2].into();
    });
    let e = Roster::from_json(&bytes, "roster.json").unwrap_err();
    assert!(e.to_string().contains("custodians[1].ciphertext"), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Roster);
}

#[test]
fn changed_threshold_is_detected() {
    let (roster, _) = enrol(3, 3);
    // Lowered to 2: parses (2 <= 3) but no share opens under the new binding.
    let bytes = edit(&roster, |v| v["threshold"] = 2.into());
    let tampered = Roster::from_json(&bytes, "roster.json").unwrap();
    let mut login = QuorumLogin::new(&tampered);
    for name in ["Alice", "Bob"] {
        let e = login.authenticate(name, &pass(name)).unwrap_err();
        assert!(matches!(e, QuorumError::RosterTampered { .. }), "{e}");
    }
    assert!(login.rebuild_pin().is_err());
    // Out of range: refused at load.
    for t in [1, 4] {
        let bytes = edit(&roster, |v| v["threshold"] = t.into());
        let e = Roster::from_json(&bytes, "roster.json").unwrap_err();
        assert!(e.to_string().contains("threshold"), "{e}");
    }
}

#[test]
fn dropped_custodian_is_detected() {
    let (roster, _) = enrol(2, 3);
    let bytes = edit(&roster, |v| {
        v["custodians"].as_array_mut().unwrap().pop();
    });
    // The indices 1, 2 still fit N = 2, but N is bound into every share.
    let tampered = Roster::from_json(&bytes, "roster.json").unwrap();
    let e = QuorumLogin::new(&tampered)
        .authenticate("Alice", &pass("Alice"))
        .unwrap_err();
    assert!(matches!(e, QuorumError::RosterTampered { .. }), "{e}");
}

#[test]
fn kdf_below_the_floor_is_refused() {
    let (roster, _) = enrol(2, 2);
    // A production build's floor refuses what tests use...
    let e = Roster::from_json_with_floor(
        roster.to_json().as_bytes(),
        "roster.json",
        &KdfParams::PRODUCTION_FLOOR,
    )
    .unwrap_err();
    assert!(e.to_string().contains("custodians[0].kdf"), "{e}");
    assert!(e.to_string().contains("m_cost_kib"), "{e}");
    // ...and even the test floor refuses a roster lowered below it.
    let bytes = edit(&roster, |v| v["custodians"][1]["kdf"]["t_cost"] = 0.into());
    let e = Roster::from_json(&bytes, "roster.json").unwrap_err();
    assert!(e.to_string().contains("custodians[1].kdf"), "{e}");
    assert!(
        e.to_string().contains("t_cost = 0 is below the minimum"),
        "{e}"
    );
    // And Enrollment::build refuses to seal below the floor.
    let mut en = Enrollment::new(2).unwrap();
    en.add_custodian("Alice", pass("Alice")).unwrap();
    en.add_custodian("Bob", pass("Bob")).unwrap();
    let weak = KdfParams {
        m_cost_kib: 8,
        ..FAST
    };
    assert!(
        en.build(&generate_user_pin().unwrap(), token(), weak)
            .is_err()
    );
}

#[test]
fn unknown_fields_and_bad_values_are_refused_with_their_place() {
    let (roster, _) = enrol(2, 2);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|v| v["extra"] = 1.into()), "unknown field `extra`"),
        (
            Box::new(|v| v["custodians"][0]["note"] = "x".into()),
            "unknown field `note`",
        ),
        (
            Box::new(|v| v["format"] = "airlock-roster/3".into()),
            "format",
        ),
        (
            Box::new(|v| v["module"]["sha256"] = "AB".repeat(32).into()),
            "module.sha256",
        ),
        (
            Box::new(|v| v["module"]["path"] = "lib.so".into()),
            "module.path",
        ),
        (Box::new(|v| v["roster_id"] = "zz".into()), "roster_id"),
        (
            Box::new(|v| v["created_at"] = "yesterday".into()),
            "created_at",
        ),
        (
            Box::new(|v| v["custodians"][1]["name"] = "alice".into()),
            "custodians[1].name",
        ),
        (
            Box::new(|v| v["custodians"][1]["name"] = " Bob".into()),
            "custodians[1].name",
        ),
        (
            Box::new(|v| v["custodians"][1]["share_index"] = 1.into()),
            "custodians[1].share_index",
        ),
        (
            Box::new(|v| v["custodians"][0]["kdf"]["algorithm"] = "scrypt".into()),
            "custodians[0].kdf.algorithm",
        ),
        (
            Box::new(|v| v["custodians"][0]["salt"] = "00".into()),
            "custodians[0].salt",
        ),
        (
            Box::new(|v| {
                let s = v["custodians"][0]["nonce"].as_str().unwrap().to_uppercase();
                v["custodians"][0]["nonce"] = s.into();
            }),
            "lowercase",
        ),
        (Box::new(|v| v["token"]["label"] = "".into()), "token.label"),
    ];
    for (f, want) in cases {
        let e = Roster::from_json(&edit(&roster, f), "/state/roster.json").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want), "wanted {want:?} in {msg}");
        assert!(msg.starts_with("/state/roster.json"), "{msg}");
        assert_eq!(e.exit_code(), ExitCode::Roster);
    }
}

#[test]
fn altered_share_fails_the_pin_check_before_any_login() {
    // A custodian who knows their own passphrase re-seals a different share
    // under the same binding: their unseal succeeds, but the PIN rebuilt
    // with it does not match the roster's check value.
    let (mut roster, _) = enrol(2, 2);
    let bob = roster.custodians[1].clone();
    let mut forged = vec![bob.share_index];
    forged.extend_from_slice(&[b'A'; PIN_LEN]);
    let sealed = seal::seal_share(
        &forged,
        pass("Bob").as_bytes(),
        |salt| {
            roster
                .binding(roster.pinned(), &bob, salt)
                .associated_data()
        },
        bob.kdf,
    )
    .unwrap();
    roster.custodians[1].sealed = sealed;
    let e = login_with(&roster, &["Alice", "Bob"]).unwrap_err();
    assert!(matches!(e, QuorumError::SharesInconsistent { .. }), "{e}");
    assert!(e.to_string().contains("No HSM login was attempted"));
    assert_eq!(e.exit_code(), ExitCode::Roster);
}

// ---- enrolment rules ---------------------------------------------------

#[test]
fn enrolment_rules() {
    assert!(matches!(
        Enrollment::new(1),
        Err(QuorumError::ThresholdOutOfRange { .. })
    ));
    assert!(Enrollment::new(11).is_err());

    let mut e = Enrollment::new(3).unwrap();
    e.add_custodian("Alice", pass("Alice")).unwrap();
    // Duplicate name, ignoring case.
    assert!(matches!(
        e.add_custodian("ALICE", pass("Alice2")),
        Err(QuorumError::DuplicateCustodian { .. })
    ));
    // Passphrase policy.
    let err = e
        .add_custodian("Bob", Zeroizing::new("too short".into()))
        .unwrap_err();
    assert!(matches!(err, QuorumError::PassphrasePolicy { .. }));
    // Same passphrase as Alice's.
    let err = e.add_custodian("Bob", pass("Alice")).unwrap_err();
    assert!(
        matches!(&err, QuorumError::PassphraseReused { custodian, other } if custodian == "Bob" && other == "Alice"),
        "{err}"
    );
    e.add_custodian("Bob", pass("Bob")).unwrap();
    // 3 of 2: refused at build.
    let pin = generate_user_pin().unwrap();
    assert!(matches!(
        e.build(&pin, token(), FAST),
        Err(QuorumError::ThresholdOutOfRange {
            threshold: 3,
            custodians: 2
        })
    ));

    // At most 10 custodians.
    let mut e = Enrollment::new(2).unwrap();
    for name in NAMES {
        e.add_custodian(name, pass(name)).unwrap();
    }
    assert!(e.add_custodian("Zed", pass("Zed")).is_err());

    // A PIN not made by generate_user_pin is refused.
    let mut e = Enrollment::new(2).unwrap();
    e.add_custodian("Alice", pass("Alice")).unwrap();
    e.add_custodian("Bob", pass("Bob")).unwrap();
    assert!(matches!(
        e.build(&Zeroizing::new("1234".into()), token(), FAST),
        Err(QuorumError::PinFormat { .. })
    ));
}

#[test]
fn roster_records_kdf_token_and_fresh_ids() {
    let (a, _) = enrol(2, 2);
    let (b, _) = enrol(2, 2);
    assert_ne!(a.id_hex(), b.id_hex());
    assert_eq!(a.token().label, "airlock-test");
    assert!(a.token().matches(
        "airlock-test                    ",
        "0123456789abcdef",
        "Test Maker  ",
        "Model 1"
    ));
    let v: Value = serde_json::from_str(&a.to_json()).unwrap();
    assert_eq!(v["format"], "airlock-roster/2");
    assert_eq!(v["module"]["sha256"], "ab".repeat(32));
    assert_eq!(v["policy"]["allow_existing_material"], false);
    assert_eq!(v["custodians"][0]["kdf"]["algorithm"], "argon2id");
    assert_eq!(v["custodians"][0]["kdf"]["version"], 19);
    assert_eq!(v["custodians"][0]["kdf"]["m_cost_kib"], FAST.m_cost_kib);
    assert_ne!(v["custodians"][0]["salt"], v["custodians"][1]["salt"]);
    assert_eq!(
        v["custodians"][0]["ciphertext"].as_str().unwrap().len(),
        2 * SEALED_SHARE_LEN
    );
}

// ---- files ---------------------------------------------------------------

#[test]
fn roster_files_are_written_atomically_and_never_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ROSTER_FILE_NAME);
    assert!(matches!(
        Roster::load(&path),
        Err(QuorumError::RosterMissing { .. })
    ));
    let (a, pin) = enrol(2, 2);
    a.write_new(&path).unwrap();
    assert_eq!(Roster::load(&path).unwrap(), a);
    let (b, _) = enrol(2, 2);
    let e = b.write_new(&path).unwrap_err();
    assert!(matches!(e, QuorumError::RosterExists { .. }), "{e}");
    assert_eq!(Roster::load(&path).unwrap(), a, "not overwritten");
    b.replace(&path).unwrap();
    assert_eq!(Roster::load(&path).unwrap(), b);
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(ROSTER_FILE_NAME)]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "roster is private to its owner");
    }
    drop(pin);
    // Oversized file refused before reading.
    std::fs::write(&path, vec![b' '; MAX_ROSTER_BYTES as usize + 1]).unwrap();
    assert!(matches!(
        Roster::load(&path),
        Err(QuorumError::RosterTooLarge { .. })
    ));
}

// ---- re-enrolment ----------------------------------------------------------

#[test]
fn reenrolment_needs_a_satisfied_login_and_can_keep_or_rotate_the_pin() {
    let (old, pin) = enrol(2, 3);
    let next = || {
        let mut e = Enrollment::new(2).unwrap();
        e.add_custodian("Alice", pass("Alice")).unwrap();
        e.add_custodian("Dave", pass("Dave")).unwrap();
        e
    };
    // One custodian of the current roster is not enough.
    let mut login = QuorumLogin::new(&old);
    login.authenticate("Alice", &pass("Alice")).unwrap();
    let e = reenroll(
        login,
        next(),
        FAST,
        PinRotation::KeepCurrent,
        old.pinned().clone(),
    )
    .unwrap_err();
    assert!(matches!(e, QuorumError::QuorumNotMet { .. }), "{e}");

    // Keep the PIN: the new custodians rebuild the same PIN.
    let mut login = QuorumLogin::new(&old);
    login.authenticate("Alice", &pass("Alice")).unwrap();
    login.authenticate("Bob", &pass("Bob")).unwrap();
    let r = reenroll(
        login,
        next(),
        FAST,
        PinRotation::KeepCurrent,
        old.pinned().clone(),
    )
    .unwrap();
    assert_eq!(r.current_pin.as_str(), pin.as_str());
    assert!(r.new_pin.is_none());
    assert_ne!(r.roster.id_hex(), old.id_hex());
    assert_eq!(r.roster.token(), old.token());
    assert_eq!(
        login_with(&r.roster, &["Dave", "Alice"]).unwrap().as_str(),
        pin.as_str()
    );
    // Bob is no longer a custodian.
    assert!(matches!(
        login_with(&r.roster, &["Bob", "Alice"]),
        Err(QuorumError::UnknownCustodian { .. })
    ));

    // Rotate: a new PIN, shared by the new roster.
    let mut login = QuorumLogin::new(&old);
    login.authenticate("Carol", &pass("Carol")).unwrap();
    login.authenticate("Bob", &pass("Bob")).unwrap();
    let r = reenroll(
        login,
        next(),
        FAST,
        PinRotation::Fresh,
        old.pinned().clone(),
    )
    .unwrap();
    let new_pin = r.new_pin.as_ref().unwrap();
    assert_ne!(new_pin.as_str(), pin.as_str());
    assert_eq!(r.current_pin.as_str(), pin.as_str());
    assert_eq!(
        login_with(&r.roster, &["Alice", "Dave"]).unwrap().as_str(),
        new_pin.as_str()
    );
    let dbg = format!("{r:?}");
    assert!(
        !dbg.contains(pin.as_str()) && !dbg.contains(new_pin.as_str()),
        "{dbg}"
    );
}

// ---- no secrets in output ------------------------------------------------------

#[test]
fn no_secret_appears_in_any_error_or_debug_output() {
    let (roster, pin) = enrol(2, 3);
    let mut outputs: Vec<String> = Vec::new();
    let mut login = QuorumLogin::new(&roster);
    let wrong = Zeroizing::new("Alice passphrase, long enougH".to_string());
    for _ in 0..4 {
        let e = login.authenticate("Alice", &wrong).unwrap_err();
        outputs.push(format!("{e} {e:?}"));
    }
    login.authenticate("Bob", &pass("Bob")).unwrap();
    outputs.push(format!("{login:?}"));
    let out = login.authenticate("Carol", &pass("Carol")).unwrap();
    outputs.push(format!("{out:?}"));
    outputs.push(format!("{login:?}"));
    outputs.push(format!("{roster:?}"));

    let mut en = Enrollment::new(2).unwrap();
    en.add_custodian("Alice", pass("Alice")).unwrap();
    outputs.push(format!("{en:?}"));
    for e in [
        en.add_custodian("Bob", pass("Alice")).unwrap_err(),
        en.add_custodian("Bob", Zeroizing::new("Bob short".into()))
            .unwrap_err(),
        en.add_custodian("Bob", Zeroizing::new("Bob passphrase\n".into()))
            .unwrap_err(),
    ] {
        outputs.push(format!("{e} {e:?}"));
    }
    let rebuilt = login.rebuild_pin().unwrap();
    assert_eq!(rebuilt.as_str(), pin.as_str());

    let shares = shamir::split(pin.as_bytes(), 2, 3).unwrap();
    outputs.push(format!("{:?}", shares));

    let pin_hex = hex::encode(pin.as_bytes());
    let all = outputs.join("\n");
    for secret in [
        pin.as_str(),
        pin_hex.as_str(),
        "Alice passphrase",
        "Bob passphrase",
        "Carol passphrase",
        "passphrase, long",
        "Bob short",
    ] {
        assert!(!all.contains(secret), "{secret:?} leaked in:\n{all}");
    }
    for s in &shares {
        let share_hex = hex::encode(&s.bytes()[1..]);
        assert!(!all.contains(&share_hex));
    }
    // The outputs do name who and what.
    assert!(all.contains("\"Alice\"") && all.contains("locked out"));
}

/// The production parameters work and take a noticeable time (the number
/// is printed for the record; the bound only catches a cost parameter that
/// was silently ignored).
#[test]
fn production_kdf_round_trip() {
    let sealed_at = Instant::now();
    let sealed = seal::seal_share(
        b"x",
        b"correct horse battery",
        |s| s.to_vec(),
        KdfParams::PRODUCTION,
    )
    .unwrap();
    let took = sealed_at.elapsed();
    eprintln!("Argon2id m=64MiB t=3 p=1 took {took:?} in this build");
    let opened = seal::unseal_share(
        &sealed,
        b"correct horse battery",
        &sealed.salt,
        KdfParams::PRODUCTION,
    )
    .unwrap()
    .unwrap();
    assert_eq!(&opened[..], b"x");
    assert!(took.as_millis() >= 20, "{took:?} is too fast for 64 MiB");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Any M of N custodians rebuild the PIN; any M-1 are refused.
    #[test]
    fn any_m_custodians_rebuild_and_m_minus_1_are_refused(
        n in 2usize..=5,
        m_seed in any::<u8>(),
        pick in proptest::collection::vec(any::<prop::sample::Index>(), 5),
    ) {
        let m = 2 + (m_seed as usize) % (n - 1);
        let (roster, pin) = enrol(m, n);
        let mut pool: Vec<&str> = NAMES[..n].to_vec();
        let mut chosen = Vec::new();
        for ix in pick.iter().take(m) {
            chosen.push(pool.remove(ix.index(pool.len())));
        }
        let rebuilt = login_with(&roster, &chosen).unwrap();
        prop_assert_eq!(rebuilt.as_str(), pin.as_str());
        let fewer = login_with(&roster, &chosen[..m - 1]);
        let refused = matches!(fewer, Err(QuorumError::QuorumNotMet { .. }));
        prop_assert!(refused);
    }
}

// ---- pinned module and token ----------------------------------------------

#[test]
fn a_changed_module_or_token_refuses_before_any_share_is_opened() {
    let (roster, pin) = enrol(2, 2);
    // What enrolment pinned opens the shares.
    let mut login = QuorumLogin::for_hsm(&roster, &test_token(), &test_module()).unwrap();
    login.authenticate("Alice", &pass("Alice")).unwrap();
    login.authenticate("Bob", &pass("Bob")).unwrap();
    assert_eq!(login.rebuild_pin().unwrap().as_str(), pin.as_str());

    let mut swapped = test_module();
    swapped.sha256 = "cd".repeat(32);
    let e = QuorumLogin::for_hsm(&roster, &test_token(), &swapped).unwrap_err();
    assert!(
        matches!(
            e,
            QuorumError::NotPinned {
                what: "PKCS#11 module SHA-256",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.exit_code(), ExitCode::HsmNotPinned);
    assert!(e.to_string().contains(&"cd".repeat(32)), "{e}");

    let mut moved = test_module();
    moved.path = "/tmp/evil.so".into();
    let e = QuorumLogin::for_hsm(&roster, &test_token(), &moved).unwrap_err();
    assert!(
        matches!(
            e,
            QuorumError::NotPinned {
                what: "PKCS#11 module path",
                ..
            }
        ),
        "{e}"
    );

    let other = TokenRef::new("airlock-test", "0123456789abcdef", "Test Maker", "Model 2").unwrap();
    let e = QuorumLogin::for_hsm(&roster, &other, &test_module()).unwrap_err();
    assert!(
        matches!(e, QuorumError::NotPinned { what: "token", .. }),
        "{e}"
    );
}

#[test]
fn an_edited_pin_in_the_roster_makes_every_share_refuse() {
    let (roster, _) = enrol(2, 2);
    for (field, value) in [
        ("/module/sha256", Value::from("cd".repeat(32))),
        ("/module/path", Value::from("/tmp/evil.so")),
        ("/token/model", Value::from("Other")),
        ("/token/manufacturer", Value::from("Other")),
        ("/policy/allow_existing_material", Value::from(true)),
    ] {
        let mut v: Value = serde_json::from_str(&roster.to_json()).unwrap();
        *v.pointer_mut(field).unwrap() = value;
        let edited = Roster::from_json(v.to_string().as_bytes(), "roster.json").unwrap();
        let mut login = QuorumLogin::new(&edited);
        let e = login.authenticate("Alice", &pass("Alice")).unwrap_err();
        assert!(
            matches!(e, QuorumError::RosterTampered { .. }),
            "{field}: {e}"
        );
    }
}

#[test]
fn a_roster_from_before_pinning_says_re_enrol() {
    let (roster, _) = enrol(2, 2);
    let mut v: Value = serde_json::from_str(&roster.to_json()).unwrap();
    v["format"] = Value::from("airlock-roster/1");
    let o = v.as_object_mut().unwrap();
    o.remove("module");
    o.remove("policy");
    let e = Roster::from_json(v.to_string().as_bytes(), "roster.json").unwrap_err();
    assert!(matches!(e, QuorumError::RosterOutdated { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Roster);
    assert!(e.to_string().contains("re-enrol"), "{e}");
}

#[test]
fn an_unknown_name_is_never_repeated() {
    let (roster, _) = enrol(2, 2);
    let mut login = QuorumLogin::new(&roster);
    let typed = "correct horse battery staple";
    let e = login.authenticate(typed, &pass("Alice")).unwrap_err();
    assert!(!e.to_string().contains(typed), "{e}");
    assert!(!format!("{e:?}").contains(typed), "{e:?}");
    assert!(e.to_string().contains(&name_hash(typed)), "{e}");
}
