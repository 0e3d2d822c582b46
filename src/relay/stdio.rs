//! Our stdin and stdout as non-blocking handles on the one event loop.
//!
//! Pipes and terminals go straight into the reactor. A regular file or
//! `/dev/null` cannot be registered with epoll: stdin then reads through a
//! small helper thread (`Unblock`, with a small buffer instead of its 8 MiB
//! default), and stdout writes directly, since writing a file never waits on
//! a peer.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};
use smol::{Async, Unblock};

/// Buffer of the helper thread when stdin is not pollable: enough for a
/// large read per wakeup without the default's 8 MiB of resident memory.
const UNBLOCK_CAPACITY: usize = 64 * 1024;

/// The host's side of the session, as we read it.
pub enum Input {
    Pollable(Async<File>),
    Threaded(Unblock<File>),
}

/// The host's side of the session, as we write it.
pub enum Output {
    Pollable(Async<File>),
    Direct(File),
}

/// Our stdin, duplicated so that the standard library's own handle (and its
/// buffer) is never involved.
pub fn stdin() -> io::Result<Input> {
    let file = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    Ok(match Async::new(file) {
        Ok(pollable) => Input::Pollable(pollable),
        Err(_) => {
            let file = File::from(io::stdin().as_fd().try_clone_to_owned()?);
            Input::Threaded(Unblock::with_capacity(UNBLOCK_CAPACITY, file))
        }
    })
}

/// Our stdout, duplicated for the same reason as [`stdin`].
pub fn stdout() -> io::Result<Output> {
    let file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    Ok(match Async::new(file) {
        Ok(pollable) => Output::Pollable(pollable),
        Err(_) => Output::Direct(File::from(io::stdout().as_fd().try_clone_to_owned()?)),
    })
}

impl AsyncRead for Input {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Input::Pollable(file) => Pin::new(file).poll_read(cx, buf),
            Input::Threaded(file) => Pin::new(file).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Output::Pollable(file) => Pin::new(file).poll_write(cx, buf),
            Output::Direct(file) => Poll::Ready(file.write(buf)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Output::Pollable(file) => Pin::new(file).poll_flush(cx),
            Output::Direct(file) => Poll::Ready(file.flush()),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
