//! Telling when a connection has died, since libssh2 does nothing of the
//! kind in non-blocking mode:
//! - when the server has been silent for an interval, a probe it must
//!   answer; the connection is dead when nothing at all has arrived for
//!   `count_max` intervals. The probe is an `env` request on our channel
//!   with want-reply (servers refuse it once the command runs, and say so),
//!   not libssh2's keepalive: libssh2 keeps every answer to its keepalive
//!   in a list it never empties and walks on every read, so a session idle
//!   for a week would slow down and grow; and it sends keepalives at most
//!   every 2 s. libssh2 consumes the probe's answer itself;
//! - the connection is dead when a write has made no progress for as long
//!   while the socket could take data and the remote's window is open: that
//!   is libssh2 stuck (a packet half-sent when another is attempted), which
//!   only a new connection cures;
//! - TCP keepalive and `TCP_USER_TIMEOUT` on the socket let the kernel
//!   report a peer that vanished (set in `connect/tcp.rs`).

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use async_ssh2_lite::ssh2::{BlockDirections, ErrorCode};

use crate::config::Liveness;
use crate::connect::libssh2::{Channel, describe};
use crate::{deadline, debug};

/// The variable the probe asks the server to set. Servers refuse it once
/// the command runs (OpenSSH, AsyncSSH); one that accepts it changes nothing.
const PROBE_VARIABLE: &str = "M2M_MCP_SERVER_SSH_CLIENT_PROBE";
/// libssh2's code for a channel request the server refused.
const REQUEST_DENIED: i32 = -22;

/// Sends the probe a session sends and waits for the server's answer
/// (accepted or refused, both are answers); what failed, if it did not come.
pub async fn probe(channel: &mut Channel) -> Result<(), String> {
    match channel.setenv(PROBE_VARIABLE, "1").await {
        Ok(()) => Ok(()),
        Err(async_ssh2_lite::Error::Ssh2(e)) if e.code() == ErrorCode::Session(REQUEST_DENIED) => {
            Ok(())
        }
        Err(e) => Err(describe(&e)),
    }
}

/// The signs of one connection's health.
pub(super) struct Watchdog {
    liveness: Liveness,
    last_inbound: Instant,
    next_keepalive: Option<Instant>,
    /// Since when a pending write has made no progress though it could have.
    stalled_since: Option<Instant>,
    /// A probe was sent and its answer has not been seen yet.
    probing: bool,
}

impl Watchdog {
    pub(super) fn new(liveness: Liveness, now: Instant) -> Watchdog {
        Watchdog {
            liveness,
            last_inbound: now,
            next_keepalive: liveness
                .keepalive
                .map(|interval| deadline::after(now, interval)),
            stalled_since: None,
            probing: false,
        }
    }

    /// Notes that the server spoke.
    pub(super) fn heard(&mut self, now: Instant) {
        self.last_inbound = now;
    }

    /// Notes how the last writes went. A write that libssh2 refuses while
    /// the kernel would take data (`blocked` names no outbound direction)
    /// and the remote's window is open is not flow control: it is the
    /// engine stuck.
    pub(super) fn note_writes(
        &mut self,
        wrote: bool,
        blocked: Option<BlockDirections>,
        window_open: bool,
        now: Instant,
    ) {
        let stuck = match blocked {
            _ if wrote => false,
            Some(BlockDirections::Outbound | BlockDirections::Both) => false,
            Some(_) => window_open,
            None => false,
        };
        if !stuck {
            self.stalled_since = None;
        } else if self.stalled_since.is_none() {
            self.stalled_since = Some(now);
        }
    }

    /// Sends a probe on `channel` if one is due. Call it just before
    /// waiting on the socket, so that the answer is seen arriving.
    /// `remote_ended`: the remote's output has ended, and it answers no more.
    pub(super) fn keep_alive(&mut self, channel: &mut Channel, remote_ended: bool, now: Instant) {
        let (Some(due), Some(interval)) = (self.next_keepalive, self.liveness.keepalive) else {
            return;
        };
        if now < due {
            return;
        }
        // As OpenSSH's ServerAliveInterval: only a silent server is asked.
        if now.saturating_duration_since(self.last_inbound) < interval {
            self.next_keepalive = Some(deadline::after(self.last_inbound, interval));
            return;
        }
        self.next_keepalive = Some(deadline::after(now, interval));
        if self.probing || remote_ended {
            // One question at a time: the silence limit decides meanwhile.
            return;
        }
        self.probing = true;
        if self.probe_answered(channel) {
            self.last_inbound = now;
        }
    }

