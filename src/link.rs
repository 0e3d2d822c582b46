//! One SSH connection's share of the relay: moving bytes between the MCP
//! session and libssh2, and telling when the connection has died.
//!
//! [`Link::pump`] calls libssh2 without blocking (write, then read stdout,
//! then read stderr) until a full pass makes no progress, noting in which
//! directions libssh2 said it was blocked; the relay then waits on those.
//! The channel's stderr is always read (to our stderr, line by line), so it
//! can never fill the window and stall stdout.
//!
//! Dead-peer detection, since libssh2 does none in non-blocking mode:
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
//!   report a peer that vanished (set in `ssh.rs`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_ssh2_lite::AsyncStream;
use async_ssh2_lite::ssh2::{BlockDirections, ErrorCode};
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncWrite};

use crate::json_lines::StdoutFilter;
use crate::mcp_session::McpSession;
use crate::socket::SshSocket;
use crate::ssh::{Channel, Connection, Session, describe};
use crate::{debug, info, warn};

/// Bytes read from the channel per call: one full packet (32 KiB). libssh2
/// has already queued all the socket held when it returns any, so a larger
/// chunk saves no system call; it would only make this buffer and its
/// filtered copy larger.
const READ_CHUNK: usize = 32 * 1024;
/// Input from the host not yet taken by the channel; past this we stop
/// reading stdin, so a slow remote slows the host instead of our memory.
/// Four reads' worth: libssh2 takes at most one 32 KiB packet per call.
pub const TO_REMOTE_LIMIT: usize = 256 * 1024;
/// Output for the host not yet written; past this we stop reading the
/// channel's stdout, so the SSH window throttles the remote. A pipe to the
/// host holds 64 KiB: with that much waiting here too the host is what
/// limits the pace, and what else has arrived waits in libssh2's queue,
/// bounded by the window. 256 KiB here added 0.3-0.4 MiB to the peak RSS
/// of an 8 MiB download, and no speed.
pub const TO_HOST_LIMIT: usize = 64 * 1024;
/// A remote stderr line longer than this is printed in pieces.
const STDERR_LINE_LIMIT: usize = 4096;
/// Bound on each of the closing steps (EOF, close, disconnect).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// With a single interval of silence allowed, the time on top of it for
/// the probe's answer to come back from a server that is busy, not gone.
const ANSWER_ALLOWANCE: Duration = Duration::from_secs(1);
/// The variable the probe asks the server to set. Servers refuse it once
/// the command runs (OpenSSH, AsyncSSH); one that accepts it changes nothing.
const PROBE_VARIABLE: &str = "M2M_MCP_SERVER_SSH_CLIENT_PROBE";
/// libssh2's code for a channel request the server refused.
const REQUEST_DENIED: i32 = -22;
/// How long a write may make no progress, with keepalives off, before the
/// connection is taken for stuck.
const STALL_WITHOUT_KEEPALIVE: Duration = Duration::from_secs(60);

/// When a connection is taken for dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// Between keepalives; `None` sends none.
    pub keepalive: Option<Duration>,
    /// Intervals of silence after which the server is taken for gone.
    pub count_max: u32,
}

impl Liveness {
    /// Silence after which the server is taken for gone, if we ask it to
    /// speak at all: `count_max` intervals, and never less than one interval
    /// plus the time for an answer, so that a healthy idle link is never
    /// taken for dead.
    pub fn dead_after(&self) -> Option<Duration> {
        let interval = self.keepalive?;
        Some((interval * self.count_max.max(1)).max(interval + ANSWER_ALLOWANCE))
    }

    /// How long a write may make no progress before the engine is taken for stuck.
    fn stall_limit(&self) -> Duration {
        self.dead_after().unwrap_or(STALL_WITHOUT_KEEPALIVE)
    }
}

/// Which socket events the last pump asked to wait for.
#[derive(Default, Debug, Clone, Copy)]
pub struct Interest {
    pub writable: bool,
    pub retry: bool,
}

impl Interest {
    fn add(&mut self, directions: BlockDirections) {
        match directions {
            BlockDirections::Outbound | BlockDirections::Both => self.writable = true,
            BlockDirections::None => self.retry = true,
            BlockDirections::Inbound => {}
        }
    }
}

/// What the socket wait saw.
#[derive(Debug)]
pub enum SocketEvent {
    Readable,
    Writable,
    Retry,
}

