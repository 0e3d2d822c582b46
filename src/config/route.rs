//! How a connection reaches the server and with which keys: what the SSH
//! config's ProxyJump, ProxyCommand, IdentityFile, IdentitiesOnly,
//! IdentityAgent, AddressFamily and TCPKeepAlive make of a session. Each
//! jump host is a whole [`Config`] of its own, resolved through the SSH
//! config under its own name, as OpenSSH resolves it for `ssh -J`.

use std::path::PathBuf;

use super::Config;
pub use crate::ssh_config::AddressFamily;

/// What carries the SSH connection to the server.
#[derive(Debug, Clone, Default)]
pub enum Proxy {
    /// TCP, straight to the server.
    #[default]
    Direct,
    /// A local command whose stdin and stdout are the connection
    /// (`ProxyCommand`, tokens expanded).
    Command {
        command: String,
        /// Where the SSH config set it, for messages.
        origin: String,
    },
    /// A `direct-tcpip` channel of a session with this jump host
    /// (`ProxyJump`); the jump host's own route is its `proxy`.
    Jump(Box<Config>),
}

/// Which keys are offered, after `--client-key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities {
    /// The SSH config's IdentityFiles, in order, tokens and `~` expanded.
    pub files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`: the agent's keys are not offered.
    pub only: bool,
    pub agent: Agent,
}

/// Which ssh-agent is asked (`IdentityAgent`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Agent {
    /// The one `SSH_AUTH_SOCK` names, if any.
    #[default]
    Environment,
    /// None (`IdentityAgent none`).
    Off,
    /// The one listening at this socket.
    Socket(PathBuf),
}

/// The TCP connection's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    pub family: AddressFamily,
    /// TCP keepalive probes on the socket (`TCPKeepAlive`, on by default).
    pub keepalive: bool,
}

impl Default for Tcp {
    fn default() -> Self {
        Tcp {
            family: AddressFamily::Any,
            keepalive: true,
        }
    }
}

impl Config {
    /// The jump hosts between us and the server, nearest first.
    pub fn hops(&self) -> Vec<&Config> {
        let mut hops = Vec::new();
        let mut at = self;
        while let Proxy::Jump(hop) = &at.proxy {
            hops.push(hop.as_ref());
            at = hop;
        }
        hops.reverse();
        hops
    }
}
