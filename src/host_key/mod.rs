//! How the server's host key is trusted, decided once per process start and
//! applied to every connection: a known_hosts file, the key a key server
//! answered (pinned on first use), or nothing at all.
//!
//! Key-server mode, step by step:
//! 1. Ask the key server for the host key (`key_server.rs`).
//! 2. Compare it with the pin file (`pin.rs`: a known_hosts file of our own, default
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

mod accept_new;
pub mod key_server;
pub mod key_types;
pub mod known_hosts;
mod pin;

use std::cell::RefCell;
use std::path::PathBuf;

use crate::address;
use crate::config::{self, Config, HostKeyPolicy};
use crate::error::Error;
use crate::keys::{PublicKey, wire};
use crate::{debug, info, warn};
use accept_new::{Acceptance, Accepted};
use known_hosts::{KnownHosts, Verdict};

/// How this run checks host keys.
#[derive(Debug)]
pub enum Trust {
    /// Against a known_hosts file, adding unknown hosts under accept-new.
    KnownHosts {
        known: KnownHosts,
        accept_new: Option<Acceptance>,
    },
    /// Against the key a key server answered.
    KeyServer {
        key: PublicKey,
        url: String,
        /// Where to pin the key once the SSH server has shown it, when it is
        /// not pinned yet; taken by the first connection that verifies, so
        /// that a reconnect never writes the pin again.
        pin_to: RefCell<Option<PathBuf>>,
        /// Write no pin (`doctor` without `--fix`), and say so.
        hold_pin: bool,
    },
    /// Not at all (`--disable-host-key-checking`).
    Anyone,
}

