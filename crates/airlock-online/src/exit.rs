//! The documented process exit codes of `airlock-online` (the operator's
//! copy is the "airlock-online" section of `docs/exit-codes.md`; keep the
//! two in step). Numbers below 10 are outcomes, 10-19 plan/AWS/key state,
//! 20-29 bundle and ordering refusals, 30-39 failures after a change.

/// One class of outcome with a stable exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success (report: every resource COMPLIANT or NOT_APPLICABLE).
    Ok = 0,
    /// report: at least one resource NON_COMPLIANT or PENDING (and none ERROR).
    NonCompliant = 1,
    /// The command line is wrong (clap's own code).
    Usage = 2,
    /// report: at least one resource is ERROR (an AWS call about it failed):
    /// the report cannot vouch for it.
    ReportError = 3,
    /// A file or folder could not be read or written, or the output exists.
    Io = 4,
    /// The operator declined a confirmation; nothing further was changed.
    Declined = 5,
    /// The plan is invalid (the message names the key and the field).
    Plan = 10,
    /// An AWS call failed (the message names the call, the key, AWS's error).
    Aws = 11,
    /// A KMS key or alias is not in the state the step needs.
    KeyState = 12,
    /// The import bundle does not verify (layout, sums, signature, journal).
    Bundle = 20,
    /// The bundle's SHA256SUMS digest is not the one typed in.
    Digest = 21,
    /// import.json does not match the request, the account, the region or a key.
    Content = 22,
    /// The bundle says the workstation was not air-gapped.
    NotAirGapped = 23,
    /// A key's import parameters have expired (parameters_valid_to is past).
    Expired = 24,
    /// dev -> int -> prod order: an earlier environment is not done and clean.
    Order = 25,
    /// A receipt is missing, unreadable or does not match KMS.
    Receipt = 26,
    /// A multi-Region key this version cannot import (a new one reached
    /// by an alias switch: aliases are per region).
    MultiRegion = 27,
    /// `import --valid-to` is not a time between 24 hours and 365 days
    /// ahead (KMS's limit), checked before any AWS call.
    ValidTo = 28,
    /// An on-demand key has no RotateKeyOnDemand left (25 per key).
    RotationBudget = 29,
    /// A key failed its test after import (encrypt/decrypt, MAC, sign/verify).
    KeyTest = 30,
    /// On-demand rotation failed: CurrentKeyMaterialId did not change, or
    /// a ciphertext made before it no longer decrypts.
    Rotation = 31,
}

impl Exit {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        let docs = include_str!("../../../docs/exit-codes.md");
        for (e, n) in [
            (Exit::NonCompliant, 1),
            (Exit::ReportError, 3),
            (Exit::Digest, 21),
            (Exit::Order, 25),
            (Exit::MultiRegion, 27),
            (Exit::ValidTo, 28),
            (Exit::RotationBudget, 29),
            (Exit::Rotation, 31),
        ] {
            assert_eq!(e.code(), n);
            assert!(
                docs.contains(&format!("| {n} | `airlock-online`")),
                "docs/exit-codes.md lacks the airlock-online row for {n}"
            );
        }
    }
}
