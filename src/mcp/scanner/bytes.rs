//! The byte searches and byte classes the scanner's two readers share: the
//! end of a string's content, JSON whitespace, the bytes of a token.

/// Where the string content at the start of `bytes` stops: its closing quote, an escape, or
/// the end of the line.
///
/// Every message goes through here about ten times (keys, `"2.0"`, names), mostly for a few
/// bytes, where setting up a vectorised search costs more than a byte loop over them, and a byte
/// loop is slow in our size-optimised build (figures in `benches/README.md`). So the first
/// bytes are read a word at a time, which finds the end of a short string in one step, and a
/// long string gets the vectorised search.
pub(super) fn string_end(bytes: &[u8]) -> Option<usize> {
    /// Bytes read a word at a time before the vectorised search takes over.
    const SHORT: usize = 32;
    let mut at = 0;
    while at < SHORT {
        let Some(word) = bytes
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        else {
            let tail = &bytes[at..];
            return tail
                .iter()
                .position(|&b| matches!(b, b'"' | b'\\' | b'\n'))
                .map(|i| at + i);
        };
        let word = u64::from_le_bytes(word);
        let hits = bytes_equal(word, b'"') | bytes_equal(word, b'\\') | bytes_equal(word, b'\n');
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr3(b'"', b'\\', b'\n', &bytes[SHORT..]).map(|i| SHORT + i)
}

/// The high bit of each byte of `word` that equals `b`, by the zero-byte trick. A borrow can
/// also flag a byte above a true match, never below one, so the lowest flag is always exact.
#[inline(always)]
fn bytes_equal(word: u64, b: u8) -> u64 {
    const LO: u64 = u64::from_le_bytes([0x01; 8]);
    const HI: u64 = u64::from_le_bytes([0x80; 8]);
    let x = word ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// JSON whitespace other than `\n`, which always ends a line.
#[inline(always)]
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// Whether `b` can begin a number or a literal (`true`, `false`, `null`).
#[inline(always)]
pub(super) fn is_token_start(b: u8) -> bool {
    b == b'-' || b.is_ascii_alphanumeric()
}

#[inline(always)]
pub(super) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every position of spans shorter and longer than a word and than the
    /// word-at-a-time prefix, after fillers that are one off a stop byte (which a borrow could
    /// confuse) or that are stops themselves.
    #[test]
    fn string_end_finds_what_a_byte_loop_finds() {
        for len in [0, 1, 7, 8, 9, 15, 16, 31, 32, 33, 40, 70] {
            for at in 0..len {
                for b in 0..=255u8 {
                    for filler in [b'a', b'!', b'#', b'\t', b'[', b']', 0x00, 0x80, 0xff] {
                        let mut bytes = vec![filler; len];
                        bytes[at] = b;
                        let naive = bytes.iter().position(|b| b"\"\\\n".contains(b));
                        assert_eq!(string_end(&bytes), naive, "{bytes:?}");
                    }
                }
            }
        }
    }
}
