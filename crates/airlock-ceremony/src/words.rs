//! Digests for reading aloud (grouped hex, PGP words): the attestation
//! crate's implementation, re-exported so both faces use the same one.

pub use airlock_attest::words::{grouped_hex, paper_hex_lines, pgp_words, pgp_words_for_hex};
