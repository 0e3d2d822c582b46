//! The stdio ⇄ SSH relay, across as many connections as the network needs.
//!
//! One future owns stdin, stdout, the MCP session state (`mcp_session.rs`)
//! and the current connection (`link.rs`), if there is one. Each turn it
//! first lets the connection *pump* (libssh2 called without blocking until
//! nothing moves), then *waits* for the first of: stdout writable (when
//! output is pending), the socket (readable always; writable or a short
//! retry when libssh2 asked), stdin readable (when there is room), a
//! signal, a reconnection attempt finishing, or the next deadline (a
//! keepalive, the silence limit, a retry, a grace period). With a single
//! owner no two waiters fight over the socket's wakeups, a pending write
//! keeps its bytes in place until libssh2 takes them, and an idle session
//! sleeps in epoll with only the keepalive timer armed.
//!
//! A connection is lost when libssh2 reports an error, when it is taken
//! for dead (see `link.rs`), or when the remote ends while the host is
//! still attached. The host's requests in flight are answered with an
//! error at once; then, unless reconnecting is off or the remote has never
//! spoken (a remote that cannot serve us is not a network blip), new
//! connections are tried with backoff (`backoff.rs`) for up to
//! `--reconnect-max-wait`, while the host's messages wait (see
//! `mcp_session.rs`). Past that, what waits gets the error and we exit with
//! the "remote closed" code. Trust and credentials are those of the first
//! connection: the key server is not asked again.
//!
//! Shutdown order:
//! 1. stdin EOF: stop reading stdin; finish writing what was already read to
//!    the channel; wait until the remote has answered every request the host
//!    sent and did not cancel, for at most [`ANSWER_GRACE`] (the peer server
//!    drops answers still in flight when it sees our EOF); send EOF on the
//!    channel. On
//!    SIGTERM/SIGINT/SIGHUP the same, without waiting for answers. Without a
//!    connection at that moment, what waits gets the error and we stop.
//! 2. Keep delivering the remote's output until it sends EOF, or until
//!    [`EOF_GRACE`] has passed (a remote that never closes must not keep us).
//! 3. Flush our stdout, close the channel and disconnect, each bounded by
//!    one second; exit 0. We close the channel ourselves: the peer server
//!    never does.
//!
//! If our stdout is gone (EPIPE), the host is gone: we close quietly.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_signal::{Signal, Signals};
use rand_core::{OsRng, RngCore};
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::stream::StreamExt;

use crate::alarm::Alarm;
use crate::backoff::Backoff;
use crate::error::Error;
use crate::link::{self, Interest, Link, Liveness, SocketEvent};
use crate::log::{self, Level};
use crate::mcp_session::McpSession;
use crate::ssh::Connection;
use crate::{debug, info};

/// Bytes read from stdin per call. Every message read is classified before
/// any of it is written to the channel, so a burst of requests reaches the
/// remote one read at a time: 16 KiB lets the remote start working while we
/// read on (a burst of 1,000 requests took 1.2 times as long with 64 KiB).
const READ_CHUNK: usize = 16 * 1024;
/// How long, after the host's EOF, the remote may take to answer the
/// requests still in flight before we send our EOF. The host has stopped
/// talking, so this only needs to cover requests already being worked on.
pub const ANSWER_GRACE: Duration = Duration::from_secs(5);
/// How long the remote may take, after our EOF, to finish what it owes.
pub const EOF_GRACE: Duration = Duration::from_secs(3);

/// How the session ended, when it ended well.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The host closed our stdin (or asked us to stop with a signal).
    HostClosed,
    /// Our stdout is closed: nobody is listening any more.
    HostGone,
}

/// How the relay keeps a session alive.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub liveness: Liveness,
    /// How long to keep reconnecting after a loss; zero never reconnects.
    pub reconnect_max_wait: Duration,
}

/// Makes new connections, with the first one's trust and credentials.
pub trait Connector {
    fn connect(&self) -> impl Future<Output = Result<Connection, Error>>;
}

type Attempt<'c> = Pin<Box<dyn Future<Output = Result<Connection, Error>> + 'c>>;

/// What woke us.
enum Event {
    Socket(io::Result<SocketEvent>),
    Stdin(io::Result<usize>),
    Stdout(io::Result<usize>),
    Signal(Option<io::Result<Signal>>),
    Connected(Result<Connection, Error>),
    Timer,
}

/// The time without a connection, and the attempts to end it.
struct Outage {
    since: Instant,
    reason: String,
    target: String,
    backoff: Backoff,
    next_attempt: Instant,
    last_error: Option<String>,
}

