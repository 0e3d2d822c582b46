//! How the server's host key is trusted, decided once per process start and
//! applied to every connection: a known_hosts file, the key a key server
//! answered (pinned on first use), or nothing at all.
//!
//! Key-server mode, step by step:
//! 1. Ask the key server for the host key (`keyserver.rs`).
//! 2. Compare it with the pin file (a known_hosts file of our own, default
//!    `~/.ssh/m2m_mcp_server_ssh_client_known_hosts`). A pin for this
//!    `[host]:port` holding another key is a refusal: either the server was
//!    reinstalled or someone answers in its place, and only the user can
//!    tell which.
//! 3. Register our public key with the same key server.
//! 4. During the SSH handshake, the server must present exactly the
//!    answered key; only then is a new pin written.
//!
//! The Python client trusts whatever the key server says, every time; the
//! pin turns that into trust on first use, as OpenSSH does for new hosts.

use std::io;
use std::path::PathBuf;

use crate::auth::Credentials;
use crate::config::{self, Config, HostKeyPolicy};
use crate::error::Error;
use crate::keys::PublicKey;
use crate::keyserver;
use crate::known_hosts::{self, KnownHosts, Verdict};
use crate::wire;
use crate::{debug, info, warn};

/// How this run checks host keys.
#[derive(Debug)]
pub enum Trust {
    /// Against a known_hosts file.
    KnownHosts(KnownHosts),
    /// Against the key a key server answered.
    KeyServer {
        key: PublicKey,
        url: String,
        /// Where to pin the key once the SSH server has shown it, when it is
        /// not pinned yet.
        pin_to: Option<PathBuf>,
    },
    /// Not at all (`--disable-host-key-checking`).
    Anyone,
}

impl Trust {
    /// Prepares the check: reads known_hosts, or runs the key-server
    /// exchange (blocking, before any SSH traffic; once per process).
    pub async fn establish(config: &Config, credentials: &Credentials) -> Result<Trust, Error> {
        match &config.host_keys {
            HostKeyPolicy::KnownHosts(path) => KnownHosts::load(path)
                .map(Trust::KnownHosts)
                .map_err(|source| Error::Stdio {
                    context: "cannot read the known_hosts file",
                    source,
                }),
            HostKeyPolicy::Disabled => {
                warn!(
                    "host key checking is disabled (--disable-host-key-checking): anyone on the network path can pose as {}:{}",
                    config.host, config.port
                );
                Ok(Trust::Anyone)
            }
            HostKeyPolicy::KeyServer(key_server) => {
                let host = config.host.clone();
                let port = config.port;
                let key_server = key_server.clone();
                let public = credentials.public_key().cloned();
                let client_key = config.client_key.clone();
                // minreq blocks; on smol's blocking pool the event loop (and
                // its signal handling) stays free.
                smol::unblock(move || {
                    exchange(&host, port, &key_server, public.as_ref(), &client_key)
                })
                .await
            }
        }
    }

    /// Host key types to offer first, so that the server shows the key we
    /// can check rather than another one it also holds.
    pub fn preferred_key_types(&self, host: &str, port: u16) -> Vec<String> {
        match self {
            Trust::KnownHosts(known) => known.key_types_for(host, port),
            Trust::KeyServer { key, .. } => vec![key.algorithm.clone()],
            Trust::Anyone => Vec::new(),
        }
    }

    /// Checks the key the server presented in the handshake; any doubt is a
    /// refusal. In key-server mode a first successful check writes the pin.
    pub fn verify(&self, blob: &[u8], host: &str, port: u16, target: &str) -> Result<(), Error> {
        match self {
            Trust::KnownHosts(known) => verify_known_hosts(known, blob, host, port, target),
            Trust::KeyServer { key, url, pin_to } => {
                if key.blob != blob {
                    return Err(Error::KeyServerKeyMismatch {
                        target: target.to_string(),
                        url: url.clone(),
                        answered: describe_key(&key.blob),
                        presented: describe_key(blob),
                    });
                }
                debug!(
                    "host key {} matches the key server's answer",
                    describe_key(blob)
                );
                if let Some(pins) = pin_to {
                    match pin(pins, host, port, key) {
                        Ok(()) => info!(
                            "pinned the host key of {} ({}) in {}",
                            known_hosts::lookup_name(host, port),
                            key.fingerprint(),
                            pins.display()
                        ),
                        // Not fatal: this session is verified; only the next
                        // start loses the comparison, and we say so.
                        Err(e) => warn!(
                            "could not pin the host key in {}: {e}; the next start will trust the key server again",
                            pins.display()
                        ),
                    }
                }
                Ok(())
            }
            Trust::Anyone => Ok(()),
        }
    }
}

