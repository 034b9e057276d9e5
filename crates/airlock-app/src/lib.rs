//! The library half of the `airlock` binary: the desktop app (feature
//! `gui`), kept in a library so its tests can drive it through
//! `egui_kittest`. The command-line tree stays in the binary.

#[cfg(feature = "gui")]
pub mod gui;
