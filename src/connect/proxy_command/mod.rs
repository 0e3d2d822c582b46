//! ProxyCommand: a local command whose stdin and stdout are the SSH
//! connection. On Unix (`unix.rs`) its stdin and stdout are our socket
//! pair's other end. Windows has no socket a child can take as its stdin
//! and stdout, and relaying through pipes is not written yet: there a
//! ProxyCommand is refused with the way around it (`ProxyJump`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::ProxyCommand;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::ProxyCommand;
