//! `airlock checklist`: writes the PDF atomically, never replaces a file
//! (exit 60), says so for a folder that does not exist (exit 4), and
//! `--markdown` prints what docs/checklist.md holds.

use std::path::Path;
use std::process::{Command, Output};

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env_remove("AIRLOCK_CONFIG")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn writes_the_pdf_and_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("checklist.pdf");
    let o = airlock(&["checklist", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        bytes,
        airlock_attest::checklist::render_pdf(airlock_attest::Paper::A4).unwrap()
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("airlock print"));

    let o = airlock(&["checklist", "--out", out.to_str().unwrap(), "--letter"]);
    assert_eq!(o.status.code(), Some(60), "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), bytes, "the file was changed");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "leftovers"
    );

    let missing = dir.path().join("no-such-folder/checklist.pdf");
    let o = airlock(&["checklist", "--out", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn usage_and_markdown() {
    let o = airlock(&["checklist"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = airlock(&["checklist", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("Exit codes") && help.contains("60"), "{help}");

    let o = airlock(&["checklist", "--markdown"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/checklist.md");
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        std::fs::read_to_string(doc).unwrap()
    );
}
