//! The byte stream under an SSH session: a TCP connection, or our end of a
//! socket pair whose other end a ProxyCommand or a jump host's channel
//! carries. The one place that knows what a local socket pair is on this
//! platform (Unix: `socketpair(2)`, which a child takes as its stdin and
//! stdout as it would a pipe).

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;

/// One end of a local socket pair.
pub type LocalStream = UnixStream;

/// What libssh2 reads and writes.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Local(LocalStream),
}

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
