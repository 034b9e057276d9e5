//! A text buffer for passphrase fields that keeps its characters in a
//! [`Zeroizing`] string. Capacity is reserved up front so typing does not
//! reallocate (which would leave copies in freed memory); the buffer is
//! handed to the engine with [`SecretText::take`], which leaves an empty
//! field behind.

use std::ops::Range;

use eframe::egui::TextBuffer;
use eframe::egui::text::CharIndex;
use zeroize::Zeroizing;

/// Longest passphrase that never reallocates.
const RESERVED: usize = 1024;

/// A passphrase being typed.
pub struct SecretText(Zeroizing<String>);

impl Default for SecretText {
    fn default() -> Self {
        SecretText(Zeroizing::new(String::with_capacity(RESERVED)))
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

impl SecretText {
    /// Hands the passphrase over and leaves an empty field.
    pub fn take(&mut self) -> Zeroizing<String> {
        std::mem::take(self).0
    }

    /// True when nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn byte_index(&self, c: CharIndex) -> usize {
        self.0
            .char_indices()
            .nth(c.0)
            .map(|(b, _)| b)
            .unwrap_or(self.0.len())
    }
}

impl TextBuffer for SecretText {
    fn is_mutable(&self) -> bool {
        true
    }

    fn as_str(&self) -> &str {
        self.0.as_str()
    }

    fn insert_text(&mut self, text: &str, char_index: CharIndex) -> usize {
        if self.0.len() + text.len() > self.0.capacity() {
            // Grow by moving into a fresh zeroizing buffer; the old one is wiped on drop.
            let mut bigger = Zeroizing::new(String::with_capacity((self.0.len() + text.len()) * 2));
            bigger.push_str(&self.0);
            self.0 = bigger;
        }
        let at = self.byte_index(char_index);
        self.0.insert_str(at, text);
        text.chars().count()
    }

    fn delete_char_range(&mut self, char_range: Range<CharIndex>) {
        let (start, end) = (
            self.byte_index(char_range.start),
            self.byte_index(char_range.end),
        );
        if start < end {
            self.0.replace_range(start..end, "");
        }
    }

    fn type_id(&self) -> std::any::TypeId {
        std::any::TypeId::of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_editing_and_taking() {
        let mut s = SecretText::default();
        s.insert_text("héllo", CharIndex(0));
        s.insert_text("X", CharIndex(2));
        assert_eq!(s.as_str(), "héXllo");
        s.delete_char_range(CharIndex(1)..CharIndex(3));
        assert_eq!(s.as_str(), "hllo");
        let long = "a".repeat(3000);
        s.insert_text(&long, CharIndex(4));
        assert_eq!(s.as_str().len(), 3004);
        let taken = s.take();
        assert_eq!(taken.len(), 3004);
        assert!(s.is_empty());
        assert_eq!(format!("{s:?}"), "SecretText(..)");
    }
}
