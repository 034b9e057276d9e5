//! Issue 13 in the window: a request that re-wraps existing HSM material
//! shows that material after the login (label, the ARN it was made for,
//! the new ARN, KCV, wrapping key) and wraps nothing until the custodians
//! typed its code; the confirmation is journaled by the engine.

#![cfg(feature = "gui")]

use airlock_test_kit::gui::*;
use airlock_test_kit::*;
use egui_kittest::kittest::Queryable;

#[test]
fn existing_material_is_shown_and_confirmed_in_the_window_before_it_is_wrapped() {
    let ws = Workstation::with(1, &["--allow-existing-material"], airlock_bin!());
    // A first ceremony (CLI) generates gui-key-00001/gui-test-request.
    let first = ws.bench.path("first");
    let out = ws.bench.run_ceremony(&ws.request_dir, &first, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("import.json")).unwrap()).unwrap();
    let kcv = manifest["keys"][0]["kcv"].as_str().unwrap().to_string();

    // The re-import request for the same KMS key.
    let again = ws.bench.path("usb/again");
    make_request(
        &again,
        &[
            "--request-id",
            "gui-again",
            "--key",
            "gui-key-00001:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096:EXISTING_KEY_MATERIAL:gui-key-00001/gui-test-request",
        ],
    );

    let mut h = harness(&ws, vec![again.clone(), ws.out_parent.clone()]);
    through_generate(&mut h);
    // Logged in, nothing wrapped: the material is shown for confirmation.
    assert!(h.state().progress().done.is_empty());
    let pending = h.state().snapshot().existing_pending.clone();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kcv.as_deref(), Some(kcv.as_str()));
    assert!(
        h.query_by_label_contains("gui-key-00001/gui-test-request")
            .is_some()
    );
    assert!(h.query_by_label_contains("Continue to Seal").is_none());
    let field = h.get_by_role(eframe::egui::accesskit::Role::TextInput);
    field.focus();
    field.type_text("000000");
    h.step();
    click(&mut h, "Confirm existing material and generate");
    assert!(h.state().error().is_some(), "a wrong code is refused");
    assert!(h.state().progress().done.is_empty());
    // The right code, confirmed again: now it is wrapped, as the same key.
    h.get_by_role(eframe::egui::accesskit::Role::TextInput)
        .focus();
    h.step();
    h.get_by_role(eframe::egui::accesskit::Role::TextInput)
        .type_text(&kcv);
    h.step();
    h.step();
    click(&mut h, "Confirm existing material and generate");
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert!(
        h.state().error().is_none(),
        "{:?}\n{}",
        h.state().error(),
        std::fs::read_to_string(&journal).unwrap()
    );
    assert_eq!(h.state().progress().done.len(), 1);
    assert_eq!(
        h.state().progress().done[0].kcv.as_deref(),
        Some(kcv.as_str())
    );
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    let text = std::fs::read_to_string(journal).unwrap();
    assert!(
        text.contains("existing_material_confirmed"),
        "journaled by the engine"
    );
    assert!(text.contains("existing_material_refused"));
}

#[test]
fn with_wrap_with_trusted_the_security_officer_types_the_so_pin_in_the_window_before_the_login() {
    let ws = Workstation::with(1, &["--wrap-with-trusted"], airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone(), ws.out_parent.clone()]);
    to_review(&mut h);
    confirm_review(&mut h);
    click(&mut h, "Continue to Generate & wrap");
    choose_output(&mut h);
    assert!(h.state().snapshot().needs_security_officer);
    // No SO PIN typed: the login cannot start.
    h.get_by_label("Log in and generate").click();
    settle(&mut h);
    assert!(
        h.state().snapshot().self_tests.is_none(),
        "logged in without the SO"
    );
    let field = h.get_by_role(eframe::egui::accesskit::Role::PasswordInput);
    field.focus();
    field.type_text(ws.bench.token.so_pin().as_str());
    h.step();
    click(&mut h, "Log in and generate");
    // Kryoptic has no CKA_TRUSTED (SoftHSM2 has; the CLI test in
    // insider.rs runs the whole ceremony there): the SO's step reached the
    // token, which refused clearly, and nothing was logged in or made.
    let e = h.state().error().expect("Kryoptic refuses CKA_TRUSTED");
    assert!(e.message.contains("CKA_TRUSTED"), "{e:?}");
    assert!(!h.state().snapshot().trusted_marked);
    assert!(h.state().snapshot().self_tests.is_none());
    assert!(h.state().progress().done.is_empty());
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    let text = std::fs::read_to_string(journal).unwrap();
    assert!(text.contains("mark_trusted_wrapping_keys") && !text.contains("quorum_login"));
}
