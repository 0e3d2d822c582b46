//! Establishing a session: resolve → TCP connect (each address, with a
//! timeout), or a ProxyCommand, or a jump host's channel → SSH handshake →
//! host key check (`host_key/`) → authentication → channel with a shell,
//! exec or subsystem request. Each server on the way (jump hosts, then the
//! MCP server) has its own deadline for all of that.

mod algorithms;
pub mod auth;
mod jump;
pub mod libssh2;
mod proxy_command;
pub mod report;
pub mod socket;
mod stream;
mod tcp;

use std::rc::Rc;
use std::sync::Arc;

use async_ssh2_lite::SessionConfiguration;
use smol::Async;
use smol::future::FutureExt;

use crate::address;
use crate::companions::{Companion, Companions};
use crate::config::{Config, Proxy, Remote};
use crate::error::Error;
use crate::host_key::Trust;
use crate::{debug, info};
use auth::Credentials;
use jump::JumpLink;
use libssh2::{Channel, Session, handshake_error};
use proxy_command::ProxyCommand;
use report::{Observer, Silent, Step};
use socket::SshSocket;
use stream::{LocalStream, Stream};

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
    /// What carries the connection when it is not plain TCP; it goes
    /// when the connection goes.
    pub carriers: Carriers,
}

/// The jump hosts' carriers and the ProxyCommand under a connection.
#[derive(Default)]
pub struct Carriers {
    // Declared first, dropped first: the jump sessions close before the
    // command under the first of them is hung up.
    jumps: Vec<Companion>,
    command: Option<ProxyCommand>,
}

/// One server on the way: a jump host, or the MCP server at the end.
struct Leg<'a> {
    config: &'a Config,
    credentials: Credentials,
    trust: Trust,
    /// How messages name it: `host:port`, or `jump host host:port`.
    label: String,
}

impl Leg<'_> {
    /// `host:port`.
    fn name(&self) -> &str {
        self.label.trim_start_matches(JUMP_HOST)
    }
}

/// How messages name a jump host, before its `host:port`.
pub const JUMP_HOST: &str = "jump host ";

/// Opens connections, the first and every reconnection alike, with the
/// trust and credentials decided once at start: the key server is asked
/// once per start, never per reconnect (it rate-limits).
pub struct Dialer<'a> {
    /// The jump hosts, nearest first, then the MCP server.
    legs: Vec<Leg<'a>>,
    companions: &'a Rc<Companions>,
    observer: &'a dyn Observer,
}

