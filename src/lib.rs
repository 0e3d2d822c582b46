//! `m2m-mcp-server-ssh-client`: a stdio MCP server that carries the session
//! over SSH to a remote MCP server.
//!
//! The data path: the MCP host starts us and writes newline-delimited
//! JSON-RPC to our stdin. The flags, and what the user's SSH config adds to
//! them ([`ssh_config`]), make the [`config`]. [`connect`] opens one SSH session (the host key
//! trusted through [`host_key`], our key from [`keys`]), over TCP, a
//! ProxyCommand, or a channel of a jump host's session carried on the same
//! event loop, and one channel on it, with a shell request for the peer server `m2m-mcp-server-ssh-server`
//! or an exec request for any sshd. [`relay`] then moves bytes both ways on
//! a single smol event loop: stdin's bytes go through [`mcp`], which frames
//! them into lines, notes the requests, escapes U+2028/U+2029/U+0085 for the
//! peer server, and hands them to the channel; the remote's JSON-RPC lines
//! come back to our stdout unchanged, and anything else it prints goes to
//! our stderr. [`relay`]'s liveness watch detects a dead link;
//! [`relay`]'s reconnect and [`mcp`]'s restore bring the session back on a
//! new connection. When the host closes stdin we wait (a bounded time) for
//! the answers it is owed, send EOF, let the remote finish, and close.
//!
//! The subcommands sit beside the session: `doctor` drives `connect` (which
//! reports each step to it) and the relay's keepalive probe; `host_apps`
//! writes the entry that starts a session. In a session only the relay
//! writes to stdout; the subcommands, which are no MCP session, print their
//! reports there.
//!
//! Imports run one way: `doctor` → `relay` → `mcp` and `connect`; `connect` →
//! `host_key` → `keys`; `config` → `ssh_config`; all may use `config`,
//! `error`, `log` and the small shared pieces (`address`, `deadline`,
//! `local_file`, `pattern`).

// Only the Windows modules that call Win32 (permissions, the console's
// signals) allow it, each call with its SAFETY comment.
#![deny(unsafe_code)]
#![allow(
    clippy::result_large_err,
    reason = "an Error is built at most once per run, on the way out; its size costs nothing"
)]

/// How a host is written before a port: IPv6 literals in brackets.
mod address;
/// The command line, flag for flag the Python program's.
pub mod cli;
/// Futures beside the session on the same loop: jump carriers, a ProxyCommand's stderr.
mod companions;
/// The validated configuration, and when a connection is taken for dead.
pub mod config;
/// Establishing a session: TCP, ProxyCommand or jump hosts, handshake,
/// authentication, the channel.
mod connect;
/// Deadlines that cannot overflow.
mod deadline;
/// `doctor`: the connection path step by step, and what to fix.
pub mod doctor;
/// The one error type, its messages and exit codes.
pub mod error;
/// `config HOST_APP`: the entry for an MCP host app, printed or merged into its file.
pub mod host_apps;
/// Trusting the server: known_hosts, the key server and its pin.
mod host_key;
/// Our key file: inspect, generate, the SSH wire format, atomic writes.
mod keys;
/// Reading the user's files: regular files only, capped.
mod local_file;
/// Messages on stderr, by level.
pub mod log;
/// MCP awareness: framing, scanning, tracking, the outage queue, restore.
pub mod mcp;
/// OpenSSH's host and name patterns.
mod pattern;
/// The event loop: pump, liveness, remote output, stdio, reconnecting.
pub mod relay;
/// Your SSH setup: `~/.ssh/config` read as OpenSSH reads it.
pub mod ssh_config;

pub use error::Error;

use config::Config;
use connect::Dialer;
use relay::{StopRequests, startup_failure, stdio};
use std::rc::Rc;

use companions::Companions;
use smol::future::FutureExt;

/// Connects and relays until the session ends.
pub async fn run(config: &Config) -> Result<relay::Ending, Error> {
    let companions = Rc::new(Companions::default());
    companions.run(session(config, &companions)).await
}

async fn session(config: &Config, companions: &Rc<Companions>) -> Result<relay::Ending, Error> {
    let mut input = stdio::stdin().map_err(|source| Error::Stdio {
        context: "cannot open stdin",
        source,
    })?;
    let mut output = stdio::stdout().map_err(|source| Error::Stdio {
        context: "cannot open stdout",
        source,
    })?;
    let mut signals = StopRequests::install()?;
    let opened = async {
        let dialer = Dialer::prepare(config, companions).await?;
        let first = dialer.connect().await?;
        Ok::<_, Error>(Some((dialer, first)))
    }
    .or(async {
        let signal = signals.next().await;
        info!("{signal}: stopping before the session was open");
        Ok(None)
    })
    .await;
    let (dialer, first) = match opened {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            let reason = format!(
                "the client was stopped before its connection to {} was open",
                address::host_port(&config.host, config.port)
            );
            startup_failure::answer(&mut input, &mut output, &reason).await;
            return Ok(relay::Ending::HostClosed);
        }
        Err(e) => {
            startup_failure::answer(&mut input, &mut output, &e.to_string()).await;
            return Err(e);
        }
    };
    let settings = relay::Settings {
        liveness: config.liveness(),
        reconnect_max_wait: config.reconnect_max_wait,
    };
    relay::run(&mut input, &mut output, signals, first, &dialer, &settings).await
}
