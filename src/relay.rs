//! The stdio ⇄ channel pump.
//!
//! Data path: the host's stdin goes to the channel as it arrives; the
//! channel's stdout goes through [`StdoutFilter`] to our stdout; the
//! channel's stderr (extended data) goes, line by line and prefixed, to our
//! stderr and is always read, so that it can never fill the window and stall
//! stdout.
//!
//! One future owns the session, the channel and both stdio handles. Each turn
//! it first *pumps*: it calls libssh2 without blocking (write, then read
//! stdout, then read stderr) until a full pass makes no progress, noting in
//! which directions libssh2 said it was blocked. Then it *waits* for the
//! first of: the socket becoming readable (always) or writable (when a call
//! asked), stdin readable (when there is room), stdout writable (when output
//! is pending), a signal, or the shutdown deadline. With a single owner no
//! two waiters fight over the socket's wakeups, a pending write keeps its
//! bytes in place until libssh2 takes them, and an idle session sleeps in
//! epoll with no timer armed.
//!
//! On the way to the remote, U+2028, U+2029 and U+0085 are escaped (see
//! `line_separators.rs`), and the ids of the host's requests are noted until
//! the remote answers them (see `jsonrpc.rs`); neither changes the order or
//! the meaning of a single message.
//!
//! Shutdown order:
//! 1. stdin EOF: stop reading stdin; finish writing what was already read to
//!    the channel; wait until the remote has answered every request the host
//!    sent and did not cancel, for at most [`ANSWER_GRACE`] (the peer server
//!    drops answers still in flight when it sees our EOF); send EOF on the
//!    channel. On
//!    SIGTERM/SIGINT/SIGHUP the same, without waiting for answers.
//! 2. Keep delivering the remote's output until it sends EOF, or until
//!    [`EOF_GRACE`] has passed (a remote that never closes must not keep us).
//! 3. Flush our stdout, close the channel and disconnect, each bounded by
//!    [`CLOSE_TIMEOUT`]; exit 0. We close the channel ourselves: the peer
//!    server never does.
//!
//! If the remote sends EOF first while the host is still attached, the
//! session is over: we flush what it sent and report it. If our stdout is
//! gone (EPIPE), the host is gone: we close quietly.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_signal::{Signal, Signals};
use async_ssh2_lite::AsyncStream;
use async_ssh2_lite::ssh2::BlockDirections;
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::stream::StreamExt;

use crate::error::Error;
use crate::json_lines::StdoutFilter;
use crate::jsonrpc::InFlight;
use crate::line_separators::SeparatorEscaper;
use crate::log::{self, Level};
use crate::socket::SshSocket;
use crate::ssh::{Channel, Connection, Session, describe};
use crate::{debug, info, warn};

/// Bytes read from stdin or the channel per call. libssh2 sends at most one
/// 32 KiB packet per write, so two packets' worth keeps both sides busy.
const READ_CHUNK: usize = 64 * 1024;
/// Input read from the host but not yet taken by the channel; past this we
/// stop reading stdin, so a slow remote slows the host instead of our memory.
const TO_REMOTE_LIMIT: usize = 1024 * 1024;
/// Output read from the channel but not yet written to stdout; past this we
/// stop reading the channel's stdout, so the SSH window throttles the remote.
const TO_HOST_LIMIT: usize = 1024 * 1024;
/// How long, after the host's EOF, the remote may take to answer the
/// requests still in flight before we send our EOF. The host has stopped
/// talking, so this only needs to cover requests already being worked on.
pub const ANSWER_GRACE: Duration = Duration::from_secs(5);
/// How long the remote may take, after our EOF, to finish what it owes.
pub const EOF_GRACE: Duration = Duration::from_secs(3);
/// Bound on each of the closing steps (EOF, close, disconnect).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// A remote stderr line longer than this is printed in pieces.
const STDERR_LINE_LIMIT: usize = 4096;

/// How the session ended, when it ended well.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The host closed our stdin (or asked us to stop with a signal).
    HostClosed,
    /// Our stdout is closed: nobody is listening any more.
    HostGone,
}

