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
    Resolve {
        host: String,
        /// `host:port`, or `jump host host:port`, as the connection names it.
        target: String,
        source: io::Error,
    },
    /// Every address of the host refused the TCP connection.
    ConnectionRefused { target: String },
    /// Connecting, or the SSH handshake after it, took longer than allowed.
    ConnectTimeout { target: String, secs: u64 },
    /// Any other failure to reach the host over TCP.
    Connect { target: String, source: io::Error },
    /// The SSH protocol exchange (banner, key exchange) failed.
    Handshake { target: String, detail: String },
    /// The SSH config's ProxyCommand could not carry the connection.
    ProxyCommand { command: String, detail: String },
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
    /// The key server could not be reached, or did not answer in time.
    KeyServerUnreachable { url: String, detail: String },
    /// The key server answered with an HTTP error status.
    KeyServerStatus {
        url: String,
        status: u16,
        reason: String,
        /// The `error` text of its JSON body, if it had one.
        message: Option<String>,
        /// Seconds from a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// The key server's answer is not what a key server answers (not HTTP,
    /// not JSON, no `server_pub_key`, too large).
    KeyServerAnswer { url: String, detail: String },
    /// The key server answered a key we cannot parse or cannot verify.
    KeyServerKey { url: String, detail: String },
    /// The TLS connection to the key server failed (certificate or handshake).
    KeyServerTls { url: String, detail: String },
    /// The key server answered a different host key than the one pinned.
    PinnedKeyChanged {
        /// The name the pin is recorded under, `[host]:port`.
        name: String,
        url: String,
        pins: PathBuf,
        line: usize,
        fingerprint: String,
        pinned: String,
    },
    /// The SSH server presented a different host key than the key server answered.
    KeyServerKeyMismatch {
        target: String,
        url: String,
        answered: String,
        presented: String,
    },
    /// Reading our stdin or writing our stdout/stderr failed.
    Stdio {
        context: &'static str,
        source: io::Error,
    },
    /// The directory for a new key could be changed by another user.
    KeyDirectoryUnsafe {
        path: PathBuf,
        dir: PathBuf,
        why: String,
    },
    /// An SSH config file cannot be read or makes no sense.
    SshConfig {
        path: PathBuf,
        line: Option<usize>,
        detail: String,
    },
    /// A file of the user's (known_hosts, the pin file) cannot be read.
    LocalFile {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// `doctor`: the remote command answered, but not as an MCP server.
    NotMcp { target: String, detail: String },
    /// `config`: the host app's config file cannot be read, parsed or written.
    HostAppFile { path: PathBuf, detail: String },
    /// `config --write`: the app's config already has an entry of that name.
    HostAppEntryExists { path: PathBuf, name: String },
    /// What the program needs from the system is not there (signal handlers).
    Internal {
        context: &'static str,
        source: io::Error,
    },
}

/// Whether a message's target is a jump host (its flags are not ours).
fn jump_host(target: &str) -> bool {
    target.starts_with(crate::connect::JUMP_HOST)
}

impl Error {
    /// The process exit code for this error, as documented in the README.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Resolve { .. } => 3,
            Error::ConnectionRefused { .. } => 4,
            Error::ConnectTimeout { .. } => 5,
            Error::Connect { .. } | Error::Handshake { .. } | Error::ProxyCommand { .. } => 6,
            Error::UnknownHostKey { .. } => 7,
            Error::ChangedHostKey { .. }
            | Error::RevokedHostKey { .. }
            | Error::PinnedKeyChanged { .. }
            | Error::KeyServerKeyMismatch { .. } => 8,
            Error::Authentication { .. } => 9,
            Error::KeyFile { .. }
            | Error::KeyFormat { .. }
            | Error::PassphraseMissing { .. }
            | Error::PassphraseWrong { .. }
            | Error::KeyGeneration { .. } => 10,
            Error::Channel { .. } => 11,
            Error::RemoteClosed { .. } | Error::Ssh { .. } => 12,
            Error::Stdio { .. } => 1,
            Error::LocalFile { .. } => 18,
            Error::SshConfig { .. } => 2,
            Error::KeyDirectoryUnsafe { .. } => 10,
            Error::Internal { .. } => 19,
            Error::KeyServerUnreachable { .. } => 13,
            Error::KeyServerStatus { .. } => 14,
            Error::KeyServerAnswer { .. } => 15,
            Error::KeyServerKey { .. } => 16,
            Error::KeyServerTls { .. } => 17,
            Error::NotMcp { .. } => 20,
            Error::HostAppFile { .. } => 21,
            Error::HostAppEntryExists { .. } => 22,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::NotMcp { target, detail } => write!(
                f,
                "the remote command at {target} is not an MCP server: {detail}; check --command (or, without it, that the server runs m2m-mcp-server-ssh-server)"
            ),
            Error::HostAppFile { path, detail } => write!(f, "{}: {detail}", path.display()),
            Error::HostAppEntryExists { path, name } => write!(
                f,
                "{} already has a server named '{name}'; choose another with --name, or replace it with --force",
                path.display()
            ),
            Error::Resolve {
                host,
                target,
                source,
            } => {
                if jump_host(target) {
                    write!(
                        f,
                        "cannot resolve {target}: {source}; check the ProxyJump line of your SSH config"
                    )
                } else {
                    write!(f, "cannot resolve host '{host}': {source}; check --host")
                }
            }
            Error::ConnectionRefused { target } => {
                if jump_host(target) {
                    write!(
                        f,
                        "connection refused by {target}; check the ProxyJump line of your SSH config and that its SSH server is running"
                    )
                } else {
                    write!(
                        f,
                        "connection refused by {target}; check --host and --port and that the SSH server is running"
                    )
                }
            }
            Error::ConnectTimeout { target, secs } => {
                if jump_host(target) {
                    write!(
                        f,
                        "connection to {target} timed out after {secs} s; check the ProxyJump line of your SSH config and the network (--connect-timeout sets the limit)"
                    )
                } else {
                    write!(
                        f,
                        "connection to {target} timed out after {secs} s; check --host, --port and the network (--connect-timeout sets the limit)"
                    )
                }
            }
            Error::Connect { target, source } => write!(f, "cannot connect to {target}: {source}"),
            Error::Handshake { target, detail } => write!(
                f,
                "SSH handshake with {target} failed: {detail}; is it an SSH server?"
            ),
            Error::ProxyCommand { command, detail } => {
                write!(f, "ProxyCommand '{command}' {detail}")
            }
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
                    "host key verification failed: {target} is not in {} ({key_type} key {fingerprint}); \
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
                "host key verification failed: the host key for {target} ({key_type} {fingerprint}) does not match {} line {line}; \
                 someone may be intercepting the connection; if the server was reinstalled, remove that line",
                known_hosts.display()
            ),
            Error::RevokedHostKey {
                target,
                known_hosts,
                line,
            } => write!(
                f,
                "host key verification failed: the host key for {target} is marked @revoked in {} line {line}",
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
                    "authentication failed for user '{username}' at {target}; tried "
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
                "client key {} does not exist; pass --client-key with an existing private key \
                 (a missing key is generated only at the default path, or with --use-key-server)",
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
                "the server refused the {what}: {detail}; check that it serves MCP this way (the peer server needs a shell; a plain sshd needs --command or --subsystem)"
            ),
            Error::RemoteClosed { detail } => {
                write!(f, "the remote MCP server closed the session: {detail}")
            }
            Error::Ssh { context, detail } => {
                write!(f, "SSH connection lost while {context}: {detail}")
            }
            Error::Stdio { context, source } | Error::Internal { context, source } => {
                write!(f, "{context}: {source}")
            }
            Error::KeyDirectoryUnsafe { path, dir, why } => write!(
                f,
                "refusing to create the client key {}: its directory {} {why}, so another user could \
                 replace the key (OpenSSH's StrictModes refuses it too); make it yours and private: \
                 chown \"$(id -un)\" {} && chmod 700 {}",
                path.display(),
                dir.display(),
                dir.display(),
                dir.display()
            ),
            Error::SshConfig { path, line, detail } => match line {
                Some(line) => write!(f, "SSH config {} line {line}: {detail}", path.display()),
                None => write!(f, "SSH config {}: {detail}", path.display()),
            },
            Error::LocalFile { what, path, source } => {
                write!(f, "cannot read the {what} {}: {source}", path.display())
            }
            Error::KeyServerUnreachable { url, detail } => write!(
                f,
                "cannot reach the key server at {url}: {detail}; check --host and --key-server-port (or --key-server-url) \
                 and that the server runs its key server"
            ),
            Error::KeyServerStatus {
                url,
                status: 429,
                retry_after,
                ..
            } => {
                write!(
                    f,
                    "the key server at {url} refused the request as too many (HTTP 429): it allows 10 requests a minute \
                     from one address; "
                )?;
                match retry_after {
                    Some(secs) => write!(f, "retry in {secs} s"),
                    None => write!(f, "retry in a minute"),
                }
            }
            Error::KeyServerStatus {
                url,
                status,
                reason,
                message,
                ..
            } => {
                write!(f, "the key server at {url} answered HTTP {status}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
                if *status == 404 {
                    write!(
                        f,
                        "; is this the key server's address? (--key-server-port, --key-server-url)"
                    )?;
                }
                Ok(())
            }
            Error::KeyServerAnswer { url, detail } => {
                write!(
                    f,
                    "the key server at {url} gave an unusable answer: {detail}"
                )
            }
            Error::KeyServerKey { url, detail } => {
                write!(
                    f,
                    "the key server at {url} answered an unusable host key: {detail}"
                )
            }
            Error::KeyServerTls { url, detail } => write!(
                f,
                "TLS connection to the key server at {url} failed: {detail}; if the server has no valid certificate, \
                 name its plain-HTTP key server with --key-server-url http://HOST:PORT to accept an unauthenticated key"
            ),
            Error::PinnedKeyChanged {
                name,
                url,
                pins,
                line,
                fingerprint,
                pinned,
            } => write!(
                f,
                "host key verification failed: the key server at {url} answered a host key for {name} ({fingerprint}) \
                 that differs from the one pinned in {} line {line} ({pinned}); someone may be intercepting the connection; \
                 if the server was reinstalled, remove the pin (ssh-keygen -R '{name}' -f {}) and start again",
                pins.display(),
                pins.display()
            ),
            Error::KeyServerKeyMismatch {
                target,
                url,
                answered,
                presented,
            } => write!(
                f,
                "host key verification failed: {target} presented host key {presented}, but the key server at {url} \
                 answered {answered}; someone may be intercepting the connection"
            ),
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
            | Error::Stdio { source, .. }
            | Error::LocalFile { source, .. }
            | Error::Internal { source, .. } => Some(source),
            _ => None,
        }
    }
}