/// An open channel, its streams, and the signs of its health.
pub struct Link {
    session: Session,
    channel: Channel,
    socket: SshSocket,
    pub target: String,
    out: AsyncStream<SshSocket>,
    err: AsyncStream<SshSocket>,
    pub out_eof: bool,
    err_eof: bool,
    filter: StdoutFilter,
    stderr_lines: StderrLines,
    chunk: Vec<u8>,
    /// Remote stdout after the filter, before the MCP session takes it.
    filtered: Vec<u8>,
    liveness: Liveness,
    last_inbound: Instant,
    next_keepalive: Option<Instant>,
    /// Since when a pending write has made no progress though it could have.
    stalled_since: Option<Instant>,
    /// A probe was sent and its answer has not been seen yet.
    probing: bool,
    /// The socket may hold bytes libssh2 has not read: it was reported
    /// readable since libssh2 last drained it.
    maybe_readable: bool,
    pub eof_sent: bool,
}

impl Link {
    pub fn new(connection: Connection, liveness: Liveness, now: Instant) -> Link {
        let Connection {
            session,
            channel,
            socket,
            target,
        } = connection;
        Link {
            out: channel.stream(0),
            err: channel.stderr(),
            session,
            channel,
            socket,
            target,
            out_eof: false,
            err_eof: false,
            filter: StdoutFilter::default(),
            stderr_lines: StderrLines::default(),
            chunk: vec![0u8; READ_CHUNK],
            filtered: Vec::with_capacity(READ_CHUNK),
            liveness,
            last_inbound: now,
            next_keepalive: liveness.keepalive.map(|interval| now + interval),
            stalled_since: None,
            probing: false,
            maybe_readable: true,
            eof_sent: false,
        }
    }

    /// Whether libssh2 holds, read from the socket but not yet handed to
    /// us, data of either stream or the channel's end (which a read then
    /// reports as 0 bytes).
    fn unread(&self) -> bool {
        self.channel.read_window().available > 0 || (!self.finished() && self.channel.eof())
    }

    /// Both output streams have ended: the remote will send nothing more.
    pub fn finished(&self) -> bool {
        self.out_eof && self.err_eof
    }

    /// Moves bytes between the MCP session and libssh2 until nothing moves;
    /// returns the socket events that can make them move again.
    pub fn pump(&mut self, mcp: &mut McpSession, now: Instant) -> io::Result<Interest> {
        let mut interest = Interest::default();
        let mut rechecked = false;
        let mut wrote = 0;
        let mut write_blocked = None;
        let mut heard = self.probe_answered();
        let window_before = self.channel.write_window().remaining;
        // Every libssh2 call reads the socket until it would block before
        // doing its work, so after any call the socket is drained and what
        // arrived sits in libssh2's queue, where `unread` sees it. A socket
        // not reported readable since then has nothing new: a read would
        // only cost a futile recv.
        let mut drained = !self.maybe_readable;
        loop {
            let mut progress = false;
            // Writing first: libssh2 reads pending packets before it writes,
            // and the reads below then see whatever that pulled in.
            let mut more_to_write = false;
            if !mcp.to_remote().is_empty() && !self.eof_sent {
                let pending = mcp.to_remote().pending();
                match attempt(&mut self.out, |s, cx| Pin::new(s).poll_write(cx, pending)) {
                    Ok(n) => {
                        mcp.to_remote().consumed(n);
                        progress = true;
                        wrote += n;
                        more_to_write = !mcp.to_remote().is_empty();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        interest.add(self.session.block_directions());
                        write_blocked = Some(self.session.block_directions());
                    }
                    Err(e) => return Err(e),
                }
                drained = true;
            }
            let mut more_to_read = false;
            if !self.out_eof && mcp.to_host().len() < TO_HOST_LIMIT && (!drained || self.unread()) {
                let chunk = &mut self.chunk;
                match attempt(&mut self.out, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                    Ok(0) => {
                        self.out_eof = true;
                        self.filter.finish(divert_line);
                        mcp.remote_finished();
                    }
                    Ok(n) => {
                        self.filtered.clear();
                        self.filter.push(
                            &self.chunk[..n],
                            &mut self.filtered,
                            divert_line,
                            |head| {
                                debug!("remote → host: {}", String::from_utf8_lossy(head));
                            },
                        );
                        mcp.from_remote(&self.filtered);
                        progress = true;
                        heard = true;
                        more_to_read = n == self.chunk.len();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        interest.add(self.session.block_directions());
                    }
                    Err(e) => return Err(e),
                }
                drained = true;
            }
            if !self.err_eof && (!drained || self.unread()) {
                let chunk = &mut self.chunk;
                match attempt(&mut self.err, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                    Ok(0) => self.err_eof = true,
                    Ok(n) => {
                        self.stderr_lines.push(&self.chunk[..n]);
                        progress = true;
                        heard = true;
                        more_to_read |= n == self.chunk.len();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        interest.add(self.session.block_directions())
                    }
                    Err(e) => return Err(e),
                }
                drained = true;
            }
            if drained {
                self.maybe_readable = false;
            }
            // Another pass only where it can move something: more to write
            // after a write that went through, a read that filled the chunk,
            // or data still queued in libssh2. Anything else arrives
            // on the socket, and the wait sees it.
            if progress && (more_to_write || more_to_read || self.unread()) {
                rechecked = false;
                continue;
            }
            // A read of one stream may have queued the other stream's data and
            // drained the socket: nothing would wake us for it. One more pass
            // collects it (a pass that still moves nothing means it is held
            // back on purpose, by our stdout being full).
            if !progress && !rechecked && self.unread() {
                rechecked = true;
                continue;
            }
            break;
        }
        // libssh2 consumes what arrives while it reads or writes, so the
        // socket may never look readable for it: data read, or a window
        // that grew (the server's WINDOW_ADJUST), is the server speaking too.
        let window_after = self.channel.write_window().remaining;
        // The answer may have been read in by the calls above.
        heard |= self.probe_answered();
        if heard || window_after as usize + wrote > window_before as usize {
            self.last_inbound = now;
        }
        self.note_write_progress(wrote > 0, write_blocked, now);
        Ok(interest)
    }

