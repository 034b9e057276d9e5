//! HOOK for the printed attestation (issue 7). The Attestation step asks
//! an [`AttestationHook`] to draw itself from the published bundle. Until
//! the PDF/print engine lands, [`DigestOnlyAttestation`] shows the bundle
//! digest to read aloud. The PDF engine plugs in with
//! [`super::GuiApp::with_attestation`]: preview, printer dropdown, print,
//! save — all of it calling the engine, as `airlock attest` / `airlock
//! print` do.

use std::path::Path;

use eframe::egui;

use super::widgets;

/// What the attestation step shows and does.
pub trait AttestationHook: Send {
    /// Draws the step for the bundle at `bundle` whose `SHA256SUMS` digest
    /// is `sums_sha256`. Returns true once the custodians may continue.
    fn ui(&mut self, ui: &mut egui::Ui, bundle: &Path, sums_sha256: &str) -> bool;
}

/// The placeholder: the digest in grouped hex and PGP words.
#[derive(Debug, Default)]
pub struct DigestOnlyAttestation;

impl AttestationHook for DigestOnlyAttestation {
    fn ui(&mut self, ui: &mut egui::Ui, bundle: &Path, sums_sha256: &str) -> bool {
        widgets::badge(
            ui,
            widgets::Verdict::Warn,
            "The printed attestation (PDF, print) is not built yet: write the digest down by hand.",
        );
        ui.label(format!("Bundle: {}", bundle.display()));
        widgets::digest_with_words(ui, "Bundle SHA256SUMS digest", sums_sha256);
        true
    }
}
