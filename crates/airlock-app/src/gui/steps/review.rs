//! Step 4, Review: the plan as a table; each authenticated custodian
//! confirms it, then the request digest is read aloud and confirmed, before
//! anything logs in. The engine journals each confirmation.

use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::snapshot::PlanRow;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let Some(r) = app.snap.request.clone() else {
        return;
    };
    ui.label(format!(
        "Request {}: {} keys for AWS account {}. Read the plan; each custodian confirms it.",
        r.request_id,
        r.plan.len(),
        r.account
    ));
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Totals: {}.", totals(&r.plan)));
        if let Some(line) = multi_region_line(&r.plan) {
            // Every replica Region, in full, above the list: one more copy
            // of a key leaves the HSM for each.
            ui.label(RichText::new(line).strong());
        }
        if r.plan.len() > 6 {
            ui.label(
                RichText::new(format!(
                    "{} keys: scroll the list to read every one before confirming.",
                    r.plan.len()
                ))
                .color(crate::gui::theme::WARN),
            );
        }
    });
    // The confirmations and the digest stay on screen (1024x768 too): the
    // list gets what is left above the height they took in the last frame
    // (it depends on the width: the PGP words wrap), and scrolls; at least
    // a key and a half stays in view.
    let below_id = ui.scope_id().with("review-below-table");
    let below = ui
        .ctx()
        .data(|d| d.get_temp::<f32>(below_id))
        .unwrap_or(360.0);
    let table_height = (ui.available_height() - below - 8.0).clamp(92.0, 420.0);
    plan_table(ui, &r.plan, table_height);
    let below_top = ui.cursor().top();
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        for (name, _) in app.snap.authenticated.clone() {
            // One-way: the engine journals the confirmation
            // (`plan_confirmed`); once journaled the box stays ticked.
            let done = app.snap.plan_confirmed_by.contains(&name);
            let mut yes = done;
            let label = format!("{name} confirms the plan");
            if ui
                .add_enabled(
                    active && !done && app.busy.is_none(),
                    egui::Checkbox::new(&mut yes, RichText::new(label).strong()),
                )
                .changed()
                && yes
            {
                app.send(Command::ConfirmPlan { custodian: name });
            }
            ui.add_space(16.0);
        }
    });
    let all_confirmed = app
        .snap
        .authenticated
        .iter()
        .all(|(n, _)| app.snap.plan_confirmed_by.contains(n));
    ui.add_space(6.0);
    widgets::digest_with_words(
        ui,
        "Request SHA256SUMS digest (read aloud; compare with the online side)",
        &r.sums_sha256,
    );
    if app.snap.request_digest_confirmed {
        widgets::badge(
            ui,
            Verdict::Pass,
            "Every custodian confirmed the plan; the request digest matched (journaled)",
        );
    } else if ui
        .add_enabled(
            active && all_confirmed && app.busy.is_none(),
            egui::Button::new("The digests match: confirm (journaled)"),
        )
        .on_disabled_hover_text("each custodian confirms the plan first")
        .clicked()
    {
        app.send(Command::ConfirmRequestDigest);
    }
    let used = ui.cursor().top() - below_top;
    if (used - below).abs() > 0.5 {
        ui.ctx().data_mut(|d| d.insert_temp(below_id, used));
        ui.ctx().request_repaint();
    }
}

