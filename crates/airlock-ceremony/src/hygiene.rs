//! Process memory hygiene for every command that handles secrets (PINs,
//! passphrases, shares): core dumps off (`RLIMIT_CORE` 0), the process
//! non-dumpable (`PR_SET_DUMPABLE` 0, which also keeps other users'
//! debuggers and `/proc/<pid>/mem` out), and all memory locked in RAM
//! (`mlockall(MCL_CURRENT | MCL_FUTURE)`) so secret pages never reach swap.
//!
//! Core dumps and dumpability are required. Locking is attempted only when
//! it can hold: the OS refuses it without `CAP_IPC_LOCK` or a large enough
//! `RLIMIT_MEMLOCK`, and locking all future memory under a small limit
//! would make later allocations fail mid-ceremony, so it is only attempted
//! when the limit is unlimited or the process has CAP_IPC_LOCK. What
//! happened is returned ([`HygieneReport::memory_locked`] and, when not,
//! [`HygieneReport::memory_lock_reason`]), kept for the ceremony journal
//! ([`last_report`]), and shown to the operator. A ceremony decides with
//! [`require_locked_memory`]: without locked memory it stops unless the
//! operator passed the explicit (journaled) rehearsal override.

use std::sync::OnceLock;

use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::prctl;
use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};

