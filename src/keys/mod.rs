//! Our client key: its public half ([`PublicKey`]), classifying a key file
//! without decrypting it (`inspect.rs`), and generating the default ed25519
//! key in OpenSSH's own format (`generate.rs`), published with
//! `atomic_file.rs` so that it is never readable by others, not even for a
//! moment, and a key the user already has is never clobbered. The SSH wire
//! format they share is `wire.rs`.

pub mod atomic_file;
mod generate;
mod inspect;
mod permissions;
pub mod wire;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use generate::generate_ed25519;
pub use inspect::inspect;
use wire::Reader;

/// How an openssh-key-v1 private key file is framed.
pub(super) const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
pub(super) const OPENSSH_END: &str = "-----END OPENSSH PRIVATE KEY-----";
pub(super) const OPENSSH_MAGIC: &[u8] = b"openssh-key-v1\0";
pub(super) const ED25519: &str = "ssh-ed25519";

/// An SSH public key: its algorithm name (e.g. "ssh-ed25519", "ssh-rsa",
/// "ecdsa-sha2-nistp256") and its wire blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: String,
    pub blob: Vec<u8>,
}

impl PublicKey {
    /// Parses an OpenSSH public key line "ALG BASE64 [comment]". Returns
    /// `None` if it is malformed or ALG differs from the blob's own
    /// algorithm, since a mislabelled key would be offered under the wrong
    /// name.
    pub fn from_openssh(line: &str) -> Option<PublicKey> {
        let mut fields = line.split_whitespace();
        let algorithm = fields.next()?;
        let blob = STANDARD.decode(fields.next()?).ok()?;
        let key = PublicKey::from_blob(&blob)?;
        (key.algorithm == algorithm).then_some(key)
    }

    /// Parses a wire blob, whose first field is the algorithm name. Known
    /// algorithms are checked field by field; others only need a sane name,
    /// so that keys we cannot use ourselves can still be shown to the user.
    pub fn from_blob(blob: &[u8]) -> Option<PublicKey> {
        let mut r = Reader::new(blob);
        let name = r.string()?;
        if name.is_empty() || !name.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        let algorithm = String::from_utf8(name.to_vec()).ok()?;
        let well_formed = match algorithm.as_str() {
            ED25519 => r.string()?.len() == 32 && r.is_empty(),
            "ssh-rsa" => r.string().is_some() && r.string().is_some() && r.is_empty(),
            "ssh-dss" => (0..4).all(|_| r.string().is_some()) && r.is_empty(),
            a if a.starts_with("ecdsa-sha2-") => {
                r.string()? == &a.as_bytes()["ecdsa-sha2-".len()..]
                    && r.string().is_some()
                    && r.is_empty()
            }
            _ => !r.is_empty(),
        };
        well_formed.then(|| PublicKey {
            algorithm,
            blob: blob.to_vec(),
        })
    }

    /// "ALG BASE64" with padded standard base64 and no comment: the peer
    /// server rejects keys that carry one.
    pub fn to_openssh(&self) -> String {
        format!("{} {}", self.algorithm, STANDARD.encode(&self.blob))
    }

    /// "SHA256:" and the unpadded base64 of the blob's SHA-256, exactly as
    /// `ssh-keygen -lf` prints it, so users can compare the two by eye.
    pub fn fingerprint(&self) -> String {
        wire::fingerprint(&self.blob)
    }
}

/// `PATH.pub`: the suffix is appended, never substituted for an extension.
pub(super) fn pub_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".pub");
    PathBuf::from(name)
}

/// What the key tests share: ssh-keygen as the oracle, file modes and names.
#[cfg(test)]
mod testing {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    pub(super) const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

    /// Runs ssh-keygen and returns its stdout, failing the test with its
    /// stderr if it exits non-zero.
    pub(super) fn ssh_keygen(args: &[&str]) -> String {
        let out = Command::new(SSH_KEYGEN)
            .args(args)
            .output()
            .expect("run ssh-keygen");
        assert!(
            out.status.success(),
            "ssh-keygen {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("ssh-keygen prints UTF-8")
    }

    /// The first two fields ("ALG BASE64") of a public key line, without
    /// whatever comment follows.
    pub(super) fn key_fields(line: &str) -> String {
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(super) fn make_key(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let path_str = path.to_str().expect("UTF-8 temp path");
        let mut all = vec!["-q", "-f", path_str];
        all.extend_from_slice(args);
        ssh_keygen(&all);
        path
    }

    pub(super) fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    pub(super) fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use std::fs;

    #[test]
    fn fingerprint_matches_ssh_keygen_l() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        let public = generate_ed25519(&path).unwrap();
        let listed = ssh_keygen(&["-lf", pub_path(&path).to_str().unwrap()]);
        let field = listed.split_whitespace().nth(1).unwrap();
        assert_eq!(public.fingerprint(), field);

        let rsa = make_key(dir.path(), "id_rsa", &["-t", "rsa", "-b", "2048", "-N", ""]);
        let rsa_pub = pub_path(&rsa);
        let listed = ssh_keygen(&["-lf", rsa_pub.to_str().unwrap()]);
        let parsed = PublicKey::from_openssh(&fs::read_to_string(&rsa_pub).unwrap()).unwrap();
        assert_eq!(
            parsed.fingerprint(),
            listed.split_whitespace().nth(1).unwrap()
        );
    }

    #[test]
    fn public_key_line_round_trips_and_rejects_a_mislabelled_one() {
        let line =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
        let key = PublicKey::from_openssh(&format!("{line} comment here")).unwrap();
        assert_eq!(key.algorithm, "ssh-ed25519");
        assert_eq!(key.to_openssh(), line);
        assert_eq!(PublicKey::from_blob(&key.blob), Some(key.clone()));
        let mislabelled = line.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert_eq!(PublicKey::from_openssh(&mislabelled), None);
        assert_eq!(PublicKey::from_openssh("ssh-ed25519"), None);
        assert_eq!(PublicKey::from_blob(&key.blob[..key.blob.len() - 1]), None);
    }
}
