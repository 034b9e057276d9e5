//! Memory hygiene on Kryoptic (issue 8): `airlock enroll`, `airlock quorum
//! test` and `airlock ceremony run` have core dumps off (and their memory
//! locked where the OS allows) before they read a secret; the ceremony
//! journals its own PR_GET_DUMPABLE, and a panic inside the engine (with a
//! full backtrace) carries no PIN, passphrase or SO PIN, nor does the
//! journal or the engine's `Debug` output after it.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_ceremony::{Ceremony, CeremonyOptions};
use airlock_core::config::AirlockConfig;
use airlock_core::quorum::{QuorumLogin, Roster};
use airlock_test_kit::*;
use serde_json::Value;
use zeroize::Zeroizing;

fn proc_field(pid: u32, file: &str, prefix: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /proc/{pid}/{file}"))
        .to_string()
}

fn prepared() -> (Workbench, std::path::PathBuf) {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    wb.make_request(
        &request,
        &["--count", "3", "--wrapping-key-spec", "RSA_2048"],
    );
    (wb, request)
}

/// `airlock ARGS` with its output captured.
fn spawn(wb: &Workbench, args: &[String]) -> std::process::Child {
    wb.airlock()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `pid` is blocked opening a FIFO passphrase file
/// (/proc/PID/syscall shows openat, 257 on x86_64, on two looks 200 ms
/// apart), then checks that core dumps are off (soft and hard limit 0).
/// Returns the locked memory (VmLck) in KiB.
fn assert_hardened_while_blocked(pid: u32) -> u64 {
    let started = Instant::now();
    let mut seen = 0;
    while seen < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the command never reached the passphrase"
        );
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall"))
            .unwrap_or_else(|e| panic!("the command exited early ({e})"));
        seen = if syscall.starts_with("257 ") {
            seen + 1
        } else {
            0
        };
        std::thread::sleep(Duration::from_millis(200));
    }
    let core = proc_field(pid, "limits", "Max core file size");
    assert_eq!(
        core.split_whitespace().nth(4),
        Some("0"),
        "soft limit: {core}"
    );
    assert_eq!(
        core.split_whitespace().nth(5),
        Some("0"),
        "hard limit: {core}"
    );
    let locked = proc_field(pid, "status", "VmLck:");
    locked.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Writes `text` into the FIFO the command is waiting on.
fn feed(fifo: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(fifo)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success());
}

#[test]
fn enrolment_and_quorum_rehearsal_are_hardened_before_they_read_a_secret() {
    let wb = Workbench::new(TokenKind::Kryoptic, airlock_bin!());
    let so = wb.so_pin_file();
    // Enrolment: carol's passphrase comes through a FIFO (read twice when
    // prompted, once from a file).
    let fifo = wb.path("secrets/carol.fifo");
    mkfifo(&fifo);
    let args: Vec<String> = [
        "enroll",
        "--threshold",
        "2",
        "--custodian",
        &format!("carol=@{}", fifo.display()),
        "--custodian",
        &wb.custodian_arg("dave"),
        "--so-pin-file",
        so.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let child = spawn(&wb, &args);
    assert_hardened_while_blocked(child.id());
    feed(&fifo, "carol has a long test passphrase\n");
    assert_ok(
        &child.wait_with_output().unwrap(),
        "enroll with a FIFO passphrase",
    );

    // The quorum rehearsal, the same way.
    let args: Vec<String> = [
        "quorum",
        "test",
        "--custodian",
        &wb.custodian_arg("dave"),
        "--custodian",
        &format!("carol=@{}", fifo.display()),
    ]
    .map(String::from)
    .to_vec();
    let child = spawn(&wb, &args);
    assert_hardened_while_blocked(child.id());
    feed(&fifo, "carol has a long test passphrase\n");
    assert_ok(
        &child.wait_with_output().unwrap(),
        "quorum test with a FIFO passphrase",
    );
}

#[test]
fn a_running_ceremony_has_core_dumps_off_memory_locked_and_reports_non_dumpable() {
    let (wb, request) = prepared();
    // alice's passphrase comes through a FIFO, so the ceremony stops in the
    // middle (after preflight and request verification, before the quorum)
    // until the test writes it; meanwhile the test looks at the process.
    let fifo = wb.path("secrets/alice.fifo");
    mkfifo(&fifo);
    let out = wb.path("usb/import");
    let mut args = wb.ceremony_args(&request, &out, &["bob"]);
    args.push("--custodian".into());
    args.push(format!("alice=@{}", fifo.display()));
    let child = spawn(&wb, &args);
    let locked_kb = assert_hardened_while_blocked(child.id());
    // Locking is best effort: VmLck must agree with what the process
    // journals about it, and a refusal must carry a note (checked below).

    feed(&fifo, "alice has a long test passphrase\n");
    let output = child.wait_with_output().unwrap();
    assert_ok(&output, "ceremony run with a FIFO passphrase");

    // The process's own report (prctl PR_GET_DUMPABLE after setting it),
    // journaled at preflight.
    let journal = std::fs::read_dir(wb.state.join("ceremonies"))
        .unwrap()
        .map(|e| e.unwrap().path().join("journal.jsonl"))
        .next()
        .unwrap();
    let first: Value = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "preflight")
        .expect("a preflight entry");
    let hygiene = &first["data"]["memory_hygiene"];
    assert_eq!(hygiene["non_dumpable"], true, "{hygiene}");
    assert_eq!(hygiene["core_dumps_disabled"], true, "{hygiene}");
    assert_eq!(hygiene["memory_locked"], locked_kb > 0, "{hygiene}");
    if locked_kb == 0 {
        assert!(
            !hygiene["notes"].as_array().unwrap().is_empty(),
            "{hygiene}"
        );
    }
}

