//! Reading a host app's config file for where things are, not just what
//! they are: JSON plus the `//` and `/* */` comments and trailing commas of
//! VS Code's and Zed's files (JSONC), with the byte span of every value and
//! member, so that an entry can be inserted or replaced without touching a
//! single other byte of the file.
//!
//! A whole-file parse, not a scan for the section: a file that is not
//! valid is refused (with its line and column) rather than edited into
//! something worse.

use std::fmt;

/// How deep arrays and objects may nest. Real config files nest a handful
/// of levels; the parser recurses, and a file of a million `[` must be a
/// clear error, not a stack overflow.
const MAX_DEPTH: usize = 256;

/// A value and where it is: `text[start..end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub start: usize,
    pub end: usize,
    /// Its members, when it is an object.
    pub object: Option<Object>,
}

/// An object's braces and members, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The offset of `{`.
    pub open: usize,
    /// The offset of `}`.
    pub close: usize,
    pub members: Vec<Member>,
}

/// `"key": value` and the comma after it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key, its escapes decoded.
    pub key: String,
    /// The offset of the key's opening quote.
    pub key_start: usize,
    pub value: Value,
    /// The offset of the comma that follows the value.
    pub comma: Option<usize>,
}

impl Object {
    /// The member named `key`. If the key is repeated, the last one: that is
    /// the one the apps see (JSON.parse and serde_json keep the last), so it
    /// is the one to read and replace.
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.members.iter().rev().find(|m| m.key == key)
    }
}

/// Where and why the text is not JSON(C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: usize,
    pub what: &'static str,
}

impl SyntaxError {
    /// "line L, column C: what", counted in `text` (columns in characters).
    pub fn describe(&self, text: &str) -> String {
        let (line, column) = line_column(text, self.at);
        format!("line {line}, column {column}: {}", self.what)
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}", self.at, self.what)
    }
}

