//! Cuts a JSON-RPC byte stream into lines and says which messages each holds,
//! so that the relay can act on whole messages without buffering big ones.
//!
//! A line up to the hold limit is kept until its `\n` arrives and handed over
//! whole ([`Piece::Line`]): it can still be forwarded, queued, answered or
//! dropped. Messages are that small almost always, and they arrive whole in
//! one read, so holding them costs no latency. A longer line is passed on in
//! parts as it arrives ([`Piece::Part`], then [`Piece::End`] with its
//! messages), so that a 64 MiB result never needs 64 MiB of memory; the only
//! decision left for such a line is made at its end.
//!
//! Bytes are never changed; classification is [`Scanner`]'s.

use crate::mcp::message::Message;
use crate::mcp::scanner::Scanner;

/// Messages kept per line; the rest of a giant batch goes untracked, like
/// requests beyond [`crate::mcp::in_flight::MAX_IN_FLIGHT`].
const MAX_MESSAGES_PER_LINE: usize = 65_536;

/// What [`LineFramer::push`] hands over.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole line, `\n` included (absent only from a last line at
    /// [`LineFramer::finish`]), with the messages in it.
    Line(&'a [u8], &'a [Message]),
    /// The next bytes of a line too long to hold.
    Part(&'a [u8]),
    /// The last bytes of a long line (`\n` included) and its messages.
    End(&'a [u8], &'a [Message]),
}

/// A streaming line splitter and classifier.
#[derive(Debug)]
pub struct LineFramer {
    scanner: Scanner,
    held: Vec<u8>,
    messages: Vec<Message>,
    streaming: bool,
    hold_limit: usize,
}

impl LineFramer {
    /// A framer that holds lines of up to `hold_limit` bytes.
    pub fn new(hold_limit: usize) -> LineFramer {
        LineFramer {
            scanner: Scanner::default(),
            held: Vec::new(),
            messages: Vec::new(),
            streaming: false,
            hold_limit,
        }
    }

    /// Changes the hold limit, from the next line that starts on.
    pub fn set_hold_limit(&mut self, hold_limit: usize) {
        self.hold_limit = hold_limit;
    }

    /// Splits `chunk` (cut anywhere) and hands each piece to `on`, in order.
    pub fn push(&mut self, chunk: &[u8], mut on: impl FnMut(Piece<'_>)) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (segment, complete) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[segment.len()..];
            let messages = &mut self.messages;
            self.scanner.push(segment, |message| {
                if messages.len() < MAX_MESSAGES_PER_LINE {
                    messages.push(message);
                }
            });
            if self.streaming {
                if complete {
                    on(Piece::End(segment, &self.messages));
                    self.end_line();
                } else {
                    on(Piece::Part(segment));
                }
            } else if complete {
                if self.held.is_empty() {
                    on(Piece::Line(segment, &self.messages));
                } else {
                    self.held.extend_from_slice(segment);
                    on(Piece::Line(&self.held, &self.messages));
                }
                self.end_line();
            } else if self.held.len() + segment.len() > self.hold_limit {
                self.streaming = true;
                if !self.held.is_empty() {
                    on(Piece::Part(&self.held));
                    self.held.clear();
                }
                on(Piece::Part(segment));
            } else {
                self.held.extend_from_slice(segment);
            }
        }
    }

    /// At the end of the stream: hands over a last line that had no `\n`.
    pub fn finish(&mut self, mut on: impl FnMut(Piece<'_>)) {
        if self.streaming {
            on(Piece::End(b"", &self.messages));
        } else if !self.held.is_empty() {
            on(Piece::Line(&self.held, &self.messages));
        }
        self.reset();
    }

    /// Forgets the line in progress (its stream is gone).
    pub fn reset(&mut self) {
        self.scanner = Scanner::default();
        self.end_line();
    }

    fn end_line(&mut self) {
        self.held.clear();
        // A giant batch must not keep its capacity for the rest of the session.
        if self.messages.capacity() > 64 {
            self.messages = Vec::new();
        } else {
            self.messages.clear();
        }
        self.streaming = false;
        if self.held.capacity() > self.hold_limit.max(64 * 1024) {
            self.held = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::message::Id;

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Line(Vec<u8>, Vec<Message>),
        Part(Vec<u8>),
        End(Vec<u8>, Vec<Message>),
    }

    fn collect(framer: &mut LineFramer, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk, |piece| out.push(own(piece)));
        }
        out
    }

