//! `HsmError`: every way the engine refuses or fails, with the context an
//! operator needs (which token, key label, mechanism, and the `CKR_` name the
//! token returned). PINs never appear here: errors carry labels and return
//! codes only.

use std::path::PathBuf;

use airlock_core::exit::{ExitClass, ExitCode};
use airlock_core::spec::{KeySpec, WrappingAlgorithm};

use crate::fault::{Cause, P11Error};
use crate::wrap_path::WrapPath;

/// Why the HSM engine refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// The module path does not exist.
    #[error(
        "PKCS#11 module {path} does not exist; install the HSM vendor's PKCS#11 library or fix [hsm] module in airlock.toml"
    )]
    ModuleNotFound {
        /// The configured path.
        path: PathBuf,
    },
    /// The file exists but is not a loadable PKCS#11 library.
    #[error(
        "{path} is not a PKCS#11 library ({detail}); point [hsm] module at the vendor's PKCS#11 shared library"
    )]
    NotPkcs11 {
        /// The configured path.
        path: PathBuf,
        /// What failed (dlopen message or missing symbol).
        detail: String,
    },
    /// C_Initialize or slot enumeration failed.
    #[error(
        "PKCS#11 module {path}: {function} returned {ckr}; check the module's own configuration and logs"
    )]
    ModuleInit {
        /// The module.
        path: PathBuf,
        /// The PKCS#11 function.
        function: &'static str,
        /// The CKR_ name.
        ckr: String,
    },
    /// No token matches the selector.
    #[error(
        "no token matches {selector} in {path}; tokens present: {present}; fix [hsm] token in airlock.toml or insert the token"
    )]
    NoToken {
        /// The selector as written.
        selector: String,
        /// The module.
        path: PathBuf,
        /// A description of the tokens present.
        present: String,
    },
    /// Several tokens match the selector.
    #[error(
        "{count} tokens match {selector}: {matches}; make [hsm] token more specific, e.g. pkcs11:token=<label>;serial=<serial>"
    )]
    AmbiguousToken {
        /// The selector as written.
        selector: String,
        /// How many matched.
        count: usize,
        /// The matching tokens.
        matches: String,
    },
    /// The selected token has not been initialised (C_InitToken).
    #[error(
        "token in slot {slot} (serial {serial:?}) is not initialised; initialise it with the HSM vendor's tool first"
    )]
    TokenNotInitialised {
        /// The slot id.
        slot: u64,
        /// Its serial.
        serial: String,
    },
    /// The user PIN is locked after too many failed logins.
    #[error(
        "the user PIN of token {label:?} (serial {serial}) is locked after too many failed logins; the security officer must reset it (custodian re-enrolment)"
    )]
    PinLocked {
        /// Token label.
        label: String,
        /// Token serial.
        serial: String,
    },
    /// The user PIN has never been set.
    #[error("the user PIN of token {label:?} is not initialised; enrol the custodians first")]
    UserPinNotInitialised {
        /// Token label.
        label: String,
    },
    /// A login was refused because the PIN is wrong.
    #[error(
        "{who} login to token {label:?} failed: {ckr}; the PIN (or the custodians' shares) is wrong; every failed attempt counts towards locking the token"
    )]
    PinIncorrect {
        /// "user" or "security officer".
        who: &'static str,
        /// Token label.
        label: String,
        /// The CKR_ name.
        ckr: String,
    },
    /// The token lacks something Airlock needs.
    #[error("token {label:?} lacks {what}: {reason}")]
    Capability {
        /// Token label.
        label: String,
        /// The missing capability.
        what: String,
        /// Why it is missing (mechanism absent, KAT failed, ...).
        reason: String,
    },
    /// No wrap path for an algorithm survived the probe and self-tests.
    #[error(
        "{alg} cannot be done on token {label:?}: {reasons}; use a different wrapping algorithm (SHA-1 variants need --allow-sha1) or an HSM that offers the mechanisms listed in docs/hsm-compatibility.md"
    )]
    NoWrapPath {
        /// The algorithm.
        alg: WrappingAlgorithm,
        /// Token label.
        label: String,
        /// Why each candidate path was refused.
        reasons: String,
    },
    /// Wrapping was asked for a path that has not passed its KAT in this session.
    #[error(
        "{alg} via {path} has not passed its known-answer self-test in this session; run the self-test for {alg} first"
    )]
    NotSelfTested {
        /// The algorithm.
        alg: WrappingAlgorithm,
        /// The planned path.
        path: WrapPath,
    },
    /// A key with this label already exists; Airlock never overwrites.
    #[error(
        "a key object labelled {label:?} already exists on the token; Airlock never overwrites key material: use a new request_id, or re-import it with material source \"existing\""
    )]
    LabelExists {
        /// The label.
        label: String,
    },
    /// A key found on the token is not what the request says.
    #[error("key {label:?} on the token does not match {spec}: {problem}")]
    KeyMismatch {
        /// The label.
        label: String,
        /// What the request says.
        spec: KeySpec,
        /// What is different.
        problem: String,
    },
    /// A PKCS#11 call failed.
    #[error("{context}: {function} returned {ckr}")]
    Pkcs11 {
        /// What the engine was doing (key label, mechanism).
        context: String,
        /// The PKCS#11 function.
        function: &'static str,
        /// The CKR_ name.
        ckr: String,
    },
    /// A fault injected by the fault plan (tests / AIRLOCK_FAULT_FAIL_CALL).
    #[error(
        "{context}: injected fault on PKCS#11 call #{call} ({function}) by the fault plan (a test-build hook)"
    )]
    Injected {
        /// What the engine was doing.
        context: String,
        /// The PKCS#11 function that was failed.
        function: &'static str,
        /// The call number.
        call: u64,
    },
    /// The token returned output that fails a structural check.
    #[error("{context}: the token's output fails the check: {problem}; refusing to use it")]
    BadOutput {
        /// What the engine was doing.
        context: String,
        /// What is wrong with the output.
        problem: String,
    },
    /// Input handed to the engine is unusable (e.g. wrapping key DER).
    #[error("{what}: {problem}")]
    InvalidInput {
        /// What input.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// Session objects could not be removed.
    #[error("cleanup failed: {detail}; closing the session destroys any remaining session objects")]
    Cleanup {
        /// What remained or failed.
        detail: String,
    },
}

