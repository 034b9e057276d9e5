//! The journal window, reachable from every step: reads this ceremony's
//! hash-chained journal file from the state directory and lists its
//! events, newest last. Read-only; the engine alone writes the journal.

use std::path::Path;

use eframe::egui::{self, RichText};

/// The journal window's state.
#[derive(Debug, Default)]
pub struct JournalView {
    open: bool,
    lines: Vec<String>,
    problem: Option<String>,
}

impl JournalView {
    /// Opens the window (and reads the file on the next frame).
    pub fn open(&mut self) {
        self.open = true;
        self.lines.clear();
        self.problem = None;
    }

    /// True while the window is shown.
    pub fn is_open(&self) -> bool {
        self.open
    }

    fn load(&mut self, path: &Path) {
        match std::fs::read_to_string(path) {
            Ok(text) => self.lines = text.lines().map(summarise).collect(),
            Err(e) => self.problem = Some(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Draws the window when open. `path` is the journal file, once the
    /// request is verified.
    pub fn show(&mut self, ctx: &egui::Context, path: Option<&Path>) {
        if !self.open {
            return;
        }
        if let Some(p) = path
            && self.lines.is_empty()
            && self.problem.is_none()
        {
            self.load(p);
        }
        let mut open = self.open;
        let mut refresh = false;
        egui::Window::new("Journal")
            .open(&mut open)
            .default_size([1000.0, 600.0])
            .show(ctx, |ui| match path {
                None => {
                    ui.label(
                        "The journal file opens when the request is verified; the steps before \
                             that are held and written to it then.",
                    );
                }
                Some(p) => {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(p.display().to_string()).monospace());
                        if ui.button("Refresh").clicked() {
                            refresh = true;
                        }
                    });
                    if let Some(problem) = &self.problem {
                        ui.label(RichText::new(problem).color(super::theme::FAIL));
                    }
                    ui.label(format!("{} events", self.lines.len()));
                    egui::ScrollArea::vertical()
                        .stick_to_bottom(true)
                        .show(ui, |ui| {
                            for line in &self.lines {
                                ui.label(RichText::new(line).monospace().size(17.0));
                            }
                        });
                }
            });
        self.open = open;
        if refresh {
            self.lines.clear();
            self.problem = None;
        }
    }
}

/// One journal line as `seq  time  event  actor  data`.
fn summarise(line: &str) -> String {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_string();
    };
    let get = |k: &str| {
        v.get(k).map(|x| {
            x.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string())
        })
    };
    format!(
        "{:>4}  {}  {}  {}  {}",
        get("seq").unwrap_or_default(),
        get("at").or_else(|| get("time")).unwrap_or_default(),
        get("event").unwrap_or_default(),
        get("actor").unwrap_or_default(),
        v.get("data").map(|d| d.to_string()).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_summarised_and_garbage_kept() {
        let s = super::summarise(
            r#"{"seq":3,"at":"2026-01-01T00:00:00Z","event":"preflight","actor":"system","data":{"a":1}}"#,
        );
        assert_eq!(
            s,
            "   3  2026-01-01T00:00:00Z  preflight  system  {\"a\":1}"
        );
        assert_eq!(super::summarise("not json"), "not json");
    }
}
