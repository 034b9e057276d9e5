//! Small helpers for what the CLI prints: grouped hex for reading aloud and
//! JSON output.

/// Hex grouped in fours, e.g. `ab12 cd34 ...`, for reading a digest aloud.
pub fn grouped_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("airlock: could not render JSON: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_in_fours() {
        assert_eq!(super::grouped_hex("0123456789"), "0123 4567 89");
    }
}
