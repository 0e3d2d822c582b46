//! `m2m-mcp-server-ssh-client`: a stdio MCP server that carries the session
//! over SSH to a remote MCP server.
//!
//! The MCP host starts us and speaks newline-delimited JSON-RPC on our stdin
//! and stdout. We open one SSH session (host key checked against known_hosts,
//! public key authentication) and one channel on it, with a shell request for
//! the peer server `m2m-mcp-server-ssh-server` or an exec request for any
//! sshd. The relay then moves bytes both ways on a single smol event loop:
//! host lines to the channel untouched, the remote's JSON-RPC lines to our
//! stdout untouched, anything else the remote prints to our stderr. When the
//! host closes stdin we send EOF, let the remote finish, and close.

#![forbid(unsafe_code)]
#![allow(
    clippy::result_large_err,
    reason = "an Error is built at most once per run, on the way out; its size costs nothing"
)]

pub mod alarm;
pub mod atomic_file;
pub mod auth;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod error;
pub mod first_contact;
pub mod json_lines;
pub mod jsonrpc;
pub mod keys;
pub mod keyserver;
pub mod known_hosts;
pub mod line_separators;
pub mod link;
pub mod log;
pub mod mcp_session;
pub mod message_lines;
pub mod relay;
pub mod relay_messages;
pub mod short_text;
pub mod socket;
pub mod ssh;
pub mod stdio;
pub mod trust;
pub mod wire;

pub use error::Error;

use auth::Credentials;
use config::Config;
use ssh::Connection;
use trust::Trust;

/// Connects and relays until the session ends.
pub async fn run(config: &Config) -> Result<relay::Ending, Error> {
    let mut input = stdio::stdin().map_err(|source| Error::Stdio {
        context: "cannot open stdin",
        source,
    })?;
    let mut output = stdio::stdout().map_err(|source| Error::Stdio {
        context: "cannot open stdout",
        source,
    })?;
    let started = async {
        // Checked before touching the network: a key problem is the user's to
        // fix whatever the server says.
        let credentials = Credentials::prepare(config)?;
        let trust = Trust::establish(config, &credentials).await?;
        let connection = ssh::connect(config, &credentials, &trust).await?;
        Ok::<_, Error>((credentials, trust, connection))
    }
    .await;
    let (credentials, trust, connection) = match started {
        Ok(started) => started,
        Err(e) => {
            first_contact::refuse(&mut input, &mut output, &e).await;
            return Err(e);
        }
    };
    let connector = Reconnect {
        config,
        credentials: &credentials,
        trust: &trust,
    };
    let settings = relay::Settings {
        liveness: config.liveness(),
        reconnect_max_wait: config.reconnect_max_wait,
    };
    relay::run(&mut input, &mut output, connection, &connector, &settings).await
}

/// New connections with the trust and credentials of the first: the key
/// server is asked once per start, never per reconnect (it rate-limits).
struct Reconnect<'a> {
    config: &'a Config,
    credentials: &'a Credentials,
    trust: &'a Trust,
}

impl relay::Connector for Reconnect<'_> {
    async fn connect(&self) -> Result<Connection, Error> {
        ssh::connect(self.config, self.credentials, self.trust).await
    }
}
