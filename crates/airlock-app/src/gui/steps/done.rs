//! Step 9, Done: the summary to read aloud: bundle digest in grouped hex
//! and PGP words, the keys, where the bundle is; the final attestation.pdf
//! and Print for it.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::attestation::{AttestRequest, AttestationContext};
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// The final attestation.pdf the wipe wrote, and Print for it.
fn final_attestation(app: &mut GuiApp, ui: &mut egui::Ui) {
    let Some(e) = app.snap.export.clone() else {
        return;
    };
    let view = app.snap.attestation.clone();
    let final_pdf = app.snap.attestation_pdf.clone();
    let cx = AttestationContext {
        bundle: &e.path,
        sums_sha256: &e.sums_sha256,
        view: view.as_ref(),
        active: app.busy.is_none(),
    };
    if let Some(AttestRequest::PrintFinal(printer) | AttestRequest::Print(printer)) =
        app.attestation.done_ui(ui, &cx, final_pdf.as_deref())
    {
        app.send(Command::PrintFinal { printer });
    }
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui) {
    let s = &app.snap;
    widgets::badge(ui, Verdict::Pass, "Ceremony complete");
    let mut rows = vec![
        ("Ceremony", s.ceremony_id.clone().unwrap_or_default()),
        (
            "Request",
            s.request
                .as_ref()
                .map(|r| r.request_id.clone())
                .unwrap_or_default(),
        ),
        (
            "Custodians",
            s.authenticated
                .iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("Keys", s.keys.len().to_string()),
    ];
    if let Some(e) = &s.export {
        rows.push(("Bundle", e.path.display().to_string()));
    }
    widgets::facts(ui, "done-facts", &rows);
    if let Some(e) = &s.export {
        ui.add_space(8.0);
        ui.label(RichText::new("Read aloud and compare with the attestation:").strong());
        widgets::digest_with_words(ui, "Bundle SHA256SUMS digest", &e.sums_sha256);
    }
    ui.add_space(8.0);
    final_attestation(app, ui);
    ui.add_space(8.0);
    ui.label("You may close the window.");
}
