//! Shared widgets: verdict badges (colour plus a word), digests in
//! monospace grouped in fours, key/value grids, and the error box with
//! Retry / Abort that every step uses.

use airlock_ceremony::words::pgp_words_for_hex;
use eframe::egui::{self, Color32, RichText};

use super::theme;
use super::worker::StepError;

/// A verdict and its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Needs attention (override, warning).
    Warn,
    /// Running.
    Busy,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARNING",
            Verdict::Busy => "WORKING",
        }
    }

    fn colour(self) -> Color32 {
        match self {
            Verdict::Pass => theme::PASS,
            Verdict::Fail => theme::FAIL,
            Verdict::Warn => theme::WARN,
            Verdict::Busy => theme::BUSY,
        }
    }
}

/// A filled badge: `PASS`/`FAIL`/... in white on its colour, then `text`.
pub fn badge(ui: &mut egui::Ui, verdict: Verdict, text: &str) {
    ui.horizontal_wrapped(|ui| {
        egui::Frame::new()
            .fill(verdict.colour())
            .inner_margin(egui::Margin::symmetric(10, 4))
            .corner_radius(4.0)
            .show(ui, |ui| {
                ui.label(RichText::new(verdict.word()).strong().color(Color32::WHITE));
            });
        ui.label(RichText::new(text).color(verdict.colour()).strong());
    });
}

/// A digest to read aloud: label, hex grouped in fours in monospace, eight
/// groups per line as on the printed attestation.
pub fn digest(ui: &mut egui::Ui, label: &str, hex: &str) {
    ui.label(RichText::new(label).strong());
    ui.label(
        RichText::new(airlock_ceremony::words::paper_hex_lines(hex).join("\n"))
            .monospace()
            .size(26.0),
    );
}

/// A digest with its PGP words under it.
pub fn digest_with_words(ui: &mut egui::Ui, label: &str, hex: &str) {
    digest(ui, label, hex);
    if let Some(words) = pgp_words_for_hex(hex) {
        // On the line of their label: one line less, so the Review step's
        // confirmations stay on a 1024x768 screen.
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("PGP words:").color(theme::MUTED));
            ui.label(RichText::new(words).size(20.0));
        });
    }
}

/// A two-column grid of facts.
pub fn facts(ui: &mut egui::Ui, id: &str, rows: &[(&str, String)]) {
    egui::Grid::new(id)
        .num_columns(2)
        .spacing([24.0, 8.0])
        .striped(true)
        .show(ui, |ui| {
            for (k, v) in rows {
                ui.label(RichText::new(*k).strong());
                ui.label(v);
                ui.end_row();
            }
        });
}

/// What the custodians chose in an error box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorChoice {
    /// Try the step again.
    Retry,
    /// Abort the ceremony.
    Abort,
}

/// Shows an engine error in full with what to do; `retry_label` names the
/// retry button (None hides it, e.g. when the step is retried by editing
/// the form).
pub fn error_box(
    ui: &mut egui::Ui,
    err: &StepError,
    retry_label: Option<&str>,
) -> Option<ErrorChoice> {
    let mut choice = None;
    egui::Frame::new()
        .stroke(egui::Stroke::new(3.0, theme::FAIL))
        .fill(Color32::from_rgb(255, 240, 240))
        .inner_margin(egui::Margin::same(14))
        .show(ui, |ui| {
            badge(ui, Verdict::Fail, &format!("This step failed (exit class {:?})", err.exit_code));
            ui.label(RichText::new(&err.message).size(theme::BODY_SIZE));
            ui.label(
                RichText::new(
                    "What to do: the message above says what was wrong and where. Fix that, then retry \
                     this step; or abort the ceremony (wipes the working files and HSM session objects, \
                     logs out).",
                )
                .color(theme::MUTED),
            );
            ui.horizontal(|ui| {
                if let Some(label) = retry_label
                    && ui.button(label).clicked()
                {
                    choice = Some(ErrorChoice::Retry);
                }
                if ui.button("Abort ceremony").clicked() {
                    choice = Some(ErrorChoice::Abort);
                }
            });
        });
    choice
}