/// Relays until the host leaves, or the remote is gone for good.
pub async fn run<I, O, C>(
    input: &mut I,
    output: &mut O,
    first: Connection,
    connector: &C,
    settings: &Settings,
) -> Result<Ending, Error>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
    C: Connector,
{
    let mut signals =
        Signals::new([Signal::Term, Signal::Int, Signal::Hup]).map_err(|source| Error::Stdio {
            context: "cannot install signal handlers",
            source,
        })?;
    let mut mcp = McpSession::new();
    let mut link = Some(Link::new(first, settings.liveness, Instant::now()));
    let mut outage: Option<Outage> = None;
    let mut attempt: Option<Attempt<'_>> = None;
    let mut stdin_chunk = vec![0u8; READ_CHUNK];
    let mut input_at_line_start = true;
    let mut stdin_open = true;
    let mut stopping = false;
    let mut answer_deadline: Option<Instant> = None;
    let mut eof_deadline: Option<Instant> = None;
    let mut interest = Interest::default();
    let mut alarm = Alarm::default();

    let ending = loop {
        let now = Instant::now();

        if let Some(current) = link.as_mut() {
            let loss = match current.pump(&mut mcp, now) {
                Err(e) => Some(link::connection_failure(&e)),
                Ok(wanted) => {
                    interest = wanted;
                    mcp.take_failure().or_else(|| current.dead(now))
                }
            };
            let remote_ended = loss.is_none() && current.out_eof && !current.eof_sent;
            if loss.is_some() || remote_ended {
                let Some(mut lost) = link.take() else {
                    unreachable!("a link was just pumped")
                };
                let reason = match loss {
                    Some(reason) => reason,
                    None => lost.end_detail().await,
                };
                lost.flush_stderr();
                let reconnect = stdin_open
                    && !stopping
                    && !settings.reconnect_max_wait.is_zero()
                    && mcp.remote_spoke();
                mcp.link_lost(&reason, reconnect);
                if reconnect {
                    info!("connection to {} lost: {reason}; reconnecting", lost.target);
                    let target = lost.target.clone();
                    // Closing a connection that may be dead could wait on the
                    // network; dropping it closes the socket at once.
                    drop(lost);
                    let mut backoff = Backoff::default();
                    let wait = backoff.next_wait(OsRng.next_u32());
                    outage = Some(Outage {
                        since: now,
                        reason,
                        target,
                        backoff,
                        next_attempt: now + wait,
                        last_error: None,
                    });
                    continue;
                }
                flush(output, &mut mcp).await;
                let error = if remote_ended {
                    Error::RemoteClosed { detail: reason }
                } else {
                    Error::Ssh {
                        context: "relaying",
                        detail: reason,
                    }
                };
                lost.close().await;
                if !stdin_open {
                    // The host had finished; the remote's end is the session's.
                    debug!("{error}");
                    return Ok(Ending::HostClosed);
                }
                return Err(error);
            }
        }

        if let Some(out) = &mut outage {
            if now >= out.since + settings.reconnect_max_wait {
                let detail = format!(
                    "the connection to {} was lost ({}) and could not be re-established within {} s{}",
                    out.target,
                    out.reason,
                    settings.reconnect_max_wait.as_secs(),
                    out.last_error
                        .as_deref()
                        .map(|e| format!("; last attempt: {e}"))
                        .unwrap_or_default()
                );
                mcp.give_up(&detail);
                flush(output, &mut mcp).await;
                return Err(Error::RemoteClosed { detail });
            }
            if attempt.is_none() && now >= out.next_attempt {
                debug!("reconnecting, attempt {}", out.backoff.attempts());
                attempt = Some(Box::pin(connector.connect()));
            }
        }

        if let Some(current) = link.as_mut() {
            if !stdin_open && !current.eof_sent && mcp.to_remote().is_empty() {
                let unanswered = mcp.unanswered();
                let waited = answer_deadline.is_some_and(|d| now >= d);
                if unanswered == 0 || waited || stopping {
                    if unanswered > 0 && !stopping {
                        info!(
                            "{unanswered} request(s) still unanswered {} s after the end of input; ending the session",
                            ANSWER_GRACE.as_secs()
                        );
                    }
                    debug!("end of input: sending EOF to the remote");
                    current.send_eof().await;
                    eof_deadline = Some(Instant::now() + EOF_GRACE);
                    continue;
                }
            }
            if current.finished() && mcp.to_host().is_empty() {
                break Ending::HostClosed;
            }
            if eof_deadline.is_some_and(|d| now >= d) {
                if !current.out_eof {
                    info!(
                        "the remote did not finish within {} s of the end of input; closing",
                        EOF_GRACE.as_secs()
                    );
                }
                break Ending::HostClosed;
            }
        } else if !stdin_open {
            // The host is done and there is no connection to finish on.
            mcp.give_up("the host ended the session while the connection was being re-established");
            flush(output, &mut mcp).await;
            return Ok(Ending::HostClosed);
        }

        if let Some(current) = link.as_mut() {
            current.keep_alive(now);
        }
        let room = mcp.to_remote().len() < link::TO_REMOTE_LIMIT;
        let want_stdin = stdin_open && room;
        let output_flushed = mcp.to_host().is_empty();
        let next_timer = [
            answer_deadline.filter(|_| link.as_ref().is_some_and(|l| !l.eof_sent)),
            eof_deadline,
            link.as_ref().and_then(Link::next_check),
            outage
                .as_ref()
                .filter(|_| attempt.is_none())
                .map(|o| o.next_attempt),
            outage
                .as_ref()
                .map(|o| o.since + settings.reconnect_max_wait),
        ]
        .into_iter()
        .flatten()
        .min();
        alarm.arm(next_timer);

        let event = {
            let pending_output = mcp.to_host().pending();
            let stdout_write = async {
                if output_flushed {
                    future::pending().await
                } else {
                    Event::Stdout(output.write(pending_output).await)
                }
            };
            let socket_ready = async {
                match &link {
                    Some(current) => Event::Socket(current.wait(interest).await),
                    None => future::pending().await,
                }
            };
            let stdin_read = async {
                if want_stdin {
                    Event::Stdin(input.read(&mut stdin_chunk).await)
                } else {
                    future::pending().await
                }
            };
            let signal = async { Event::Signal(signals.next().await) };
            let connected = async {
                match attempt.as_mut() {
                    Some(pending) => Event::Connected(pending.await),
                    None => future::pending().await,
                }
            };
            let timer = async {
                (&mut alarm).await;
                Event::Timer
            };
            // Output first: delivering what we hold frees room to read more.
            stdout_write
                .or(socket_ready)
                .or(stdin_read)
                .or(signal)
                .or(connected)
                .or(timer)
                .await
        };

        match event {
            Event::Timer => {}
            Event::Socket(Ok(SocketEvent::Readable)) => {
                if let Some(current) = link.as_mut() {
                    current.heard(Instant::now());
                }
            }
            Event::Socket(Ok(SocketEvent::Writable | SocketEvent::Retry)) => {
                if let Some(current) = link.as_mut() {
                    current.unblocked();
                }
            }
            Event::Socket(Err(e)) => {
                // The pump will meet the same error and report the loss.
                debug!("waiting on the connection: {e}");
            }
            Event::Stdin(Ok(0)) => {
                debug!(
                    "stdin closed; {} request(s) awaiting an answer",
                    mcp.unanswered()
                );
                stdin_open = false;
                mcp.host_finished();
                answer_deadline = Some(Instant::now() + ANSWER_GRACE);
            }
            Event::Stdin(Ok(n)) => {
                let data = &stdin_chunk[..n];
                if log::enabled(Level::Debug) {
                    log_heads("host → remote", data, &mut input_at_line_start);
                }
                mcp.from_host(data);
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
            Event::Stdout(Ok(n)) => mcp.to_host().consumed(n),
            Event::Stdout(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                debug!("stdout closed by the host");
                break Ending::HostGone;
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
                    break Ending::HostClosed;
                }
                info!("{}: finishing the session", signal_name(signal));
                stdin_open = false;
                stopping = true;
                mcp.host_finished();
            }
            Event::Connected(result) => {
                attempt = None;
                let Some(mut out) = outage.take() else {
                    continue;
                };
                match result {
                    Ok(connection) => {
                        info!(
                            "reconnected to {} after {} ms (reconnect {}); restoring the session",
                            out.target,
                            out.since.elapsed().as_millis(),
                            mcp.reconnects() + 1
                        );
                        link = Some(Link::new(connection, settings.liveness, Instant::now()));
                        mcp.link_up();
                    }
                    Err(e) if is_permanent(&e) => {
                        let detail = e.to_string();
                        mcp.give_up(&detail);
                        flush(output, &mut mcp).await;
                        return Err(e);
                    }
                    Err(e) => {
                        let wait = out.backoff.next_wait(OsRng.next_u32());
                        debug!("reconnecting: {e}; next attempt in {} ms", wait.as_millis());
                        out.last_error = Some(e.to_string());
                        out.next_attempt = Instant::now() + wait;
                        outage = Some(out);
                    }
                }
            }
        }
    };

    if ending == Ending::HostClosed {
        flush(output, &mut mcp).await;
    }
    if let Some(current) = link {
        let target = current.target.clone();
        current.close().await;
        debug!("session with {target} closed");
    }
    Ok(ending)
}

/// Writes what is still owed to the host, unless the host is gone.
async fn flush<O: AsyncWrite + Unpin>(output: &mut O, mcp: &mut McpSession) {
    while !mcp.to_host().is_empty() {
        match output.write(mcp.to_host().pending()).await {
            Ok(0) | Err(_) => return,
            Ok(n) => mcp.to_host().consumed(n),
        }
    }
    let _ = output.flush().await;
}

/// Errors that another attempt would only repeat: the server is not the
/// one we trust, or will not have us.
fn is_permanent(e: &Error) -> bool {
    matches!(e.exit_code(), 7..=10)
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
        match memchr::memchr(b'\n', rest) {
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
