//! JSON strings as the scanner keeps them: decoded (escapes, surrogate
//! pairs) into a buffer with a cap, one byte at a time, since a chunk may
//! end anywhere.

use crate::mcp::short_text::ShortText;

/// Progress through a JSON string escape, kept between bytes because a chunk may end anywhere.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum Escape {
    #[default]
    None,
    Backslash,
    /// Reading the hex digits of `\uXXXX`; `high` is a high surrogate waiting for its partner.
    Hex {
        high: Option<u16>,
        digits: u8,
        unit: u16,
    },
    /// A high surrogate was read; only `\uDC00`-`\uDFFF` can complete it.
    AfterHigh(u16),
    AfterHighBackslash(u16),
}

/// Outcome of feeding one byte of a string to [`Capture`].
pub(super) enum Step {
    More,
    End,
    Invalid,
}

/// Decodes one JSON string (after its opening quote) into a capped buffer.
#[derive(Debug, Default)]
pub(super) struct Capture {
    pub(super) bytes: Vec<u8>,
    cap: usize,
    /// Set once the value outgrew `cap`; it then can no longer be used.
    pub(super) overflow: bool,
    pub(super) escape: Escape,
}

impl Capture {
    pub(super) fn start(&mut self, cap: usize) {
        self.bytes.clear();
        self.cap = cap;
        self.overflow = false;
        self.escape = Escape::None;
    }

    pub(super) fn put(&mut self, bytes: &[u8]) {
        if self.overflow || self.bytes.len() + bytes.len() > self.cap {
            self.overflow = true;
        } else {
            self.bytes.extend_from_slice(bytes);
        }
    }

    pub(super) fn put_char(&mut self, c: char) {
        let mut utf8 = [0; 4];
        self.put(c.encode_utf8(&mut utf8).as_bytes());
    }

    pub(super) fn text(&self) -> ShortText {
        lossy_text(&self.bytes)
    }

    pub(super) fn string_byte(&mut self, b: u8) -> Step {
        match self.escape {
            Escape::None => match b {
                b'"' => return Step::End,
                b'\\' => self.escape = Escape::Backslash,
                _ => self.put(&[b]),
            },
            Escape::Backslash => {
                self.escape = Escape::None;
                let decoded = match b {
                    b'"' | b'\\' | b'/' => b,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        self.escape = Escape::Hex {
                            high: None,
                            digits: 0,
                            unit: 0,
                        };
                        return Step::More;
                    }
                    _ => return Step::Invalid,
                };
                self.put(&[decoded]);
            }
            Escape::Hex { high, digits, unit } => {
                let Some(digit) = char::from(b).to_digit(16) else {
                    return Step::Invalid;
                };
                // At most four digits are read, so nothing is shifted out of the u16.
                let unit = (unit << 4) | digit as u16;
                if digits == 3 {
                    self.escape = Escape::None;
                    self.code_unit(high, unit);
                } else {
                    self.escape = Escape::Hex {
                        high,
                        digits: digits + 1,
                        unit,
                    };
                }
            }
            Escape::AfterHigh(high) => {
                if b == b'\\' {
                    self.escape = Escape::AfterHighBackslash(high);
                } else {
                    self.put_char(char::REPLACEMENT_CHARACTER);
                    self.escape = Escape::None;
                    return self.string_byte(b);
                }
            }
            Escape::AfterHighBackslash(high) => {
                if b == b'u' {
                    self.escape = Escape::Hex {
                        high: Some(high),
                        digits: 0,
                        unit: 0,
                    };
                } else {
                    // The lone high surrogate is done with; `b` is an ordinary escape.
                    self.put_char(char::REPLACEMENT_CHARACTER);
                    self.escape = Escape::Backslash;
                    return self.string_byte(b);
                }
            }
        }
        Step::More
    }

    /// Takes one UTF-16 code unit from `\uXXXX`, pairing surrogates; strays become U+FFFD as in
    /// lossy UTF-8 decoding, so such an id still compares equal to itself.
    pub(super) fn code_unit(&mut self, high: Option<u16>, unit: u16) {
        match (high, unit) {
            (Some(high), 0xDC00..=0xDFFF) => {
                let scalar =
                    0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.put_char(char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            (Some(_), _) => {
                self.put_char(char::REPLACEMENT_CHARACTER);
                self.code_unit(None, unit);
            }
            (None, 0xD800..=0xDBFF) => self.escape = Escape::AfterHigh(unit),
            (None, _) => self
                .put_char(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
    }
}

/// Decodes an id or method lossily, as invalid UTF-8 must not stop a message being recognised.
pub(super) fn lossy_text(bytes: &[u8]) -> ShortText {
    match std::str::from_utf8(bytes) {
        Ok(text) => ShortText::from(text),
        Err(_) => ShortText::from(String::from_utf8_lossy(bytes).into_owned()),
    }
}
