//! What the witnesses are told before and after the HSM acts, through the
//! real `airlock` binary on a Kryoptic token: the plan is printed and the
//! request digest confirmed (journaled) before any login; a wrong digest,
//! a missing confirmation or an existing output folder is refused before
//! the login; Ctrl-C during generation stops after the key in hand, runs
//! the journaled abort and names the HSM keys left; `ceremony discard`
//! destroys them and closes the record. Plus the engine called out of
//! order, in process, and where it stages the key files (beside the
//! generation, wiped by an abort or a new output folder).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use airlock_ceremony::{
    Ceremony, CeremonyError, CeremonyOptions, DigestConfirmation, Need, StageKind,
};
use airlock_core::config::AirlockConfig;
use airlock_test_kit::*;
use serde_json::Value;
use zeroize::Zeroizing;

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

fn position(events: &[String], name: &str) -> Option<usize> {
    events.iter().position(|e| e == name)
}

/// The journals of every ceremony in the state directory.
fn journals(wb: &Workbench) -> Vec<PathBuf> {
    match std::fs::read_dir(wb.state.join("ceremonies")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path().join("journal.jsonl"))
            .filter(|p| p.exists())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// No journal of this workbench records a quorum login.
fn assert_never_logged_in(wb: &Workbench) {
    for j in journals(wb) {
        let ev = journal_events(&j);
        assert!(
            !ev.contains(&"quorum_login".to_string()),
            "logged in: {ev:?}"
        );
    }
}

/// `airlock ARGS` with standard input not a terminal.
fn headless(wb: &Workbench, args: &[String]) -> std::process::Output {
    wb.airlock()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn two_keys(wb: &Workbench) -> PathBuf {
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &[
            "--key",
            "dev-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
            "--key",
            "dev-sign:ECC_NIST_P256:RSA_AES_KEY_WRAP_SHA_256:RSA_4096",
        ],
    );
    request
}

/// `args` with the value after `--request-digest` replaced (or the flag
/// removed with `None`).
fn with_digest(mut args: Vec<String>, digest: Option<&str>) -> Vec<String> {
    let i = args
        .iter()
        .position(|a| a == "--request-digest")
        .expect("ceremony_args gives --request-digest");
    match digest {
        Some(d) => args[i + 1] = d.to_string(),
        None => {
            args.drain(i..i + 2);
        }
    }
    args
}

#[test]
fn the_plan_and_both_digest_confirmations_are_journaled_around_the_login() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let run = headless(&wb, &wb.ceremony_args(&request, &out, &["alice", "bob"]));
    assert_ok(&run, "ceremony run");
    let stdout = String::from_utf8_lossy(&run.stdout);
    // The plan, before anything else: every key with its ARN, account,
    // spec, algorithm, material and wrapping-key fingerprint; the digest in
    // grouped hex and PGP words.
    let req: Value =
        serde_json::from_slice(&std::fs::read(request.join("request.json")).unwrap()).unwrap();
    let digest = request_digest(&request).unwrap();
    let plan_at = stdout.find("PLAN for request").expect("plan printed");
    for k in req["keys"].as_array().unwrap() {
        let arn = k["key_arn"].as_str().unwrap();
        assert!(stdout[plan_at..].contains(arn), "{arn} not in\n{stdout}");
        assert!(stdout.contains(k["name"].as_str().unwrap()));
    }
    assert!(stdout.contains("ECC_NIST_P256") && stdout.contains("RSA_AES_KEY_WRAP_SHA_256"));
    assert!(stdout.contains("material generate"), "{stdout}");
    assert!(stdout.contains("AWS wrapping key SHA-256"), "{stdout}");
    assert!(stdout.contains("1 x ECC_NIST_P256"), "totals: {stdout}");
    assert!(
        stdout.contains(&airlock_core::signature::group_hex(&digest)),
        "{stdout}"
    );
    let words = airlock_ceremony::words::pgp_words_for_hex(&digest).unwrap();
    assert!(stdout.contains(&words), "{stdout}");

    let js = journals(&wb);
    assert_eq!(js.len(), 1);
    let events = journal_entries(&js[0]);
    let ev = names(&events);
    let login = position(&ev, "quorum_login").expect("logged in");
    let confirmed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "plan_confirmed")
        .collect();
    let who: Vec<&str> = confirmed
        .iter()
        .map(|e| e["data"]["custodian"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["alice", "bob"], "{ev:?}");
    assert!(position(&ev, "plan_confirmed").unwrap() < login, "{ev:?}");
    let digest_at = position(&ev, "request_digest_confirmed").expect("digest confirmed");
    assert!(digest_at < login, "{ev:?}");
    assert_eq!(events[digest_at]["data"]["sums_sha256"], digest.as_str());
    assert_eq!(events[digest_at]["data"]["method"], "given_in_full");
    // Headless: the bundle digest was not read aloud, and the journal says
    // so (never a read-aloud that did not happen), before the wipe.
    let settled = position(&ev, "bundle_digest_not_confirmed").expect("{ev:?}");
    assert!(position(&ev, "bundle_published").unwrap() < settled);
    assert!(settled < position(&ev, "wipe_done").unwrap(), "{ev:?}");
    assert!(!ev.contains(&"bundle_digest_confirmed".to_string()));
    assert_eq!(ev.last().unwrap(), "ceremony_completed");
}

