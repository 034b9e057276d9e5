//! Documented process exit codes, one per class of refusal, so that scripts
//! and the tests outside this repository can tell failures apart without
//! parsing text. `docs/exit-codes.md` is the operator's copy of this table;
//! keep the two in step.

/// A class of outcome with a stable, documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// Success.
    Ok = 0,
    /// An unexpected internal error (a bug): report it.
    Internal = 1,
    /// The command line was wrong (clap's own code).
    Usage = 2,
    /// `airlock.toml` is missing or invalid.
    Config = 3,
    /// A file could not be read or written (permissions, disk full, ...).
    Io = 4,
    /// The operator cancelled (declined a confirmation).
    Cancelled = 5,

    /// Bundle layout or path safety: symlinks, special files, traversal,
    /// files missing from or extra to `SHA256SUMS`, size limits.
    BundleLayout = 10,
    /// `SHA256SUMS` is malformed or a digest does not match.
    Checksums = 11,
    /// The signature does not verify, or the signer is not enrolled.
    Signature = 12,
    /// `request.json` / `import.json` does not match the schema.
    Schema = 13,
    /// The key spec / wrapping algorithm pair is not allowed (incl. SHA-1
    /// without `--allow-sha1`).
    WrappingMatrix = 14,
    /// A wrapping public key is not a DER RSA SPKI of the stated size with
    /// e = 65537.
    WrappingKey = 15,
    /// A key ARN does not match the bundle's account or region.
    ArnMismatch = 16,
    /// Duplicate key names, ARNs or aliases.
    Duplicate = 17,
    /// The import parameters have expired by the workstation clock.
    Expired = 18,
    /// Trust store problem (unknown signer, duplicate name, bad PEM).
    Trust = 20,

    /// PKCS#11 module or token could not be opened or selected.
    HsmUnavailable = 30,
    /// The token lacks a capability or failed a known-answer self-test.
    HsmCapability = 31,
    /// A PKCS#11 operation failed mid-way.
    HsmOperation = 32,
    /// The PKCS#11 module or token is not the one the quorum pinned.
    HsmNotPinned = 33,
    /// An HSM object is not bound to what the request asks of it (another
    /// KMS key, another request, not born in the HSM, not sensitive), or
    /// the quorum's policy does not allow it.
    KeyBinding = 34,

    /// Quorum not met or a custodian failed to authenticate.
    Quorum = 40,
    /// The custodian roster is missing, invalid or tampered with.
    Roster = 41,

    /// The ceremony refused to start or could not finish (output exists,
    /// export or read-back failed, unfinished ceremony in the way).
    Ceremony = 50,
    /// The workstation is not air-gapped and `--allow-network` was not given.
    NotAirGapped = 51,
    /// A journal's hash chain is broken.
    Journal = 52,
    /// An import bundle does not verify.
    ImportBundle = 53,
    /// Workstation state (trust store, ceremony record, journal) is not
    /// authenticated by the HSM: edited, forged, truncated or unsealed.
    StateNotAuthenticated = 54,
    /// The request digest typed or given with `--request-digest` is not the
    /// digest of the request bundle on the medium (refused before login).
    RequestDigestMismatch = 55,
    /// Another ceremony holds the state directory or the token (its
    /// ceremony id and process id are in the message).
    CeremonyRunning = 56,
    /// Building or printing the attestation failed.
    Attestation = 60,

    /// Interrupted (Ctrl-C / SIGINT): the abort path ran and was journaled.
    Interrupted = 130,
}

impl ExitCode {
    /// Every code, in table order.
    pub const ALL: [ExitCode; 32] = [
        ExitCode::Ok,
        ExitCode::Internal,
        ExitCode::Usage,
        ExitCode::Config,
        ExitCode::Io,
        ExitCode::Cancelled,
        ExitCode::BundleLayout,
        ExitCode::Checksums,
        ExitCode::Signature,
        ExitCode::Schema,
        ExitCode::WrappingMatrix,
        ExitCode::WrappingKey,
        ExitCode::ArnMismatch,
        ExitCode::Duplicate,
        ExitCode::Expired,
        ExitCode::Trust,
        ExitCode::HsmUnavailable,
        ExitCode::HsmCapability,
        ExitCode::HsmOperation,
        ExitCode::HsmNotPinned,
        ExitCode::KeyBinding,
        ExitCode::Quorum,
        ExitCode::Roster,
        ExitCode::Ceremony,
        ExitCode::NotAirGapped,
        ExitCode::Journal,
        ExitCode::ImportBundle,
        ExitCode::StateNotAuthenticated,
        ExitCode::RequestDigestMismatch,
        ExitCode::CeremonyRunning,
        ExitCode::Attestation,
        ExitCode::Interrupted,
    ];

    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A failure that may mean tampering: the bundle's digests or
    /// signature, the pinned module or token, or state the HSM sealed. The
    /// faces show a STOP screen (keep the medium as evidence), not a retry.
    pub fn is_stop(self) -> bool {
        matches!(
            self,
            ExitCode::Checksums
                | ExitCode::Signature
                | ExitCode::HsmNotPinned
                | ExitCode::Roster
                | ExitCode::Journal
                | ExitCode::StateNotAuthenticated
        )
    }

