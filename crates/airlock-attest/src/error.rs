//! Why an attestation could not be built or written. Every variant names
//! what was wrong and where, and maps to exit code 60 (`Attestation`)
//! unless a more specific class applies (a bundle that does not verify keeps
//! its own code; an unreadable file is an I/O error).

use std::path::PathBuf;

use airlock_core::exit::{ExitClass, ExitCode};
use airlock_core::import_bundle::ImportBundleError;
use airlock_core::journal::JournalError;

/// Why an attestation could not be built, rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The import bundle did not verify.
    #[error("the import bundle does not verify, so it cannot be attested: {0}")]
    Bundle(#[from] ImportBundleError),
    /// The full journal given with `--journal` is broken.
    #[error("the full ceremony journal: {0}")]
    FullJournal(#[source] JournalError),
    /// The full journal is intact but is not a continuation of the
    /// bundle's copy.
    #[error(
        "{path}: this journal does not continue the bundle's journal: {problem}; \
         pass the journal of the ceremony that sealed this bundle \
         (STATE_DIR/ceremonies/<ceremony id>/journal.jsonl)"
    )]
    JournalMismatch {
        /// The full journal's path, or `(given journal)` when read from memory.
        path: String,
        /// What does not match.
        problem: String,
    },
    /// The bundle's journal lacks an entry the attestation prints.
    #[error("journal.jsonl in the bundle: {problem}")]
    JournalContent {
        /// What is missing or contradicts `import.json`.
        problem: String,
    },
    /// A seal serial was empty, too long or not printable.
    #[error(
        "seal serial #{index} {value:?}: {problem}; type the serial printed on the tamper-evident bag \
         (1 to {max} printable characters)",
        max = crate::model::MAX_SEAL_SERIAL_LEN
    )]
    SealSerial {
        /// 1-based position on the command line.
        index: usize,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A value cannot be drawn with the embedded fonts.
    #[error("{field}: character {ch:?} (U+{code:04X}) is not in the embedded font {font}")]
    Unprintable {
        /// Which field.
        field: String,
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// The font.
        font: &'static str,
    },
    /// The QR code could not be made.
    #[error("cannot encode the QR code of {what}: {message}")]
    Qr {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        message: String,
    },
    /// An embedded font failed to parse (a build problem).
    #[error("the embedded font {0} could not be parsed; the binary is damaged")]
    Font(&'static str),
    /// The PDF could not be serialised.
    #[error("cannot serialise the attestation PDF: {0}")]
    Pdf(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("cannot write the attestation {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The output exists and overwriting was not asked for.
    #[error("{path} already exists; pass --force to replace it, or choose another --out")]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

impl ExitClass for AttestError {
    fn exit_code(&self) -> ExitCode {
        match self {
            AttestError::Bundle(e) => e.exit_code(),
            AttestError::FullJournal(e) => e.exit_code(),
            AttestError::Read { .. } | AttestError::Write { .. } => ExitCode::Io,
            AttestError::SealSerial { .. } => ExitCode::Usage,
            AttestError::JournalMismatch { .. }
            | AttestError::JournalContent { .. }
            | AttestError::Unprintable { .. }
            | AttestError::Qr { .. }
            | AttestError::Font(_)
            | AttestError::Pdf(_)
            | AttestError::Exists { .. } => ExitCode::Attestation,
        }
    }
}
