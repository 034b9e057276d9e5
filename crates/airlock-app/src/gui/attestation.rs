//! The Attestation step's form and preview. An [`AttestationHook`] draws
//! the step and says what the custodians asked for; the step turns that
//! into worker commands (see [`super::attest_worker`]), so the engine does
//! every check, render, save and print. [`PdfAttestation`] is the real one:
//! the bag serials and paper size handed to the engine for the final
//! `attestation.pdf`, a preview of what is printed, a printer dropdown,
//! Print and Save; on the Done step, Print for the final file.

use std::path::Path;

use airlock_attest::print::Printer;
use airlock_attest::{Paper, WipeResult};
use eframe::egui::{self, RichText};

use super::attest_worker::AttestationView;
use super::theme;
use super::widgets::{self, Verdict};

/// What the hook is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct AttestationContext<'a> {
    /// The published bundle.
    pub bundle: &'a Path,
    /// SHA-256 of its `SHA256SUMS` (hex).
    pub sums_sha256: &'a str,
    /// The attestation as the engine last built it.
    pub view: Option<&'a AttestationView>,
    /// True when the step is current and the worker idle (buttons work).
    pub active: bool,
}

/// What the custodians asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestRequest {
    /// Hand the form to the engine and rebuild the preview.
    Apply,
    /// Choose a folder, then save the PDF there under this file name.
    SaveAs(String),
    /// Print on this CUPS printer.
    Print(String),
    /// Print the final `attestation.pdf` on this CUPS printer.
    PrintFinal(String),
    /// No serial is typed: the custodians confirm that no tamper-evident
    /// bags are used (the engine journals it).
    ConfirmNoBags,
}

/// The hook's answer for one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutput {
    /// True once the engine holds what the form says (the custodians may
    /// continue to the wipe).
    pub ready: bool,
    /// The seal serials as typed, one per entry.
    pub seal_serials: Vec<String>,
    /// The paper chosen.
    pub paper: Paper,
    /// A button pressed this frame.
    pub request: Option<AttestRequest>,
}

/// What the attestation step shows and does.
pub trait AttestationHook: Send {
    /// Draws the Attestation step.
    fn ui(&mut self, ui: &mut egui::Ui, cx: &AttestationContext<'_>) -> HookOutput;
    /// Draws the attestation part of the Done step; `final_pdf` is the
    /// `attestation.pdf` the wipe wrote into the bundle.
    fn done_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &AttestationContext<'_>,
        final_pdf: Option<&Path>,
    ) -> Option<AttestRequest>;
}

