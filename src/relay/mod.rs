//! The stdio ⇄ SSH relay, across as many connections as the network needs.
//!
//! One future owns stdin, stdout, the MCP session state (`mcp/`) and the
//! current connection (`link.rs`), if there is one. Each turn
//! ([`Relay::turn`]) it
//! 1. tends the link: lets it *pump* (libssh2 called without blocking until
//!    nothing moves) and notes a loss (`liveness.rs` decides when a link is
//!    dead);
//! 2. tends the outage, if there is one (`reconnect.rs`): starts an attempt
//!    when one is due, gives up past `--reconnect-max-wait`;
//! 3. tends the ending: sends EOF to the remote, or ends the session, when
//!    its time has come (below);
//! 4. *waits* for the first of: stdout writable (when output is pending),
//!    the socket (readable always; writable or a short retry when libssh2
//!    asked), stdin readable (when there is room), a signal, a reconnection
//!    attempt finishing, or the next deadline (a keepalive, the silence
//!    limit, a retry, a grace period), and takes it in.
//!
//! With a single owner no two waiters fight over the socket's wakeups, a
//! pending write keeps its bytes in place until libssh2 takes them, and an
//! idle session sleeps in epoll with only the keepalive timer armed.
//!
//! On a loss the host's requests in flight are answered with an error at
//! once; then the session is reconnected (`reconnect.rs`) or, past that,
//! what waits gets the error and we exit with the "remote closed" code.
//!
//! How a session ends, and every bound on it, is `ending.rs`'s.

mod alarm;
mod backoff;
mod ending;
pub(crate) mod link;
pub(crate) mod liveness;
mod reconnect;
pub mod remote_output;
pub(crate) mod signals;
pub(crate) mod startup_failure;
pub(crate) mod stdio;

use std::future::Future;
use std::io;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::time::{Duration, Instant};

use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::Liveness;
use crate::connect::{Connection, Dialer};
use crate::deadline;
use crate::error::Error;
use crate::log::{self, Level};
use crate::mcp::McpSession;
use crate::{debug, info};
use alarm::Alarm;
use ending::ANSWER_GRACE;
use link::{Interest, Link, SocketEvent};
use reconnect::Outage;
pub(crate) use signals::StopRequests;

/// Bytes read from stdin per call. Every message read is classified before
/// any of it is written to the channel, so a burst of requests reaches the
/// remote one read at a time: 16 KiB lets the remote start working while we
/// read on (larger reads made a burst slower; figures in `benches/README.md`).
const READ_CHUNK: usize = 16 * 1024;

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

/// Relays until the host leaves, or the remote is gone for good.
pub async fn run<I, O>(
    input: &mut I,
    output: &mut O,
    signals: StopRequests,
    first: Connection,
    dialer: &Dialer<'_>,
    settings: &Settings,
) -> Result<Ending, Error>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut relay = Relay {
        input,
        output,
        dialer,
        settings,
        signals,
        mcp: McpSession::new(),
        link: Some(Link::new(first, settings.liveness, Instant::now())),
        outage: None,
        attempt: None,
        stdin_chunk: vec![0u8; READ_CHUNK],
        input_at_line_start: true,
        stdin_open: true,
        stopped_by: None,
        answer_deadline: None,
        eof_deadline: None,
        interest: Interest::default(),
        alarm: Alarm::default(),
    };
    loop {
        match relay.turn().await {
            ControlFlow::Continue(()) | ControlFlow::Break(Exit::TurnAgain) => {}
            ControlFlow::Break(Exit::Done(outcome)) => return outcome,
            ControlFlow::Break(Exit::Close(ending)) => return Ok(relay.close(ending).await),
        }
    }
}

type Attempt<'c> = Pin<Box<dyn Future<Output = Result<Connection, Error>> + 'c>>;

/// Why a step of the turn stops it.
enum Exit {
    /// Something changed that the steps before must see: start the turn over.
    TurnAgain,
    /// The session is over, with everything said and closed.
    Done(Result<Ending, Error>),
    /// The session is over: flush what the host is owed and close the link.
    Close(Ending),
}

