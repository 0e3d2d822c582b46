//! Our stdin and stdout as non-blocking handles on the one event loop.
//!
//! On Unix, pipes and terminals go straight into the reactor. A regular
//! file or `/dev/null` cannot be registered with epoll: stdin then reads
//! through a small helper thread (`Unblock`, with a small buffer instead of
//! its 8 MiB default), and stdout writes directly, since writing a file
//! never waits on a peer. On Windows the reactor takes only sockets: both
//! go through a helper thread, stdout too, since a host that stops reading
//! its pipe must not stop the loop.

use std::fs::File;
use std::io::{self, Write};
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
    Threaded(Unblock<File>),
}

/// Our stdin, duplicated so that the standard library's own handle (and its
/// buffer) is never involved.
pub fn stdin() -> io::Result<Input> {
    Ok(match pollable(own_stdin()?) {
        Ok(pollable) => Input::Pollable(pollable),
        Err(_) => Input::Threaded(Unblock::with_capacity(UNBLOCK_CAPACITY, own_stdin()?)),
    })
}

/// Our stdout, duplicated for the same reason as [`stdin`].
pub fn stdout() -> io::Result<Output> {
    Ok(match pollable(own_stdout()?) {
        Ok(pollable) => Output::Pollable(pollable),
        Err(_) if cfg!(windows) => {
            Output::Threaded(Unblock::with_capacity(UNBLOCK_CAPACITY, own_stdout()?))
        }
        Err(_) => Output::Direct(own_stdout()?),
    })
}

#[cfg(unix)]
fn own_stdin() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

#[cfg(unix)]
fn own_stdout() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

#[cfg(unix)]
fn pollable(file: File) -> io::Result<Async<File>> {
    Async::new(file)
}

#[cfg(windows)]
fn own_stdin() -> io::Result<File> {
    use std::os::windows::io::AsHandle;
    Ok(File::from(io::stdin().as_handle().try_clone_to_owned()?))
}

#[cfg(windows)]
fn own_stdout() -> io::Result<File> {
    use std::os::windows::io::AsHandle;
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}

/// Windows' reactor polls sockets only.
#[cfg(windows)]
fn pollable(_file: File) -> io::Result<Async<File>> {
    Err(io::ErrorKind::Unsupported.into())
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
            Output::Threaded(file) => Pin::new(file).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Output::Pollable(file) => Pin::new(file).poll_flush(cx),
            Output::Direct(file) => Poll::Ready(file.flush()),
            Output::Threaded(file) => Pin::new(file).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