/// Splits the typed serials on commas and line breaks, trimming each and
/// dropping empty entries.
pub fn parse_serials(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The real attestation step: form, preview, printer dropdown, print, save.
#[derive(Debug)]
pub struct PdfAttestation {
    serials_text: String,
    paper: Paper,
    printer: Option<String>,
    file_name: String,
    first_preview_sent: bool,
}

impl Default for PdfAttestation {
    fn default() -> Self {
        PdfAttestation {
            serials_text: String::new(),
            paper: Paper::A4,
            printer: None,
            file_name: "attestation.pdf".into(),
            first_preview_sent: false,
        }
    }
}

impl PdfAttestation {
    /// The printer dropdown and its Print button (labelled `print_label`);
    /// without printers, says why plainly.
    fn printer_row(
        &mut self,
        ui: &mut egui::Ui,
        printers: &Result<Vec<Printer>, String>,
        enabled: bool,
        print_label: &str,
    ) -> Option<String> {
        let list = match printers {
            Ok(list) => list,
            Err(why) => {
                widgets::badge(
                    ui,
                    Verdict::Warn,
                    &format!(
                        "Printing is not available: {why}. Save the PDF and print it elsewhere."
                    ),
                );
                return None;
            }
        };
        if self
            .printer
            .as_ref()
            .is_none_or(|p| !list.iter().any(|q| &q.name == p))
        {
            self.printer = list
                .iter()
                .find(|p| p.is_default)
                .or(list.first())
                .map(|p| p.name.clone());
        }
        let mut pressed = None;
        ui.horizontal(|ui| {
            ui.label("Printer:");
            egui::ComboBox::from_id_salt("attestation-printer")
                .selected_text(self.printer.clone().unwrap_or_default())
                .show_ui(ui, |ui| {
                    for p in list {
                        let text = if p.is_default {
                            format!("{} (default)", p.name)
                        } else {
                            p.name.clone()
                        };
                        ui.selectable_value(&mut self.printer, Some(p.name.clone()), text);
                    }
                });
            if ui
                .add_enabled(enabled, egui::Button::new(print_label))
                .clicked()
            {
                pressed = self.printer.clone();
            }
        });
        pressed
    }
}

impl AttestationHook for PdfAttestation {
    fn ui(&mut self, ui: &mut egui::Ui, cx: &AttestationContext<'_>) -> HookOutput {
        let mut request = None;
        if cx.active && cx.view.is_none() && !self.first_preview_sent {
            self.first_preview_sent = true;
            request = Some(AttestRequest::Apply);
        }
        ui.label(
            "The custodians sign this page and hand it with the USB medium to the online \
             importer, who checks the bundle digest against it before importing.",
        );
        ui.label(
            RichText::new(
                "The final attestation.pdf, with the wipe result, is written into the bundle at \
                 the Wipe step. What you print or save here is the same page before the wipe.",
            )
            .strong(),
        );
        ui.label(format!("Bundle: {}", cx.bundle.display()));
        ui.add_space(8.0);

        ui.label(
            RichText::new("Tamper-evident bag serials (one per line, or separated by commas)")
                .strong(),
        );
        ui.add_enabled(
            cx.active,
            egui::TextEdit::multiline(&mut self.serials_text)
                .desired_rows(2)
                .desired_width(600.0)
                .font(egui::TextStyle::Monospace),
        );
        ui.horizontal(|ui| {
            ui.label("Paper:");
            ui.add_enabled_ui(cx.active, |ui| {
                ui.radio_value(&mut self.paper, Paper::A4, "A4");
                ui.radio_value(&mut self.paper, Paper::Letter, "Letter");
            });
        });
        let seal_serials = parse_serials(&self.serials_text);
        let applied = cx
            .view
            .is_some_and(|v| v.seal_serials == seal_serials && v.paper == self.paper);
        let no_bags = cx.view.is_some_and(|v| v.no_bags_confirmed);
        // No serials typed is a decision the custodians confirm, never a
        // field left empty by accident.
        let ready = applied && (!seal_serials.is_empty() || no_bags);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(cx.active, egui::Button::new("Apply to the attestation"))
                .clicked()
            {
                request = Some(AttestRequest::Apply);
            }
            if ready && !seal_serials.is_empty() {
                widgets::badge(
                    ui,
                    Verdict::Pass,
                    &format!(
                        "The final attestation will list {} bag serial(s), on {}",
                        seal_serials.len(),
                        self.paper.name()
                    ),
                );
            } else if ready {
                widgets::badge(
                    ui,
                    Verdict::Pass,
                    &format!(
                        "Confirmed and journaled: no tamper-evident bags are used; the attestation says so, on {}",
                        self.paper.name()
                    ),
                );
            } else if applied && seal_serials.is_empty() {
                widgets::badge(
                    ui,
                    Verdict::Warn,
                    "No bag serials typed: type the serial of every bag, or confirm that none are used",
                );
            } else if cx.view.is_some() {
                widgets::badge(
                    ui,
                    Verdict::Warn,
                    "Changed: press Apply to the attestation before continuing",
                );
            }
        });
        if applied
            && seal_serials.is_empty()
            && !no_bags
            && ui
                .add_enabled(
                    cx.active,
                    egui::Button::new("Confirm: no tamper-evident bags are used"),
                )
                .clicked()
        {
            request = Some(AttestRequest::ConfirmNoBags);
        }
        let Some(view) = cx.view else {
            return HookOutput {
                ready,
                seal_serials,
                paper: self.paper,
                request,
            };
        };

        ui.add_space(8.0);
        ui.label(RichText::new("Print or save").strong().size(24.0));
        if let Some(p) = self.printer_row(ui, &view.printers, cx.active && ready, "Print") {
            request = Some(AttestRequest::Print(p));
        }
        ui.horizontal(|ui| {
            ui.label("File name:");
            ui.add_enabled(
                cx.active,
                egui::TextEdit::singleline(&mut self.file_name).desired_width(320.0),
            );
            if ui
                .add_enabled(cx.active && ready, egui::Button::new("Save PDF…"))
                .clicked()
            {
                request = Some(AttestRequest::SaveAs(self.file_name.clone()));
            }
        });
        if let Some(done) = &view.last_result {
            widgets::badge(ui, Verdict::Pass, done);
        }

        ui.add_space(8.0);
        ui.separator();
        ui.label(
            RichText::new("Preview: what is printed")
                .strong()
                .size(24.0),
        );
        preview(ui, view);
        HookOutput {
            ready,
            seal_serials,
            paper: self.paper,
            request,
        }
    }

    fn done_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &AttestationContext<'_>,
        final_pdf: Option<&Path>,
    ) -> Option<AttestRequest> {
        let Some(path) = final_pdf else {
            widgets::badge(
                ui,
                Verdict::Fail,
                "The bundle has no attestation.pdf: print one with `airlock attest`",
            );
            return None;
        };
        ui.label(RichText::new("Final attestation (with the wipe result):").strong());
        ui.label(RichText::new(path.display().to_string()).monospace());
        let printers = cx
            .view
            .map(|v| v.printers.clone())
            .unwrap_or_else(|| Err("the printers were not listed".into()));
        let pressed = self.printer_row(ui, &printers, cx.active, "Print the final attestation");
        if let Some(done) = cx.view.and_then(|v| v.last_result.as_ref()) {
            widgets::badge(ui, Verdict::Pass, done);
        }
        pressed.map(AttestRequest::PrintFinal)
    }
}