/// Which socket events the last pump asked to wait for.
#[derive(Default, Debug, Clone, Copy)]
struct Interest {
    writable: bool,
    retry: bool,
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

/// What woke us.
enum Event {
    Socket(io::Result<()>),
    Stdin(io::Result<usize>),
    Stdout(io::Result<usize>),
    Signal(Option<io::Result<Signal>>),
    Deadline,
}

/// The bytes in flight between the host and the channel.
struct Buffers {
    /// Host → channel; `to_remote[sent..]` is pending. Compacted only after a
    /// successful write, so a write libssh2 has half-taken keeps its bytes.
    to_remote: Vec<u8>,
    sent: usize,
    /// Channel → host; `to_host[written..]` is pending.
    to_host: Vec<u8>,
    written: usize,
}

/// Relays until one side ends, then closes the session in bounded time.
pub async fn run<I, O>(input: &mut I, output: &mut O, conn: Connection) -> Result<Ending, Error>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut signals =
        Signals::new([Signal::Term, Signal::Int, Signal::Hup]).map_err(|source| Error::Stdio {
            context: "cannot install signal handlers",
            source,
        })?;
    let Connection {
        session,
        mut channel,
        socket,
        target,
    } = conn;
    let mut remote = RemoteStreams::new(&channel);

    let mut buffers = Buffers {
        to_remote: Vec::with_capacity(READ_CHUNK),
        sent: 0,
        to_host: Vec::with_capacity(READ_CHUNK),
        written: 0,
    };
    let mut stdin_chunk = vec![0u8; READ_CHUNK];
    let mut input_at_line_start = true;
    let mut escaper = SeparatorEscaper::default();

    let mut stdin_open = true;
    let mut stopping = false;
    let mut eof_sent = false;
    let mut deadline: Option<Instant> = None;
    let mut ending = Ending::HostClosed;

    loop {
        let interest = remote
            .pump(&mut buffers, &session, &channel)
            .map_err(|e| Error::Ssh {
                context: "relaying",
                detail: connection_failure(&e),
            })?;

        if !stdin_open && !eof_sent && buffers.sent == buffers.to_remote.len() {
            let pending = remote.in_flight.pending();
            let waited = deadline.is_some_and(|d| Instant::now() >= d);
            if pending == 0 || waited || stopping {
                if pending > 0 && !stopping {
                    info!(
                        "{pending} request(s) still unanswered {} s after the end of input; ending the session",
                        ANSWER_GRACE.as_secs()
                    );
                }
                debug!("end of input: sending EOF to the remote");
                bounded(channel.send_eof(), "sending EOF").await;
                eof_sent = true;
                deadline = Some(Instant::now() + EOF_GRACE);
                continue;
            }
        }
        let output_flushed = buffers.written == buffers.to_host.len();
        if remote.finished() && output_flushed {
            break;
        }
        if eof_sent && deadline.is_some_and(|d| Instant::now() >= d) {
            if !remote.out_eof {
                info!(
                    "the remote did not finish within {} s of the end of input; closing",
                    EOF_GRACE.as_secs()
                );
            }
            break;
        }

        let want_stdin = stdin_open && buffers.to_remote.len() - buffers.sent < TO_REMOTE_LIMIT;
        let event = {
            let socket_ready = wait_socket(&socket, interest);
            let stdin_read = async {
                if want_stdin {
                    Event::Stdin(input.read(&mut stdin_chunk).await)
                } else {
                    future::pending().await
                }
            };
            let stdout_write = async {
                if output_flushed {
                    future::pending().await
                } else {
                    Event::Stdout(output.write(&buffers.to_host[buffers.written..]).await)
                }
            };
            let signal = async { Event::Signal(signals.next().await) };
            let timeout = async {
                match deadline {
                    Some(at) => {
                        smol::Timer::at(at).await;
                        Event::Deadline
                    }
                    None => future::pending().await,
                }
            };
            // Output first: delivering what we hold frees room to read more.
            stdout_write
                .or(socket_ready)
                .or(stdin_read)
                .or(signal)
                .or(timeout)
                .await
        };

        match event {
            Event::Socket(Ok(())) | Event::Deadline => {}
            Event::Socket(Err(e)) => {
                return Err(Error::Ssh {
                    context: "waiting on the connection",
                    detail: e.to_string(),
                });
            }
            Event::Stdin(Ok(0)) => {
                debug!(
                    "stdin closed; {} request(s) awaiting an answer",
                    remote.in_flight.pending()
                );
                stdin_open = false;
                escaper.finish(&mut buffers.to_remote);
                deadline = Some(Instant::now() + ANSWER_GRACE);
            }
            Event::Stdin(Ok(n)) => {
                let data = &stdin_chunk[..n];
                if log::enabled(Level::Debug) {
                    log_heads("host → remote", data, &mut input_at_line_start);
                }
                remote.in_flight.host_sent(data);
                escaper.push(data, &mut buffers.to_remote);
            }
            Event::Stdin(Err(source)) => {
                return Err(Error::Stdio {
                    context: "cannot read stdin",
                    source,
                });
            }
            Event::Stdout(Ok(0)) => {
                return Err(Error::Stdio {
                    context: "cannot write stdout",
                    source: io::ErrorKind::WriteZero.into(),
                });
            }
            Event::Stdout(Ok(n)) => {
                buffers.written += n;
                if buffers.written == buffers.to_host.len() {
                    buffers.to_host.clear();
                    buffers.written = 0;
                } else if buffers.written >= TO_HOST_LIMIT {
                    // A host that reads in small bites would otherwise let
                    // the buffer grow by everything that ever passed.
                    buffers.to_host.drain(..buffers.written);
                    buffers.written = 0;
                }
            }
            Event::Stdout(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                debug!("stdout closed by the host");
                ending = Ending::HostGone;
                break;
            }
            Event::Stdout(Err(source)) => {
                return Err(Error::Stdio {
                    context: "cannot write stdout",
                    source,
                });
            }
            Event::Signal(signal) => {
                if !stdin_open {
                    // A second request to stop: stop now.
                    info!("stopping at once");
                    break;
                }
                info!("{}: finishing the session", signal_name(signal));
                stdin_open = false;
                stopping = true;
                escaper.finish(&mut buffers.to_remote);
            }
        }
    }

