//! Fuzzes the `import.json` parser the online side runs on a bundle from the
//! workstation: never a panic, and an accepted manifest serialises to bytes
//! that parse again to the same manifest.
#![no_main]

use airlock_core::import_manifest::ImportManifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ImportManifest::parse(data) {
        let bytes = m.to_bytes();
        let again = ImportManifest::parse(&bytes).expect("own import.json parses");
        assert_eq!(again.to_bytes(), bytes);
    }
});
