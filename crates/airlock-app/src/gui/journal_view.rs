//! The journal panel, docked beside the step (on the right of a wide
//! window, under the step on a narrow one such as 1024x768, so that the
//! step's lines are never cut) and toggled by the top bar's Journal
//! button: this ceremony's hash-chained journal file,
//! read from the state directory, as a list of readable events (sequence
//! number, time, event, actor, a short summary of its data), oldest first,
//! scrolled to the newest unless the reader scrolled up. The file is read
//! again whenever it grows. Read-only; the engine alone writes the journal.

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use super::theme;

/// Windows at least this wide (points) dock the journal on the right; the
/// step keeps about 600 points. Narrower ones dock it under the step.
pub const SIDE_MIN_WIDTH: f32 = 1300.0;

/// The heading at the top of the panel.
pub const HEADING: &str = "Ceremony journal";

/// One journal line, ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Sequence number.
    pub seq: String,
    /// `HH:MM:SS` (UTC), or the whole `at` when it is not RFC 3339.
    pub time: String,
    /// The whole `at`.
    pub at: String,
    /// The event name.
    pub event: String,
    /// Who did it.
    pub actor: String,
    /// A short summary of the data (`key=value, …`).
    pub summary: String,
    /// The whole data, as JSON (the summary's hover text).
    pub data: String,
}

/// The journal panel's state.
#[derive(Debug, Default)]
pub struct JournalView {
    open: bool,
    rows: Vec<Row>,
    /// The file and its length when it was last read.
    read: Option<(PathBuf, u64)>,
    problem: Option<String>,
}

impl JournalView {
    /// Shows the panel (and reads the file on the next frame).
    pub fn open(&mut self) {
        self.open = true;
        self.read = None;
        self.problem = None;
    }

    /// Hides the panel.
    pub fn close(&mut self) {
        self.open = false;
    }

    /// Shows the panel when hidden, hides it when shown.
    pub fn toggle(&mut self) {
        if self.open {
            self.close();
        } else {
            self.open();
        }
    }

    /// True while the panel is shown.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The events as last read.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Reads the file again when it is new to the panel or has grown
    /// (the engine appends while the panel is shown).
    fn sync(&mut self, path: &Path) {
        let len = match std::fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) => {
                self.problem = Some(format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        if self
            .read
            .as_ref()
            .is_some_and(|(p, l)| p == path && *l == len)
        {
            return;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.rows = text.lines().map(row).collect();
                self.problem = None;
                self.read = Some((path.to_path_buf(), len));
            }
            Err(e) => self.problem = Some(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Draws the docked panel when shown; call it before the central
    /// panel. `path` is the journal file, once the request is verified.
    pub fn show(&mut self, ui: &mut egui::Ui, path: Option<&Path>) {
        if !self.open {
            return;
        }
        if let Some(p) = path {
            self.sync(p);
        }
        // Beside the step on a wide window (30 % of it), under it on a
        // narrow one (a quarter of the height): the step keeps its whole
        // lines and scrolls, never cut. The custodians may drag the edge.
        let screen = ui.ctx().content_rect();
        let panel = if screen.width() >= SIDE_MIN_WIDTH {
            egui::Panel::right("airlock-journal-side")
                .default_size((screen.width() * 0.3).clamp(280.0, 520.0))
                .size_range(240.0..=(screen.width() * 0.6).max(240.0))
        } else {
            egui::Panel::bottom("airlock-journal-bottom")
                .default_size((screen.height() * 0.3).max(180.0))
                .size_range(150.0..=(screen.height() * 0.7).max(150.0))
        };
        let mut hide = false;
        panel.resizable(true).show(ui, |ui| {
            ui.add_space(4.0);
            let count = path.map(|p| {
                (
                    format!("{} events, newest last (read-only)", self.rows.len()),
                    format!(
                        "{}\nWritten by the engine only; the window never writes it.",
                        p.display()
                    ),
                )
            });
            // One header line where it fits, so that the rows keep the room.
            let one_header_line = ui.available_width() >= 600.0;
            let count_label = |ui: &mut egui::Ui| {
                if let Some((text, hover)) = &count {
                    ui.label(RichText::new(text).size(17.0))
                        .on_hover_text(hover);
                }
            };
            ui.horizontal(|ui| {
                ui.label(RichText::new(HEADING).size(26.0).strong());
                if one_header_line {
                    count_label(ui);
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.button("Hide").clicked() {
                        hide = true;
                    }
                });
            });
            if !one_header_line {
                count_label(ui);
            }
            if path.is_none() {
                ui.label(
                    "The journal file opens when the request is verified; the steps before \
                         that are held and written to it then.",
                );
                return;
            }
            if let Some(problem) = &self.problem {
                ui.label(RichText::new(problem).color(theme::FAIL));
            }
            ui.separator();
            egui::ScrollArea::vertical()
                .id_salt("journal-rows")
                .auto_shrink([false, false])
                .stick_to_bottom(true)
                .show(ui, |ui| {
                    ui.spacing_mut().item_spacing.y = 2.0;
                    let one_line = ui.available_width() >= 700.0;
                    for (i, r) in self.rows.iter().enumerate() {
                        draw_row(ui, i, r, one_line);
                    }
                });
        });
        if hide {
            self.close();
        }
    }
}

/// One event: `seq  time  event`, then `actor · summary` on the same line
/// when `one_line` (a wide panel), else under it; every part is
/// selectable text.
fn draw_row(ui: &mut egui::Ui, i: usize, r: &Row, one_line: bool) {
    let fill = if i.is_multiple_of(2) {
        egui::Color32::from_gray(242)
    } else {
        egui::Color32::WHITE
    };
    egui::Frame::new()
        .fill(fill)
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            let detail = if r.summary.is_empty() {
                r.actor.clone()
            } else {
                format!("{} · {}", r.actor, r.summary)
            };
            let detail = |ui: &mut egui::Ui| {
                let resp = ui.add(
                    egui::Label::new(RichText::new(&detail).size(16.0).color(theme::MUTED))
                        .wrap_mode(egui::TextWrapMode::Truncate),
                );
                if !r.data.is_empty() {
                    resp.on_hover_text(&r.data);
                }
            };
            let head = |ui: &mut egui::Ui| {
                ui.spacing_mut().item_spacing.x = 10.0;
                ui.label(
                    RichText::new(format!("{:>3}  {}", r.seq, r.time))
                        .monospace()
                        .size(17.0)
                        .color(theme::MUTED),
                )
                .on_hover_text(&r.at);
                ui.label(RichText::new(&r.event).monospace().size(17.0).strong());
            };
            if one_line {
                ui.horizontal(|ui| {
                    head(ui);
                    detail(ui);
                });
            } else {
                ui.horizontal_wrapped(head);
                detail(ui);
            }
        });
}

