//! The screen after an abort: what was wiped, and what to do next.

use eframe::egui;

use crate::gui::app::GuiApp;
use crate::gui::steps::wipe::describe;
use crate::gui::widgets::{self, Verdict};

/// Draws the aborted screen.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui) {
    ui.heading("Ceremony aborted");
    if app.busy.is_some() {
        return;
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
}
