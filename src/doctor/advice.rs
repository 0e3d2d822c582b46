//! Which step an error belongs to, and what the user does about it: the
//! exact line to append, the key to authorise, the flag to add.

use crate::address;
use crate::config::{Config, HostKeyPolicy, PASSPHRASE_ENV, Remote};
use crate::connect::JUMP_HOST;
use crate::error::Error;
use crate::host_key::known_hosts;

/// The step that failed. A timeout or a broken connection can stop any
/// step: it is the one after the last that was done.
pub fn failed_step(e: &Error, last: Option<&'static str>) -> &'static str {
    match e {
        Error::Usage(_) | Error::SshConfig { .. } => "configuration",
        Error::KeyFile { .. }
        | Error::KeyFormat { .. }
        | Error::PassphraseMissing { .. }
        | Error::KeyGeneration { .. }
        | Error::KeyDirectoryUnsafe { .. } => "client key",
        Error::PassphraseWrong { .. } | Error::Authentication { .. } => "authentication",
        Error::KeyServerUnreachable { .. }
        | Error::KeyServerStatus { .. }
        | Error::KeyServerAnswer { .. }
        | Error::KeyServerKey { .. }
        | Error::KeyServerTls { .. }
        | Error::PinnedKeyChanged { .. } => "key server",
        Error::Resolve { .. } => "resolve",
        Error::ConnectionRefused { .. } | Error::Connect { .. } | Error::ProxyCommand { .. } => {
            "connect"
        }
        Error::Handshake { .. } => "ssh",
        Error::UnknownHostKey { .. }
        | Error::ChangedHostKey { .. }
        | Error::RevokedHostKey { .. }
        | Error::KeyServerKeyMismatch { .. } => "host key",
        Error::Channel { .. } => "channel",
        Error::NotMcp { .. } => "initialize",
        Error::LocalFile { .. } => match last {
            Some("configuration") => "client key",
            _ => "host key",
        },
        _ => next_after(last),
    }
}

/// The steps in the order they are done.
const ORDER: &[&str] = &[
    "configuration",
    "client key",
    "key server",
    "resolve",
    "connect",
    "ssh",
    "host key",
    "authentication",
    "channel",
    "initialize",
    "lists",
    "round trip",
    "keepalive",
];

fn next_after(last: Option<&'static str>) -> &'static str {
    let Some(last) = last else {
        return ORDER[0];
    };
    match ORDER.iter().position(|step| *step == last) {
        // A jump host's channel is followed by the next server's handshake.
        None if last == "jump" => "ssh",
        Some(n) if n + 1 < ORDER.len() => ORDER[n + 1],
        _ => last,
    }
}

/// What to do when the flags or the SSH config make no sense.
pub fn configuration() -> Vec<String> {
    vec![
        "fix the flag or the SSH config line the message names (the session would stop there too), then run doctor again".into(),
    ]
}

/// What to do about `e`, one instruction per line (lines after the first
/// continue it).
pub fn advice(e: &Error, config: &Config, default_key_missing: bool) -> Vec<String> {
    let again = "then run doctor again";
    match e {
        Error::UnknownHostKey {
            known_hosts,
            key_type,
            fingerprint,
            line_to_add,
            ..
        } => vec![
            format!(
                "if {key_type} {fingerprint} is the server's key (on the server: ssh-keygen -lf with its host key's .pub file), append this line to {}:",
                known_hosts.display()
            ),
            line_to_add.clone(),
            "or run doctor again with --fix (it shows the fingerprint and asks)".into(),
        ],
        Error::ChangedHostKey {
            known_hosts,
            line,
            target,
            ..
        } => vec![
            format!(
                "if the server was reinstalled, delete line {line} of {} ({}), {again}; if not, do not connect: someone may be intercepting the connection",
                known_hosts.display(),
                remove_command(config, target, known_hosts)
            ),
        ],
        Error::RevokedHostKey {
            known_hosts, line, ..
        } => vec![format!(
            "the key was revoked on purpose ({} line {line}); ask the server's administrator for its new key",
            known_hosts.display()
        )],
        Error::PinnedKeyChanged { pins, line, .. } => vec![format!(
            "if the server was reinstalled, delete line {line} of {} ({}), {again}",
            pins.display(),
            remove_command(config, &address::host_port(&config.host, config.port), pins)
        )],
        Error::KeyServerKeyMismatch { .. } => vec![
            "the key server and the SSH server disagree: check that --key-server-url or --key-server-port names the key server of this very server".into(),
        ],
        Error::Authentication {
            username,
            public_key,
            target,
            ..
        } => authentication(config, target, username, public_key.as_deref()),
        Error::ConnectionRefused { target } if target.starts_with(JUMP_HOST) => vec![format!(
            "nothing accepts connections at {target}: check the ProxyJump line of your SSH config (host and port) and that its sshd is running"
        )],
        Error::ConnectionRefused { target } => vec![format!(
            "nothing accepts connections at {target}: check --host and --port ({}) and that the server is running",
            default_port(config)
        )],
        Error::ConnectTimeout { target, .. } => vec![format!(
            "{target} did not answer in time: check the address, a firewall on the way, or raise --connect-timeout"
        )],
        Error::Resolve { target, .. } if target.starts_with(JUMP_HOST) => vec![format!(
            "check the spelling of {target} in the ProxyJump line of your SSH config, and this machine's DNS"
        )],
        Error::Resolve { .. } => vec![
            "check the spelling of --host (or of HostName in your SSH config) and this machine's DNS".into(),
        ],
        Error::Handshake { target, .. } => vec![format!(
            "something answers at {target}, but not an SSH server we can talk to: check --port ({})",
            default_port(config)
        )],
        Error::ProxyCommand { command, .. } => vec![format!(
            "run the ProxyCommand by hand to see why it fails: {command}"
        )],
        Error::KeyFile { path, .. } if default_key_missing => vec![format!(
            "the default key {} does not exist yet: a session creates it at its first start; run doctor again with --fix to create it now",
            path.display()
        )],
        Error::KeyFile { .. } | Error::KeyFormat { .. } => {
            vec!["check --client-key: it must name an OpenSSH private key file".into()]
        }
        Error::PassphraseMissing { .. } | Error::PassphraseWrong { .. } => vec![format!(
            "give the key's passphrase in the {PASSPHRASE_ENV} environment variable (in the host app's \"env\" for the server), {again}"
        )],
        Error::KeyServerUnreachable { url, .. } => vec![format!(
            "is the key server running? try: curl {}/health; its port is --key-server-port (default 8000), or name it with --key-server-url",
            url.trim_end_matches('/')
        )],
        Error::KeyServerStatus {
            status: 429,
            retry_after,
            ..
        } => vec![format!(
            "the key server limits each client to 10 requests a minute: wait {} s, {again}",
            retry_after.unwrap_or(60)
        )],
        Error::KeyServerStatus { .. }
        | Error::KeyServerAnswer { .. }
        | Error::KeyServerKey { .. } => vec![
            "the answer is not a key server's: check --key-server-port (default 8000) or --key-server-url".into(),
        ],
        Error::KeyServerTls { .. } => vec![
            "the key server's certificate is not trusted here: use its http:// URL with --key-server-url on a network you trust, or give it a certificate from a public authority".into(),
        ],
        Error::Channel { .. } => channel(config),
        Error::NotMcp { .. } => not_mcp(config),
        Error::Ssh { .. } | Error::RemoteClosed { .. } => {
            vec![format!("the connection broke during the check: {again}")]
        }
        _ => Vec::new(),
    }
}

fn authentication(
    config: &Config,
    target: &str,
    username: &str,
    public_key: Option<&str>,
) -> Vec<String> {
    // A jump host is never the key server's: its keys are authorised as any sshd's.
    let mcp_server = !target.starts_with(JUMP_HOST);
    if mcp_server && matches!(config.host_keys, HostKeyPolicy::KeyServer(_)) {
        return vec![
            "the key server took our key but the SSH server refused it: check that both belong to the same m2m-mcp-server-ssh-server".into(),
        ];
    }
    let Some(public_key) = public_key else {
        return vec![format!(
            "put the client key's public half next to it as .pub, and authorise it for '{username}' on the server"
        )];
    };
    let mut lines = vec![
        format!(
            "authorise our key for '{username}' on the server: append this line to ~{username}/.ssh/authorized_keys there"
        ),
        public_key.to_string(),
    ];
    if mcp_server && config.remote == Remote::Shell {
        lines.push(
            "or, when the server is m2m-mcp-server-ssh-server started with --run-key-server, add --use-key-server here: it registers the key"
                .into(),
        );
    }
    lines
}

fn channel(config: &Config) -> Vec<String> {
    match &config.remote {
        Remote::Shell => vec![
            "the server refused a shell: for a plain sshd, name the MCP server's command with --command".into(),
        ],
        Remote::Exec(_) => vec![
            "the server refused to run the command: check the server's sshd_config (ForceCommand, Match blocks) and that the user may log in".into(),
        ],
        Remote::Subsystem(name) => vec![format!(
            "the server has no subsystem '{name}': add a 'Subsystem {name} /path/to/server' line to its sshd_config, or use --command"
        )],
    }
}

fn not_mcp(config: &Config) -> Vec<String> {
    match &config.remote {
        Remote::Exec(command) => vec![format!(
            "run it on the server as the same user and check that it waits for JSON-RPC on stdin: {command}"
        )],
        Remote::Shell => vec![
            "the shell did not start an MCP server: for m2m-mcp-server-ssh-server check its --servers-config; for a plain sshd use --command".into(),
        ],
        Remote::Subsystem(name) => vec![format!(
            "check the program the server's 'Subsystem {name}' line names"
        )],
    }
}

/// `ssh-keygen -R` for the line in `file` of the server `target` names
/// (`host:port`, or a jump host's).
fn remove_command(config: &Config, target: &str, file: &std::path::Path) -> String {
    let server = target.trim_start_matches(JUMP_HOST);
    let name = if server == address::host_port(&config.host, config.port) {
        known_hosts::lookup_name(config.host_key_name(), config.port)
    } else {
        match server.rsplit_once(':') {
            Some((host, port)) => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                known_hosts::lookup_name(host, port.parse().unwrap_or(22))
            }
            None => server.to_string(),
        }
    };
    format!("ssh-keygen -R '{name}' -f '{}'", file.display())
}

fn default_port(config: &Config) -> &'static str {
    match config.remote {
        Remote::Shell => "m2m-mcp-server-ssh-server listens on 8022 by default",
        _ => "sshd listens on 22",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout() -> Error {
        Error::ConnectTimeout {
            target: "h:22".into(),
            secs: 10,
        }
    }

    #[test]
    fn a_timeout_is_blamed_on_the_step_after_the_last_done() {
        assert_eq!(failed_step(&timeout(), Some("connect")), "ssh");
        assert_eq!(failed_step(&timeout(), Some("authentication")), "channel");
        assert_eq!(failed_step(&timeout(), Some("jump")), "ssh");
        assert_eq!(failed_step(&timeout(), None), "configuration");
        assert_eq!(failed_step(&timeout(), Some("keepalive")), "keepalive");
    }

    #[test]
    fn an_error_of_one_step_is_blamed_on_it_wherever_it_stopped() {
        let refused = Error::ConnectionRefused {
            target: "h:22".into(),
        };
        assert_eq!(failed_step(&refused, Some("resolve")), "connect");
        let unknown = Error::Channel {
            what: "shell request".into(),
            detail: "refused".into(),
        };
        assert_eq!(failed_step(&unknown, Some("authentication")), "channel");
    }
}
