//! The window from the keyboard and at 1024x768, on a Kryoptic token: the
//! dialogs open with their safe button focused (Enter and Escape keep the
//! ceremony going, confirm nothing), the focused widget wears a thick
//! ring, Ctrl +/-/0 zoom, the journal is a docked panel of readable events
//! that follows the newest, and closing the window mid-generation stops,
//! aborts and shows the summary before the window closes.

#![cfg(feature = "gui")]

use airlock_app::gui::app::KEEP_GOING;
use airlock_app::gui::journal_view;
use airlock_app::gui::read_aloud::BACK;
use airlock_app::gui::steps::aborted::CLOSE_NOW;
use airlock_app::gui::{GuiApp, Step};
use airlock_test_kit::gui::*;
use airlock_test_kit::*;
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

const SMALL: [f32; 2] = [1024.0, 768.0];

/// The label of the widget with the keyboard focus.
fn focused_label(h: &Harness<'static, GuiApp>) -> Option<String> {
    h.query(egui_kittest::kittest::by().predicate(|n| n.is_focused()))
        .and_then(|n| n.accesskit_node().label())
}

/// The focused widget is drawn with the theme's thick ring, stronger than
/// hover.
fn assert_focus_ring(h: &Harness<'static, GuiApp>) {
    let id = h
        .ctx
        .memory(|m| m.focused())
        .expect("a widget has the keyboard focus");
    let response = h.ctx.read_response(id).expect("the focused widget");
    let style = h.ctx.global_style();
    let drawn = style.visuals.widgets.style(&response);
    assert!(
        drawn.bg_stroke.width >= 3.0,
        "the focused widget has a {} px outline",
        drawn.bg_stroke.width
    );
    assert!(
        drawn.bg_stroke.width > style.visuals.widgets.hovered.bg_stroke.width,
        "focus is not told apart from hover"
    );
    assert_eq!(drawn.bg_stroke, airlock_app::gui::theme::FOCUS_RING);
}

#[test]
fn the_abort_dialog_opens_on_keep_going_and_enter_or_escape_keep_going() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness_sized(&ws, vec![], SMALL);
    preflight(&mut h);
    for round in 0..2 {
        click(&mut h, "Abort ceremony…");
        assert_eq!(
            focused_label(&h).as_deref(),
            Some(KEEP_GOING),
            "round {round}: the abort dialog opened without its safe button focused"
        );
        assert_focus_ring(&h);
        // Enter presses the focused button: the ceremony goes on.
        h.key_press(Key::Enter);
        settle(&mut h);
        assert!(
            h.query_by_label(KEEP_GOING).is_none(),
            "Enter left the dialog open"
        );
        assert!(!h.state().aborted(), "Enter aborted the ceremony");
        assert!(!h.state().is_busy());
    }
    // Tab moves the focus to the abort button; Escape still keeps going.
    click(&mut h, "Abort ceremony…");
    h.key_press(Key::Tab);
    h.run_steps(2);
    assert_eq!(
        focused_label(&h).as_deref(),
        Some("Abort: wipe and log out")
    );
    assert_focus_ring(&h);
    h.key_press(Key::Escape);
    settle(&mut h);
    assert!(h.query_by_label(KEEP_GOING).is_none());
    assert!(!h.state().aborted(), "Escape aborted the ceremony");
    // The ceremony really goes on: the custodians' step is still there.
    assert_eq!(h.state().current_step(), Step::Custodians);
    authenticate(&mut h, CUSTODIANS[0].0, CUSTODIANS[0].1);
    assert_eq!(h.state().snapshot().authenticated.len(), 1);
}

#[test]
fn the_read_aloud_view_opens_on_back_and_enter_confirms_nothing() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness_sized(&ws, vec![ws.request_dir.clone()], SMALL);
    to_review(&mut h);
    scroll_plan_to_end(&mut h);
    for (n, _) in CUSTODIANS {
        click_containing(&mut h, &format!("{n} confirms the plan"));
    }
    click(&mut h, "Read aloud, full screen…");
    assert_eq!(
        focused_label(&h).as_deref(),
        Some(BACK),
        "the read-aloud view opened without \"Back\" focused"
    );
    assert_focus_ring(&h);
    h.key_press(Key::Enter);
    settle(&mut h);
    assert!(h.query_by_label(BACK).is_none(), "Enter left the view open");
    assert!(
        !h.state().snapshot().request_digest_confirmed,
        "Enter confirmed the digest"
    );
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    assert_ne!(last_journal_event(&journal), "request_digest_confirmed");
}

