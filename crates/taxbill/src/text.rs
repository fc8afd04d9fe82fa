//! Text as the standard 14 fonts print it: WinAnsiEncoding bytes, widths, wrapping.
//!
//! The fonts are declared with `/Encoding /WinAnsiEncoding`, so a byte written here is the
//! character a reader (and `pdftotext`) shows. Latin-1 letters, curly quotes, dashes, ×, ÷ and €
//! are in the encoding; a letter in decomposed form (e + U+0301) is composed first; every other
//! character becomes [`REPLACEMENT`], visibly, so a clerk notices (docs/design/0007-tax-bills.md).

use crate::winansi_tables::{
    COMPOSITIONS, HELVETICA_BOLD_WIDTHS, HELVETICA_WIDTHS, UNICODE_TO_WINANSI,
};

/// What a character outside WinAnsiEncoding prints as.
pub const REPLACEMENT: char = '?';

/// The three standard fonts a bill uses; none is embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
    /// Courier, for the scan line: every glyph is 600/1000 em wide.
    Mono,
}

impl Font {
    /// Advance width of one WinAnsi byte, in 1/1000 em.
    fn advance(self, byte: u8) -> u32 {
        let index = usize::from(byte);
        match self {
            Font::Regular => u32::from(HELVETICA_WIDTHS[index]),
            Font::Bold => u32::from(HELVETICA_BOLD_WIDTHS[index]),
            Font::Mono => 600,
        }
    }
}

/// The WinAnsi byte of one character, if the encoding has it.
fn winansi_byte(c: char) -> Option<u8> {
    match c {
        ' '..='~' => u8::try_from(u32::from(c)).ok(),
        _ => UNICODE_TO_WINANSI
            .binary_search_by_key(&c, |&(u, _)| u)
            .ok()
            .map(|i| UNICODE_TO_WINANSI[i].1),
    }
}

fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// Walks `text` as printed: each item is the byte written and, when the character could not
/// be encoded, the character it replaces.
fn encoded_chars(text: &str) -> impl Iterator<Item = (u8, Option<char>)> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        if let Some(&mark) = chars.peek()
            && is_combining_mark(mark)
            && let Ok(i) = COMPOSITIONS.binary_search_by(|&(b, m, _)| (b, m).cmp(&(c, mark)))
        {
            chars.next();
            return Some((COMPOSITIONS[i].2, None));
        }
        match winansi_byte(c) {
            Some(byte) => Some((byte, None)),
            // Checked ASCII: '?' is 0x3F.
            None => Some((b'?', Some(c))),
        }
    })
}

/// Appends the WinAnsi bytes of `text` to `out`, replacing what the encoding lacks.
pub(crate) fn encode_into(text: &str, out: &mut Vec<u8>) {
    out.extend(encoded_chars(text).map(|(byte, _)| byte));
}

/// The characters of `text` that print as [`REPLACEMENT`], in order.
pub(crate) fn replaced(text: &str) -> impl Iterator<Item = char> + '_ {
    encoded_chars(text).filter_map(|(_, replaced)| replaced)
}

/// Printed width of `text` in `font` at `size` points, in points.
pub(crate) fn width(text: &str, font: Font, size: f32) -> f32 {
    let thousandths: u32 = encoded_chars(text)
        .map(|(byte, _)| font.advance(byte))
        .sum();
    // Widths are layout, not money: f32 is exact enough (a line is < 2^24 thousandths).
    thousandths as f32 * size / 1000.0
}

/// Wraps `text` at spaces into lines no wider than `room` points. A single word wider than
/// `room` comes back as its own over-wide line; the caller measures and refuses it.
pub(crate) fn wrap(text: &str, font: Font, size: f32, room: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if line.is_empty() {
            line.push_str(word);
            continue;
        }
        let candidate_width =
            width(&line, font, size) + width(" ", font, size) + width(word, font, size);
        if candidate_width <= room {
            line.push(' ');
            line.push_str(word);
        } else {
            lines.push(std::mem::take(&mut line));
            line.push_str(word);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(text, &mut out);
        out
    }

    #[test]
    fn ascii_and_latin1_are_their_own_bytes() {
        assert_eq!(encode("O'Neil"), b"O'Neil");
        assert_eq!(encode("Désirée"), b"D\xe9sir\xe9e");
        assert_eq!(encode("×÷"), b"\xd7\xf7");
    }

    #[test]
    fn windows_1252_extras_use_their_codes() {
        // Code points from the WinAnsiEncoding table of PDF 32000-1, Annex D.2.
        assert_eq!(
            encode("— – ’ “ ” • € ™ Œ š"),
            b"\x97 \x96 \x92 \x93 \x94 \x95 \x80 \x99 \x8c \x9a"
        );
    }

    #[test]
    fn decomposed_letters_are_composed() {
        assert_eq!(encode("De\u{301}sire\u{301}e"), b"D\xe9sir\xe9e");
        assert_eq!(encode("n\u{303}"), b"\xf1");
    }

    #[test]
    fn other_characters_are_replaced_visibly_and_reported() {
        assert_eq!(encode("Łukasz Wójcik 李"), b"?ukasz W\xf3jcik ?");
        assert_eq!(
            replaced("Łukasz Wójcik 李").collect::<Vec<_>>(),
            vec!['Ł', '李']
        );
        // A combining mark on a letter WinAnsi has no composed form for.
        assert_eq!(encode("q\u{301}"), b"q?");
    }

    #[test]
    fn widths_follow_the_afm_metrics() {
        // Helvetica AFM: H 722, e 556, l 222, o 556 → 2278/1000 em; at 10 pt, 22.78 pt.
        assert!((width("Hello", Font::Regular, 10.0) - 22.78).abs() < 1e-3);
        // Helvetica-Bold AFM: H 722, e 556, l 278, o 611 → 2445.
        assert!((width("Hello", Font::Bold, 10.0) - 24.45).abs() < 1e-3);
        assert!((width("Hello", Font::Mono, 10.0) - 30.0).abs() < 1e-3);
    }

    #[test]
    fn wrapping_breaks_at_spaces_within_the_room() {
        let lines = wrap("aaa bbb ccc", Font::Mono, 10.0, 42.0);
        // Each word is 18 pt, a space 6 pt: "aaa bbb" is 42 pt and fits exactly.
        assert_eq!(lines, vec!["aaa bbb".to_owned(), "ccc".to_owned()]);
    }
}
