//! The desktop app driven through its UI with egui_kittest on a Kryoptic
//! token: a whole ceremony (custodians typing passphrases, folders handed
//! over by the test picker) whose bundle `airlock bundle verify` accepts;
//! steps that cannot be entered early; a wrong passphrase showing the
//! engine's error; abort and close-mid-ceremony wiping.

#![cfg(feature = "gui")]

use airlock_app::gui::Step;
use airlock_test_kit::gui::*;
use airlock_test_kit::*;
use egui_kittest::kittest::{NodeT, Queryable};

#[test]
fn whole_ceremony_through_the_window_makes_a_bundle_that_verifies() {
    let ws = Workstation::new(3, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone(), ws.out_parent.clone()]);
    through_generate(&mut h);
    assert_eq!(h.state().progress().done.len(), 3);
    click(&mut h, "Continue to Seal & export");
    click(&mut h, "Seal and export");
    assert!(
        h.state().error().is_none(),
        "export failed: {:?}",
        h.state().error()
    );
    let export = h.state().snapshot().export.clone().expect("exported");
    assert_eq!(export.path, ws.bundle_dir());
    // The digest is shown grouped in fours.
    let grouped = airlock_ceremony::words::paper_hex_lines(&export.sums_sha256).join("\n");
    assert!(
        h.query_by_label(&grouped).is_some(),
        "digest {grouped} not shown"
    );
    // Once the bundle is published, Abort is disabled: only the wipe
    // follows a published bundle.
    assert!(
        h.get_by_label("Abort ceremony…")
            .accesskit_node()
            .is_disabled(),
        "Abort still enabled after publication"
    );
    click(&mut h, "Continue to Attestation");
    // No bag serial typed: a warning, and no way on to the wipe until the
    // custodians confirm that no bags are used.
    assert!(
        h.query_by_label_contains("No bag serials typed").is_some(),
        "an empty serial field is not a pass"
    );
    assert!(
        h.query_by_label("Continue to Wipe").is_none(),
        "the wipe is reachable with no serials and no confirmation"
    );
    click(&mut h, "Confirm: no tamper-evident bags are used");
    assert!(
        h.query_by_label_contains("Confirmed and journaled: no tamper-evident bags")
            .is_some()
    );
    click(&mut h, "Continue to Wipe");
    // The wipe waits for the bundle digest's read-aloud.
    assert!(
        h.get_by_label("Wipe and log out")
            .accesskit_node()
            .is_disabled(),
        "Wipe enabled before the bundle digest was confirmed"
    );
    confirm_and_wipe(&mut h);
    let wipe = h.state().snapshot().wipe.clone().expect("wiped");
    assert_eq!(wipe.session_objects_remaining, 0);
    assert!(h.query_by_label_contains("Wiped and logged out").is_some());
    click(&mut h, "Continue to Done");
    assert_eq!(h.state().current_step(), Step::Done);
    assert!(h.query_by_label_contains("Ceremony complete").is_some());
    let words = airlock_ceremony::words::pgp_words_for_hex(&export.sums_sha256).unwrap();
    assert!(
        h.query_by_label(&format!("PGP words:  {words}")).is_some(),
        "PGP words not shown"
    );
    assert!(
        h.state().close_allowed(),
        "a finished ceremony closes without asking"
    );

    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert_eq!(last_journal_event(&journal), "ceremony_completed");
    // Every confirmation the window showed was journaled by the engine, in
    // order: both plan ticks and the request digest before the login, the
    // bundle digest before the wipe.
    let events: Vec<String> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let at = |e: &str| {
        events
            .iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("no {e}: {events:?}"))
    };
    assert_eq!(events.iter().filter(|e| *e == "plan_confirmed").count(), 2);
    assert!(at("plan_confirmed") < at("quorum_login"));
    assert!(at("request_digest_confirmed") < at("quorum_login"));
    assert!(at("bundle_published") < at("bundle_digest_confirmed"));
    assert!(at("bundle_digest_confirmed") < at("wipe_done"));
    assert!(at("bundle_published") < at("no_seal_serials_confirmed"));
    assert!(at("no_seal_serials_confirmed") < at("wipe_done"));
    // The final attestation says so instead of blank serial lines.
    let pdf = ws.bundle_dir().join("attestation.pdf");
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("no tamper-evident bags were used"), "{text}");
    ws.bench.assert_bundle_verifies(&ws.bundle_dir());
}

