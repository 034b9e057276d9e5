//! Step 4, Review: the plan as a table; each authenticated custodian
//! confirms it, then the request digest is read aloud and confirmed, before
//! anything logs in. The engine journals each confirmation.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::snapshot::PlanRow;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let Some(r) = app.snap.request.clone() else {
        return;
    };
    ui.label(format!(
        "Request {}: {} keys. Read the plan; each custodian confirms it.",
        r.request_id,
        r.plan.len()
    ));
    plan_table(ui, &r.plan);
    ui.add_space(12.0);
    for (name, _) in app.snap.authenticated.clone() {
        // One-way: the engine journals the confirmation (`plan_confirmed`);
        // once journaled the box stays ticked and cannot be taken back.
        let done = app.snap.plan_confirmed_by.contains(&name);
        let mut yes = done;
        let label = format!("I, {name}, have read this plan and confirm it");
        if ui
            .add_enabled(
                active && !done && app.busy.is_none(),
                egui::Checkbox::new(&mut yes, RichText::new(label).strong()),
            )
            .changed()
            && yes
        {
            app.send(Command::ConfirmPlan { custodian: name });
        }
    }
    let all_confirmed = app
        .snap
        .authenticated
        .iter()
        .all(|(n, _)| app.snap.plan_confirmed_by.contains(n));
    ui.add_space(12.0);
    widgets::digest_with_words(
        ui,
        "Request SHA256SUMS digest: read it aloud against the online side's copy",
        &r.sums_sha256,
    );
    if app.snap.request_digest_confirmed {
        widgets::badge(
            ui,
            Verdict::Pass,
            "Every custodian confirmed the plan; the request digest matched (journaled)",
        );
    } else if ui
        .add_enabled(
            active && all_confirmed && app.busy.is_none(),
            egui::Button::new("The digests match: confirm (journaled)"),
        )
        .on_disabled_hover_text("each custodian confirms the plan first")
        .clicked()
    {
        app.send(Command::ConfirmRequestDigest);
    }
}

/// The plan as a striped table; only the visible rows are laid out, so a
/// request of thousands of keys stays fast.
fn plan_table(ui: &mut egui::Ui, rows: &[PlanRow]) {
    let row_height = 34.0;
    egui::ScrollArea::vertical()
        .id_salt("plan-scroll")
        .max_height(420.0)
        .show_rows(ui, row_height, rows.len() + 1, |ui, range| {
            egui::Grid::new("plan-table")
                .striped(true)
                .spacing([28.0, 6.0])
                .show(ui, |ui| {
                    for i in range {
                        if i == 0 {
                            for h in ["Key", "Alias", "Key spec", "Wrapping algorithm", "Material"]
                            {
                                ui.label(RichText::new(h).strong());
                            }
                        } else {
                            let r = &rows[i - 1];
                            ui.label(RichText::new(&r.name).monospace());
                            ui.label(&r.alias);
                            ui.label(&r.key_spec);
                            ui.label(&r.wrapping_algorithm);
                            ui.label(&r.material);
                        }
                        ui.end_row();
                    }
                });
        });
}
