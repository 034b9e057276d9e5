//! One ceremony at a time per state directory and per token: an exclusive
//! `flock` on `STATE_DIR/ceremony.lock` and on a machine-wide file named
//! after the token (`/run/lock/airlock/token-HASH.lock`, HASH from the
//! module's SHA-256 and the token's serial and label), taken at preflight
//! and held until the ceremony object is dropped (or the process dies:
//! the kernel releases a `flock` with the last descriptor).
//!
//! Two things rest on it. A second process running the same request would
//! otherwise resume the first one's record and append to its journal; and
//! the ceremony's label inventory ([`airlock_hsm::TokenLabels`]), read
//! once before generation, stays true only while no other Airlock
//! ceremony adds objects to the token. The holder writes its pid and,
//! once known, its ceremony id into the file, so the second process can
//! say who is in the way. The lock is a safety interlock between Airlock
//! processes, not a security boundary: PKCS#11 has no token-wide lock, and
//! another program on the token is outside it (docs/threat-model.md).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use airlock_hsm::TokenIdentity;
use sha2::{Digest, Sha256};

use crate::error::CeremonyError;

/// The lock file in the state directory.
pub const STATE_LOCK_FILE: &str = airlock_core::state_layout::STATE_LOCK_FILE;
/// Where the per-token lock files live (tmpfs: gone at reboot, as the
/// processes that held them are).
pub const TOKEN_LOCK_DIR: &str = "/run/lock/airlock";

/// The two exclusive locks a running ceremony holds.
#[derive(Debug)]
pub struct CeremonyLock {
    state: HeldLock,
    token: HeldLock,
}

#[derive(Debug)]
struct HeldLock {
    file: File,
    path: PathBuf,
}

impl CeremonyLock {
    /// Takes the state directory's lock, then the token's; refuses with
    /// [`CeremonyError::CeremonyRunning`] when another process holds one.
    pub fn acquire(state_dir: &Path, token: &TokenIdentity) -> Result<Self, CeremonyError> {
        let state = HeldLock::take(&state_dir.join(STATE_LOCK_FILE), "state directory")?;
        let dir = Path::new(TOKEN_LOCK_DIR);
        ensure_token_lock_dir(dir)?;
        let token_path = dir.join(format!("token-{}.lock", token_key(token)));
        let token = HeldLock::take(&token_path, &format!("token {}", token.serial))?;
        let mut lock = CeremonyLock { state, token };
        lock.record(None)?;
        Ok(lock)
    }

    /// Writes the ceremony id beside the pid, once the request named it.
    pub fn set_ceremony(&mut self, ceremony_id: &str) -> Result<(), CeremonyError> {
        self.record(Some(ceremony_id))
    }

    fn record(&mut self, ceremony_id: Option<&str>) -> Result<(), CeremonyError> {
        let line = format!(
            "pid={} ceremony={}\n",
            std::process::id(),
            ceremony_id.unwrap_or("-")
        );
        for held in [&mut self.state, &mut self.token] {
            let f = &mut held.file;
            f.set_len(0)
                .and_then(|()| f.seek(SeekFrom::Start(0)))
                .and_then(|_| f.write_all(line.as_bytes()))
                .map_err(CeremonyError::io("writing the ceremony lock", &held.path))?;
        }
        Ok(())
    }
}

impl HeldLock {
    fn take(path: &Path, what: &str) -> Result<Self, CeremonyError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .map_err(CeremonyError::io("opening the ceremony lock", path))?;
        match file.try_lock() {
            Ok(()) => Ok(HeldLock {
                file,
                path: path.to_path_buf(),
            }),
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let (pid, ceremony) = parse_holder(&text);
                Err(CeremonyError::CeremonyRunning {
                    holder: match ceremony {
                        Some(id) => format!("ceremony {id}"),
                        None => "another ceremony (still starting)".to_string(),
                    },
                    pid: pid.unwrap_or_else(|| "unknown".to_string()),
                    what: what.to_string(),
                    lock: path.to_path_buf(),
                })
            }
            Err(TryLockError::Error(e)) => {
                Err(CeremonyError::io("locking the ceremony lock", path)(e))
            }
        }
    }
}

/// `pid=N ceremony=ID` as the holder wrote it.
fn parse_holder(text: &str) -> (Option<String>, Option<String>) {
    let mut pid = None;
    let mut ceremony = None;
    for field in text.split_whitespace() {
        match field.split_once('=') {
            Some(("pid", v)) if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() => {
                pid = Some(v.to_string());
            }
            Some(("ceremony", v))
                if v != "-" && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') =>
            {
                ceremony = Some(v.to_string());
            }
            _ => {}
        }
    }
    (pid, ceremony)
}

/// The token's lock name: module, serial and label, hashed (a serial is
/// free text and may hold any byte).
fn token_key(token: &TokenIdentity) -> String {
    let mut h = Sha256::new();
    for part in [&token.module_sha256, &token.serial, &token.label] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

/// `/run/lock/airlock`, sticky and world-writable like `/run/lock` itself,
/// so that custodians' accounts other than the first can lock there too.
fn ensure_token_lock_dir(dir: &Path) -> Result<(), CeremonyError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)))
        .map_err(CeremonyError::io("creating the token lock folder", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_line_parses_and_ignores_junk() {
        assert_eq!(
            parse_holder("pid=42 ceremony=0b1e-77aa\n"),
            (Some("42".into()), Some("0b1e-77aa".into()))
        );
        assert_eq!(parse_holder("pid=7 ceremony=-\n"), (Some("7".into()), None));
        // A lock file someone filled with text never reaches the message raw.
        assert_eq!(parse_holder("pid=$(rm) ceremony=<b>\n"), (None, None));
    }
}
