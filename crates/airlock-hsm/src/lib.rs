//! Airlock's PKCS#11 engine, over `cryptoki`: open a module and select the
//! token ([`Hsm`]), probe what it claims ([`ProbeReport`]), log in
//! ([`UserSession`]), prove with known-answer tests that its mechanisms do
//! what they claim, generate key material in the token, wrap it there for
//! AWS KMS, compute KCVs, and seal bundles with the ceremony signing key.
//! Key material never leaves the token except through C_WrapKey.
//!
//! Every PKCS#11 call goes through one chokepoint that can fail the Nth
//! call ([`FaultPlan`], `AIRLOCK_FAULT_FAIL_CALL`, read only by debug builds). The only `unsafe` code
//! of the project is in the private `raw` module.

mod error;
mod fault;
mod kat;
mod keys;
mod labels;
mod module;
mod objects;
mod probe;
mod raw;
mod session;
mod signing;
mod token;
mod trusted;
mod wrap;
mod wrap_path;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::HsmError;
pub use fault::{FAULT_ENV, FaultPlan};
pub use kat::{
    AlgorithmOutcome, KatOutcome, SelfTestReport, software_kwp_unwrap, software_oaep_decrypt,
};
pub use keys::HsmKey;
pub use labels::{LabelScope, TokenLabels};
pub use module::module_sha256;
pub use probe::{AlgorithmPlan, MechanismReport, ProbeReport};
pub use session::{CleanupReport, SessionObject, UserSession};
pub use signing::{SIGNING_KEY_LABEL, SigningKeyInfo};
pub use token::{Hsm, TokenFlags, TokenIdentity};
pub use trusted::TrustedWrappingKeys;
pub use wrap::{WrappedKey, parse_wrapping_key};
pub use wrap_path::WrapPath;
