//! Digests for reading aloud: grouped hex and the PGP word list (even/odd
//! words, Juola and Zimmermann), via the `pgp-words` crate.

/// Hex grouped in fours: `ab12 cd34 ...`.
pub fn grouped_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The PGP words for the bytes of a hex digest, space separated. Returns
/// `None` when `hex` is not valid hex.
pub fn pgp_words_for_hex(hex: &str) -> Option<String> {
    let bytes = hex::decode(hex).ok()?;
    Some(pgp_words::to_words(&bytes).join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vector() {
        // The example from the PGP word list's published description.
        let words = pgp_words_for_hex("E58294F2E9A227486E8B061B31CC528FD7FA3F19").unwrap();
        assert_eq!(
            words.to_lowercase(),
            "topmost istanbul pluto vagabond treadmill pacific brackish dictator \
             goldfish medusa afflict bravado chatter revolver dupont midsummer \
             stopwatch whimsical cowbell bottomless"
        );
        assert!(pgp_words_for_hex("zz").is_none());
        assert_eq!(grouped_hex("0123456789"), "0123 4567 89");
    }
}