#[test]
fn locked_steps_cannot_be_entered_by_clicking() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone()]);
    // Before preflight: no way forward, locked steps do nothing.
    assert!(h.query_by_label_contains("Continue to").is_none());
    click_containing(&mut h, "Generate & wrap (locked)");
    assert_eq!(h.state().viewing_step(), Step::Preflight);
    assert_eq!(h.state().current_step(), Step::Preflight);

    preflight(&mut h);
    assert_eq!(h.state().current_step(), Step::Custodians);
    // One custodian of two: the Request step stays locked.
    authenticate(&mut h, "alice", CUSTODIANS[0].1);
    assert!(h.query_by_label_contains("Continue to").is_none());
    click_containing(&mut h, "Request (locked)");
    click_containing(&mut h, "Done (locked)");
    assert_eq!(h.state().current_step(), Step::Custodians);
    assert_eq!(h.state().viewing_step(), Step::Custodians);
    // A finished step can be looked at, but its action is gone.
    click_containing(&mut h, "1. Preflight (done)");
    assert_eq!(h.state().viewing_step(), Step::Preflight);
    assert!(h.query_by_label("Run preflight").is_none());
    click(&mut h, "Back to step 2");
    assert_eq!(h.state().viewing_step(), Step::Custodians);
}

#[test]
fn a_wrong_passphrase_shows_the_engine_error_and_clears_the_field() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![]);
    preflight(&mut h);
    authenticate(&mut h, "alice", "not alice's passphrase");
    let err = h
        .state()
        .error()
        .cloned()
        .expect("the engine refused the passphrase");
    assert!(
        h.query_by_label(&err.message).is_some(),
        "error not shown in full: {}",
        err.message
    );
    assert!(h.query_by_label_contains("This step failed").is_some());
    assert!(h.query_by_label_contains("What to do").is_some());
    assert!(h.state().snapshot().authenticated.is_empty());
    let field = h.get_by_role(eframe::egui::accesskit::Role::PasswordInput);
    assert!(
        field.value().unwrap_or_default().is_empty(),
        "the passphrase field was not cleared"
    );
    // The right passphrase then works.
    authenticate(&mut h, "alice", CUSTODIANS[0].1);
    assert!(h.state().error().is_none());
    assert_eq!(h.state().snapshot().authenticated.len(), 1);
}

#[test]
fn abort_after_generation_wipes_and_logs_out() {
    let ws = Workstation::new(2, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone(), ws.out_parent.clone()]);
    through_generate(&mut h);
    let id = h.state().snapshot().ceremony_id.clone().unwrap();
    let work = ws.state_dir().join("ceremonies").join(&id).join("work");
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert!(journal.starts_with(ws.state_dir()));
    click(&mut h, "Abort ceremony…");
    click(&mut h, "Abort: wipe and log out");
    assert!(h.state().aborted());
    let wipe = h.state().snapshot().wipe.clone().expect("abort wiped");
    assert_eq!(wipe.session_objects_remaining, 0);
    // The wrapped keys were held in memory, never written to the working
    // folder: there was nothing on disk to wipe.
    assert_eq!(
        wipe.work_dir.files, 0,
        "wrapped material reached the disk: {wipe:?}"
    );
    assert!(
        !work.exists(),
        "working folder {} still there",
        work.display()
    );
    assert_eq!(last_journal_event(&journal), "ceremony_aborted");
    assert!(h.query_by_label_contains("Ceremony aborted").is_some());
    assert!(h.state().close_allowed());
}

