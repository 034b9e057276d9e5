//! The ceremony end to end through the `airlock` binary on a real Kryoptic
//! token (and SoftHSM2 for its refusals): every output unwrapped by openssl
//! with the test's own wrapping keys, checked with `sha256sum -c` and
//! `openssl dgst -verify`; resume after kill -9; disk full; token failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airlock_test_kit::*;
use serde_json::Value;

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn only_ceremony_journal(wb: &Workbench) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(wb.state.join("ceremonies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].join("journal.jsonl")
}

#[test]
fn nine_symmetric_plus_rsa_and_ecc_keys_unwrap_with_openssl() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    let mut keys: Vec<String> = Vec::new();
    for env in ["dev", "int", "prod"] {
        for svc in ["s3", "rds", "dynamodb"] {
            keys.push("--key".into());
            keys.push(format!(
                "{env}-{svc}:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096"
            ));
        }
    }
    keys.extend([
        "--key".into(),
        "signing-rsa:RSA_2048:RSA_AES_KEY_WRAP_SHA_256:RSA_4096".into(),
        "--key".into(),
        "signing-ecc:ECC_NIST_P256:RSA_AES_KEY_WRAP_SHA_256:RSA_4096".into(),
    ]);
    let key_args: Vec<&str> = keys.iter().map(String::as_str).collect();
    wb.make_request(&request, &key_args);

    let out = wb.path("usb/import");
    let mut args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
    args.extend(["--seal-serial".into(), "BAG-000117".into()]);
    let run = wb.airlock().args(&args).output().unwrap();
    assert_ok(&run, "ceremony run");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("PGP words"), "{stdout}");

    // The ceremony printed its attestation into the bundle (unlisted in
    // SHA256SUMS), with the bag serial, the digest and the wipe result.
    let pdf = out.join("attestation.pdf");
    let text = String::from_utf8(sh(Command::new("pdftotext").arg(&pdf).arg("-"))).unwrap();
    let sums_hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(out.join("SHA256SUMS")).unwrap(),
        ))
    };
    assert!(text.contains("BAG-000117"), "{text}");
    assert!(text.contains(&sums_hex[..4]), "{text}");
    assert!(stdout.contains("attestation.pdf"), "{stdout}");

    // The bundle as the online side checks it.
    wb.assert_bundle_verifies(&out);
    sh(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&out));
    airlock_test_kit::bundle::openssl_verify_sums(&out, &wb.ceremony_key());

    let manifest = read_json(&out.join("import.json"));
    assert_eq!(manifest["custodians"], serde_json::json!(["alice", "bob"]));
    assert_eq!(manifest["keys"].as_array().unwrap().len(), 11);
    let wrap_key = wb.wrapping_key("RSA_4096");
    let tmp = tempfile::tempdir().unwrap();
    for key in manifest["keys"].as_array().unwrap() {
        let name = key["name"].as_str().unwrap();
        let material = out.join("keys").join(name).join("EncryptedKeyMaterial.bin");
        // Import tokens are byte copies of the request's.
        assert_eq!(
            std::fs::read(out.join("keys").join(name).join("ImportToken.bin")).unwrap(),
            std::fs::read(request.join("keys").join(name).join("ImportToken.bin")).unwrap()
        );
        let spec = key["key_spec"].as_str().unwrap();
        let got = openssl_unwrap_fingerprint(&material, &wrap_key, 512, spec, tmp.path());
        if spec == "SYMMETRIC_DEFAULT" {
            assert_eq!(got, key["kcv"].as_str().unwrap(), "{name}: KCV");
            assert!(key["public_key_sha256"].is_null());
        } else {
            assert_eq!(
                got,
                key["public_key_sha256"].as_str().unwrap(),
                "{name} ({spec}): the PKCS#8 private key belongs to the token's public key"
            );
            assert!(key["kcv"].is_null());
        }
    }
    // Nothing left behind in the working area; the ceremony is recorded as complete.
    let journal = only_ceremony_journal(&wb);
    let events = journal_events(&journal);
    assert_eq!(events.last().unwrap(), "ceremony_completed");
    assert!(!journal.parent().unwrap().join("work").exists());
    let status = wb.run(&["ceremony", "status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("No unfinished ceremonies"));

    // The request cannot be used twice.
    let again = wb
        .airlock()
        .args(wb.ceremony_args(&request, &wb.path("usb/import2"), &["alice", "bob"]))
        .output()
        .unwrap();
    let err = assert_exit(&again, 50, "second ceremony on the same request");
    assert!(err.contains("already completed"), "{err}");
}

#[test]
fn kill_at_random_moments_leaves_a_verified_bundle_or_none_and_rerun_never_duplicates() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--count",
            "50",
            "--prefix",
            "k",
            "--wrapping-key-spec",
            "RSA_2048",
        ],
    );
    let out = wb.path("usb/import");
    let args = wb.ceremony_args(&request, &out, &["alice", "bob"]);

    // Kill at 20 points spread over the ceremony: after the K-th progress
    // event (JSON lines on stdout), plus a few random milliseconds, so kills
    // land inside steps too. About 107 events make up a 50-key run.
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut x: u64 = 0x5eed_1234_abcd_0042;
    for i in 0..20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = (x >> 33) % 110;
        let extra_ms = (x >> 13) % 4;
        let mut child = wb
            .airlock()
            .args(&args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let mut seen = 0;
        let mut reached = true;
        while seen < k {
            match lines.next() {
                Some(Ok(_)) => seen += 1,
                _ => {
                    reached = false;
                    break;
                }
            }
        }
        if reached {
            std::thread::sleep(Duration::from_millis(extra_ms));
            // kill -9: no destructor, no cleanup.
            let _ = child.kill();
        }
        let out_put = child.wait_with_output().unwrap();
        let code = out_put.status.code();
        outcomes.push((i, k, reached, code));
        if !reached {
            assert_eq!(
                code,
                Some(0),
                "run {i} ended by itself but failed:\n{}",
                String::from_utf8_lossy(&out_put.stderr)
            );
        }
        // Whatever happened: the output is absent, or complete and valid.
        if out.exists() {
            wb.assert_bundle_verifies(&out);
        }
        if !reached {
            break;
        }
    }
    eprintln!(
        "kills (run, after event k, killed, code): {outcomes:?} in {:?}",
        started.elapsed()
    );
    assert!(
        outcomes.iter().filter(|o| o.2).count() >= 10,
        "too few kills landed: {outcomes:?}"
    );

    // A final rerun completes (or, if a run already completed, says so).
    if outcomes.iter().all(|o| o.2) {
        let last = wb.airlock().args(&args).output().unwrap();
        assert_ok(&last, "rerun after the kills");
    }
    wb.assert_bundle_verifies(&out);
    let manifest = read_json(&out.join("import.json"));
    assert_eq!(manifest["keys"].as_array().unwrap().len(), 50);
    let journal = only_ceremony_journal(&wb);
    let events = journal_events(&journal);
    assert!(
        events.contains(&"ceremony_resumed".to_string()),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap(), "ceremony_completed");
    // No staging leftovers beside the output.
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Exactly one HSM object per label: log in with the quorum and look.
    let roster = airlock_core::quorum::Roster::load(&wb.state.join("roster.json")).unwrap();
    let mut login = airlock_core::quorum::QuorumLogin::new(&roster);
    for n in ["alice", "bob"] {
        let pass = zeroize::Zeroizing::new(format!("{n} has a long test passphrase"));
        login.authenticate(n, &pass).unwrap();
    }
    let pin = login.rebuild_pin().unwrap();
    let hsm = airlock_hsm::Hsm::open(wb.token.module_path(), &wb.token.selector()).unwrap();
    let mut session = hsm.login_user(&pin).unwrap();
    for i in 1..=50 {
        let label = format!("k-{i:05}/test-request");
        let found = session
            .find_key(&label, airlock_core::spec::KeySpec::SymmetricDefault)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(found.is_some(), "{label} missing");
    }
    session.close().unwrap();
}