/// The 1-based line and column of byte `at` in `text`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The one value of `text`, or `None` when it holds nothing but whitespace
/// and comments.
pub fn parse(text: &str) -> Result<Option<Value>, SyntaxError> {
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
    };
    // A byte order mark is not JSON, but editors on Windows write one.
    if text.starts_with('\u{feff}') {
        parser.at = '\u{feff}'.len_utf8();
    }
    parser.skip_trivia()?;
    if parser.at == parser.text.len() {
        return Ok(None);
    }
    let value = parser.value(0)?;
    parser.skip_trivia()?;
    if parser.at < parser.text.len() {
        return Err(parser.error("unexpected text after the end of the JSON value"));
    }
    Ok(Some(value))
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &'static str) -> SyntaxError {
        SyntaxError { at: self.at, what }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.at += 1,
                b'/' => match self.text.get(self.at + 1) {
                    Some(b'/') => {
                        while !matches!(self.peek(), None | Some(b'\n' | b'\r')) {
                            self.at += 1;
                        }
                    }
                    Some(b'*') => {
                        let body = &self.text[self.at + 2..];
                        match body.windows(2).position(|w| w == b"*/") {
                            Some(end) => self.at += 2 + end + 2,
                            None => return Err(self.error("a /* comment is never closed")),
                        }
                    }
                    _ => return Err(self.error("a lone '/' (comments start with // or /*)")),
                },
                _ => break,
            }
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let start = self.at;
        let object = match self.peek() {
            Some(b'{') => Some(self.object(depth)?),
            Some(b'[') => {
                self.array(depth)?;
                None
            }
            Some(b'"') => {
                self.string()?;
                None
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                None
            }
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'n') => self.literal("null")?,
            None => return Err(self.error("the file ends where a value was expected")),
            Some(_) => return Err(self.error("expected a value")),
        };
        Ok(Value {
            start,
            end: self.at,
            object,
        })
    }

    fn object(&mut self, depth: usize) -> Result<Object, SyntaxError> {
        let open = self.at;
        self.at += 1;
        let mut members: Vec<Member> = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b'}') => break,
                None => return Err(self.error("the file ends inside an object")),
                Some(_) if members.last().is_some_and(|m| m.comma.is_none()) => {
                    return Err(self.error("expected ',' or '}' after a member"));
                }
                Some(b'"') => {}
                Some(_) => return Err(self.error("expected a member's key in double quotes")),
            }
            let key_start = self.at;
            let key = self.string()?;
            self.skip_trivia()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after a key"));
            }
            self.at += 1;
            self.skip_trivia()?;
            let value = self.value(depth + 1)?;
            self.skip_trivia()?;
            let comma = (self.peek() == Some(b',')).then_some(self.at);
            if comma.is_some() {
                self.at += 1;
            }
            members.push(Member {
                key,
                key_start,
                value,
                comma,
            });
        }
        let close = self.at;
        self.at += 1;
        Ok(Object {
            open,
            close,
            members,
        })
    }

    fn array(&mut self, depth: usize) -> Result<(), SyntaxError> {
        self.at += 1;
        let mut needs_comma = false;
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b']') => break,
                None => return Err(self.error("the file ends inside an array")),
                Some(_) if needs_comma => {
                    return Err(self.error("expected ',' or ']' after an item"));
                }
                Some(_) => {}
            }
            self.value(depth + 1)?;
            self.skip_trivia()?;
            if self.peek() == Some(b',') {
                self.at += 1;
            } else {
                needs_comma = true;
            }
        }
        self.at += 1;
        Ok(())
    }

    /// Reads a string literal; returns it decoded (lone surrogates, which
    /// no key we look for contains, become U+FFFD).
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.at += 1;
        let mut units: Vec<u16> = Vec::new();
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            // Copy the plain run up to the next quote, backslash or control
            // character in one piece; it is whole UTF-8 (it came from a &str
            // and ends before an ASCII byte).
            let run = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            if run > 0 {
                flush(&mut units, &mut out);
                out.push_str(&String::from_utf8_lossy(&rest[..run]));
                self.at += run;
            }
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    flush(&mut units, &mut out);
                    return Ok(out);
                }
                Some(b'\\') => {
                    let decoded = match self.text.get(self.at + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let hex = self
                                .text
                                .get(self.at + 2..self.at + 6)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                                .and_then(|h| u16::from_str_radix(h, 16).ok())
                                .ok_or_else(|| {
                                    self.error("\\u must be followed by 4 hex digits")
                                })?;
                            units.push(hex);
                            self.at += 6;
                            continue;
                        }
                        _ => return Err(self.error("unknown escape in a string")),
                    };
                    flush(&mut units, &mut out);
                    out.push(decoded);
                    self.at += 2;
                }
                None => return Err(self.error("a string is never closed")),
                Some(_) => {
                    return Err(self.error(
                        "a control character (such as a line break) inside a string; write it as an escape",
                    ));
                }
            }
        }
    }

    fn number(&mut self) -> Result<(), SyntaxError> {
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.at += 1;
            }
            p.at > from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else if !digits(self) {
            return Err(self.error("expected a digit"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !digits(self) {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !digits(self) {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static str) -> Result<Option<Object>, SyntaxError> {
        let end = self.at + word.len();
        let follows = self.text.get(end).copied();
        if self.text.get(self.at..end) == Some(word.as_bytes())
            && !follows.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.at = end;
            Ok(None)
        } else {
            Err(self.error("expected a value (true, false and null are lowercase)"))
        }
    }
}

/// Appends pending `\u` escapes to `out` as characters.
fn flush(units: &mut Vec<u16>, out: &mut String) {
    out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('\u{fffd}')));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Object {
        parse(text).unwrap().unwrap().object.unwrap()
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().describe(text)
    }

    #[test]
    fn members_are_found_with_their_spans_past_comments_and_tricky_strings() {
        let text = "// head {\n{\n  /* \"x\": { */ \"a\": \"}// {\\\"\",\n  \"b\" : { \"c\": [1, {\"d\": null}], }, // tail\n}\n";
        let obj = root(text);
        assert_eq!(obj.members.len(), 2);
        let a = &obj.members[0];
        assert_eq!(a.key, "a");
        assert_eq!(&text[a.value.start..a.value.end], "\"}// {\\\"\"");
        assert!(a.comma.is_some());
        let b = obj.member("b").unwrap();
        assert_eq!(&text[b.key_start..b.key_start + 3], "\"b\"");
        let inner = b.value.object.as_ref().unwrap();
        assert_eq!(inner.members[0].key, "c");
        assert_eq!(
            &text[inner.members[0].value.start..inner.members[0].value.end],
            "[1, {\"d\": null}]"
        );
        assert_eq!(
            &text[inner.open..=inner.close],
            "{ \"c\": [1, {\"d\": null}], }"
        );
        assert_eq!(text.as_bytes()[obj.close], b'}');
    }

    #[test]
    fn keys_are_compared_decoded_and_the_last_of_a_repeated_key_wins() {
        let text = r#"{"m\u0063pServers": 1, "x": 2, "mcpServers": 3, "\ud83d\ude00\n": 4}"#;
        let obj = root(text);
        assert_eq!(
            obj.member("mcpServers").unwrap().value.start,
            text.find(": 3").unwrap() + 2
        );
        assert_eq!(obj.members[3].key, "😀\n");
    }

    #[test]
    fn empty_and_comment_only_text_has_no_value() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse(" \r\n\t// nothing\n/* yet */").unwrap(), None);
        assert!(parse("\u{feff}{}").unwrap().is_some());
    }

    #[test]
    fn invalid_text_is_an_error_naming_line_and_column() {
        assert_eq!(
            error("{\n  \"a\": 1\n  \"b\": 2\n}"),
            "line 3, column 3: expected ',' or '}' after a member"
        );
        assert_eq!(
            error("{\"a\": tru}"),
            "line 1, column 7: expected a value (true, false and null are lowercase)"
        );
        assert_eq!(
            error("{\"é\": 01}"),
            "line 1, column 8: expected ',' or '}' after a member"
        );
        assert_eq!(
            error("{} {}"),
            "line 1, column 4: unexpected text after the end of the JSON value"
        );
        assert_eq!(
            error("{\"a\": \"x\ny\"}"),
            "line 1, column 9: a control character (such as a line break) inside a string; write it as an escape"
        );
        assert_eq!(
            error("{/* open"),
            "line 1, column 2: a /* comment is never closed"
        );
        assert_eq!(
            error("{\"a\":1,,}"),
            "line 1, column 8: expected a member's key in double quotes"
        );
        assert_eq!(
            error("[1 2]"),
            "line 1, column 4: expected ',' or ']' after an item"
        );
        assert_eq!(
            error("{\"a\" 1}"),
            "line 1, column 6: expected ':' after a key"
        );
        assert_eq!(
            error("{\"\\u12\": 1}"),
            "line 1, column 3: \\u must be followed by 4 hex digits"
        );
    }

    #[test]
    fn truncated_and_hostile_inputs_are_errors_never_panics() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).unwrap_err().what, "nested too deeply");
        let samples = [
            "{",
            "}",
            "\"",
            "\"\\",
            "\"\\u",
            "-",
            "1.",
            "1e",
            "1e+",
            "/",
            "/*",
            "/**",
            "//",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1,",
            "[",
            "[1,",
            "nul",
            "é",
            "{\"é",
            "\u{feff}",
        ];
        for sample in samples {
            let _ = parse(sample);
            for cut in 0..=sample.len() {
                if let Some(prefix) = sample.get(..cut) {
                    let _ = parse(prefix);
                }
            }
        }
        let doc = "{\"a\": [1, -2.5e+3, true, null, {\"b\": \"\\u00e9\"}], /* c */ \"d\": {},}";
        for cut in 0..=doc.len() {
            if let Some(prefix) = doc.get(..cut) {
                let _ = parse(prefix);
            }
        }
        assert!(parse(doc).is_ok());
    }
}