    remote.filter.finish(divert_line);
    remote.stderr_lines.finish();
    if ending == Ending::HostClosed {
        let _ = output.flush().await;
    }
    if stdin_open && remote.out_eof && ending == Ending::HostClosed {
        // The remote ended while the host was still talking to it.
        let detail = remote_end_detail(&mut channel).await;
        close(&session, &mut channel).await;
        return Err(Error::RemoteClosed { detail });
    }
    close(&session, &mut channel).await;
    debug!("session with {target} closed");
    Ok(ending)
}

/// The channel's two output streams (stream 0 also takes our writes) and
/// what has come out of them.
struct RemoteStreams {
    out: AsyncStream<SshSocket>,
    err: AsyncStream<SshSocket>,
    out_eof: bool,
    err_eof: bool,
    filter: StdoutFilter,
    stderr_lines: StderrLines,
    /// The host's requests the remote has not answered yet.
    in_flight: InFlight,
    chunk: Vec<u8>,
}

impl RemoteStreams {
    fn new(channel: &Channel) -> RemoteStreams {
        RemoteStreams {
            out: channel.stream(0),
            err: channel.stderr(),
            out_eof: false,
            err_eof: false,
            filter: StdoutFilter::default(),
            stderr_lines: StderrLines::default(),
            in_flight: InFlight::default(),
            chunk: vec![0u8; READ_CHUNK],
        }
    }

    /// Both streams have ended: the remote will send nothing more.
    fn finished(&self) -> bool {
        self.out_eof && self.err_eof
    }

