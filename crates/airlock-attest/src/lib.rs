//! The printed hash attestation of a sealed import bundle.
//!
//! At the end of a ceremony the custodians print this page, read its
//! digests aloud, sign it, and hand it with the USB medium to the online
//! importer, who checks the bundle's `SHA256SUMS` digest against it before
//! importing. [`AttestationInput`] gathers what is printed from a verified
//! bundle (and optionally the full workstation journal, for the wipe);
//! [`render_pdf`] lays it out as a deterministic PDF (A4 or Letter, fonts
//! embedded, a QR code of the digest); [`print`] sends a file to CUPS.
//! [`write_pdf_atomically`] writes it without ever leaving half a file.
//! The CLI (`airlock attest`, `airlock print`), the ceremony and the
//! desktop app all call these. [`checklist`] lays out the printable
//! ceremony checklist with the same page model, fonts and PDF writer.

pub mod checklist;
pub mod error;
pub mod fonts;
pub mod model;
pub mod output;
pub mod page;
pub mod pdf;
pub mod print;
pub mod qr;
pub mod render;
pub mod words;

pub use error::AttestError;
pub use model::{AttestationInput, CustodianLine, HsmLine, KeyLine, Paper, WipeResult};
pub use output::write_pdf_atomically;
pub use render::{INLINE_KEY_ROWS, render_pdf};