/// Everything a panic hook would print: the message, location and a forced
/// backtrace (what `RUST_BACKTRACE=1` adds).
fn capture_panics() -> Arc<Mutex<String>> {
    let captured = Arc::new(Mutex::new(String::new()));
    let sink = captured.clone();
    std::panic::set_hook(Box::new(move |info| {
        let bt = std::backtrace::Backtrace::force_capture();
        let mut s = sink.lock().unwrap();
        s.push_str(&format!("{info}\n{bt}\n"));
    }));
    captured
}

fn rebuild_pin(wb: &Workbench) -> Zeroizing<String> {
    let roster = Roster::load(&wb.state.join("roster.json")).unwrap();
    let mut login = QuorumLogin::new(&roster);
    for n in ["alice", "bob"] {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        login.authenticate(n, &pass).unwrap();
    }
    login.rebuild_pin().unwrap()
}

fn files_below(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_below(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

#[test]
fn a_panic_inside_the_engine_carries_no_secret() {
    let (wb, request) = prepared();
    let out = wb.path("usb/import");
    let config = AirlockConfig::load(&wb.config).unwrap();
    let opts = CeremonyOptions {
        allow_sha1: false,
        allow_network: true,
        wipe_request: false,
        allow_unlocked_memory: false,
    };
    // As the CLI does first.
    let report = airlock_ceremony::hygiene::harden_process();
    assert!(report.required_ok(), "{report:?}");

    let captured = capture_panics();
    let mut c = Ceremony::preflight(config, opts).unwrap();
    c.verify_request(&request).unwrap();
    c.choose_output(&out).unwrap();
    for n in ["alice", "bob"] {
        let pass = Zeroizing::new(format!("{n} has a long test passphrase"));
        c.authenticate(n, &pass).unwrap();
        c.confirm_plan(n).unwrap();
    }
    c.confirm_request_digest(airlock_ceremony::DigestConfirmation::ReadAloud)
        .unwrap();
    c.login().unwrap();
    // The panic happens inside the engine's generate-and-wrap step, on a
    // logged-in session, right after the PIN was rebuilt and used.
    let mut during = None;
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        c.generate_and_wrap(&mut |event| {
            during = Some(airlock_ceremony::hygiene::is_dumpable().unwrap());
            panic!("forced panic inside the engine at {event:?}");
        })
    }));
    let _ = std::panic::take_hook();
    assert!(unwound.is_err(), "the forced panic did not happen");
    assert_eq!(during, Some(false), "dumpable during the ceremony");
    let panic_text = captured.lock().unwrap().clone();
    assert!(
        panic_text.contains("forced panic inside the engine"),
        "{panic_text}"
    );
    assert!(
        panic_text.contains("generate_and_wrap"),
        "no backtrace:\n{panic_text}"
    );

    let debug = format!("{c:?}");
    let abort = c.abort("the test forced a panic");
    assert!(abort.is_ok(), "{abort:?}");
    let abort_debug = format!("{abort:?}");
    drop(c);

    let pin = rebuild_pin(&wb);
    let secrets = [
        pin.as_str().to_string(),
        "alice has a long test passphrase".to_string(),
        "bob has a long test passphrase".to_string(),
        wb.token.so_pin().as_str().to_string(),
    ];
    let mut texts = vec![
        (
            "the panic message and backtrace".to_string(),
            panic_text.into_bytes(),
        ),
        ("the engine's Debug output".to_string(), debug.into_bytes()),
        ("the abort outcome".to_string(), abort_debug.into_bytes()),
    ];
    let mut files = Vec::new();
    files_below(&wb.state, &mut files);
    files_below(&out, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("journal.jsonl")),
        "no journal: {files:?}"
    );
    for f in files {
        texts.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    for (where_, bytes) in &texts {
        let text = String::from_utf8_lossy(bytes);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret appears in {where_}");
        }
    }
}
