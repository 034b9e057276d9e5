//! Fault-injection walk (issue 8): a 3-key ceremony through the real
//! `airlock` binary on a real Kryoptic token, with the engine's PKCS#11
//! chokepoint failing call N (`AIRLOCK_FAULT_FAIL_CALL=N`) for every N from
//! 1 to the number of PKCS#11 calls a full run makes.
//!
//! The walk counts as it goes: N rises from 1 until a run on a fresh request
//! completes although call N was to fail, so a full run makes N-1 calls and
//! each of them has been failed once (the engine's call gate counts every
//! PKCS#11 call; OpenSC's pkcs11-spy cannot count them, since cryptoki takes
//! the module's 3.0 interface past it). The walk also asserts that faults
//! landed in the login, generate-and-wrap, seal-and-export and wipe steps.
//!
//! For every N the walk checks: the run fails with an HSM exit code (30, 31
//! or 32) and a message naming the PKCS#11 function and the injected fault;
//! no partial output (the output folder absent, no hidden staging sibling),
//! unless the fault landed after the bundle was published, in which case the
//! folder is complete and `bundle verify` passes; where the ceremony journal
//! exists it verifies and ends with `ceremony_aborted` after a
//! `step_failed`, and its last `wipe_done` reports no session objects left.
//! One token and one request are reused while runs fail (a failed run leaves
//! the request unconsumed, and the rerun resumes it); when a run completes
//! (the resumed run needed fewer calls than N, or the fault landed in the
//! final wipe and the rerun finished it), the walk continues on a new
//! request with the same N, so every call position of a fresh run is failed.
//! The new request starts from the token and state directory as they were
//! before the walk's first run (both restored from a copy): a ceremony
//! reads the label of every token object once before generating (issue 17),
//! so its number of calls grows with the keys earlier requests left on the
//! token, and a walk on one growing token would chase a moving end.
//! The run that ends the walk is the rerun that succeeds; its bundle
//! verifies and its journal ends `ceremony_completed`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airlock_test_kit::*;

/// The Kryoptic token's database (`token.sql*`) and the state directory,
/// copied aside.
struct Snapshot {
    dir: PathBuf,
}

impl Snapshot {
    fn take(wb: &Workbench) -> Snapshot {
        let dir = wb.path("walk-start");
        std::fs::create_dir_all(&dir).unwrap();
        for live in Self::live(wb) {
            sh(Command::new("cp").arg("-a").arg(&live).arg(&dir));
        }
        Snapshot { dir }
    }

    /// Puts the token and the state directory back as they were (no
    /// `airlock` process runs between the walk's runs).
    fn restore(&self, wb: &Workbench) {
        for live in Self::live(wb) {
            if live.is_dir() {
                std::fs::remove_dir_all(&live).unwrap();
            } else {
                std::fs::remove_file(&live).unwrap();
            }
        }
        for e in std::fs::read_dir(&self.dir).unwrap() {
            let copy = e.unwrap().path();
            let to = if copy.file_name().unwrap() == wb.state.file_name().unwrap() {
                wb.state.parent().unwrap().to_path_buf()
            } else {
                wb.token.dir().to_path_buf()
            };
            sh(Command::new("cp").arg("-a").arg(&copy).arg(&to));
        }
    }

    /// The state directory and the token's database files, as they are now.
    fn live(wb: &Workbench) -> Vec<PathBuf> {
        let mut live = vec![wb.state.clone()];
        for e in std::fs::read_dir(wb.token.dir()).unwrap() {
            let path = e.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("token.sql")
            {
                live.push(path);
            }
        }
        live
    }
}

/// A new 3-key request bundle (a fresh request id each time).
fn three_key_request(wb: &Workbench, name: &str) -> PathBuf {
    let request = wb.path(&format!("usb/{name}"));
    wb.make_request(
        &request,
        &[
            "--count",
            "3",
            "--wrapping-key-spec",
            "RSA_2048",
            "--request-id",
            name,
        ],
    );
    request
}

/// The journal of the ceremony for `request_id`, if one was opened (its
/// first entry, `ceremony_started`, names the request).
fn journal_of(wb: &Workbench, request_id: &str) -> Option<PathBuf> {
    std::fs::read_dir(wb.state.join("ceremonies"))
        .ok()?
        .map(|e| e.unwrap().path().join("journal.jsonl"))
        .filter(|p| p.exists())
        .find(|p| {
            journal_entries(p)
                .first()
                .is_some_and(|e| e["data"]["request_id"] == request_id)
        })
}