/// One journal line as a [`Row`]; a line that is not a JSON object is
/// shown whole as the event.
pub fn row(line: &str) -> Row {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(line) else {
        return Row {
            seq: String::new(),
            time: String::new(),
            at: String::new(),
            event: line.to_string(),
            actor: String::new(),
            summary: String::new(),
            data: String::new(),
        };
    };
    let get = |k: &str| {
        v.get(k)
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .unwrap_or_default()
    };
    let at = get("at");
    let time = at
        .split_once('T')
        .and_then(|(_, t)| t.get(..8))
        .map(str::to_string)
        .unwrap_or_else(|| at.clone());
    let data = v.get("data").filter(|d| !d.is_null());
    Row {
        seq: get("seq"),
        time,
        at,
        event: get("event"),
        actor: get("actor"),
        summary: data.map(summary).unwrap_or_default(),
        data: data.map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// `key=value, …` for an object's fields: long strings cut, lists and
/// objects counted, the whole at most about 160 characters.
fn summary(data: &serde_json::Value) -> String {
    use serde_json::Value;
    fn short(v: &Value) -> String {
        match v {
            Value::String(s) if s.chars().count() > 24 => {
                format!("{}…", s.chars().take(16).collect::<String>())
            }
            Value::String(s) => s.clone(),
            Value::Array(a) if a.is_empty() => "none".into(),
            Value::Array(a) if a.len() <= 3 && a.iter().all(|x| !x.is_object()) => {
                a.iter().map(short).collect::<Vec<_>>().join(" ")
            }
            Value::Array(a) => format!("{} items", a.len()),
            Value::Object(o) => format!("{} fields", o.len()),
            other => other.to_string(),
        }
    }
    let text = match data {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}={}", short(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => short(other),
    };
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(159).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_made_readable_and_garbage_kept() {
        let r = row(
            r#"{"seq":3,"at":"2026-01-01T09:10:11Z","event":"preflight","actor":"system","data":{"a":1,"sums_sha256":"7ad465f0237d6c7c92bb2c11c9e0a2ba49a90af85939d4401aaee7c6d727962d","keys":["x","y"],"many":[1,2,3,4]},"prev":"00"}"#,
        );
        assert_eq!(r.seq, "3");
        assert_eq!(r.time, "09:10:11");
        assert_eq!(r.at, "2026-01-01T09:10:11Z");
        assert_eq!(r.event, "preflight");
        assert_eq!(r.actor, "system");
        for part in [
            "a=1",
            "keys=x y",
            "many=4 items",
            "sums_sha256=7ad465f0237d6c7c…",
        ] {
            assert!(r.summary.contains(part), "{part} not in {}", r.summary);
        }
        assert!(r.data.contains("7ad465f0237d6c7c92bb"));
        assert_eq!(row("not json").event, "not json");
    }

    #[test]
    fn a_long_summary_is_cut() {
        let data = serde_json::json!({
            "a": "x".repeat(20), "b": "y".repeat(20), "c": "z".repeat(20),
            "d": "w".repeat(20), "e": "v".repeat(20), "f": "u".repeat(20),
            "g": "t".repeat(20), "h": "s".repeat(20),
        });
        let s = summary(&data);
        assert_eq!(s.chars().count(), 160);
        assert!(s.ends_with('…'));
    }
}
