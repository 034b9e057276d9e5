//! Airlock's engine core: everything that can be decided without touching a
//! device. Formats of the bundles that cross the air gap, their validation,
//! the quorum scheme, the audit journal and the ceremony model live here so
//! that the CLI, the GUI and the tests share one implementation.

pub mod bundle_dir;
pub mod config;
pub mod exit;
pub mod import_bundle;
pub mod import_manifest;
pub mod journal;
pub mod journal_event;
pub mod key_binding;
pub mod quorum;
pub mod request;
pub mod signature;
pub mod spec;
pub mod staged_dir;
pub mod state_layout;
pub mod state_seal;
pub mod sums;
pub mod trust;
pub mod wipe;
