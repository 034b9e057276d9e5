//! One ceremony at a time, through the real `airlock` binary on Kryoptic:
//! a second `ceremony run` while one is generating, on the same state
//! directory (the same request: without the lock it resumed the first
//! one's record and appended to its journal) or through a copy of the
//! state directory on the same token (the token's label inventory would be
//! stale), is refused before any login with exit 56 naming the running
//! ceremony and its pid. Once the first ends, the lock is free again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use airlock_test_kit::*;

/// Starts a 200-key ceremony and returns once it is generating, with its
/// stderr reader (to drain after it is stopped).
#[allow(
    clippy::zombie_processes,
    reason = "the child is returned to the caller, which waits for it in `stop`"
)]
fn generating(wb: &Workbench, request: &Path) -> (Child, BufReader<std::process::ChildStderr>) {
    wb.make_request(request, &["--count", "200"]);
    let out = request.with_file_name("import-first");
    let mut child = wb
        .airlock()
        .args(wb.ceremony_args(request, &out, &["alice", "bob"]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("the first ceremony ended ({status}) before generating:\n{seen}");
        }
        seen.push_str(&line);
        if line.starts_with("[3/") {
            return (child, err);
        }
    }
}

/// Stops the first ceremony (Ctrl-C) and waits for its journaled abort.
fn stop(mut child: Child, err: BufReader<std::process::ChildStderr>) {
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut rest = String::new();
    for line in err.lines() {
        rest.push_str(&line.unwrap());
        rest.push('\n');
    }
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest}");
}

fn ceremony_ids(state: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(state.join("ceremonies"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn journal_lines(state: &Path, id: &str) -> usize {
    let dir = state.join("ceremonies").join(id);
    let journal = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap_or_else(|| panic!("no journal in {}", dir.display()));
    std::fs::read_to_string(journal).unwrap().lines().count()
}

#[test]
fn a_second_run_on_the_same_state_directory_is_refused_naming_the_first() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    let request = wb.path("usb/request");
    let (first, err) = generating(&wb, &request);
    let ids = ceremony_ids(&wb.state);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let before = journal_lines(&wb.state, &ids[0]);

    // The same request again: it would resume the first one's record.
    let second = wb.run_ceremony(&request, &wb.path("usb/import-second"), &[]);
    let msg = assert_exit(&second, 56, "second ceremony on the same state directory");
    assert!(
        msg.contains(&format!(
            "ceremony {} is running (pid {})",
            ids[0],
            first.id()
        )),
        "{msg}"
    );
    assert!(msg.contains("state directory"), "{msg}");
    assert!(msg.contains("nothing was logged in to"), "{msg}");
    // It touched neither the record nor the journal of the running one.
    assert_eq!(ceremony_ids(&wb.state), ids);
    assert!(journal_lines(&wb.state, &ids[0]) >= before);
    let journal = std::fs::read_to_string(
        std::fs::read_dir(wb.state.join("ceremonies").join(&ids[0]))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .unwrap(),
    )
    .unwrap();
    assert!(!journal.contains("ceremony_resumed"), "{journal}");
    assert!(!wb.path("usb/import-second").exists());

    stop(first, err);
    // Free again once the first has ended: the rerun resumes it (and
    // finishes it), the way an interrupted ceremony is meant to go on.
    let rerun = wb.run_ceremony(&request, &wb.path("usb/import-second"), &[]);
    assert_ok(&rerun, "rerun after the first ended");
}

#[test]
fn a_copy_of_the_state_directory_on_the_same_token_is_refused_by_the_token_lock() {
    let wb = Workbench::ready(TokenKind::Kryoptic, airlock_bin!());
    // A second workstation set-up: the same roster and trust store in
    // another folder, pointed at the same token.
    let copy = wb.path("state-copy");
    sh(std::process::Command::new("cp")
        .arg("-a")
        .arg(&wb.state)
        .arg(&copy));
    let config: PathBuf = wb.path("airlock-copy.toml");
    let text = std::fs::read_to_string(&wb.config).unwrap();
    let state = wb.state.display().to_string();
    assert!(text.contains(&state), "{text}");
    std::fs::write(&config, text.replace(&state, &copy.display().to_string())).unwrap();

    let request = wb.path("usb/request");
    let (first, err) = generating(&wb, &request);
    let other = wb.path("usb/other");
    wb.make_request(&other, &["--count", "2"]);
    let mut args = wb.ceremony_args(&other, &wb.path("usb/import-other"), &["alice", "bob"]);
    let at = args.iter().position(|a| a == "--config").expect("--config") + 1;
    args[at] = config.display().to_string();
    let second = wb.airlock().args(&args).output().unwrap();
    let msg = assert_exit(&second, 56, "second ceremony on the same token");
    assert!(msg.contains(&format!("(pid {})", first.id())), "{msg}");
    assert!(msg.contains("token "), "{msg}");
    assert!(
        ceremony_ids(&copy).is_empty(),
        "nothing started in the copy"
    );
    stop(first, err);
}
