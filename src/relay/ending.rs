//! How a session ends, each step bounded.
//!
//! Shutdown order:
//! 1. stdin EOF: stop reading stdin; finish writing what was already read to
//!    the channel; wait until the remote has answered every request the host
//!    sent and did not cancel, for at most [`ANSWER_GRACE`] (the peer server
//!    drops answers still in flight when it sees our EOF); send EOF on the
//!    channel. On SIGTERM/SIGINT/SIGHUP the same, without waiting for
//!    answers; a second signal ends at once. Without a connection at that
//!    moment, what waits gets the error and we stop.
//! 2. Keep delivering the remote's output until it sends EOF, or until
//!    [`EOF_GRACE`] has passed (a remote that never closes must not keep us).
//! 3. Flush our stdout, close the channel and disconnect, each bounded by
//!    `CLOSE_TIMEOUT` (`link.rs`); exit 0. We close the channel ourselves: the
//!    peer server never does.
//!
//! If our stdout is gone (EPIPE), the host is gone: we close quietly.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::relay::{Ending, Exit, Relay};
use crate::{debug, info};

/// How long, after the host's EOF, the remote may take to answer the
/// requests still in flight before we send our EOF. The host has stopped
/// talking, so this only needs to cover requests already being worked on.
pub const ANSWER_GRACE: Duration = Duration::from_secs(5);
/// How long the remote may take, after our EOF, to finish what it owes.
pub const EOF_GRACE: Duration = Duration::from_secs(3);

impl<I, O> Relay<'_, I, O>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    /// Sends EOF to the remote once the host is done and the remote has
    /// answered (or the grace is over), and ends the session once the
    /// remote is done too (or its grace is over).
    pub(super) async fn tend_ending(&mut self, now: Instant) -> ControlFlow<Exit> {
        let Some(current) = self.link.as_mut() else {
            if !self.stdin_open {
                // The host is done and there is no connection to finish on.
                self.mcp.give_up(
                    "the host ended the session while the connection was being re-established",
                );
                self.flush().await;
                return ControlFlow::Break(Exit::Done(Ok(Ending::HostClosed)));
            }
            return ControlFlow::Continue(());
        };
        if !self.stdin_open && !current.eof_sent && self.mcp.to_remote().is_empty() {
            let unanswered = self.mcp.unanswered();
            let waited = self.answer_deadline.is_some_and(|d| now >= d);
            if unanswered == 0 || waited || self.stopping {
                if unanswered > 0 && !self.stopping {
                    info!(
                        "{unanswered} request(s) still unanswered {} s after the end of input; ending the session",
                        ANSWER_GRACE.as_secs()
                    );
                }
                debug!("end of input: sending EOF to the remote");
                current.send_eof().await;
                self.eof_deadline = Some(Instant::now() + EOF_GRACE);
                return ControlFlow::Break(Exit::TurnAgain);
            }
        }
        if current.finished() && self.mcp.to_host().is_empty() {
            return ControlFlow::Break(Exit::Close(Ending::HostClosed));
        }
        if self.eof_deadline.is_some_and(|d| now >= d) {
            if !current.out_eof {
                info!(
                    "the remote did not finish within {} s of the end of input; closing",
                    EOF_GRACE.as_secs()
                );
            }
            return ControlFlow::Break(Exit::Close(Ending::HostClosed));
        }
        ControlFlow::Continue(())
    }

    /// Ends the session: what the host is owed, then the link.
    pub(super) async fn close(mut self, ending: Ending) -> Ending {
        if ending == Ending::HostClosed {
            self.flush().await;
        }
        if let Some(current) = self.link.take() {
            let target = current.target.clone();
            current.close().await;
            debug!("session with {target} closed");
        }
        ending
    }

    /// Writes what is still owed to the host, unless the host is gone.
    pub(super) async fn flush(&mut self) {
        while !self.mcp.to_host().is_empty() {
            match self.output.write(self.mcp.to_host().pending()).await {
                Ok(0) | Err(_) => return,
                Ok(n) => self.mcp.to_host().consumed(n),
            }
        }
        let _ = self.output.flush().await;
    }
}
