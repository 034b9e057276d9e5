//! Step 5, Generate & wrap: the quorum logs in (PIN rebuilt from the
//! shares, never shown), the known-answer self-tests run, then every key is
//! generated (or found, for existing or resumed material) and wrapped in
//! the HSM, on the worker thread. A progress bar and the list of finished
//! keys update live.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Starts (or retries) login and generation.
pub fn start(app: &mut GuiApp) {
    app.progress.done.clear();
    app.progress.current = None;
    app.send(Command::Generate);
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let total = app.snap.request.as_ref().map(|r| r.plan.len()).unwrap_or(0);
    if app.snap.self_tests.is_none() && app.busy.is_none() && !app.generated {
        ui.label(format!(
            "Logs in to the HSM with the quorum, runs the self-tests, then generates and wraps {total} keys \
             inside the HSM. Key material never leaves it in plaintext."
        ));
        if ui
            .add_enabled(
                active && app.error.is_none(),
                egui::Button::new("Log in and generate"),
            )
            .clicked()
        {
            start(app);
        }
        return;
    }
    match &app.snap.self_tests {
        Some(paths) => {
            widgets::badge(
                ui,
                Verdict::Pass,
                "Quorum logged in; known-answer self-tests passed",
            );
            for p in paths {
                ui.label(RichText::new(format!("Wrap path {p}")).monospace());
            }
        }
        None if app.busy.is_some() => {
            widgets::badge(ui, Verdict::Busy, "Logging in and running the self-tests");
        }
        None => {}
    }
    let done = app.progress.done.len();
    let fraction = if total == 0 {
        0.0
    } else {
        done as f32 / total as f32
    };
    ui.add(
        egui::ProgressBar::new(fraction)
            .desired_height(36.0)
            .text(RichText::new(format!("{done} of {total} keys generated and wrapped")).strong()),
    );
    if let Some((i, n, name)) = &app.progress.current
        && app.busy.is_some()
    {
        ui.label(
            RichText::new(format!("Now: [{i}/{n}] {name}"))
                .color(theme::BUSY)
                .strong(),
        );
    }
    if app.generated {
        widgets::badge(
            ui,
            Verdict::Pass,
            &format!("All {total} keys generated and wrapped in the HSM"),
        );
    }
    key_table(ui, &app.progress.done);
}

/// The finished keys; only visible rows are laid out, so a thousand keys
/// cost the same per frame as ten.
fn key_table(ui: &mut egui::Ui, rows: &[crate::gui::snapshot::KeyRow]) {
    let row_height =
        ui.text_style_height(&egui::TextStyle::Monospace) + ui.spacing().item_spacing.y;
    egui::ScrollArea::vertical()
        .id_salt("keys-done")
        .max_height(400.0)
        .stick_to_bottom(true)
        .show_rows(ui, row_height, rows.len(), |ui, range| {
            for r in &rows[range] {
                ui.label(
                    RichText::new(format!(
                        "{:<28} {:<9} KCV {:<8} {}",
                        r.name,
                        r.origin,
                        r.kcv.as_deref().unwrap_or("-"),
                        r.wrap_path
                    ))
                    .monospace(),
                );
            }
        });
}