impl Trust {
    /// Prepares the check: reads known_hosts, or runs the key-server
    /// exchange (blocking, before any SSH traffic; once per process).
    /// `client_public` is our public key, which a key server is given.
    pub async fn establish(
        config: &Config,
        client_public: Option<&PublicKey>,
    ) -> Result<Trust, Error> {
        match &config.host_keys {
            HostKeyPolicy::KnownHosts(path) => KnownHosts::load(path)
                .map(|known| Trust::KnownHosts {
                    known,
                    accept_new: config.accept_new.clone().map(Acceptance::new),
                })
                .map_err(|source| Error::LocalFile {
                    what: "known_hosts file",
                    path: path.clone(),
                    source,
                }),
            HostKeyPolicy::Disabled { by } => {
                warn!(
                    "host key checking is disabled ({by}): anyone on the network path can pose as {}",
                    address::host_port(&config.host, config.port)
                );
                Ok(Trust::Anyone)
            }
            HostKeyPolicy::KeyServer(key_server) => {
                let host = config.host.clone();
                let port = config.port;
                let key_server = key_server.clone();
                let public = client_public.cloned();
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
            Trust::KnownHosts { known, .. } => known.key_types_for(host, port),
            Trust::KeyServer { key, .. } => vec![key.algorithm.clone()],
            Trust::Anyone => Vec::new(),
        }
    }

    /// What this trust rests on, in a few words (for `doctor`).
    pub fn describe(&self) -> String {
        match self {
            Trust::KnownHosts { known, .. } => format!("known_hosts {}", known.path().display()),
            Trust::KeyServer {
                key, url, pin_to, ..
            } => {
                let pin = match &*pin_to.borrow() {
                    Some(pins) => format!("not pinned yet in {}", pins.display()),
                    None => "matches its pin".into(),
                };
                format!("{url} answered {}; {pin}", describe_key(&key.blob))
            }
            Trust::Anyone => "host key checking is disabled".into(),
        }
    }

    /// Makes the check leave every file alone: accept-new and the pin trust
    /// as they would, and write nothing.
    pub fn without_writes(&mut self) {
        match self {
            Trust::KnownHosts { accept_new, .. } => {
                if let Some(acceptance) = accept_new {
                    acceptance.dry_run = true;
                }
            }
            Trust::KeyServer { hold_pin, .. } => *hold_pin = true,
            Trust::Anyone => {}
        }
    }

    /// Checks the key the server presented in the handshake; any doubt is a
    /// refusal. In key-server mode a first successful check writes the pin.
    /// Says how the key was trusted.
    pub fn verify(
        &self,
        blob: &[u8],
        host: &str,
        port: u16,
        target: &str,
    ) -> Result<String, Error> {
        match self {
            Trust::KnownHosts { known, accept_new } => {
                match (
                    verify_known_hosts(known, blob, host, port, target),
                    accept_new,
                ) {
                    (Err(Error::UnknownHostKey { .. }), Some(acceptance))
                        if acceptance.accepted(blob) =>
                    {
                        Ok(format!(
                            "accepted earlier in this run ({})",
                            acceptance.by()
                        ))
                    }
                    // Known by no key at all: a changed key stays refused.
                    (Err(Error::UnknownHostKey { .. }), Some(acceptance))
                        if known.keys_for(host, port).is_empty() =>
                    {
                        let file = known.path().display();
                        let by = acceptance.by();
                        Ok(match acceptance.accept(known.path(), host, port, blob) {
                            Accepted::Written => format!("new, added to {file} ({by})"),
                            Accepted::Held => format!(
                                "new; a session adds it to {file} ({by}); not written without --fix"
                            ),
                            Accepted::Unwritten(e) => {
                                format!("new, trusted for this run only: {file}: {e} ({by})")
                            }
                        })
                    }
                    (outcome, _) => outcome,
                }
            }
            Trust::KeyServer {
                key,
                url,
                pin_to,
                hold_pin,
            } => {
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
                let mut how = format!("matches the answer of {url}");
                if *hold_pin {
                    if let Some(pins) = &*pin_to.borrow() {
                        how.push_str(&format!(
                            "; a session pins it in {}; not written without --fix",
                            pins.display()
                        ));
                    }
                    return Ok(how);
                }
                let pin_to = pin_to.borrow_mut().take();
                if let Some(pins) = &pin_to {
                    match pin::pin(pins, host, port, key) {
                        Ok(()) => {
                            how.push_str(&format!(", pinned now in {}", pins.display()));
                            info!(
                                "pinned the host key of {} ({}) in {}",
                                known_hosts::lookup_name(host, port),
                                key.fingerprint(),
                                pins.display()
                            )
                        }
                        // Not fatal: this session is verified; only the next
                        // start loses the comparison, and we say so.
                        Err(e) => warn!(
                            "could not pin the host key in {}: {e}; the next start will trust the key server again",
                            pins.display()
                        ),
                    }
                }
                Ok(how)
            }
            Trust::Anyone => Ok("not checked (host key checking is disabled)".into()),
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
    let answer = key_server::fetch_server_key(host, key_server.port, key_server.url.as_deref())?;
    let url = answer.location.base.clone();
    debug!(
        "the key server at {url} answered host key {}",
        describe_key(&answer.key.blob)
    );
    let pins = KnownHosts::load(&key_server.pins).map_err(|source| Error::LocalFile {
        what: "pin file",
        path: key_server.pins.clone(),
        source,
    })?;
    let pinned = pin::check_pin(&pins, host, port, &answer.key, &url)?;
    key_server::register(&answer.location, client_public)?;
    debug!("registered client key {}", client_public.fingerprint());
    Ok(Trust::KeyServer {
        key: answer.key,
        url,
        pin_to: RefCell::new((!pinned).then(|| key_server.pins.clone())),
        hold_pin: false,
    })
}

fn verify_known_hosts(
    known: &KnownHosts,
    blob: &[u8],
    host: &str,
    port: u16,
    target: &str,
) -> Result<String, Error> {
    let key_type = wire::key_type(blob).unwrap_or_else(|| "unknown".into());
    let fingerprint = wire::fingerprint(blob);
    match known.check(host, port, blob) {
        Verdict::Trusted { line } => {
            let how = format!("found in {} line {line}", known.path().display());
            debug!("host key {key_type} {fingerprint} {how}");
            Ok(how)
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
pub fn describe_key(blob: &[u8]) -> String {
    format!(
        "{} {}",
        wire::key_type(blob).unwrap_or_else(|| "unknown".into()),
        wire::fingerprint(blob)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PublicKey {
        let mut blob = Vec::new();
        for field in [&b"ssh-ed25519"[..], &[seed; 32]] {
            wire::put_string(&mut blob, field);
        }
        PublicKey::from_blob(&blob).unwrap()
    }

    #[test]
    fn the_ssh_server_must_present_the_answered_key() {
        let trust = Trust::KeyServer {
            key: key(1),
            url: "http://h:8000".into(),
            pin_to: RefCell::new(None),
            hold_pin: false,
        };
        assert!(trust.verify(&key(1).blob, "h", 8022, "h:8022").is_ok());
        let err = trust.verify(&key(2).blob, "h", 8022, "h:8022").unwrap_err();
        assert_eq!(err.exit_code(), 8);
        assert!(err.to_string().starts_with(
            "host key verification failed: h:8022 presented host key ssh-ed25519 SHA256:"
        ));
    }

    #[test]
    fn the_pin_is_written_by_the_first_verified_connection_only() {
        let dir = tempfile::tempdir().unwrap();
        let pins = dir.path().join("pins");
        let trust = Trust::KeyServer {
            key: key(1),
            url: "http://h:8000".into(),
            pin_to: RefCell::new(Some(pins.clone())),
            hold_pin: false,
        };
        for _ in 0..3 {
            trust.verify(&key(1).blob, "h", 8022, "h:8022").unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&pins).unwrap(),
            format!("{}\n", known_hosts::line_for("h", 8022, &key(1).blob))
        );
    }
}
