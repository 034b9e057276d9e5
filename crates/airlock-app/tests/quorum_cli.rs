//! The two-person quorum through the `airlock` binary on real tokens
//! (SoftHSM2 and Kryoptic): enrolment, rehearsal logins, refusals that
//! never spend the token's PIN retry counter, tampered rosters, and that no
//! passphrase or PIN ever appears in any output, journal or state file.

use std::path::Path;

use airlock_core::quorum::{QuorumLogin, Roster};
use airlock_test_kit::*;
use zeroize::Zeroizing;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn quorum_test(wb: &Workbench, names: &[&str]) -> std::process::Output {
    let mut args = vec!["quorum".to_string(), "test".into()];
    for n in names {
        args.push("--custodian".into());
        args.push(wb.custodian_arg(n));
    }
    wb.airlock().args(&args).output().unwrap()
}

fn flags(wb: &Workbench) -> airlock_hsm::TokenFlags {
    airlock_hsm::Hsm::open_for_so(wb.token.module_path(), &wb.token.selector())
        .unwrap()
        .token_flags()
        .unwrap()
}

fn rebuild_pin(wb: &Workbench, names: &[&str]) -> Zeroizing<String> {
    let roster = Roster::load(&wb.state.join("roster.json")).unwrap();
    let mut login = QuorumLogin::new(&roster);
    for n in names {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        login.authenticate(n, &pass).unwrap();
    }
    login.rebuild_pin().unwrap()
}

fn logins(kind: TokenKind) {
    let wb = Workbench::new(kind, airlock_bin!());
    wb.enroll(&["alice", "bob", "carol"], 2);
    for pair in [["alice", "bob"], ["bob", "carol"], ["carol", "alice"]] {
        let out = quorum_test(&wb, &pair);
        assert_ok(&out, "2-of-3 rehearsal");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Quorum login OK"));
    }
    // One alone, or the same one twice, is refused without touching the token.
    let before = flags(&wb);
    let err = stderr(&quorum_test(&wb, &["alice"]));
    assert!(err.contains("quorum") || err.contains("Quorum"), "{err}");
    assert_exit(&quorum_test(&wb, &["alice"]), 40, "one custodian alone");
    let twice = quorum_test(&wb, &["alice", "alice"]);
    assert_exit(&twice, 40, "the same custodian twice");
    assert_eq!(
        flags(&wb),
        before,
        "a refused quorum must not reach C_Login"
    );
}

#[test]
fn two_of_three_on_softhsm() {
    logins(TokenKind::SoftHsm);
}

#[test]
fn two_of_three_on_kryoptic() {
    logins(TokenKind::Kryoptic);
}

#[test]
fn two_of_two_on_both_tokens() {
    for kind in [TokenKind::Kryoptic, TokenKind::SoftHsm] {
        let wb = Workbench::new(kind, airlock_bin!());
        wb.enroll(&["alice", "bob"], 2);
        assert_ok(&quorum_test(&wb, &["alice", "bob"]), "2-of-2");
        assert_exit(&quorum_test(&wb, &["bob"]), 40, "1 of 2");
    }
}

fn wrong_passphrase_never_reaches_the_token(kind: TokenKind) {
    let wb = Workbench::new(kind, airlock_bin!());
    wb.enroll(&["alice", "bob"], 2);
    let before = flags(&wb);
    assert!(!before.user_pin_count_low);
    std::fs::write(wb.passphrase("bob"), "bob typed it wrong this time\n").unwrap();
    // Far more wrong passphrases than the token's PIN retry limit.
    for _ in 0..12 {
        let out = quorum_test(&wb, &["alice", "bob"]);
        let err = assert_exit(&out, 40, "wrong passphrase");
        assert!(err.contains("bob"), "the error names the custodian: {err}");
        assert!(!err.contains("bob typed it wrong"), "{err}");
    }
    assert_eq!(flags(&wb), before, "no C_Login was attempted");
    std::fs::write(wb.passphrase("bob"), "bob has a long test passphrase\n").unwrap();
    assert_ok(
        &quorum_test(&wb, &["alice", "bob"]),
        "the right quorum still logs in",
    );
    // The check is meaningful on this token: real wrong C_Logins do change
    // its state (count-low flag, or a lock after its retry limit).
    let hsm = airlock_hsm::Hsm::open_for_so(wb.token.module_path(), &wb.token.selector()).unwrap();
    let wrong = Zeroizing::new("not-the-pin".to_string());
    let mut changed = false;
    for _ in 0..12 {
        let _ = hsm.login_user(&wrong);
        if flags(&wb) != before {
            changed = true;
            break;
        }
    }
    assert!(changed, "this token reports failed logins");
}