    fn own(piece: Piece<'_>) -> Owned {
        match piece {
            Piece::Line(b, m) => Owned::Line(b.to_vec(), m.to_vec()),
            Piece::Part(b) => Owned::Part(b.to_vec()),
            Piece::End(b, m) => Owned::End(b.to_vec(), m.to_vec()),
        }
    }

    fn request(id: u64, method: &str) -> Message {
        Message::Request {
            id: Id::Number(id.to_string().into()),
            method: method.into(),
        }
    }

    #[test]
    fn short_lines_are_handed_over_whole_however_they_are_cut() {
        let mut framer = LineFramer::new(1024);
        let pieces = collect(
            &mut framer,
            &[
                b"{\"id\":1,\"meth",
                b"od\":\"a\"}\n{\"id\":2,\"method\":\"b\"}\n{\"id\"",
                b":3,\"method\":\"c\"}",
                b"\n",
            ],
        );
        assert_eq!(
            pieces,
            vec![
                Owned::Line(
                    b"{\"id\":1,\"method\":\"a\"}\n".to_vec(),
                    vec![request(1, "a")]
                ),
                Owned::Line(
                    b"{\"id\":2,\"method\":\"b\"}\n".to_vec(),
                    vec![request(2, "b")]
                ),
                Owned::Line(
                    b"{\"id\":3,\"method\":\"c\"}\n".to_vec(),
                    vec![request(3, "c")]
                ),
            ]
        );
    }

    #[test]
    fn a_line_over_the_limit_streams_and_reports_its_messages_at_the_end() {
        let mut framer = LineFramer::new(8);
        let pieces = collect(
            &mut framer,
            &[b"{\"id\":7,", b"\"method\":\"long\"}", b"\n{}\n"],
        );
        assert_eq!(
            pieces,
            vec![
                Owned::Part(b"{\"id\":7,".to_vec()),
                Owned::Part(b"\"method\":\"long\"}".to_vec()),
                Owned::End(b"\n".to_vec(), vec![request(7, "long")]),
                Owned::Line(b"{}\n".to_vec(), vec![Message::Other]),
            ]
        );
        assert!(!framer.streaming);
    }

    #[test]
    fn a_batch_line_carries_every_message() {
        let mut framer = LineFramer::new(1024);
        let pieces = collect(
            &mut framer,
            &[b"[{\"id\":1,\"method\":\"a\"},{\"method\":\"n\"}]\n"],
        );
        assert_eq!(
            pieces,
            vec![Owned::Line(
                b"[{\"id\":1,\"method\":\"a\"},{\"method\":\"n\"}]\n".to_vec(),
                vec![
                    request(1, "a"),
                    Message::Notification { method: "n".into() }
                ]
            )]
        );
    }

    #[test]
    fn finish_hands_over_a_last_line_without_newline() {
        let mut framer = LineFramer::new(1024);
        let mut out = collect(&mut framer, &[b"{\"id\":1,\"method\":\"a\"}"]);
        assert!(out.is_empty());
        framer.finish(|piece| out.push(own(piece)));
        assert_eq!(
            out,
            vec![Owned::Line(
                b"{\"id\":1,\"method\":\"a\"}".to_vec(),
                vec![request(1, "a")]
            )]
        );
    }

    #[test]
    fn reset_forgets_the_line_in_progress() {
        let mut framer = LineFramer::new(1024);
        let mut out = collect(&mut framer, &[b"{\"id\":1,\"met"]);
        framer.reset();
        framer.push(b"{\"id\":2,\"method\":\"b\"}\n", |piece| {
            out.push(own(piece))
        });
        assert_eq!(
            out,
            vec![Owned::Line(
                b"{\"id\":2,\"method\":\"b\"}\n".to_vec(),
                vec![request(2, "b")]
            )]
        );
    }

    #[test]
    fn blank_lines_pass_with_no_message() {
        let mut framer = LineFramer::new(1024);
        assert_eq!(
            collect(&mut framer, &[b"\n \r\n"]),
            vec![
                Owned::Line(b"\n".to_vec(), vec![]),
                Owned::Line(b" \r\n".to_vec(), vec![]),
            ]
        );
    }
}