    /// The row of `docs/exit-codes.md` for this code: its name and the
    /// "what to do" column, in plain text (Markdown backticks and bold
    /// dropped). The faces show it under an error, so the operator's copy
    /// of the table is the one text both the window and the docs give.
    pub fn guidance(self) -> Option<Guidance> {
        let code = self.code().to_string();
        EXIT_CODES_DOC
            .lines()
            .take_while(|l| !l.starts_with("## "))
            .filter_map(table_row)
            .find(|cells| cells[0] == code)
            .map(|cells| Guidance {
                name: plain(cells[1]),
                what_to_do: plain(cells[3]),
            })
    }
}

/// The operator's table (`docs/exit-codes.md`), built in.
const EXIT_CODES_DOC: &str = include_str!("../../../docs/exit-codes.md");

/// One documented exit code, as the faces show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guidance {
    /// The class name, e.g. `Checksums`.
    pub name: String,
    /// What the operator or custodians do about it.
    pub what_to_do: String,
}

/// The four cells of a `| code | name | when | what to do |` row.
fn table_row(line: &str) -> Option<[&str; 4]> {
    let inner = line.strip_prefix('|')?.strip_suffix('|')?;
    let cells: Vec<&str> = inner.split(" | ").map(str::trim).collect();
    match cells.as_slice() {
        [code, name, when, what]
            if code.bytes().all(|b| b.is_ascii_digit()) && !code.is_empty() =>
        {
            Some([code, name, when, what])
        }
        _ => None,
    }
}

fn plain(md: &str) -> String {
    md.replace("**", "").replace('`', "")
}

/// Implemented by every error that can end a command, to pick its code.
pub trait ExitClass {
    /// The exit code this error ends the process with.
    fn exit_code(&self) -> ExitCode;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_documented_row_with_its_name_and_what_to_do() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ExitCode::ALL {
            seen.insert(c.code());
            let g = c
                .guidance()
                .unwrap_or_else(|| panic!("docs/exit-codes.md has no row for {c:?}"));
            assert_eq!(
                g.name,
                format!("{c:?}"),
                "row {} names another class",
                c.code()
            );
            assert!(!g.what_to_do.is_empty(), "{c:?}: empty what-to-do");
            assert!(!g.what_to_do.contains('`'), "{c:?}: Markdown left in");
        }
        assert_eq!(seen.len(), ExitCode::ALL.len(), "a code listed twice");
        // A new variant breaks this match until it is added to ALL (and
        // so to the check above).
        fn listed(c: ExitCode) -> bool {
            use ExitCode::*;
            match c {
                Ok
                | Internal
                | Usage
                | Config
                | Io
                | Cancelled
                | BundleLayout
                | Checksums
                | Signature
                | Schema
                | WrappingMatrix
                | WrappingKey
                | ArnMismatch
                | Duplicate
                | Expired
                | Trust
                | HsmUnavailable
                | HsmCapability
                | HsmOperation
                | HsmNotPinned
                | KeyBinding
                | Quorum
                | Roster
                | Ceremony
                | NotAirGapped
                | Journal
                | ImportBundle
                | StateNotAuthenticated
                | RequestDigestMismatch
                | CeremonyRunning
                | Attestation
                | Interrupted => ExitCode::ALL.contains(&c),
            }
        }
        assert!(ExitCode::ALL.into_iter().all(listed));
        // The airlock-online rows (after the first "## ") are not ours.
        assert_eq!(ExitCode::Checksums.guidance().unwrap().name, "Checksums");
    }

    #[test]
    fn tampering_classes_are_stops_and_ordinary_mistakes_are_not() {
        for c in [
            ExitCode::Checksums,
            ExitCode::Signature,
            ExitCode::StateNotAuthenticated,
        ] {
            assert!(c.is_stop(), "{c:?}");
        }
        for c in [
            ExitCode::Expired,
            ExitCode::Quorum,
            ExitCode::Io,
            ExitCode::Schema,
        ] {
            assert!(!c.is_stop(), "{c:?}");
        }
    }
}