/// What [`harden_process`] achieved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HygieneReport {
    /// `RLIMIT_CORE` is 0 (soft and hard).
    pub core_dumps_disabled: bool,
    /// `PR_GET_DUMPABLE` reads 0.
    pub non_dumpable: bool,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE)` succeeded.
    pub memory_locked: bool,
    /// When memory is not locked: why, and what the operator can do (the
    /// same text is also among [`Self::notes`]). `None` when locked.
    pub memory_lock_reason: Option<String>,
    /// Why something could not be done, and what the operator can do.
    pub notes: Vec<String>,
}

impl HygieneReport {
    /// True when the required measures (no core dumps, non-dumpable) hold.
    pub fn required_ok(&self) -> bool {
        self.core_dumps_disabled && self.non_dumpable
    }
}

static LAST: OnceLock<HygieneReport> = OnceLock::new();

/// Disables core dumps, makes the process non-dumpable and, where the OS
/// allows, locks its memory. Idempotent; call it first thing in every
/// command that will hold a secret.
pub fn harden_process() -> HygieneReport {
    let mut notes = Vec::new();

    let core_dumps_disabled = match setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        Ok(()) => true,
        Err(e) => {
            notes.push(format!(
                "could not set RLIMIT_CORE to 0 ({e}); run `ulimit -c 0` before Airlock"
            ));
            false
        }
    };

    let non_dumpable = match prctl::set_dumpable(false).and_then(|()| prctl::get_dumpable()) {
        Ok(dumpable) => !dumpable,
        Err(e) => {
            notes.push(format!("could not clear PR_SET_DUMPABLE ({e})"));
            false
        }
    };

    let lock = lock_memory();
    let memory_locked = lock.is_ok();
    let memory_lock_reason = lock.err();
    notes.extend(memory_lock_reason.clone());

    let report = HygieneReport {
        core_dumps_disabled,
        non_dumpable,
        memory_locked,
        memory_lock_reason,
        notes,
    };
    let _ = LAST.set(report.clone());
    report
}

/// Locks all memory, or says why not (the reason names what to do).
fn lock_memory() -> Result<(), String> {
    let limit = match getrlimit(Resource::RLIMIT_MEMLOCK) {
        Ok((soft, hard)) => {
            if soft != hard {
                // Raising the soft limit to the hard one is always allowed.
                let _ = setrlimit(Resource::RLIMIT_MEMLOCK, hard, hard);
            }
            hard
        }
        Err(e) => {
            return Err(format!(
                "could not read RLIMIT_MEMLOCK ({e}); memory not locked"
            ));
        }
    };
    if limit != RLIM_INFINITY && !has_cap_ipc_lock() {
        return Err(format!(
            "memory not locked: RLIMIT_MEMLOCK is {limit} bytes; give the workstation \
             account `memlock unlimited` (limits.conf) or CAP_IPC_LOCK so secrets cannot be swapped"
        ));
    }
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(|e| {
        format!(
            "memory not locked: mlockall refused ({e}); grant CAP_IPC_LOCK, or use \
             encrypted or no swap on the workstation"
        )
    })
}

/// The flag that lets a ceremony go on without locked memory (rehearsals
/// only; the runner journals its use).
pub const ALLOW_UNLOCKED_MEMORY_FLAG: &str = "--allow-unlocked-memory";

/// Whether a ceremony may go on with this hygiene: `Ok` when memory is
/// locked, or when it is not and `allow_unlocked` (the operator's
/// [`ALLOW_UNLOCKED_MEMORY_FLAG`]) says go on anyway — the caller journals
/// that override. Otherwise an error saying what is wrong, why it matters
/// and what to do.
pub fn require_locked_memory(report: &HygieneReport, allow_unlocked: bool) -> Result<(), String> {
    if report.memory_locked || allow_unlocked {
        return Ok(());
    }
    let why = report
        .memory_lock_reason
        .as_deref()
        .unwrap_or("memory not locked: mlockall was not done");
    Err(format!(
        "the ceremony's memory is not locked in RAM ({why}). Without it the PINs, share \
         passphrases and the rebuilt user PIN this process holds could be written to swap \
         and outlive the wipe. Raise RLIMIT_MEMLOCK for the workstation account to unlimited \
         (`memlock unlimited` in /etc/security/limits.conf, or `ulimit -l unlimited` as root) \
         or run Airlock with CAP_IPC_LOCK, then start again; for a rehearsal only, pass \
         {ALLOW_UNLOCKED_MEMORY_FLAG}, which is journaled"
    ))
}

/// Whether the process is dumpable right now (`PR_GET_DUMPABLE`); `None`
/// when the kernel does not say.
pub fn is_dumpable() -> Option<bool> {
    prctl::get_dumpable().ok()
}

/// CAP_IPC_LOCK (capability 14) in the effective set, from
/// `/proc/self/status`: with it the kernel ignores `RLIMIT_MEMLOCK`.
fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// The report of this process's [`harden_process`] call, if it was made.
pub fn last_report() -> Option<&'static HygieneReport> {
    LAST.get()
}

/// [`last_report`] as JSON for the journal (`null` when never hardened).
pub fn last_report_json() -> serde_json::Value {
    last_report()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_field(name: &str) -> String {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
            .trim()
            .to_string()
    }

    #[test]
    fn hardening_turns_off_core_dumps_and_dumpability_and_says_what_it_locked() {
        assert!(
            prctl::get_dumpable().unwrap(),
            "a test process starts dumpable"
        );
        let report = harden_process();
        assert!(report.required_ok(), "{report:?}");
        assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, 0));
        assert!(!prctl::get_dumpable().unwrap());
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let core = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap();
        assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
        // Locked memory shows in VmLck exactly when mlockall succeeded.
        let locked_kb: u64 = status_field("VmLck")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        if report.memory_locked {
            assert!(locked_kb > 0, "mlockall succeeded but VmLck is 0");
            assert!(report.notes.is_empty(), "{report:?}");
            assert_eq!(report.memory_lock_reason, None);
            assert_eq!(require_locked_memory(&report, false), Ok(()));
        } else {
            let reason = report.memory_lock_reason.as_deref().unwrap();
            assert!(report.notes.iter().any(|n| n == reason), "{report:?}");
            assert!(require_locked_memory(&report, false).is_err());
            assert!(
                report.notes.iter().any(|n| n.contains("memory not locked")),
                "{report:?}"
            );
        }
        // The report is kept for the journal, and a second call agrees.
        assert_eq!(last_report(), Some(&report));
        assert_eq!(last_report_json()["non_dumpable"], true);
        assert!(harden_process().non_dumpable);
    }

    fn report(memory_locked: bool, reason: Option<&str>) -> HygieneReport {
        HygieneReport {
            core_dumps_disabled: true,
            non_dumpable: true,
            memory_locked,
            memory_lock_reason: reason.map(str::to_string),
            notes: reason.map(str::to_string).into_iter().collect(),
        }
    }

    #[test]
    fn locked_memory_passes_with_or_without_the_override() {
        let locked = report(true, None);
        assert_eq!(require_locked_memory(&locked, false), Ok(()));
        assert_eq!(require_locked_memory(&locked, true), Ok(()));
    }

    #[test]
    fn unlocked_memory_stops_the_ceremony_and_says_what_why_and_what_to_do() {
        let why = "memory not locked: RLIMIT_MEMLOCK is 65536 bytes; give the workstation account";
        let err = require_locked_memory(&report(false, Some(why)), false).unwrap_err();
        for needle in [
            "not locked in RAM",
            "RLIMIT_MEMLOCK is 65536 bytes",
            "swap",
            "RLIMIT_MEMLOCK",
            "CAP_IPC_LOCK",
            "--allow-unlocked-memory",
            "rehearsal",
            "journaled",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
        // Without a recorded reason it still says what is wrong.
        let err = require_locked_memory(&report(false, None), false).unwrap_err();
        assert!(err.contains("mlockall was not done"), "{err}");
    }

    #[test]
    fn the_override_lets_an_unlocked_rehearsal_go_on() {
        assert_eq!(
            require_locked_memory(&report(false, Some("memory not locked: x")), true),
            Ok(())
        );
    }

    #[test]
    fn the_report_journals_the_lock_state_and_reason() {
        let json = serde_json::to_value(report(false, Some("memory not locked: x"))).unwrap();
        assert_eq!(json["memory_locked"], false);
        assert_eq!(json["memory_lock_reason"], "memory not locked: x");
        let json = serde_json::to_value(report(true, None)).unwrap();
        assert_eq!(json["memory_lock_reason"], serde_json::Value::Null);
    }
}
