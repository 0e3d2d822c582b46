//! What the remote prints, sorted: its stdout kept to JSON-RPC lines, as
//! the MCP stdio transport requires, and everything else (its stderr, and
//! what its stdout prints that is not JSON-RPC) on our stderr.
//!
//! The remote's stdout is cut into lines as it streams by. A line whose first
//! non-blank byte opens a JSON object or array (`{` or `[`) passes byte for
//! byte, however long it is and however it is split across reads; it is
//! never buffered whole. Anything else (a login banner, a shell's rc output,
//! a server's stray print) goes to stderr instead, and blank lines are
//! dropped. Whether a message is valid JSON is left to the host, which can
//! report it against the right request.

use crate::{info, warn};

/// Leading blanks we hold while deciding a line; a longer run is not JSON-RPC.
const MAX_LEADING_BLANKS: usize = 4096;
/// A remote stderr line longer than this is printed in pieces.
const STDERR_LINE_LIMIT: usize = 4096;
/// How much of a diverted line is shown on stderr.
const DIVERTED_SHOWN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line, holding its leading blanks.
    LineStart,
    /// Inside a line that goes to stdout.
    Pass,
    /// Inside a line that goes to stderr.
    Divert,
}

/// A streaming splitter of the remote's stdout.
#[derive(Debug)]
pub struct StdoutFilter {
    state: State,
    blanks: Vec<u8>,
    diverted: Vec<u8>,
    diverted_len: usize,
}

impl Default for StdoutFilter {
    fn default() -> Self {
        StdoutFilter {
            state: State::LineStart,
            blanks: Vec::new(),
            diverted: Vec::new(),
            diverted_len: 0,
        }
    }
}

impl StdoutFilter {
    /// Sorts `chunk`: bytes for stdout are appended to `out`; each completed
    /// non-JSON line is handed to `divert` (cut to a readable length, with its
    /// full length). `on_message` gets the head of each message that starts
    /// in this chunk, for debug logging.
    pub fn push(
        &mut self,
        mut chunk: &[u8],
        out: &mut Vec<u8>,
        mut divert: impl FnMut(&[u8], usize),
        mut on_message: impl FnMut(&[u8]),
    ) {
        while !chunk.is_empty() {
            match self.state {
                State::Pass => {
                    let end = match memchr::memchr(b'\n', chunk) {
                        Some(i) => {
                            self.state = State::LineStart;
                            i + 1
                        }
                        None => chunk.len(),
                    };
                    out.extend_from_slice(&chunk[..end]);
                    chunk = &chunk[end..];
                }
                State::Divert => {
                    let (line, rest, done) = match memchr::memchr(b'\n', chunk) {
                        Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                        None => (chunk, &chunk[chunk.len()..], false),
                    };
                    let room = DIVERTED_SHOWN.saturating_sub(self.diverted.len());
                    self.diverted
                        .extend_from_slice(&line[..line.len().min(room)]);
                    self.diverted_len += line.len();
                    if done {
                        divert(trim_cr(&self.diverted), self.diverted_len);
                        self.diverted.clear();
                        self.diverted_len = 0;
                        self.state = State::LineStart;
                    }
                    chunk = rest;
                }
                State::LineStart => {
                    let byte = chunk[0];
                    match byte {
                        b'\n' => {
                            self.blanks.clear();
                            chunk = &chunk[1..];
                        }
                        b' ' | b'\t' | b'\r' if self.blanks.len() < MAX_LEADING_BLANKS => {
                            self.blanks.push(byte);
                            chunk = &chunk[1..];
                        }
                        b'{' | b'[' => {
                            on_message(&chunk[..chunk.len().min(crate::log::HEAD_LEN)]);
                            out.append(&mut self.blanks);
                            self.state = State::Pass;
                        }
                        _ => {
                            self.diverted_len = self.blanks.len();
                            self.diverted.append(&mut self.blanks);
                            self.state = State::Divert;
                        }
                    }
                }
            }
        }
    }

