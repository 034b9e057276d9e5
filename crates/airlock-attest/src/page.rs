//! A small page model between the content and the PDF: pages of text runs,
//! filled rectangles and rules, positioned in points from the page's top
//! left corner, with a cursor that moves down and starts a new page when
//! the next block does not fit. Keeping this free of printpdf types lets
//! [`crate::pdf`] know every character before it embeds the fonts.

use crate::fonts::Face;

/// A grey level: 0.0 is black, 1.0 is white.
pub type Grey = f32;

/// The grey of small captions (title taglines, footers).
pub const CAPTION_GREY: Grey = 0.35;
/// The grey of the footer's rule.
pub const FOOTER_RULE_GREY: Grey = 0.6;

/// One thing drawn on a page. Coordinates are points from the top left;
/// text `y` is the baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Draw {
    /// A run of text.
    Text {
        /// Face.
        face: Face,
        /// Size in points.
        size: f32,
        /// Left edge.
        x: f32,
        /// Baseline.
        y: f32,
        /// Colour.
        grey: Grey,
        /// The text.
        text: String,
    },
    /// A filled rectangle (`y` is its top edge).
    Rect {
        /// Left edge.
        x: f32,
        /// Top edge.
        y: f32,
        /// Width.
        w: f32,
        /// Height.
        h: f32,
        /// Colour.
        grey: Grey,
    },
    /// A straight line.
    Line {
        /// Start.
        x1: f32,
        /// Start.
        y1: f32,
        /// End.
        x2: f32,
        /// End.
        y2: f32,
        /// Thickness in points.
        width: f32,
        /// Colour.
        grey: Grey,
    },
}

/// Lays out content top to bottom over as many pages as it needs.
#[derive(Debug)]
pub struct Pages {
    /// Page width in points.
    pub width: f32,
    /// Page height in points.
    pub height: f32,
    /// Left and right margin.
    pub margin: f32,
    /// Top margin.
    pub top: f32,
    /// Space kept free at the bottom (for the footer).
    pub bottom: f32,
    /// The finished and current pages.
    pub pages: Vec<Vec<Draw>>,
    /// The cursor: points from the top of the current page.
    pub y: f32,
    /// The page drawing goes to.
    current: usize,
}

impl Pages {
    /// An empty document of one page.
    pub fn new(width: f32, height: f32) -> Self {
        let margin = 42.0;
        Pages {
            width,
            height,
            margin,
            top: 40.0,
            bottom: 48.0,
            pages: vec![Vec::new()],
            y: 40.0,
            current: 0,
        }
    }

    /// Usable width between the margins.
    pub fn content_width(&self) -> f32 {
        self.width - 2.0 * self.margin
    }

    /// Left edge of the content.
    pub fn left(&self) -> f32 {
        self.margin
    }

    /// Starts a new page if fewer than `h` points are left. Returns true
    /// when it did.
    pub fn ensure(&mut self, h: f32) -> bool {
        if self.y + h > self.height - self.bottom {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Starts a new page.
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.current = self.pages.len() - 1;
        self.y = self.top;
    }

    /// The page drawing goes to now (0-based).
    pub fn page_index(&self) -> usize {
        self.current
    }

    /// Sends further drawing to page `i` (0-based), e.g. for footers once
    /// the page count is known.
    pub fn select_page(&mut self, i: usize) {
        self.current = i.min(self.pages.len() - 1);
    }

    fn push(&mut self, d: Draw) {
        self.pages[self.current].push(d);
    }

    /// Text with its baseline at `y`.
    pub fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: impl Into<String>) {
        self.text_grey(face, size, x, y, 0.0, text);
    }

