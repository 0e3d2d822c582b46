//! The two outputs of the MCP session: bytes for the remote (the host's
//! lines, separators escaped) and bytes for the host (the remote's lines,
//! with the lines we write ourselves spliced in between them, never inside
//! one).

use crate::mcp::separators::SeparatorEscaper;

/// Output is compacted once this much of it has been written and the
/// written part outweighs the rest: the bytes moved never exceed those
/// written, and a reader taking small bites cannot make it grow.
const COMPACT_AFTER: usize = 64 * 1024;
/// An output buffer that grew past this for a burst is given back once
/// drained, so that one large message does not stay resident for the rest
/// of the session.
const KEEP_CAPACITY: usize = 128 * 1024;

/// Bytes on their way out, written from the front.
#[derive(Debug, Default)]
pub struct Outgoing {
    data: Vec<u8>,
    done: usize,
}

impl Outgoing {
    /// What is still to be written.
    pub fn pending(&self) -> &[u8] {
        &self.data[self.done..]
    }

    pub fn len(&self) -> usize {
        self.data.len() - self.done
    }

    pub fn is_empty(&self) -> bool {
        self.done == self.data.len()
    }

    /// Notes that `n` bytes from the front were written.
    pub fn consumed(&mut self, n: usize) {
        self.done += n;
        if self.done == self.data.len() {
            self.data.clear();
            self.done = 0;
            if self.data.capacity() > KEEP_CAPACITY {
                self.data = Vec::new();
            }
        } else if self.done >= COMPACT_AFTER && self.done >= self.len() {
            self.data.drain(..self.done);
            self.done = 0;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    fn clear(&mut self) {
        self.data.clear();
        self.done = 0;
    }
}

/// Bytes for the current connection, with U+2028, U+2029 and U+0085
/// escaped (see `separators.rs`).
#[derive(Debug, Default)]
pub(super) struct ToRemote {
    pub(super) out: Outgoing,
    escaper: SeparatorEscaper,
    /// What was sent so far does not end with `\n`.
    mid_line: bool,
}

impl ToRemote {
    pub(super) fn send(&mut self, bytes: &[u8]) {
        if let Some(&last) = bytes.last() {
            self.mid_line = last != b'\n';
        }
        self.escaper.push(bytes, &mut self.out.data);
    }

    /// The host's input ended: what the escaper held was not a separator,
    /// and a last line without its `\n` gets one, so that the remote reads
    /// it now rather than at our EOF, after the grace for its answer.
    pub(super) fn finish(&mut self) {
        self.escaper.finish(&mut self.out.data);
        if self.mid_line {
            self.out.extend(b"\n");
            self.mid_line = false;
        }
    }

    /// The connection is gone: nothing of this is for the next one.
    pub(super) fn discard(&mut self) {
        self.out.clear();
        self.escaper = SeparatorEscaper::default();
        self.mid_line = false;
    }
}

/// Bytes for the host: the remote's lines, a long one possibly in parts,
/// and our own lines, which wait for a remote line to end. What reaches the
/// host is whole lines only: a remote line cut short (by a loss, or by the
/// remote's end) is ended with `\n` before anything of ours follows.
#[derive(Debug, Default)]
pub(super) struct ToHost {
    pub(super) out: Outgoing,
    /// Our own lines, waiting for a remote line to end.
    deferred: Vec<u8>,
    /// A remote line is halfway to the host.
    mid_line: bool,
}

impl ToHost {
    /// A line of the remote's, whole (or the last, which may lack its `\n`).
    pub(super) fn line(&mut self, line: &[u8]) {
        self.out.extend(line);
        self.mid_line = line.last().is_some_and(|&b| b != b'\n');
    }

    /// The next bytes of a long line of the remote's.
    pub(super) fn part(&mut self, bytes: &[u8]) {
        self.out.extend(bytes);
        self.mid_line = true;
    }

    /// Ends the long remote line in progress with `last` (which may lack
    /// its `\n` if the remote ended there), then lets our own lines that
    /// waited for it follow.
    pub(super) fn end_line(&mut self, last: &[u8]) {
        self.out.extend(last);
        if last.ends_with(b"\n") {
            self.mid_line = false;
            let deferred = std::mem::take(&mut self.deferred);
            self.out.extend(&deferred);
        }
    }

    /// Ends a remote line cut short by a loss or by the remote's end, so
    /// that the host's framing recovers: it sees one broken line.
    pub(super) fn cut_line(&mut self) {
        if self.mid_line {
            self.end_line(b"\n");
        }
    }

    /// Our own line, after any long remote line in progress.
    pub(super) fn own(&mut self, line: &[u8]) {
        if self.mid_line {
            self.deferred.extend_from_slice(line);
        } else {
            self.out.extend(line);
        }
    }
}
