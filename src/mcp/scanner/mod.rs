//! Observes newline-delimited JSON-RPC traffic and tells what each message is, without
//! altering, buffering or re-encoding a single byte of it.
//!
//! [`Scanner`] is a byte-at-a-time state machine that understands just enough JSON to find the
//! top-level `id` and `method` members of a message object, or of each object in a batch array.
//! Everything else (other members, nested values, long strings) is skipped by tracking only
//! nesting depth and string/escape state, so memory stays constant however long a line is: the
//! only things kept are the captured key, `id` and `method`, each under a small cap. A raw `\n`
//! cannot occur inside valid JSON, so every `\n` ends the current line and resynchronises the
//! scanner whatever came before it. The scanner is not a JSON validator: it rejects only the
//! malformations it meets on the path it has to walk. A message object that lies whole in the
//! bytes at hand, nearly every one, is read first in one pass over the slice (`whole.rs`); the
//! state machine takes the lines that pass leaves to it.
//!
//! What it reports is a [`Message`]; what the relay does with it is `session.rs`'s.

mod bytes;
#[cfg(test)]
mod differential;
mod string;
mod whole;

use crate::mcp::message::{Id, Message};
use crate::mcp::short_text::ShortText;
use bytes::{is_space, is_token_byte, is_token_start, string_end};
use string::{Capture, Escape, Step, lossy_text};

/// Longest key, in decoded bytes, worth keeping: anything longer is neither `id` nor `method`.
const MAX_KEY_LEN: usize = 64;

/// Longest `method`, in decoded bytes, accepted; a longer one makes the message [`Message::Other`].
const MAX_METHOD_LEN: usize = 256;

/// Longest `id`, in decoded bytes (or literal characters for a number), accepted; a longer one
/// makes the message [`Message::Other`].
const MAX_ID_LEN: usize = 1024;

/// Where the scanner is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Before the first significant byte of a line.
    #[default]
    LineStart,
    /// Nothing more to learn from this line: wait for its `\n`.
    Ignore,
    /// Just after a batch's `[`, where `]` may close an empty batch.
    BatchFirst,
    /// After a `,` in a batch: an element must follow.
    BatchNext,
    /// After a batch element: `,` or `]`.
    BatchAfter,
    /// Just after a message's `{`: a key or `}`.
    KeyOrEnd,
    /// After a `,` in a message: a key must follow.
    KeyNext,
    /// Inside a message key.
    Key,
    /// After a message key.
    Colon,
    /// After a message key's `:`.
    Value,
    /// Inside a string value being kept (`id` or `method`).
    Capture,
    /// Inside a number or literal; kept when it is the `id`.
    Token,
    /// Inside a string being skipped.
    SkipString,
    /// Just after a backslash in a string being skipped.
    SkipEscape,
    /// Inside an object or array being skipped, outside strings.
    SkipNested,
    /// After a message member's value: `,` or `}`.
    AfterValue,
}

/// Which member the value being scanned belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Target {
    Id,
    Method,
    #[default]
    Ignored,
}

/// What a message object's `id` turned out to be.
#[derive(Debug, Default)]
enum IdField {
    #[default]
    Absent,
    Null,
    Value(Id),
    Invalid,
}

/// What a message object's `method` turned out to be.
#[derive(Debug, Default)]
enum MethodField {
    #[default]
    Absent,
    Value(ShortText),
    Invalid,
}

/// Streaming splitter and classifier of newline-delimited JSON-RPC.
///
/// Push chunks cut anywhere; `on_message` is called once per message: once per line, or once
/// per element for a line holding a batch array, in order. Empty and whitespace-only lines
/// produce nothing. A message is reported as soon as its closing `}` is seen, so a final line
/// without `\n` is not held back; anything after that brace on the same line is ignored. A line
/// that ends before its structure is complete produces one [`Message::Other`] (after any batch
/// elements already reported).
#[derive(Debug, Default)]
pub struct Scanner {
    state: State,
    /// The line is a batch, so a closed message object is followed by `,` or `]`.
    in_batch: bool,
    /// The value being skipped is a whole batch element rather than a member's value.
    skipping_element: bool,
    /// Nesting depth of the value being skipped; 0 for a string directly in the message.
    depth: usize,
    target: Target,
    capture: Capture,
    id: IdField,
    method: MethodField,
}

