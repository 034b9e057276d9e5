//! The custodian passphrase policy, checked at enrolment: at least 12
//! characters, at most 1024 bytes, no control characters, no whitespace at
//! either end (usually a stray newline from a file), not the custodian's own
//! name, and different from every other custodian's passphrase. Candidates
//! are compared in memory, in constant time, during the enrolment flow; no
//! passphrase, nor any hash of one, is ever stored.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{CustodianName, QuorumError};

/// Fewest characters (Unicode scalar values) a passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 12;
/// Most bytes a passphrase may have.
pub const MAX_PASSPHRASE_BYTES: usize = 1024;

/// Checks one custodian's passphrase against the policy (not the
/// uniqueness rule, see [`same_passphrase`]).
pub fn check_passphrase_policy(
    custodian: &CustodianName,
    passphrase: &Zeroizing<String>,
) -> Result<(), QuorumError> {
    let refuse = |reason| QuorumError::PassphrasePolicy {
        custodian: custodian.to_string(),
        reason,
    };
    let p: &str = passphrase.as_str();
    if p.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(refuse(
            "it is shorter than 12 characters; choose a longer one",
        ));
    }
    if p.len() > MAX_PASSPHRASE_BYTES {
        return Err(refuse("it is longer than 1024 bytes"));
    }
    if p.chars().any(char::is_control) {
        return Err(refuse(
            "it contains a control character (tab, newline, ...); use printable characters only",
        ));
    }
    if p.starts_with(char::is_whitespace) || p.ends_with(char::is_whitespace) {
        return Err(refuse(
            "it starts or ends with whitespace (a stray newline or space from a file?); remove it",
        ));
    }
    if p.trim().eq_ignore_ascii_case(custodian.as_str()) {
        return Err(refuse("it is the custodian's own name"));
    }
    Ok(())
}

/// Constant-time equality of two candidate passphrases (their lengths may
/// leak, their contents do not).
pub fn same_passphrase(a: &Zeroizing<String>, b: &Zeroizing<String>) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> CustodianName {
        CustodianName::parse("Alice").unwrap()
    }

    fn p(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[test]
    fn accepts_twelve_characters() {
        check_passphrase_policy(&name(), &p("correct hors")).unwrap();
        // 12 characters, more bytes: counted as characters.
        check_passphrase_policy(&name(), &p("ééééééééééé1")).unwrap();
    }

    #[test]
    fn refuses_short_padded_control_and_own_name() {
        for bad in [
            "short",
            "elevenchars",
            "twelve chars\n",
            " twelve chars",
            "twelve\tchars!",
            "ALICE",
        ] {
            let e = check_passphrase_policy(&name(), &p(bad)).unwrap_err();
            assert!(matches!(e, QuorumError::PassphrasePolicy { .. }), "{e}");
            assert!(e.to_string().contains("\"Alice\""), "{e}");
        }
        let name12 = CustodianName::parse("Alexander Xy").unwrap();
        assert!(check_passphrase_policy(&name12, &p("alexander xy")).is_err());
        assert!(check_passphrase_policy(&name(), &p(&"x".repeat(1025))).is_err());
    }

    #[test]
    fn compares_exactly() {
        assert!(same_passphrase(&p("correct horse"), &p("correct horse")));
        assert!(!same_passphrase(&p("correct horse"), &p("correct horsE")));
        assert!(!same_passphrase(&p("correct horse"), &p("correct horse ")));
    }
}
