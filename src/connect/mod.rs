//! Establishing a session: resolve → TCP connect (each address, with a
//! timeout) → SSH handshake → host key check (`host_key/`) →
//! authentication → channel with a shell or exec request. Everything after
//! TCP connect shares one deadline.

pub mod auth;
pub mod libssh2;
pub mod socket;
mod tcp;

use std::sync::Arc;

use async_ssh2_lite::SessionConfiguration;
use smol::future::FutureExt;

use crate::address;
use crate::config::{Config, Remote};
use crate::error::Error;
use crate::host_key::Trust;
use crate::info;
use auth::Credentials;
use libssh2::{Channel, Session, handshake_error};
use socket::SshSocket;

/// How much the server may send on our channel before we have read it.
/// libssh2 reads everything that arrives into its own queue at once, so
/// when the host reads slower than the network delivers, this is what
/// waits in our memory (libssh2's default is 2 MiB, as OpenSSH's). 512 KiB
/// keeps a 50 ms link at 10 MB/s, beyond what MCP messages need, and a
/// loopback link at several hundred (see `benches/`).
const CHANNEL_WINDOW: u32 = 512 * 1024;
/// Largest data packet the server may send: libssh2's default.
const CHANNEL_PACKET: u32 = 32 * 1024;

/// An open channel with its session and the socket under both.
pub struct Connection {
    pub session: Session,
    pub channel: Channel,
    pub socket: SshSocket,
    /// `host:port` as the user named it, for messages.
    pub target: String,
}

/// Opens connections, the first and every reconnection alike, with the
/// trust and credentials decided once at start: the key server is asked
/// once per start, never per reconnect (it rate-limits).
pub struct Dialer<'a> {
    pub config: &'a Config,
    pub credentials: Credentials,
    pub trust: Trust,
}

impl Dialer<'_> {
    /// Opens the session and its channel, or says exactly why not.
    pub async fn connect(&self) -> Result<Connection, Error> {
        let Dialer {
            config,
            credentials,
            trust,
        } = self;
        let target = address::host_port(&config.host, config.port);
        let stream = tcp::connect(
            &config.host,
            config.port,
            config.connect_timeout,
            config.liveness().dead_after(),
            &target,
        )
        .await?;
        let socket = SshSocket(Arc::new(stream));
        let setup = async {
            let mut session = Session::new(socket.clone(), SessionConfiguration::new())
                .map_err(|e| handshake_error(&target, e))?;
            libssh2::prefer_host_key_algorithms(
                &session,
                trust,
                config.host_key_name(),
                config.port,
                &target,
            )
            .await?;
            // The ciphers stay in libssh2's order, chacha20-poly1305 first:
            // libssh2 hands AES-GCM to OpenSSL one 16-byte block per call,
            // which undoes AES-NI: it cost more client CPU than libssh2's
            // portable ChaCha20 (figures in `benches/README.md`).
            session
                .handshake()
                .await
                .map_err(|e| handshake_error(&target, e))?;
            libssh2::log_algorithms(&session);
            let (blob, _) = session.host_key().ok_or_else(|| Error::Handshake {
                target: target.clone(),
                detail: "the server presented no host key".into(),
            })?;
            trust.verify(blob, config.host_key_name(), config.port, &target)?;
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
        Remote::Subsystem(name) => channel.subsystem(name).await.map_err(|e| Error::Channel {
            what: format!("subsystem '{name}'"),
            detail: e.to_string(),
        })?,
    }
    Ok(channel)
}
