//! The SSH socket: async-ssh2-lite's stream trait implemented over smol's
//! reactor, so that one reactor serves stdio, the socket, timers and signals.
//!
//! Two modes, on purpose:
//! - The awaited calls (`x_with`: handshake, authentication, channel
//!   requests, EOF, close) retry libssh2 until it answers, waiting on the
//!   socket in the direction libssh2 says it is blocked on. When libssh2
//!   reports EAGAIN with no direction at all (libssh2 issue 1672), a short
//!   timer stands in, so that we neither hang nor spin.
//! - The polled calls (`poll_x_with`, behind `AsyncRead`/`AsyncWrite` on a
//!   channel stream) try libssh2 once and return `WouldBlock` at once. The
//!   relay is their only user and does its own waiting: it owns the session
//!   and waits on every direction any of its calls asked for. This sidesteps
//!   the crate's own polling, which asserts the direction a call will block
//!   in (a read can need to send: a window adjustment, a rekey; the assert
//!   then panics) and returns `Pending` without a waker when libssh2 names
//!   no direction (a lost wakeup).

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_ssh2_lite::ssh2::{BlockDirections, Error as Ssh2Error, Session};
use async_ssh2_lite::{
    AsyncSessionStream, AsyncStream, Error as AsyncSsh2Error, util::ssh2_error_is_would_block,
};
use smol::Async;
use smol::future::FutureExt;

/// How long to wait before retrying a call that returned EAGAIN without a
/// direction: long enough not to spin, short enough not to be noticed.
pub const DIRECTIONLESS_RETRY: Duration = Duration::from_millis(5);

use crate::connect::stream::Stream;

/// The connection under the SSH session, shared between libssh2's calls
/// and the readiness waits of the relay (or a jump host's carrier).
#[derive(Clone)]
pub struct SshSocket(pub Arc<Async<Stream>>);

impl SshSocket {
    /// Waits until the socket may let libssh2 make progress in `directions`.
    pub async fn ready(&self, directions: BlockDirections) -> io::Result<()> {
        match directions {
            BlockDirections::Inbound => self.0.readable().await,
            BlockDirections::Outbound => self.0.writable().await,
            BlockDirections::Both => self.0.readable().or(self.0.writable()).await,
            BlockDirections::None => {
                smol::Timer::after(DIRECTIONLESS_RETRY).await;
                Ok(())
            }
        }
    }
}

// libssh2 is handed the socket's descriptor (Unix) or handle (Windows).
#[cfg(unix)]
impl std::os::fd::AsRawFd for SshSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawSocket for SshSocket {
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        self.0.as_raw_socket()
    }
}

#[async_trait::async_trait]
impl AsyncSessionStream for SshSocket {
    async fn x_with<R>(
        &self,
        mut op: impl FnMut() -> Result<R, Ssh2Error> + Send,
        sess: &Session,
        _expected_block_directions: BlockDirections,
        _sleep_dur: Option<Duration>,
    ) -> Result<R, AsyncSsh2Error> {
        loop {
            match op() {
                Err(err) if ssh2_error_is_would_block(&err) => {}
                result => return result.map_err(Into::into),
            }
            self.ready(sess.block_directions()).await?;
        }
    }

    fn poll_x_with<R>(
        &self,
        _cx: &mut Context,
        mut op: impl FnMut() -> Result<R, io::Error> + Send,
        _sess: &Session,
        _expected_block_directions: BlockDirections,
        _sleep_dur: Option<Duration>,
    ) -> Poll<Result<R, io::Error>> {
        Poll::Ready(op())
    }
}

/// Tries a polled channel call once: `WouldBlock` where it cannot go on.
pub fn attempt<T>(
    stream: &mut AsyncStream<SshSocket>,
    op: impl FnOnce(&mut AsyncStream<SshSocket>, &mut Context<'_>) -> Poll<io::Result<T>>,
) -> io::Result<T> {
    let mut cx = Context::from_waker(Waker::noop());
    match op(stream, &mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}
