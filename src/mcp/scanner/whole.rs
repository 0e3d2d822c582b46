//! The scanner's fast path: a message object that lies whole in the bytes at hand, read in one
//! pass over the slice.
//!
//! Nearly every message is a small object that arrives in one read, and walking it byte by byte
//! through [`Scanner`](super::Scanner)'s state machine cost more than encrypting it (figures in
//! `benches/README.md`). Here the same grammar is read with the
//! slice in hand: a key is compared where it lies, a skipped value is jumped over. Anything
//! this path does not expect (an escape in a key or a kept value, a batch, a line cut short, any
//! malformation) gives `None` and the state machine reads the line from its start instead, so
//! both paths tell every message apart alike; the scanner's tests check that they do.

use super::{
    Id, IdField, MAX_ID_LEN, MAX_METHOD_LEN, Message, MethodField, classify, is_space,
    is_token_byte, is_token_start, lossy_text, string_end, token_id,
};

/// Reads the message object at the start of `bytes` (after optional whitespace); returns it and
/// the length read, up to and including its closing `}`, or `None` to leave it to the state
/// machine.
pub(super) fn object(bytes: &[u8]) -> Option<(Message, usize)> {
    let mut r = Reader { bytes, at: 0 };
    r.skip_space();
    r.expect(b'{')?;
    let mut id = IdField::Absent;
    let mut method = MethodField::Absent;
    r.skip_space();
    if r.peek()? != b'}' {
        loop {
            r.skip_space();
            r.expect(b'"')?;
            let key = r.plain_string()?;
            r.skip_space();
            r.expect(b':')?;
            r.skip_space();
            // The last of duplicate keys wins, as in the state machine.
            match key {
                b"id" => id = r.id()?,
                b"method" => method = r.method()?,
                _ => r.skip_value()?,
            }
            r.skip_space();
            match r.peek()? {
                b',' => r.at += 1,
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.at += 1;
    Some((classify(id, method), r.at))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.at += 1)
    }

    #[inline(always)]
    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.at += 1;
        }
    }

    /// A string's content after its opening quote, when it holds no escape; the reader ends
    /// past the closing quote.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let rest = &self.bytes[self.at..];
        let end = string_end(rest)?;
        if rest[end] != b'"' {
            return None;
        }
        self.at += end + 1;
        Some(&rest[..end])
    }

    /// A number or literal, from its first byte.
    fn token(&mut self) -> Option<&'a [u8]> {
        let rest = &self.bytes[self.at..];
        if !is_token_start(*rest.first()?) {
            return None;
        }
        // A token cut by the end of the bytes may go on in the next chunk.
        let len = rest.iter().position(|&b| !is_token_byte(b))?;
        self.at += len;
        Some(&rest[..len])
    }

    fn id(&mut self) -> Option<IdField> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                let text = self.plain_string()?;
                Some(if text.len() > MAX_ID_LEN {
                    IdField::Invalid
                } else {
                    IdField::Value(Id::String(lossy_text(text)))
                })
            }
            b'{' | b'[' => {
                self.skip_value()?;
                Some(IdField::Invalid)
            }
            _ => {
                let text = self.token()?;
                Some(token_id(text, text.len() > MAX_ID_LEN))
            }
        }
    }

    fn method(&mut self) -> Option<MethodField> {
        if self.peek()? != b'"' {
            self.skip_value()?;
            return Some(MethodField::Invalid);
        }
        self.at += 1;
        let text = self.plain_string()?;
        Some(if text.len() > MAX_METHOD_LEN {
            MethodField::Invalid
        } else {
            MethodField::Value(lossy_text(text))
        })
    }

    /// Moves past any JSON value, escapes and nesting included; brackets are counted, not
    /// matched, as in the state machine.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.skip_string_rest()
            }
            b'{' | b'[' => {
                self.at += 1;
                self.skip_nested_rest()
            }
            _ => self.token().map(drop),
        }
    }

    /// Moves past the rest of an object or array. Between its strings are a few bytes of
    /// punctuation, numbers and literals: a plain loop, where a search per bracket or quote cost
    /// more than the bytes it skipped.
    fn skip_nested_rest(&mut self) -> Option<()> {
        let mut depth = 1usize;
        loop {
            let b = self.peek()?;
            self.at += 1;
            match b {
                b'"' => self.skip_string_rest()?,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                b'\n' => return None,
                _ => {}
            }
        }
    }

    /// Moves past the rest of a string whatever it holds; `None` if the line ends first.
    fn skip_string_rest(&mut self) -> Option<()> {
        loop {
            let rest = &self.bytes[self.at..];
            let at = string_end(rest)?;
            match rest[at] {
                b'"' => {
                    self.at += at + 1;
                    return Some(());
                }
                // The escaped byte, whatever it is, unless it is the end of the line.
                b'\\' if rest.get(at + 1).is_some_and(|&b| b != b'\n') => self.at += at + 2,
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Option<(Message, usize)> {
        object(line.as_bytes())
    }

    #[test]
    fn common_messages_are_read_to_their_closing_brace() {
        let request = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a \"quoted\" }"}}}"#;
        assert_eq!(
            read(&format!("{request}\n")),
            Some((
                Message::Request {
                    id: Id::Number("7".into()),
                    method: "tools/call".into()
                },
                request.len()
            ))
        );
        let response = r#" {"jsonrpc":"2.0","id":"a-b","result":{"content":[{"type":"text","text":"x"}],"n":[1,-2.5e3,true,null]}} "#;
        assert_eq!(
            read(response),
            Some((
                Message::Response {
                    id: Some(Id::String("a-b".into()))
                },
                response.len() - 1
            ))
        );
        assert_eq!(
            read(r#"{"method":"notifications/initialized"}"#).map(|(m, _)| m),
            Some(Message::Notification {
                method: "notifications/initialized".into()
            })
        );
        assert_eq!(read("{ }\n"), Some((Message::Other, 3)));
    }

    #[test]
    fn what_this_path_does_not_expect_is_left_to_the_state_machine() {
        for line in [
            r#"{"i\u0064":1,"method":"m"}"#,
            r#"{"id":"\u0041","method":"m"}"#,
            r#"{"id":1,"method":"m\/n"}"#,
            r#"[{"id":1,"method":"m"}]"#,
            r#"{"id":1,"method":"m""#,
            r#"{"id":1,"params":{"a":"b"#,
            "{\"id\":1,\"params\":\"a\\\n\"}",
            "{\"id\":1,\"params\":{\n}}",
            r#"{"id":12"#,
            r#"{"id":1,}"#,
            r#"{"id":.5}"#,
            r#"{"id" 1}"#,
            "not json",
            "",
        ] {
            assert_eq!(read(line), None, "{line:?}");
        }
    }
}
