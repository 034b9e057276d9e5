//! Reading a ceremony journal (JSON lines) back.

use std::path::Path;

use serde_json::Value;

/// Every entry of the journal at `path`.
pub fn journal_entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// The event names of the journal at `path`, in order.
pub fn journal_events(path: &Path) -> Vec<String> {
    journal_entries(path)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

/// The last event name in the journal at `path`.
pub fn last_journal_event(path: &Path) -> String {
    journal_events(path).pop().expect("journal is empty")
}
