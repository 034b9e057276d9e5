//! The desktop app's Attestation step driven through its UI with
//! egui_kittest on a Kryoptic token: the custodians type bag serials and
//! choose Letter, the engine gets them before the wipe, Save writes the PDF
//! through the test folder picker, Print sends it to CUPS when a printer is
//! set up (else the window says plainly why not); the final attestation.pdf
//! the wipe writes carries the serials and the wipe result, and the bundle
//! still verifies.

#![cfg(feature = "gui")]

use std::path::Path;

use airlock_app::gui::Step;
use airlock_attest::Paper;
use airlock_test_kit::gui::*;
use airlock_test_kit::pdf::*;
use airlock_test_kit::*;
use eframe::egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

fn page_size(pdf: &Path) -> String {
    pdf_info(pdf)
        .lines()
        .find(|l| l.starts_with("Page size:"))
        .unwrap_or_default()
        .to_string()
}

/// Through generation, sealing and export, to the Attestation step.
fn to_attestation(h: &mut egui_kittest::Harness<'static, airlock_app::gui::GuiApp>) {
    through_generate(h);
    click(h, "Continue to Seal & export");
    click(h, "Seal and export");
    click(h, "Continue to Attestation");
}

#[test]
fn serials_and_letter_reach_the_saved_and_the_final_attestation() {
    let ws = Workstation::new(2, airlock_bin!());
    let save_dir = ws.bench.path("saved");
    std::fs::create_dir(&save_dir).unwrap();
    let mut h = harness(
        &ws,
        vec![
            ws.request_dir.clone(),
            ws.out_parent.clone(),
            save_dir.clone(),
        ],
    );
    through_generate(&mut h);
    click(&mut h, "Continue to Seal & export");
    click(&mut h, "Seal and export");
    let export = h.state().snapshot().export.clone().expect("exported");
    click(&mut h, "Continue to Attestation");
    assert!(
        h.state().error().is_none(),
        "preview failed: {:?}",
        h.state().error()
    );

    // The preview is built by the engine as soon as the step opens.
    let view = h
        .state()
        .snapshot()
        .attestation
        .clone()
        .expect("preview built");
    assert_eq!(view.preview.bundle_sums_sha256, export.sums_sha256);
    assert!(h.query_by_label("gui-test-request").is_some());
    assert!(h.query_by_label_contains("alice at ").is_some());
    assert!(h.query_by_label_contains("bob at ").is_some());
    for k in &view.preview.keys {
        assert!(h.query_by_label(&k.material_sha256_prefix).is_some());
    }
    let grouped = airlock_ceremony::words::paper_hex_lines(&export.sums_sha256).join("\n");
    assert!(h.query_by_label(&grouped).is_some());
    assert!(
        h.query_by_label_contains("NOT AIR-GAPPED").is_some(),
        "the network override (test machines are online) is shouted"
    );
    assert!(
        h.query_by_label_contains("written into the bundle at the Wipe step")
            .is_some()
    );

    // Typing serials and choosing Letter: not handed over until applied.
    let field = h.get_by_role(Role::MultilineTextInput);
    field.focus();
    field.type_text("BAG-7731, BAG-7732");
    h.step();
    click(&mut h, "Letter");
    assert!(
        h.query_by_label_contains("Changed: press Apply").is_some(),
        "unapplied changes are flagged"
    );
    assert!(
        h.query_by_label("Continue to Wipe").is_none(),
        "the wipe cannot start with serials the engine does not hold"
    );
    click(&mut h, "Apply to the attestation");
    let view = h.state().snapshot().attestation.clone().unwrap();
    assert_eq!(view.seal_serials, vec!["BAG-7731", "BAG-7732"]);
    assert_eq!(view.paper, Paper::Letter);
    assert!(h.query_by_label_contains("BAG-7731, BAG-7732").is_some());

    // Save through the test picker.
    click(&mut h, "Save PDF…");
    assert!(
        h.state().error().is_none(),
        "save failed: {:?}",
        h.state().error()
    );
    let saved = save_dir.join("attestation.pdf");
    assert!(saved.is_file(), "{} not written", saved.display());
    let text = pdf_text(&saved);
    assert!(
        text.contains("BAG-7731") && text.contains("BAG-7732"),
        "{text}"
    );
    assert!(text.contains(&export.sums_sha256[..4]), "{text}");
    assert!(text.contains("NOT YET RECORDED"), "{text}");
    assert!(page_size(&saved).contains("612 x 792"), "Letter paper");
    assert!(
        h.query_by_label_contains("Saved the attestation to")
            .is_some()
    );

    // Print: on a machine with a CUPS queue the job id is shown; without
    // one the window says why and points at Save.
    match &view.printers {
        Ok(printers) => {
            assert!(!printers.is_empty());
            click(&mut h, "Print");
            assert!(
                h.state().error().is_none(),
                "print failed: {:?}",
                h.state().error()
            );
            assert!(
                h.query_by_label_contains("as job").is_some(),
                "job id not shown"
            );
        }
        Err(why) => {
            assert!(
                h.query_by_label_contains("Printing is not available")
                    .is_some(),
                "{why}"
            );
            assert!(h.query_by_label("Print").is_none());
        }
    }

    click(&mut h, "Continue to Wipe");
    confirm_and_wipe(&mut h);
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    click(&mut h, "Continue to Done");
    assert_eq!(h.state().current_step(), Step::Done);
    let final_pdf = h
        .state()
        .snapshot()
        .attestation_pdf
        .clone()
        .expect("final attestation written");
    assert_eq!(final_pdf, ws.bundle_dir().join("attestation.pdf"));
    assert!(
        h.query_by_label(&final_pdf.display().to_string()).is_some(),
        "final path shown on Done"
    );
    let text = pdf_text(&final_pdf);
    assert!(text.contains("BAG-7731"), "{text}");
    assert!(
        text.contains("overwritten and removed") && text.contains("ceremony_completed"),
        "wipe result missing: {text}"
    );
    assert!(page_size(&final_pdf).contains("612 x 792"), "Letter paper");
    if view.printers.is_ok() {
        click(&mut h, "Print the final attestation");
        assert!(h.state().error().is_none(), "{:?}", h.state().error());
        assert!(
            h.query_by_label_contains("attestation.pdf to printer")
                .is_some()
        );
    }

    ws.bench.assert_bundle_verifies(&ws.bundle_dir());
}