#[test]
fn a_full_medium_leaves_no_output_and_no_leftovers() {
    // A 64 KiB tmpfs in a private mount namespace (needs root, as CI is).
    let probe = Command::new("unshare").args(["-m", "true"]).status();
    if !probe.map(|s| s.success()).unwrap_or(false) {
        panic!("this test needs `unshare -m` (root) to mount a small tmpfs");
    }
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--count",
            "40",
            "--wrapping-key-spec",
            "RSA_4096",
            "--token-size",
            "1024",
        ],
    );
    let media = wb.path("small-usb");
    std::fs::create_dir_all(&media).unwrap();
    let out = media.join("import");
    let args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
    let cmd = wb.airlock();
    let program = cmd.get_program().to_owned();
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs {m} && \"$0\" \"$@\"; rc=$?; ls -A {m} > {m}.after; exit $rc",
        m = media.display()
    );
    let run = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .arg(&program)
        .args(&args)
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .output()
        .unwrap();
    let err = assert_exit(&run, 4, "ceremony onto a full medium");
    assert!(err.contains("No space left on device"), "{err}");
    let after = std::fs::read_to_string(wb.path("small-usb.after")).unwrap();
    assert!(after.trim().is_empty(), "left on the full medium: {after}");
    let journal = only_ceremony_journal(&wb);
    let events = journal_events(&journal);
    assert!(events.contains(&"step_failed".to_string()), "{events:?}");
    assert_eq!(events.last().unwrap(), "ceremony_aborted");
}

