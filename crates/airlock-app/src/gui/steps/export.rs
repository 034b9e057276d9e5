//! Step 6, Seal & export: into the folder chosen before the login, the
//! engine writes the import bundle into a staging sibling, signs SHA256SUMS
//! in the HSM, reads everything back and verifies it, then renames it into
//! place. [`pick`] is the folder choice itself (on Generate & wrap).

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// The bundle folder created inside the chosen folder.
pub fn bundle_dir(parent: &Path, request_id: &str) -> PathBuf {
    parent.join(format!("airlock-import-{request_id}"))
}

/// Opens the folder picker and has the engine check the bundle folder
/// inside the chosen one (used before the login, on Generate & wrap).
pub fn pick(app: &mut GuiApp, start: Option<&Path>) {
    let Some(parent) = app
        .picker
        .pick_folder("Choose where to write the import bundle", start)
    else {
        return;
    };
    let id = app
        .snap
        .request
        .as_ref()
        .map(|r| r.request_id.clone())
        .unwrap_or_default();
    app.out_parent = Some(parent.clone());
    app.send(Command::ChooseOutput {
        out: bundle_dir(&parent, &id),
    });
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    if let Some(e) = app.snap.export.clone() {
        widgets::badge(
            ui,
            Verdict::Pass,
            "Sealed, read back and verified (sums, HSM signature, schema, lengths, journal, import tokens)",
        );
        widgets::facts(
            ui,
            "export-facts",
            &[
                ("Bundle", e.path.display().to_string()),
                ("Keys verified", e.keys_verified.to_string()),
                ("Journal events in the bundle", e.journal_events.to_string()),
            ],
        );
        widgets::digest(ui, "Journal head (SHA-256)", &e.journal_head);
        widgets::digest(ui, "Bundle SHA256SUMS digest", &e.sums_sha256);
        return;
    }
    let out = app
        .snap
        .out_dir
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(not chosen)".into());
    ui.label(format!(
        "The bundle goes to {out} (the folder checked before the login). The engine writes it into \
         a staging folder beside that one, signs SHA256SUMS in the HSM, reads everything back and \
         verifies it, and only then renames it into place."
    ));
    if ui
        .add_enabled(
            active && app.busy.is_none(),
            egui::Button::new("Seal and export"),
        )
        .clicked()
    {
        app.send(Command::SealAndExport);
    }
    if app.error.is_some() {
        ui.label(
            RichText::new("Press Seal and export again once the problem is fixed.")
                .color(theme::MUTED),
        );
    }
}