#[test]
fn closing_mid_ceremony_asks_then_aborts() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone()]);
    choose_request(&mut h);
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert!(
        !h.state_mut().request_close(),
        "closing mid-ceremony must ask first"
    );
    settle(&mut h);
    click(&mut h, "Keep the ceremony going");
    assert!(!h.state().aborted());
    assert!(!h.state_mut().request_close());
    settle(&mut h);
    click(&mut h, "Abort and close");
    assert!(h.state().aborted());
    assert!(h.state().close_allowed());
    assert_eq!(last_journal_event(&journal), "ceremony_aborted");
}

#[test]
fn the_journal_window_opens_from_any_step() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![ws.request_dir.clone()]);
    click(&mut h, "Journal");
    assert!(
        h.query_by_label_contains("The journal file opens when the request is verified")
            .is_some()
    );
    preflight(&mut h);
    for (n, p) in CUSTODIANS {
        authenticate(&mut h, n, p);
    }
    click(&mut h, "Continue to Request");
    click(&mut h, "Choose the request folder…");
    // The window is still open; it now reads the file.
    assert!(
        h.query_by_label_contains("request_verified").is_some(),
        "journal events not listed"
    );
    assert_eq!(
        h.query_all_by_label_contains("custodian_authenticated")
            .count(),
        2
    );
}

#[test]
fn review_keeps_the_totals_confirmations_and_digest_on_screen_at_1024x768() {
    let ws = Workstation::new(9, airlock_bin!());
    let mut h = harness_sized(&ws, vec![ws.request_dir.clone()], [1024.0, 768.0]);
    to_review(&mut h);
    let on_screen = |h: &egui_kittest::Harness<'static, airlock_app::gui::GuiApp>, label: &str| {
        let r = h.get_by_label_contains(label).rect();
        assert!(
            r.max.y <= 768.0 && r.max.x <= 1024.0,
            "{label:?} is off a 1024x768 screen at {r:?}"
        );
    };
    for label in [
        "keys for AWS account ",
        "Totals: 9 × ",
        "alice confirms the plan",
        "bob confirms the plan",
        "The digests match: confirm (journaled)",
    ] {
        on_screen(&h, label);
    }
    confirm_review(&mut h);
    on_screen(&h, "Continue to Generate & wrap");
    // The top bar: the ceremony id never runs under the clock and buttons.
    let ceremony_id = h.state().snapshot().ceremony_id.clone().unwrap();
    let id = h.get_by_label_contains(&ceremony_id[..8]).rect();
    let clock = h
        .query_all_by_label_contains("UTC ")
        .next()
        .expect("the clock")
        .rect();
    let journal = h.get_by_label("Journal").rect();
    assert!(
        id.max.x <= clock.min.x && clock.max.x <= journal.min.x,
        "top bar overlaps at 1024x768: id {id:?}, clock {clock:?}, Journal {journal:?}"
    );
}

#[test]
fn review_shows_each_multi_region_key_with_its_replica_regions_at_1024x768() {
    let ws = Workstation::new(1, airlock_bin!());
    let request = ws.bench.path("usb/request-mrk");
    make_request(
        &request,
        &[
            "--request-id",
            "gui-mrk-request",
            "--key",
            "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
            "--replica",
            "prod-s3:us-east-1:RSAES_OAEP_SHA_256:RSA_2048",
            "--replica",
            "prod-s3:ap-southeast-2:RSAES_OAEP_SHA_256:RSA_2048",
            "--key",
            "plain:HMAC_256:RSAES_OAEP_SHA_256:RSA_4096",
        ],
    );
    let mut h = harness_sized(&ws, vec![request], [1024.0, 768.0]);
    to_review(&mut h);
    for label in [
        "+ 2 replicas",
        "Multi-Region: prod-s3 also wrapped for us-east-1, ap-southeast-2.",
        "alice confirms the plan",
        "The digests match: confirm (journaled)",
    ] {
        let r = h.get_by_label(label).rect();
        assert!(
            r.max.y <= 768.0 && r.max.x <= 1024.0,
            "{label:?} is off a 1024x768 screen at {r:?}"
        );
    }
    // Only the multi-Region key has a replicas line in the list.
    // ("replica" is also a PGP word, so only the "+ N replica" lines.)
    let replica_labels: Vec<String> = h
        .query_all_by_label_contains("replica")
        .filter_map(|n| n.accesskit_node().value())
        .filter(|v| v.starts_with("+ "))
        .collect();
    assert_eq!(replica_labels, ["+ 2 replicas"]);
    let plan = h.state().snapshot().request.clone().unwrap().plan;
    assert_eq!(plan[0].replica_regions, ["us-east-1", "ap-southeast-2"]);
    assert!(plan[1].replica_regions.is_empty());
}