    /// Moves the probe on (sending it, or looking for its answer); true once
    /// the server has answered it.
    pub(super) fn probe_answered(&mut self, channel: &mut Channel) -> bool {
        if !self.probing {
            return false;
        }
        // libssh2 keeps the request's progress in the channel: one step per
        // call, each call with the same arguments, as its non-blocking API asks.
        let step = channel.setenv(PROBE_VARIABLE, "1");
        let mut step = std::pin::pin!(step);
        match step.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Pending => false,
            Poll::Ready(outcome) => {
                self.probing = false;
                match outcome {
                    Ok(()) => true,
                    Err(async_ssh2_lite::Error::Ssh2(e))
                        if e.code() == ErrorCode::Session(REQUEST_DENIED) =>
                    {
                        true
                    }
                    Err(e) => {
                        debug!("probe: {}", describe(&e));
                        false
                    }
                }
            }
        }
    }

    /// Why the connection is taken for dead, if it is.
    pub(super) fn dead(&self, now: Instant) -> Option<String> {
        if let Some(limit) = self.liveness.dead_after() {
            if now.saturating_duration_since(self.last_inbound) >= limit {
                return Some(format!(
                    "no word from the server in {} s (keepalive every {} s)",
                    limit.as_secs(),
                    self.liveness.keepalive.unwrap_or_default().as_secs()
                ));
            }
        }
        if let Some(since) = self.stalled_since {
            let limit = self.liveness.stall_limit();
            if now.saturating_duration_since(since) >= limit {
                return Some(format!(
                    "the SSH engine made no progress on a write in {} s",
                    limit.as_secs()
                ));
            }
        }
        None
    }

    /// The next moment this watchdog needs a look.
    pub(super) fn next_check(&self) -> Option<Instant> {
        let silence = self
            .liveness
            .dead_after()
            .map(|limit| deadline::after(self.last_inbound, limit));
        let stall = self
            .stalled_since
            .map(|since| deadline::after(since, self.liveness.stall_limit()));
        [self.next_keepalive, silence, stall]
            .into_iter()
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn watchdog(keepalive: Option<u64>, now: Instant) -> Watchdog {
        Watchdog::new(
            Liveness {
                keepalive: keepalive.map(Duration::from_secs),
                count_max: 3,
            },
            now,
        )
    }

    #[test]
    fn silence_past_the_limit_is_death_and_a_word_from_the_server_resets_it() {
        let start = Instant::now();
        let mut dog = watchdog(Some(15), start);
        assert_eq!(dog.next_check(), Some(start + Duration::from_secs(15)));
        assert_eq!(dog.dead(start + Duration::from_secs(44)), None);
        dog.heard(start + Duration::from_secs(30));
        assert_eq!(dog.dead(start + Duration::from_secs(74)), None);
        assert_eq!(
            dog.dead(start + Duration::from_secs(75)).as_deref(),
            Some("no word from the server in 45 s (keepalive every 15 s)")
        );
    }

    #[test]
    fn a_write_refused_while_the_socket_and_window_are_open_is_a_stall() {
        let start = Instant::now();
        let mut dog = watchdog(None, start);
        assert_eq!(dog.next_check(), None);
        // Flow control: the socket or the window is full. Not a stall.
        dog.note_writes(false, Some(BlockDirections::Outbound), true, start);
        dog.note_writes(false, Some(BlockDirections::Inbound), false, start);
        assert_eq!(dog.next_check(), None);
        dog.note_writes(false, Some(BlockDirections::Inbound), true, start);
        assert_eq!(dog.next_check(), Some(start + Duration::from_secs(60)));
        assert_eq!(
            dog.dead(start + Duration::from_secs(60)).as_deref(),
            Some("the SSH engine made no progress on a write in 60 s")
        );
        // Progress clears it.
        dog.note_writes(true, None, true, start + Duration::from_secs(1));
        assert_eq!(dog.dead(start + Duration::from_secs(120)), None);
    }
}
