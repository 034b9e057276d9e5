//! [`CustodianName`]: a validated custodian name. Names are public (they are
//! journaled and printed on the attestation) and follow
//! `^[A-Za-z][A-Za-z0-9 ._-]{0,62}$` after trimming surrounding whitespace.
//! `system` is reserved for the journal's non-human actor.

use std::fmt;

use super::QuorumError;

/// The journal's actor name for events no custodian caused; no custodian
/// may be called this (compared ignoring case).
pub const RESERVED_ACTOR: &str = "system";

/// A custodian's name, trimmed and checked against the naming rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustodianName(String);

impl CustodianName {
    /// Trims `raw` and checks it: a letter first, then up to 62 letters,
    /// digits, spaces, `.`, `_` or `-`; not `system`.
    pub fn parse(raw: &str) -> Result<Self, QuorumError> {
        let name = raw.trim();
        let invalid = |reason| QuorumError::InvalidCustodianName {
            name: name.to_string(),
            reason,
        };
        let mut chars = name.chars();
        match chars.next() {
            None => return Err(invalid("it is empty")),
            Some(c) if !c.is_ascii_alphabetic() => {
                return Err(invalid("it must start with a letter A-Z or a-z"));
            }
            Some(_) => {}
        }
        if name.len() > 63 {
            return Err(invalid("it is longer than 63 characters"));
        }
        if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-')) {
            return Err(invalid(
                "only letters, digits, spaces, '.', '_' and '-' are allowed",
            ));
        }
        if name.eq_ignore_ascii_case(RESERVED_ACTOR) {
            return Err(invalid(
                "\"system\" is reserved for the journal's own entries",
            ));
        }
        Ok(CustodianName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the two names differ only in letter case (such names may
    /// not both be enrolled).
    pub fn same_person(&self, other: &CustodianName) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for CustodianName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CustodianName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_trims_good_names() {
        assert_eq!(CustodianName::parse("  Alice  ").unwrap().as_str(), "Alice");
        assert_eq!(
            CustodianName::parse("J. Doe_2-b").unwrap().as_str(),
            "J. Doe_2-b"
        );
        let max = format!("A{}", "b".repeat(62));
        assert!(CustodianName::parse(&max).is_ok());
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "", "   ", "1alice", "_alice", "al/ice", "al\nice", "Zoë", "system", "SYSTEM",
        ] {
            let e = CustodianName::parse(bad).unwrap_err();
            assert!(
                matches!(e, QuorumError::InvalidCustodianName { .. }),
                "{bad:?} gave {e}"
            );
        }
        let long = format!("A{}", "b".repeat(63));
        assert!(CustodianName::parse(&long).is_err());
    }

    #[test]
    fn same_person_ignores_case() {
        let a = CustodianName::parse("Alice").unwrap();
        let b = CustodianName::parse("alice").unwrap();
        assert!(a.same_person(&b));
        assert_ne!(a, b);
    }
}
