//! Fuzzes the custodian roster parser (`roster.json` in the state
//! directory): never a panic, and whatever it accepts writes back to a
//! roster that parses again to the same JSON.
#![no_main]

use airlock_core::quorum::Roster;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Roster::from_json(data, "fuzz/roster.json") {
        let again = Roster::from_json(r.to_json().as_bytes(), "fuzz/roster.json")
            .expect("a roster Airlock wrote must parse again");
        assert_eq!(again.to_json(), r.to_json());
        assert!(r.threshold() >= 2 && r.threshold() <= r.custodian_count());
    }
});
