//! The HSM user PIN: 32 characters drawn uniformly (by rejection sampling
//! from the operating system's random number generator) from a 54-character
//! alphabet without look-alikes (no 0/O/o, 1/I/l/i), about 184 bits. The
//! core generates it; nobody ever sees it. Also the roster's PIN check
//! value, which lets a rebuilt PIN be confirmed before any C_Login.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::QuorumError;

/// The PIN alphabet: digits 2-9 and letters without I, L, O, i, l, o.
pub const PIN_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz";
/// PIN length in characters (= bytes, the alphabet is ASCII).
pub const PIN_LEN: usize = 32;

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn os_random(buf: &mut [u8]) -> Result<(), QuorumError> {
    getrandom::fill(buf).map_err(|e| QuorumError::Random(e.to_string()))
}

/// Generates a fresh random user PIN.
pub fn generate_user_pin() -> Result<Zeroizing<String>, QuorumError> {
    let n = PIN_ALPHABET.len();
    // Largest multiple of n that fits in a byte: bytes at or above it are
    // rejected so that every character is equally likely.
    let limit = (256 / n) * n;
    let mut pin = Zeroizing::new(String::with_capacity(PIN_LEN));
    let mut pool = Zeroizing::new([0u8; 64]);
    while pin.len() < PIN_LEN {
        os_random(pool.as_mut())?;
        for &b in pool.iter() {
            if (b as usize) < limit && pin.len() < PIN_LEN {
                pin.push(PIN_ALPHABET[b as usize % n] as char);
            }
        }
    }
    Ok(pin)
}

/// Checks that `pin` is in Airlock's format (length and alphabet).
pub fn check_pin_format(pin: &[u8]) -> Result<(), QuorumError> {
    if pin.len() != PIN_LEN {
        return Err(QuorumError::PinFormat {
            reason: "wrong length",
        });
    }
    if !pin.iter().all(|b| PIN_ALPHABET.contains(b)) {
        return Err(QuorumError::PinFormat {
            reason: "a character outside the PIN alphabet",
        });
    }
    Ok(())
}

/// The roster's PIN check value: SHA-256 over a label, the roster id and
/// the PIN. With ~184 bits of PIN entropy a fast hash reveals nothing
/// useful; it lets the login confirm a rebuilt PIN without spending one of
/// the HSM's PIN retries.
pub(crate) fn pin_check(roster_id: &[u8], pin: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"airlock-pin-check/1\0");
    h.update(roster_id);
    h.update(b"\0");
    h.update(pin);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pin_is_32_unambiguous_characters() {
        let pin = generate_user_pin().unwrap();
        assert_eq!(pin.len(), PIN_LEN);
        check_pin_format(pin.as_bytes()).unwrap();
        for c in "0O1lIio".chars() {
            assert!(!pin.contains(c));
        }
    }

    #[test]
    fn pins_differ_and_cover_the_alphabet() {
        let pins: Vec<_> = (0..50).map(|_| generate_user_pin().unwrap()).collect();
        let distinct: HashSet<&str> = pins.iter().map(|p| p.as_str()).collect();
        assert_eq!(distinct.len(), pins.len());
        let used: HashSet<u8> = pins.iter().flat_map(|p| p.bytes()).collect();
        // 1600 draws over 54 symbols: every symbol shows up.
        assert_eq!(used.len(), PIN_ALPHABET.len());
    }

    #[test]
    fn format_check_refuses_others() {
        assert!(check_pin_format(b"short").is_err());
        assert!(check_pin_format(&[b'0'; PIN_LEN]).is_err());
        assert!(check_pin_format(&[b'A'; PIN_LEN]).is_ok());
    }

    #[test]
    fn pin_check_binds_roster_and_pin() {
        let a = pin_check(b"r1", b"PIN");
        assert_ne!(a, pin_check(b"r2", b"PIN"));
        assert_ne!(a, pin_check(b"r1", b"PIM"));
        assert_eq!(a, pin_check(b"r1", b"PIN"));
    }
}