#[test]
fn token_failure_mid_ceremony_is_journaled_and_a_rerun_completes() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &["--count", "6", "--wrapping-key-spec", "RSA_2048"],
    );
    let out = wb.path("usb/import");
    let args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
    // A module error (the engine's fault gate fails PKCS#11 call N as the
    // module would). Walk N upwards until the failure lands in the middle
    // of the keys; earlier failures (preflight, login, self-tests) leave the
    // request unconsumed.
    let mut landed = None;
    for n in (40..2000).step_by(25) {
        let run = wb
            .airlock()
            .args(&args)
            .env("AIRLOCK_FAULT_FAIL_CALL", n.to_string())
            .output()
            .unwrap();
        assert!(
            !run.status.success(),
            "call {n}: the ceremony finished before the fault"
        );
        assert!(!out.exists());
        let err = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(err.contains("injected fault"), "call {n}: {err}");
        let Ok(dirs) = std::fs::read_dir(wb.state.join("ceremonies")) else {
            continue;
        };
        let journal = dirs
            .map(|e| e.unwrap().path().join("journal.jsonl"))
            .next()
            .unwrap();
        let text = std::fs::read_to_string(&journal).unwrap();
        let last_failure = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .rfind(|v| v["event"] == "step_failed");
        if let Some(f) = last_failure.filter(|f| {
            f["data"]["step"] == "generate_and_wrap" && text.contains("\"key_wrapped\"")
        }) {
            assert_eq!(run.status.code(), Some(32), "{err}: {f}");
            assert_eq!(journal_events(&journal).last().unwrap(), "ceremony_aborted");
            landed = Some(n);
            break;
        }
    }
    assert!(landed.is_some(), "no fault landed between keys");

    // `ceremony status` names the unfinished ceremony, the keys it already
    // made in the HSM, and how to finish.
    let status = wb.run(&["ceremony", "status"]);
    assert_ok(&status, "ceremony status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("for request test-request"), "{text}");
    assert!(
        text.contains("HSM keys created for it") && text.contains("key-00001/test-request"),
        "{text}"
    );
    assert!(text.contains("rerun"), "{text}");
    let json = wb.run(&["ceremony", "status", "--json"]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["unfinished"].as_array().unwrap().len(), 1);

    let rerun = wb.airlock().args(&args).output().unwrap();
    assert_ok(&rerun, "rerun after the token failure");
    wb.assert_bundle_verifies(&out);
}

