//! What happened on the way to an open channel, step by step, for whoever
//! wants to show it (`doctor`). A session reports to [`Silent`].

use std::net::SocketAddr;

/// One step of the connection path done, on the server `leg` names
/// (`host:port`, or `jump host host:port`).
pub enum Step<'a> {
    /// The client key and the other keys that will be offered.
    Keys { client_key: String, others: usize },
    /// How the server's host key will be trusted (known_hosts, the key
    /// server's answer, or not at all).
    Trust { leg: &'a str, how: String },
    /// The host name's addresses.
    Resolved {
        leg: &'a str,
        addrs: &'a [SocketAddr],
    },
    /// The connection the session will run on.
    Connected { leg: &'a str, how: String },
    /// Banner exchange and key exchange done.
    Handshake {
        leg: &'a str,
        banner: String,
        algorithms: String,
    },
    /// The server's host key, and why it is trusted.
    HostKey {
        leg: &'a str,
        key: String,
        how: String,
    },
    /// Authenticated, with what.
    Authenticated { leg: &'a str, how: String },
    /// The channel to the next server through a jump host.
    Forwarded { leg: &'a str, to: &'a str },
    /// The session channel and its request.
    Channel { leg: &'a str, what: String },
}

/// Receives each step as it is done.
pub trait Observer {
    fn step(&self, step: Step<'_>);

    /// Whether the run may change files as a session does (accept-new, the
    /// key server's pin, the default key). `doctor` changes none without `--fix`.
    fn may_write(&self) -> bool {
        true
    }
}

/// Reports to no one.
pub struct Silent;

impl Observer for Silent {
    fn step(&self, _: Step<'_>) {}
}