#[test]
fn ctrl_plus_minus_zoom_and_ctrl_0_resets() {
    let ws = Workstation::new(1, airlock_bin!());
    let mut h = harness_sized(&ws, vec![], SMALL);
    assert!(h.ctx.options(|o| o.zoom_with_keyboard));
    let wide = h.ctx.content_rect().width();
    assert_eq!(h.ctx.zoom_factor(), 1.0);
    // Ctrl + (and Ctrl =, the same key without Shift) zoom in.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Plus);
    h.run_steps(3);
    let once = h.ctx.zoom_factor();
    assert!(once > 1.0, "Ctrl + did not zoom in");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Equals);
    h.run_steps(3);
    assert!(h.ctx.zoom_factor() > once, "Ctrl = did not zoom in");
    // Everything is larger: fewer points fit across the same window.
    assert!(h.ctx.content_rect().width() < wide);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    h.run_steps(3);
    assert_eq!(h.ctx.zoom_factor(), 1.0, "Ctrl 0 did not reset the zoom");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Minus);
    h.run_steps(3);
    assert!(h.ctx.zoom_factor() < 1.0, "Ctrl - did not zoom out");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    h.run_steps(3);
    assert_eq!(h.ctx.zoom_factor(), 1.0);
    assert_eq!(h.ctx.content_rect().width(), wide);
}

