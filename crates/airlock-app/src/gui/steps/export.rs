//! Step 6, Seal & export: pick the folder on the output medium; the engine
//! writes the import bundle into a staging sibling, signs SHA256SUMS in the
//! HSM, reads everything back and verifies it, then renames it into place.

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::steps::request::scan_media;
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// The bundle folder created inside the chosen folder.
pub fn bundle_dir(parent: &Path, request_id: &str) -> PathBuf {
    parent.join(format!("airlock-import-{request_id}"))
}

fn pick(app: &mut GuiApp, start: Option<&Path>) {
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
    app.send(Command::SealAndExport {
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
    ui.label(
        "Choose a folder on the output medium. The bundle is written into a new folder \
         airlock-import-<request id> inside it, which must not exist yet.",
    );
    ui.add_enabled_ui(active, |ui| {
        if ui.button("Choose the output folder…").clicked() {
            pick(app, None);
        }
        for medium in scan_media() {
            if ui.button(format!("Open {}", medium.display())).clicked() {
                pick(app, Some(&medium));
            }
        }
    });
    if let Some(p) = &app.out_parent {
        ui.label(format!("Chosen: {}", p.display()));
    }
    if app.error.is_some() {
        ui.label(
            RichText::new("Choose a folder again once the problem is fixed.").color(theme::MUTED),
        );
    }
}
