//! The rendered attestation read back with real tools: poppler's pdftotext
//! (every value is on the page), pdffonts (every font embedded), pdfinfo
//! (paper size, pages), zbarimg (the QR code decodes to the digest), and
//! byte-identical output for the same input.

use airlock_attest::words::{grouped_hex, pgp_words};
use airlock_attest::{AttestError, Paper, WipeResult, render_pdf};
use airlock_test_kit::attestation::*;
use airlock_test_kit::pdf::*;

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
    assert!(text.contains("prod-key-59") && text.contains("Appendix A: keys (continued)"));
    assert!(text.contains(&format!("page {pages} of {pages}")));
}

#[test]
fn up_to_the_inline_limit_the_key_table_stays_in_the_body() {
    let a = sample(airlock_attest::INLINE_KEY_ROWS);
    let (_d, path) = write(&render_pdf(&a).unwrap());
    let text = pdf_text(&path);
    assert!(!text.contains("Appendix A"), "{text}");
    assert!(text.contains(&format!("Keys ({})", a.keys.len())));
}

#[test]
fn a_large_ceremony_keeps_the_digest_and_signatures_on_page_1_and_the_keys_in_an_appendix() {
    let mut a = sample(300);
    a.keys[7].key_spec = "HMAC_256".into();
    let (_d, path) = write(&render_pdf(&a).unwrap());
    let pages = pdf_pages(&path);
    let one = squash(&pdf_page_text(&path, 1));
    // Page 1: the digest to read aloud, the totals, the bags, every
    // custodian's and the witness's signature line; no key rows.
    let g = grouped_hex(&a.bundle_sums_sha256);
    assert!(one.contains(g.split_at(39).0.trim()), "{one}");
    assert!(one.contains("Keys (300)"), "{one}");
    assert!(one.contains("299 × SYMMETRIC_DEFAULT"), "{one}");
    assert!(one.contains("1 × HMAC_256"), "{one}");
    assert!(
        one.contains(&format!("Appendix A, pages 3 to {pages} (one row per key)")),
        "{one}"
    );
    for c in &a.custodians {
        assert!(one.contains(&c.name), "{} missing on page 1: {one}", c.name);
    }
    assert!(
        one.contains("Witness") && one.contains(&a.seal_serials[0]),
        "{one}"
    );
    assert!(!one.contains(&a.keys[0].material_sha256_prefix), "{one}");
    // Page 2: the ceremony, HSM, request and seal details.
    let two = squash(&pdf_page_text(&path, 2));
    assert!(
        two.contains(&a.hsm.serial) && two.contains("Seal and journal"),
        "{two}"
    );
    // The appendix: every key, from page 3 to the last.
    let rest: String = (3..=pages)
        .map(|n| pdf_page_text(&path, n))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(rest.contains("Appendix A: keys (300)"), "{rest}");
    for k in &a.keys {
        assert!(
            rest.contains(&k.material_sha256_prefix),
            "{} missing",
            k.name
        );
    }
}

#[test]
fn a_value_the_fonts_cannot_draw_is_refused_by_name() {
    let mut a = sample(1);
    a.seal_serials = vec!["袋-1".into()];
    let e = render_pdf(&a).unwrap_err();
    assert!(matches!(e, AttestError::Unprintable { .. }), "{e}");
    assert!(e.to_string().contains("seal serial #1"), "{e}");
}
