//! Step 3, Request: pick the request bundle folder (GTK dialog, or start
//! it on one of the mounted removable media), then the engine verifies it:
//! sums, signature against the trust store, schema, sizes, validity,
//! algorithm matrix. Shows the signer and fingerprint to read aloud.

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::picker::{MEDIA_ROOTS, removable_media};
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Mounted removable media now.
pub fn scan_media() -> Vec<PathBuf> {
    let roots: Vec<&Path> = MEDIA_ROOTS.iter().map(Path::new).collect();
    removable_media(&roots)
}

fn pick(app: &mut GuiApp, start: Option<&Path>) {
    if let Some(dir) = app
        .picker
        .pick_folder("Choose the request bundle folder", start)
    {
        app.request_dir = Some(dir.clone());
        app.send(Command::VerifyRequest { dir });
    }
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    if let Some(r) = app.snap.request.clone() {
        widgets::badge(
            ui,
            Verdict::Pass,
            "Request verified: signature, sums, schema, validity, algorithms",
        );
        if r.resumed {
            widgets::badge(
                ui,
                Verdict::Warn,
                "An interrupted ceremony for this request resumes; its HSM keys are reused",
            );
        }
        for w in &r.warnings {
            widgets::badge(ui, Verdict::Warn, w);
        }
        widgets::facts(
            ui,
            "request-facts",
            &[
                ("Request id", r.request_id.clone()),
                ("Folder", r.dir.display().to_string()),
                ("AWS account", r.account.clone()),
                ("Keys", r.plan.len().to_string()),
                ("Signed by", r.signer.clone()),
            ],
        );
        widgets::digest(
            ui,
            "Signer key fingerprint (SHA-256)",
            &r.signer_fingerprint,
        );
        widgets::digest(ui, "Request SHA256SUMS digest", &r.sums_sha256);
        return;
    }
    ui.label("Insert the USB medium from the online side and choose the request bundle folder.");
    ui.add_enabled_ui(active, |ui| {
        if ui.button("Choose the request folder…").clicked() {
            pick(app, None);
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new("Removable media mounted now:").strong());
            if ui.button("Rescan").clicked() {
                app.media = scan_media();
            }
        });
        if app.media.is_empty() {
            ui.label(RichText::new("none under /media or /run/media").color(theme::MUTED));
        }
        for medium in app.media.clone() {
            if ui.button(format!("Open {}", medium.display())).clicked() {
                pick(app, Some(&medium));
            }
        }
    });
    if let Some(dir) = &app.request_dir {
        ui.label(format!("Chosen: {}", dir.display()));
    }
    if app.error.is_some() {
        ui.label(
            RichText::new("Choose the folder again once the problem is fixed.").color(theme::MUTED),
        );
    }
}
