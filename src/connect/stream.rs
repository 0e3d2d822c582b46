//! The byte stream under an SSH session: a TCP connection, or our end of a
//! local socket pair whose other end a ProxyCommand or a jump host's
//! channel carries. The one place that knows what a local socket pair is
//! on this platform: on Unix `socketpair(2)`, which a child takes as its
//! stdin and stdout as it would a pipe; on Windows, which has none, two
//! TCP sockets connected over the loopback.

use std::net::TcpStream;

#[cfg(unix)]
pub use unix::{LocalStream, pair};
#[cfg(windows)]
pub use windows::{LocalStream, pair};

/// What libssh2 reads and writes.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Local(LocalStream),
}

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
    use std::os::unix::net::UnixStream;

    use super::Stream;

    /// One end of a local socket pair.
    pub type LocalStream = UnixStream;

    impl AsFd for Stream {
        fn as_fd(&self) -> BorrowedFd<'_> {
            match self {
                Stream::Tcp(s) => s.as_fd(),
                Stream::Local(s) => s.as_fd(),
            }
        }
    }

    impl AsRawFd for Stream {
        fn as_raw_fd(&self) -> RawFd {
            self.as_fd().as_raw_fd()
        }
    }

    /// Two connected local sockets: one for libssh2, one for what carries it.
    pub fn pair() -> io::Result<(LocalStream, LocalStream)> {
        UnixStream::pair()
    }
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::os::windows::io::{AsRawSocket, AsSocket, BorrowedSocket, RawSocket};

    use super::Stream;

    /// One end of a local socket pair: a loopback TCP connection.
    pub type LocalStream = TcpStream;

    impl AsSocket for Stream {
        fn as_socket(&self) -> BorrowedSocket<'_> {
            match self {
                Stream::Tcp(s) | Stream::Local(s) => s.as_socket(),
            }
        }
    }

    impl AsRawSocket for Stream {
        fn as_raw_socket(&self) -> RawSocket {
            self.as_socket().as_raw_socket()
        }
    }

    /// Two connected loopback sockets. The listener lives only until the
    /// one connection it takes, and a connection from anyone but us (the
    /// port is briefly open to every local process) is refused.
    pub fn pair() -> io::Result<(LocalStream, LocalStream)> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let ours = TcpStream::connect(listener.local_addr()?)?;
        let (theirs, from) = listener.accept()?;
        if from != ours.local_addr()? {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "another local process connected to our socket pair",
            ));
        }
        ours.set_nodelay(true)?;
        theirs.set_nodelay(true)?;
        Ok((ours, theirs))
    }
}