#[test]
fn a_wrong_request_digest_is_refused_before_the_login_with_exit_55() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let right = request_digest(&request).unwrap();
    // One digit off, typed in groups and upper case as read from paper.
    let mut wrong = right.clone().into_bytes();
    wrong[63] = if wrong[63] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    let typed = airlock_core::signature::group_hex(&wrong).to_uppercase();
    let args = with_digest(
        wb.ceremony_args(&request, &out, &["alice", "bob"]),
        Some(&typed),
    );
    let run = headless(&wb, &args);
    let stderr = assert_exit(&run, 55, "wrong --request-digest");
    assert!(
        stderr.contains(&wrong) && stderr.contains(&right),
        "{stderr}"
    );
    assert_never_logged_in(&wb);
    let js = journals(&wb);
    assert_eq!(js.len(), 1, "the refusal is journaled");
    let ev = journal_events(&js[0]);
    assert!(
        ev.contains(&"request_digest_mismatch".to_string()),
        "{ev:?}"
    );
    assert!(
        !ev.contains(&"request_digest_confirmed".to_string()),
        "{ev:?}"
    );
    assert!(!out.exists());

    // A digest that is not even hex is refused the same way, and the
    // grouped, upper-case form of the right one is accepted.
    let args = with_digest(
        wb.ceremony_args(&request, &out, &["alice", "bob"]),
        Some("abc"),
    );
    let run = headless(&wb, &args);
    assert_exit(&run, 55, "short --request-digest");
    let good = airlock_core::signature::group_hex(&right).to_uppercase();
    let args = with_digest(
        wb.ceremony_args(&request, &out, &["alice", "bob"]),
        Some(&good),
    );
    let run = headless(&wb, &args);
    assert_ok(&run, "grouped upper-case digest");
}

#[test]
fn without_a_terminal_or_the_digest_nothing_logs_in() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let args = with_digest(wb.ceremony_args(&request, &out, &["alice", "bob"]), None);
    let run = headless(&wb, &args);
    let stderr = assert_exit(&run, 5, "no confirmation");
    assert!(stderr.contains("--request-digest"), "{stderr}");
    // The plan was still shown, so the operator can see what was refused.
    assert!(String::from_utf8_lossy(&run.stdout).contains("PLAN for request"));
    assert_never_logged_in(&wb);
    assert!(!out.exists());
}

#[test]
fn an_existing_output_folder_is_refused_before_the_login() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep-me"), "an earlier bundle").unwrap();
    let run = headless(&wb, &wb.ceremony_args(&request, &out, &["alice", "bob"]));
    let stderr = assert_exit(&run, 50, "existing output folder");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(stderr.contains(out.to_str().unwrap()), "{stderr}");
    assert_never_logged_in(&wb);
    assert_eq!(
        std::fs::read_to_string(out.join("keep-me")).unwrap(),
        "an earlier bundle"
    );
    // A read-only parent is refused before the login too.
    let ro = wb.path("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let mount = std::process::Command::new("mount")
        .args(["--bind", "-o", "ro"])
        .arg(&ro)
        .arg(&ro)
        .status();
    if mount.is_ok_and(|s| s.success()) {
        let run = headless(
            &wb,
            &wb.ceremony_args(&request, &ro.join("import"), &["alice", "bob"]),
        );
        let _ = std::process::Command::new("umount").arg(&ro).status();
        let stderr = assert_exit(&run, 50, "read-only output medium");
        assert!(stderr.contains("not writable"), "{stderr}");
        assert_never_logged_in(&wb);
    }
}