#[test]
fn a_network_interface_up_is_refused_without_the_override() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &["--count", "1", "--wrapping-key-spec", "RSA_2048"],
    );
    let out = wb.path("usb/import");
    let mut args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
    args.retain(|a| a != "--allow-network");

    let status = airlock_ceremony::preflight::air_gap_status().unwrap();
    if !status.air_gapped() {
        let run = wb.airlock().args(&args).output().unwrap();
        let err = assert_exit(&run, 51, "ceremony on a networked machine");
        assert!(
            err.contains("not air-gapped") && err.contains("--allow-network"),
            "{err}"
        );
        // The reason is said once, not wrapped in a second "interface(s)
        // ... are up".
        assert!(!err.contains("interface(s) interface(s)"), "{err}");
    }
    // A private network namespace hides the host's interfaces but does not
    // make the host air-gapped: refused too, naming the namespace (it ran
    // before the air-gap check compared namespaces with PID 1's).
    let cmd = wb.airlock();
    let run = Command::new("unshare")
        .arg("-n")
        .arg(cmd.get_program())
        .args(&args)
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .output()
        .unwrap();
    let err = assert_exit(&run, 51, "ceremony in a private network namespace");
    assert!(err.contains("namespace"), "{err}");
    assert!(!out.exists(), "nothing exported");
}

#[test]
fn softhsm_refuses_a_sha256_request_before_generating_anything() {
    let wb = Workbench::ready(TokenKind::SoftHsm, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &["--count", "2", "--wrapping-key-spec", "RSA_2048"],
    );
    let out = wb.path("usb/import");
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&request, &out, &["alice", "bob"]))
        .output()
        .unwrap();
    let err = assert_exit(&run, 31, "SHA-256 OAEP on SoftHSM");
    assert!(err.contains("RSAES_OAEP_SHA_256"), "{err}");
    let events = journal_events(&only_ceremony_journal(&wb));
    assert!(!events.iter().any(|e| e.starts_with("key_")), "{events:?}");
    assert!(!out.exists());
}

#[test]
fn a_curve_the_token_lacks_stops_the_ceremony_before_any_key() {
    // Kryoptic cannot generate secp256k1: the ceremony learns it from a
    // session key pair before generating, not half-way through the plan.
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
            "--key",
            "coin:ECC_SECG_P256K1:RSA_AES_KEY_WRAP_SHA_256:RSA_4096",
        ],
    );
    let out = wb.path("usb/import");
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&request, &out, &["alice", "bob"]))
        .output()
        .unwrap();
    let err = assert_exit(&run, 31, "secp256k1 on Kryoptic");
    assert!(
        err.contains("ECC_SECG_P256K1") && err.contains("secp256k1"),
        "{err}"
    );
    let events = journal_events(&only_ceremony_journal(&wb));
    assert!(!events.iter().any(|e| e.starts_with("key_")), "{events:?}");
    assert!(!out.exists());
}

#[test]
fn softhsm_runs_a_sha1_ceremony_when_allowed() {
    let wb = Workbench::ready(TokenKind::SoftHsm, airlock_bin!());
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
    let mut args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
    let refused = wb.airlock().args(&args).output().unwrap();
    assert_exit(&refused, 14, "SHA-1 without --allow-sha1");
    args.push("--allow-sha1".into());
    args.push("--wipe-request".into());
    let run = wb.airlock().args(&args).output().unwrap();
    assert_ok(&run, "SHA-1 ceremony on SoftHSM");
    wb.assert_bundle_verifies(&out);
    // --wipe-request: the request bundle is gone, and the wipe is reported.
    assert!(!request.exists(), "the request bundle was not wiped");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("Wiped the request bundle"), "{err}");
    let material = out.join("keys/key-00001/EncryptedKeyMaterial.bin");
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
        .arg(material));
    assert_eq!(aes.len(), 32);
}

