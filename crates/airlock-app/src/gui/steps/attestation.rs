//! Step 7, Attestation: hands the published bundle to the attestation hook
//! (see [`crate::gui::attestation`]); today that shows the digest to read
//! aloud, later the PDF preview, print and save.

use eframe::egui;

use crate::gui::app::GuiApp;

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let Some(e) = app.snap.export.clone() else {
        return;
    };
    let ready = app.attestation.ui(ui, &e.path, &e.sums_sha256);
    if active && ready {
        app.attestation_done = true;
    }
}
