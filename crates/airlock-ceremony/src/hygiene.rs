//! Process memory hygiene for every command that handles secrets (PINs,
//! passphrases, shares): core dumps off (`RLIMIT_CORE` 0), the process
//! non-dumpable (`PR_SET_DUMPABLE` 0, which also keeps other users'
//! debuggers and `/proc/<pid>/mem` out), and all memory locked in RAM
//! (`mlockall(MCL_CURRENT | MCL_FUTURE)`) so secret pages never reach swap.
//!
//! Core dumps and dumpability are required; locking is best effort: the OS
//! refuses it without `CAP_IPC_LOCK` or a large enough `RLIMIT_MEMLOCK`, and
//! locking all future memory under a small limit would make later
//! allocations fail mid-ceremony, so it is only attempted when the limit is
//! unlimited or the process has CAP_IPC_LOCK. What happened is returned, kept for the
//! ceremony journal ([`last_report`]), and shown to the operator.

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

    let memory_locked = lock_memory(&mut notes);

    let report = HygieneReport {
        core_dumps_disabled,
        non_dumpable,
        memory_locked,
        notes,
    };
    let _ = LAST.set(report.clone());
    report
}

fn lock_memory(notes: &mut Vec<String>) -> bool {
    let limit = match getrlimit(Resource::RLIMIT_MEMLOCK) {
        Ok((soft, hard)) => {
            if soft != hard {
                // Raising the soft limit to the hard one is always allowed.
                let _ = setrlimit(Resource::RLIMIT_MEMLOCK, hard, hard);
            }
            hard
        }
        Err(e) => {
            notes.push(format!(
                "could not read RLIMIT_MEMLOCK ({e}); memory not locked"
            ));
            return false;
        }
    };
    if limit != RLIM_INFINITY && !has_cap_ipc_lock() {
        notes.push(format!(
            "memory not locked: RLIMIT_MEMLOCK is {limit} bytes; give the workstation \
             account `memlock unlimited` (limits.conf) or CAP_IPC_LOCK so secrets cannot be swapped"
        ));
        return false;
    }
    match mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
        Ok(()) => true,
        Err(e) => {
            notes.push(format!(
                "memory not locked: mlockall refused ({e}); grant CAP_IPC_LOCK, or use \
                 encrypted or no swap on the workstation"
            ));
            false
        }
    }
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
        } else {
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
}
