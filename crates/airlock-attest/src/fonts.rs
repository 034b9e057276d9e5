//! The three faces the attestation uses, embedded from `assets/fonts/`
//! (DejaVu Sans, DejaVu Sans Bold, DejaVu Sans Mono; see
//! `assets/fonts/README.md` for their source and licence), and their
//! advance widths for layout.

use std::sync::OnceLock;

use printpdf::ParsedFont;

use crate::error::AttestError;

const SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const SANS_BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");
const MONO: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");

/// Which face a piece of text is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Face {
    /// DejaVu Sans: labels and values.
    Sans,
    /// DejaVu Sans Bold: headings and warnings.
    Bold,
    /// DejaVu Sans Mono: digests and hex.
    Mono,
}

impl Face {
    /// All faces, in the order their fonts are added to the PDF.
    pub const ALL: [Face; 3] = [Face::Sans, Face::Bold, Face::Mono];

    /// The font's name (for messages).
    pub fn font_name(self) -> &'static str {
        match self {
            Face::Sans => "DejaVu Sans",
            Face::Bold => "DejaVu Sans Bold",
            Face::Mono => "DejaVu Sans Mono",
        }
    }

    /// The PDF resource name: fixed, so the output does not depend on
    /// printpdf's generated ids.
    pub fn resource_id(self) -> &'static str {
        match self {
            Face::Sans => "FSans",
            Face::Bold => "FSansBold",
            Face::Mono => "FMono",
        }
    }

    /// The embedded TrueType bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Face::Sans => SANS,
            Face::Bold => SANS_BOLD,
            Face::Mono => MONO,
        }
    }

    /// The parsed font (parsed once per process).
    pub fn parsed(self) -> Result<&'static ParsedFont, AttestError> {
        static CELLS: [OnceLock<Option<ParsedFont>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let cell = &CELLS[self as usize];
        cell.get_or_init(|| ParsedFont::from_bytes(self.bytes(), 0, &mut Vec::new()))
            .as_ref()
            .ok_or(AttestError::Font(self.font_name()))
    }

    /// The width of `text` at `size` points, in points.
    pub fn width(self, text: &str, size: f32) -> f32 {
        let Ok(font) = self.parsed() else {
            return 0.0;
        };
        let units: u32 = text
            .chars()
            .map(|c| {
                font.lookup_glyph_index(c as u32)
                    .and_then(|g| font.get_glyph_width(g))
                    .unwrap_or(0) as u32
            })
            .sum();
        units as f32 * size / f32::from(font.units_per_em.max(1))
    }

    /// Checks that every character of `text` has a glyph; `field` names the
    /// value in the error.
    pub fn check(self, field: &str, text: &str) -> Result<(), AttestError> {
        let font = self.parsed()?;
        match text
            .chars()
            .find(|c| font.lookup_glyph_index(*c as u32).is_none_or(|g| g == 0))
        {
            Some(ch) => Err(AttestError::Unprintable {
                field: field.to_string(),
                ch,
                code: ch as u32,
                font: self.font_name(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_parse_and_measure() {
        for f in Face::ALL {
            f.parsed().unwrap();
            assert!(f.width("Airlock", 10.0) > 20.0, "{f:?}");
        }
        // Mono: every glyph the same width (0.602 em in DejaVu Sans Mono).
        let w = Face::Mono.width("0123456789abcdef", 10.0);
        assert!((w - 16.0 * 6.02).abs() < 0.2, "{w}");
        assert!(Face::Bold.width("MMMM", 10.0) > Face::Sans.width("MMMM", 10.0));
    }

    #[test]
    fn unprintable_characters_are_named() {
        assert!(Face::Sans.check("x", "Zürich ÅØ ₂ — ok").is_ok());
        let e = Face::Sans.check("seal serial", "bag \u{4E2D}").unwrap_err();
        let t = e.to_string();
        assert!(t.contains("seal serial") && t.contains("U+4E2D"), "{t}");
    }
}