    /// At the end of the stream: a diverted line without a final newline.
    pub fn finish(&mut self, mut divert: impl FnMut(&[u8], usize)) {
        if self.state == State::Divert && self.diverted_len > 0 {
            divert(trim_cr(&self.diverted), self.diverted_len);
        }
        self.state = State::LineStart;
        self.diverted.clear();
        self.diverted_len = 0;
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Shows a line of the remote's stdout that is not JSON-RPC on our stderr;
/// `len` is its full length, of which `line` is the head.
pub fn divert_line(line: &[u8], len: usize) {
    if len > line.len() {
        warn!(
            "remote stdout, not JSON-RPC ({len} bytes): {}…",
            String::from_utf8_lossy(line)
        );
    } else {
        warn!(
            "remote stdout, not JSON-RPC: {}",
            String::from_utf8_lossy(line)
        );
    }
}

/// Shows a line of the remote's stderr on ours.
pub fn show_stderr_line(line: &[u8]) {
    info!("remote: {}", String::from_utf8_lossy(line));
}

/// The remote's stderr, cut into lines for our stderr: a line without its
/// `\n` (and `\r`), a very long one in pieces of [`STDERR_LINE_LIMIT`].
#[derive(Default)]
pub struct StderrLines {
    partial: Vec<u8>,
}

impl StderrLines {
    /// Takes the next bytes, cut anywhere; hands each completed line to `on_line`.
    pub fn push(&mut self, mut data: &[u8], mut on_line: impl FnMut(&[u8])) {
        while let Some(i) = memchr::memchr(b'\n', data) {
            self.partial.extend_from_slice(&data[..i]);
            self.emit(&mut on_line);
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() >= STDERR_LINE_LIMIT {
            self.emit(&mut on_line);
        }
    }

    /// The stream ended: a last line without `\n` still counts.
    pub fn finish(&mut self, mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            self.emit(&mut on_line);
        }
    }

    fn emit(&mut self, on_line: &mut impl FnMut(&[u8])) {
        let line = self.partial.strip_suffix(b"\r").unwrap_or(&self.partial);
        on_line(line);
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<String>, usize) {
        let mut filter = StdoutFilter::default();
        let mut out = Vec::new();
        let mut diverted = Vec::new();
        let mut messages = 0;
        for chunk in chunks {
            filter.push(
                chunk,
                &mut out,
                |line, len| diverted.push(format!("{}/{len}", String::from_utf8_lossy(line))),
                |_| messages += 1,
            );
        }
        filter
            .finish(|line, len| diverted.push(format!("{}/{len}", String::from_utf8_lossy(line))));
        (out, diverted, messages)
    }

    #[test]
    fn json_lines_pass_byte_for_byte_across_any_split() {
        let input: &[u8] = b"{\"a\":1}\n[{\"b\":\"x\\ny\"}]\n  {\"c\":3}\r\n";
        for split in 0..input.len() {
            let (out, diverted, messages) = run(&[&input[..split], &input[split..]]);
            assert_eq!(out, input, "split at {split}");
            assert!(diverted.is_empty());
            assert_eq!(messages, 3);
        }
    }

    #[test]
    fn banner_lines_go_to_stderr_and_blank_lines_vanish() {
        let (out, diverted, _) = run(&[b"Welcome to host\n\n{\"id\":1}\nbye", b" now"]);
        assert_eq!(out, b"{\"id\":1}\n");
        assert_eq!(diverted, vec!["Welcome to host/15", "bye now/7"]);
    }

    #[test]
    fn a_long_diverted_line_is_cut_but_counted() {
        let line = vec![b'x'; 5000];
        let (out, diverted, _) = run(&[&line, b"\n"]);
        assert!(out.is_empty());
        assert_eq!(diverted.len(), 1);
        assert!(diverted[0].ends_with("/5000"));
        assert_eq!(diverted[0].len(), DIVERTED_SHOWN + "/5000".len());
    }

    fn stderr_lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = StderrLines::default();
        let mut out = Vec::new();
        for chunk in chunks {
            lines.push(chunk, |line| {
                out.push(String::from_utf8_lossy(line).into_owned())
            });
        }
        lines.finish(|line| out.push(String::from_utf8_lossy(line).into_owned()));
        out
    }

    #[test]
    fn stderr_is_cut_into_lines_across_reads_without_their_endings() {
        assert_eq!(
            stderr_lines(&[b"one\r\ntw", b"o\n\nthr", b"ee"]),
            ["one", "two", "", "three"]
        );
        assert_eq!(stderr_lines(&[b""]), Vec::<String>::new());
    }

    #[test]
    fn a_stderr_line_that_reaches_the_limit_is_shown_without_waiting_for_its_end() {
        let long = vec![b'x'; STDERR_LINE_LIMIT + 10];
        assert_eq!(stderr_lines(&[&long]), ["x".repeat(STDERR_LINE_LIMIT + 10)]);
        assert_eq!(
            stderr_lines(&[&long[..STDERR_LINE_LIMIT], b"tail\n"]),
            ["x".repeat(STDERR_LINE_LIMIT), "tail".into()]
        );
    }
}