/// The events of a journal file, in order.
fn journal_events(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_journal_is_a_docked_panel_of_readable_events_that_follows_the_newest() {
    let ws = Workstation::new(3, airlock_bin!());
    let mut h = harness_sized(
        &ws,
        vec![ws.request_dir.clone(), ws.out_parent.clone()],
        SMALL,
    );
    // Open before anything is journaled: it says when the file starts.
    click(&mut h, "Journal");
    assert!(
        h.query_by_label_contains("The journal file opens when the request is verified")
            .is_some()
    );
    choose_request(&mut h);
    let journal = h.state().snapshot().journal_path.clone().unwrap();

    // Docked under the step on a 1024x768 screen (beside it, the step's
    // lines would be cut): it covers neither the step list nor the step.
    let panel = h.get_by_label(journal_view::HEADING).rect();
    assert!(
        panel.min.y >= SMALL[1] * 0.4 && panel.max.x <= SMALL[0],
        "the journal is not docked under the step: {panel:?}"
    );
    for label in [
        "Step 3 of 9: Request",
        "1. Preflight (done)",
        "Continue to Review",
        "Abort ceremony…",
    ] {
        let r = h.get_by_label(label).rect();
        assert!(
            r.max.x <= panel.min.x || r.max.y <= panel.min.y,
            "{label:?} at {r:?} is under the journal at {panel:?}"
        );
    }
    // The top bar stays whole above it.
    assert!(h.get_by_label("Journal").rect().max.y <= panel.min.y);

    // Every event is a row: its seq and time, its name, its actor.
    let events = journal_events(&journal);
    assert!(events.len() >= 4, "{events:?}");
    for e in &events {
        let name = e["event"].as_str().unwrap();
        let time = &e["at"].as_str().unwrap()[11..19];
        let seq = format!("{:>3}  {time}", e["seq"].as_u64().unwrap());
        assert!(h.query_by_label(&seq).is_some(), "no row {seq:?}");
        let count = events.iter().filter(|x| x["event"] == name).count();
        assert_eq!(
            h.query_all_by_label(name).count(),
            count,
            "{name} not listed {count} times"
        );
    }
    assert_eq!(
        h.query_all_by_label("custodian_authenticated").count(),
        2,
        "both logins listed"
    );
    assert!(
        h.query_by_label_contains(&format!("{} events, newest last", events.len()))
            .is_some()
    );
    // On a wide screen it docks on the right of the step instead.
    h.set_size(egui::vec2(1400.0, 900.0));
    h.run_steps(3);
    let side = h.get_by_label(journal_view::HEADING).rect();
    let heading = h.get_by_label("Step 3 of 9: Request").rect();
    assert!(
        side.min.x >= 1400.0 / 2.0 && heading.max.x <= side.min.x,
        "the journal is not beside the step at 1400x900: {side:?}"
    );
    h.set_size(egui::vec2(SMALL[0], SMALL[1]));
    h.run_steps(3);

    // Hidden for Review (its plan wants the whole width), shown again for
    // Generate: the panel reads the file again as the engine appends.
    click(&mut h, "Journal");
    assert!(h.query_by_label(journal_view::HEADING).is_none());
    click(&mut h, "Continue to Review");
    confirm_review(&mut h);
    click(&mut h, "Continue to Generate & wrap");
    click(&mut h, "Journal");
    choose_output(&mut h);
    click(&mut h, "Log in and generate");
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let events = journal_events(&journal);
    let last = events.last().unwrap();
    let last_row = format!(
        "{:>3}  {}",
        last["seq"].as_u64().unwrap(),
        &last["at"].as_str().unwrap()[11..19]
    );
    let continue_button = h.get_by_label("Continue to Seal & export").rect();
    let newest = h.get_by_label(&last_row).rect();
    // More events than fit: the first has scrolled away, the newest is
    // on screen inside the panel.
    let first_row = format!("{:>3}  {}", 0, &events[0]["at"].as_str().unwrap()[11..19]);
    let oldest = h.get_by_label(&first_row).rect();
    assert!(
        oldest.max.y < panel.max.y,
        "the first row is still at the top: {oldest:?}"
    );
    assert!(
        newest.min.y > panel.max.y && newest.max.y <= SMALL[1],
        "the newest event {last_row:?} is not visible: {newest:?}"
    );
    assert!(newest.min.x >= panel.min.x);
    assert!(
        continue_button.max.y <= panel.min.y,
        "Continue under the journal"
    );

    // The same button hides it again.
    click(&mut h, "Journal");
    assert!(h.query_by_label(journal_view::HEADING).is_none());
    assert!(h.query_by_label(&last_row).is_none());
}

/// True when the last frame asked the window to close.
fn closes(h: &Harness<'static, GuiApp>) -> bool {
    h.output()
        .viewport_output
        .values()
        .any(|v| v.commands.contains(&egui::ViewportCommand::Close))
}

#[test]
fn closing_during_generation_stops_aborts_and_shows_the_summary_before_closing() {
    let ws = Workstation::new(6, airlock_bin!());
    let mut h = harness_sized(
        &ws,
        vec![ws.request_dir.clone(), ws.out_parent.clone()],
        SMALL,
    );
    to_review(&mut h);
    confirm_review(&mut h);
    click(&mut h, "Continue to Generate & wrap");
    choose_output(&mut h);
    h.get_by_label("Log in and generate").click();
    h.run_steps(2);
    assert!(h.state().is_busy());
    // The window is closed while the HSM works: ask first.
    assert!(!h.state_mut().request_close());
    h.run_steps(2);
    assert_eq!(focused_label(&h).as_deref(), Some(KEEP_GOING));
    h.get_by_label("Abort and close").click();
    // Frame by frame until the abort ran, watching for a close.
    let mut closed_early = false;
    let start = std::time::Instant::now();
    loop {
        h.step();
        closed_early |= closes(&h);
        // Never an offer to go on while the abort waits for the key loop.
        assert!(
            h.query_by_label("Continue to Seal & export").is_none(),
            "a stopped generation offers to go on"
        );
        if !h.state().is_busy() && h.state().aborted() {
            break;
        }
        assert!(start.elapsed().as_secs() < 300, "the abort never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for _ in 0..5 {
        h.step();
        closed_early |= closes(&h);
    }
    assert!(
        !closed_early,
        "the window closed before the summary was read"
    );
    assert!(h.state().aborted());
    assert!(h.state().close_allowed());
    // The window did not vanish: the aborted screen says what was wiped
    // and which HSM keys stay behind, and closes from its own button.
    assert!(h.query_by_label("Ceremony aborted").is_some());
    let wipe = h.state().snapshot().wipe.clone().expect("abort wiped");
    assert_eq!(wipe.session_objects_remaining, 0);
    if wipe.hsm_labels_left.is_empty() {
        assert!(h.query_by_label("HSM keys left behind: none.").is_some());
    } else {
        assert!(
            h.query_by_label_contains(&format!(
                "HSM keys left behind in the token: {}",
                wipe.hsm_labels_left.len()
            ))
            .is_some()
        );
        for label in &wipe.hsm_labels_left {
            assert!(h.query_by_label(label).is_some(), "{label} not listed");
        }
    }
    h.get_by_label(CLOSE_NOW).click();
    h.step();
    assert!(closes(&h), "\"{CLOSE_NOW}\" did not close the window");
    // The journal ends on the abort.
    let journal = h.state().snapshot().journal_path.clone().unwrap();
    let events: Vec<String> = journal_events(&journal)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events.last().unwrap(), "ceremony_aborted");
    // The stop, when it came between keys, is before the abort and is
    // on the screen in the engine's words.
    if let Some(stop) = events.iter().position(|e| e == "generation_stopped") {
        assert!(stop < events.len() - 1);
        assert!(
            h.query_by_label_contains("Generation stopped after key")
                .is_some(),
            "the aborted screen does not say where generation stopped"
        );
    }
}