#[test]
fn an_error_says_its_class_and_what_to_do_from_the_exit_code_table() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness(&ws, vec![]);
    preflight(&mut h);
    authenticate(&mut h, "alice", "not alice's passphrase");
    let what = airlock_core::exit::ExitCode::Quorum
        .guidance()
        .unwrap()
        .what_to_do;
    assert!(
        h.query_by_label("This step failed: Quorum (exit code 40)")
            .is_some()
    );
    assert!(h.query_by_label(&format!("What to do: {what}")).is_some());
    assert!(
        h.query_by_label("STOP").is_none(),
        "a typo is not tampering"
    );
    assert!(
        h.query_by_label_contains("What it means for the quorum")
            .is_none()
    );
    // The third wrong passphrase in a row locks alice out: with 2 of 2
    // enrolled, nobody can stand in.
    authenticate(&mut h, "alice", "not alice's passphrase");
    authenticate(&mut h, "alice", "not alice's passphrase");
    let err = h.state().error().cloned().unwrap();
    assert_eq!(err.locked_out.as_deref(), Some("alice"), "{err:?}");
    assert!(
        h.query_by_label_contains(
            "What it means for the quorum: alice cannot log in again in this ceremony, and \
             without alice fewer than the 2 custodians needed are enrolled."
        )
        .is_some()
    );
}

#[test]
fn a_request_changed_after_signing_is_a_red_stop_with_no_retry() {
    let ws = Workstation::new(1, airlock_bin!());
    // One byte of a listed file changed after the online side signed.
    let token = ws.request_dir.join("keys/gui-key-00001/ImportToken.bin");
    let mut bytes = std::fs::read(&token).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&token, bytes).unwrap();
    let mut h = harness(&ws, vec![ws.request_dir.clone()]);
    choose_request(&mut h);
    let err = h.state().error().cloned().expect("the request is refused");
    assert_eq!(err.exit_code, airlock_core::exit::ExitCode::Checksums);
    assert!(h.query_by_label("STOP").is_some());
    assert!(
        h.query_by_label_contains("Keep the USB medium exactly as it is, as evidence")
            .is_some()
    );
    assert!(
        h.query_by_label("Possible tampering: Checksums (exit code 11)")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("What to do: The bundle was damaged")
            .is_some()
    );
    // Only the way out, never "try again" on a tampered medium.
    assert!(h.query_by_label("Abort ceremony").is_some());
    assert!(h.query_by_label_contains("Retry").is_none());
    assert!(h.query_by_label_contains("Try again").is_none());
}

