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
        // One label, so that it wraps inside the window at any width.
        ui.add(
            egui::Label::new(RichText::new(format!("PGP words:  {words}")).size(20.0))
                .wrap_mode(egui::TextWrapMode::Wrap),
        );
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
                // Long values (paths) wrap within the window instead of
                // widening the page, which would push wrapped text (the
                // PGP words) under a docked journal.
                ui.add(egui::Label::new(v).wrap());
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

/// The quorum as the error box explains a lockout: M of the N enrolled.
#[derive(Debug, Clone, Copy)]
pub struct QuorumSize {
    /// M: custodians needed.
    pub threshold: usize,
    /// N: custodians enrolled.
    pub enrolled: usize,
}

/// What a lockout means for the quorum, in the custodians' words.
pub fn lockout_meaning(custodian: &str, q: QuorumSize) -> String {
    let others = q.enrolled.saturating_sub(1);
    if others >= q.threshold {
        format!(
            "What it means for the quorum: {custodian} cannot log in again in this ceremony. \
             {} of the {} enrolled custodians are needed, so another enrolled custodian can stand in \
             for {custodian} now; or abort and start a new ceremony later.",
            q.threshold, q.enrolled
        )
    } else {
        format!(
            "What it means for the quorum: {custodian} cannot log in again in this ceremony, and \
             without {custodian} fewer than the {} custodians needed are enrolled. Abort; start a new \
             ceremony when {custodian} has the right passphrase.",
            q.threshold
        )
    }
}

/// Shows an engine error in full with what to do (the "what to do" of its
/// class in `docs/exit-codes.md`); `retry_label` names the retry button
/// (None hides it, e.g. when the step is retried by editing the form). A
/// class that may mean tampering (checksums, signature, pinned module,
/// sealed state) is a red STOP panel with no retry: keep the medium.
pub fn error_box(
    ui: &mut egui::Ui,
    err: &StepError,
    retry_label: Option<&str>,
    quorum: QuorumSize,
) -> Option<ErrorChoice> {
    let mut choice = None;
    let guidance = err.exit_code.guidance();
    let class = match &guidance {
        Some(g) => format!("{} (exit code {})", g.name, err.exit_code.code()),
        None => format!("exit code {}", err.exit_code.code()),
    };
    let stop = err.exit_code.is_stop();
    egui::Frame::new()
        .stroke(egui::Stroke::new(if stop { 6.0 } else { 3.0 }, theme::FAIL))
        .fill(if stop {
            Color32::from_rgb(255, 225, 225)
        } else {
            Color32::from_rgb(255, 240, 240)
        })
        .inner_margin(egui::Margin::same(14))
        .show(ui, |ui| {
            if stop {
                ui.label(RichText::new("STOP").size(56.0).strong().color(theme::FAIL));
                ui.label(
                    RichText::new(
                        "Do not continue with this medium or this workstation state. Keep the USB \
                         medium exactly as it is, as evidence, and call the security officer.",
                    )
                    .size(theme::BODY_SIZE)
                    .strong()
                    .color(theme::FAIL),
                );
                badge(ui, Verdict::Fail, &format!("Possible tampering: {class}"));
            } else {
                badge(ui, Verdict::Fail, &format!("This step failed: {class}"));
            }
            ui.label(RichText::new(&err.message).size(theme::BODY_SIZE));
            if let Some(g) = &guidance {
                ui.label(RichText::new(format!("What to do: {}", g.what_to_do)).strong());
            }
            if let Some(who) = &err.locked_out {
                ui.label(RichText::new(lockout_meaning(who, quorum)).strong());
            }
            ui.label(
                RichText::new(
                    "Abort ceremony wipes the working files and HSM session objects and logs out; \
                     the journal keeps what happened.",
                )
                .color(theme::MUTED),
            );
            ui.horizontal(|ui| {
                if !stop
                    && let Some(label) = retry_label
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
