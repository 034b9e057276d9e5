//! Issue 13, as an insider would try it: one person with access to the
//! workstation edits what steers the HSM after the quorum login. Each test
//! is the attack through the `airlock` binary on a real Kryoptic token, and
//! checks that it is refused, with nothing wrapped and nothing exported.
//! The attacks are the ones issue 13 reports as having worked against the
//! code before these defences (module swap, forged resume, foreign
//! `existing` label, pre-imported signing key, one-person trust change);
//! each assertion fails if its defence is taken out.

use std::path::{Path, PathBuf};
use std::process::Command;

use airlock_core::journal::{Actor, JournalWriter};
use airlock_test_kit::*;
use serde_json::{Value, json};

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn journals(state: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(state.join("ceremonies")) {
        for e in rd.flatten() {
            out.push(e.path().join("journal.jsonl"));
        }
    }
    out
}

fn one_key_request(wb: &Workbench, rel: &str, extra: &[&str]) -> PathBuf {
    let request = wb.path(rel);
    let mut args = vec![
        "--key",
        "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048",
    ];
    args.extend_from_slice(extra);
    wb.make_request(&request, &args);
    request
}

/// Points the workbench's airlock.toml at another module file.
fn set_module(wb: &Workbench, module: &Path) {
    let text = std::fs::read_to_string(&wb.config).unwrap();
    let old = wb.token.module_path().display().to_string();
    let new = text.replace(&old, &module.display().to_string());
    std::fs::write(&wb.config, new).unwrap();
}

#[test]
fn a_swapped_module_never_gets_the_pin_and_a_repin_needs_the_quorum() {
    // Enrol on a copy of the module, as a workstation's vendor library.
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    let lib = wb.path("vendor/libpkcs11.so");
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::copy(wb.token.module_path(), &lib).unwrap();
    set_module(&wb, &lib);
    wb.enroll(&["alice", "bob"], 2);
    wb.trust_signer();
    let roster = read_json(&wb.state.join("roster.json"));
    assert_eq!(roster["format"], "airlock-roster/2");
    assert_eq!(roster["module"]["path"], lib.display().to_string());
    let enrolled_sha = roster["module"]["sha256"].as_str().unwrap().to_string();

    // The insider's pass-through library: the same code with a byte more
    // (it still loads and works), at the configured path.
    let mut bytes = std::fs::read(&lib).unwrap();
    bytes.push(0);
    std::fs::write(&lib, &bytes).unwrap();
    let request = one_key_request(&wb, "usb/request", &[]);
    let out = wb.path("usb/import");
    let run = wb.run_ceremony(&request, &out, &[]);
    let err = assert_exit(&run, 33, "a swapped module");
    assert!(
        err.contains("SHA-256") && err.contains(&enrolled_sha),
        "{err}"
    );
    assert!(err.contains("PIN was not rebuilt"), "{err}");
    assert!(!out.exists());
    // The same file at another path is refused too.
    std::fs::write(&lib, &bytes[..bytes.len() - 1]).unwrap();
    let moved = wb.path("elsewhere/libpkcs11.so");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::copy(&lib, &moved).unwrap();
    set_module(&wb, &moved);
    let text = std::fs::read_to_string(&wb.config).unwrap();
    std::fs::write(
        &wb.config,
        text.replace(&lib.display().to_string(), &moved.display().to_string()),
    )
    .unwrap();
    let run = wb.run_ceremony(&request, &out, &[]);
    let err = assert_exit(&run, 33, "the module at another path");
    assert!(err.contains("module path"), "{err}");

    // An intended driver change: M current custodians re-pin it, journaled.
    let mut args = wb.enroll_args(&["alice", "bob"], 2);
    args.retain(|a| !a.starts_with("--so-pin-file") && !a.contains("so-pin"));
    args.extend([
        "--replace".to_string(),
        "--repin-module".into(),
        "--current".into(),
        wb.custodian_arg("alice"),
        "--current".into(),
        wb.custodian_arg("bob"),
    ]);
    let repin = wb.airlock().args(&args).output().unwrap();
    assert_ok(&repin, "enroll --replace --repin-module");
    let roster = read_json(&wb.state.join("roster.json"));
    assert_eq!(roster["module"]["path"], moved.display().to_string());
    let workstation = std::fs::read_to_string(wb.state.join("enrollment.jsonl")).unwrap();
    assert!(
        workstation.contains("module_repin_requested"),
        "{workstation}"
    );
    let run = wb.run_ceremony(&request, &out, &[]);
    assert_ok(&run, "ceremony on the re-pinned module");
    // The module's hash is journaled at preflight.
    let journal = std::fs::read_to_string(&journals(&wb.state)[0]).unwrap();
    let sha = airlock_hsm::module_sha256(&moved).unwrap();
    assert!(journal.contains(&sha), "preflight journals the module hash");
}