#[test]
fn the_plan_confirmations_open_only_after_the_last_of_300_keys_was_on_screen() {
    let ws = Workstation::new(300, airlock_bin!());
    let mut h = harness_sized(&ws, vec![ws.request_dir.clone()], [1024.0, 768.0]);
    to_review(&mut h);
    let (first, last, total) = plan_range(&h);
    assert_eq!((first, total), (1, 300));
    assert!(last < 300, "all 300 keys cannot fit at 1024x768");
    assert!(
        h.query_by_label_contains("Scroll to the last key")
            .is_some(),
        "no hint that the list goes on"
    );
    // Every visible key shows its ARN in full.
    let arn = h.state().snapshot().request.clone().unwrap().plan[0]
        .key_arn
        .clone();
    assert!(h.query_by_label(&arn).is_some(), "{arn} not shown");
    // Ticking the plan before reading it does nothing: the box is disabled.
    click_containing(&mut h, "alice confirms the plan");
    assert!(h.state().snapshot().plan_confirmed_by.is_empty());
    let steps = scroll_plan_to_end(&mut h);
    assert!(steps > 10, "the list was scrolled ({steps} steps)");
    assert_eq!(plan_range(&h).1, 300);
    assert!(
        h.query_by_label_contains("Scroll to the last key")
            .is_none()
    );
    click_containing(&mut h, "alice confirms the plan");
    assert_eq!(h.state().snapshot().plan_confirmed_by, ["alice"]);
}

#[test]
fn the_request_digest_is_read_aloud_full_screen_group_by_group_then_journaled() {
    let ws = Workstation::new(2, airlock_bin!());
    let mut h = harness_sized(&ws, vec![ws.request_dir.clone()], [1024.0, 768.0]);
    to_review(&mut h);
    scroll_plan_to_end(&mut h);
    for (n, _) in CUSTODIANS {
        click_containing(&mut h, &format!("{n} confirms the plan"));
    }
    click(&mut h, "Read aloud, full screen…");
    let hex = request_digest(&ws.request_dir).unwrap();
    let groups = airlock_app::gui::read_aloud::groups(&hex);
    assert_eq!(groups.len(), 16);
    for g in &groups {
        assert!(h.query_by_label(g).is_some(), "group {g} not shown");
    }
    let words = airlock_ceremony::words::pgp_words(&hex).unwrap();
    assert!(h.query_by_label(&format!("1. {}", words[0])).is_some());
    assert!(h.query_by_label(&format!("32. {}", words[31])).is_some());
    // Not every group ticked: the confirmation does nothing.
    // All of it on a 1024x768 screen.
    let on_screen = |r: eframe::egui::Rect| {
        r.min.x >= 0.0 && r.min.y >= 0.0 && r.max.x <= 1024.0 && r.max.y <= 768.0
    };
    for label in groups
        .iter()
        .map(String::as_str)
        .chain(["16", "All 16 groups match: confirm (journaled)"])
    {
        let r = h.get_by_label(label).rect();
        assert!(on_screen(r), "{label:?} is off a 1024x768 screen at {r:?}");
        if label.len() == 4 {
            assert!(r.height() >= 48.0, "{label:?} is smaller than 48 px: {r:?}");
        }
    }
    click(&mut h, "1");
    click(&mut h, "All 16 groups match: confirm (journaled)");
    assert!(!h.state().snapshot().request_digest_confirmed);
    let ticked: Vec<String> = h
        .query_all_by_label_contains("groups ticked")
        .filter_map(|n| n.accesskit_node().value())
        .collect();
    assert_eq!(ticked, ["1 of 16 groups ticked"]);
    // Escape closes the view and confirms nothing.
    h.key_press(eframe::egui::Key::Escape);
    h.run();
    assert!(
        h.query_by_label("All 16 groups match: confirm (journaled)")
            .is_none()
    );
    assert!(!h.state().snapshot().request_digest_confirmed);
    // Again, every group ticked by the witness: journaled by the engine.
    click(&mut h, "Read aloud, full screen…");
    for i in 1..=16 {
        click(&mut h, &i.to_string());
    }
    click(&mut h, "All 16 groups match: confirm (journaled)");
    settle(&mut h);
    assert!(h.state().snapshot().request_digest_confirmed);
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert_eq!(last_journal_event(&journal), "request_digest_confirmed");
}

