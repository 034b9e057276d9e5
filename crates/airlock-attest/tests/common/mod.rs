//! Shared by the attestation tests: a filled-in [`AttestationInput`] (the
//! values a verified bundle gives; the end-to-end test in airlock-app builds
//! a real bundle instead) and the poppler / zbar tools that read the PDF
//! back.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use airlock_attest::{AttestationInput, CustodianLine, HsmLine, KeyLine, Paper, WipeResult};

/// A plausible attestation input with `keys` keys.
pub fn sample(keys: usize) -> AttestationInput {
    AttestationInput {
        paper: Paper::A4,
        ceremony_id: "0b7e3c1a-5d2f-4c8e-9a61-3f2d1e0c9b8a".into(),
        request_id: "2026-11-28-prod-rotation".into(),
        started_at: "2026-11-28T09:00:00Z".into(),
        completed_at: "2026-11-28T09:12:34Z".into(),
        hostname: "airlock-ws-1".into(),
        air_gapped: true,
        network_override: false,
        sha1_override: false,
        sha1_keys: vec![],
        hsm: HsmLine {
            module_sha256: "ab".repeat(32),
            manufacturer: "Kryoptic Project".into(),
            model: "v1".into(),
            serial: "f8c57de3fa908d55".into(),
            token_label: "airlock".into(),
            wrap_path: "CKM_RSA_PKCS_OAEP".into(),
        },
        custodians: vec![
            CustodianLine {
                name: "alice".into(),
                authenticated_at: "2026-11-28T09:03:00Z".into(),
            },
            CustodianLine {
                name: "bob".into(),
                authenticated_at: "2026-11-28T09:04:10Z".into(),
            },
        ],
        request_signer_name: "online-signer".into(),
        request_signer_fingerprint:
            "3a0bba2acaaf324ed20048e5549c387ed83a339c2201ee2a050c74d4fa6caf7f".into(),
        request_sums_sha256: "7ad465f0237d6c7c92bb2c11c9e0a2ba49a90af85939d4401aaee7c6d727962d"
            .into(),
        bundle_sums_sha256: "b6efbbefa0501eea13e8f698d358d2490269d562046afefaa5d8d79623315bd5"
            .into(),
        keys: (0..keys)
            .map(|i| KeyLine {
                name: format!("prod-key-{i}"),
                alias: format!("alias/prod-key-{i}"),
                key_spec: "SYMMETRIC_DEFAULT".into(),
                wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
                kcv: Some(format!("{:06X}", 0xA00000 + i)),
                material_sha256_prefix: format!("{:016x}", 0x2dbe_a2ce_60bb_0000u64 + i as u64),
                replicas: Vec::new(),
            })
            .collect(),
        ceremony_key_fingerprint:
            "f8be3961947b0dc5bb550c2cfbc777ad32882fdfbb595744e1a16a30c534dcbb".into(),
        journal_head_sha256: "ffa81c99a0f7faaa51da2945401738aa5d57daab31594bc612d3d099216c92e6"
            .into(),
        journal_entries: 36,
        wipe: WipeResult::InWorkstationJournal,
        seal_serials: vec!["TE-000123".into()],
        no_bags_confirmed: false,
    }
}

/// `pdftotext -layout FILE -`.
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext").arg("-layout").arg(pdf).arg("-").output().expect(
        "pdftotext (poppler-utils) is needed: ceremony-scripts/lib/install-deps.sh --test installs it",
    );
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `pdftotext -layout -f N -l N FILE -`: page N (1-based) alone.
pub fn pdf_page_text(pdf: &Path, page: usize) -> String {
    let n = page.to_string();
    let out = Command::new("pdftotext")
        .args(["-layout", "-f", &n, "-l", &n])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The `pdffonts` table rows (name, embedded?).
pub fn pdf_fonts(pdf: &Path) -> Vec<(String, bool)> {
    let out = Command::new("pdffonts")
        .arg(pdf)
        .output()
        .expect("pdffonts (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(2)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // name type... encoding emb sub uni object ID: emb is 5th from the end.
            (cols[0].to_string(), cols[cols.len() - 5] == "yes")
        })
        .collect()
}

/// Decodes the QR codes on page 1 (rendered at 200 dpi) with zbarimg.
pub fn qr_codes(pdf: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let st = Command::new("pdftoppm")
        .args(["-png", "-r", "200", "-f", "1", "-l", "1"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(st.success());
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&png)
        .output()
        .expect("zbarimg (zbar-tools) is needed: install-deps.sh --test installs it");
    assert!(
        out.status.success(),
        "zbarimg found no code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `pdfinfo` "Pages:" and "Page size:" lines.
pub fn pdf_info(pdf: &Path) -> String {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    String::from_utf8(out.stdout).unwrap()
}

/// The page count `pdfinfo` reports.
pub fn pdf_pages(pdf: &Path) -> usize {
    let info = pdf_info(pdf);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no Pages: in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// Collapses runs of whitespace (pdftotext spreads columns with spaces).
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
