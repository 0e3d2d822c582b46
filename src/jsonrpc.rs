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
//! state machine takes the lines that pass leaves to it. [`InFlight`] keeps the requests sent
//! one way and not yet answered the other way.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::short_text::ShortText;

mod whole;

/// Most requests [`InFlight`] tracks at once; beyond this the oldest is forgotten, so a remote
/// that never answers cannot make the relay grow without bound.
pub const MAX_IN_FLIGHT: usize = 65_536;

/// Longest key, in decoded bytes, worth keeping: anything longer is neither `id` nor `method`.
const MAX_KEY_LEN: usize = 64;

/// Longest `method`, in decoded bytes, accepted; a longer one makes the message [`Message::Other`].
const MAX_METHOD_LEN: usize = 256;

/// Longest `id`, in decoded bytes (or literal characters for a number), accepted; a longer one
/// makes the message [`Message::Other`].
const MAX_ID_LEN: usize = 1024;

/// A JSON-RPC id as the relay compares them: a string (decoded, so `"\u0041"` == `"A"`) or a
/// number (its literal text, so `1` and `1.0` differ).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    /// A numeric id, exactly as written on the wire.
    Number(ShortText),
    /// A string id with its escapes decoded; invalid UTF-8 becomes U+FFFD.
    String(ShortText),
}

/// What one message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Has `method` and a non-null `id`.
    Request {
        /// The id the answer will carry.
        id: Id,
        /// The method called, escapes decoded.
        method: ShortText,
    },
    /// Has `method` and no `id`.
    Notification {
        /// The method called, escapes decoded.
        method: ShortText,
    },
    /// Has `id` (possibly null, giving `None`) and no `method` (normally `result` or `error`).
    Response {
        /// The id of the request answered, or `None` for `"id": null`.
        id: Option<Id>,
    },
    /// Anything else: not an object, not JSON, an unusable `id` or `method`, a line cut short.
    Other,
}

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

/// Progress through a JSON string escape, kept between bytes because a chunk may end anywhere.
#[derive(Debug, Clone, Copy, Default)]
enum Escape {
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
enum Step {
    More,
    End,
    Invalid,
}

/// Decodes one JSON string (after its opening quote) into a capped buffer.
#[derive(Debug, Default)]
struct Capture {
    bytes: Vec<u8>,
    cap: usize,
    /// Set once the value outgrew `cap`; it then can no longer be used.
    overflow: bool,
    escape: Escape,
}

impl Capture {
    fn start(&mut self, cap: usize) {
        self.bytes.clear();
        self.cap = cap;
        self.overflow = false;
        self.escape = Escape::None;
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.overflow || self.bytes.len() + bytes.len() > self.cap {
            self.overflow = true;
        } else {
            self.bytes.extend_from_slice(bytes);
        }
    }

    fn put_char(&mut self, c: char) {
        let mut utf8 = [0; 4];
        self.put(c.encode_utf8(&mut utf8).as_bytes());
    }

    fn text(&self) -> ShortText {
        lossy_text(&self.bytes)
    }

