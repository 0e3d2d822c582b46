//! What a loss costs the host, and what the end of the session does: every
//! request of the host's still unanswered gets the error at once, never a
//! silent wait; none is ever sent again.

use super::{LongLine, McpSession, Phase, Router};
use crate::mcp::own_messages::{self as messages, ENDED, LOST, LOST_FOR_GOOD};

impl McpSession {
    /// Requests of the host's not answered yet: sent, or waiting.
    pub fn unanswered(&self) -> usize {
        self.router.host_requests.pending() + self.router.waiting.requests()
    }

    /// Requests of the host's that an answer may still come for: the
    /// unanswered, less one for each answer the remote gave with a null id
    /// (it could not read the request, and will not answer it otherwise).
    pub fn awaited(&self) -> usize {
        self.unanswered().saturating_sub(self.router.unattributed)
    }

    /// Gives up the bytes the remote has not taken (it stopped reading):
    /// the requests among them are answered by [`McpSession::end`].
    pub fn drop_unsent(&mut self) {
        self.router.to_remote.discard();
    }

    /// The session is over: each request of the host's still unanswered
    /// gets the error, `reason` in its data.
    pub fn end(&mut self, reason: &str) {
        let router = &mut self.router;
        router.to_host.cut_line();
        for id in router.host_requests.take_all() {
            router
                .to_host
                .own(&messages::error_line(&id, ENDED, reason));
        }
        for q in router.waiting.take() {
            router.refuse(&q.messages, ENDED, reason);
        }
    }
}

impl Router {
    pub(super) fn link_lost(&mut self, reason: &str, reconnecting: bool) {
        self.lost_reason = reason.to_string();
        self.unattributed = 0;
        self.dropping_remote_line = false;
        if self.long_host_line == LongLine::Forward {
            // Whatever is still to come of a long host line goes nowhere.
            self.long_host_line = LongLine::Drop;
        }
        self.to_remote.discard();
        self.restore.abandon();
        let message = if reconnecting { LOST } else { LOST_FOR_GOOD };
        for id in self.host_requests.take_all() {
            let line = messages::error_line(&id, message, reason);
            self.to_host.own(&line);
            self.answered.add(id);
        }
        for id in self.remote_requests.take_all() {
            self.stale.add(id);
        }
        self.phase = Phase::Down;
    }

    pub(super) fn give_up(&mut self, reason: &str) {
        for q in self.waiting.take() {
            self.refuse(&q.messages, LOST_FOR_GOOD, reason);
        }
        self.lost_reason = reason.to_string();
    }
}