#[test]
fn bundle_verify_refuses_a_flipped_byte_and_a_foreign_key() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &["--count", "2", "--wrapping-key-spec", "RSA_2048"],
    );
    let out = wb.path("usb/import");
    assert_ok(
        &wb.airlock()
            .args(wb.ceremony_args(&request, &out, &["alice", "bob"]))
            .output()
            .unwrap(),
        "ceremony",
    );

    let verify = |dir: &Path, key: &Path| {
        wb.run(&[
            "bundle",
            "verify",
            dir.to_str().unwrap(),
            "--ceremony-key",
            key.to_str().unwrap(),
        ])
    };
    // Another RSA-3072 key is not the ceremony key.
    let foreign = fixture_key("test-only-other-signer-rsa3072.pub.pem");
    assert_exit(&verify(&out, &foreign), 12, "foreign ceremony key");
    // One flipped byte of wrapped material.
    let copy = wb.path("tampered");
    sh(Command::new("cp").arg("-r").arg(&out).arg(&copy));
    let f = copy.join("keys/key-00001/EncryptedKeyMaterial.bin");
    let mut b = std::fs::read(&f).unwrap();
    b[10] ^= 1;
    std::fs::write(&f, b).unwrap();
    let err = assert_exit(&verify(&copy, &wb.ceremony_key()), 11, "flipped byte");
    assert!(err.contains("key-00001"), "{err}");
}

#[test]
fn existing_material_is_rewrapped_and_foreign_labels_are_never_reused() {
    let wb = Workbench::ready_with(
        TokenKind::Kryoptic,
        &["--allow-existing-material"],
        airlock_bin!(),
    );
    let first = wb.path("usb/first");
    wb.make_request(
        &first,
        &[
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048",
        ],
    );
    let out1 = wb.path("usb/import1");
    assert_ok(
        &wb.airlock()
            .args(wb.ceremony_args(&first, &out1, &["alice", "bob"]))
            .output()
            .unwrap(),
        "first ceremony",
    );
    let kcv1 = read_json(&out1.join("import.json"))["keys"][0]["kcv"].clone();

    // A different request that reuses the request id and key name: the
    // label prod-s3/test-request is in the HSM but this request did not
    // create it, so it is refused, not reused.
    let clash = wb.path("usb/clash");
    wb.make_request(
        &clash,
        &[
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048",
        ],
    );
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&clash, &wb.path("usb/import-clash"), &["alice", "bob"]))
        .output()
        .unwrap();
    let err = assert_exit(&run, 50, "a label taken by an earlier ceremony");
    assert!(
        err.contains("prod-s3/test-request") && err.contains("never overwrites"),
        "{err}"
    );

    // Re-import of the existing material (e.g. for a replica): the same key
    // is wrapped again, so its KCV is the same.
    let again = wb.path("usb/again");
    wb.make_request(
        &again,
        &[
            "--request-id",
            "reimport-1",
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:prod-s3/test-request",
        ],
    );
    let out2 = wb.path("usb/import2");
    // Without its own confirmation nothing is wrapped.
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&again, &out2, &["alice", "bob"]))
        .output()
        .unwrap();
    let err = assert_exit(&run, 5, "existing material without confirmation");
    assert!(err.contains("--confirm-existing prod-s3="), "{err}");
    assert!(!out2.exists());
    let kcv = kcv1.as_str().unwrap().to_string();
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&again, &out2, &["alice", "bob"]))
        .args(["--confirm-existing", "prod-s3=000000"])
        .output()
        .unwrap();
    assert_exit(&run, 5, "a wrong confirmation code");
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&again, &out2, &["alice", "bob"]))
        .args(["--confirm-existing", &format!("prod-s3={kcv}")])
        .output()
        .unwrap();
    assert_ok(&run, "re-import of existing material");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("EXISTING HSM MATERIAL") && stderr.contains(&kcv),
        "{stderr}"
    );
    let manifest = read_json(&out2.join("import.json"));
    assert_eq!(manifest["keys"][0]["kcv"], kcv1);
    assert_eq!(manifest["keys"][0]["import_type"], "EXISTING_KEY_MATERIAL");
    assert_eq!(manifest["keys"][0]["hsm_label"], "prod-s3/test-request");
    assert!(String::from_utf8_lossy(&run.stderr).contains("existing"));

    // An existing label that is not in the HSM is refused by name.
    let missing = wb.path("usb/missing");
    wb.make_request(
        &missing,
        &[
            "--request-id",
            "reimport-2",
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:no-such-key",
        ],
    );
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&missing, &wb.path("usb/import3"), &["alice", "bob"]))
        .output()
        .unwrap();
    let err = assert_exit(&run, 50, "existing material that is not there");
    assert!(err.contains("no-such-key"), "{err}");
}