impl ExitClass for HsmError {
    fn exit_code(&self) -> ExitCode {
        use HsmError::*;
        match self {
            ModuleNotFound { .. }
            | NotPkcs11 { .. }
            | ModuleInit { .. }
            | NoToken { .. }
            | AmbiguousToken { .. }
            | TokenNotInitialised { .. }
            | PinLocked { .. }
            | UserPinNotInitialised { .. } => ExitCode::HsmUnavailable,
            PinIncorrect { .. } => ExitCode::Quorum,
            Capability { .. } | NoWrapPath { .. } | NotSelfTested { .. } => ExitCode::HsmCapability,
            LabelExists { .. }
            | KeyMismatch { .. }
            | Pkcs11 { .. }
            | Injected { .. }
            | BadOutput { .. }
            | InvalidInput { .. }
            | Cleanup { .. } => ExitCode::HsmOperation,
        }
    }
}

/// Attaches what the engine was doing to a failed PKCS#11 call.
pub(crate) trait Context<T> {
    /// Converts the call failure into an [`HsmError`] with `context`.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, HsmError>;
}

impl<T> Context<T> for Result<T, P11Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, HsmError> {
        self.map_err(|e| e.into_hsm(context()))
    }
}

impl P11Error {
    /// Converts into an [`HsmError`] with `context`.
    pub(crate) fn into_hsm(self, context: String) -> HsmError {
        match self.cause {
            Cause::Injected(call) => HsmError::Injected {
                context,
                function: self.function,
                call,
            },
            Cause::Token(ckr) => HsmError::Pkcs11 {
                context,
                function: self.function,
                ckr,
            },
        }
    }
}

/// The `CKR_` name of a cryptoki error (or its description when the error
/// did not come from the token).
pub(crate) fn ckr_name(e: &cryptoki::error::Error) -> String {
    match e {
        cryptoki::error::Error::Pkcs11(rv, _) => rv_name(rv),
        other => other.to_string(),
    }
}

/// `RvError::MechanismParamInvalid` -> `CKR_MECHANISM_PARAM_INVALID`.
pub(crate) fn rv_name(rv: &cryptoki::error::RvError) -> String {
    use cryptoki::error::RvError;
    match rv {
        RvError::VendorDefined(v) => format!("CKR_VENDOR_DEFINED(0x{v:08x})"),
        RvError::UnknownErrorCode(v) => format!("CKR_0x{v:08x}"),
        other => {
            let camel = format!("{other:?}");
            let mut out = String::from("CKR_");
            for (i, c) in camel.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::error::RvError;

    #[test]
    fn rv_names_are_ckr_spellings() {
        assert_eq!(
            rv_name(&RvError::MechanismParamInvalid),
            "CKR_MECHANISM_PARAM_INVALID"
        );
        assert_eq!(rv_name(&RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            rv_name(&RvError::VendorDefined(0x8000_0001)),
            "CKR_VENDOR_DEFINED(0x80000001)"
        );
    }

    #[test]
    fn exit_classes() {
        let wrong_pin = HsmError::PinIncorrect {
            who: "user",
            label: "t".into(),
            ckr: "CKR_PIN_INCORRECT".into(),
        };
        assert_eq!(wrong_pin.exit_code(), ExitCode::Quorum);
        let cap = HsmError::Capability {
            label: "t".into(),
            what: "x".into(),
            reason: "y".into(),
        };
        assert_eq!(cap.exit_code(), ExitCode::HsmCapability);
        let gone = HsmError::ModuleNotFound { path: "/x".into() };
        assert_eq!(gone.exit_code(), ExitCode::HsmUnavailable);
    }
}
