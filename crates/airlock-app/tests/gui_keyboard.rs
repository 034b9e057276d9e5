//! The window from the keyboard and at 1024x768, on a Kryoptic token: the
//! journal is a docked panel of readable events that follows the newest.

#![cfg(feature = "gui")]

mod gui_support;

use airlock_app::gui::journal_view;
use egui_kittest::kittest::Queryable;
use gui_support::*;

const SMALL: [f32; 2] = [1024.0, 768.0];

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
    let ws = workstation(3);
    let mut h = harness_sized(&ws, vec![ws.request_dir.clone()], SMALL);
    // Open before anything is journaled: it says when the file starts.
    click(&mut h, "Journal");
    assert!(
        h.query_by_label_contains("The journal file opens when the request is verified")
            .is_some()
    );
    choose_request(&mut h);
    let journal = h.state().snapshot().journal_path.clone().unwrap();

    // Docked on the right: it covers neither the step list nor the step.
    let panel = h.get_by_label(journal_view::HEADING).rect();
    assert!(
        panel.max.x <= SMALL[0] && panel.min.x >= SMALL[0] / 2.0,
        "the journal is not on the right: {panel:?}"
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

    // Hidden for Review (its plan wants the whole width), shown again for
    // Generate: the panel reads the file again as the engine appends.
    click(&mut h, "Journal");
    assert!(h.query_by_label(journal_view::HEADING).is_none());
    click(&mut h, "Continue to Review");
    confirm_review(&mut h);
    click(&mut h, "Continue to Generate & wrap");
    click(&mut h, "Journal");
    click(&mut h, "Log in and generate");
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let events = journal_events(&journal);
    let last = events.last().unwrap();
    let last_row = format!(
        "{:>3}  {}",
        last["seq"].as_u64().unwrap(),
        &last["at"].as_str().unwrap()[11..19]
    );
    let rows_bottom = h.get_by_label("Continue to Seal & export").rect();
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
        rows_bottom.max.x <= panel.min.x,
        "Continue under the journal"
    );

    // The same button hides it again.
    click(&mut h, "Journal");
    assert!(h.query_by_label(journal_view::HEADING).is_none());
    assert!(h.query_by_label(&last_row).is_none());
}
