//! The one chokepoint every PKCS#11 call of the engine goes through: it
//! counts calls and, when a fault plan says so, fails the Nth call with an
//! injected error instead of making it. Issue 8's fault-injection walk and
//! the CLI tests (`AIRLOCK_FAULT_FAIL_CALL=N`) use it. The cost on the
//! normal path is two relaxed atomic operations.
//!
//! The environment variable exists only in debug builds (the tests and the
//! demo): under `cfg(not(debug_assertions))` — every `--release` build,
//! which is what the offline kit ships — [`CallGate::from_env`] never reads
//! it and its name is not in the binary (`tests/release-hygiene/run.sh`
//! checks with `strings`). A plan set in code ([`FaultPlan`] through
//! `Hsm::set_fault_plan`) is unaffected.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ckr_name;

/// Environment variable read once when a module is opened, in debug builds
/// only: fail call N (counted from 1, from the moment the module is opened).
pub const FAULT_ENV: &str = "AIRLOCK_FAULT_FAIL_CALL";

/// What the chokepoint should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPlan {
    /// Make every call.
    None,
    /// Fail the Nth call (1-based) after the plan is set, once.
    FailCall(u64),
}

/// Why a call through the chokepoint failed.
#[derive(Debug)]
pub(crate) enum Cause {
    /// The token (or cryptoki) returned this CKR_ name.
    Token(String),
    /// The fault plan failed this call number.
    Injected(u64),
}

/// A failed PKCS#11 call, before the engine adds its context.
#[derive(Debug)]
pub(crate) struct P11Error {
    /// The PKCS#11 function, e.g. `C_WrapKey`.
    pub function: &'static str,
    /// Why it failed.
    pub cause: Cause,
}

impl std::fmt::Display for P11Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Cause::Token(ckr) => write!(f, "{} returned {ckr}", self.function),
            Cause::Injected(n) => write!(
                f,
                "{}: injected fault on PKCS#11 call #{n} by the fault plan",
                self.function
            ),
        }
    }
}

/// The plan a value of [`FAULT_ENV`] asks for: a positive number N fails
/// call N; anything else (unset, empty, 0, not a number) is no plan. Always
/// no plan in a release build (`cfg(debug_assertions)` off), where it is
/// compiled only for the unit tests.
#[cfg(any(debug_assertions, test))]
pub(crate) fn fault_plan_from_env_value(value: Option<&str>) -> FaultPlan {
    if !cfg!(debug_assertions) {
        return FaultPlan::None;
    }
    match value.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(n) if n > 0 => FaultPlan::FailCall(n),
        _ => FaultPlan::None,
    }
}

/// Counts calls and applies the fault plan.
#[derive(Debug, Default)]
pub(crate) struct CallGate {
    calls: AtomicU64,
    /// 0 = no fault planned.
    fail_at: AtomicU64,
}

impl CallGate {
    /// A gate with the plan from [`FAULT_ENV`] in a debug build; in a
    /// release build a gate with no plan (the variable is not read).
    pub fn from_env() -> Self {
        let gate = CallGate::default();
        #[cfg(debug_assertions)]
        gate.set_plan(fault_plan_from_env_value(
            std::env::var(FAULT_ENV).ok().as_deref(),
        ));
        gate
    }

    /// Sets the plan and restarts the count.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.calls.store(0, Ordering::Relaxed);
        let at = match plan {
            FaultPlan::None => 0,
            FaultPlan::FailCall(n) => n,
        };
        self.fail_at.store(at, Ordering::Relaxed);
    }

    /// Calls made since the module was opened or the plan last set.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Makes (or fails) one PKCS#11 call.
    #[inline]
    pub fn call<T>(
        &self,
        function: &'static str,
        f: impl FnOnce() -> cryptoki::error::Result<T>,
    ) -> Result<T, P11Error> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.fail_at.load(Ordering::Relaxed) {
            tracing::warn!(call = n, function, "fault plan: failing this PKCS#11 call");
            return Err(P11Error {
                function,
                cause: Cause::Injected(n),
            });
        }
        f().map_err(|e| P11Error {
            function,
            cause: Cause::Token(ckr_name(&e)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_exactly_the_nth_call_once() {
        let g = CallGate::default();
        g.set_plan(FaultPlan::FailCall(2));
        assert!(g.call("C_A", || Ok(1)).is_ok());
        let e = g.call("C_B", || Ok(2)).unwrap_err();
        assert!(matches!(e.cause, Cause::Injected(2)));
        assert_eq!(e.function, "C_B");
        assert!(g.call("C_C", || Ok(3)).is_ok());
        assert_eq!(g.calls(), 3);
    }

    #[test]
    fn the_variable_is_honoured_only_in_debug_builds() {
        let want = |n| {
            if cfg!(debug_assertions) {
                FaultPlan::FailCall(n)
            } else {
                FaultPlan::None
            }
        };
        assert_eq!(fault_plan_from_env_value(Some("3")), want(3));
        assert_eq!(fault_plan_from_env_value(Some(" 12\n")), want(12));
        for v in [
            None,
            Some(""),
            Some("0"),
            Some("-1"),
            Some("x"),
            Some("1.5"),
        ] {
            assert_eq!(fault_plan_from_env_value(v), FaultPlan::None, "{v:?}");
        }
    }

    #[test]
    fn no_plan_makes_every_call() {
        let g = CallGate::default();
        for _ in 0..5 {
            assert!(g.call("C_X", || Ok(())).is_ok());
        }
        assert_eq!(g.calls(), 5);
    }
}