/// Steps 1 to 3 of the key-server mode.
fn exchange(
    host: &str,
    port: u16,
    key_server: &config::KeyServer,
    client_public: Option<&PublicKey>,
    client_key: &std::path::Path,
) -> Result<Trust, Error> {
    let client_public = client_public.ok_or_else(|| Error::KeyFormat {
        path: client_key.to_path_buf(),
        detail: "its public key is needed for the key server, and it is not in the file; \
                 put it next to it as .pub"
            .into(),
    })?;
    let answer = keyserver::fetch_server_key(host, key_server.port, key_server.url.as_deref())?;
    let url = answer.location.base.clone();
    debug!(
        "the key server at {url} answered host key {}",
        describe_key(&answer.key.blob)
    );
    let pins = KnownHosts::load(&key_server.pins).map_err(|source| Error::Stdio {
        context: "cannot read the pin file",
        source,
    })?;
    let pinned = check_pin(&pins, host, port, &answer.key, &url)?;
    keyserver::register(&answer.location, client_public)?;
    debug!("registered client key {}", client_public.fingerprint());
    Ok(Trust::KeyServer {
        key: answer.key,
        url,
        pin_to: (!pinned).then(|| key_server.pins.clone()),
    })
}

/// Whether the answered key is already pinned; a different pin is a refusal.
fn check_pin(
    pins: &KnownHosts,
    host: &str,
    port: u16,
    key: &PublicKey,
    url: &str,
) -> Result<bool, Error> {
    let changed = |line: usize| {
        let pinned = pins
            .keys_for(host, port)
            .into_iter()
            .find(|(l, _)| *l == line)
            .map(|(_, blob)| describe_key(blob))
            .unwrap_or_default();
        Error::PinnedKeyChanged {
            name: known_hosts::lookup_name(host, port),
            url: url.to_string(),
            pins: pins.path().to_path_buf(),
            line,
            fingerprint: describe_key(&key.blob),
            pinned,
        }
    };
    match pins.check(host, port, &key.blob) {
        Verdict::Trusted { line } => {
            debug!(
                "the answered key is pinned at {} line {line}",
                pins.path().display()
            );
            Ok(true)
        }
        Verdict::Revoked { line } => Err(Error::RevokedHostKey {
            target: known_hosts::lookup_name(host, port),
            known_hosts: pins.path().to_path_buf(),
            line,
        }),
        Verdict::Changed { line } => Err(changed(line)),
        // A pin of another type is still another key: the server would not
        // swap its only key type without being reinstalled.
        Verdict::Unknown { .. } => match pins.keys_for(host, port).first() {
            Some((line, _)) => Err(changed(*line)),
            None => Ok(false),
        },
    }
}

/// Appends the pin line, replacing the file atomically so that a crash or a
/// concurrent reader never sees half a line.
fn pin(path: &std::path::Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    crate::atomic_file::create_parent_dir(path)?;
    let mut text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text.extend_from_slice(known_hosts::line_for(host, port, &key.blob).as_bytes());
    text.push(b'\n');
    crate::atomic_file::replace(path, &text, 0o600)
}

