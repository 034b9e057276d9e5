//! The ceremony engine: the one implementation of a key ceremony that both
//! the CLI (`airlock ceremony run`) and the desktop app drive. It strings
//! together request verification, the quorum login, the HSM engine, the
//! journal, sealing and export, and the wipe; the faces only collect input
//! and show events.

pub mod backup;
pub mod discard;
pub mod enroll;
pub mod error;
pub mod event;
pub mod hygiene;
mod key_stager;
pub mod lock;
pub mod plan;
pub mod preflight;
pub mod runner;
pub mod stage;
pub mod state;
pub mod state_auth;
pub mod stop;
pub mod trust_ops;
pub mod words;

pub use error::CeremonyError;
pub use event::Event;
pub use plan::{CeremonyPlan, DigestConfirmation, PlanKey};
pub use runner::{
    AttestationOptions, Ceremony, CeremonyOptions, ExistingMaterial, ExportOutcome, KeyOrigin,
    KeyOutcome, WipeOutcome,
};
pub use stage::{Need, Stage, StageKind};
pub use stop::StopSignal;
