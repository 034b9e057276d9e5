//! One module per ceremony step. Each `show` draws its step; when `active`
//! (the current step, worker idle) it offers that step's action, which
//! sends one engine command through the worker.

pub mod aborted;
pub mod attestation;
pub mod custodians;
pub mod done;
pub mod export;
pub mod generate;
pub mod preflight;
pub mod request;
pub mod review;
pub mod wipe;

use super::app::GuiApp;
use super::step::Step;

/// The retry button's label for a failed step, or None where the step is
/// retried from its own form (custodians, request folder, output folder).
pub fn retry_label(step: Step) -> Option<&'static str> {
    match step {
        Step::Preflight => Some("Retry preflight"),
        Step::Generate => Some("Retry generate & wrap"),
        Step::Wipe => Some("Retry wipe"),
        _ => None,
    }
}

/// Runs the failed step again.
pub fn retry(app: &mut GuiApp, step: Step) {
    match step {
        Step::Preflight => preflight::start(app),
        Step::Generate => generate::start(app),
        Step::Wipe => wipe::start(app),
        _ => app.error = None,
    }
}