impl<'a> Dialer<'a> {
    /// Checks the keys (before touching the network: a key problem is the
    /// user's to fix whatever the server says) and establishes the trust
    /// in each server's host key.
    pub async fn prepare(
        config: &'a Config,
        companions: &'a Rc<Companions>,
    ) -> Result<Dialer<'a>, Error> {
        Dialer::prepare_reporting(config, companions, &Silent).await
    }

    /// [`Dialer::prepare`], reporting each step to `observer`.
    pub async fn prepare_reporting(
        config: &'a Config,
        companions: &'a Rc<Companions>,
        observer: &'a dyn Observer,
    ) -> Result<Dialer<'a>, Error> {
        let credentials = Credentials::prepare(config)?;
        observer.step(Step::Keys {
            client_key: credentials.describe_client_key(),
            others: credentials.other_keys(),
        });
        let mut legs = Vec::new();
        for hop in config.hops() {
            let credentials = credentials.for_hop(hop);
            let label = format!("{JUMP_HOST}{}", address::host_port(&hop.host, hop.port));
            let trust = trust_for(hop, None, observer, &label).await?;
            legs.push(Leg {
                config: hop,
                credentials,
                trust,
                label,
            });
        }
        let label = address::host_port(&config.host, config.port);
        let trust = trust_for(config, credentials.public_key(), observer, &label).await?;
        legs.push(Leg {
            config,
            credentials,
            trust,
            label,
        });
        Ok(Dialer {
            legs,
            companions,
            observer,
        })
    }

    /// Opens the session and its channel, or says exactly why not.
    pub async fn connect(&self) -> Result<Connection, Error> {
        let mut carriers = Carriers::default();
        let mut through: Option<LocalStream> = None;
        let (target, hops) = self
            .legs
            .split_last()
            .ok_or_else(|| Error::Usage("no server".into()))?;
        for (n, hop) in hops.iter().enumerate() {
            let next = &self.legs[n + 1];
            let (session, channel, socket) = self
                .open(hop, Some(next), through.take(), &mut carriers)
                .await?;
            debug!("connected to {} as '{}'", hop.label, hop.config.username);
            self.observer.step(Step::Forwarded {
                leg: &hop.label,
                to: next.name(),
            });
            let (ours, theirs) = stream::pair().map_err(|source| Error::Connect {
                target: hop.label.clone(),
                source,
            })?;
            let link = JumpLink {
                session,
                channel,
                socket,
                name: hop.name().to_string(),
            };
            carriers
                .jumps
                .push(self.companions.spawn(jump::carry(link, theirs)));
            through = Some(ours);
        }
        let (session, channel, socket) = self.open(target, None, through, &mut carriers).await?;
        let user = &target.config.username;
        let via: Vec<&str> = hops.iter().map(Leg::name).collect();
        match via.as_slice() {
            [] => info!("connected to {} as '{user}'", target.label),
            via => info!(
                "connected to {} as '{user}' via {}",
                target.label,
                via.join(", ")
            ),
        }
        Ok(Connection {
            session,
            channel,
            socket,
            target: target.label.clone(),
            carriers,
        })
    }

    /// One server's session and channel: to `next` through it, or the MCP
    /// server's own; over `through` (a jump host's channel) or a
    /// connection of its own.
    async fn open(
        &self,
        leg: &Leg<'_>,
        next: Option<&Leg<'_>>,
        through: Option<LocalStream>,
        carriers: &mut Carriers,
    ) -> Result<(Session, Channel, SshSocket), Error> {
        let config = leg.config;
        // Only the nearest server's connection is the ProxyCommand's.
        let through_command = through.is_none();
        let opened = async {
            let socket = match through {
                Some(local) => local_socket(local, &leg.label)?,
                None => self.first_socket(leg, carriers).await?,
            };
            let on_command = through_command;
            let session = self.session(leg, socket.clone()).await;
            let session = match (session, carriers.command.as_mut()) {
                (Err(e @ Error::Handshake { .. }), Some(command)) if on_command => {
                    return Err(command.explain(e).await);
                }
                (session, _) => session?,
            };
            let channel = match next {
                Some(next) => session
                    .channel_direct_tcpip(&next.config.host, next.config.port, None)
                    .await
                    // The jump host could not reach the next one (refused,
                    // unreachable, or forwarding not allowed there).
                    .map_err(|e| Error::Connect {
                        target: next.label.clone(),
                        source: std::io::Error::other(format!(
                            "{} did not open a connection to it: {}",
                            leg.label,
                            libssh2::describe(&e)
                        )),
                    })?,
                None => {
                    let channel = open_channel(&session, &config.remote).await?;
                    self.observer.step(Step::Channel {
                        leg: &leg.label,
                        what: config.remote.describe(),
                    });
                    channel
                }
            };
            Ok::<_, Error>((session, channel, socket))
        };
        let timeout = async {
            smol::Timer::after(config.connect_timeout).await;
            Err(Error::ConnectTimeout {
                target: leg.label.clone(),
                secs: config.connect_timeout.as_secs(),
            })
        };
        opened.or(timeout).await
    }

    /// The connection to the nearest server: TCP, or its ProxyCommand.
    async fn first_socket(
        &self,
        leg: &Leg<'_>,
        carriers: &mut Carriers,
    ) -> Result<SshSocket, Error> {
        let config = leg.config;
        match &config.proxy {
            Proxy::Command { command, .. } => {
                let (spawned, local) = ProxyCommand::spawn(command, self.companions)?;
                carriers.command = Some(spawned);
                self.observer.step(Step::Connected {
                    leg: &leg.label,
                    how: format!("through ProxyCommand '{command}'"),
                });
                local_socket(local, &leg.label)
            }
            // A jump host is never first: its own route comes before it.
            Proxy::Direct | Proxy::Jump(_) => {
                let stream = tcp::connect(
                    &config.host,
                    config.port,
                    config.connect_timeout,
                    config.tcp,
                    config.liveness().dead_after(),
                    &leg.label,
                    self.observer,
                )
                .await?;
                let stream = Async::new(Stream::Tcp(stream)).map_err(|source| Error::Connect {
                    target: leg.label.clone(),
                    source,
                })?;
                Ok(SshSocket(Arc::new(stream)))
            }
        }
    }

    /// Handshake, host key check and authentication with one server.
    async fn session(&self, leg: &Leg<'_>, socket: SshSocket) -> Result<Session, Error> {
        let Leg {
            config,
            credentials,
            trust,
            label,
        } = leg;
        let mut session = Session::new(socket, SessionConfiguration::new())
            .map_err(|e| handshake_error(label, e))?;
        let host_keys = libssh2::prefer_host_key_algorithms(
            &session,
            trust,
            config.host_key_name(),
            config.port,
            label,
        )
        .await?;
        algorithms::apply(&session, config, &host_keys).await?;
        // The ciphers stay in libssh2's order, chacha20-poly1305 first:
        // libssh2 hands AES-GCM to OpenSSL one 16-byte block per call,
        // which undoes AES-NI: it cost more client CPU than libssh2's
        // portable ChaCha20 (figures in `benches/README.md`).
        session
            .handshake()
            .await
            .map_err(|e| handshake_error(label, e))?;
        libssh2::log_algorithms(&session);
        self.observer.step(Step::Handshake {
            leg: label,
            banner: session.banner().unwrap_or("?").to_string(),
            algorithms: libssh2::algorithms(&session),
        });
        let (blob, _) = session.host_key().ok_or_else(|| Error::Handshake {
            target: label.clone(),
            detail: "the server presented no host key".into(),
        })?;
        let how = trust.verify(blob, config.host_key_name(), config.port, label)?;
        self.observer.step(Step::HostKey {
            leg: label,
            key: crate::host_key::describe_key(blob),
            how,
        });
        let how = auth::authenticate(&session, credentials, config, label).await?;
        self.observer.step(Step::Authenticated { leg: label, how });
        Ok(session)
    }
}

/// Establishes the trust in one server's host key, and reports it; a run
/// that may not write files gets a trust that writes none.
async fn trust_for(
    config: &Config,
    client_public: Option<&crate::keys::PublicKey>,
    observer: &dyn Observer,
    label: &str,
) -> Result<Trust, Error> {
    let mut trust = Trust::establish(config, client_public).await?;
    observer.step(Step::Trust {
        leg: label,
        how: trust.describe(),
    });
    if !observer.may_write() {
        trust.without_writes();
    }
    Ok(trust)
}

/// Our end of a socket pair, as the socket of a session.
fn local_socket(local: LocalStream, label: &str) -> Result<SshSocket, Error> {
    Async::new(Stream::Local(local))
        .map(|stream| SshSocket(Arc::new(stream)))
        .map_err(|source| Error::Connect {
            target: label.to_string(),
            source,
        })
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
