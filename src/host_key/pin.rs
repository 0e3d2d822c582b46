//! The pin file: a known_hosts file of our own (default
//! `~/.ssh/m2m_mcp_server_ssh_client_known_hosts`) that holds the host keys
//! key servers answered, so that a key server is trusted on first use only,
//! as OpenSSH trusts a new host.

use std::io;
use std::path::Path;

use crate::debug;
use crate::error::Error;
use crate::host_key::describe_key;
use crate::host_key::known_hosts::{self, KnownHosts, Verdict};
use crate::keys::PublicKey;

/// Whether the answered key is already pinned; a different pin is a refusal.
pub(super) fn check_pin(
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
pub(super) fn pin(path: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    known_hosts::append(path, &known_hosts::line_for(host, port, &key.blob), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PublicKey {
        let mut blob = Vec::new();
        for field in [&b"ssh-ed25519"[..], &[seed; 32]] {
            crate::keys::wire::put_string(&mut blob, field);
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
}
