//! Fuzzes the strict `request.json` parser: it must return an error, never
//! panic, on any bytes. A successful parse must be internally consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = airlock_core::request::parse_request_json(data) {
        assert!(!r.keys.is_empty());
        assert!(r.keys.len() <= airlock_core::request::schema::MAX_KEYS);
        for k in &r.keys {
            assert!(airlock_core::request::schema::is_key_name(k.name.as_str()));
        }
    }
});