#[test]
fn a_roster_from_before_pinning_is_told_to_re_enrol() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let p = wb.state.join("roster.json");
    let mut v = read_json(&p);
    v["format"] = "airlock-roster/1".into();
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let request = one_key_request(&wb, "usb/request", &[]);
    let run = wb.run_ceremony(&request, &wb.path("usb/import"), &[]);
    let err = assert_exit(&run, 41, "an unpinned roster");
    assert!(err.contains("re-enrol"), "{err}");
}

#[test]
fn a_forged_record_and_journal_cannot_make_a_ceremony_rewrap_an_earlier_key() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    // The production ceremony.
    let prod = one_key_request(&wb, "usb/prod", &[]);
    assert_ok(
        &wb.run_ceremony(&prod, &wb.path("usb/prod-import"), &[]),
        "prod",
    );
    let prod_journal = journals(&wb.state)[0].clone();

    // The insider's request: same request id and key name (so the same
    // label), a wrapping key they hold. A forged record and a journal with
    // a recomputed hash chain claim that an earlier run planned the label.
    let evil = one_key_request(&wb, "usb/evil", &[]);
    let sums = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(
            std::fs::read(evil.join("SHA256SUMS")).unwrap(),
        ))
    };
    let id = "11111111-2222-4333-8444-555555555555";
    let dir = wb.state.join("ceremonies").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("record.json"),
        serde_json::to_vec_pretty(&json!({
            "ceremony_id": id, "request_id": "test-request",
            "request_sha256sums_sha256": sums,
            "request_dir": evil, "out_dir": wb.path("usb/evil-import"),
            "started_at": "2026-01-01T00:00:00Z", "status": "running",
            "ended_at": null, "bundle_sha256sums_sha256": null,
        }))
        .unwrap(),
    )
    .unwrap();
    let mut j = JournalWriter::create(&dir.join("journal.jsonl")).unwrap();
    j.append(
        "ceremony_started",
        &Actor::System,
        json!({ "ceremony_id": id }),
    )
    .unwrap();
    j.append(
        "request_verified",
        &Actor::System,
        json!({ "sums_sha256": sums }),
    )
    .unwrap();
    // The claim itself is a well-formed event (anyone can write one).
    j.record(
        &airlock_core::journal_event::CeremonyEvent::KeyGenerationPlanned {
            labels: vec!["prod-s3/test-request".into()],
            token_objects_seen: 1,
            label_check: "every_object".into(),
        },
        &Actor::System,
    )
    .unwrap();
    drop(j);

    let out = wb.path("usb/evil-import");
    let run = wb.run_ceremony(&evil, &out, &[]);
    let err = assert_exit(&run, 50, "a forged resume");
    assert!(err.contains("never overwrites or reuses"), "{err}");
    assert!(!out.exists(), "nothing exported");
    let forged = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(forged.contains("resume_not_authenticated"), "{forged}");
    assert!(!forged.contains("key_wrapped"), "nothing was wrapped");

    // The real ceremony's HSM checkpoint copied beside the forgery does not
    // pass for it: it names another journal.
    std::fs::copy(
        airlock_core::state_seal::seal_path(&prod_journal),
        airlock_core::state_seal::seal_path(&dir.join("journal.jsonl")),
    )
    .unwrap();
    let run = wb.run_ceremony(&evil, &out, &[]);
    let err = assert_exit(&run, 54, "a copied checkpoint");
    assert!(err.contains("journal.jsonl"), "{err}");
    assert!(!out.exists());
}