#[test]
fn wrong_passphrase_never_reaches_softhsm() {
    wrong_passphrase_never_reaches_the_token(TokenKind::SoftHsm);
}

#[test]
fn wrong_passphrase_never_reaches_kryoptic() {
    wrong_passphrase_never_reaches_the_token(TokenKind::Kryoptic);
}

fn edit_roster(wb: &Workbench, f: impl FnOnce(&mut serde_json::Value)) {
    let p = wb.state.join("roster.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn tampered_rosters_are_refused() {
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    wb.enroll(&["alice", "bob"], 2);
    let original = std::fs::read(wb.state.join("roster.json")).unwrap();
    let restore = || std::fs::write(wb.state.join("roster.json"), &original).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "changed name",
            Box::new(|v| v["custodians"][1]["name"] = "mallory".into()),
        ),
        (
            "swapped shares",
            Box::new(|v| {
                let a = v["custodians"][0]["ciphertext"].clone();
                v["custodians"][0]["ciphertext"] = v["custodians"][1]["ciphertext"].clone();
                v["custodians"][1]["ciphertext"] = a;
            }),
        ),
        (
            "truncated ciphertext",
            Box::new(|v| {
                let c = v["custodians"][0]["ciphertext"]
                    .as_str()
                    .unwrap()
                    .to_string();
                v["custodians"][0]["ciphertext"] = c[..c.len() - 8].into();
            }),
        ),
        ("lowered threshold", Box::new(|v| v["threshold"] = 1.into())),
        ("unknown field", Box::new(|v| v["note"] = "hi".into())),
    ];
    for (what, edit) in cases {
        restore();
        edit_roster(&wb, edit);
        let out = quorum_test(&wb, &["alice", "bob"]);
        let code = out.status.code();
        assert!(
            code == Some(41) || code == Some(40),
            "{what}: expected a roster (41) or quorum (40) refusal, got {code:?}: {}",
            stderr(&out)
        );
        if what != "changed name" {
            assert_eq!(code, Some(41), "{what}: {}", stderr(&out));
        }
    }
    restore();
    assert_ok(&quorum_test(&wb, &["alice", "bob"]), "restored roster");
}

