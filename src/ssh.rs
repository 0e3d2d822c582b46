//! Establishing the session: resolve → TCP connect (each address, with a
//! timeout) → SSH handshake → host key check → authentication → channel with
//! a shell or exec request. Everything after TCP connect shares one deadline.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use async_ssh2_lite::ssh2::MethodType;
use async_ssh2_lite::{AsyncChannel, AsyncSession, SessionConfiguration};
use smol::Async;
use smol::future::FutureExt;

use crate::auth::{self, Credentials};
use crate::config::{Config, Remote};
use crate::error::Error;
use crate::socket::SshSocket;
use crate::trust::Trust;
use crate::{debug, info};

pub type Session = AsyncSession<SshSocket>;
pub type Channel = AsyncChannel<SshSocket>;

/// An open channel with its session and the socket under both.
pub struct Connection {
    pub session: Session,
    pub channel: Channel,
    pub socket: SshSocket,
    /// `host:port` as the user named it, for messages.
    pub target: String,
}

/// Host key algorithms we offer, most preferred first; narrowed to what this
/// libssh2 build supports (it refuses a preference naming one it lacks).
const HOST_KEY_ALGORITHMS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

/// How much the server may send on our channel before we have read it.
/// libssh2 reads everything that arrives into its own queue at once, so
/// when the host reads slower than the network delivers, this is what
/// waits in our memory (libssh2's default is 2 MiB, as OpenSSH's). 512 KiB
/// keeps a 50 ms link at 10 MB/s, beyond what MCP messages need, and a
/// loopback link at several hundred (see `benches/`).
const CHANNEL_WINDOW: u32 = 512 * 1024;
/// Largest data packet the server may send: libssh2's default.
const CHANNEL_PACKET: u32 = 32 * 1024;

/// Opens the session and its channel, or says exactly why not.
pub async fn connect(
    config: &Config,
    credentials: &Credentials,
    trust: &Trust,
) -> Result<Connection, Error> {
    let target = format!("{}:{}", display_host(&config.host), config.port);

    let dead_after = config.liveness().dead_after();
    let stream = tcp_connect(
        &config.host,
        config.port,
        config.connect_timeout,
        dead_after,
        &target,
    )
    .await?;
    let socket = SshSocket(Arc::new(stream));
    let setup = async {
        let mut session = Session::new(socket.clone(), SessionConfiguration::new())
            .map_err(|e| handshake_error(&target, e))?;
        prefer_host_key_types(&session, trust, config, &target).await?;
        // The ciphers stay in libssh2's order, chacha20-poly1305 first. libssh2
        // hands AES-GCM to OpenSSL one 16-byte block per call, which undoes
        // AES-NI: measured on x86_64, it cost 1.3 to 1.6 times the client CPU of
        // libssh2's portable ChaCha20, on small messages and on 8 MiB alike.
        session
            .handshake()
            .await
            .map_err(|e| handshake_error(&target, e))?;
        log_algorithms(&session);
        let (blob, _) = session.host_key().ok_or_else(|| Error::Handshake {
            target: target.clone(),
            detail: "the server presented no host key".into(),
        })?;
        trust.verify(blob, &config.host, config.port, &target)?;
        auth::authenticate(&session, credentials, config, &target).await?;
        let channel = open_channel(&session, &config.remote).await?;
        Ok::<_, Error>((session, channel))
    };
    let timeout = async {
        smol::Timer::after(config.connect_timeout).await;
        Err(Error::ConnectTimeout {
            target: target.clone(),
            secs: config.connect_timeout.as_secs(),
        })
    };
    let (session, channel) = setup.or(timeout).await?;
    info!("connected to {target} as '{}'", config.username);
    Ok(Connection {
        session,
        channel,
        socket,
        target,
    })
}

