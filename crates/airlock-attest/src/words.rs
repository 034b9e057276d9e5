//! Digests for reading aloud: hex in groups of four and the PGP word list.
//!
//! The PGP word list (Juola and Zimmermann, 1995; the list published with
//! PGPfone and in the Wikipedia article "PGP word list") gives each byte two
//! spellings: a two-syllable word at even positions and a three-syllable
//! word at odd positions, so a swapped, dropped or repeated byte is heard.
//! The words come from the `pgp-words` crate (crates.io), tested here
//! against the list's published example.

pub use airlock_core::signature::group_hex as grouped_hex;

/// A digest laid out as on the paper: lines of eight groups of four hex
/// digits (a SHA-256 is two lines), so the screen and the attestation are
/// read line by line alike.
pub fn paper_hex_lines(hex: &str) -> Vec<String> {
    let grouped = grouped_hex(hex);
    let groups: Vec<&str> = grouped.split(' ').collect();
    groups.chunks(8).map(|c| c.join(" ")).collect()
}

/// The PGP words for the bytes of a hex digest, in order. `None` when `hex`
/// is not valid hex.
pub fn pgp_words(hex: &str) -> Option<Vec<String>> {
    let bytes = hex::decode(hex).ok()?;
    Some(
        pgp_words::to_words(&bytes)
            .into_iter()
            .map(|w| w.to_string())
            .collect(),
    )
}

/// The PGP words of a hex digest, space separated.
pub fn pgp_words_for_hex(hex: &str) -> Option<String> {
    pgp_words(hex).map(|w| w.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vector() {
        // The example in the list's published description.
        let words = pgp_words_for_hex("E58294F2E9A227486E8B061B31CC528FD7FA3F19").unwrap();
        assert_eq!(
            words.to_lowercase(),
            "topmost istanbul pluto vagabond treadmill pacific brackish dictator \
             goldfish medusa afflict bravado chatter revolver dupont midsummer \
             stopwatch whimsical cowbell bottomless"
        );
        assert!(pgp_words_for_hex("zz").is_none());
    }

    #[test]
    fn even_and_odd_positions_differ() {
        // 0x00 is "aardvark" at even positions, "adroitness" at odd ones.
        let w = pgp_words("0000").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].to_lowercase(), "aardvark");
        assert_eq!(w[1].to_lowercase(), "adroitness");
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped_hex("0123456789abcdef"), "0123 4567 89ab cdef");
        let lines = paper_hex_lines(&"ab".repeat(32));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], ["abab"; 8].join(" "));
    }
}
