//! Lower-case hexadecimal, the way every id and key is written.

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex of any even length (either case); `None` for an odd length or a non-hex digit.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

/// Decodes exactly `N` bytes of hex (either case); `None` for any other length or a non-hex digit.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Whether `text` is a 64-digit lower-case hex name (a SHA-256 object name).
pub fn is_sha256_name(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_digits() {
        assert_eq!(encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode_array::<3>("00ABff"), Some([0x00, 0xab, 0xff]));
        assert_eq!(decode_array::<3>("00abf"), None);
        assert_eq!(decode_array::<2>("0g00"), None);
        assert_eq!(decode("00abFF"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(decode(""), Some(vec![]));
        assert_eq!((decode("abc"), decode("zz")), (None, None));
        assert!(is_sha256_name(&"a1".repeat(32)));
        assert!(!is_sha256_name(&"A1".repeat(32)));
    }
}