#[test]
fn ctrl_c_during_generation_stops_after_the_key_in_hand_and_discard_cleans_up() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    let total = 200;
    wb.make_request(&request, &["--count", &total.to_string()]);
    let out = wb.path("usb/import");
    let mut child = wb
        .airlock()
        .args(wb.ceremony_args(&request, &out, &["alice", "bob"]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stderr = String::new();
    let mut sent = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if !sent && line.starts_with("[3/") {
            // As a terminal's Ctrl-C does: SIGINT to the process.
            nix_kill_int(pid);
            sent = true;
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(sent, "generation never started:\n{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C)"), "{stderr}");
    assert!(!out.exists(), "nothing is exported after Ctrl-C");

    let js = journals(&wb);
    assert_eq!(js.len(), 1);
    let events = journal_entries(&js[0]);
    let ev = names(&events);
    let generated = ev.iter().filter(|e| *e == "key_generated").count();
    assert!(
        (3..total).contains(&generated),
        "{generated} keys generated"
    );
    let stop = &events[position(&ev, "generation_stopped").expect("{ev:?}")];
    assert_eq!(stop["data"]["after_key"], generated);
    assert_eq!(stop["data"]["of"], total);
    let aborted = &events[position(&ev, "ceremony_aborted").expect("{ev:?}")];
    let left: Vec<String> = aborted["data"]["hsm_labels_left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(left.len(), generated, "{aborted}");
    // The summary names them and says what to do.
    assert!(stderr.contains(&left[0]), "{stderr}");
    assert!(stderr.contains("airlock ceremony discard"), "{stderr}");
    let ceremony_id = js[0]
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    // Listed as unfinished, with the discard command.
    let status = wb.run(&["ceremony", "status"]);
    assert_ok(&status, "status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(&ceremony_id), "{text}");
    assert!(text.contains("ceremony discard"), "{text}");

    // Discard needs the quorum: one custodian is not enough.
    let config = wb.config.display().to_string();
    let one = wb.run(&[
        "--config",
        &config,
        "ceremony",
        "discard",
        &ceremony_id,
        "--custodian",
        &wb.custodian_arg("alice"),
        "--allow-network",
    ]);
    assert_exit(&one, 40, "discard with one custodian");

    let discard = wb.run(&[
        "--config",
        &config,
        "ceremony",
        "discard",
        &ceremony_id,
        "--custodian",
        &wb.custodian_arg("alice"),
        "--custodian",
        &wb.custodian_arg("bob"),
        "--allow-network",
        "--json",
    ]);
    assert_ok(&discard, "discard");
    let d: Value = serde_json::from_slice(&discard.stdout).unwrap();
    let destroyed: Vec<String> = d["destroyed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(destroyed, left, "{d}");
    assert_eq!(d["left_alone"].as_array().unwrap().len(), 0, "{d}");
    let ev = journal_events(&js[0]);
    let requested = position(&ev, "discard_requested").expect("{ev:?}");
    assert!(requested < position(&ev, "ceremony_discarded").unwrap());

    let status = wb.run(&["ceremony", "status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("No unfinished ceremonies"), "{text}");
    // A second discard of the same ceremony is refused.
    let again = wb.run(&[
        "--config",
        &config,
        "ceremony",
        "discard",
        &ceremony_id,
        "--custodian",
        &wb.custodian_arg("alice"),
        "--custodian",
        &wb.custodian_arg("bob"),
        "--allow-network",
    ]);
    assert_exit(&again, 50, "discard twice");

    // The same request now runs fresh: its labels are free again.
    let rerun = headless(&wb, &wb.ceremony_args(&request, &out, &["alice", "bob"]));
    assert_ok(&rerun, "rerun after discard");
    let err = String::from_utf8_lossy(&rerun.stderr);
    assert!(!err.contains("Resuming"), "{err}");
}

fn nix_kill_int(pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// The engine itself, after preflight on the workbench's token (network
/// and unlocked-memory overrides, as on a test machine).
fn engine(wb: &Workbench) -> Ceremony {
    let config = AirlockConfig::load(&wb.config).unwrap();
    Ceremony::preflight(
        config,
        CeremonyOptions {
            allow_network: true,
            allow_unlocked_memory: true,
            ..CeremonyOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn the_engine_refuses_its_steps_out_of_order() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let mut c = engine(&wb);
    assert_eq!(c.stage().kind(), StageKind::Preflighted);
    assert_eq!(c.need(), Need::Request);
    // Nothing to confirm, choose or log in to before the request is verified.
    assert!(matches!(
        c.choose_output(&out),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(c.login(), Err(CeremonyError::OutOfOrder { .. })));
    assert!(matches!(
        c.generate_and_wrap(&mut |_| {}),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(c.wipe(), Err(CeremonyError::OutOfOrder { .. })));
    assert!(matches!(
        c.confirm_plan("alice"),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(
        c.confirm_request_digest(DigestConfirmation::ReadAloud),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    c.verify_request(&request).unwrap();
    assert_eq!(c.stage().kind(), StageKind::Verified);
    assert_eq!(
        c.need(),
        Need::PlanConfirmation {
            missing: Vec::new()
        }
    );
    // One request per ceremony.
    assert!(matches!(
        c.verify_request(&request),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    for n in ["alice", "bob"] {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        c.authenticate(n, &pass).unwrap();
    }
    // Quorum present, but nobody confirmed the plan: no login.
    let e = c.login().unwrap_err();
    assert!(matches!(e, CeremonyError::PlanNotConfirmed { .. }), "{e}");
    assert!(matches!(
        c.confirm_plan("mallory"),
        Err(CeremonyError::Quorum(
            airlock_core::quorum::QuorumError::UnknownCustodian { .. }
        ))
    ));
    c.confirm_plan("alice").unwrap();
    match c.login().unwrap_err() {
        CeremonyError::PlanNotConfirmed { who } => assert_eq!(who, "bob"),
        e => panic!("{e}"),
    }
    assert_eq!(c.need(), Need::RequestDigest);
    c.confirm_plan("bob").unwrap();
    let e = c.login().unwrap_err();
    assert!(e.to_string().contains("request digest"), "{e}");
    let e = c
        .confirm_request_digest(DigestConfirmation::Given("00".repeat(32)))
        .unwrap_err();
    assert!(
        matches!(e, CeremonyError::RequestDigestMismatch { .. }),
        "{e}"
    );
    assert!(!c.request_digest_confirmed());
    c.confirm_request_digest(DigestConfirmation::Given(request_digest(&request).unwrap()))
        .unwrap();
    // No login before the output folder is chosen, and a folder in the way
    // is refused now, not after the whole generation.
    assert_eq!(c.need(), Need::OutputFolder);
    let e = c.login().unwrap_err();
    assert!(e.to_string().contains("output folder"), "{e}");
    let taken = wb.path("usb/taken");
    std::fs::create_dir_all(&taken).unwrap();
    assert!(matches!(
        c.choose_output(&taken),
        Err(CeremonyError::OutputFolder { .. })
    ));
    c.choose_output(&out).unwrap();
    assert_eq!(c.need(), Need::Login);
    // Sealing, wiping and the bundle digest before their time.
    assert!(matches!(
        c.seal_and_export(),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(
        c.confirm_bundle_digest(DigestConfirmation::ReadAloud),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(
        c.confirm_no_seal_serials(),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    c.login().unwrap();
    assert_eq!(c.stage().kind(), StageKind::LoggedIn);
    assert_eq!(c.need(), Need::Generate);
    // After the login the plan can no longer be confirmed, nor the login
    // or the request run again.
    assert!(matches!(
        c.confirm_plan("alice"),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(c.login(), Err(CeremonyError::OutOfOrder { .. })));
    assert!(matches!(
        c.authenticate(
            "alice",
            &Zeroizing::new("alice has a long test passphrase".into())
        ),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(
        c.seal_and_export(),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    c.generate_and_wrap(&mut |_| {}).unwrap();
    assert_eq!(c.stage().kind(), StageKind::Wrapped);
    assert_eq!(c.need(), Need::Seal);
    assert!(matches!(
        c.generate_and_wrap(&mut |_| {}),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    let sums = c.seal_and_export().unwrap().sums_sha256.clone();
    assert_eq!(c.stage().kind(), StageKind::Published);
    assert_eq!(
        c.need(),
        Need::BundleDigest {
            sums_sha256: sums.clone()
        }
    );
    // The output folder stays where the bundle is.
    assert!(matches!(
        c.choose_output(&wb.path("usb/elsewhere")),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    // "No bags" cannot be confirmed while serials are set; once they are
    // cleared it can, once.
    c.set_attestation(airlock_ceremony::AttestationOptions {
        seal_serials: vec!["BAG-1".into()],
        ..Default::default()
    });
    assert!(matches!(
        c.confirm_no_seal_serials(),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    c.set_attestation(airlock_ceremony::AttestationOptions::default());
    c.confirm_no_seal_serials().unwrap();
    c.confirm_no_seal_serials().unwrap();
    assert!(c.no_seal_serials_confirmed());
    // The wipe waits for the bundle digest's read-aloud.
    let e = c.wipe().unwrap_err();
    assert!(e.to_string().contains("bundle digest"), "{e}");
    assert!(matches!(
        c.confirm_bundle_digest(DigestConfirmation::Given("ab".repeat(32))),
        Err(CeremonyError::BundleDigestMismatch { .. })
    ));
    c.confirm_bundle_digest(DigestConfirmation::Given(sums.to_uppercase()))
        .unwrap();
    assert_eq!(c.need(), Need::Wipe);
    let w = c.wipe().unwrap();
    assert_eq!(w.session_objects_remaining, 0);
    assert_eq!(c.stage().kind(), StageKind::Completed);
    assert_eq!(c.need(), Need::Nothing);
    // After the end: no second wipe, and an abort changes nothing.
    assert!(matches!(c.wipe(), Err(CeremonyError::OutOfOrder { .. })));
    let again = c.abort("too late").unwrap();
    assert_eq!(again.session_objects_destroyed, w.session_objects_destroyed);
    assert_eq!(c.stage().kind(), StageKind::Completed);
    let ev = journal_events(c.journal_path().unwrap());
    assert!(
        ev.contains(&"bundle_digest_confirmed".to_string()),
        "{ev:?}"
    );
    assert_eq!(
        ev.iter()
            .filter(|e| *e == "no_seal_serials_confirmed")
            .count(),
        1,
        "journaled once: {ev:?}"
    );
    assert_eq!(ev.last().unwrap(), "ceremony_completed");
}

/// Runs `airlock ARGS` on a pseudo-terminal (`tests/lib/pty-drive.py`),
/// answering each prompt of `script` ([pattern, reply] pairs) as a person
/// at the keyboard; returns the exit code and everything the terminal
/// showed.
fn on_terminal(wb: &Workbench, args: &[String], script: &[(&str, &str)]) -> (Option<i32>, String) {
    let script_file = wb.path("pty-script.json");
    std::fs::write(&script_file, serde_json::to_vec(&script).unwrap()).unwrap();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(repo().join("tests/lib/pty-drive.py"))
        .arg(&script_file)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_airlock"))
        .args(args);
    for (k, v) in wb.token.env_vars() {
        cmd.env(k, v);
    }
    let out = cmd
        .env("AIRLOCK_CONFIG", &wb.config)
        .env("AIRLOCK_INSECURE_TEST_KDF", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `ceremony run` arguments with prompted custodians and no digest.
fn prompted_args(wb: &Workbench, request: &Path, out: &Path) -> Vec<String> {
    let mut args = with_digest(wb.ceremony_args(request, out, &[]), None);
    for n in ["alice", "bob"] {
        args.push("--custodian".into());
        args.push(n.into());
    }
    args
}

#[test]
fn on_a_terminal_custodians_type_yes_and_a_wrong_passphrase_is_asked_again() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let (code, screen) = on_terminal(
        &wb,
        &prompted_args(&wb, &request, &out),
        &[
            ("Custodian alice: the plan above", "yes\n"),
            ("Custodian bob: the plan above", "yes\n"),
            ("Passphrase for custodian alice", "not alice's passphrase\n"),
            ("Try again.", ""),
            (
                "Passphrase for custodian alice",
                "alice has a long test passphrase\n",
            ),
            (
                "Passphrase for custodian bob",
                "bob has a long test passphrase\n",
            ),
            ("Digests match? Type yes", "yes\n"),
        ],
    );
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("PLAN for request"), "{screen}");
    assert!(
        screen.contains("Wrong passphrase for alice; 2 more"),
        "{screen}"
    );
    // No secret ever reaches the terminal (no echo).
    assert!(!screen.contains("long test passphrase"), "{screen}");
    let js = journals(&wb);
    let events = journal_entries(&js[0]);
    let ev = names(&events);
    assert_eq!(
        ev.iter().filter(|e| *e == "custodian_auth_failed").count(),
        1,
        "{ev:?}"
    );
    assert_eq!(ev.iter().filter(|e| *e == "plan_confirmed").count(), 2);
    let d = &events[position(&ev, "request_digest_confirmed").unwrap()];
    assert_eq!(d["data"]["method"], "read_aloud");
    let b = &events[position(&ev, "bundle_digest_confirmed").expect("{ev:?}")];
    assert_eq!(b["data"]["method"], "read_aloud");
    assert!(position(&ev, "bundle_digest_confirmed") < position(&ev, "wipe_done"));
    assert_eq!(ev.last().unwrap(), "ceremony_completed");
}

#[test]
fn on_a_terminal_a_custodian_who_does_not_type_yes_stops_it_before_the_login() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let (code, screen) = on_terminal(
        &wb,
        &prompted_args(&wb, &request, &out),
        &[
            ("Custodian alice: the plan above", "yes\n"),
            ("Custodian bob: the plan above", "no, key 2 is wrong\n"),
        ],
    );
    assert_eq!(code, Some(5), "{screen}");
    assert!(screen.contains("bob did not confirm the plan"), "{screen}");
    assert_never_logged_in(&wb);
    let ev = journal_events(&journals(&wb)[0]);
    assert_eq!(ev.iter().filter(|e| *e == "plan_confirmed").count(), 1);
    assert!(!ev.contains(&"request_digest_confirmed".to_string()));
}

#[test]
fn ctrl_c_at_a_passphrase_prompt_is_journaled_as_an_abort_with_exit_130() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let (code, screen) = on_terminal(
        &wb,
        &prompted_args(&wb, &request, &out),
        &[
            ("Custodian alice: the plan above", "yes\n"),
            ("Custodian bob: the plan above", "yes\n"),
            (
                "Passphrase for custodian alice",
                "alice has a long test passphrase\n",
            ),
            ("Passphrase for custodian bob", "\u{3}"),
        ],
    );
    assert_eq!(code, Some(130), "{screen}");
    assert!(screen.contains("interrupted (Ctrl-C)"), "{screen}");
    assert_never_logged_in(&wb);
    let events = journal_entries(&journals(&wb)[0]);
    let ev = names(&events);
    let abort = &events[position(&ev, "abort_requested").expect("{ev:?}")];
    assert!(
        abort["data"]["reason"].as_str().unwrap().contains("Ctrl-C"),
        "{abort}"
    );
    assert!(ev.contains(&"ceremony_aborted".to_string()), "{ev:?}");
    // The record no longer says "running": status shows it aborted.
    let status = wb.run(&["ceremony", "status", "--json"]);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    let rec = &v["unfinished"][0];
    assert_ne!(rec["status"], "running", "{v}");
}

#[test]
fn an_abort_after_the_login_ends_the_ceremony_and_every_step_is_refused_after_it() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = two_keys(&wb);
    let out = wb.path("usb/import");
    let mut c = engine(&wb);
    c.verify_request(&request).unwrap();
    for n in ["alice", "bob"] {
        c.confirm_plan(n).unwrap();
    }
    c.confirm_request_digest(DigestConfirmation::ReadAloud)
        .unwrap();
    c.choose_output(&out).unwrap();
    for n in ["alice", "bob"] {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        c.authenticate(n, &pass).unwrap();
    }
    assert_eq!(c.need(), Need::Login);
    c.login().unwrap();
    let w = c.abort("the witnesses stopped it").unwrap();
    assert_eq!(w.session_objects_remaining, 0);
    assert_eq!(c.stage().kind(), StageKind::Aborted);
    assert_eq!(c.need(), Need::Nothing);
    assert!(c.export().is_none());
    assert!(matches!(
        c.generate_and_wrap(&mut |_| {}),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(
        c.seal_and_export(),
        Err(CeremonyError::OutOfOrder { .. })
    ));
    assert!(matches!(c.wipe(), Err(CeremonyError::OutOfOrder { .. })));
    assert!(!out.exists(), "an aborted ceremony published nothing");
    let events = journal_entries(c.journal_path().unwrap());
    let ev = names(&events);
    assert_eq!(ev.last().map(String::as_str), Some("ceremony_aborted"));
    let requested = events
        .iter()
        .find(|e| e["event"] == "abort_requested")
        .expect("abort_requested journaled");
    assert_eq!(requested["data"]["stage"], "logged_in");
    assert!(events.last().unwrap()["data"]["bundle_published"].is_null());
    // A second abort changes nothing.
    c.abort("again").unwrap();
    assert_eq!(journal_events(c.journal_path().unwrap()), ev);
}

/// The engine up to the end of Generate & wrap on the two-key request,
/// with the output folder `out`.
fn generated(wb: &Workbench, out: &Path) -> Ceremony {
    let request = two_keys(wb);
    let mut c = engine(wb);
    c.verify_request(&request).unwrap();
    for n in ["alice", "bob"] {
        c.confirm_plan(n).unwrap();
    }
    c.confirm_request_digest(DigestConfirmation::ReadAloud)
        .unwrap();
    c.choose_output(out).unwrap();
    for n in ["alice", "bob"] {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        c.authenticate(n, &pass).unwrap();
    }
    c.login().unwrap();
    c.generate_and_wrap(&mut |_| {}).unwrap();
    c
}

/// Each key folder under `staging/keys` with both of its files.
fn staged_key_folders(staging: &Path) -> Vec<String> {
    let Ok(dirs) = std::fs::read_dir(staging.join("keys")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dirs
        .map(|e| e.unwrap().path())
        .filter(|d| {
            d.join("EncryptedKeyMaterial.bin").is_file() && d.join("ImportToken.bin").is_file()
        })
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn key_files_are_staged_while_wrapping_and_a_new_folder_stages_them_again() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let out = wb.path("usb/import");
    let staging = airlock_core::staged_dir::staging_path_for(&out).unwrap();
    let mut c = generated(&wb, &out);
    // Written beside the generation, before Seal & export; nothing published.
    assert_eq!(staged_key_folders(&staging), ["dev-s3", "dev-sign"]);
    assert!(!out.exists(), "nothing is published before Seal & export");
    // A new output folder after the generation: the files staged for the
    // old one are wiped, and sealing stages them again for the new one.
    let elsewhere = wb.path("usb/elsewhere");
    c.choose_output(&elsewhere).unwrap();
    assert!(!staging.exists(), "the old folder's staging is wiped");
    let published = c.seal_and_export().unwrap().path.clone();
    assert_eq!(published, elsewhere);
    wb.assert_bundle_verifies(&elsewhere);
    assert!(!out.exists());
    let other = airlock_core::staged_dir::staging_path_for(&elsewhere).unwrap();
    assert!(!other.exists(), "published: no staging folder left");
}

#[test]
fn an_abort_after_the_generation_wipes_the_staged_key_files() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let out = wb.path("usb/import");
    let staging = airlock_core::staged_dir::staging_path_for(&out).unwrap();
    let mut c = generated(&wb, &out);
    assert_eq!(staged_key_folders(&staging), ["dev-s3", "dev-sign"]);
    c.abort("the witnesses stopped it").unwrap();
    assert_eq!(c.stage().kind(), StageKind::Aborted);
    assert!(!staging.exists(), "the abort wiped the staged key files");
    assert!(!out.exists());
}
