//! How a session ends, each step bounded whatever the peers do.
//!
//! Shutdown order:
//! 1. stdin EOF: stop reading stdin; finish writing what was already read to
//!    the channel; wait until the remote has answered every request the host
//!    sent and did not cancel, for at most [`ANSWER_GRACE`] (the peer server
//!    drops answers still in flight when it sees our EOF), less when no
//!    answer can still come; send EOF on the channel. Input the remote has
//!    not taken by then is dropped: it stopped reading. On SIGTERM, SIGINT or
//!    SIGHUP the same at once, without waiting for answers; a second signal
//!    ends at once. Without a connection at that moment, what waits gets the
//!    error and we stop.
//! 2. Keep delivering the remote's output until it sends EOF, or until
//!    [`EOF_GRACE`] has passed (a remote that never closes must not keep us).
//! 3. After a signal, answer each request still unanswered with the error;
//!    write what the host is owed, for at most [`FLUSH_GRACE`] (a host that
//!    stopped reading must not keep us); close the channel and disconnect, each bounded by
//!    `CLOSE_TIMEOUT` (`link.rs`); exit 0. We close the channel ourselves:
//!    the peer server never does.
//!
//! So a run ends within ANSWER_GRACE + EOF_GRACE + FLUSH_GRACE + two
//! CLOSE_TIMEOUTs of stdin EOF, and all but the first of a signal. If our
//! stdout is gone (EPIPE), the host is gone: we close quietly.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::relay::{Ending, Exit, Relay};
use crate::{deadline, debug, info};

/// How long, after the host's EOF, the remote may take to answer the
/// requests still in flight before we send our EOF. The host has stopped
/// talking, so this only needs to cover requests already being worked on.
pub const ANSWER_GRACE: Duration = Duration::from_secs(5);
/// How long the remote may take, after our EOF, to finish what it owes.
pub const EOF_GRACE: Duration = Duration::from_secs(3);
/// How long a host that stopped reading our stdout may keep us, once the
/// session is over, before what it is owed is given up.
pub const FLUSH_GRACE: Duration = Duration::from_secs(2);

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
        if !self.stdin_open && !current.eof_sent {
            let awaited = self.mcp.awaited();
            let unsent = self.mcp.to_remote().len();
            let waited = self.answer_deadline.is_some_and(|d| now >= d);
            let stopping = self.stopped_by.is_some();
            if stopping || waited || (unsent == 0 && awaited == 0) {
                if unsent > 0 {
                    if !stopping {
                        info!(
                            "the remote took none of the last {unsent} byte(s) of input in {} s; ending the session",
                            ANSWER_GRACE.as_secs()
                        );
                    }
                    self.mcp.drop_unsent();
                } else if awaited > 0 && !stopping {
                    info!(
                        "{awaited} request(s) still unanswered {} s after the end of input; ending the session",
                        ANSWER_GRACE.as_secs()
                    );
                }
                debug!("end of input: sending EOF to the remote");
                current.send_eof().await;
                self.eof_deadline = Some(deadline::after(Instant::now(), EOF_GRACE));
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

    /// Ends the session: what the host is owed, then the link. A host that
    /// asked us to stop with a signal may still be reading: each request of
    /// its still unanswered gets the error. One that closed its input is
    /// done, and gets what the remote said and nothing more, as it would
    /// from the remote directly.
    pub(super) async fn close(mut self, ending: Ending) -> Ending {
        if ending == Ending::HostClosed {
            if let Some(signal) = self.stopped_by {
                self.mcp.end(&format!("the client was stopped by {signal}"));
            }
            self.flush().await;
        }
        if let Some(current) = self.link.take() {
            let target = current.target.clone();
            current.close().await;
            debug!("session with {target} closed");
        }
        ending
    }

    /// Writes what is still owed to the host, unless the host is gone or
    /// takes more than [`FLUSH_GRACE`] to read it.
    pub(super) async fn flush(&mut self) {
        let (mcp, output) = (&mut self.mcp, &mut *self.output);
        let written = async {
            while !mcp.to_host().is_empty() {
                match output.write(mcp.to_host().pending()).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => mcp.to_host().consumed(n),
                }
            }
            let _ = output.flush().await;
        };
        let late = async {
            smol::Timer::after(FLUSH_GRACE).await;
            debug!(
                "the host did not read all of our last output in {} s",
                FLUSH_GRACE.as_secs()
            );
        };
        written.or(late).await;
    }
}
