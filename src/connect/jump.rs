//! ProxyJump's carrier: the bytes of the inner SSH session moved between
//! our end of a socket pair and a `direct-tcpip` channel of the session
//! with the jump host, on the one event loop. The inner session never
//! knows: for it, the pair is the connection. When either side ends, the
//! carrier drops both, so the inner session sees its connection close and
//! the relay reconnects as after any loss.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::time::Duration;

use async_ssh2_lite::SessionConfiguration;
use async_ssh2_lite::ssh2::BlockDirections;
use smol::Async;
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncWrite};

use crate::connect::libssh2::{Channel, Session, describe};
use crate::connect::socket::{SshSocket, attempt};
use crate::connect::stream::LocalStream;
use crate::info;

/// Bytes moved per call each way: one SSH data packet.
const CHUNK: usize = 32 * 1024;

/// A session with a jump host and the channel to the next host.
pub struct JumpLink {
    pub session: Session,
    pub channel: Channel,
    pub socket: SshSocket,
    /// The jump host, for messages.
    pub name: String,
    /// Between keepalives that keep the jump host's own connection (and
    /// whatever NAT lies before it) from going idle; the session must have
    /// been set up for them ([`keepalive_configuration`]).
    pub keepalive: Option<Duration>,
}

/// A jump host's session configuration: libssh2's keepalive, without a
/// reply asked for (libssh2 would keep every reply in a list it never
/// empties). The session with the MCP server has its own watchdog instead.
pub fn keepalive_configuration(keepalive: Option<Duration>) -> SessionConfiguration {
    let mut configuration = SessionConfiguration::new();
    if let Some(interval) = keepalive {
        let secs = u32::try_from(interval.as_secs()).unwrap_or(u32::MAX).max(1);
        configuration.set_keepalive(false, secs);
    }
    configuration
}

/// Carries bytes between `link`'s channel and `local` until either ends.
pub async fn carry(link: JumpLink, local: LocalStream) {
    let name = link.name.clone();
    let reason = match Async::new(local) {
        Ok(local) => Carrier::new(link, local).run().await,
        Err(e) => e.to_string(),
    };
    info!("connection through jump host {name} ended: {reason}");
}

struct Carrier {
    link: JumpLink,
    local: Async<LocalStream>,
    /// From the jump host, not yet taken by the inner session.
    down: Vec<u8>,
    /// From the inner session, not yet sent to the jump host.
    up: Vec<u8>,
    chunk: Vec<u8>,
}

/// What the wait saw.
enum Woken {
    Moved,
    Keepalive,
}

impl Carrier {
    fn new(link: JumpLink, local: Async<LocalStream>) -> Carrier {
        Carrier {
            link,
            local,
            down: Vec::new(),
            up: Vec::new(),
            chunk: vec![0; CHUNK],
        }
    }

    /// Moves bytes until one side ends; returns why, in words.
    async fn run(mut self) -> String {
        let mut stream = self.link.channel.stream(0);
        let mut next_keepalive = self.link.keepalive.map(smol::Timer::after);
        loop {
            let mut blocked = None;
            match self.shuttle(&mut stream, &mut blocked) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(reason) => return reason,
            }
            let directions = blocked.unwrap_or(BlockDirections::Inbound);
            match self.wait(directions, next_keepalive.as_mut()).await {
                Ok(Woken::Moved) => {}
                Ok(Woken::Keepalive) => {
                    if let Err(e) = self.link.session.keepalive_send().await {
                        return format!("keepalive: {}", describe(&e));
                    }
                    next_keepalive = self.link.keepalive.map(smol::Timer::after);
                }
                Err(e) => return e.to_string(),
            }
        }
    }

    /// One pass each way; `Ok(true)` when something moved. `blocked`
    /// collects the directions libssh2 waits on.
    fn shuttle(
        &mut self,
        stream: &mut async_ssh2_lite::AsyncStream<SshSocket>,
        blocked: &mut Option<BlockDirections>,
    ) -> Result<bool, String> {
        let mut moved = false;
        let session = &self.link.session;
        let note_block = |blocked: &mut Option<BlockDirections>| {
            *blocked = Some(merge(blocked.take(), session.block_directions()));
        };
        if self.down.is_empty() {
            let chunk = &mut self.chunk;
            match attempt(stream, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                Ok(0) => return Err("the jump host closed the channel".into()),
                Ok(n) => {
                    self.down.extend_from_slice(&self.chunk[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => note_block(blocked),
                Err(e) => return Err(e.to_string()),
            }
        }
        if !self.down.is_empty() {
            match self.local.get_ref().write(&self.down) {
                Ok(n) => {
                    self.down.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err("the session through it closed".into()),
            }
        }
        if self.up.is_empty() {
            match self.local.get_ref().read(&mut self.chunk) {
                Ok(0) => return Err("the session through it closed".into()),
                Ok(n) => {
                    self.up.extend_from_slice(&self.chunk[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err("the session through it closed".into()),
            }
        }
        if !self.up.is_empty() {
            let up = &self.up;
            match attempt(stream, |s, cx| Pin::new(s).poll_write(cx, up)) {
                Ok(n) => {
                    self.up.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => note_block(blocked),
                Err(e) => return Err(e.to_string()),
            }
        }
        // A write may have read in data for the channel: the socket will
        // not say so again.
        Ok(moved || (self.down.is_empty() && self.link.channel.read_window().available > 0))
    }

    /// Until either side may let bytes move, or a keepalive is due.
    async fn wait(
        &self,
        directions: BlockDirections,
        keepalive: Option<&mut smol::Timer>,
    ) -> io::Result<Woken> {
        let socket = &self.link.socket;
        let remote = async {
            match directions {
                BlockDirections::Outbound | BlockDirections::Both => {
                    socket.0.readable().or(socket.0.writable()).await?
                }
                BlockDirections::Inbound => socket.0.readable().await?,
                BlockDirections::None => socket.ready(BlockDirections::None).await?,
            }
            Ok(Woken::Moved)
        };
        let local_readable = async {
            if self.up.is_empty() {
                self.local.readable().await?;
                Ok(Woken::Moved)
            } else {
                future::pending().await
            }
        };
        let local_writable = async {
            if self.down.is_empty() {
                future::pending().await
            } else {
                self.local.writable().await?;
                Ok(Woken::Moved)
            }
        };
        let timer = async {
            match keepalive {
                Some(timer) => {
                    timer.await;
                    Ok(Woken::Keepalive)
                }
                None => future::pending().await,
            }
        };
        remote.or(local_readable).or(local_writable).or(timer).await
    }
}

fn merge(a: Option<BlockDirections>, b: BlockDirections) -> BlockDirections {
    use BlockDirections::{Both, Inbound, None, Outbound};
    match (a.unwrap_or(None), b) {
        (Both, _) | (_, Both) | (Inbound, Outbound) | (Outbound, Inbound) => Both,
        (None, x) | (x, None) => x,
        (x, _) => x,
    }
}