#[test]
fn existing_material_needs_the_quorums_policy() {
    // Without the quorum's policy, `existing` is refused before login.
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    assert_ok(
        &wb.run_ceremony(
            &one_key_request(&wb, "usb/prod", &[]),
            &wb.path("usb/i1"),
            &[],
        ),
        "prod",
    );
    let reuse = wb.path("usb/reuse");
    wb.make_request(
        &reuse,
        &[
            "--request-id",
            "r2",
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:prod-s3/test-request",
        ],
    );
    let run = wb.run_ceremony(&reuse, &wb.path("usb/i2"), &[]);
    let err = assert_exit(&run, 34, "existing without the policy");
    assert!(err.contains("--allow-existing-material"), "{err}");
    // Refused before any ceremony record or login exists for it.
    assert_eq!(
        journals(&wb.state).len(),
        1,
        "only the production ceremony's journal"
    );
}

#[test]
fn existing_material_is_only_for_the_same_kms_key_and_never_twice() {
    // With the policy: a production key's label under another key's ARN
    // (the second key of this request gets another ARN) is refused.
    let wb = Workbench::ready_with(
        TokenKind::Kryoptic,
        &["--allow-existing-material"],
        airlock_bin!(),
    );
    assert_ok(
        &wb.run_ceremony(
            &one_key_request(&wb, "usb/prod", &[]),
            &wb.path("usb/i1"),
            &[],
        ),
        "prod",
    );
    let steal = wb.path("usb/steal");
    wb.make_request(
        &steal,
        &[
            "--request-id",
            "r3",
            "--key",
            "decoy:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048",
            "--key",
            "attack:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:prod-s3/test-request",
        ],
    );
    let out = wb.path("usb/i3");
    let run = wb.run_ceremony(&steal, &out, &["--confirm-existing", "attack=whatever"]);
    let err = assert_exit(&run, 34, "existing material under another ARN");
    assert!(
        err.contains("was generated for") && err.contains("not for"),
        "{err}"
    );
    assert!(!out.exists());

    // One request that generates a label and also re-wraps it.
    let both = wb.path("usb/both");
    wb.make_request(
        &both,
        &[
            "--request-id",
            "r4",
            "--key",
            "a:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048",
            "--key",
            "b:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:a/r4",
        ],
    );
    let err = assert_exit(
        &wb.run_ceremony(&both, &wb.path("usb/i4"), &[]),
        34,
        "make and re-wrap",
    );
    assert!(err.contains("this same request generates"), "{err}");
    // The same HSM object twice.
    let twice = wb.path("usb/twice");
    wb.make_request(
        &twice,
        &[
            "--request-id",
            "r5",
            "--key",
            "x:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:prod-s3/test-request",
            "--key",
            "y:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:prod-s3/test-request",
        ],
    );
    let err = assert_exit(
        &wb.run_ceremony(&twice, &wb.path("usb/i5"), &[]),
        34,
        "one object twice",
    );
    assert!(err.contains("never wrapped twice"), "{err}");
}

#[test]
fn a_signing_key_imported_before_enrolment_is_never_adopted() {
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    // The insider imports their own key under the signing key's label.
    let key = fixture_key("test-only-other-signer-rsa3072.key.pem");
    let der = wb.path("evil.der");
    sh(Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&der));
    let mut c = Command::new("pkcs11-tool");
    for (k, v) in wb.token.env_vars() {
        c.env(k, v);
    }
    let import = c
        .arg("--module")
        .arg(wb.token.module_path())
        .args(["--token-label", wb.token.label(), "--login", "--pin"])
        .arg(wb.token.user_pin().as_str())
        .args(["--write-object"])
        .arg(&der)
        .args([
            "--type",
            "privkey",
            "--label",
            "airlock-ceremony-signing",
            "--usage-sign",
        ])
        .output()
        .unwrap();
    assert_ok(&import, "pkcs11-tool --write-object");
    for extra in [&[][..], &["--adopt-signing-key"][..]] {
        let out = wb
            .airlock()
            .args(wb.enroll_args(&["alice", "bob"], 2))
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "{extra:?}: adopted an imported key\n{err}"
        );
        assert!(
            err.contains("not generated inside this token")
                || err.contains("CKA_LOCAL")
                || err.contains("Local"),
            "{extra:?}: {err}"
        );
        assert!(!wb.state.join("roster.json").exists());
        assert!(!wb.ceremony_key().exists());
    }
}

