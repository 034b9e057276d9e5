//! Small helpers for what the CLI prints: grouped hex for reading aloud
//! (the one implementation in airlock-core) and JSON output.

pub use airlock_core::signature::group_hex as grouped_hex;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("airlock: could not render JSON: {e}"),
    }
}