    /// Text in a grey level.
    pub fn text_grey(
        &mut self,
        face: Face,
        size: f32,
        x: f32,
        y: f32,
        grey: Grey,
        text: impl Into<String>,
    ) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        self.push(Draw::Text {
            face,
            size,
            x,
            y,
            grey,
            text,
        });
    }

    /// Text right-aligned to `right`.
    pub fn text_right(
        &mut self,
        face: Face,
        size: f32,
        right: f32,
        y: f32,
        grey: Grey,
        text: &str,
    ) {
        let x = right - face.width(text, size);
        self.text_grey(face, size, x, y, grey, text);
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, grey: Grey) {
        self.push(Draw::Rect { x, y, w, h, grey });
    }

    /// A line.
    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, grey: Grey) {
        self.push(Draw::Line {
            x1,
            y1,
            x2,
            y2,
            width,
            grey,
        });
    }

    /// An unfilled box.
    pub fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, grey: Grey) {
        self.line(x, y, x + w, y, width, grey);
        self.line(x + w, y, x + w, y + h, width, grey);
        self.line(x + w, y + h, x, y + h, width, grey);
        self.line(x, y + h, x, y, width, grey);
    }

    /// The document title in large bold type at the cursor, with two small
    /// grey lines right-aligned beside it (what the document is, and its
    /// date or edition).
    pub fn title_block(&mut self, title: &str, right_top: &str, right_bottom: &str) {
        self.y += 18.0;
        self.text(Face::Bold, 17.0, self.left(), self.y, title);
        let right = self.left() + self.content_width();
        self.text_right(
            Face::Sans,
            8.0,
            right,
            self.y - 8.0,
            CAPTION_GREY,
            right_top,
        );
        self.text_right(
            Face::Sans,
            8.0,
            right,
            self.y + 2.0,
            CAPTION_GREY,
            right_bottom,
        );
    }

    /// A footer on every page: a rule, `left` and "page i of n". Call it
    /// once all content is laid out.
    pub fn footers(&mut self, left: &str) {
        let n = self.pages.len();
        let (l, r, y) = (
            self.left(),
            self.left() + self.content_width(),
            self.height - 28.0,
        );
        for i in 0..n {
            self.select_page(i);
            self.line(l, y - 10.0, r, y - 10.0, 0.4, FOOTER_RULE_GREY);
            self.text_grey(Face::Sans, 7.0, l, y, CAPTION_GREY, left);
            self.text_right(
                Face::Sans,
                7.0,
                r,
                y,
                CAPTION_GREY,
                &format!("page {} of {n}", i + 1),
            );
        }
    }

    /// Every character drawn in `face`, for font subsetting and checks.
    pub fn texts(&self) -> impl Iterator<Item = (Face, &str)> {
        self.pages.iter().flatten().filter_map(|d| match d {
            Draw::Text { face, text, .. } => Some((*face, text.as_str())),
            _ => None,
        })
    }
}

/// Breaks `text` into lines no wider than `width` at `size`: at spaces
/// where it can, inside a word where it must (long hex, ARNs).
pub fn wrap(face: Face, size: f32, text: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if face.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone may still be too wide: break it by characters.
        for ch in word.chars() {
            let mut next = line.clone();
            next.push(ch);
            if !line.is_empty() && face.width(&next, size) > width {
                lines.push(std::mem::take(&mut line));
                line.push(ch);
            } else {
                line = next;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_then_inside_words() {
        let lines = wrap(Face::Sans, 10.0, "alpha beta gamma delta", 60.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), "alpha beta gamma delta");
        for l in &lines {
            assert!(Face::Sans.width(l, 10.0) <= 60.0, "{l}");
        }
        let hex = "0123456789abcdef".repeat(4);
        let lines = wrap(Face::Mono, 10.0, &hex, 100.0);
        assert_eq!(lines.concat(), hex);
        assert!(lines.iter().all(|l| Face::Mono.width(l, 10.0) <= 100.0));
        assert_eq!(wrap(Face::Sans, 10.0, "", 50.0), vec![String::new()]);
    }

    #[test]
    fn page_breaks_when_full() {
        let mut p = Pages::new(595.0, 842.0);
        assert!(!p.ensure(100.0));
        p.y = 780.0;
        assert!(p.ensure(100.0));
        assert_eq!(p.pages.len(), 2);
        assert_eq!(p.y, p.top);
    }
}
