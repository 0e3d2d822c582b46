//! A TCP proxy on 127.0.0.1 between the client and a test server, to play
//! the network's part: pass traffic, cut every connection, stop forwarding
//! while the sockets stay open (a blackhole: a NAT that forgot us, a dead
//! Wi-Fi), or refuse new connections (a server that is down).
//!
//! Threads and std sockets only; every thread ends when the proxy drops.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::{Home, Sshd};

/// What the client reports when the proxy cuts its connection.
pub const CUT: &str = "the server closed the connection or the network dropped it";

/// What the network does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Traffic flows.
    Pass,
    /// Bytes are read and thrown away, on old and new connections alike.
    Blackhole,
    /// New connections are closed as soon as they are accepted.
    Refuse,
}

struct Shared {
    network: Mutex<Network>,
    /// Both sockets of every connection, to cut them.
    open: Mutex<Vec<(TcpStream, TcpStream)>>,
    accepted: AtomicUsize,
    stopping: AtomicBool,
}

/// A running proxy; [`Proxy::port`] is what the client connects to.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

/// How often a blocked read looks at whether the proxy is stopping.
const POLL: Duration = Duration::from_millis(50);

impl Proxy {
    /// Forwards 127.0.0.1:`port` (a free one) to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            network: Mutex::new(Network::Pass),
            open: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        });
        let target: SocketAddr = ([127, 0, 0, 1], target).into();
        let accepting = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if accepting.network() == Network::Refuse {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                accepting.accepted.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                accepting
                    .open
                    .lock()
                    .unwrap()
                    .push((client.try_clone().unwrap(), server.try_clone().unwrap()));
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let shared = accepting.clone();
                    thread::spawn(move || pump(from, to, &shared));
                }
            }
        });
        Proxy { port, shared }
    }

    /// Sets what the network does from now on.
    pub fn set(&self, network: Network) {
        *self.shared.network.lock().unwrap() = network;
    }

    /// Closes every connection open now, both sides at once.
    pub fn cut(&self) {
        for (client, server) in self.shared.open.lock().unwrap().drain(..) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    /// Connections forwarded so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Shared {
    fn network(&self) -> Network {
        *self.network.lock().unwrap()
    }
}

/// Copies `from` to `to` until either closes, throwing bytes away while
/// the network is a blackhole.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let _ = from.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stopping.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if shared.network() == Network::Blackhole {
                    continue;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.cut();
    }
}

/// The client aimed at the proxy, trusting the server under the proxy's port.
pub fn through(proxy: &Proxy, sshd: &Sshd, home: &Home) -> Command {
    let known_hosts = home.dir.path().join("known_hosts_via_proxy");
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {}\n", proxy.port, sshd.host_key),
    )
    .unwrap();
    let mut cmd = home.bare_client(sshd);
    cmd.args(["--port", &proxy.port.to_string()])
        .arg("--client-key")
        .arg(&home.key)
        .arg("--known-hosts")
        .arg(&known_hosts);
    cmd
}
