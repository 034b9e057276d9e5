//! The QR code of the import bundle's `SHA256SUMS` digest: the 64 lowercase
//! hex digits, byte mode, error correction level M, as dark modules that the
//! page draws as filled rectangles (one per horizontal run).

use qrcode::{Color, EcLevel, QrCode};

use crate::error::AttestError;

/// The light border around the symbol, in modules (the standard asks for 4).
pub const QUIET_ZONE: usize = 4;

/// A QR symbol as runs of dark modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrModules {
    /// Modules per side, without the quiet zone.
    pub width: usize,
    /// Dark runs: (row, first column, length), row 0 at the top.
    pub runs: Vec<(usize, usize, usize)>,
}

/// Encodes `text` (what a scanner should read back, byte for byte).
pub fn encode(text: &str) -> Result<QrModules, AttestError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        AttestError::Qr {
            what: "the import bundle's SHA256SUMS digest",
            message: e.to_string(),
        }
    })?;
    let width = code.width();
    let colors = code.to_colors();
    let mut runs = Vec::new();
    for row in 0..width {
        let mut col = 0;
        while col < width {
            if colors[row * width + col] == Color::Dark {
                let start = col;
                while col < width && colors[row * width + col] == Color::Dark {
                    col += 1;
                }
                runs.push((row, start, col - start));
            } else {
                col += 1;
            }
        }
    }
    Ok(QrModules { width, runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_fits_a_small_symbol() {
        let q = encode(&"ab".repeat(32)).unwrap();
        // 64 bytes at level M: version 5 (37 modules).
        assert_eq!(q.width, 37);
        // Finder pattern: the top-left 7x7 corner starts with a full dark row.
        assert_eq!(q.runs[0], (0, 0, 7));
        assert!(
            q.runs
                .iter()
                .all(|(r, c, n)| *r < q.width && c + n <= q.width && *n > 0)
        );
    }
}
