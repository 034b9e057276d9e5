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
        "Request {}: {} keys for AWS account {}.",
        r.request_id,
        r.plan.len(),
        r.account
    ));
    // What the list showed in the last frame (egui draws it below this
    // line): the "Keys 1–8 of 300" count, and whether the last key has
    // been on screen. The confirmations open only then: nobody confirms a
    // plan they have not scrolled through.
    let range_id = ui.scope_id().with(("plan-range", &r.request_id));
    let seen_id = ui.scope_id().with(("plan-seen-to-end", &r.request_id));
    let (first, last) = ui
        .ctx()
        .data(|d| d.get_temp::<(usize, usize)>(range_id))
        .unwrap_or((0, 0));
    let seen = ui
        .ctx()
        .data(|d| d.get_temp::<bool>(seen_id))
        .unwrap_or(false);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{}.", range_line(first, last, r.plan.len()))).strong());
        ui.label(format!("Totals: {}.", totals(&r.plan)));
        if let Some(line) = multi_region_line(&r.plan) {
            // Every replica Region, in full, above the list: one more copy
            // of a key leaves the HSM for each.
            ui.label(RichText::new(line).strong());
        }
        if !seen {
            ui.label(
                RichText::new(
                    "Scroll to the last key: the confirmations open once every key has been on screen.",
                )
                .color(crate::gui::theme::WARN),
            );
        }
    });
    // The confirmations and the digest stay on screen (1024x768 too): the
    // list gets what is left above the height they took in the last frame
    // (it depends on the width: the PGP words wrap), and scrolls; at least
    // one key stays in view.
    let below_id = ui.scope_id().with("review-below-table");
    let below = ui
        .ctx()
        .data(|d| d.get_temp::<f32>(below_id))
        .unwrap_or(360.0);
    let table_height = (ui.available_height() - below - 8.0).clamp(ROW_HEIGHT + 24.0, 420.0);
    let shown = plan_table(ui, &r.plan, table_height);
    if shown != (first, last) || (!seen && shown.1 == r.plan.len()) {
        ui.ctx().data_mut(|d| {
            d.insert_temp(range_id, shown);
            if shown.1 == r.plan.len() {
                d.insert_temp(seen_id, true);
            }
        });
        ui.ctx().request_repaint();
    }
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
                    active && seen && !done && app.busy.is_none(),
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
    } else {
        let can = active && all_confirmed && app.busy.is_none();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    can,
                    egui::Button::new("The digests match: confirm (journaled)"),
                )
                .on_disabled_hover_text("each custodian confirms the plan first")
                .clicked()
            {
                app.send(Command::ConfirmRequestDigest);
            }
            if ui
                .add_enabled(can, egui::Button::new("Read aloud, full screen…"))
                .clicked()
            {
                app.open_read_aloud(crate::gui::read_aloud::DigestKind::Request, &r.sums_sha256);
            }
        });
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

/// Height of one key in the plan list: three lines (name, alias and the
/// other columns; the ARN in full underneath).
const ROW_HEIGHT: f32 = 70.0;