impl Scanner {
    /// Scans `chunk`, calling `on_message` for every message it completes.
    pub fn push(&mut self, chunk: &[u8], mut on_message: impl FnMut(Message)) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.state == State::LineStart {
                if let Some((message, len)) = whole::object(rest) {
                    on_message(message);
                    // What follows the object on its line is ignored, as after `close_object`.
                    self.state = State::Ignore;
                    rest = &rest[len..];
                    continue;
                }
            }
            // Most bytes of a line, huge or small, are string content, a skipped value or an
            // ignored tail: jump to the next byte that matters rather than walking each one
            // through the state machine.
            let next = match self.state {
                State::Ignore => memchr::memchr(b'\n', rest),
                State::SkipString => string_end(rest),
                State::SkipNested => rest
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'{' | b'[' | b'}' | b']' | b'\n')),
                State::Key | State::Capture if matches!(self.capture.escape, Escape::None) => {
                    let at = string_end(rest);
                    self.capture.put(&rest[..at.unwrap_or(rest.len())]);
                    at
                }
                State::Token => {
                    let at = rest.iter().position(|&b| !is_token_byte(b));
                    if self.target == Target::Id {
                        self.capture.put(&rest[..at.unwrap_or(rest.len())]);
                    }
                    at
                }
                _ => Some(0),
            };
            let Some((&b, tail)) = next
                .and_then(|at| rest.get(at..))
                .and_then(<[u8]>::split_first)
            else {
                return;
            };
            rest = tail;
            if b == b'\n' {
                self.end_line(&mut on_message);
            } else {
                while self.step(b, &mut on_message) {}
            }
        }
    }

    /// Handles one byte other than `\n`; returns true when the byte ended a number or literal
    /// and must be looked at again in the new state.
    fn step(&mut self, b: u8, out: &mut impl FnMut(Message)) -> bool {
        match self.state {
            State::LineStart => match b {
                _ if is_space(b) => {}
                b'{' => self.begin_object(),
                b'[' => {
                    self.in_batch = true;
                    self.state = State::BatchFirst;
                }
                _ => self.fail(out),
            },
            State::Ignore => {}
            State::BatchFirst | State::BatchNext => match b {
                _ if is_space(b) => {}
                b']' if self.state == State::BatchFirst => self.state = State::Ignore,
                b'{' => self.begin_object(),
                _ => {
                    self.target = Target::Ignored;
                    if self.start_skip(b) {
                        self.skipping_element = true;
                        out(Message::Other);
                    } else {
                        self.fail(out);
                    }
                }
            },
            State::BatchAfter => match b {
                _ if is_space(b) => {}
                b',' => self.state = State::BatchNext,
                b']' => self.state = State::Ignore,
                _ => self.fail(out),
            },
            State::KeyOrEnd | State::KeyNext => match b {
                _ if is_space(b) => {}
                b'"' => {
                    self.capture.start(MAX_KEY_LEN);
                    self.state = State::Key;
                }
                b'}' if self.state == State::KeyOrEnd => self.close_object(out),
                _ => self.fail(out),
            },
            State::Key => match self.capture.string_byte(b) {
                Step::More => {}
                Step::End => {
                    self.target = match (self.capture.overflow, self.capture.bytes.as_slice()) {
                        (false, b"id") => Target::Id,
                        (false, b"method") => Target::Method,
                        _ => Target::Ignored,
                    };
                    self.state = State::Colon;
                }
                Step::Invalid => self.fail(out),
            },
            State::Colon => match b {
                _ if is_space(b) => {}
                b':' => self.state = State::Value,
                _ => self.fail(out),
            },
            State::Value => self.start_value(b, out),
            State::Capture => match self.capture.string_byte(b) {
                Step::More => {}
                Step::End => {
                    let usable = !self.capture.overflow;
                    match self.target {
                        Target::Id if usable => {
                            self.id = IdField::Value(Id::String(self.capture.text()));
                        }
                        Target::Id => self.id = IdField::Invalid,
                        Target::Method if usable => {
                            self.method = MethodField::Value(self.capture.text());
                        }
                        Target::Method => self.method = MethodField::Invalid,
                        Target::Ignored => {}
                    }
                    self.value_done();
                }
                Step::Invalid => self.fail(out),
            },
            State::Token => {
                // `push` takes a token's bytes in bulk: `b` is the first byte after it.
                if self.target == Target::Id {
                    self.id = self.token_id();
                }
                self.value_done();
                return true;
            }
            State::SkipString => match b {
                b'"' if self.depth == 0 => self.value_done(),
                b'"' => self.state = State::SkipNested,
                b'\\' => self.state = State::SkipEscape,
                _ => {}
            },
            State::SkipEscape => self.state = State::SkipString,
            State::SkipNested => match b {
                b'"' => self.state = State::SkipString,
                b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                b'}' | b']' => {
                    // Brackets are counted, not matched: telling `{]` from `{}` would need a
                    // stack as deep as the value, and the relay does not need to know.
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.value_done();
                    }
                }
                _ => {}
            },
            State::AfterValue => match b {
                _ if is_space(b) => {}
                b',' => self.state = State::KeyNext,
                b'}' => self.close_object(out),
                _ => self.fail(out),
            },
        }
        false
    }

    /// Handles the first byte of a message member's value.
    fn start_value(&mut self, b: u8, out: &mut impl FnMut(Message)) {
        if is_space(b) {
            return;
        }
        match (self.target, b) {
            (Target::Id, b'"') => {
                self.capture.start(MAX_ID_LEN);
                self.state = State::Capture;
            }
            (Target::Method, b'"') => {
                self.capture.start(MAX_METHOD_LEN);
                self.state = State::Capture;
            }
            (Target::Id, _) if is_token_start(b) => {
                self.capture.start(MAX_ID_LEN);
                self.capture.put(&[b]);
                self.state = State::Token;
            }
            _ => {
                // Any other value of `id` or `method` is unusable, yet must still be walked over.
                match self.target {
                    Target::Id => self.id = IdField::Invalid,
                    Target::Method => self.method = MethodField::Invalid,
                    Target::Ignored => {}
                }
                self.target = Target::Ignored;
                if !self.start_skip(b) {
                    self.fail(out);
                }
            }
        }
    }

    /// Starts skipping a value that begins with `b`; false if no JSON value begins so.
    fn start_skip(&mut self, b: u8) -> bool {
        match b {
            b'"' => {
                self.depth = 0;
                self.state = State::SkipString;
            }
            b'{' | b'[' => {
                self.depth = 1;
                self.state = State::SkipNested;
            }
            _ if is_token_start(b) => self.state = State::Token,
            _ => return false,
        }
        true
    }

    fn token_id(&self) -> IdField {
        token_id(&self.capture.bytes, self.capture.overflow)
    }

    fn value_done(&mut self) {
        self.state = if std::mem::take(&mut self.skipping_element) {
            State::BatchAfter
        } else {
            State::AfterValue
        };
    }

    fn begin_object(&mut self) {
        self.id = IdField::Absent;
        self.method = MethodField::Absent;
        self.state = State::KeyOrEnd;
    }

    fn close_object(&mut self, out: &mut impl FnMut(Message)) {
        let id = std::mem::take(&mut self.id);
        let method = std::mem::take(&mut self.method);
        out(classify(id, method));
        self.state = if self.in_batch {
            State::BatchAfter
        } else {
            State::Ignore
        };
    }

    /// The line is malformed where it matters: report it once and wait for the next line.
    fn fail(&mut self, out: &mut impl FnMut(Message)) {
        out(Message::Other);
        self.state = State::Ignore;
    }

    fn end_line(&mut self, out: &mut impl FnMut(Message)) {
        if !matches!(self.state, State::LineStart | State::Ignore) {
            out(Message::Other);
        }
        self.state = State::LineStart;
        self.in_batch = false;
        self.skipping_element = false;
        self.depth = 0;
        self.target = Target::Ignored;
        self.id = IdField::Absent;
        self.method = MethodField::Absent;
    }
}