#[test]
fn trust_changes_need_the_quorum_and_a_hand_edited_store_is_refused() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let other = fixture_key("test-only-signer-rsa4096.pub.pem");
    // One person alone.
    let run = wb.run(&[
        "trust",
        "add-signer",
        other.to_str().unwrap(),
        "--name",
        "mine",
    ]);
    assert_exit(&run, 40, "trust add-signer without custodians");
    let run = wb.run(&["trust", "remove", "online-test"]);
    assert_exit(&run, 40, "trust remove without custodians");
    let workstation = std::fs::read_to_string(wb.state.join("enrollment.jsonl")).unwrap();
    assert!(
        workstation.contains("trust_store_changed"),
        "the quorum add is journaled"
    );
    // The workstation journal carries the HSM's checkpoint of that entry.
    let wj = wb.state.join("enrollment.jsonl");
    let ok = wb.run(&["journal", "verify", wj.to_str().unwrap()]);
    assert_ok(&ok, "journal verify of the workstation journal");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("HSM checkpoint"));
    let lines: Vec<&str> = workstation.lines().collect();
    let cut = lines
        .iter()
        .position(|l| l.contains("trust_store_changed"))
        .unwrap();
    std::fs::write(&wj, format!("{}\n", lines[..cut].join("\n"))).unwrap();
    assert_exit(
        &wb.run(&["journal", "verify", wj.to_str().unwrap()]),
        54,
        "cut workstation journal",
    );
    std::fs::write(&wj, &workstation).unwrap();

    // By hand: a signer added to the file itself.
    let store_path = wb.state.join("trust/request-signers.json");
    let mut store = airlock_core::trust::TrustStore::open(&wb.state).unwrap();
    let key =
        airlock_core::signature::SignerKey::from_pem(&std::fs::read_to_string(&other).unwrap())
            .unwrap();
    store
        .add(
            "mine".parse().unwrap(),
            key,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    store.save().unwrap();
    let request = one_key_request(&wb, "usb/request", &[]);
    let out = wb.path("usb/import");
    let run = wb.run_ceremony(&request, &out, &[]);
    let err = assert_exit(&run, 54, "a hand-edited trust store");
    assert!(err.contains(&store_path.display().to_string()), "{err}");
    assert!(!out.exists());
    let j = std::fs::read_to_string(&journals(&wb.state)[0]).unwrap();
    assert!(
        j.contains("quorum_login") && !j.contains("key_generation_planned"),
        "refused after login, before generation"
    );

    // The quorum seals the store as it is now (and lists it); then it runs.
    let seal = wb
        .airlock()
        .args([
            "trust",
            "seal",
            "--custodian",
            &wb.custodian_arg("alice"),
            "--custodian",
            &wb.custodian_arg("bob"),
        ])
        .output()
        .unwrap();
    assert_ok(&seal, "trust seal");
    assert!(String::from_utf8_lossy(&seal.stdout).contains("mine"));
    let out2 = wb.path("usb/import2");
    assert_ok(
        &wb.run_ceremony(&request, &out2, &[]),
        "ceremony after the quorum sealed it",
    );
}

#[test]
fn journal_verify_catches_a_truncated_or_rewritten_ceremony_journal() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = one_key_request(&wb, "usb/request", &[]);
    assert_ok(
        &wb.run_ceremony(&request, &wb.path("usb/import"), &[]),
        "ceremony",
    );
    let journal = journals(&wb.state)[0].clone();
    let ok = wb.run(&["journal", "verify", journal.to_str().unwrap()]);
    assert_ok(&ok, "journal verify");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("HSM checkpoint"));
    let text = std::fs::read_to_string(&journal).unwrap();

    // Cut the last three lines off: the chain is intact but short.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        &journal,
        format!("{}\n", lines[..lines.len() - 3].join("\n")),
    )
    .unwrap();
    let err = assert_exit(
        &wb.run(&["journal", "verify", journal.to_str().unwrap()]),
        54,
        "truncated",
    );
    assert!(err.contains("truncated"), "{err}");

    // Rewrite it with a recomputed chain.
    std::fs::remove_file(&journal).unwrap();
    let mut j = JournalWriter::create(&journal).unwrap();
    for _ in 0..lines.len() {
        j.append("preflight", &Actor::System, json!({})).unwrap();
    }
    drop(j);
    let err = assert_exit(
        &wb.run(&["journal", "verify", journal.to_str().unwrap()]),
        54,
        "rewritten",
    );
    assert!(err.contains("rewritten"), "{err}");

    // Deleting the checkpoint as well does not help.
    std::fs::remove_file(airlock_core::state_seal::seal_path(&journal)).unwrap();
    let mut j = JournalWriter::open(&journal).unwrap().0;
    j.append("quorum_login", &Actor::System, json!({})).unwrap();
    drop(j);
    assert_exit(
        &wb.run(&["journal", "verify", journal.to_str().unwrap()]),
        54,
        "checkpoint removed",
    );
}

