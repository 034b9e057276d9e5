//! Step 5, Generate & wrap: the output folder is chosen first (the engine
//! checks it is new and writable before any login), then the quorum logs in (PIN rebuilt from the
//! shares, never shown), the known-answer self-tests run, then every key is
//! generated (or found, for existing or resumed material) and wrapped in
//! the HSM, on the worker thread. A progress bar and the list of finished
//! keys update live. Where the custodians' policy asks for it, the security
//! officer first types the SO PIN (the engine marks the AWS wrapping keys
//! trusted), and every key with `existing` material is shown after the
//! login (label, the ARN it was made for, the new ARN, KCV, wrapping key)
//! and confirmed by typing its code before anything is wrapped.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Label of the security officer's PIN field (tests find it by this).
pub const SO_PIN_LABEL: &str = "Security officer PIN";

/// Starts (or retries) login and generation.
pub fn start(app: &mut GuiApp) {
    app.progress.done.clear();
    app.progress.current = None;
    let so_pin = (!app.so_pin.is_empty()).then(|| app.so_pin.take());
    let existing_codes = app
        .existing_codes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    app.send(Command::Generate {
        so_pin,
        existing_codes,
    });
}

/// The existing material awaiting confirmation, each with its code field.
fn existing_panel(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    widgets::badge(
        ui,
        Verdict::Warn,
        "Existing HSM material will be re-wrapped: check each against the online operator's records",
    );
    for m in app.snap.existing_pending.clone() {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.label(RichText::new(format!("Key {}", m.name)).strong());
            for (what, value) in [
                ("HSM label", m.hsm_label.clone()),
                (
                    "Generated for",
                    format!("{} ({})", m.original_arn, m.original_request),
                ),
                ("To be wrapped for", m.key_arn.clone()),
                ("KCV", m.kcv.clone().unwrap_or_else(|| "-".into())),
                (
                    "Public key SHA-256",
                    m.public_key_sha256.clone().unwrap_or_else(|| "-".into()),
                ),
                ("New wrapping key", m.wrapping_key_fingerprint.clone()),
            ] {
                ui.label(RichText::new(format!("{what:<20} {value}")).monospace());
            }
            let code = app.existing_codes.entry(m.name.clone()).or_default();
            ui.horizontal(|ui| {
                ui.label(format!("Type {} to confirm:", m.confirmation_code));
                ui.add_enabled(
                    active,
                    egui::TextEdit::singleline(code).id_salt(format!("existing-{}", m.name)),
                );
            });
        });
    }
    let all_typed = app.snap.existing_pending.iter().all(|m| {
        app.existing_codes
            .get(&m.name)
            .is_some_and(|c| !c.trim().is_empty())
    });
    if ui
        .add_enabled(
            active && all_typed && app.busy.is_none(),
            egui::Button::new("Confirm existing material and generate"),
        )
        .clicked()
    {
        start(app);
    }
}

/// Before the login: the folder on the output medium the bundle goes to
/// (checked by the engine now, written at Seal & export). True once chosen.
fn output_chooser(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) -> bool {
    if let Some(out) = &app.snap.out_dir {
        widgets::badge(
            ui,
            Verdict::Pass,
            &format!(
                "Output folder {} ({})",
                out.display(),
                if app.snap.request.as_ref().is_some_and(|r| r.resumed) {
                    "accepted by the engine; a resumed ceremony that published already keeps its folder"
                } else {
                    "checked by the engine: new, on a writable medium"
                }
            ),
        );
        return true;
    }
    ui.label(
        "First choose a folder on the output medium. The bundle goes into a new folder \
         airlock-import-<request id> inside it, which must not exist yet; it is checked now, \
         before the login, and written at Seal & export.",
    );
    ui.add_enabled_ui(active && app.busy.is_none(), |ui| {
        if ui.button("Choose the output folder…").clicked() {
            crate::gui::steps::export::pick(app, None);
        }
        for medium in crate::gui::steps::request::scan_media() {
            if ui.button(format!("Open {}", medium.display())).clicked() {
                crate::gui::steps::export::pick(app, Some(&medium));
            }
        }
    });
    false
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let total = app.snap.request.as_ref().map(|r| r.plan.len()).unwrap_or(0);
    if app.snap.self_tests.is_none() && app.busy.is_none() && !app.generated() {
        ui.label(format!(
            "Logs in to the HSM with the quorum, runs the self-tests, then generates and wraps {total} keys \
             inside the HSM. Key material never leaves it in plaintext."
        ));
        let out_chosen = output_chooser(app, ui, active);
        let needs_so = app.snap.needs_security_officer && !app.snap.trusted_marked;
        if needs_so {
            ui.label(
                "The custodians' policy is wrap-with-trusted: the security officer marks the request's \
                 AWS wrapping keys trusted before the login.",
            );
            ui.horizontal(|ui| {
                ui.label(SO_PIN_LABEL);
                ui.add_enabled(
                    active,
                    egui::TextEdit::singleline(&mut app.so_pin).password(true),
                );
            });
        }
        if ui
            .add_enabled(
                active
                    && out_chosen
                    && app.error.is_none()
                    && (!needs_so || !app.so_pin.is_empty()),
                egui::Button::new("Log in and generate"),
            )
            .clicked()
        {
            start(app);
        }
        return;
    }
    if !app.snap.existing_pending.is_empty() && app.busy.is_none() {
        existing_panel(app, ui, active);
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
    if app.generated() {
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
