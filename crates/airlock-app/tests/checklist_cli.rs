//! `airlock checklist`: writes the PDF atomically, never replaces a file
//! (exit 60), says so for a folder that does not exist (exit 4), and
//! `--markdown` prints what docs/checklist.md holds.

use airlock_test_kit::*;

#[test]
fn writes_the_pdf_and_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("checklist.pdf");
    let o = run_bare(
        airlock_bin!(),
        &["checklist", "--out", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        bytes,
        airlock_attest::checklist::render_pdf(airlock_attest::Paper::A4).unwrap()
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("airlock print"));

    let o = run_bare(
        airlock_bin!(),
        &["checklist", "--out", out.to_str().unwrap(), "--letter"],
    );
    assert_eq!(o.status.code(), Some(60), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("already exists"),
        "{}",
        text(&o.stderr)
    );
    assert!(!text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), bytes, "the file was changed");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "leftovers"
    );

    let missing = dir.path().join("no-such-folder/checklist.pdf");
    let o = run_bare(
        airlock_bin!(),
        &["checklist", "--out", missing.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
}

#[test]
fn usage_and_markdown() {
    let o = run_bare(airlock_bin!(), &["checklist"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = run_bare(airlock_bin!(), &["checklist", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("Exit codes") && help.contains("60"), "{help}");

    let o = run_bare(airlock_bin!(), &["checklist", "--markdown"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let doc = repo().join("docs/checklist.md");
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        std::fs::read_to_string(doc).unwrap()
    );
}