/// Unwraps `material` (RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256 under
/// the private `wrap_key` of `modulus_bytes`) with openssl: the AES key's
/// CMAC KCV, or the SHA-256 of the private key's SPKI.
fn openssl_unwrap_fingerprint(
    material: &Path,
    wrap_key: &Path,
    modulus_bytes: usize,
    key_spec: &str,
    tmp: &Path,
) -> String {
    use airlock_core::spec::WrappingAlgorithm::{RsaAesKeyWrapSha256, RsaesOaepSha256};
    use airlock_test_kit::wrapping::{openssl_pkcs8_public, openssl_unwrap_with};
    use sha2::Digest;
    let wrapped = std::fs::read(material).unwrap();
    if key_spec == "SYMMETRIC_DEFAULT" {
        let aes = openssl_unwrap_with(tmp, wrap_key, modulus_bytes, RsaesOaepSha256, &wrapped);
        assert_eq!(aes.len(), 32, "{}", material.display());
        let zero = tmp.join("zero");
        std::fs::write(&zero, [0u8; 16]).unwrap();
        let mac = sh(Command::new("openssl")
            .args(["mac", "-cipher", "AES-256-CBC", "-macopt"])
            .arg(format!("hexkey:{}", hex::encode(&aes)))
            .arg("-in")
            .arg(&zero)
            .arg("CMAC"));
        return String::from_utf8(mac).unwrap().trim().to_uppercase()[..6].to_string();
    }
    let p8 = openssl_unwrap_with(tmp, wrap_key, modulus_bytes, RsaAesKeyWrapSha256, &wrapped);
    let spki = openssl_pkcs8_public(tmp, &p8);
    hex::encode(sha2::Sha256::digest(&spki))
}

