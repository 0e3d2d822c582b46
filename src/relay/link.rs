//! One SSH connection's share of the relay: moving bytes between the MCP
//! session and libssh2, waiting on the socket, and closing.
//!
//! [`Link::pump`] calls libssh2 without blocking (write, then read stdout,
//! then read stderr) until a full pass makes no progress, noting in which
//! directions libssh2 said it was blocked; the relay then waits on those.
//! The channel's stderr is always read (to our stderr, line by line), so it
//! can never fill the window and stall stdout. The remote's output is sorted
//! in `remote_output.rs`; the link's health is watched in `liveness.rs`.

use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_ssh2_lite::AsyncStream;
use async_ssh2_lite::ssh2::BlockDirections;
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncWrite};

use crate::config::Liveness;
use crate::connect::libssh2::{Channel, Session, describe};
use crate::connect::socket::{SshSocket, attempt};
use crate::connect::{Carriers, Connection};
use crate::debug;
use crate::mcp::McpSession;
use crate::relay::liveness::Watchdog;
use crate::relay::remote_output::{StderrLines, StdoutFilter, divert_line, show_stderr_line};

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
/// bounded by the window (a larger buffer here added to the peak memory of
/// a download, and no speed: `benches/README.md`).
pub const TO_HOST_LIMIT: usize = 64 * 1024;
/// Bound on each of the closing steps (EOF, close, disconnect).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

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
    watchdog: Watchdog,
    /// The socket may hold bytes libssh2 has not read: it was reported
    /// readable since libssh2 last drained it.
    maybe_readable: bool,
    pub eof_sent: bool,
    /// What carries the connection; last, so that it outlives the session.
    _carriers: Carriers,
}

impl Link {
    pub fn new(connection: Connection, liveness: Liveness, now: Instant) -> Link {
        let Connection {
            session,
            channel,
            socket,
            target,
            carriers,
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
            watchdog: Watchdog::new(liveness, now),
            maybe_readable: true,
            eof_sent: false,
            _carriers: carriers,
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
        let mut heard = self.watchdog.probe_answered(&mut self.channel);
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
                        self.stderr_lines.push(&self.chunk[..n], show_stderr_line);
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
            // What was read may have put new bytes for the remote in place
            // (the session restored after a reconnect lets the waiting
            // messages go): they go in this pass too, unless a write is
            // already waiting for the socket.
            let new_to_write =
                !self.eof_sent && write_blocked.is_none() && !mcp.to_remote().is_empty();
            if progress && (more_to_write || new_to_write || more_to_read || self.unread()) {
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
        heard |= self.watchdog.probe_answered(&mut self.channel);
        if heard || window_after as usize + wrote > window_before as usize {
            self.watchdog.heard(now);
        }
        self.watchdog
            .note_writes(wrote > 0, write_blocked, window_after > 0, now);
        Ok(interest)
    }

    /// Notes that bytes arrived from the server.
    pub fn heard(&mut self, now: Instant) {
        self.watchdog.heard(now);
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
        self.watchdog
            .keep_alive(&mut self.channel, self.out_eof, now);
    }

    /// Why the connection is taken for dead, if it is.
    pub fn dead(&self, now: Instant) -> Option<String> {
        self.watchdog.dead(now)
    }

    /// The next moment a timer of this link needs a look.
    pub fn next_check(&self) -> Option<Instant> {
        self.watchdog.next_check()
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
        self.stderr_lines.finish(show_stderr_line);
    }

    /// Closes the channel and the session without waiting on the network for long.
    pub async fn close(mut self) {
        self.stderr_lines.finish(show_stderr_line);
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

/// Runs a closing step, giving up after [`CLOSE_TIMEOUT`].
pub(crate) async fn bounded<T>(
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
