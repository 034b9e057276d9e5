//! The full-screen read-aloud view of a digest (the request's before the
//! login, the bundle's before the wipe): the hex laid out exactly as on the
//! paper (two lines of eight four-digit groups) in 48 px monospace, each
//! group numbered with a tick box for the witness, and the 32 PGP words
//! numbered. "The digests match" opens only when every group is ticked; the
//! window then sends the same confirmation the step's own button sends, and
//! the engine journals it. Escape, or "Back", closes the view and changes
//! nothing; "Back" has the keyboard focus when the view opens, so Enter
//! confirms nothing either.

use eframe::egui::{self, RichText};

use crate::gui::theme;

/// Which digest is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestKind {
    /// The request's `SHA256SUMS` (Review step).
    Request,
    /// The import bundle's `SHA256SUMS` (Wipe step).
    Bundle,
}

impl DigestKind {
    fn title(self) -> &'static str {
        match self {
            DigestKind::Request => "Request SHA256SUMS digest: read aloud against the online side",
            DigestKind::Bundle => "Bundle SHA256SUMS digest: read aloud against the attestation",
        }
    }
}

/// An open read-aloud view.
#[derive(Debug, Clone)]
pub struct ReadAloud {
    /// Which digest.
    pub kind: DigestKind,
    /// Lowercase hex, 64 digits.
    pub hex: String,
    /// One tick per four-digit group, set by the witness.
    pub ticks: Vec<bool>,
    /// Just opened: "Back" takes the keyboard focus on the next frame, so
    /// that Enter confirms nothing.
    focus_back: bool,
}

/// The view's safe button: closes it and confirms nothing.
pub const BACK: &str = "Back (nothing is confirmed)";

/// What the custodians did in the view this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAloudChoice {
    /// Still reading.
    Reading,
    /// Closed without confirming (Escape or Back).
    Back,
    /// Every group ticked and "The digests match" pressed.
    Match,
}

/// The four-digit groups of a hex digest, in order.
pub fn groups(hex: &str) -> Vec<String> {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

impl ReadAloud {
    /// A view of `hex` with nothing ticked.
    pub fn new(kind: DigestKind, hex: &str) -> Self {
        ReadAloud {
            kind,
            hex: hex.to_string(),
            ticks: vec![false; groups(hex).len()],
            focus_back: true,
        }
    }

    /// Draws the view over the whole window.
    pub fn show(&mut self, ctx: &egui::Context) -> ReadAloudChoice {
        let mut choice = ReadAloudChoice::Reading;
        let screen = ctx.content_rect();
        let groups = groups(&self.hex);
        let frame = egui::Frame::popup(&ctx.global_style()).inner_margin(egui::Margin::same(8));
        let response = egui::Modal::new(egui::Id::unique("airlock-read-aloud"))
            .frame(frame)
            .show(ctx, |ui| {
                // The whole width of the window: the hex is as large as it can
                // be (48 px at 1024 wide, up to 72 px), eight groups a line.
                let width = screen.width() - 24.0;
                ui.set_width(width);
                ui.heading(RichText::new(self.kind.title()).strong());
                ui.label(
                "One person reads each group aloud; the witness compares it with the other copy \
                 and ticks the box under it.",
            );
                ui.add_space(10.0);
                // Four monospace digits are about 2.41 em wide.
                // Each group sits in its own outlined, alternately shaded
                // box so that the groups stay apart at any size.
                let gap = 3.0;
                let boxed = 2.0 * (1.0 + 1.0);
                let mono = ((width - 8.0 * (gap + boxed)) / 8.0 / 2.42).clamp(48.0, 72.0);
                for (line, chunk) in groups.chunks(8).enumerate() {
                    ui.horizontal(|ui| {
                        ui.spacing_mut().item_spacing.x = gap;
                        for (j, g) in chunk.iter().enumerate() {
                            let n = line * 8 + j;
                            ui.vertical(|ui| {
                                egui::Frame::new()
                                    .stroke(egui::Stroke::new(1.0, theme::MUTED))
                                    .fill(if n % 2 == 0 {
                                        egui::Color32::from_gray(235)
                                    } else {
                                        egui::Color32::WHITE
                                    })
                                    .inner_margin(egui::Margin::symmetric(1, 0))
                                    .show(ui, |ui| {
                                        ui.label(RichText::new(g).monospace().size(mono).strong());
                                    });
                                // The tick is numbered like the group: "7".
                                ui.checkbox(
                                    &mut self.ticks[n],
                                    RichText::new(format!("{}", n + 1)).size(18.0),
                                );
                            });
                        }
                    });
                    ui.add_space(8.0);
                }
                if let Some(words) = airlock_ceremony::words::pgp_words(&self.hex) {
                    ui.label(RichText::new("PGP words, two per group:").strong());
                    egui::Grid::new("read-aloud-words")
                        .num_columns(8)
                        .spacing([16.0, 2.0])
                        .show(ui, |ui| {
                            for (i, w) in words.iter().enumerate() {
                                ui.label(RichText::new(format!("{}. {w}", i + 1)).size(17.0));
                                if i % 8 == 7 {
                                    ui.end_row();
                                }
                            }
                        });
                }
                ui.add_space(8.0);
                let ticked = self.ticks.iter().filter(|t| **t).count();
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(
                            ticked == self.ticks.len(),
                            egui::Button::new(
                                RichText::new(format!(
                                    "All {} groups match: confirm (journaled)",
                                    self.ticks.len()
                                ))
                                .strong()
                                .size(24.0),
                            ),
                        )
                        .clicked()
                    {
                        choice = ReadAloudChoice::Match;
                    }
                    let back = ui.button(RichText::new(BACK).size(24.0));
                    if std::mem::take(&mut self.focus_back) {
                        back.request_focus();
                    }
                    if back.clicked() {
                        choice = ReadAloudChoice::Back;
                    }
                    ui.label(
                        RichText::new(format!("{ticked} of {} groups ticked", self.ticks.len()))
                            .color(if ticked == self.ticks.len() {
                                theme::PASS
                            } else {
                                theme::WARN
                            }),
                    );
                });
            });
        if choice == ReadAloudChoice::Reading && response.should_close() {
            choice = ReadAloudChoice::Back;
        }
        choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_groups_of_four_as_on_the_paper() {
        let hex = "7ad465f0237d6c7c92bb2c11c9e0a2ba49a90af85939d4401aaee7c6d727962d";
        let g = groups(hex);
        assert_eq!(g.len(), 16);
        assert_eq!(g[0], "7ad4");
        assert_eq!(g[15], "962d");
        // The paper's two lines are these groups, eight per line.
        assert_eq!(
            airlock_ceremony::words::paper_hex_lines(hex),
            [g[..8].join(" "), g[8..].join(" ")]
        );
        assert_eq!(ReadAloud::new(DigestKind::Request, hex).ticks.len(), 16);
    }
}
