//! Issue 8: the claim "key material never leaves the HSM in plaintext",
//! checked from outside Airlock with OpenSC's `pkcs11-tool` after a real
//! ceremony on Kryoptic: every key object the ceremony left in the token is
//! sensitive and always was, cannot be used to unwrap, cannot be used to
//! wrap (secret keys), and asking the token for a secret key's value is
//! refused with CKR_ATTRIBUTE_SENSITIVE.

use std::process::Command;

use airlock_core::quorum::{QuorumLogin, Roster};
use airlock_test_kit::*;
use zeroize::Zeroizing;

fn pkcs11_tool(wb: &Workbench, pin: &str, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("pkcs11-tool");
    for (k, v) in wb.token.env_vars() {
        c.env(k, v);
    }
    c.arg("--module")
        .arg(wb.token.module_path())
        .args(["--token-label", wb.token.label(), "--login", "--pin", pin])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ceremony_keys_are_sensitive_and_their_values_cannot_be_read() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
            "--key",
            "prod-mac:HMAC_256:RSAES_OAEP_SHA_256:RSA_4096",
            "--key",
            "prod-sign:RSA_2048:RSA_AES_KEY_WRAP_SHA_256:RSA_4096",
        ],
    );
    let out = wb.path("usb/import");
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&request, &out, &["alice", "bob"]))
        .output()
        .unwrap();
    assert_ok(&run, "ceremony run");

    // The auditor's login: the quorum rebuilds the PIN.
    let roster = Roster::load(&wb.state.join("roster.json")).unwrap();
    let mut login = QuorumLogin::new(&roster);
    for n in ["alice", "bob"] {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        login.authenticate(n, &pass).unwrap();
    }
    let pin = login.rebuild_pin().unwrap();

    let listed = pkcs11_tool(&wb, &pin, &["--list-objects"]);
    assert_ok(&listed, "pkcs11-tool --list-objects");
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    // pkcs11-tool prints one block per object, starting at an unindented
    // "... Object;" line, with indented "label:", "Usage:" and "Access:".
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && line.contains("Object") {
            blocks.push(vec![line]);
        } else if let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    let field = |b: &[&str], name: &str| -> String {
        b.iter()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    for name in ["prod-s3", "prod-mac", "prod-sign"] {
        let label = format!("{name}/test-request");
        let block = blocks
            .iter()
            .find(|b| field(b, "label:") == label && !b[0].contains("Public Key"))
            .unwrap_or_else(|| panic!("{label} not in the token:\n{text}"));
        let access = field(block, "Access:");
        let usage = field(block, "Usage:");
        assert!(access.contains("sensitive"), "{label}: {access}");
        assert!(access.contains("always sensitive"), "{label}: {access}");
        assert!(!usage.contains("unwrap"), "{label}: usage {usage}");
        // Issue 13: no use beyond being wrapped (and the AES CMAC KCV).
        for word in ["encrypt", "decrypt", "verify", "derive"] {
            assert!(!usage.contains(word), "{label}: usage {usage} has {word}");
        }
        if name != "prod-s3" {
            assert!(!usage.contains("sign"), "{label}: usage {usage}");
        }
        if name != "prod-sign" {
            assert!(!usage.contains("wrap"), "{label}: usage {usage}");
        }
        if name == "prod-sign" {
            // pkcs11-tool cannot read private keys at all ("not (yet)
            // supported"), so for the RSA key the token's own CKA_SENSITIVE
            // and CKA_ALWAYS_SENSITIVE above are the evidence.
            continue;
        }
        let kind = "secrkey";
        let dump = wb.path(&format!("{name}.read"));
        let read = pkcs11_tool(
            &wb,
            &pin,
            &[
                "--read-object",
                "--type",
                kind,
                "--label",
                &label,
                "--output-file",
                dump.to_str().unwrap(),
            ],
        );
        let got = std::fs::read(&dump).unwrap_or_default();
        assert!(
            !read.status.success() || (got.is_empty() && read.stdout.is_empty()),
            "{label}: the token gave out its value ({} bytes)\n{}",
            got.len() + read.stdout.len(),
            String::from_utf8_lossy(&read.stderr)
        );
        assert!(
            String::from_utf8_lossy(&read.stderr).contains("CKR_ATTRIBUTE_SENSITIVE"),
            "{label}: {}",
            String::from_utf8_lossy(&read.stderr)
        );
    }
}
