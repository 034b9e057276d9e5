//! Fuzzes the strict `SHA256SUMS` parser: never a panic, and whatever it
//! accepts must format back to exactly the same bytes.
#![no_main]

use airlock_core::sums::Sha256Sums;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Sha256Sums::parse(data) {
        assert_eq!(s.to_bytes(), data);
    }
});
