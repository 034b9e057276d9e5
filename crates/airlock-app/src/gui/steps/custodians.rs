//! Step 2, Custodians: M panels, one custodian at a time picks their name
//! from the roster and types their passphrase (masked); the engine unseals
//! their share. The passphrase leaves the window state as soon as it is
//! sent and is wiped after the engine checked it.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Label of the passphrase field (tests find it by this).
pub const PASSPHRASE_LABEL: &str = "Passphrase";

/// Shown until a custodian has picked their name.
pub const NO_NAME_HINT: &str =
    "Pick your name first: Authenticate stays off until a name is chosen.";

fn submit(app: &mut GuiApp) {
    let Some(name) = app.chosen_custodian.clone() else {
        return;
    };
    if app.passphrase.is_empty() {
        return;
    }
    let passphrase = app.passphrase.take();
    app.send(Command::Authenticate { name, passphrase });
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let need = app.snap.threshold;
    let have = app.snap.authenticated.len();
    ui.label(format!(
        "{need} of the {} enrolled custodians must each authenticate, in person, in this session.",
        app.snap.roster.len()
    ));
    for i in 0..need.max(1) {
        egui::Frame::group(ui.style())
            .inner_margin(egui::Margin::same(12))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new(format!("Custodian {} of {need}", i + 1)).strong());
                if let Some((name, at)) = app.snap.authenticated.get(i) {
                    widgets::badge(ui, Verdict::Pass, &format!("{name} authenticated at {at}"));
                } else if i == have {
                    form(app, ui, active);
                } else {
                    ui.label("Waiting for the custodian above.");
                }
            });
    }
}

fn form(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    ui.add_enabled_ui(active, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label("Name:");
            let done: Vec<String> = app
                .snap
                .authenticated
                .iter()
                .map(|(n, _)| n.clone())
                .collect();
            // A name that has authenticated is not the next custodian's:
            // without this, the next passphrase would be sent as the
            // previous custodian's (and count as their failed try).
            if app
                .chosen_custodian
                .as_ref()
                .is_some_and(|n| done.contains(n))
            {
                app.chosen_custodian = None;
            }
            for name in app.snap.roster.clone() {
                if done.contains(&name) {
                    continue;
                }
                let chosen = app.chosen_custodian.as_deref() == Some(name.as_str());
                if ui.selectable_label(chosen, name.as_str()).clicked() {
                    app.chosen_custodian = Some(name);
                }
            }
        });
        let label = ui.label(format!("{PASSPHRASE_LABEL}:"));
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut app.passphrase)
                    .password(true)
                    .desired_width(600.0)
                    .hint_text("typed by the custodian only"),
            )
            .labelled_by(label.id);
        // egui keeps undo snapshots of the field as plain Strings; drop them
        // every frame so no copy of the passphrase outlives the frame.
        if let Some(mut state) = egui::text_edit::TextEditState::load(ui.ctx(), field.id) {
            state.clear_undoer();
            state.store(ui.ctx(), field.id);
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if app.chosen_custodian.is_none() {
            // Typing before choosing a name would go nowhere: say so.
            ui.label(
                RichText::new(NO_NAME_HINT)
                    .color(crate::gui::theme::WARN)
                    .strong(),
            );
        }
        let ready = app.chosen_custodian.is_some() && !app.passphrase.is_empty();
        let clicked = ui
            .add_enabled(ready, egui::Button::new("Authenticate"))
            .clicked();
        if ready && (clicked || enter) {
            submit(app);
        }
    });
}
