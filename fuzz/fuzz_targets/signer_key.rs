//! Fuzzes the trusted-signer public key parsers (PEM text and DER
//! SubjectPublicKeyInfo, from the trust store and `trust add-signer`): never
//! a panic, and an accepted key round-trips through its own PEM.
#![no_main]

use airlock_core::signature::SignerKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = SignerKey::from_spki_der(data) {
        let again = SignerKey::from_pem(&k.to_pem()).expect("own PEM parses");
        assert_eq!(again.spki_der(), k.spki_der());
        assert_eq!(again.fingerprint().to_hex(), k.fingerprint().to_hex());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(k) = SignerKey::from_pem(text) {
            assert!(k.bits() > 0);
        }
    }
});
