//! Shamir secret sharing of the PIN bytes over GF(2^8), byte by byte, with
//! vsss-rs's constant-time `Gf256` (no lookup tables). Share `i` (1-based)
//! is evaluated at x = i; its bytes are `[i, y_1, ..., y_len]`, the layout
//! vsss-rs uses, so a share carries its own index.

use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use vsss_rs::{Gf256, IdentifierGf256};
use zeroize::Zeroizing;

use super::QuorumError;
use super::pin::os_random;

/// One Shamir share: its index (x coordinate, 1..=N) followed by one byte
/// per secret byte. Secret: kept in `Zeroizing`, never printed.
pub struct Share(Zeroizing<Vec<u8>>);

impl Share {
    /// Wraps share bytes (index byte first).
    pub(crate) fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Share(bytes)
    }

    /// The share's index (x coordinate).
    pub fn index(&self) -> u8 {
        self.0.first().copied().unwrap_or(0)
    }

    /// The share bytes, index byte first.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share {{ index: {}, .. }}", self.index())
    }
}

/// Splits `secret` into `n` shares, any `threshold` of which rebuild it.
/// Share `i` has index `i` (1..=n).
pub fn split(secret: &[u8], threshold: usize, n: usize) -> Result<Vec<Share>, QuorumError> {
    if threshold < 2 || threshold > n || n > 255 {
        return Err(QuorumError::ThresholdOutOfRange {
            threshold,
            custodians: n,
        });
    }
    // Probe the OS generator so a failure is an error, not the panic that
    // `UnwrapErr` would turn it into.
    os_random(&mut [0u8; 16])?;
    let ids = (1..=n).map(|i| IdentifierGf256(Gf256(i as u8)));
    let shares =
        Gf256::split_bytes_with_participant_ids_iter(threshold, n, secret, UnwrapErr(SysRng), ids)
            .map_err(|e| QuorumError::Random(format!("Shamir split failed: {e:?}")))?;
    Ok(shares
        .into_iter()
        .map(|s| Share(Zeroizing::new(s)))
        .collect())
}

/// Rebuilds the secret from shares. The caller must pass at least the
/// threshold: fewer shares give a wrong value, not an error (that is the
/// nature of Shamir's scheme), which is why the login counts custodians
/// and checks the rebuilt PIN against the roster's check value.
pub fn combine(shares: &[&Share]) -> Result<Zeroizing<Vec<u8>>, QuorumError> {
    let owned: Zeroizing<Vec<Vec<u8>>> =
        Zeroizing::new(shares.iter().map(|s| s.0.to_vec()).collect());
    let secret = Gf256::combine_bytes(&owned[..]).map_err(|e| QuorumError::RosterInvalid {
        origin: "roster".into(),
        field: "custodians".into(),
        message: format!("the unsealed shares do not combine ({e:?}); re-enrol"),
    })?;
    Ok(Zeroizing::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn indices_are_one_to_n() {
        let shares = split(b"secret", 2, 4).unwrap();
        let idx: Vec<u8> = shares.iter().map(Share::index).collect();
        assert_eq!(idx, vec![1, 2, 3, 4]);
        assert!(shares.iter().all(|s| s.bytes().len() == 7));
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(split(b"s", 1, 3).is_err());
        assert!(split(b"s", 4, 3).is_err());
    }

    #[test]
    fn debug_hides_the_share() {
        let shares = split(b"secret", 2, 2).unwrap();
        let dbg = format!("{:?}", shares[0]);
        assert_eq!(dbg, "Share { index: 1, .. }");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any M of N shares rebuild the secret; M-1 shares do not.
        #[test]
        fn any_m_of_n_rebuild_and_fewer_do_not(
            secret in proptest::collection::vec(any::<u8>(), 32),
            n in 2usize..=10,
            m_seed in any::<u8>(),
            pick_seed in any::<u64>(),
        ) {
            let m = 2 + (m_seed as usize) % (n - 1);
            let shares = split(&secret, m, n).unwrap();
            // A pseudo-random subset of size m, from the seed.
            let mut order: Vec<usize> = (0..n).collect();
            let mut s = pick_seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let chosen: Vec<&Share> = order[..m].iter().map(|&i| &shares[i]).collect();
            prop_assert_eq!(&combine(&chosen).unwrap()[..], &secret[..]);
            let fewer: Vec<&Share> = chosen[..m - 1].to_vec();
            match combine(&fewer) {
                // One share alone: vsss-rs refuses outright.
                Err(_) => prop_assert_eq!(m, 2),
                // M-1 shares interpolate to an unrelated value.
                Ok(wrong) => prop_assert_ne!(&wrong[..], &secret[..]),
            }
        }
    }
}