/// What woke us.
enum Event {
    Socket(io::Result<SocketEvent>),
    Stdin(io::Result<usize>),
    Stdout(io::Result<usize>),
    Stop(&'static str),
    Connected(Result<Connection, Error>),
    Timer,
}

/// Everything the relay owns; see the module documentation.
struct Relay<'a, I, O> {
    input: &'a mut I,
    output: &'a mut O,
    dialer: &'a Dialer<'a>,
    settings: &'a Settings,
    signals: StopRequests,
    mcp: McpSession,
    link: Option<Link>,
    outage: Option<Outage>,
    attempt: Option<Attempt<'a>>,
    stdin_chunk: Vec<u8>,
    /// For logging at DEBUG: whether the next stdin byte starts a message.
    input_at_line_start: bool,
    stdin_open: bool,
    /// The signal that asked us to stop: no waiting for answers, no reconnecting.
    stopped_by: Option<&'static str>,
    answer_deadline: Option<Instant>,
    eof_deadline: Option<Instant>,
    interest: Interest,
    alarm: Alarm,
}

impl<'a, I, O> Relay<'a, I, O>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    async fn turn(&mut self) -> ControlFlow<Exit> {
        let now = Instant::now();
        self.tend_link(now).await?;
        self.tend_outage(now).await?;
        self.tend_ending(now).await?;
        let event = self.wait(now).await;
        self.take_in(event).await
    }

    /// Pumps the link and, if it is lost, begins an outage or ends the session.
    async fn tend_link(&mut self, now: Instant) -> ControlFlow<Exit> {
        let Some(current) = self.link.as_mut() else {
            return ControlFlow::Continue(());
        };
        let loss = match current.pump(&mut self.mcp, now) {
            Err(e) => Some(crate::connect::libssh2::transport_failure(&e)),
            Ok(wanted) => {
                self.interest = wanted;
                self.mcp.take_failure().or_else(|| current.dead(now))
            }
        };
        let remote_ended = loss.is_none() && current.out_eof && !current.eof_sent;
        if loss.is_none() && !remote_ended {
            return ControlFlow::Continue(());
        }
        let Some(mut lost) = self.link.take() else {
            return ControlFlow::Continue(());
        };
        let reason = match loss {
            Some(reason) => reason,
            None => lost.end_detail().await,
        };
        lost.flush_stderr();
        let reconnect = self.stdin_open
            && self.stopped_by.is_none()
            && !self.settings.reconnect_max_wait.is_zero()
            && self.mcp.remote_spoke();
        self.mcp.link_lost(&reason, reconnect);
        if reconnect {
            info!("connection to {} lost: {reason}; reconnecting", lost.target);
            let target = lost.target.clone();
            // Closing a connection that may be dead could wait on the
            // network; dropping it closes the socket at once.
            drop(lost);
            self.outage = Some(Outage::begin(reason, target, now));
            return ControlFlow::Break(Exit::TurnAgain);
        }
        self.flush().await;
        let error = if remote_ended {
            Error::RemoteClosed { detail: reason }
        } else {
            Error::Ssh {
                context: "relaying",
                detail: reason,
            }
        };
        lost.close().await;
        if !self.stdin_open {
            // The host had finished; the remote's end is the session's.
            debug!("{error}");
            return ControlFlow::Break(Exit::Done(Ok(Ending::HostClosed)));
        }
        ControlFlow::Break(Exit::Done(Err(error)))
    }

    /// Gives up an outage that lasted too long, or starts an attempt that is due.
    async fn tend_outage(&mut self, now: Instant) -> ControlFlow<Exit> {
        let Some(outage) = &self.outage else {
            return ControlFlow::Continue(());
        };
        let max_wait = self.settings.reconnect_max_wait;
        if now >= outage.deadline(max_wait) {
            let detail = outage.given_up(max_wait);
            self.mcp.give_up(&detail);
            self.flush().await;
            return ControlFlow::Break(Exit::Done(Err(Error::RemoteClosed { detail })));
        }
        if self.attempt.is_none() && now >= outage.next_attempt() {
            debug!("reconnecting, attempt {}", outage.attempts());
            self.attempt = Some(Box::pin(self.dialer.connect()));
        }
        ControlFlow::Continue(())
    }

    /// Waits for the first thing that can move the session on.
    async fn wait(&mut self, now: Instant) -> Event {
        if let Some(current) = self.link.as_mut() {
            current.keep_alive(now);
        }
        let want_stdin = self.stdin_open && self.mcp.to_remote().len() < link::TO_REMOTE_LIMIT;
        let max_wait = self.settings.reconnect_max_wait;
        let next_timer = [
            self.answer_deadline
                .filter(|_| self.link.as_ref().is_some_and(|l| !l.eof_sent)),
            self.eof_deadline,
            self.link.as_ref().and_then(Link::next_check),
            self.outage
                .as_ref()
                .filter(|_| self.attempt.is_none())
                .map(Outage::next_attempt),
            self.outage.as_ref().map(|o| o.deadline(max_wait)),
        ]
        .into_iter()
        .flatten()
        .min();
        self.alarm.arm(next_timer);

        let pending_output = self.mcp.to_host().pending();
        let output = &mut *self.output;
        let stdout_write = async {
            if pending_output.is_empty() {
                future::pending().await
            } else {
                Event::Stdout(output.write(pending_output).await)
            }
        };
        let (link, interest) = (&self.link, self.interest);
        let socket_ready = async {
            match link {
                Some(current) => Event::Socket(current.wait(interest).await),
                None => future::pending().await,
            }
        };
        let (input, stdin_chunk) = (&mut *self.input, &mut self.stdin_chunk);
        let stdin_read = async {
            if want_stdin {
                Event::Stdin(input.read(stdin_chunk).await)
            } else {
                future::pending().await
            }
        };
        let signals = &mut self.signals;
        let signal = async { Event::Stop(signals.next().await) };
        let attempt = &mut self.attempt;
        let connected = async {
            match attempt.as_mut() {
                Some(pending) => Event::Connected(pending.await),
                None => future::pending().await,
            }
        };
        let alarm = &mut self.alarm;
        let timer = async {
            alarm.await;
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
    }

    /// Takes in what woke us.
    async fn take_in(&mut self, event: Event) -> ControlFlow<Exit> {
        match event {
            Event::Timer => {}
            Event::Socket(Ok(SocketEvent::Readable)) => {
                if let Some(current) = self.link.as_mut() {
                    current.heard(Instant::now());
                }
            }
            Event::Socket(Ok(SocketEvent::Writable | SocketEvent::Retry)) => {
                if let Some(current) = self.link.as_mut() {
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
                    self.mcp.unanswered()
                );
                self.stdin_open = false;
                self.mcp.host_finished();
                self.answer_deadline = Some(deadline::after(Instant::now(), ANSWER_GRACE));
            }
            Event::Stdin(Ok(n)) => {
                let data = &self.stdin_chunk[..n];
                if log::enabled(Level::Debug) {
                    log::message_heads("host → remote", data, &mut self.input_at_line_start);
                }
                self.mcp.from_host(data);
            }
            Event::Stdin(Err(source)) => {
                return ControlFlow::Break(Exit::Done(Err(Error::Stdio {
                    context: "cannot read stdin",
                    source,
                })));
            }
            Event::Stdout(Ok(0)) => {
                return ControlFlow::Break(Exit::Done(Err(Error::Stdio {
                    context: "cannot write stdout",
                    source: io::ErrorKind::WriteZero.into(),
                })));
            }
            Event::Stdout(Ok(n)) => self.mcp.to_host().consumed(n),
            Event::Stdout(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                debug!("stdout closed by the host");
                return ControlFlow::Break(Exit::Close(Ending::HostGone));
            }
            Event::Stdout(Err(source)) => {
                return ControlFlow::Break(Exit::Done(Err(Error::Stdio {
                    context: "cannot write stdout",
                    source,
                })));
            }
            Event::Stop(signal) => {
                if !self.stdin_open {
                    // A second request to stop: stop now.
                    info!("stopping at once");
                    return ControlFlow::Break(Exit::Close(Ending::HostClosed));
                }
                info!("{signal}: finishing the session");
                self.stdin_open = false;
                self.stopped_by = Some(signal);
                self.mcp.host_finished();
            }
            Event::Connected(result) => return self.connected(result).await,
        }
        ControlFlow::Continue(())
    }

    /// A reconnection attempt ended.
    async fn connected(&mut self, result: Result<Connection, Error>) -> ControlFlow<Exit> {
        self.attempt = None;
        let Some(outage) = self.outage.as_mut() else {
            return ControlFlow::Continue(());
        };
        match result {
            Ok(connection) => {
                info!(
                    "reconnected to {} after {} ms (reconnect {}); restoring the session",
                    outage.target,
                    outage.elapsed().as_millis(),
                    self.mcp.reconnects() + 1
                );
                self.outage = None;
                self.link = Some(Link::new(
                    connection,
                    self.settings.liveness,
                    Instant::now(),
                ));
                self.mcp.link_up();
            }
            Err(e) if reconnect::is_permanent(&e) => {
                self.mcp.give_up(&e.to_string());
                self.flush().await;
                return ControlFlow::Break(Exit::Done(Err(e)));
            }
            Err(e) => {
                let wait = outage.failed(&e, Instant::now());
                debug!("reconnecting: {e}; next attempt in {} ms", wait.as_millis());
            }
        }
        ControlFlow::Continue(())
    }
}