/// Resolves the host and tries each address in turn, as OpenSSH does.
async fn tcp_connect(
    host: &str,
    port: u16,
    timeout: Duration,
    dead_after: Option<Duration>,
    target: &str,
) -> Result<Async<TcpStream>, Error> {
    let addrs: Vec<SocketAddr> =
        smol::net::resolve((host, port))
            .await
            .map_err(|source| Error::Resolve {
                host: host.to_string(),
                source,
            })?;
    if addrs.is_empty() {
        return Err(Error::Resolve {
            host: host.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        });
    }
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
                if let Some(limit) = dead_after {
                    tcp_liveness(stream.get_ref(), limit);
                }
                return Ok(stream);
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

/// Offers first the host key types we can check for this host, so that a
/// host known by its ECDSA key is not taken for changed because the server
/// would rather show its ed25519 key (OpenSSH orders them the same way).
async fn prefer_host_key_types(
    session: &Session,
    trust: &Trust,
    config: &Config,
    target: &str,
) -> Result<(), Error> {
    let supported = session
        .supported_algs(MethodType::HostKey)
        .await
        .unwrap_or_default();
    let mut order: Vec<&str> = Vec::new();
    for key_type in trust.preferred_key_types(&config.host, config.port) {
        let algorithms: &[&str] = match key_type.as_str() {
            "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            _ => &[],
        };
        for name in algorithms.iter().copied().chain(
            HOST_KEY_ALGORITHMS
                .iter()
                .copied()
                .filter(|a| *a == key_type),
        ) {
            if !order.contains(&name) {
                order.push(name);
            }
        }
    }
    for name in HOST_KEY_ALGORITHMS {
        if !order.contains(name) {
            order.push(name);
        }
    }
    order.retain(|name| supported.contains(name));
    if order.is_empty() {
        return Ok(());
    }
    let prefs = order.join(",");
    debug!("host key algorithms offered: {prefs}");
    session
        .method_pref(MethodType::HostKey, &prefs)
        .await
        .map_err(|e| handshake_error(target, e))
}

fn log_algorithms(session: &Session) {
    if crate::log::enabled(crate::log::Level::Debug) {
        let kex = session.methods(MethodType::Kex).unwrap_or("?");
        let host_key = session.methods(MethodType::HostKey).unwrap_or("?");
        let cipher = session.methods(MethodType::CryptCs).unwrap_or("?");
        debug!("negotiated kex {kex}, host key {host_key}, cipher {cipher}");
    }
}

/// Opens a session channel and asks for a shell or runs the command. Never a
/// pty: the peer server refuses one, and a pty would mangle JSON lines.
async fn open_channel(session: &Session, remote: &Remote) -> Result<Channel, Error> {
    let mut channel = session
        .channel_open("session", CHANNEL_WINDOW, CHANNEL_PACKET, None)
        .await
        .map_err(|e| Error::Channel {
            what: "session channel".into(),
            detail: e.to_string(),
        })?;
    match remote {
        Remote::Shell => channel.shell().await.map_err(|e| Error::Channel {
            what: "shell request".into(),
            detail: e.to_string(),
        })?,
        Remote::Exec(command) => channel.exec(command).await.map_err(|e| Error::Channel {
            what: format!("exec request for '{command}'"),
            detail: e.to_string(),
        })?,
    }
    Ok(channel)
}

fn handshake_error(target: &str, e: async_ssh2_lite::Error) -> Error {
    Error::Handshake {
        target: target.to_string(),
        detail: describe(&e),
    }
}

/// The message of an async-ssh2-lite error, without its Debug wrapping.
pub fn describe(e: &async_ssh2_lite::Error) -> String {
    match e {
        async_ssh2_lite::Error::Ssh2(e) => e.message().to_string(),
        async_ssh2_lite::Error::Io(e) => e.to_string(),
        async_ssh2_lite::Error::Other(e) => e.to_string(),
    }
}

/// `[::1]` for IPv6 literals, so that `host:port` reads unambiguously.
fn display_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}
