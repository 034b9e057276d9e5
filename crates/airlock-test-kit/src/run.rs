//! Running commands (the `airlock` binary with no configuration from the
//! environment, openssl and the like) and asserting on how they ended.

use std::ffi::OsStr;
use std::process::{Command, Output};

/// `airlock` at `bin` with `AIRLOCK_CONFIG` removed from its environment.
pub fn bare(bin: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(bin);
    c.env_remove("AIRLOCK_CONFIG");
    c
}

/// Runs [`bare`] `airlock ARGS` and returns its output.
pub fn run_bare(bin: &str, args: &[&str]) -> Output {
    bare(bin).args(args).output().expect("run airlock")
}

/// Panics with stdout/stderr unless the command succeeded.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts an exit code and returns stderr.
pub fn assert_exit(out: &Output, code: i32, what: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Runs a command (openssl, sha256sum) and returns stdout, panicking on failure.
pub fn sh(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert_ok(&out, &format!("{cmd:?}"));
    out.stdout
}

/// Output bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
