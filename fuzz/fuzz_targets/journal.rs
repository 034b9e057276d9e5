//! Fuzzes the hash-chained journal verifier (`journal.jsonl` from a bundle or
//! the state directory): any bytes give a summary or an error naming the
//! line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match airlock_core::journal::verify_journal(data) {
        Ok(summary) => {
            // A chain that verifies can be checked against its own head.
            let _ = summary;
        }
        Err(e) => {
            // Every refusal renders to a message and names a line or none.
            assert!(!e.to_string().is_empty());
            let _ = e.broken_line();
        }
    }
});
