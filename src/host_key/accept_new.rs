//! OpenSSH's `StrictHostKeyChecking accept-new`: the key of a host the
//! known_hosts file does not know at all is added to it (with its name
//! hashed under `HashKnownHosts yes`) and trusted; a host the file knows,
//! by any key, is checked as always, so a changed key is still refused.

use std::cell::RefCell;
use std::path::Path;

use rand_core::{OsRng, RngCore};

use crate::config::AcceptNew;
use crate::host_key::describe_key;
use crate::host_key::known_hosts;
use crate::{info, warn};

/// The policy, and the keys it accepted in this run (so that a reconnect
/// finds them without reading the file again, and never adds them twice).
#[derive(Debug)]
pub struct Acceptance {
    policy: AcceptNew,
    accepted: RefCell<Vec<Vec<u8>>>,
    /// Trust new keys for this run but write none (`doctor` without `--fix`).
    pub(super) dry_run: bool,
}

/// What became of a new key.
pub(super) enum Accepted {
    Written,
    /// Not written: a dry run.
    Held,
    /// Trusted for this run only: the file could not be written.
    Unwritten(String),
}

impl Acceptance {
    pub(super) fn new(policy: AcceptNew) -> Acceptance {
        Acceptance {
            policy,
            accepted: RefCell::new(Vec::new()),
            dry_run: false,
        }
    }

    /// What asked for accept-new (the flag, or the SSH config's line).
    pub(super) fn by(&self) -> &str {
        &self.policy.by
    }

    /// Whether this run already accepted this key.
    pub(super) fn accepted(&self, blob: &[u8]) -> bool {
        self.accepted.borrow().iter().any(|k| k == blob)
    }

    /// Adds the key of a host the file at `path` does not know at all, and
    /// trusts it for this run even if the file cannot be written.
    pub(super) fn accept(&self, path: &Path, host: &str, port: u16, blob: &[u8]) -> Accepted {
        self.accepted.borrow_mut().push(blob.to_vec());
        let name = known_hosts::lookup_name(host, port);
        if self.dry_run {
            return Accepted::Held;
        }
        let line = if self.policy.hash {
            let mut salt = [0u8; 20];
            OsRng.fill_bytes(&mut salt);
            known_hosts::hashed_line_for(host, port, blob, &salt)
        } else {
            known_hosts::line_for(host, port, blob)
        };
        match known_hosts::append(path, &line, 0o644) {
            Ok(()) => {
                info!(
                    "added the host key of {name} ({}) to {} ({})",
                    describe_key(blob),
                    path.display(),
                    self.policy.by
                );
                Accepted::Written
            }
            Err(e) => {
                warn!(
                    "could not add the host key of {name} ({}) to {}: {e}; it is trusted for this run only",
                    describe_key(blob),
                    path.display()
                );
                Accepted::Unwritten(e.to_string())
            }
        }
    }
}