/// The plan as a striped list with a fixed header; only the visible rows
/// are laid out, so a request of thousands of keys stays fast. Returns the
/// range of keys on screen (1-based, inclusive) for the "1–8 of 300"
/// count and the seen-to-the-end rule.
fn plan_table(ui: &mut egui::Ui, rows: &[PlanRow], max_height: f32) -> (usize, usize) {
    let widths = |w: f32| [w * 0.30, w * 0.40, w * 0.30];
    let header_w = widths(ui.available_width() - 16.0);
    let top = ui.cursor().top();
    ui.horizontal(|ui| {
        for (h, w) in ["Key / alias", "Key spec / wrapping algorithm", "Material"]
            .into_iter()
            .zip(header_w)
        {
            ui.allocate_ui_with_layout(
                egui::vec2(w, 20.0),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_width(w);
                    ui.label(RichText::new(h).strong());
                },
            );
        }
    });
    // A solid, always-drawn scroll bar: the custodians must see that the
    // list goes on.
    ui.style_mut().spacing.scroll = egui::style::ScrollStyle::solid();
    let mut shown = (0, 0);
    // `max_height` is for the header and the list together.
    let header = ui.cursor().top() - top;
    egui::ScrollArea::vertical()
        .id_salt("plan-scroll")
        .max_height((max_height - header).max(ROW_HEIGHT))
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
        .show_viewport(ui, |ui, viewport| {
            // Only the rows in view are laid out. The count is of the rows
            // *wholly* in view, so "of 300" and the seen-to-the-end rule
            // never count a key whose ARN is cut off.
            let total = rows.len();
            ui.set_height(total as f32 * ROW_HEIGHT);
            let first = ((viewport.min.y / ROW_HEIGHT).floor().max(0.0) as usize).min(total);
            let drawn_end = ((viewport.max.y / ROW_HEIGHT).ceil().max(0.0) as usize).min(total);
            let whole_first = ((viewport.min.y / ROW_HEIGHT).ceil().max(0.0) as usize).min(total);
            let whole_end =
                ((viewport.max.y / ROW_HEIGHT + 0.01).floor().max(0.0) as usize).min(total);
            shown = if whole_end > whole_first {
                (whole_first + 1, whole_end)
            } else {
                (first + 1, first + 1)
            };
            let origin = ui.min_rect().min;
            let width = ui.available_width();
            for (i, r) in rows.iter().enumerate().take(drawn_end).skip(first) {
                let rect = egui::Rect::from_min_size(
                    origin + egui::vec2(0.0, i as f32 * ROW_HEIGHT),
                    egui::vec2(width, ROW_HEIGHT),
                );
                ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
                    plan_row(ui, r, i % 2 == 1, widths(width));
                });
            }
        });
    shown
}

fn plan_row(ui: &mut egui::Ui, r: &PlanRow, shaded: bool, w: [f32; 3]) {
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), ROW_HEIGHT),
        egui::Sense::hover(),
    );
    if shaded {
        ui.painter()
            .rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
    }
    let mut row = ui.new_child(egui::UiBuilder::new().max_rect(rect.shrink2(egui::vec2(0.0, 3.0))));
    row.spacing_mut().item_spacing.y = 2.0;
    row.horizontal_top(|ui| {
        let cell = |ui: &mut egui::Ui, width: f32, lines: &[RichText]| {
            ui.allocate_ui_with_layout(
                egui::vec2(width, 46.0),
                egui::Layout::top_down(egui::Align::Min),
                |ui| {
                    ui.set_width(width);
                    for l in lines {
                        ui.add(egui::Label::new(l.clone()).truncate());
                    }
                },
            );
        };
        cell(
            ui,
            w[0],
            &[
                RichText::new(&r.name).monospace(),
                RichText::new(&r.alias).color(crate::gui::theme::MUTED),
            ],
        );
        cell(
            ui,
            w[1],
            &[
                RichText::new(&r.key_spec),
                RichText::new(&r.wrapping_algorithm),
            ],
        );
        let mut material = vec![RichText::new(&r.material)];
        if !r.replica_regions.is_empty() {
            material.push(RichText::new(replicas_line(&r.replica_regions)));
        }
        cell(ui, w[2], &material);
    });
    // The ARN in full (never truncated): what the HSM key is wrapped for.
    row.add(
        egui::Label::new(RichText::new(&r.key_arn).monospace().size(14.0))
            .wrap_mode(egui::TextWrapMode::Wrap),
    );
}

/// "Keys 1–8 of 300" for the list's visible range.
pub fn range_line(first: usize, last: usize, total: usize) -> String {
    format!("Keys {first}–{last} of {total}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(spec: &str, alg: &str) -> PlanRow {
        PlanRow {
            name: "k".into(),
            alias: "alias/k".into(),
            key_arn: "arn:aws:kms:eu-west-1:111122223333:key/00000001-0000-4000-8000-000000000001"
                .into(),
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
