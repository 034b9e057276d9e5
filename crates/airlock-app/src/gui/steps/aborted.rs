//! The screen after an abort: what was wiped, and what to do next.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::steps::wipe::describe;
use crate::gui::widgets::{self, Verdict};

/// Label of the button that closes the window after an abort asked by
/// closing it.
pub const CLOSE_NOW: &str = "Close the app now";

/// The HSM keys the abort leaves in the token, as the engine reported them.
fn labels_left(ui: &mut egui::Ui, w: &airlock_ceremony::WipeOutcome) {
    let list = |ui: &mut egui::Ui, salt: &str, labels: &[String]| {
        egui::ScrollArea::vertical()
            .id_salt(salt)
            .max_height(200.0)
            .show(ui, |ui| {
                for l in labels {
                    ui.label(RichText::new(l).monospace());
                }
            });
    };
    if w.hsm_labels_left.is_empty() && w.hsm_labels_unchecked.is_empty() {
        ui.label("HSM keys left behind: none.");
    }
    if !w.hsm_labels_left.is_empty() {
        widgets::badge(
            ui,
            Verdict::Warn,
            &format!(
                "HSM keys left behind in the token: {} (reused if the same request runs again; \
                 `airlock ceremony discard` destroys them)",
                w.hsm_labels_left.len()
            ),
        );
        list(ui, "labels-left", &w.hsm_labels_left);
    }
    if !w.hsm_labels_unchecked.is_empty() {
        widgets::badge(
            ui,
            Verdict::Warn,
            &format!(
                "HSM keys an earlier run planned, not checked (no HSM session): {}",
                w.hsm_labels_unchecked.len()
            ),
        );
        list(ui, "labels-unchecked", &w.hsm_labels_unchecked);
    }
}

/// Draws the aborted screen.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui) {
    ui.heading("Ceremony aborted");
    if app.busy.is_some() {
        return;
    }
    if let Some(note) = &app.stopped_note {
        // The engine's words: "stopped after key N of M as asked; …".
        ui.label(format!("Generation {note}"));
    }
    match &app.snap.wipe {
        Some(w) => {
            widgets::badge(
                ui,
                Verdict::Warn,
                "Aborted: working files wiped, session closed, abort journaled",
            );
            for line in describe(w) {
                ui.label(line);
            }
            labels_left(ui, w);
        }
        None => widgets::badge(ui, Verdict::Warn, "Aborted before anything was written"),
    }
    if let Some((_, e)) = &app.error {
        widgets::badge(
            ui,
            Verdict::Fail,
            &format!("The abort itself failed: {}", e.message),
        );
    }
    ui.label(
        "Keys already generated stay in the HSM and are reused if the same request is run again. \
         Close the app; start it again for a new attempt (`airlock ceremony status` lists unfinished ceremonies).",
    );
    if app.closing_after_abort() {
        ui.add_space(8.0);
        ui.label(
            RichText::new("The window was closed mid-ceremony: read this summary, then close it.")
                .strong(),
        );
        if ui
            .button(RichText::new(CLOSE_NOW).strong().size(26.0))
            .clicked()
        {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}