/// "N × KEY_SPEC · WRAPPING_ALGORITHM" for each pair in the plan, the same
/// totals the CLI prints and the attestation carries.
pub fn totals(rows: &[PlanRow]) -> String {
    let mut by: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for r in rows {
        *by.entry((r.key_spec.as_str(), r.wrapping_algorithm.as_str()))
            .or_default() += 1;
    }
    by.iter()
        .map(|((spec, alg), n)| format!("{n} × {spec} · {alg}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The second line of a multi-Region key's Material cell: how many more
/// wrappings of the same HSM key (the Regions are named above the list).
pub fn replicas_line(regions: &[String]) -> String {
    format!(
        "+ {} replica{}",
        regions.len(),
        if regions.len() == 1 { "" } else { "s" }
    )
}

/// Above the list, when the request has multi-Region keys: each one with
/// every Region it is also wrapped for.
pub fn multi_region_line(rows: &[PlanRow]) -> Option<String> {
    let keys: Vec<String> = rows
        .iter()
        .filter(|r| !r.replica_regions.is_empty())
        .map(|r| {
            format!(
                "{} also wrapped for {}",
                r.name,
                r.replica_regions.join(", ")
            )
        })
        .collect();
    (!keys.is_empty()).then(|| format!("Multi-Region: {}.", keys.join("; ")))
}

/// The plan as a striped table; only the visible rows are laid out, so a
/// request of thousands of keys stays fast.
fn plan_table(ui: &mut egui::Ui, rows: &[PlanRow], max_height: f32) {
    // Two lines per key, three columns, so that every field fits 1024x768
    // without a horizontal scroll.
    let row_height = 52.0;
    // A solid, always-drawn scroll bar: the custodians must see that the
    // list goes on.
    ui.style_mut().spacing.scroll = egui::style::ScrollStyle::solid();
    egui::ScrollArea::vertical()
        .id_salt("plan-scroll")
        .max_height(max_height)
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
        .show_rows(ui, row_height, rows.len() + 1, |ui, range| {
            egui::Grid::new("plan-table")
                .striped(true)
                .spacing([24.0, 6.0])
                .show(ui, |ui| {
                    for i in range {
                        if i == 0 {
                            for h in ["Key / alias", "Key spec / wrapping algorithm", "Material"] {
                                ui.label(RichText::new(h).strong());
                            }
                        } else {
                            let r = &rows[i - 1];
                            ui.vertical(|ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(&r.name).monospace())
                                        .wrap_mode(egui::TextWrapMode::Extend),
                                );
                                ui.add(
                                    egui::Label::new(
                                        RichText::new(&r.alias).color(crate::gui::theme::MUTED),
                                    )
                                    .wrap_mode(egui::TextWrapMode::Extend),
                                );
                            });
                            ui.vertical(|ui| {
                                ui.label(&r.key_spec);
                                ui.label(&r.wrapping_algorithm);
                            });
                            ui.vertical(|ui| {
                                ui.label(&r.material);
                                if !r.replica_regions.is_empty() {
                                    ui.add(
                                        egui::Label::new(replicas_line(&r.replica_regions))
                                            .wrap_mode(egui::TextWrapMode::Extend),
                                    );
                                }
                            });
                        }
                        ui.end_row();
                    }
                });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(spec: &str, alg: &str) -> PlanRow {
        PlanRow {
            name: "k".into(),
            alias: "alias/k".into(),
            key_spec: spec.into(),
            wrapping_algorithm: alg.into(),
            material: "generate".into(),
            replica_regions: Vec::new(),
        }
    }

    #[test]
    fn a_multi_region_key_says_how_many_replicas_and_where() {
        assert_eq!(replicas_line(&["us-east-1".into()]), "+ 1 replica");
        let mut a = row("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256");
        a.name = "prod-s3".into();
        a.replica_regions = vec!["us-east-1".into(), "ap-southeast-2".into()];
        let mut b = row("ECC_NIST_P256", "RSA_AES_KEY_WRAP_SHA_256");
        b.name = "prod-signing".into();
        b.replica_regions = vec!["us-east-1".into()];
        let plain = row("HMAC_256", "RSAES_OAEP_SHA_256");
        assert_eq!(replicas_line(&a.replica_regions), "+ 2 replicas");
        assert_eq!(
            multi_region_line(&[a, plain.clone(), b]).unwrap(),
            "Multi-Region: prod-s3 also wrapped for us-east-1, ap-southeast-2; prod-signing also wrapped for us-east-1."
        );
        assert_eq!(multi_region_line(&[plain]), None);
    }

    #[test]
    fn totals_count_each_spec_and_algorithm_pair() {
        let rows = [
            row("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"),
            row("RSA_2048", "RSA_AES_KEY_WRAP_SHA_256"),
            row("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"),
        ];
        assert_eq!(
            totals(&rows),
            "1 × RSA_2048 · RSA_AES_KEY_WRAP_SHA_256, 2 × SYMMETRIC_DEFAULT · RSAES_OAEP_SHA_256"
        );
        assert_eq!(totals(&[]), "");
    }
}
