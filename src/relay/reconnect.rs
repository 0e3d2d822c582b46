//! Reconnecting after a loss.
//!
//! A connection is lost when libssh2 reports an error, when it is taken
//! for dead (`liveness.rs`), or when the remote ends while the host is
//! still attached. Unless reconnecting is off or the remote has never
//! spoken (a remote that cannot serve us is not a network blip), an
//! [`Outage`] begins: new connections are tried with backoff (`backoff.rs`)
//! for up to `--reconnect-max-wait`, while the MCP session keeps the host's
//! messages waiting (`mcp/`). Attempts are made by `connect::Dialer`. An attempt refused for good (the host key,
//! the credentials) ends it at once. Trust and credentials are those of the
//! first connection: the key server is not asked again.

use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};

use crate::deadline;
use crate::error::Error;
use crate::relay::backoff::Backoff;

/// The time without a connection, and the attempts to end it.
pub(super) struct Outage {
    since: Instant,
    reason: String,
    pub(super) target: String,
    backoff: Backoff,
    next_attempt: Instant,
    last_error: Option<String>,
}

impl Outage {
    /// The connection to `target` was lost for `reason`; the first attempt
    /// waits a first backoff.
    pub(super) fn begin(reason: String, target: String, now: Instant) -> Outage {
        let mut backoff = Backoff::default();
        let wait = backoff.next_wait(OsRng.next_u32());
        Outage {
            since: now,
            reason,
            target,
            backoff,
            next_attempt: deadline::after(now, wait),
            last_error: None,
        }
    }

    /// When the outage is given up.
    pub(super) fn deadline(&self, max_wait: Duration) -> Instant {
        deadline::after(self.since, max_wait)
    }

    /// When the next attempt is due.
    pub(super) fn next_attempt(&self) -> Instant {
        self.next_attempt
    }

    /// Attempts made so far.
    pub(super) fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// How long the connection has been gone.
    pub(super) fn elapsed(&self) -> Duration {
        self.since.elapsed()
    }

    /// An attempt failed, but another may succeed: the next one waits longer.
    pub(super) fn failed(&mut self, error: &Error, now: Instant) -> Duration {
        let wait = self.backoff.next_wait(OsRng.next_u32());
        self.last_error = Some(error.to_string());
        self.next_attempt = deadline::after(now, wait);
        wait
    }

    /// Why the session ends when the outage lasted `max_wait`.
    pub(super) fn given_up(&self, max_wait: Duration) -> String {
        format!(
            "the connection to {} was lost ({}) and could not be re-established within {} s{}",
            self.target,
            self.reason,
            max_wait.as_secs(),
            self.last_error
                .as_deref()
                .map(|e| format!("; last attempt: {e}"))
                .unwrap_or_default()
        )
    }
}

/// Errors that another attempt would only repeat: the server is not the
/// one we trust, or will not have us.
pub(super) fn is_permanent(e: &Error) -> bool {
    matches!(e.exit_code(), 7..=10)
}
