//! The TCP connection under the SSH session: each address of the host in
//! turn, each attempt bounded, and the socket's own liveness options.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use smol::Async;
use smol::future::FutureExt;

use crate::config::{AddressFamily, Tcp};
use crate::connect::report::{Observer, Step};
use crate::debug;
use crate::error::Error;

/// Resolves the host and tries each address of the family asked for in
/// turn, as OpenSSH does.
pub async fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
    tcp: Tcp,
    dead_after: Option<Duration>,
    target: &str,
    observer: &dyn Observer,
) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> =
        smol::net::resolve((host, port))
            .await
            .map_err(|source| Error::Resolve {
                host: host.to_string(),
                target: target.to_string(),
                source,
            })?;
    let addrs: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|addr| match tcp.family {
            AddressFamily::Any => true,
            AddressFamily::Inet => addr.is_ipv4(),
            AddressFamily::Inet6 => addr.is_ipv6(),
        })
        .collect();
    if addrs.is_empty() {
        let detail = match tcp.family {
            AddressFamily::Any => "no addresses",
            AddressFamily::Inet => "no IPv4 address (AddressFamily inet)",
            AddressFamily::Inet6 => "no IPv6 address (AddressFamily inet6)",
        };
        return Err(Error::Resolve {
            host: host.to_string(),
            target: target.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, detail),
        });
    }
    observer.step(Step::Resolved {
        leg: target,
        addrs: &addrs,
    });
    let mut last_error = None;
    for addr in addrs {
        debug!("connecting to {addr}");
        let attempt = Async::<TcpStream>::connect(addr).or(async {
            smol::Timer::after(timeout).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
        });
        match attempt.await {
            Ok(stream) => {
                // Interactive request/response traffic: do not hold back small writes.
                let _ = stream.get_ref().set_nodelay(true);
                observer.step(Step::Connected {
                    leg: target,
                    how: format!("connected to {addr}"),
                });
                if let (true, Some(limit)) = (tcp.keepalive, dead_after) {
                    tcp_liveness(stream.get_ref(), limit);
                }
                return stream.into_inner().map_err(|source| Error::Connect {
                    target: target.to_string(),
                    source,
                });
            }
            Err(e) => {
                debug!("{addr}: {e}");
                last_error = Some(e);
            }
        }
    }
    let target = target.to_string();
    Err(match last_error {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            Error::ConnectionRefused { target }
        }
        Some(e) if e.kind() == io::ErrorKind::TimedOut => Error::ConnectTimeout {
            target,
            secs: timeout.as_secs(),
        },
        Some(source) => Error::Connect { target, source },
        None => Error::ConnectionRefused { target },
    })
}

/// Lets the kernel, too, notice a peer that vanished: TCP keepalive probes
/// on an idle connection, and an error when sent data stays unacknowledged
/// for as long as the SSH keepalives allow. Best effort: a system without
/// these options still has the SSH keepalives.
fn tcp_liveness(stream: &TcpStream, dead_after: Duration) {
    use rustix::net::sockopt;
    let interval = (dead_after / 3).max(Duration::from_secs(1));
    let outcome = sockopt::set_socket_keepalive(stream, true)
        .and_then(|()| sockopt::set_tcp_keepidle(stream, interval))
        .and_then(|()| sockopt::set_tcp_keepintvl(stream, interval))
        .and_then(|()| sockopt::set_tcp_keepcnt(stream, 3));
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let outcome = outcome.and_then(|()| {
        sockopt::set_tcp_user_timeout(
            stream,
            dead_after.as_millis().try_into().unwrap_or(u32::MAX),
        )
    });
    if let Err(e) = outcome {
        debug!("TCP keepalive not set: {e}");
    }
}