fn verify_known_hosts(
    known: &KnownHosts,
    blob: &[u8],
    host: &str,
    port: u16,
    target: &str,
) -> Result<(), Error> {
    let key_type = known_hosts::key_type(blob).unwrap_or_else(|| "unknown".into());
    let fingerprint = wire::fingerprint(blob);
    match known.check(host, port, blob) {
        Verdict::Trusted { line } => {
            debug!(
                "host key {key_type} {fingerprint} matches {} line {line}",
                known.path().display()
            );
            Ok(())
        }
        Verdict::Revoked { line } => Err(Error::RevokedHostKey {
            target: target.to_string(),
            known_hosts: known.path().to_path_buf(),
            line,
        }),
        Verdict::Changed { line } => Err(Error::ChangedHostKey {
            target: target.to_string(),
            known_hosts: known.path().to_path_buf(),
            line,
            key_type,
            fingerprint,
        }),
        Verdict::Unknown {
            other_types,
            plain_host_lines,
        } => {
            let mut notes = Vec::new();
            if !other_types.is_empty() {
                notes.push(format!(
                    "the file holds {} keys for this host, which the server did not offer",
                    other_types.join(", ")
                ));
            }
            if let Some(line) = plain_host_lines.first() {
                notes.push(format!(
                    "line {line} names the host without a port, which applies to port 22 only, as in OpenSSH"
                ));
            }
            Err(Error::UnknownHostKey {
                target: target.to_string(),
                known_hosts: known.path().to_path_buf(),
                key_type,
                fingerprint,
                line_to_add: known_hosts::line_for(host, port, blob),
                note: (!notes.is_empty()).then(|| notes.join("; ")),
            })
        }
    }
}

/// "ssh-ed25519 SHA256:…", as users compare keys.
fn describe_key(blob: &[u8]) -> String {
    format!(
        "{} {}",
        known_hosts::key_type(blob).unwrap_or_else(|| "unknown".into()),
        wire::fingerprint(blob)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn key(seed: u8) -> PublicKey {
        let mut blob = Vec::new();
        for field in [&b"ssh-ed25519"[..], &[seed; 32]] {
            blob.extend_from_slice(&(field.len() as u32).to_be_bytes());
            blob.extend_from_slice(field);
        }
        PublicKey::from_blob(&blob).unwrap()
    }

    #[test]
    fn a_new_key_is_not_pinned_and_a_pinned_one_is() {
        let empty = KnownHosts::parse(Path::new("/p"), "");
        assert!(!check_pin(&empty, "h", 8022, &key(1), "http://h:8000").unwrap());
        let line = known_hosts::line_for("h", 8022, &key(1).blob);
        let pins = KnownHosts::parse(Path::new("/p"), &line);
        assert!(check_pin(&pins, "h", 8022, &key(1), "http://h:8000").unwrap());
        // Pins are per port.
        assert!(!check_pin(&pins, "h", 8023, &key(2), "http://h:8000").unwrap());
    }

    #[test]
    fn a_different_answer_than_the_pin_is_refused_with_the_way_to_reset() {
        let text = format!(
            "# pins\n{}\n",
            known_hosts::line_for("h", 8022, &key(1).blob)
        );
        let pins = KnownHosts::parse(Path::new("/p"), &text);
        let err = check_pin(&pins, "h", 8022, &key(2), "http://h:8000").unwrap_err();
        assert_eq!(err.exit_code(), 8);
        let message = err.to_string();
        assert!(
            message.contains("differs from the one pinned in /p line 2"),
            "{message}"
        );
        assert!(
            message.ends_with("(ssh-keygen -R '[h]:8022' -f /p) and start again"),
            "{message}"
        );
    }

    #[test]
    fn pinning_appends_a_line_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pins");
        pin(&path, "h", 8022, &key(1)).unwrap();
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().trim_end()).unwrap();
        pin(&path, "g", 8022, &key(2)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "{}\n{}\n",
                known_hosts::line_for("h", 8022, &key(1).blob),
                known_hosts::line_for("g", 8022, &key(2).blob)
            )
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_ssh_server_must_present_the_answered_key() {
        let trust = Trust::KeyServer {
            key: key(1),
            url: "http://h:8000".into(),
            pin_to: None,
        };
        assert!(trust.verify(&key(1).blob, "h", 8022, "h:8022").is_ok());
        let err = trust.verify(&key(2).blob, "h", 8022, "h:8022").unwrap_err();
        assert_eq!(err.exit_code(), 8);
        assert!(err.to_string().starts_with(
            "Host key verification failed: h:8022 presented host key ssh-ed25519 SHA256:"
        ));
    }
}