#[test]
fn a_multi_region_key_is_one_hsm_key_wrapped_for_its_primary_and_each_replica() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
            "--replica",
            "prod-s3:us-east-1:RSAES_OAEP_SHA_256:RSA_2048",
            "--replica",
            "prod-s3:ap-southeast-2:RSAES_OAEP_SHA_256:RSA_3072",
            "--key",
            "signing-ecc:ECC_NIST_P256:RSA_AES_KEY_WRAP_SHA_256:RSA_4096",
            "--replica",
            "signing-ecc:us-east-1:RSA_AES_KEY_WRAP_SHA_256:RSA_2048",
            "--key",
            "plain:HMAC_256:RSAES_OAEP_SHA_256:RSA_4096",
        ],
    );
    let out = wb.path("usb/import");
    let run = wb
        .airlock()
        .args(wb.ceremony_args(&request, &out, &["alice", "bob"]))
        .output()
        .unwrap();
    assert_ok(&run, "ceremony run with replicas");
    wb.assert_bundle_verifies(&out);
    sh(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&out));

    // import.json: three keys, the replicas under their key, EXISTING.
    let manifest = read_json(&out.join("import.json"));
    let keys = manifest["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let regions = |k: &Value| -> Vec<String> {
        k["replicas"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        assert_eq!(r["import_type"], "EXISTING_KEY_MATERIAL");
                        r["region"].as_str().unwrap().to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(regions(&keys[0]), ["us-east-1", "ap-southeast-2"]);
    assert_eq!(regions(&keys[1]), ["us-east-1"]);
    assert!(keys[2].get("replicas").is_none(), "{}", keys[2]);
    assert!(
        keys[0]["replicas"][0]["key_arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:111122223333:key/mrk-")
    );

    // Every wrapping opens, with that Region's own wrapping key, to the
    // same material: one KCV (AES) or one public key (ECC) per key.
    let tmp = tempfile::tempdir().unwrap();
    for (k, wrappings) in [
        (
            &keys[0],
            vec![
                ("".to_string(), "RSA_4096", 512),
                ("replicas/us-east-1/".to_string(), "RSA_2048-us-east-1", 256),
                (
                    "replicas/ap-southeast-2/".to_string(),
                    "RSA_3072-ap-southeast-2",
                    384,
                ),
            ],
        ),
        (
            &keys[1],
            vec![
                ("".to_string(), "RSA_4096", 512),
                ("replicas/us-east-1/".to_string(), "RSA_2048-us-east-1", 256),
            ],
        ),
    ] {
        let name = k["name"].as_str().unwrap();
        let spec = k["key_spec"].as_str().unwrap();
        let expected = k["kcv"]
            .as_str()
            .or(k["public_key_sha256"].as_str())
            .unwrap()
            .to_string();
        let mut digests = std::collections::BTreeSet::new();
        for (sub, wkey, bytes) in wrappings {
            let dir = out.join("keys").join(name).join(&sub);
            let material = dir.join("EncryptedKeyMaterial.bin");
            digests.insert(std::fs::read(&material).unwrap());
            assert_eq!(
                std::fs::read(dir.join("ImportToken.bin")).unwrap(),
                std::fs::read(
                    request
                        .join("keys")
                        .join(name)
                        .join(&sub)
                        .join("ImportToken.bin")
                )
                .unwrap(),
                "{name}/{sub}: the import token is the request's"
            );
            let got = openssl_unwrap_fingerprint(
                &material,
                &wb.wrapping_key(wkey),
                bytes,
                spec,
                tmp.path(),
            );
            assert_eq!(got, expected, "{name}/{sub}: the same material");
        }
        assert_eq!(digests.len(), k["replicas"].as_array().unwrap().len() + 1);
    }

    // The journal: one key_generated per key, one key_wrapped per wrapping
    // (the replicas' naming their Region and ARN).
    let journal = only_ceremony_journal(&wb);
    let entries: Vec<Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |event: &str, name: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["event"] == event && e["data"]["name"] == name)
            .collect()
    };
    assert_eq!(of("key_generated", "prod-s3").len(), 1);
    let wraps = of("key_wrapped", "prod-s3");
    assert_eq!(wraps.len(), 3);
    assert!(wraps[0]["data"].get("replica_region").is_none());
    assert_eq!(wraps[1]["data"]["replica_region"], "us-east-1");
    assert_eq!(wraps[2]["data"]["replica_region"], "ap-southeast-2");
    assert!(
        wraps
            .iter()
            .all(|w| w["data"]["label"] == wraps[0]["data"]["label"])
    );
    assert_eq!(of("key_wrapped", "plain").len(), 1);

    // The paper: three keys with six wrappings, a row per replica.
    let text = String::from_utf8(sh(Command::new("pdftotext")
        .args(["-layout"])
        .arg(out.join("attestation.pdf"))
        .arg("-")))
    .unwrap();
    assert!(text.contains("Keys (3, 6 wrappings)"), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("replica (same key)"))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].trim_start().starts_with("+ us-east-1"), "{text}");
    assert!(
        rows[1].trim_start().starts_with("+ ap-southeast-2"),
        "{text}"
    );
}
