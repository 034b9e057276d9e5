//! Fuzzes the AWS wrapping public key check (`WrappingPublicKey.bin`, DER
//! SPKI from the online side) against every `wrapping_key_spec`: never a
//! panic, and at most one spec accepts any given key.
#![no_main]

use airlock_core::request::check_wrapping_public_key;
use airlock_core::spec::WrappingKeySpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let accepted = WrappingKeySpec::ALL
        .iter()
        .filter(|spec| check_wrapping_public_key(data, **spec).is_ok())
        .count();
    assert!(accepted <= 1, "one modulus size cannot match two specs");
});