#[test]
fn enrolment_policy_is_checked_before_the_token_is_touched() {
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    let so = wb.so_pin_file();
    let enroll = |args: &[String]| {
        let mut all = vec![
            "enroll".to_string(),
            "--so-pin-file".into(),
            so.display().to_string(),
        ];
        all.extend_from_slice(args);
        wb.airlock().args(&all).output().unwrap()
    };
    let c = |n: &str| ["--custodian".to_string(), wb.custodian_arg(n)];
    let short = wb.path("secrets/short");
    std::fs::write(&short, "too short\n").unwrap();
    let mut args: Vec<String> = vec!["--threshold".into(), "1".into()];
    args.extend(c("alice"));
    args.extend(c("bob"));
    assert_exit(&enroll(&args), 40, "M = 1");
    args[1] = "3".into();
    assert_exit(&enroll(&args), 40, "M > N");
    let mut same: Vec<String> = vec!["--threshold".into(), "2".into()];
    same.extend(c("alice"));
    same.extend([
        "--custodian".into(),
        format!("bob=@{}", wb.passphrase("alice").display()),
    ]);
    let err = assert_exit(&enroll(&same), 40, "two custodians with one passphrase");
    assert!(err.to_lowercase().contains("passphrase"), "{err}");
    let mut weak: Vec<String> = vec!["--threshold".into(), "2".into()];
    weak.extend(c("alice"));
    weak.extend(["--custodian".into(), format!("bob=@{}", short.display())]);
    assert_exit(&enroll(&weak), 40, "a passphrase under 12 characters");
    assert!(!wb.state.join("roster.json").exists());
    // The token's user PIN is still the test token's own: nothing was set.
    let hsm = airlock_hsm::Hsm::open(wb.token.module_path(), &wb.token.selector()).unwrap();
    hsm.login_user(wb.token.user_pin())
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn reenrolment_needs_the_current_quorum() {
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    wb.enroll(&["alice", "bob"], 2);
    let replace = |current: &[&str]| {
        let mut args = vec![
            "enroll".to_string(),
            "--replace".into(),
            "--threshold".into(),
            "2".into(),
        ];
        for n in ["alice", "carol"] {
            args.push("--custodian".into());
            args.push(wb.custodian_arg(n));
        }
        for n in current {
            args.push("--current".into());
            args.push(wb.custodian_arg(n));
        }
        wb.airlock().args(&args).output().unwrap()
    };
    assert_exit(
        &replace(&["alice"]),
        40,
        "re-enrolment with one current custodian",
    );
    assert_ok(
        &quorum_test(&wb, &["alice", "bob"]),
        "old roster still in force",
    );
    assert_ok(&replace(&["alice", "bob"]), "re-enrolment with the quorum");
    assert_ok(&quorum_test(&wb, &["alice", "carol"]), "new roster");
    assert_exit(
        &quorum_test(&wb, &["alice", "bob"]),
        40,
        "bob is no longer enrolled",
    );
}

fn files_below(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_below(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn no_secret_in_any_output_journal_or_state_file() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &["--count", "2", "--wrapping-key-spec", "RSA_2048"],
    );
    let mut outputs = Vec::new();
    outputs.push(quorum_test(&wb, &["alice", "bob"]));
    std::fs::write(wb.passphrase("bob"), "bob typed it wrong this time\n").unwrap();
    outputs.push(quorum_test(&wb, &["alice", "bob"]));
    std::fs::write(wb.passphrase("bob"), "bob has a long test passphrase\n").unwrap();
    let out = wb.path("usb/import");
    let mut args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
    outputs.push(wb.airlock().args(&args).output().unwrap());
    args.push("--json".into());
    outputs.push(wb.airlock().args(&args).output().unwrap());

    let pin = rebuild_pin(&wb, &["alice", "bob"]);
    let secrets = [
        pin.as_str().to_string(),
        "alice has a long test passphrase".to_string(),
        "bob has a long test passphrase".to_string(),
        "bob typed it wrong this time".to_string(),
        wb.token.so_pin().as_str().to_string(),
    ];
    let mut texts: Vec<(String, Vec<u8>)> = outputs
        .iter()
        .flat_map(|o| {
            [
                ("stdout".to_string(), o.stdout.clone()),
                ("stderr".to_string(), o.stderr.clone()),
            ]
        })
        .collect();
    let mut files = Vec::new();
    files_below(&wb.state, &mut files);
    files_below(&out, &mut files);
    for f in files {
        texts.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    for (where_, bytes) in &texts {
        let text = String::from_utf8_lossy(bytes);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret appears in {where_}");
        }
    }
}

#[test]
fn a_forgotten_passphrase_is_recovered_by_the_others_and_n_equal_m_is_warned() {
    // 2 of 2: enrolment warns that one absent custodian blocks everything.
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    let out = wb
        .airlock()
        .args(wb.enroll_args(&["alice", "bob"], 2))
        .output()
        .unwrap();
    assert_ok(&out, "enroll 2 of 2");
    assert!(stderr(&out).contains("N > M"), "{}", stderr(&out));
    let roster = wb.state.join("roster.json");
    std::fs::rename(&roster, wb.path("roster-2of2.json")).unwrap();

    // 2 of 3 on the same token: its signing key is there already, from the
    // first enrolment, so it is only adopted on request. No N = M warning.
    let again = wb
        .airlock()
        .args(wb.enroll_args(&["alice", "bob", "carol"], 2))
        .output()
        .unwrap();
    assert_exit(&again, 34, "a signing key already in the token");
    let out = wb
        .airlock()
        .args(wb.enroll_args(&["alice", "bob", "carol"], 2))
        .arg("--adopt-signing-key")
        .output()
        .unwrap();
    // Then bob forgets his passphrase: alice and carol replace him with dave.
    assert_ok(&out, "enroll 2 of 3");
    assert!(!stderr(&out).contains("N > M"), "{}", stderr(&out));
    let mut args = vec![
        "enroll".to_string(),
        "--replace".into(),
        "--threshold".into(),
        "2".into(),
    ];
    for n in ["alice", "carol", "dave"] {
        args.push("--custodian".into());
        args.push(wb.custodian_arg(n));
    }
    for n in ["alice", "carol"] {
        args.push("--current".into());
        args.push(wb.custodian_arg(n));
    }
    assert_ok(&wb.airlock().args(&args).output().unwrap(), "replace bob");
    assert_ok(&quorum_test(&wb, &["dave", "alice"]), "dave counts now");
    assert_exit(&quorum_test(&wb, &["bob", "alice"]), 40, "bob is gone");
}
