//! Step 7, Attestation: the bag serials and paper for the final
//! attestation, a preview, print and save, drawn by the attestation hook
//! (see [`crate::gui::attestation`]); each request becomes a worker
//! command, so the engine builds, saves and prints.

use eframe::egui;

use crate::gui::app::GuiApp;
use crate::gui::attest_worker::AttestAction;
use crate::gui::attestation::{AttestRequest, AttestationContext};
use crate::gui::worker::Command;

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let Some(e) = app.snap.export.clone() else {
        return;
    };
    let view = app.snap.attestation.clone();
    let cx = AttestationContext {
        bundle: &e.path,
        sums_sha256: &e.sums_sha256,
        view: view.as_ref(),
        active,
    };
    let out = app.attestation.ui(ui, &cx);
    if active {
        app.attestation_done = out.ready;
    }
    let mut confirm_no_bags = false;
    let action = match out.request {
        None => return,
        Some(AttestRequest::Apply) => AttestAction::Preview,
        Some(AttestRequest::ConfirmNoBags) => {
            confirm_no_bags = true;
            AttestAction::Preview
        }
        Some(AttestRequest::Print(p)) => AttestAction::Print(p),
        Some(AttestRequest::PrintFinal(printer)) => {
            app.send(Command::PrintFinal { printer });
            return;
        }
        Some(AttestRequest::SaveAs(name)) => {
            let file = name.trim().to_string();
            if file.is_empty() || file.contains('/') || file == "." || file == ".." {
                app.note = Some(format!(
                    "{file:?} is not a file name: type a name such as attestation.pdf (the folder is chosen next)"
                ));
                return;
            }
            let Some(dir) = app
                .picker
                .pick_folder("Choose where to save the attestation PDF", None)
            else {
                return;
            };
            AttestAction::Save(dir.join(file))
        }
    };
    app.send(Command::Attestation {
        seal_serials: out.seal_serials,
        paper: out.paper,
        confirm_no_bags,
        action,
    });
}
