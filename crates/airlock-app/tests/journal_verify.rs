//! `airlock journal verify` through the real binary: an intact journal
//! passes (text and JSON), a changed, dropped or cut journal exits 52 and
//! names the first broken line and its seq, and `--head` catches a changed
//! last line.

use std::path::{Path, PathBuf};

use airlock_core::journal::{Actor, JournalWriter};
use airlock_core::quorum::CustodianName;
use airlock_test_kit::*;
use serde_json::{Value, json};

/// A journal of five entries; returns its path and head.
fn make_journal(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("journal.jsonl");
    let mut w = JournalWriter::create(&path).unwrap();
    let alice = Actor::Custodian(CustodianName::parse("Alice").unwrap());
    w.append(
        "ceremony_started",
        &Actor::System,
        json!({"request_id": "r1"}),
    )
    .unwrap();
    w.append("custodian_authenticated", &alice, json!({}))
        .unwrap();
    for name in ["dev-s3", "int-s3", "prod-s3"] {
        w.append("key_wrapped", &Actor::System, json!({"name": name}))
            .unwrap();
    }
    (path, w.head_sha256().to_string())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn intact_journal_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (path, head) = make_journal(dir.path());
    let out = run_bare(airlock_bin!(), &["journal", "verify", path_str(&path)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("entries:  5"), "{stdout}");
    assert!(stdout.contains(&head[..4]), "{stdout}");
    assert!(stdout.contains("OK"), "{stdout}");

    let out = run_bare(
        airlock_bin!(),
        &[
            "journal",
            "verify",
            path_str(&path),
            "--json",
            "--head",
            &head,
        ],
    );
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"], 5);
    assert_eq!(v["head_sha256"], head.as_str());
    assert_eq!(v["head_checked"], true);
}

#[test]
fn changed_line_exits_52_naming_the_line_and_seq() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_journal(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("int-s3", "evil-s3", 1)).unwrap();

    let out = run_bare(airlock_bin!(), &["journal", "verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(52));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 5 (seq 4)"), "{stderr}");
    assert!(stderr.contains("line 4 was changed"), "{stderr}");
    assert!(stderr.contains(path_str(&path)), "{stderr}");
    assert!(stderr.contains("what to do"), "{stderr}");

    let out = run_bare(
        airlock_bin!(),
        &["journal", "verify", path_str(&path), "--json"],
    );
    assert_eq!(out.status.code(), Some(52));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["line"], 5);
    assert_eq!(v["seq"], 4);
    assert_eq!(v["exit_code"], 52);
}

#[test]
fn dropped_line_and_torn_tail_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_journal(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();

    let dropped: String = [lines[0], lines[2], lines[3], lines[4]].concat();
    std::fs::write(&path, dropped).unwrap();
    let out = run_bare(
        airlock_bin!(),
        &["journal", "verify", path_str(&path), "--json"],
    );
    assert_eq!(out.status.code(), Some(52));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["line"].as_u64(), v["seq"].as_u64()), (Some(2), Some(2)));

    // Cut in the middle of the last line.
    std::fs::write(&path, &text[..text.len() - 10]).unwrap();
    let out = run_bare(
        airlock_bin!(),
        &["journal", "verify", path_str(&path), "--json"],
    );
    assert_eq!(out.status.code(), Some(52));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["line"], 5);
    assert_eq!(v["seq"], Value::Null, "the torn line has no readable seq");
}

#[test]
fn head_catches_a_changed_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, head) = make_journal(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("prod-s3", "prod-s4", 1)).unwrap();
    // The chain alone still holds...
    assert!(
        run_bare(airlock_bin!(), &["journal", "verify", path_str(&path)])
            .status
            .success()
    );
    // ...but not against the recorded head.
    let out = run_bare(
        airlock_bin!(),
        &["journal", "verify", path_str(&path), "--head", &head],
    );
    assert_eq!(out.status.code(), Some(52));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected"));
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let out = run_bare(airlock_bin!(), &["journal", "verify", path_str(&missing)]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.jsonl"));
}
