//! Step 8, Wipe: overwrite and remove the working files (and the request
//! bundle if chosen), destroy the HSM session objects, check none remain,
//! log out. Says plainly that overwriting flash media is best-effort.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Starts (or retries) the wipe.
pub fn start(app: &mut GuiApp) {
    app.send(Command::Wipe);
}

/// What a finished wipe did, as text lines.
pub fn describe(w: &airlock_ceremony::WipeOutcome) -> Vec<String> {
    let mut out = vec![format!(
        "Working files: {} overwritten and removed ({} bytes, {} folders)",
        w.work_dir.files, w.work_dir.bytes, w.work_dir.dirs
    )];
    if let Some(r) = &w.request {
        out.push(format!(
            "Request bundle: {} files overwritten and removed ({} bytes)",
            r.files, r.bytes
        ));
    }
    out.push(format!(
        "HSM session objects: {} destroyed, {} remaining; logged out",
        w.session_objects_destroyed, w.session_objects_remaining
    ));
    out
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    if let Some(w) = app.snap.wipe.clone() {
        let clean = w.session_objects_remaining == 0;
        widgets::badge(
            ui,
            if clean { Verdict::Pass } else { Verdict::Fail },
            if clean {
                "Wiped and logged out"
            } else {
                "HSM session objects remain"
            },
        );
        for line in describe(&w) {
            ui.label(line);
        }
        ui.label(
            RichText::new(
                "Overwriting files on flash media (USB sticks, SSDs) is best-effort: destroy or keep \
                 the media under seal as the runbook says.",
            )
            .color(theme::WARN),
        );
        return;
    }
    ui.label("The wipe removes:");
    ui.label(
        "• a working folder left by an older, interrupted run (none is made now), overwritten then unlinked;",
    );
    ui.label("• any leftover staging folder next to the bundle;");
    if app.overrides.wipe_request {
        ui.label("• the request bundle on the USB medium (chosen at preflight);");
    }
    ui.label("• every HSM session object, then checks none remain and logs out.");
    ui.label("The published bundle and the journal stay.");
    ui.add_space(8.0);
    if let Some(e) = app.snap.export.clone() {
        widgets::digest_with_words(
            ui,
            "Bundle SHA256SUMS digest: read it aloud; a witness compares the printed attestation",
            &e.sums_sha256,
        );
    }
    if app.snap.bundle_digest_settled {
        widgets::badge(ui, Verdict::Pass, "Bundle digest read aloud (journaled)");
    } else {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    active && app.busy.is_none(),
                    egui::Button::new("The digests match: confirm (journaled)"),
                )
                .clicked()
            {
                app.send(Command::SettleBundleDigest { matched: true });
            }
            if let Some(e) = app.snap.export.clone()
                && ui
                    .add_enabled(
                        active && app.busy.is_none(),
                        egui::Button::new("Read aloud, full screen…"),
                    )
                    .clicked()
            {
                app.open_read_aloud(crate::gui::read_aloud::DigestKind::Bundle, &e.sums_sha256);
            }
            if ui
                .add_enabled(
                    active && app.busy.is_none(),
                    egui::Button::new("They differ: record it (do not import)"),
                )
                .clicked()
            {
                app.send(Command::SettleBundleDigest { matched: false });
            }
        });
    }
    if ui
        .add_enabled(
            active && app.error.is_none() && app.snap.bundle_digest_settled,
            egui::Button::new("Wipe and log out"),
        )
        .on_disabled_hover_text("read the bundle digest aloud and confirm it first")
        .clicked()
    {
        start(app);
    }
}
