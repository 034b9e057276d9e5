//! Fuzzes the `airlock.toml` parser: any text gives a validated config or
//! an error naming the file and key, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match airlock_core::config::AirlockConfig::parse(text, Path::new("fuzz/airlock.toml")) {
            Ok(_) => {}
            Err(e) => assert!(e.to_string().contains("fuzz/airlock.toml")),
        }
    }
});
