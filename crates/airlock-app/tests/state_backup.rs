//! `airlock state backup` / `restore` (issue 15, recovery) through the
//! binary on Kryoptic: a backup after a ceremony restores a state directory
//! that runs the next ceremony; a backup whose files were edited, added to
//! or whose key is not the enrolled fingerprint is refused, and restore
//! never writes over a state directory that holds anything.

use airlock_test_kit::*;

fn fingerprint(wb: &Workbench) -> String {
    let pem = std::fs::read_to_string(wb.ceremony_key()).unwrap();
    airlock_core::signature::SignerKey::from_pem(&pem)
        .unwrap()
        .fingerprint()
        .to_hex()
}

#[test]
fn a_backup_restores_a_working_state_and_a_tampered_one_is_refused() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let r1 = wb.path("usb/r1");
    wb.make_request(
        &r1,
        &[
            "--request-id",
            "first",
            "--count",
            "1",
            "--wrapping-key-spec",
            "RSA_2048",
        ],
    );
    assert_ok(
        &wb.run_ceremony(&r1, &wb.path("usb/i1"), &[]),
        "first ceremony",
    );

    let backup = wb.path("backup/state-1");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let out = wb.run(&["state", "backup", "--out", backup.to_str().unwrap()]);
    assert_ok(&out, "state backup");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("1 ceremony journal(s)"), "{text}");
    assert!(backup.join("SHA256SUMS").is_file());
    assert!(backup.join("trust/request-signers.json.hsm-seal").is_file());
    // Never over an existing folder.
    assert_exit(
        &wb.run(&["state", "backup", "--out", backup.to_str().unwrap()]),
        50,
        "backup over an existing folder",
    );
    let fp = fingerprint(&wb);

    // Restore never overwrites a state directory that holds anything.
    let restore = |fp: &str| {
        wb.run(&[
            "state",
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--ceremony-key-fingerprint",
            fp,
        ])
    };
    assert_exit(&restore(&fp), 4, "restore over a full state directory");

    // The workstation lost its state: restore, then the next ceremony runs.
    std::fs::rename(&wb.state, wb.path("lost-state")).unwrap();
    // A key that is not the enrolled one (its fingerprint) is refused.
    let wrong = "00".repeat(32);
    assert_exit(&restore(&wrong), 12, "another ceremony key");
    assert!(!wb.state.exists());

    // An edited trust store, even with SHA256SUMS recomputed, fails its seal.
    let tampered = wb.path("backup/tampered");
    sh(std::process::Command::new("cp")
        .arg("-r")
        .arg(&backup)
        .arg(&tampered));
    let store = tampered.join("trust/request-signers.json");
    let edited = std::fs::read_to_string(&store)
        .unwrap()
        .replace("online-test", "online-tesx");
    std::fs::write(&store, edited).unwrap();
    sh(std::process::Command::new("sh").arg("-c").arg(format!(
        "cd '{}' && find . -type f ! -name SHA256SUMS | sed 's|^./||' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS",
        tampered.display()
    )));
    let run = wb.run(&[
        "state",
        "restore",
        "--from",
        tampered.to_str().unwrap(),
        "--ceremony-key-fingerprint",
        &fp,
    ]);
    let err = assert_exit(&run, 54, "an edited trust store in the backup");
    assert!(err.contains("request-signers.json"), "{err}");
    // A file added to the backup is refused.
    let added = wb.path("backup/added");
    sh(std::process::Command::new("cp")
        .arg("-r")
        .arg(&backup)
        .arg(&added));
    std::fs::create_dir_all(added.join("ceremonies/x")).unwrap();
    std::fs::write(added.join("ceremonies/x/record.json"), b"{}").unwrap();
    let run = wb.run(&[
        "state",
        "restore",
        "--from",
        added.to_str().unwrap(),
        "--ceremony-key-fingerprint",
        &fp,
    ]);
    assert_exit(&run, 54, "a file added to the backup");
    assert!(!wb.state.exists());

    assert_ok(&restore(&fp), "state restore");
    let journal = std::fs::read_to_string(wb.state.join("enrollment.jsonl")).unwrap();
    assert!(journal.contains("state_restored"), "{journal}");
    let r2 = wb.path("usb/r2");
    wb.make_request(
        &r2,
        &[
            "--request-id",
            "second",
            "--count",
            "1",
            "--wrapping-key-spec",
            "RSA_2048",
        ],
    );
    assert_ok(
        &wb.run_ceremony(&r2, &wb.path("usb/i2"), &[]),
        "ceremony on the restored state",
    );
}
