//! The host's messages that wait while there is no connection, bounded in
//! count and bytes, in the order the host sent them.

use std::collections::VecDeque;

use crate::mcp::message::{Id, Message};

/// The host's messages that may wait for a connection, in count and bytes.
/// Beyond either, a request is answered with the error at once.
pub const MAX_QUEUED: usize = 1024;
pub const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;

/// A host line waiting for a connection, with the messages it holds.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) line: Vec<u8>,
    pub(super) messages: Vec<Message>,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct Waiting {
    queue: VecDeque<Queued>,
    bytes: usize,
}

impl Waiting {
    /// Queues a line; false, and nothing queued, when the bound is reached.
    pub(super) fn push(&mut self, line: &[u8], messages: &[Message]) -> bool {
        if self.queue.len() >= MAX_QUEUED || self.bytes + line.len() > MAX_QUEUED_BYTES {
            return false;
        }
        self.bytes += line.len();
        self.queue.push_back(Queued {
            line: line.to_vec(),
            messages: messages.to_vec(),
        });
        true
    }

    /// Takes a waiting request out of the queue; false if it is not there.
    pub(super) fn cancel(&mut self, id: &Id) -> bool {
        let position = self.queue.iter().position(|q| {
            matches!(q.messages.as_slice(), [Message::Request { id: queued, .. }] if queued == id)
        });
        match position.and_then(|at| self.queue.remove(at)) {
            Some(removed) => {
                self.bytes -= removed.line.len();
                true
            }
            None => false,
        }
    }

    /// Everything that waits, oldest first; the queue is left empty.
    pub(super) fn take(&mut self) -> VecDeque<Queued> {
        self.bytes = 0;
        std::mem::take(&mut self.queue)
    }

    /// The requests among the waiting messages.
    pub(super) fn requests(&self) -> usize {
        self.queue
            .iter()
            .map(|q| {
                q.messages
                    .iter()
                    .filter(|m| matches!(m, Message::Request { .. }))
                    .count()
            })
            .sum()
    }
}
