//! Step 4, Review: the plan as a table; each authenticated custodian
//! confirms it before anything is generated.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::snapshot::PlanRow;
use crate::gui::widgets::{self, Verdict};

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
        let mut yes = app.confirmed.contains(&name);
        let label = format!("I, {name}, have read this plan and confirm it");
        if ui
            .add_enabled(
                active,
                egui::Checkbox::new(&mut yes, RichText::new(label).strong()),
            )
            .changed()
        {
            if yes {
                app.confirmed.insert(name);
            } else {
                app.confirmed.remove(&name);
            }
        }
    }
    if app.step_complete(crate::gui::Step::Review) {
        widgets::badge(ui, Verdict::Pass, "Every custodian confirmed the plan");
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
