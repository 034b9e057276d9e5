//! `airlock attest` on a real sealed bundle: a Kryoptic token, enrolment,
//! a signed request and a headless ceremony (as ceremony-scripts/demo.sh
//! does), then the attestation read back with pdftotext, pdffonts and
//! zbarimg; byte-identical reruns; refusals (existing output, a journal of
//! another ceremony); and the bundle still verifies with attestation.pdf
//! in it.

use std::path::Path;
use std::process::Command;

use airlock_test_kit::pdf::*;
use airlock_test_kit::*;

fn sha256_hex(p: &Path) -> String {
    let out = sh(Command::new("sha256sum").arg(p));
    String::from_utf8(out).unwrap()[..64].to_string()
}

fn group(hex: &str) -> Vec<String> {
    let g: Vec<String> = hex
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    vec![g[..8].join(" "), g[8..].join(" ")]
}

#[test]
fn attestation_of_a_real_bundle() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
            "--key",
            "prod-rds:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
        ],
    );
    let bundle = wb.path("usb/import");
    assert_ok(
        &wb.airlock()
            .args(wb.ceremony_args(&request, &bundle, &["alice", "bob"]))
            .output()
            .unwrap(),
        "ceremony run",
    );
    let key = wb.ceremony_key();
    let journal = std::fs::read_dir(wb.state.join("ceremonies"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("journal.jsonl");

    // The ceremony already wrote its attestation into the bundle; rebuild
    // it here with bag serials (replacing it needs --force, tested below).
    let pdf = bundle.join("attestation.pdf");
    assert!(pdf.is_file(), "the ceremony wrote no attestation.pdf");
    let args = [
        "attest",
        bundle.to_str().unwrap(),
        "--ceremony-key",
        key.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--seal-serial",
        "TE-0001",
        "--seal-serial",
        "TE-0002",
        "--force",
    ];
    let out = wb.run(&args);
    assert_ok(&out, "attest");
    let t = squash(&pdf_text(&pdf));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("import.json")).unwrap()).unwrap();
    let sums = sha256_hex(&bundle.join("SHA256SUMS"));
    let fingerprint = {
        let der = sh(Command::new("openssl")
            .args(["pkey", "-pubin", "-outform", "DER", "-in"])
            .arg(&key));
        let mut c = Command::new("sha256sum");
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &der).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()[..64].to_string()
    };
    for digest in [
        sums.as_str(),
        manifest["request_sha256sums_sha256"].as_str().unwrap(),
        manifest["request_signer_fingerprint"].as_str().unwrap(),
        manifest["journal_head_sha256"].as_str().unwrap(),
        fingerprint.as_str(),
        // The pinned PKCS#11 module, as preflight journaled it (issue 13).
        airlock_hsm::module_sha256(wb.token.module_path())
            .unwrap()
            .as_str(),
    ] {
        for half in group(digest) {
            assert!(t.contains(&half), "{half} of {digest} missing:\n{t}");
        }
    }
    for k in manifest["keys"].as_array().unwrap() {
        let name = k["name"].as_str().unwrap();
        assert!(
            t.contains(name) && t.contains(k["kcv"].as_str().unwrap()),
            "{name}"
        );
        let ekm = sha256_hex(
            &bundle
                .join("keys")
                .join(name)
                .join("EncryptedKeyMaterial.bin"),
        );
        assert!(t.contains(&ekm[..16]), "EKM prefix of {name}");
    }
    for s in [
        "alice",
        "bob",
        "TE-0001",
        "TE-0002",
        "online-test",
        manifest["ceremony_id"].as_str().unwrap(),
    ] {
        assert!(t.contains(s), "{s} missing");
    }
    // --allow-network: on a machine with a network the override is shouted.
    if manifest["workstation"]["air_gapped"] == false {
        assert!(t.contains("NOT AIR-GAPPED"));
    }
    assert!(
        t.contains("ceremony_completed") && t.contains("working files"),
        "wipe result:\n{t}"
    );

    // Fonts embedded; QR decodes to the digest.
    let fonts = String::from_utf8(sh(Command::new("pdffonts").arg(&pdf))).unwrap();
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{fonts}");
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().rev().nth(4) == Some("yes")),
        "{fonts}"
    );
    let png = wb.path("page");
    sh(Command::new("pdftoppm")
        .args(["-png", "-r", "200", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(&png));
    let qr = sh(Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png.with_extension("png")));
    assert_eq!(String::from_utf8(qr).unwrap().trim(), sums);

    // The bundle still verifies with the attestation in it.
    assert_ok(
        &wb.run(&[
            "bundle",
            "verify",
            bundle.to_str().unwrap(),
            "--ceremony-key",
            key.to_str().unwrap(),
        ]),
        "bundle verify",
    );

    // Not overwritten without --force; byte-identical when rebuilt.
    let again = wb.run(&[
        "attest",
        bundle.to_str().unwrap(),
        "--ceremony-key",
        key.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--seal-serial",
        "TE-0001",
        "--seal-serial",
        "TE-0002",
    ]);
    let err = assert_exit(&again, 60, "attest over an existing file");
    assert!(err.contains("--force"), "{err}");
    let copy = wb.path("copy.pdf");
    assert_ok(
        &wb.run(&[
            "attest",
            bundle.to_str().unwrap(),
            "--ceremony-key",
            key.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--seal-serial",
            "TE-0001",
            "--seal-serial",
            "TE-0002",
            "--out",
            copy.to_str().unwrap(),
        ]),
        "attest --out",
    );
    assert!(
        std::fs::read(&copy).unwrap() == std::fs::read(&pdf).unwrap(),
        "two runs differ"
    );

    // Letter, without the full journal.
    let letter = wb.path("letter.pdf");
    assert_ok(
        &wb.run(&[
            "attest",
            bundle.to_str().unwrap(),
            "--ceremony-key",
            key.to_str().unwrap(),
            "--letter",
            "--out",
            letter.to_str().unwrap(),
        ]),
        "attest --letter",
    );
    let info = String::from_utf8(sh(Command::new("pdfinfo").arg(&letter))).unwrap();
    assert!(info.contains("612 x 792"), "{info}");
    assert!(squash(&pdf_text(&letter)).contains("recorded in the workstation journal"));

    // A journal that does not continue the bundle's is refused, by path.
    let other = wb.path("other.jsonl");
    let full = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(
        &other,
        full.lines()
            .take(3)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let bad = wb.run(&[
        "attest",
        bundle.to_str().unwrap(),
        "--ceremony-key",
        key.to_str().unwrap(),
        "--journal",
        other.to_str().unwrap(),
        "--out",
        wb.path("x.pdf").to_str().unwrap(),
    ]);
    let err = assert_exit(&bad, 60, "attest with a short journal");
    assert!(
        err.contains("other.jsonl") && err.contains("does not continue"),
        "{err}"
    );
}
