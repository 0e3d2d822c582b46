//! ProxyJump's carrier: the bytes of the inner SSH session moved between
//! our end of a socket pair and a `direct-tcpip` channel of the session
//! with the jump host, on the one event loop. The inner session never
//! knows: for it, the pair is the connection. When either side ends, the
//! carrier drops both, so the inner session sees its connection close and
//! the relay reconnects as after any loss.

use std::io::{self, Read, Write};
use std::pin::Pin;

use async_ssh2_lite::ssh2::BlockDirections;
use smol::Async;
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncWrite};

use crate::connect::libssh2::{Channel, Session, transport_failure};
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
}

/// Carries bytes between `link`'s channel and `local` until either ends.
///
/// No keepalive of libssh2's own on the jump session: one sent while the
/// socket is full leaves a half-sent packet that blocks every later send
/// (libssh2's keepalive.c hands the transport a buffer on its stack). The
/// MCP session's own probes cross this connection every interval, and the
/// socket has TCP keepalive.
pub async fn carry(mut link: JumpLink, local: LocalStream) {
    let name = link.name.clone();
    // The jump host's stderr on this channel (none is expected) must not
    // sit in libssh2's queue, counted as unread data that no read takes.
    link.channel
        .handle_extended_data(async_ssh2_lite::ssh2::ExtendedData::Ignore)
        .await
        .ok();
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

/// What a pass found to wait for.
#[derive(Default)]
struct Waits {
    /// Directions libssh2 asked for; `None` when no call of it blocked.
    remote: Option<BlockDirections>,
    /// libssh2 blocked without naming a direction: retry after a pause.
    retry: bool,
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

    /// Whether libssh2 holds data or the channel's end, read in by some
    /// call, that no socket event will announce again.
    fn unread(&self) -> bool {
        self.link.channel.read_window().available > 0 || self.link.channel.eof()
    }

    /// Moves bytes until one side ends; returns why, in words.
    async fn run(mut self) -> String {
        let mut stream = self.link.channel.stream(0);
        let mut rechecked = false;
        loop {
            let mut waits = Waits::default();
            let moved = match self.shuttle(&mut stream, &mut waits) {
                Ok(moved) => moved,
                Err(reason) => return reason,
            };
            // Another pass where it can move something; once more, and no
            // more, for data a call read in that the pass did not take (it
            // may be held back on purpose: the inner session is not reading).
            if moved {
                rechecked = false;
                continue;
            }
            if !rechecked && self.down.is_empty() && self.unread() {
                rechecked = true;
                continue;
            }
            rechecked = false;
            if let Err(e) = self.wait(&waits).await {
                return e.to_string();
            }
        }
    }

    /// One pass each way; `Ok(true)` when something moved.
    fn shuttle(
        &mut self,
        stream: &mut async_ssh2_lite::AsyncStream<SshSocket>,
        waits: &mut Waits,
    ) -> Result<bool, String> {
        let mut moved = false;
        let session = &self.link.session;
        let note_block = |waits: &mut Waits| match session.block_directions() {
            BlockDirections::None => waits.retry = true,
            directions => waits.remote = Some(merge(waits.remote.take(), directions)),
        };
        if self.down.is_empty() {
            let chunk = &mut self.chunk;
            match attempt(stream, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                Ok(0) => return Err("the jump host closed the channel".into()),
                Ok(n) => {
                    self.down.extend_from_slice(&self.chunk[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => note_block(waits),
                Err(e) => return Err(transport_failure(&e)),
            }
        }
        if !self.down.is_empty() {
            match self.local.get_ref().write(&self.down) {
                Ok(n) => {
                    self.down.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("the session through it closed ({e})")),
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
                Err(e) => return Err(format!("the session through it closed ({e})")),
            }
        }
        if !self.up.is_empty() {
            let up = &self.up;
            match attempt(stream, |s, cx| Pin::new(s).poll_write(cx, up)) {
                // Nothing taken (the window is shut): libssh2 waits to read.
                Ok(0) => note_block(waits),
                Ok(n) => {
                    self.up.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => note_block(waits),
                Err(e) => return Err(transport_failure(&e)),
            }
        }
        Ok(moved)
    }

    /// Until either side may let bytes move. The jump host's socket is
    /// waited on when libssh2 asked, or when a read of it is wanted: never
    /// as readable while its data would have nowhere to go.
    async fn wait(&self, waits: &Waits) -> io::Result<()> {
        let socket = &self.link.socket;
        let directions = match (&waits.remote, self.down.is_empty()) {
            (Some(directions), _) => Some(directions),
            (None, true) => Some(&BlockDirections::Inbound),
            (None, false) => None,
        };
        let remote = async {
            match directions {
                Some(BlockDirections::Outbound) => socket.0.writable().await,
                Some(BlockDirections::Both) => socket.0.readable().or(socket.0.writable()).await,
                Some(_) => socket.0.readable().await,
                None => future::pending().await,
            }
        };
        let retry = async {
            if waits.retry {
                socket.ready(BlockDirections::None).await
            } else {
                future::pending().await
            }
        };
        let local_readable = async {
            if self.up.is_empty() {
                self.local.readable().await
            } else {
                future::pending().await
            }
        };
        let local_writable = async {
            if self.down.is_empty() {
                future::pending().await
            } else {
                self.local.writable().await
            }
        };
        remote.or(retry).or(local_readable).or(local_writable).await
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
