//! The one error type. Each variant is a failure a user can act on; its
//! `Display` is the single line printed on stderr, and [`Error::exit_code`]
//! maps it to the table in the README.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can end a run early.
#[derive(Debug)]
pub enum Error {
    /// The command line is inconsistent (the message names the flags).
    Usage(String),
    /// The host name did not resolve to any address.
    Resolve { host: String, source: io::Error },
    /// Every address of the host refused the TCP connection.
    ConnectionRefused { target: String },
    /// Connecting, or the SSH handshake after it, took longer than allowed.
    ConnectTimeout { target: String, secs: u64 },
    /// Any other failure to reach the host over TCP.
    Connect { target: String, source: io::Error },
    /// The SSH protocol exchange (banner, key exchange) failed.
    Handshake { target: String, detail: String },
    /// The server's host key is not in the known_hosts file.
    UnknownHostKey {
        target: String,
        known_hosts: PathBuf,
        key_type: String,
        fingerprint: String,
        line_to_add: String,
        note: Option<String>,
    },
    /// The server's host key differs from the one recorded for it.
    ChangedHostKey {
        target: String,
        known_hosts: PathBuf,
        line: usize,
        key_type: String,
        fingerprint: String,
    },
    /// The server's host key is marked `@revoked` in known_hosts.
    RevokedHostKey {
        target: String,
        known_hosts: PathBuf,
        line: usize,
    },
    /// No offered key was accepted by the server.
    Authentication {
        username: String,
        target: String,
        tried: Vec<String>,
        public_key: Option<String>,
    },
    /// The client key file is missing or cannot be read.
    KeyFile { path: PathBuf, source: io::Error },
    /// The client key file is not a private key we can use.
    KeyFormat { path: PathBuf, detail: String },
    /// The client key is encrypted and no passphrase was given.
    PassphraseMissing { path: PathBuf },
    /// The passphrase did not decrypt the client key.
    PassphraseWrong { path: PathBuf },
    /// Generating the default key failed.
    KeyGeneration { path: PathBuf, source: io::Error },
    /// The server refused the session channel, the shell or the exec request.
    Channel { what: String, detail: String },
    /// The remote side ended the session while the host was still attached.
    RemoteClosed { detail: String },
    /// The SSH connection failed in the middle of the session.
    Ssh {
        context: &'static str,
        detail: String,
    },
    /// Reading our stdin or writing our stdout/stderr failed.
    Stdio {
        context: &'static str,
        source: io::Error,
    },
}

impl Error {
    /// The process exit code for this error, as documented in the README.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Resolve { .. } => 3,
            Error::ConnectionRefused { .. } => 4,
            Error::ConnectTimeout { .. } => 5,
            Error::Connect { .. } | Error::Handshake { .. } => 6,
            Error::UnknownHostKey { .. } => 7,
            Error::ChangedHostKey { .. } | Error::RevokedHostKey { .. } => 8,
            Error::Authentication { .. } => 9,
            Error::KeyFile { .. }
            | Error::KeyFormat { .. }
            | Error::PassphraseMissing { .. }
            | Error::PassphraseWrong { .. }
            | Error::KeyGeneration { .. } => 10,
            Error::Channel { .. } => 11,
            Error::RemoteClosed { .. } | Error::Ssh { .. } => 12,
            Error::Stdio { .. } => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Resolve { host, source } => {
                write!(f, "cannot resolve host '{host}': {source}; check --host")
            }
            Error::ConnectionRefused { target } => write!(
                f,
                "Connection refused by {target}; check --host and --port and that the SSH server is running"
            ),
            Error::ConnectTimeout { target, secs } => write!(
                f,
                "connection to {target} timed out after {secs} s; check --host, --port and the network (--connect-timeout sets the limit)"
            ),
            Error::Connect { target, source } => write!(f, "cannot connect to {target}: {source}"),
            Error::Handshake { target, detail } => write!(
                f,
                "SSH handshake with {target} failed: {detail}; is it an SSH server?"
            ),
            Error::UnknownHostKey {
                target,
                known_hosts,
                key_type,
                fingerprint,
                line_to_add,
                note,
            } => {
                write!(
                    f,
                    "Host key verification failed: {target} is not in {} ({key_type} key {fingerprint}); \
                     if that fingerprint is the server's, append this line to the file: {line_to_add}",
                    known_hosts.display()
                )?;
                if let Some(note) = note {
                    write!(f, " ({note})")?;
                }
                Ok(())
            }
            Error::ChangedHostKey {
                target,
                known_hosts,
                line,
                key_type,
                fingerprint,
            } => write!(
                f,
                "Host key verification failed: the host key for {target} ({key_type} {fingerprint}) does not match {} line {line}; \
                 someone may be intercepting the connection; if the server was reinstalled, remove that line",
                known_hosts.display()
            ),
            Error::RevokedHostKey {
                target,
                known_hosts,
                line,
            } => write!(
                f,
                "Host key verification failed: the host key for {target} is marked @revoked in {} line {line}",
                known_hosts.display()
            ),
            Error::Authentication {
                username,
                target,
                tried,
                public_key,
            } => {
                write!(
                    f,
                    "Authentication failed for user '{username}' at {target}; tried "
                )?;
                if tried.is_empty() {
                    write!(f, "nothing (no usable key)")?;
                } else {
                    write!(f, "{}", tried.join(", "))?;
                }
                match public_key {
                    Some(key) => write!(
                        f,
                        "; the server's authorized_keys for '{username}' must hold this public key: {key}"
                    ),
                    None => write!(
                        f,
                        "; the server's authorized_keys for '{username}' must hold the client's public key"
                    ),
                }
            }
            Error::KeyFile { path, source } if source.kind() == io::ErrorKind::NotFound => write!(
                f,
                "client key {} does not exist; pass --client-key with an existing private key (only the default path is generated)",
                path.display()
            ),
            Error::KeyFile { path, source } => {
                write!(f, "cannot read client key {}: {source}", path.display())
            }
            Error::KeyFormat { path, detail } => write!(
                f,
                "client key {} is not a usable private key: {detail}",
                path.display()
            ),
            Error::PassphraseMissing { path } => write!(
                f,
                "client key {} is encrypted; give its passphrase in MCP_SSH_PASSPHRASE (or --passphrase)",
                path.display()
            ),
            Error::PassphraseWrong { path } => write!(
                f,
                "wrong passphrase for client key {}; check MCP_SSH_PASSPHRASE or --passphrase",
                path.display()
            ),
            Error::KeyGeneration { path, source } => write!(
                f,
                "cannot create the client key {}: {source}",
                path.display()
            ),
            Error::Channel { what, detail } => write!(
                f,
                "the server refused the {what}: {detail}; check that it serves MCP this way (the peer server needs a shell; plain sshd needs --command)"
            ),
            Error::RemoteClosed { detail } => {
                write!(f, "the remote MCP server closed the session: {detail}")
            }
            Error::Ssh { context, detail } => {
                write!(f, "SSH connection lost while {context}: {detail}")
            }
            Error::Stdio { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Resolve { source, .. }
            | Error::Connect { source, .. }
            | Error::KeyFile { source, .. }
            | Error::KeyGeneration { source, .. }
            | Error::Stdio { source, .. } => Some(source),
            _ => None,
        }
    }
}