#[test]
fn a_bad_serial_shows_the_engine_error_and_keeps_the_wipe_locked() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone(), ws.out_parent.clone()]);
    to_attestation(&mut h);
    let field = h.get_by_role(Role::MultilineTextInput);
    field.focus();
    field.type_text(&"X".repeat(70));
    h.step();
    click(&mut h, "Apply to the attestation");
    let err = h
        .state()
        .error()
        .cloned()
        .expect("too long a serial refused");
    assert!(err.message.contains("seal serial #1"), "{}", err.message);
    assert!(h.query_by_label(&err.message).is_some());
    assert!(h.query_by_label("Continue to Wipe").is_none());
    assert!(
        h.state()
            .snapshot()
            .attestation
            .as_ref()
            .unwrap()
            .seal_serials
            .is_empty()
    );
}

#[test]
fn a_serial_typed_key_by_key_is_never_lost_while_the_badge_changes() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone(), ws.out_parent.clone()]);
    to_attestation(&mut h);
    assert!(h.query_by_label_contains("No bag serials typed").is_some());
    // One key a frame, as a custodian types: the first key flips the badge
    // from the warning to "Changed" and hides the no-bags button.
    h.get_by_role(Role::MultilineTextInput).focus();
    for ch in "TEB-500001".chars() {
        h.get_by_role(Role::MultilineTextInput)
            .type_text(&ch.to_string());
        h.step();
        h.step();
    }
    assert!(h.query_by_label_contains("Changed: press Apply").is_some());
    assert!(
        h.query_by_label("Confirm: no tamper-evident bags are used")
            .is_none()
    );
    click(&mut h, "Apply to the attestation");
    let view = h.state().snapshot().attestation.clone().unwrap();
    assert_eq!(view.seal_serials, vec!["TEB-500001"], "keystrokes lost");
    assert!(!view.no_bags_confirmed);
    assert!(h.query_by_label("Continue to Wipe").is_some());
}