    /// Moves bytes between the buffers and libssh2 until nothing moves;
    /// returns the socket events that can make them move again.
    fn pump(
        &mut self,
        buffers: &mut Buffers,
        session: &Session,
        channel: &Channel,
    ) -> io::Result<Interest> {
        let mut interest = Interest::default();
        let mut rechecked = false;
        loop {
            let mut progress = false;
            // Writing first: libssh2 reads pending packets before it writes,
            // and the reads below then see whatever that pulled in.
            if buffers.sent < buffers.to_remote.len() {
                let pending = &buffers.to_remote[buffers.sent..];
                match attempt(&mut self.out, |s, cx| Pin::new(s).poll_write(cx, pending)) {
                    Ok(n) => {
                        buffers.sent += n;
                        progress = true;
                        if buffers.sent == buffers.to_remote.len() {
                            buffers.to_remote.clear();
                            buffers.sent = 0;
                        } else if buffers.sent >= TO_REMOTE_LIMIT {
                            buffers.to_remote.drain(..buffers.sent);
                            buffers.sent = 0;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        interest.add(session.block_directions())
                    }
                    Err(e) => return Err(e),
                }
            }
            let mut out_drained = false;
            if !self.out_eof && buffers.to_host.len() - buffers.written < TO_HOST_LIMIT {
                let chunk = &mut self.chunk;
                match attempt(&mut self.out, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                    Ok(0) => self.out_eof = true,
                    Ok(n) => {
                        let start = buffers.to_host.len();
                        self.filter.push(
                            &self.chunk[..n],
                            &mut buffers.to_host,
                            divert_line,
                            |head| {
                                debug!("remote → host: {}", String::from_utf8_lossy(head));
                            },
                        );
                        self.in_flight.remote_sent(&buffers.to_host[start..]);
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        interest.add(session.block_directions());
                        out_drained = true;
                    }
                    Err(e) => return Err(e),
                }
            }
            // A stdout read that would block has already pulled everything
            // the socket held into libssh2's queue; with nothing queued for
            // the channel, a stderr read would only cost a futile recv.
            let err_may_have_data = !out_drained || channel.read_window().available > 0;
            if !self.err_eof && err_may_have_data {
                let chunk = &mut self.chunk;
                match attempt(&mut self.err, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                    Ok(0) => self.err_eof = true,
                    Ok(n) => {
                        self.stderr_lines.push(&self.chunk[..n]);
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        interest.add(session.block_directions())
                    }
                    Err(e) => return Err(e),
                }
            }
            if progress {
                rechecked = false;
                continue;
            }
            // A read of one stream may have queued the other stream's data and
            // drained the socket: nothing would wake us for it. One more pass
            // collects it (a pass that still moves nothing means it is held
            // back on purpose, by our stdout being full).
            if !rechecked && channel.read_window().available > 0 {
                rechecked = true;
                continue;
            }
            return Ok(interest);
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

/// Waits until the socket can let libssh2 progress: readable always (the
/// remote may speak at any time), writable when a call was blocked sending,
/// or after a short pause when libssh2 gave no direction at all.
async fn wait_socket(socket: &SshSocket, interest: Interest) -> Event {
    let readable = async { Event::Socket(socket.0.readable().await) };
    let writable = async {
        if interest.writable {
            Event::Socket(socket.0.writable().await)
        } else {
            future::pending().await
        }
    };
    let retry = async {
        if interest.retry {
            Event::Socket(socket.ready(BlockDirections::None).await)
        } else {
            future::pending().await
        }
    };
    readable.or(writable).or(retry).await
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

/// Closes the channel and the session without waiting on the network for long.
async fn close(session: &Session, channel: &mut Channel) {
    bounded(channel.close(), "closing the channel").await;
    bounded(
        session.disconnect(None, "session ended", None),
        "disconnecting",
    )
    .await;
}

/// Why the remote ended, from its exit status if it sent one.
async fn remote_end_detail(channel: &mut Channel) -> String {
    bounded(channel.wait_close(), "waiting for the remote to close").await;
    let signal = channel.exit_signal().await.ok().and_then(|s| s.exit_signal);
    match (signal, channel.exit_status()) {
        (Some(signal), _) => format!("the remote command was killed by SIG{signal}"),
        (None, Ok(status)) if status != 0 => {
            format!("the remote command exited with status {status}")
        }
        _ => "the remote MCP server ended the session".into(),
    }
}

/// Says in words what libssh2's terse transport errors mean to a user.
fn connection_failure(e: &io::Error) -> String {
    let raw = e.to_string();
    match raw.as_str() {
        "transport read" | "socket disconnect" | "Failed getting banner" => {
            format!("the server closed the connection or the network dropped it ({raw})")
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

fn signal_name(signal: Option<io::Result<Signal>>) -> &'static str {
    match signal {
        Some(Ok(Signal::Term)) => "SIGTERM",
        Some(Ok(Signal::Int)) => "SIGINT",
        Some(Ok(Signal::Hup)) => "SIGHUP",
        _ => "signal",
    }
}

/// At DEBUG, the head of each message that starts in `data`.
fn log_heads(direction: &str, data: &[u8], at_line_start: &mut bool) {
    let mut rest = data;
    while !rest.is_empty() {
        if *at_line_start && rest[0] != b'\n' {
            let head = &rest[..rest.len().min(log::HEAD_LEN)];
            let head = head.split(|&b| b == b'\n').next().unwrap_or(head);
            debug!("{direction}: {}", String::from_utf8_lossy(head));
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                *at_line_start = true;
                rest = &rest[i + 1..];
            }
            None => {
                *at_line_start = false;
                break;
            }
        }
    }
}

/// The remote's stderr, cut into lines for our stderr.
#[derive(Default)]
struct StderrLines {
    partial: Vec<u8>,
}

impl StderrLines {
    fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
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
