//! The rendered attestation read back with real tools: poppler's pdftotext
//! (every value is on the page), pdffonts (every font embedded), pdfinfo
//! (paper size, pages), zbarimg (the QR code decodes to the digest), and
//! byte-identical output for the same input.

mod common;

use airlock_attest::words::{grouped_hex, pgp_words};
use airlock_attest::{AttestError, Paper, WipeResult, render_pdf};
use common::*;

fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("attestation.pdf");
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

#[test]
fn every_value_is_printed_and_the_qr_decodes_to_the_digest() {
    let a = sample(9);
    let pdf = render_pdf(&a).unwrap();
    let (_d, path) = write(&pdf);
    let text = squash(&pdf_text(&path));
    for digest in [
        &a.bundle_sums_sha256,
        &a.request_sums_sha256,
        &a.request_signer_fingerprint,
        &a.ceremony_key_fingerprint,
        &a.journal_head_sha256,
    ] {
        // Digests are printed in groups of four, eight groups to a line.
        let g = grouped_hex(digest);
        let (first, second) = g.split_at(39);
        assert!(
            text.contains(first.trim()) && text.contains(second.trim()),
            "{digest} missing:\n{text}"
        );
    }
    for w in pgp_words(&a.bundle_sums_sha256).unwrap() {
        assert!(text.contains(&w), "PGP word {w} missing");
    }
    for k in &a.keys {
        for v in [
            &k.name,
            &k.alias,
            &k.material_sha256_prefix,
            k.kcv.as_ref().unwrap(),
        ] {
            assert!(text.contains(v.as_str()), "{v} missing");
        }
    }
    for c in &a.custodians {
        assert!(
            text.contains(&c.name) && text.contains(&c.authenticated_at),
            "{} missing",
            c.name
        );
    }
    for v in [
        &a.ceremony_id,
        &a.request_id,
        &a.hostname,
        &a.hsm.serial,
        &a.hsm.token_label,
        &a.hsm.wrap_path,
        &a.request_signer_name,
        &a.seal_serials[0],
        &a.completed_at,
    ] {
        assert!(text.contains(v.as_str()), "{v} missing");
    }
    assert!(text.contains("Witness") && text.contains("air-gapped"));
    assert!(!text.contains("NOT AIR-GAPPED"));
    assert!(text.contains("recorded in the workstation journal"));

    assert_eq!(qr_codes(&path), vec![a.bundle_sums_sha256.clone()]);

    let fonts = pdf_fonts(&path);
    assert_eq!(fonts.len(), 3, "{fonts:?}");
    assert!(fonts.iter().all(|(_, embedded)| *embedded), "{fonts:?}");

    let info = pdf_info(&path);
    assert!(
        info.contains("595.276 x 841.89") && info.contains("(A4)"),
        "{info}"
    );
    assert!(
        info.contains("Pages:           2"),
        "9 keys fit two pages:\n{info}"
    );
}

#[test]
fn the_same_input_gives_the_same_bytes_and_any_change_changes_them() {
    let a = sample(3);
    let one = render_pdf(&a).unwrap();
    let two = render_pdf(&a).unwrap();
    assert!(one == two, "two renders in one process differ");
    // The date is the sealing time, not the clock.
    let (_d, path) = write(&one);
    assert!(pdf_info(&path).contains("2026"), "{}", pdf_info(&path));
    let mut b = a.clone();
    b.seal_serials.push("TE-000124".into());
    assert_ne!(render_pdf(&b).unwrap(), one);
}

#[test]
fn overrides_are_printed_in_large_type() {
    let mut a = sample(2);
    a.air_gapped = false;
    a.network_override = true;
    a.sha1_override = true;
    a.sha1_keys = vec!["prod-key-1".into()];
    a.wipe = WipeResult::Recorded {
        at: "2026-11-28T09:13:00Z".into(),
        work_files: 9,
        work_bytes: 4608,
        request_files: None,
        session_objects_destroyed: 2,
        session_objects_remaining: 1,
        outcome: Some("ceremony_completed".into()),
        full_journal_head: "fe798c95d763cfe8d92d67ca0829761ffd088128ba854d2c169982c29d91301f"
            .into(),
        full_journal_entries: 39,
    };
    let (_d, path) = write(&render_pdf(&a).unwrap());
    let text = squash(&pdf_text(&path));
    for s in [
        "NOT AIR-GAPPED",
        "SHA-1 OVERRIDE",
        "wrapped with SHA-1: prod-key-1",
        "WIPE INCOMPLETE",
        "9 working files (4608 bytes)",
        "1 left",
        "ceremony_completed",
        "fe79 8c95",
    ] {
        assert!(text.contains(s), "{s} missing:\n{text}");
    }
}

#[test]
fn letter_paper_and_many_keys_paginate() {
    let mut a = sample(60);
    a.paper = Paper::Letter;
    let (_d, path) = write(&render_pdf(&a).unwrap());
    let info = pdf_info(&path);
    assert!(
        info.contains("612 x 792 pts (letter)") || info.contains("612 x 792 pts (Letter)"),
        "{info}"
    );
    let pages = pdf_pages(&path);
    assert!(pages >= 3, "{info}");
    let text = pdf_text(&path);
    assert!(text.contains("prod-key-59") && text.contains("Keys (continued)"));
    assert!(text.contains(&format!("page {pages} of {pages}")));
}

#[test]
fn a_value_the_fonts_cannot_draw_is_refused_by_name() {
    let mut a = sample(1);
    a.seal_serials = vec!["袋-1".into()];
    let e = render_pdf(&a).unwrap_err();
    assert!(matches!(e, AttestError::Unprintable { .. }), "{e}");
    assert!(e.to_string().contains("seal serial #1"), "{e}");
}