    /// A write that libssh2 refuses while the kernel would take data and the
    /// remote's window is open is not flow control: it is the engine stuck.
    fn note_write_progress(&mut self, wrote: bool, blocked: Option<BlockDirections>, now: Instant) {
        let stuck = match blocked {
            _ if wrote => false,
            Some(BlockDirections::Outbound | BlockDirections::Both) => false,
            Some(_) => self.channel.write_window().remaining > 0,
            None => false,
        };
        if !stuck {
            self.stalled_since = None;
        } else if self.stalled_since.is_none() {
            self.stalled_since = Some(now);
        }
    }

    /// Notes that bytes arrived from the server.
    pub fn heard(&mut self, now: Instant) {
        self.last_inbound = now;
        self.maybe_readable = true;
    }

    /// Notes that the socket let libssh2 go on without a word from the
    /// server (writable, or the pause after a call that named no direction):
    /// the next pump tries every direction again.
    pub fn unblocked(&mut self) {
        self.maybe_readable = true;
    }

    /// Sends a probe if one is due. Call it just before waiting on the
    /// socket, so that the answer is seen arriving.
    pub fn keep_alive(&mut self, now: Instant) {
        let (Some(due), Some(interval)) = (self.next_keepalive, self.liveness.keepalive) else {
            return;
        };
        if now < due {
            return;
        }
        // As OpenSSH's ServerAliveInterval: only a silent server is asked.
        if now.saturating_duration_since(self.last_inbound) < interval {
            self.next_keepalive = Some(self.last_inbound + interval);
            return;
        }
        self.next_keepalive = Some(now + interval);
        if self.probing || self.out_eof {
            // One question at a time: the silence limit decides meanwhile.
            return;
        }
        self.probing = true;
        if self.probe_answered() {
            self.last_inbound = now;
        }
    }

