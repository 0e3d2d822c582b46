//! Escapes U+2028, U+2029 and U+0085 in what the host sends to the remote.
//!
//! The peer server splits its input with Python's `str.splitlines`, which
//! also breaks lines at those three characters: one raw inside a JSON string
//! cuts the request in two and it is silently lost. JSON allows them raw in
//! strings but means the same thing by `\u2028`, `\u2029` and `\u0085`, so
//! we send that instead, to every remote (it costs a search for two byte
//! values, vectorised). Outside a string they are not valid JSON either way.
//!
//! Their UTF-8 forms are `E2 80 A8`, `E2 80 A9` and `C2 85`; a chunk may end
//! inside one, so up to two bytes are held over to the next chunk.

/// A streaming rewriter of the three separators.
#[derive(Debug, Default)]
pub struct SeparatorEscaper {
    /// The start of a possible separator that ended the last chunk.
    held: Vec<u8>,
}

impl SeparatorEscaper {
    /// Appends `chunk` to `out`, separators escaped. Bytes that might begin
    /// a separator at the very end are held until the next call (or
    /// [`SeparatorEscaper::finish`]).
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.held.is_empty() {
            self.escape(chunk, out);
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(chunk);
            self.escape(&joined, out);
        }
    }

    /// Writes whatever is held: at the end of input it was not a separator.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.held);
    }

    fn escape(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut copied = 0;
        let mut i = 0;
        // Only the two lead bytes can start a separator; the bytes between
        // them are skipped at memchr's speed.
        while let Some(at) = memchr::memchr2(0xE2, 0xC2, &data[i..]) {
            i += at;
            let escape: Option<(&[u8], usize)> = match data[i] {
                0xE2 => match data.get(i + 1..i + 3) {
                    Some([0x80, 0xA8]) => Some((b"\\u2028", 3)),
                    Some([0x80, 0xA9]) => Some((b"\\u2029", 3)),
                    Some(_) => None,
                    None if data[i + 1..].iter().all(|&b| b == 0x80) => {
                        out.extend_from_slice(&data[copied..i]);
                        self.held.extend_from_slice(&data[i..]);
                        return;
                    }
                    None => None,
                },
                0xC2 => match data.get(i + 1) {
                    Some(0x85) => Some((b"\\u0085", 2)),
                    Some(_) => None,
                    None => {
                        out.extend_from_slice(&data[copied..i]);
                        self.held.push(0xC2);
                        return;
                    }
                },
                _ => None,
            };
            match escape {
                Some((replacement, len)) => {
                    out.extend_from_slice(&data[copied..i]);
                    out.extend_from_slice(replacement);
                    i += len;
                    copied = i;
                }
                None => i += 1,
            }
        }
        out.extend_from_slice(&data[copied..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape_in_pieces(input: &[u8], split: usize) -> Vec<u8> {
        let mut escaper = SeparatorEscaper::default();
        let mut out = Vec::new();
        for piece in input.chunks(split.max(1)) {
            escaper.push(piece, &mut out);
        }
        escaper.finish(&mut out);
        out
    }

    #[test]
    fn the_three_separators_become_json_escapes() {
        let input = "{\"text\":\"a\u{2028}b\u{2029}c\u{0085}d\"}\n".as_bytes();
        let expected = br#"{"text":"a\u2028b\u2029c\u0085d"}"#.to_vec();
        let mut expected = expected;
        expected.push(b'\n');
        for split in 1..input.len() + 1 {
            assert_eq!(escape_in_pieces(input, split), expected, "split {split}");
        }
    }

    #[test]
    fn other_characters_pass_untouched_whatever_the_split() {
        // Neighbours of the separators in UTF-8: U+2027, U+202A, U+0084,
        // U+00E9, U+20AC, plus a lone lead byte at the end.
        let mut input = "x\u{2027}\u{202A}\u{0084}é€ü".as_bytes().to_vec();
        input.extend_from_slice(&[0xE2, 0x80]);
        for split in 1..input.len() + 1 {
            assert_eq!(escape_in_pieces(&input, split), input, "split {split}");
        }
    }

    #[test]
    fn a_lone_c2_at_the_end_of_input_is_kept() {
        assert_eq!(escape_in_pieces(&[b'a', 0xC2], 1), vec![b'a', 0xC2]);
    }
}