/// Checks one run that had call `n` failed. Returns true when the fault
/// landed after the bundle was published (the folder exists and verifies).
fn check_failed_run(
    wb: &Workbench,
    n: u64,
    run: &Output,
    request_id: &str,
    entries_before: usize,
    out: &Path,
) -> bool {
    let err = String::from_utf8_lossy(&run.stderr).into_owned();
    let code = run.status.code();
    assert!(
        matches!(code, Some(30..=32)),
        "call {n}: exit {code:?} is not an HSM class (30/31/32)\n{err}"
    );
    assert!(
        err.contains("injected fault") && err.contains(&format!("#{n}")),
        "call {n}: the message does not name the fault\n{err}"
    );
    let function = err
        .split("C_")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count()
        })
        .unwrap_or(0);
    assert!(function > 0, "call {n}: no PKCS#11 function named\n{err}");

    let staging = airlock_core::staged_dir::staging_path_for(out).unwrap();
    assert!(
        !staging.exists(),
        "call {n}: staging sibling left: {staging:?}"
    );
    let published = out.exists();
    if published {
        wb.assert_bundle_verifies(out);
    }

    if let Some(journal) = journal_of(wb, request_id) {
        let summary = airlock_core::journal::verify_journal_file(&journal)
            .unwrap_or_else(|e| panic!("call {n}: journal does not verify: {e}"));
        assert!(summary.entries > 0);
        let ev = journal_entries(&journal);
        let names: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
        // This run's entries; none when the fault came before the run
        // reopened the journal (preflight opens the HSM first).
        let this_run = &names[entries_before.min(names.len())..];
        if !this_run.is_empty() {
            assert!(
                this_run.contains(&"step_failed"),
                "call {n}: no step_failed in {this_run:?}"
            );
            assert_eq!(
                this_run.last(),
                Some(&"ceremony_aborted"),
                "call {n}: {this_run:?}"
            );
        } else {
            assert_eq!(
                names.last(),
                Some(&"ceremony_aborted"),
                "call {n}: {names:?}"
            );
        }
        let start = entries_before.min(names.len());
        if let Some(w) = ev[start..].iter().rev().find(|e| e["event"] == "wipe_done") {
            assert_eq!(
                w["data"]["session_objects_remaining"], 0,
                "call {n}: session objects left: {w}"
            );
        }
    }
    published
}

#[test]
fn every_pkcs11_call_of_a_three_key_ceremony_fails_cleanly_and_a_rerun_succeeds() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let start = Snapshot::take(&wb);
    let mut request_no = 1;
    let mut request_id = "walk-1".to_string();
    let mut request = three_key_request(&wb, &request_id);
    let mut out = wb.path("usb/import-1");
    let mut fresh = true;
    let mut faulted = 0u64;
    let mut completed_requests = 0;
    let mut failed_steps = std::collections::BTreeSet::new();
    let mut n = 0u64;
    let total = loop {
        n += 1;
        assert!(n < 5000, "the walk does not end");
        let args = wb.ceremony_args(&request, &out, &["alice", "bob"]);
        let entries_before = journal_of(&wb, &request_id)
            .map(|j| journal_entries(&j).len())
            .unwrap_or(0);
        let run = wb
            .airlock()
            .args(&args)
            .env("AIRLOCK_FAULT_FAIL_CALL", n.to_string())
            .output()
            .unwrap();
        let finished = if run.status.success() {
            // This run needed fewer than n calls: the request is consumed
            // and its bundle complete.
            wb.assert_bundle_verifies(&out);
            if fresh {
                // A fresh request ran to the end: every call position of a
                // full run, 1..n-1, has been failed once.
                break n - 1;
            }
            // A resumed run is shorter than a fresh one: fail this same
            // call number again on a fresh request.
            n -= 1;
            true
        } else {
            faulted += 1;
            let published = check_failed_run(&wb, n, &run, &request_id, entries_before, &out);
            let last_failed_step = journal_of(&wb, &request_id).and_then(|journal| {
                journal_entries(&journal)
                    .iter()
                    .rev()
                    .find(|e| e["event"] == "step_failed")
                    .map(|e| e["data"]["step"].as_str().unwrap().to_string())
            });
            failed_steps.extend(last_failed_step);
            if published {
                // The engine's rule: a rerun finishes the wipe of a
                // published ceremony.
                let rerun = wb.airlock().args(&args).output().unwrap();
                assert_ok(&rerun, &format!("rerun after call {n} failed post-publish"));
                wb.assert_bundle_verifies(&out);
            }
            fresh = false;
            published
        };
        if finished {
            completed_requests += 1;
            start.restore(&wb);
            request_no += 1;
            request_id = format!("walk-{request_no}");
            request = three_key_request(&wb, &request_id);
            out = wb.path(&format!("usb/import-{request_no}"));
            fresh = true;
        }
    };
    eprintln!(
        "a full 3-key ceremony makes {total} PKCS#11 calls; every one was failed once: \
         {faulted} runs failed cleanly, {completed_requests} requests completed during \
         the walk; failed steps {failed_steps:?}"
    );
    assert_eq!(faulted, total);
    for step in ["login", "generate_and_wrap", "seal_and_export", "wipe"] {
        assert!(
            failed_steps.contains(step),
            "no fault landed in {step}: {failed_steps:?}"
        );
    }

    // The last fresh run consumed its request; its journal ends completed.
    let journal = journal_of(&wb, &request_id).unwrap();
    let names = journal_entries(&journal);
    assert_eq!(names.last().unwrap()["event"], "ceremony_completed");
}