#[test]
fn a_passphrase_typed_as_a_name_never_reaches_the_journal() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = one_key_request(&wb, "usb/request", &[]);
    let secret = "correct-horse-battery-staple-42";
    let mut args = wb.ceremony_args(&request, &wb.path("usb/import"), &["alice"]);
    args.push("--custodian".into());
    args.push(format!("{secret}=@{}", wb.passphrase("bob").display()));
    let run = wb.airlock().args(&args).output().unwrap();
    let err = assert_exit(&run, 40, "unknown custodian");
    assert!(!err.contains(secret), "{err}");
    for j in journals(&wb.state) {
        let text = std::fs::read_to_string(j).unwrap();
        assert!(!text.contains(secret), "journaled verbatim");
        assert!(text.contains("unknown (sha256"), "{text}");
    }
}

#[test]
fn with_wrap_with_trusted_the_security_officer_marks_the_wrapping_keys_on_softhsm() {
    // SoftHSM2 enforces CKA_WRAP_WITH_TRUSTED; it wraps with OAEP SHA-1 only.
    let wb = Workbench::ready_with(TokenKind::SoftHsm, &["--wrap-with-trusted"], airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--count",
            "2",
            "--algorithm",
            "RSAES_OAEP_SHA_1",
            "--wrapping-key-spec",
            "RSA_2048",
        ],
    );
    let out = wb.path("usb/import");
    // Without the SO (no terminal to ask on) nothing logs in.
    let run = wb.run_ceremony(&request, &out, &["--allow-sha1"]);
    assert!(!run.status.success());
    assert!(!out.exists());
    let so = wb.so_pin_file();
    let run = wb.run_ceremony(
        &request,
        &out,
        &["--allow-sha1", "--so-pin-file", so.to_str().unwrap()],
    );
    assert_ok(&run, "ceremony with wrap-with-trusted");
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("marked the request's AWS wrapping keys trusted")
    );
    let journal = journals(&wb.state)
        .into_iter()
        .map(|j| std::fs::read_to_string(j).unwrap())
        .find(|t| t.contains("ceremony_completed"))
        .unwrap();
    assert!(
        journal.contains("wrapping_keys_marked_trusted"),
        "{journal}"
    );
    // What the token wrapped is what openssl unwraps to the printed KCV.
    let manifest = read_json(&out.join("import.json"));
    let kcv = manifest["keys"][0]["kcv"].as_str().unwrap().to_string();
    let aes = sh(Command::new("openssl")
        .args(["pkeyutl", "-decrypt", "-inkey"])
        .arg(wb.wrapping_key("RSA_2048"))
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha1",
            "-in",
        ])
        .arg(out.join("keys/key-00001/EncryptedKeyMaterial.bin")));
    assert_eq!(aes.len(), 32);
    let zeros = wb.path("zero-block");
    std::fs::write(&zeros, [0u8; 16]).unwrap();
    let mac = sh(Command::new("openssl")
        .args(["mac", "-cipher", "AES-256-CBC", "-macopt"])
        .arg(format!("hexkey:{}", hex::encode(&aes)))
        .arg("-in")
        .arg(&zeros)
        .arg("CMAC"));
    let mac = String::from_utf8(mac).unwrap();
    assert_eq!(
        &mac.trim()[..6],
        kcv,
        "openssl's CMAC KCV of the unwrapped key"
    );
}
