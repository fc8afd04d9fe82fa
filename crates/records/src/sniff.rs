//! Which files the records module accepts, told from their first bytes (the
//! file name and the browser's content type are not trusted), and which file
//! names. Pure: no I/O.

use munishare_platform::{Error, Result};

/// How many leading bytes [`media_type`] looks at.
pub const HEAD: usize = 4096;

/// The longest file name kept, in bytes.
pub const MAX_NAME: usize = 255;

/// The media types accepted, as stored and served.
pub const PDF: &str = "application/pdf";
/// PNG image.
pub const PNG: &str = "image/png";
/// JPEG image.
pub const JPEG: &str = "image/jpeg";
/// TIFF image (scanners' multi-page output).
pub const TIFF: &str = "image/tiff";
/// Plain text, UTF-8.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Word document (Office Open XML).
pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
/// OpenDocument text.
pub const ODT: &str = "application/vnd.oasis.opendocument.text";

/// The media type of a file from its first bytes (up to [`HEAD`]; all of a
/// shorter file), or None when it is none of the accepted kinds. `complete`
/// says `head` is the whole file (a text file's last character is then not cut).
pub fn media_type(head: &[u8], complete: bool) -> Option<&'static str> {
    if head.starts_with(b"%PDF-") {
        Some(PDF)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(PNG)
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some(JPEG)
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(TIFF)
    } else if head.starts_with(b"PK\x03\x04") {
        zip_kind(head)
    } else if is_text(head, complete) {
        Some(TEXT)
    } else {
        None
    }
}

/// An OpenDocument file starts with a stored `mimetype` entry (ODF 1.2 part 3,
/// 3.3) whose content names the kind; an Office Open XML document has
/// `[Content_Types].xml` and a `word/` part among its first entries.
fn zip_kind(head: &[u8]) -> Option<&'static str> {
    let odt_entry = b"mimetypeapplication/vnd.oasis.opendocument.text";
    if head.get(30..30 + odt_entry.len()) == Some(&odt_entry[..]) {
        // The next byte must end the entry's content (not `-template`, `-master`).
        let next = head.get(30 + odt_entry.len());
        if next.is_none_or(|b| *b == b'P') {
            return Some(ODT);
        }
        return None;
    }
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"[Content_Types].xml") && has(b"word/") {
        Some(DOCX)
    } else {
        None
    }
}

/// UTF-8 without control characters other than tab, LF, CR and form feed; a
/// character cut by the end of an incomplete head is allowed.
fn is_text(head: &[u8], complete: bool) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if !complete && e.error_len().is_none() => {
            // Cut in the middle of a character at the end of the head.
            match std::str::from_utf8(&head[..e.valid_up_to()]) {
                Ok(t) => t,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

/// What the accepted kinds are, for error messages.
pub const ACCEPTED: &str =
    "PDF, PNG, JPEG, TIFF, plain text (UTF-8), Word (.docx) or OpenDocument text (.odt)";

/// Checks an uploaded file's name: 1 to 255 bytes, no control characters, no
/// `/` or `\` (a name is not a path), not `.` or `..`, no leading or trailing
/// space. The error names the file (escaped, so a control character shows).
pub fn file_name(name: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid("file", format!("the file name {} {why}", shown(name)));
    if name.is_empty() {
        return Err(Error::invalid("file", "the file has no name"));
    }
    if name.len() > MAX_NAME {
        return Err(bad(&format!("is longer than {MAX_NAME} bytes")));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(bad("contains a path separator (/ or \\)"));
    }
    if name == "." || name == ".." {
        return Err(bad("is not a file name"));
    }
    if name.trim() != name {
        return Err(bad("starts or ends with a space"));
    }
    Ok(name.to_owned())
}

/// A file name as shown in messages: quoted, control characters escaped,
/// at most 80 characters.
pub fn shown(name: &str) -> String {
    let short: String = name.chars().take(80).collect();
    let mut out = format!("{short:?}");
    if name.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn kinds_are_told_from_their_first_bytes() {
        assert_eq!(media_type(b"%PDF-1.7\n%\xe2\xe3", true), Some(PDF));
        assert_eq!(
            media_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", true),
            Some(PNG)
        );
        assert_eq!(media_type(b"\xff\xd8\xff\xe0\0\x10JFIF", true), Some(JPEG));
        assert_eq!(media_type(b"II*\0\x08\0\0\0", true), Some(TIFF));
        assert_eq!(media_type(b"MM\0*\0\0\0\x08", true), Some(TIFF));
        assert_eq!(
            media_type(
                "Minutes of the Board of Selectmen\r\n\tcafé\n".as_bytes(),
                true
            ),
            Some(TEXT)
        );
        let mut odt = b"PK\x03\x04".to_vec();
        odt.extend([0u8; 26]);
        odt.extend(b"mimetypeapplication/vnd.oasis.opendocument.textPK");
        assert_eq!(media_type(&odt, true), Some(ODT));
        let mut ods = b"PK\x03\x04".to_vec();
        ods.extend([0u8; 26]);
        ods.extend(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheetPK");
        assert_eq!(media_type(&ods, true), None);
        let docx = b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0[Content_Types].xml....PK\x03\x04word/document.xml";
        assert_eq!(media_type(docx, true), Some(DOCX));
        assert_eq!(media_type(b"PK\x03\x04 some other zip", true), None);
        assert_eq!(
            media_type(b"MZ\x90\0\x03\0\0\0", true),
            None,
            "a Windows executable"
        );
        assert_eq!(
            media_type(b"GIF89a", true),
            Some(TEXT),
            "GIF's magic is plain ASCII; the rest decides"
        );
        assert_eq!(media_type(b"GIF89a\x01\0\x01\0\x80\0\0", true), None);
        assert_eq!(media_type(b"", true), None);
    }

    #[test]
    fn a_character_cut_by_the_head_is_still_text() {
        let t = "é".repeat(10);
        let cut = &t.as_bytes()[..5];
        assert_eq!(media_type(cut, false), Some(TEXT));
        assert_eq!(media_type(cut, true), None);
    }

    #[test]
    fn odd_file_names_are_refused_by_name() {
        assert_eq!(
            file_name("Minutes 2026-11-03.pdf").unwrap(),
            "Minutes 2026-11-03.pdf"
        );
        assert_eq!(file_name("Procès-verbal.pdf").unwrap(), "Procès-verbal.pdf");
        for bad in [
            "",
            "a/b.pdf",
            "..\\x.pdf",
            "..",
            "a\u{7}.pdf",
            "line\nbreak.txt",
            " lead.pdf",
            "trail.pdf ",
        ] {
            let e = file_name(bad).unwrap_err().to_string();
            assert!(e.starts_with("file:"), "{bad:?}: {e}");
        }
        let e = file_name("bell\u{7}.pdf").unwrap_err().to_string();
        assert!(e.contains("\"bell\\u{7}.pdf\""), "{e}");
        assert!(file_name(&"x".repeat(256)).is_err());
    }
}
