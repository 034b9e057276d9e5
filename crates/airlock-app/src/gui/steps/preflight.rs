//! Step 1, Preflight: the overrides (rehearsals only), then the engine's
//! preflight: air gap, clock, HSM open and probe, roster, configuration.

use airlock_ceremony::CeremonyOptions;
use eframe::egui::{self, RichText};

use crate::gui::app::GuiApp;
use crate::gui::theme;
use crate::gui::widgets::{self, Verdict};
use crate::gui::worker::Command;

/// Sends preflight with the chosen overrides.
pub fn start(app: &mut GuiApp) {
    let o = app.overrides;
    app.send(Command::Preflight {
        config: Box::new(app.config.clone()),
        opts: CeremonyOptions {
            allow_sha1: o.allow_sha1,
            allow_network: o.allow_network,
            wipe_request: o.wipe_request,
            allow_unlocked_memory: o.allow_unlocked_memory,
        },
    });
}

/// Draws the step.
pub fn show(app: &mut GuiApp, ui: &mut egui::Ui, active: bool) {
    let Some(p) = app.snap.preflight.clone() else {
        ui.label(format!(
            "Configuration: {} ({})",
            app.config.source.display(),
            app.config.origin
        ));
        ui.label("Checks the air gap, shows the workstation clock, opens and probes the HSM, and loads the roster.");
        ui.add_space(8.0);
        ui.label(
            RichText::new("Rehearsal overrides (journaled, printed on the attestation):").strong(),
        );
        ui.add_enabled_ui(active, |ui| {
            ui.checkbox(
                &mut app.overrides.allow_network,
                "Allow network (NOT AIR-GAPPED; rehearsals only)",
            );
            ui.checkbox(
                &mut app.overrides.allow_sha1,
                "Accept SHA-1 wrapping algorithms",
            );
            ui.checkbox(
                &mut app.overrides.wipe_request,
                "Also wipe the request bundle at the end",
            );
            ui.checkbox(
                &mut app.overrides.allow_unlocked_memory,
                "Run without locked memory (secrets may reach swap; rehearsals only)",
            );
        });
        ui.add_space(8.0);
        if ui
            .add_enabled(
                active && app.error.is_none(),
                egui::Button::new("Run preflight"),
            )
            .clicked()
        {
            start(app);
        }
        return;
    };
    if p.air_gapped {
        widgets::badge(ui, Verdict::Pass, "Air gap: only loopback is up");
    } else {
        widgets::badge(
            ui,
            Verdict::Warn,
            &format!(
                "NOT AIR-GAPPED: {} up (override given)",
                p.interfaces_up.join(", ")
            ),
        );
    }
    widgets::badge(
        ui,
        Verdict::Pass,
        "HSM opened and probed; roster matches this token",
    );
    ui.label(
        RichText::new(format!("Workstation clock (UTC): {}", p.clock))
            .size(26.0)
            .strong(),
    );
    ui.label(RichText::new("Check it against a trusted clock now.").color(theme::MUTED));
    let mut rows: Vec<(&str, String)> = vec![("Hostname", p.hostname.clone())];
    rows.extend(p.token.iter().map(|(k, v)| (*k, v.clone())));
    rows.push(("Configuration", p.config.display().to_string()));
    rows.push(("Mechanisms listed", p.mechanism_count.to_string()));
    widgets::facts(ui, "preflight-facts", &rows);
    ui.add_space(8.0);
    ui.label(RichText::new("Wrap paths the HSM offers (self-tested at login):").strong());
    egui::Grid::new("preflight-plans")
        .striped(true)
        .spacing([24.0, 6.0])
        .show(ui, |ui| {
            for (alg, plan) in &p.wrap_plans {
                ui.label(RichText::new(alg).monospace());
                ui.label(plan);
                ui.end_row();
            }
        });
    let missing: Vec<&str> = p
        .mechanisms
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        ui.label(
            RichText::new(format!("Not offered by this token: {}", missing.join(", ")))
                .color(theme::MUTED),
        );
    }
}