    fn string_byte(&mut self, b: u8) -> Step {
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
    fn code_unit(&mut self, high: Option<u16>, unit: u16) {
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

/// Decodes an id or method lossily, as invalid UTF-8 must not stop a message being recognised.
fn lossy_text(bytes: &[u8]) -> ShortText {
    match std::str::from_utf8(bytes) {
        Ok(text) => ShortText::from(text),
        Err(_) => ShortText::from(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Where the string content at the start of `bytes` stops: its closing quote, an escape, or
/// the end of the line.
///
/// Every message goes through here about ten times (keys, `"2.0"`, names), mostly for a few
/// bytes, where a vectorised search costs about a hundred instructions to set up and a byte loop
/// nine a byte in our size-optimised build. So the first bytes are read a word at a time, which
/// finds the end of a short string in one step, and a long string gets the vectorised search.
fn string_end(bytes: &[u8]) -> Option<usize> {
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
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// Whether `b` can begin a number or a literal (`true`, `false`, `null`).
#[inline(always)]
fn is_token_start(b: u8) -> bool {
    b == b'-' || b.is_ascii_alphanumeric()
}

#[inline(always)]
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
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

/// Requests sent one way and not yet answered the other way, in the order sent.
///
/// A request whose id is already pending replaces the older entry and moves to the back, as it
/// is the one that will be answered. At most [`MAX_IN_FLIGHT`] requests are kept; the oldest
/// are dropped beyond that.
///
/// Every message passes through here, so the common path is one hash-map insert per request
/// and one removal per answer. The order is a log of sends in which an entry whose id was since
/// answered or re-sent is stale: an answer to the oldest send takes its entry off the front,
/// other stale entries stay until the whole log is compacted, once they outnumber the live ones,
/// so it stays within twice the pending requests.
#[derive(Debug, Default)]
pub struct InFlight {
    next_seq: u64,
    /// Id → (sequence number of its latest send, method).
    by_id: PendingById,
    /// Sends, oldest first; an entry is live while `by_id` holds its id with its sequence.
    order: VecDeque<(u64, Id)>,
}

impl InFlight {
    /// Notes a request sent.
    pub fn add(&mut self, id: Id, method: ShortText) {
        if self.by_id.len() >= MAX_IN_FLIGHT && !self.by_id.contains_key(&id) {
            self.drop_stale_front();
            if let Some((_, oldest)) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
        let seq = self.next_seq;
        // A u64 sequence cannot wrap within any real session.
        self.next_seq = self.next_seq.wrapping_add(1);
        self.by_id.insert(id.clone(), (seq, method));
        self.order.push_back((seq, id));
        self.compact();
    }

    /// Notes an answer; false if no request with this id was pending.
    pub fn answer(&mut self, id: &Id) -> bool {
        let Some((seq, _)) = self.by_id.remove(id) else {
            return false;
        };
        // Answers mostly come in the order sent: the oldest send is this one, and goes
        // without a lookup. Others leave a stale entry for `compact` (or `add`) to drop.
        if self.order.front().is_some_and(|(oldest, _)| *oldest == seq) {
            self.order.pop_front();
        }
        self.compact();
        true
    }

    /// Whether a request with this id is pending.
    pub fn contains(&self, id: &Id) -> bool {
        self.by_id.contains_key(id)
    }

    /// Number of requests still unanswered.
    pub fn pending(&self) -> usize {
        self.by_id.len()
    }

    /// The unanswered requests, oldest first (id and method).
    pub fn requests(&self) -> impl Iterator<Item = (&Id, &str)> {
        self.order
            .iter()
            .filter_map(|(seq, id)| match self.by_id.get(id) {
                Some((live, method)) if live == seq => Some((id, method.as_str())),
                _ => None,
            })
    }

    /// Removes and returns every unanswered request, oldest first.
    pub fn take_all(&mut self) -> Vec<(Id, ShortText)> {
        let order = std::mem::take(&mut self.order);
        let mut by_id = std::mem::take(&mut self.by_id);
        order
            .into_iter()
            .filter_map(|(seq, id)| match by_id.remove(&id) {
                Some((live, method)) if live == seq => Some((id, method)),
                Some(newer) => {
                    // A later send of the same id comes further on in the log.
                    by_id.insert(id, newer);
                    None
                }
                None => None,
            })
            .collect()
    }

    /// Whether this send is still the pending one for its id.
    fn is_live(by_id: &PendingById, seq: u64, id: &Id) -> bool {
        by_id.get(id).is_some_and(|(live, _)| *live == seq)
    }

    fn drop_stale_front(&mut self) {
        while let Some((seq, id)) = self.order.front() {
            if Self::is_live(&self.by_id, *seq, id) {
                break;
            }
            self.order.pop_front();
        }
    }

    fn compact(&mut self) {
        if self.order.len() > 2 * self.by_id.len() + 32 {
            let by_id = &self.by_id;
            self.order
                .retain(|(seq, id)| Self::is_live(by_id, *seq, id));
        }
    }
}

/// Each pending id, with the sequence number of its latest send and its method.
type PendingById = HashMap<Id, (u64, ShortText), BuildHasherDefault<IdHasher>>;

/// A fast hash for ids (FxHash's multiply-rotate, a word at a time). The ids in the map are the
/// ones our own host sent, so there is nobody to defend against with SipHash's keyed hashing,
/// which cost more than the rest of tracking a request.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits, which pick the bucket, the least mixed.
        self.0.rotate_left(26)
    }
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

    /// The relay's use of [`InFlight`]: the host's requests, answered by the remote.
    #[derive(Default)]
    struct Tracker {
        host: Scanner,
        remote: Scanner,
        set: InFlight,
    }

    impl Tracker {
        fn host_sent(&mut self, chunk: &[u8]) {
            let set = &mut self.set;
            self.host.push(chunk, |message| {
                if let Message::Request { id, method } = message {
                    set.add(id, method);
                }
            });
        }

        fn remote_sent(&mut self, chunk: &[u8]) {
            let set = &mut self.set;
            self.remote.push(chunk, |message| {
                if let Message::Response { id: Some(id) } = message {
                    set.answer(&id);
                }
            });
        }
    }

    #[test]
    fn take_all_empties_the_set_oldest_first() {
        let mut set = InFlight::default();
        set.add(num("2"), "b".into());
        set.add(num("1"), "a".into());
        assert!(set.contains(&num("1")));
        assert_eq!(
            set.take_all(),
            vec![(num("2"), "b".into()), (num("1"), "a".into())]
        );
        assert_eq!(set.pending(), 0);
        assert!(!set.answer(&num("1")));
    }

    fn pending_ids(in_flight: &Tracker) -> Vec<(Id, String)> {
        in_flight
            .set
            .requests()
            .map(|(id, method)| (id.clone(), method.to_owned()))
            .collect()
    }

    #[test]
    fn pipelined_requests_may_be_answered_out_of_order() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n{\"id\":2,\"method\":\"b\"}\n");
        in_flight.host_sent(b"{\"id\":\"3\",\"method\":\"c\"}\n");
        assert_eq!(in_flight.set.pending(), 3);
        in_flight.remote_sent(b"{\"id\":2,\"result\":{}}\n");
        assert_eq!(
            pending_ids(&in_flight),
            vec![(num("1"), "a".to_owned()), (string("3"), "c".to_owned())]
        );
        in_flight.remote_sent(b"{\"id\":\"3\",\"error\":{}}\n{\"id\":1,\"result\":{}}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn lines_split_across_calls_are_tracked_in_both_directions() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":\"\\u00");
        in_flight.host_sent(b"41\",\"meth");
        in_flight.host_sent(b"od\":\"m\"}");
        in_flight.host_sent(b"\n");
        assert_eq!(pending_ids(&in_flight), vec![(string("A"), "m".to_owned())]);
        in_flight.remote_sent(b"{\"i");
        assert_eq!(in_flight.set.pending(), 1);
        in_flight.remote_sent(b"d\":\"A\",\"result\":1}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn a_repeated_id_is_counted_once_with_the_newest_method() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n{\"id\":2,\"method\":\"b\"}\n");
        in_flight.host_sent(b"{\"id\":1,\"method\":\"c\"}\n");
        assert_eq!(
            pending_ids(&in_flight),
            vec![(num("2"), "b".to_owned()), (num("1"), "c".to_owned())]
        );
        in_flight.remote_sent(b"{\"id\":1,\"result\":1}\n");
        assert_eq!(in_flight.set.pending(), 1);
    }

    #[test]
    fn responses_for_unknown_ids_are_ignored() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n");
        in_flight.remote_sent(b"{\"id\":2,\"result\":1}\n{\"id\":\"1\",\"result\":1}\n");
        in_flight.remote_sent(b"{\"id\":1.0,\"result\":1}\n{\"id\":null,\"error\":{}}\n");
        assert_eq!(in_flight.set.pending(), 1);
    }

    #[test]
    fn responses_sent_by_the_host_are_ignored() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"id\":1,\"method\":\"a\"}\n{\"id\":1,\"result\":{}}\n");
        assert_eq!(in_flight.set.pending(), 1);
    }

    #[test]
    fn requests_sent_by_the_remote_are_not_pending() {
        let mut in_flight = Tracker::default();
        in_flight.remote_sent(b"{\"id\":5,\"method\":\"sampling/createMessage\"}\n");
        assert_eq!(in_flight.set.pending(), 0);
        in_flight.host_sent(b"{\"id\":5,\"result\":{}}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn notifications_are_not_pending() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(b"{\"method\":\"notifications/initialized\"}\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn batches_are_tracked_element_by_element() {
        let mut in_flight = Tracker::default();
        in_flight.host_sent(
            b"[{\"id\":1,\"method\":\"a\"},{\"method\":\"n\"},{\"id\":2,\"method\":\"b\"}]\n",
        );
        assert_eq!(in_flight.set.pending(), 2);
        in_flight.remote_sent(b"[{\"id\":2,\"result\":1},{\"id\":1,\"error\":{}}]\n");
        assert_eq!(in_flight.set.pending(), 0);
    }

    #[test]
    fn a_resent_id_counts_once_at_its_latest_place_and_stale_sends_do_not_pile_up() {
        let mut set = InFlight::default();
        set.add(num("1"), "a".into());
        set.add(num("2"), "b".into());
        set.add(num("1"), "c".into());
        assert_eq!(set.pending(), 2);
        assert_eq!(
            set.requests().collect::<Vec<_>>(),
            [(&num("2"), "b"), (&num("1"), "c")]
        );
        // Answered out of order, many times over: the log stays near the live count.
        for n in 10..10_000 {
            set.add(num(&n.to_string()), "m".into());
            if n % 2 == 0 {
                assert!(set.answer(&num(&(n - 1).to_string())) || n == 10);
            }
        }
        assert!(
            set.order.len() <= 2 * set.pending() + 32,
            "{}",
            set.order.len()
        );
        // 9,990 sent, the 4,994 odd ones from 11 on answered.
        assert_eq!(set.pending(), 2 + 4996);
        let all = set.take_all();
        assert_eq!(&all[..2], &[(num("2"), "b".into()), (num("1"), "c".into())]);
        assert_eq!(all.len(), 2 + 4996);
        assert_eq!(set.pending(), 0);
        assert!(!set.answer(&num("2")));
    }

    #[test]
    fn the_oldest_requests_are_dropped_beyond_the_cap() {
        let mut in_flight = Tracker::default();
        let mut input = Vec::new();
        for n in 0..MAX_IN_FLIGHT + 2 {
            input.extend_from_slice(format!("{{\"id\":{n},\"method\":\"m\"}}\n").as_bytes());
        }
        in_flight.host_sent(&input);
        assert_eq!(in_flight.set.pending(), MAX_IN_FLIGHT);
        assert_eq!(in_flight.set.requests().next(), Some((&num("2"), "m")));
        in_flight.remote_sent(b"{\"id\":0,\"result\":1}\n{\"id\":2,\"result\":1}\n");
        assert_eq!(in_flight.set.pending(), MAX_IN_FLIGHT - 1);
        assert_eq!(in_flight.set.requests().next(), Some((&num("3"), "m")));
    }
}