#[test]
fn custodians_get_a_hint_until_a_name_is_picked_a_live_clock_and_keyboard_zoom() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness_sized(&ws, vec![], [1024.0, 768.0]);
    preflight(&mut h);
    let hint = airlock_app::gui::steps::custodians::NO_NAME_HINT;
    assert!(
        h.query_by_label(hint).is_some(),
        "no hint before a name is picked"
    );
    click(&mut h, "alice");
    assert!(h.query_by_label(hint).is_none());
    // After alice, the next panel starts with no name chosen: bob's
    // passphrase is never sent as alice's.
    let field = h.get_by_role(eframe::egui::accesskit::Role::PasswordInput);
    field.focus();
    field.type_text(CUSTODIANS[0].1);
    h.step();
    click(&mut h, "Authenticate");
    assert_eq!(h.state().snapshot().authenticated.len(), 1);
    assert!(
        h.query_by_label(hint).is_some(),
        "the next custodian must pick a name"
    );
    let field = h.get_by_role(eframe::egui::accesskit::Role::PasswordInput);
    field.focus();
    field.type_text(CUSTODIANS[1].1);
    h.step();
    assert!(
        h.get_by_label("Authenticate")
            .accesskit_node()
            .is_disabled(),
        "Authenticate is on with no name chosen"
    );
    // The clock in the top bar is the workstation's UTC time.
    let shown: Vec<String> = h
        .query_all_by_label_contains("UTC ")
        .filter_map(|n| n.accesskit_node().value())
        .filter(|v| v.len() == 12)
        .collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    let now = airlock_app::gui::app::clock_now();
    assert_eq!(shown[0][..9], now[..9], "{shown:?} vs {now}");
    // Ctrl +/- zooms the whole window.
    let before = h.ctx.zoom_factor();
    h.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::Plus);
    h.run_steps(3);
    assert!(h.ctx.zoom_factor() > before, "Ctrl + did not zoom in");
    h.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::Minus);
    h.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::Minus);
    h.run_steps(3);
    assert!(h.ctx.zoom_factor() < before, "Ctrl - did not zoom out");
}

#[test]
fn the_output_folder_is_chosen_and_checked_before_the_login() {
    let ws = Workstation::new(1, airlock_bin!());
    // The output folder is picked twice: refused, then accepted.
    let mut h = harness(
        &ws,
        vec![
            ws.request_dir.clone(),
            ws.out_parent.clone(),
            ws.out_parent.clone(),
        ],
    );
    to_review(&mut h);
    confirm_review(&mut h);
    click(&mut h, "Continue to Generate & wrap");
    // No folder yet: no login can start.
    assert!(
        h.get_by_label("Log in and generate")
            .accesskit_node()
            .is_disabled(),
        "login offered before the output folder was chosen"
    );
    assert_eq!(
        h.state().snapshot().need,
        Some(airlock_ceremony::Need::OutputFolder)
    );
    // A bundle folder already in the way is refused now, before any login.
    std::fs::create_dir_all(ws.bundle_dir()).unwrap();
    click(&mut h, "Choose the output folder…");
    let e = h.state().error().expect("an existing folder is refused");
    assert!(e.message.contains("already exists"), "{e:?}");
    assert!(h.state().snapshot().out_dir.is_none());
    assert!(
        h.get_by_label("Log in and generate")
            .accesskit_node()
            .is_disabled()
    );
    assert!(h.state().snapshot().self_tests.is_none(), "logged in");
    // Moved away: chosen, journaled, and the login opens.
    std::fs::remove_dir(ws.bundle_dir()).unwrap();
    click(&mut h, "Choose the output folder…");
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert_eq!(
        h.state().snapshot().out_dir.as_deref(),
        Some(ws.bundle_dir().as_path())
    );
    assert!(
        !h.get_by_label("Log in and generate")
            .accesskit_node()
            .is_disabled()
    );
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert_eq!(last_journal_event(&journal), "output_folder_chosen");
}