    /// Moves the probe on (sending it, or looking for its answer); true once
    /// the server has answered it.
    fn probe_answered(&mut self) -> bool {
        if !self.probing {
            return false;
        }
        // libssh2 keeps the request's progress in the channel: one step per
        // call, each call with the same arguments, as its non-blocking API asks.
        let step = self.channel.setenv(PROBE_VARIABLE, "1");
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
    pub fn dead(&self, now: Instant) -> Option<String> {
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

    /// The next moment a timer of this link needs a look.
    pub fn next_check(&self) -> Option<Instant> {
        let silence = self
            .liveness
            .dead_after()
            .map(|limit| self.last_inbound + limit);
        let stall = self
            .stalled_since
            .map(|since| since + self.liveness.stall_limit());
        [self.next_keepalive, silence, stall]
            .into_iter()
            .flatten()
            .min()
    }

    /// Waits until the socket can let libssh2 progress: readable always (the
    /// remote may speak at any time), writable when a call was blocked
    /// sending, or after a short pause when libssh2 gave no direction at all.
    pub async fn wait(&self, interest: Interest) -> io::Result<SocketEvent> {
        let readable = async {
            self.socket.0.readable().await?;
            Ok(SocketEvent::Readable)
        };
        let writable = async {
            if interest.writable {
                self.socket.0.writable().await?;
                Ok(SocketEvent::Writable)
            } else {
                future::pending().await
            }
        };
        let retry = async {
            if interest.retry {
                self.socket.ready(BlockDirections::None).await?;
                Ok(SocketEvent::Retry)
            } else {
                future::pending().await
            }
        };
        readable.or(writable).or(retry).await
    }

    /// Sends EOF on the channel, once, in bounded time.
    pub async fn send_eof(&mut self) {
        if !self.eof_sent {
            bounded(self.channel.send_eof(), "sending EOF").await;
            self.eof_sent = true;
        }
    }

    /// Flushes what the remote's stderr left unterminated.
    pub fn flush_stderr(&mut self) {
        self.stderr_lines.finish();
    }

    /// Closes the channel and the session without waiting on the network for long.
    pub async fn close(mut self) {
        self.stderr_lines.finish();
        bounded(self.channel.close(), "closing the channel").await;
        bounded(
            self.session.disconnect(None, "session ended", None),
            "disconnecting",
        )
        .await;
        debug!("connection to {} closed", self.target);
    }

    /// Why the remote ended, from its exit status if it sent one.
    pub async fn end_detail(&mut self) -> String {
        bounded(self.channel.wait_close(), "waiting for the remote to close").await;
        let signal = self
            .channel
            .exit_signal()
            .await
            .ok()
            .and_then(|s| s.exit_signal);
        match (signal, self.channel.exit_status()) {
            (Some(signal), _) => format!("the remote command was killed by SIG{signal}"),
            (None, Ok(status)) if status != 0 => {
                format!("the remote command exited with status {status}")
            }
            _ => "the remote MCP server ended the session".into(),
        }
    }
}

/// Calls a polled libssh2 operation once. Our stream type never returns
/// `Pending` (see `socket.rs`), so no waker is ever needed.
fn attempt<T>(
    stream: &mut AsyncStream<SshSocket>,
    op: impl FnOnce(&mut AsyncStream<SshSocket>, &mut Context<'_>) -> Poll<io::Result<T>>,
) -> io::Result<T> {
    let mut cx = Context::from_waker(Waker::noop());
    match op(stream, &mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// Runs a closing step, giving up after [`CLOSE_TIMEOUT`].
async fn bounded<T>(
    step: impl std::future::Future<Output = Result<T, async_ssh2_lite::Error>>,
    what: &str,
) {
    let outcome = async { Some(step.await) }
        .or(async {
            smol::Timer::after(CLOSE_TIMEOUT).await;
            None
        })
        .await;
    match outcome {
        Some(Ok(_)) => {}
        Some(Err(e)) => debug!("{what}: {}", describe(&e)),
        None => debug!("{what}: no answer within {} s", CLOSE_TIMEOUT.as_secs()),
    }
}

/// Says in words what libssh2's terse transport errors mean to a user.
/// Which of them a dropped connection produces depends on the call that
/// met it; they all mean the same to the user.
pub fn connection_failure(e: &io::Error) -> String {
    let raw = e.to_string();
    match raw.as_str() {
        "transport read"
        | "socket disconnect"
        | "Failed getting banner"
        | "Failure while draining incoming flow"
        | "Unable to send channel data"
        | "Unable to send transfer-window adjustment packet, deferring" => {
            debug!("libssh2: {raw}");
            "the server closed the connection or the network dropped it".into()
        }
        _ => raw,
    }
}

fn divert_line(line: &[u8], len: usize) {
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

/// The remote's stderr, cut into lines for our stderr.
#[derive(Default)]
struct StderrLines {
    partial: Vec<u8>,
}

impl StderrLines {
    fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = memchr::memchr(b'\n', data) {
            self.partial.extend_from_slice(&data[..i]);
            self.emit();
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() >= STDERR_LINE_LIMIT {
            self.emit();
        }
    }

    fn emit(&mut self) {
        let line = self.partial.strip_suffix(b"\r").unwrap_or(&self.partial);
        info!("remote: {}", String::from_utf8_lossy(line));
        self.partial.clear();
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_libssh2_reports_a_dropped_connection_reads_the_same() {
        for raw in [
            "transport read",
            "socket disconnect",
            "Failure while draining incoming flow",
            "Unable to send channel data",
            // A read that must first grow the server's window meets the cut
            // while sending that adjustment.
            "Unable to send transfer-window adjustment packet, deferring",
        ] {
            assert_eq!(
                connection_failure(&io::Error::other(raw)),
                "the server closed the connection or the network dropped it",
                "{raw}"
            );
        }
        assert_eq!(
            connection_failure(&io::Error::other("something else")),
            "something else"
        );
    }

    #[test]
    fn silence_allowed_is_count_intervals_and_never_less_than_one_interval_and_an_answer() {
        let liveness = |secs, count_max| Liveness {
            keepalive: Some(Duration::from_secs(secs)),
            count_max,
        };
        assert_eq!(liveness(15, 3).dead_after(), Some(Duration::from_secs(45)));
        assert_eq!(liveness(1, 3).dead_after(), Some(Duration::from_secs(3)));
        assert_eq!(liveness(1, 1).dead_after(), Some(Duration::from_secs(2)));
        assert_eq!(liveness(10, 1).dead_after(), Some(Duration::from_secs(11)));
        let off = Liveness {
            keepalive: None,
            count_max: 3,
        };
        assert_eq!(off.dead_after(), None);
        assert_eq!(off.stall_limit(), STALL_WITHOUT_KEEPALIVE);
    }
}