/// What a message object is, from its `id` and `method` members.
fn classify(id: IdField, method: MethodField) -> Message {
    match (id, method) {
        (IdField::Invalid, _) | (_, MethodField::Invalid) => Message::Other,
        (IdField::Value(id), MethodField::Value(method)) => Message::Request { id, method },
        (IdField::Absent, MethodField::Value(method)) => Message::Notification { method },
        // A request with a null id cannot be told apart from others when answered.
        (IdField::Null, MethodField::Value(_)) => Message::Other,
        (IdField::Value(id), MethodField::Absent) => Message::Response { id: Some(id) },
        (IdField::Null, MethodField::Absent) => Message::Response { id: None },
        (IdField::Absent, MethodField::Absent) => Message::Other,
    }
}

/// What a number or literal given as `id` makes of it; `overflow` if it was over the cap.
fn token_id(text: &[u8], overflow: bool) -> IdField {
    if overflow {
        IdField::Invalid
    } else if text == b"null" {
        IdField::Null
    } else if is_json_number(text) {
        IdField::Value(Id::Number(lossy_text(text)))
    } else {
        IdField::Invalid
    }
}

/// Whether `text` follows the JSON number grammar, so that `01` or `1.` is not taken for an id.
fn is_json_number(text: &[u8]) -> bool {
    let mut at = usize::from(text.first() == Some(&b'-'));
    let digits = |at: &mut usize| {
        let start = *at;
        while text.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    let int_start = at;
    let int = digits(&mut at);
    if int == 0 || (int > 1 && text[int_start] == b'0') {
        return false;
    }
    if text.get(at) == Some(&b'.') {
        at += 1;
        if digits(&mut at) == 0 {
            return false;
        }
    }
    if matches!(text.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(text.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if digits(&mut at) == 0 {
            return false;
        }
    }
    at == text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(input: &[u8]) -> Vec<Message> {
        let mut scanner = Scanner::default();
        let mut out = Vec::new();
        scanner.push(input, |m| out.push(m));
        out
    }

    /// Byte by byte, so that only the state machine reads the input.
    fn scan_bytewise(input: &[u8]) -> Vec<Message> {
        let mut scanner = Scanner::default();
        let mut out = Vec::new();
        for b in input {
            scanner.push(std::slice::from_ref(b), |m| out.push(m));
        }
        out
    }

    /// The one message of `line`, which both paths must tell alike.
    fn one(line: &str) -> Message {
        let input = format!("{line}\n");
        let messages = scan(input.as_bytes());
        assert_eq!(messages.len(), 1, "{line:?} gave {messages:?}");
        assert_eq!(scan_bytewise(input.as_bytes()), messages, "{line:?}");
        messages.into_iter().next().unwrap_or(Message::Other)
    }

    fn num(text: &str) -> Id {
        Id::Number(text.into())
    }

    fn string(text: &str) -> Id {
        Id::String(text.into())
    }

    fn request(id: Id, method: &str) -> Message {
        Message::Request {
            id,
            method: method.into(),
        }
    }

    fn notification(method: &str) -> Message {
        Message::Notification {
            method: method.into(),
        }
    }

    fn response(id: Option<Id>) -> Message {
        Message::Response { id }
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            request(num("1"), "tools/list")
        );
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            notification("notifications/initialized")
        );
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            response(Some(num("1")))
        );
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"no"}}"#),
            response(Some(string("a")))
        );
    }

    #[test]
    fn ids_may_be_numbers_strings_or_null() {
        assert_eq!(one(r#"{"id":-7,"method":"m"}"#), request(num("-7"), "m"));
        assert_eq!(one(r#"{"id":"7","method":"m"}"#), request(string("7"), "m"));
        assert_eq!(one(r#"{"id":null,"error":{}}"#), response(None));
        assert_ne!(num("7"), string("7"));
    }

    #[test]
    fn number_ids_keep_their_literal_text() {
        assert_eq!(one(r#"{"id":1.50e+3}"#), response(Some(num("1.50e+3"))));
        assert_eq!(one(r#"{"id":-0}"#), response(Some(num("-0"))));
        assert_eq!(
            one(r#"{"id":12345678901234567890123}"#),
            response(Some(num("12345678901234567890123")))
        );
    }

    #[test]
    fn malformed_number_ids_are_other() {
        for id in ["01", "1.", "+1", ".5", "1e", "-", "1x", "nul", "NaN"] {
            assert_eq!(
                one(&format!(r#"{{"id":{id},"method":"m"}}"#)),
                Message::Other,
                "{id}"
            );
        }
    }

    #[test]
    fn ids_that_are_objects_arrays_or_booleans_are_other() {
        for id in [r#"{"a":1}"#, "[1]", "true", "false", "{}"] {
            assert_eq!(
                one(&format!(r#"{{"id":{id},"method":"m"}}"#)),
                Message::Other,
                "{id}"
            );
            assert_eq!(
                one(&format!(r#"{{"id":{id},"result":1}}"#)),
                Message::Other,
                "{id}"
            );
        }
    }

    #[test]
    fn a_method_that_is_not_a_string_is_other() {
        for method in ["1", "null", "true", "{}", r#"["m"]"#] {
            assert_eq!(
                one(&format!(r#"{{"id":1,"method":{method}}}"#)),
                Message::Other
            );
        }
    }

    #[test]
    fn a_method_with_a_null_id_is_other() {
        assert_eq!(one(r#"{"id":null,"method":"m"}"#), Message::Other);
    }

    #[test]
    fn an_object_with_neither_id_nor_method_is_other() {
        assert_eq!(one(r#"{"result":1}"#), Message::Other);
        assert_eq!(one("{}"), Message::Other);
    }

    #[test]
    fn escaped_keys_are_recognised() {
        assert_eq!(
            one(r#"{"\u0069d":3,"m\u0065thod":"x"}"#),
            request(num("3"), "x")
        );
        assert_eq!(one(r#"{"i\u0064":3}"#), response(Some(num("3"))));
    }

    #[test]
    fn string_ids_are_compared_decoded() {
        assert_eq!(
            one(r#"{"id":"\u0041","method":"m"}"#),
            one(r#"{"id":"A","method":"m"}"#)
        );
        assert_eq!(
            one(r#"{"id":"a\"b\\c\/d\n\t\u00e9","result":1}"#),
            response(Some(string("a\"b\\c/d\n\té")))
        );
    }

    #[test]
    fn surrogate_pairs_are_decoded() {
        assert_eq!(
            one(r#"{"id":"\ud83d\ude00","method":"\uD83D\uDE00!"}"#),
            request(string("😀"), "😀!")
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            one(r#"{"id":"a\ud83db"}"#),
            response(Some(string("a\u{fffd}b")))
        );
        assert_eq!(
            one(r#"{"id":"\ude00"}"#),
            response(Some(string("\u{fffd}")))
        );
        assert_eq!(
            one(r#"{"id":"\ud83d\n"}"#),
            response(Some(string("\u{fffd}\n")))
        );
        assert_eq!(
            one(r#"{"id":"\ud83d\u0041"}"#),
            response(Some(string("\u{fffd}A")))
        );
        assert_eq!(
            one(r#"{"id":"\ud83d\ud83d\ude00"}"#),
            response(Some(string("\u{fffd}😀")))
        );
        assert_eq!(
            one(r#"{"id":"\ud83d"}"#),
            response(Some(string("\u{fffd}")))
        );
    }

    #[test]
    fn invalid_escapes_in_captured_strings_are_other() {
        assert_eq!(one(r#"{"id":"\x","method":"m"}"#), Message::Other);
        assert_eq!(one(r#"{"id":"\u00g0","method":"m"}"#), Message::Other);
    }

    #[test]
    fn invalid_utf8_in_a_string_id_is_replaced() {
        let messages = scan(b"{\"id\":\"a\xff\xc3\",\"method\":\"m\xe9\"}\n");
        assert_eq!(
            messages,
            vec![request(string("a\u{fffd}\u{fffd}"), "m\u{fffd}")]
        );
    }

    #[test]
    fn structural_characters_inside_strings_do_not_confuse_the_scanner() {
        let line = r#"{"a":"}\"{]\\","params":{"s":"}}}\"\\\"{{[","t":["]","}"]},"id":"x}\"y","b":"\\","method":"m{]","c":"\"}"}"#;
        assert_eq!(one(line), request(string("x}\"y"), "m{]"));
    }

    #[test]
    fn members_of_nested_objects_are_not_taken_for_the_message_s() {
        let line = r#"{"params":{"id":5,"method":"inner","deep":[{"id":6},[[{"method":"x"}]]]},"id":1,"method":"outer"}"#;
        assert_eq!(one(line), request(num("1"), "outer"));
        assert_eq!(
            one(r#"{"params":{"id":5,"method":"inner"}}"#),
            Message::Other
        );
    }

    #[test]
    fn params_may_come_before_the_id() {
        assert_eq!(
            one(
                r#"{"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2,{"b":null}]}},"id":42,"jsonrpc":"2.0"}"#
            ),
            request(num("42"), "tools/call")
        );
    }

    #[test]
    fn scalar_values_of_other_members_are_skipped() {
        assert_eq!(
            one(r#"{"a":true,"b":false,"c":null,"d":-1.5e-3,"e":"s","id":1,"f":0}"#),
            response(Some(num("1")))
        );
    }

    #[test]
    fn the_last_of_duplicate_keys_wins() {
        assert_eq!(
            one(r#"{"id":1,"id":"two","method":"a","method":"b"}"#),
            request(string("two"), "b")
        );
        assert_eq!(one(r#"{"id":{},"id":1}"#), response(Some(num("1"))));
        assert_eq!(one(r#"{"id":1,"id":{}}"#), Message::Other);
        assert_eq!(one(r#"{"method":7,"method":"m"}"#), notification("m"));
        assert_eq!(one(r#"{"method":"m","method":[1]}"#), Message::Other);
    }

    #[test]
    fn brackets_in_skipped_values_are_counted_not_matched() {
        assert_eq!(
            one(r#"{"p":{"a":[}{],"b":"]"},"id":2,"method":"m"}"#),
            request(num("2"), "m")
        );
        assert_eq!(
            one(r#"{"p":[{]},"id":2}  trailing"#),
            response(Some(num("2")))
        );
    }

    #[test]
    fn overlong_method_and_id_are_other() {
        let method = "m".repeat(MAX_METHOD_LEN);
        assert_eq!(
            one(&format!(r#"{{"id":1,"method":"{method}"}}"#)),
            request(num("1"), &method)
        );
        assert_eq!(
            one(&format!(r#"{{"id":1,"method":"{method}x"}}"#)),
            Message::Other
        );
        let id = "i".repeat(MAX_ID_LEN);
        assert_eq!(
            one(&format!(r#"{{"id":"{id}"}}"#)),
            response(Some(string(&id)))
        );
        assert_eq!(one(&format!(r#"{{"id":"{id}x"}}"#)), Message::Other);
        let digits = "9".repeat(MAX_ID_LEN + 1);
        assert_eq!(one(&format!(r#"{{"id":{digits}}}"#)), Message::Other);
    }

    #[test]
    fn overlong_keys_are_not_ours() {
        let key = format!("id{}", " ".repeat(MAX_KEY_LEN));
        assert_eq!(
            one(&format!(r#"{{"{key}":1,"method":"m"}}"#)),
            notification("m")
        );
    }

    #[test]
    fn a_batch_gives_one_message_per_element_in_order() {
        let line = r#"[{"id":1,"method":"a"}, {"method":"n"} ,{"id":"r","result":[]},7,"s",[{"id":9,"method":"x"}],{"id":{}},null,{"id":2,"method":"b"}]"#;
        assert_eq!(
            scan(format!("{line}\n").as_bytes()),
            vec![
                request(num("1"), "a"),
                notification("n"),
                response(Some(string("r"))),
                Message::Other,
                Message::Other,
                Message::Other,
                Message::Other,
                Message::Other,
                request(num("2"), "b"),
            ]
        );
    }

    #[test]
    fn an_empty_batch_gives_nothing() {
        assert_eq!(scan(b"[]\n[ ]\n"), vec![]);
    }

    #[test]
    fn whitespace_around_tokens_and_crlf_are_accepted() {
        let input = b" \t{ \"id\" \t: 1 , \"method\" :\r\"m\" } \r\n\r\n[ { \"id\" : \"x\" } ]\r\n";
        assert_eq!(
            scan(input),
            vec![request(num("1"), "m"), response(Some(string("x")))]
        );
    }

    #[test]
    fn empty_and_blank_lines_give_nothing() {
        assert_eq!(scan(b"\n\n \t\r\n\r\n   \n"), vec![]);
    }

    #[test]
    fn a_message_is_reported_when_its_object_closes() {
        assert_eq!(
            scan(br#"{"id":1,"method":"m"}"#),
            vec![request(num("1"), "m")]
        );
    }

    #[test]
    fn anything_after_the_message_on_its_line_is_ignored() {
        assert_eq!(
            scan(b"{\"id\":1} trailing {\"id\":2,\"method\":\"m\"}\n{\"id\":3}\n"),
            vec![response(Some(num("1"))), response(Some(num("3")))]
        );
    }

    #[test]
    fn garbage_lines_are_other_and_the_next_line_still_classifies() {
        let garbage: [&[u8]; 13] = [
            b"not json",
            b"{\"id\":",
            b"{{{{",
            b"[[[[",
            b"[{\"id\":1,\"method\":\"m\"",
            b"{\"id\":1,\"method\":\"m\"",
            b"{\"id\" 1}",
            b"{\"id\":1,}",
            b"{id:1}",
            b"{\"a\":\"unterminated",
            b"\"just a string\"",
            b"\x00\xff\xfe{\x80\"",
            b"{\"params\":{\"deep\":[[[\"\\",
        ];
        for line in garbage {
            let mut input = line.to_vec();
            input.extend_from_slice(b"\n{\"id\":1,\"method\":\"m\"}\n");
            let messages = scan(&input);
            assert_eq!(messages.first(), Some(&Message::Other), "{line:?}");
            assert_eq!(messages.last(), Some(&request(num("1"), "m")), "{line:?}");
        }
    }

    #[test]
    fn a_batch_cut_short_reports_its_complete_elements_then_other() {
        assert_eq!(
            scan(b"[{\"id\":1,\"method\":\"m\"},{\"id\":2,\n"),
            vec![request(num("1"), "m"), Message::Other]
        );
    }

    /// Lines exercising escapes, multi-byte UTF-8, batches, CRLF and garbage, for split tests.
    fn sample_lines() -> Vec<u8> {
        let lines = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"s":"}\"{]\\","n":[1,2.5e3,null,true]}}"#,
            r#"  {"m\u0065thod":"m\u00e9th😀d\ud83d\ude00","\u0069d":"\u0041é\"\\"}  "#,
            "{\"id\":\"x\",\"result\":{\"text\":\"caf\u{e9} \u{1F600}\"}}\r",
            r#"[{"id":2,"method":"a"},7,{"method":"n"},{"id":null,"error":{}}]"#,
            "",
            "   \t",
            "not json",
            r#"{"id":{"nested":"}"},"method":"x"}"#,
            r#"{"id":-12.5E-7,"method":"num"}"#,
            // Strings past the short scan, with escapes on both sides of its end.
            r#"{"params":{"text":"a skipped string over thirty-two bytes long, "quoted" after"},"id":"an id over thirty-two bytes, with an escape: é","method":"a/method/name/over/thirty-two/bytes"}"#,
        ];
        let mut input = Vec::new();
        for line in lines {
            input.extend_from_slice(line.as_bytes());
            input.push(b'\n');
        }
        input
    }

    #[test]
    fn every_split_point_gives_the_same_messages() {
        let input = sample_lines();
        let whole = scan(&input);
        assert_eq!(whole.len(), 11);
        assert_eq!(whole[1], request(string("Aé\"\\"), "méth😀d😀"));
        assert_eq!(
            whole[10],
            request(
                string("an id over thirty-two bytes, with an escape: é"),
                "a/method/name/over/thirty-two/bytes"
            )
        );

        assert_eq!(scan_bytewise(&input), whole);

        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            let mut scanner = Scanner::default();
            let mut split = Vec::new();
            scanner.push(a, |m| split.push(m));
            scanner.push(b, |m| split.push(m));
            assert_eq!(split, whole, "split at {at}");
        }
    }

    #[test]
    fn a_20_mib_line_with_the_id_at_the_end_is_classified() {
        let mut line = br#"{"jsonrpc":"2.0","method":"tools/call","params":{"blob":""#.to_vec();
        let filler: &[u8] = b"abc}{][\\\"\\\\\\u00e9 \xc3\xa9\t,:";
        while line.len() < 20 << 20 {
            line.extend_from_slice(filler);
        }
        line.extend_from_slice(br#"","list":["#);
        for _ in 0..100_000 {
            line.extend_from_slice(br#"{"id":0,"s":"]"},"#);
        }
        line.extend_from_slice(br#"1]},"id":"last"}"#);
        line.push(b'\n');

        let mut scanner = Scanner::default();
        let mut out = Vec::new();
        for chunk in line.chunks(65_537) {
            scanner.push(chunk, |m| out.push(m));
        }
        assert_eq!(out, vec![request(string("last"), "tools/call")]);
        // Only capped values are ever stored, whatever the line length.
        assert!(scanner.capture.bytes.capacity() <= 2 * MAX_ID_LEN);
    }

    /// A small deterministic generator, so the test needs no dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_a_newline_always_resynchronises() {
        let alphabet: &[u8] =
            b"{}[]\":,\\ \t\r\nu0123456789abcdefidmethodnulltrue-+.eE\xc3\xa9\xff";
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2_000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(200) {
                let b = if rng.below(10) == 0 {
                    rng.below(256) as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                };
                input.push(b);
            }
            input.extend_from_slice(b"\n{\"id\":1,\"method\":\"m\"}\n");

            let whole = scan(&input);
            assert_eq!(whole.last(), Some(&request(num("1"), "m")), "{input:?}");

            let mut scanner = Scanner::default();
            let mut chunked = Vec::new();
            let mut rest = input.as_slice();
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(rng.below(rest.len()) + 1);
                scanner.push(chunk, |m| chunked.push(m));
                rest = tail;
            }
            assert_eq!(chunked, whole, "{input:?}");
        }
    }
}