/// The fields of the page that matter, as the engine gathered them.
fn preview(ui: &mut egui::Ui, view: &AttestationView) {
    let a = &view.preview;
    let mut shouts = Vec::new();
    if a.network_override || !a.air_gapped {
        shouts.push("NOT AIR-GAPPED: the network override was used".to_string());
    }
    if a.sha1_override || !a.sha1_keys.is_empty() {
        shouts.push(format!(
            "SHA-1 WRAPPING ALLOWED{}",
            if a.sha1_keys.is_empty() {
                String::new()
            } else {
                format!(": {}", a.sha1_keys.join(", "))
            }
        ));
    }
    for s in shouts {
        ui.label(RichText::new(s).size(32.0).strong().color(theme::WARN));
    }
    let custodians = a
        .custodians
        .iter()
        .map(|c| format!("{} at {}", c.name, c.authenticated_at))
        .collect::<Vec<_>>()
        .join("; ");
    let serials = if a.seal_serials.is_empty() {
        "(none typed)".to_string()
    } else {
        a.seal_serials.join(", ")
    };
    let wipe = match &a.wipe {
        WipeResult::Recorded {
            session_objects_remaining,
            ..
        } => format!("recorded ({session_objects_remaining} HSM objects remaining)"),
        _ => "not yet: written into the final attestation at the Wipe step".to_string(),
    };
    widgets::facts(
        ui,
        "attestation-preview",
        &[
            ("Request", a.request_id.clone()),
            ("Ceremony", a.ceremony_id.clone()),
            ("Custodians", custodians),
            (
                "Request signer",
                format!(
                    "{} ({})",
                    a.request_signer_name, a.request_signer_fingerprint
                ),
            ),
            ("Bag serials", serials),
            ("Paper", a.paper.name().to_string()),
            ("Wipe", wipe),
        ],
    );
    ui.add_space(8.0);
    widgets::digest_with_words(ui, "Import bundle SHA256SUMS digest", &a.bundle_sums_sha256);
    ui.add_space(8.0);
    egui::Grid::new("attestation-keys")
        .num_columns(3)
        .spacing([24.0, 6.0])
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new("Key").strong());
            ui.label(RichText::new("KCV").strong());
            ui.label(RichText::new("Material SHA-256 (first 16)").strong());
            ui.end_row();
            for k in &a.keys {
                ui.label(&k.name);
                ui.label(RichText::new(k.kcv.clone().unwrap_or_else(|| "-".into())).monospace());
                ui.label(RichText::new(&k.material_sha256_prefix).monospace());
                ui.end_row();
                // A multi-Region key: the same HSM key, wrapped per Region.
                for r in &k.replicas {
                    ui.label(
                        RichText::new(format!("  + replica {}", r.region))
                            .color(crate::gui::theme::MUTED),
                    );
                    ui.label(
                        RichText::new(k.kcv.clone().unwrap_or_else(|| "-".into())).monospace(),
                    );
                    ui.label(RichText::new(&r.material_sha256_prefix).monospace());
                    ui.end_row();
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_split_on_commas_and_lines() {
        assert_eq!(
            parse_serials(" BAG-001, BAG-002\n\nBAG 003 ,\n"),
            vec!["BAG-001", "BAG-002", "BAG 003"]
        );
        assert!(parse_serials(" , \n").is_empty());
    }
}
