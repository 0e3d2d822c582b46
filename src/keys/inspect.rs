//! Classifying a private key file without decrypting it: its format,
//! whether it needs a passphrase, its public half, its permissions.

use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;
use crate::keys::permissions;
use crate::keys::wire::Reader;
use crate::keys::{OPENSSH_BEGIN, OPENSSH_END, OPENSSH_MAGIC, PublicKey, pub_path};
use crate::local_file;

/// Far above any real key file; stops us from slurping a wrong path such as a
/// disk image or `/dev/zero` into memory.
const MAX_KEY_FILE: u64 = 1 << 20;
/// How public key files begin, so that one passed as `--client-key` gets a
/// helpful message instead of "not a private key".
const PUBLIC_KEY_PREFIXES: &[&str] = &[
    "ssh-",
    "ecdsa-",
    "sk-",
    "---- BEGIN SSH2 PUBLIC KEY",
    "-----BEGIN PUBLIC KEY",
    "-----BEGIN RSA PUBLIC KEY",
];

/// What we can learn from a private key file without decrypting it.
#[derive(Debug)]
pub struct KeyFileInfo {
    /// True when a passphrase is needed to use it.
    pub encrypted: bool,
    /// The public key, when the file carries it in clear (openssh-key-v1
    /// always does) or a readable `PATH.pub` holds it.
    pub public: Option<PublicKey>,
    /// How other users can read it, and the command that stops them (for
    /// the "too open" warning); `None` when only its owner can.
    pub exposure: Option<(String, String)>,
}

/// Reads and classifies a private key file: OpenSSH's own format
/// (openssh-key-v1), traditional PEM (RSA, EC, DSA) and PKCS#8. Nothing is
/// decrypted, so this can run before we know whether a passphrase is needed.
pub fn inspect(path: &Path) -> Result<KeyFileInfo, Error> {
    let key_file = |source| Error::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let unusable = |detail: &str| Error::KeyFormat {
        path: path.to_path_buf(),
        detail: detail.to_owned(),
    };

    let bytes = match local_file::read(path, MAX_KEY_FILE) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(unusable("file is too large to be a private key"));
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            return Err(unusable("not a regular file"));
        }
        Err(e) => return Err(key_file(e)),
    };
    let exposure = permissions::exposure(path);
    let text =
        std::str::from_utf8(&bytes).map_err(|_| unusable("not a PEM or OpenSSH private key"))?;
    let trimmed = text.trim_start();
    if PUBLIC_KEY_PREFIXES.iter().any(|p| trimmed.starts_with(p)) {
        return Err(unusable("this is a public key; pass the private key file"));
    }

    let (encrypted, public) = if let Some(block) = pem_block(text, OPENSSH_BEGIN) {
        let (encrypted, public) =
            parse_openssh_header(block).ok_or_else(|| unusable("corrupt openssh-key-v1 data"))?;
        (encrypted, Some(public))
    } else {
        let begin = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("-----BEGIN "))
            .ok_or_else(|| unusable("not a PEM or OpenSSH private key"))?;
        let block = pem_block(text, begin).unwrap_or_default();
        let encrypted = match begin {
            "-----BEGIN RSA PRIVATE KEY-----"
            | "-----BEGIN EC PRIVATE KEY-----"
            | "-----BEGIN DSA PRIVATE KEY-----" => block
                .lines()
                .take_while(|l| !l.starts_with("-----END "))
                .any(|l| l.trim() == "Proc-Type: 4,ENCRYPTED"),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----" => true,
            "-----BEGIN PRIVATE KEY-----" => false,
            _ => return Err(unusable("not a PEM or OpenSSH private key")),
        };
        (encrypted, read_pub_file(path))
    };
    Ok(KeyFileInfo {
        encrypted,
        public,
        exposure,
    })
}

/// The text after the marker line `begin`, or `None` when it is absent.
fn pem_block<'a>(text: &'a str, begin: &str) -> Option<&'a str> {
    let start = text.find(begin)? + begin.len();
    Some(&text[start..])
}

/// Parses the clear header of an openssh-key-v1 block (the text after the
/// BEGIN line): returns whether it is encrypted and its public key.
fn parse_openssh_header(block: &str) -> Option<(bool, PublicKey)> {
    let body: String = block[..block.find(OPENSSH_END)?]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let data = STANDARD.decode(body).ok()?;
    let mut r = Reader::new(data.strip_prefix(OPENSSH_MAGIC)?);
    let cipher = r.string()?;
    let _kdf = r.string()?;
    let _kdf_options = r.string()?;
    if r.u32()? != 1 {
        return None;
    }
    let public = PublicKey::from_blob(r.string()?)?;
    let private = r.string()?;
    let encrypted = cipher != b"none";
    // In clear the private section starts with two equal check ints; unequal
    // ones mean the file is damaged, so say so now rather than at login.
    if !encrypted {
        let mut p = Reader::new(private);
        if p.u32()? != p.u32()? {
            return None;
        }
    }
    Some((encrypted, public))
}

/// The public key in `PATH.pub`, if that file is readable and parses.
fn read_pub_file(path: &Path) -> Option<PublicKey> {
    let bytes = local_file::read(&pub_path(path), MAX_KEY_FILE).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    PublicKey::from_openssh(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate::{encode_openssh_ed25519, generate_ed25519};
    use crate::keys::testing::*;
    use std::fs;
    use std::io;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn inspect_reads_public_key_from_openssh_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        let public = generate_ed25519(&path).unwrap();
        fs::remove_file(pub_path(&path)).unwrap();

        let info = inspect(&path).unwrap();
        assert!(!info.encrypted);
        assert_eq!(info.public, Some(public));
        assert_eq!(info.exposure, None);
    }

    #[test]
    fn inspect_reports_the_permission_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        generate_ed25519(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            inspect(&path).unwrap().exposure,
            Some((
                "mode 644".to_string(),
                format!("chmod 600 {}", path.display())
            ))
        );
    }

    #[test]
    fn inspect_detects_encrypted_openssh_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = make_key(dir.path(), "id_ed25519", &["-t", "ed25519", "-N", "secret"]);
        let info = inspect(&path).unwrap();
        assert!(info.encrypted);
        let expected = fs::read_to_string(pub_path(&path)).unwrap();
        assert_eq!(info.public.unwrap().to_openssh(), key_fields(&expected));
    }

    #[test]
    fn inspect_reads_an_ecdsa_key_made_by_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = make_key(dir.path(), "id_ecdsa", &["-t", "ecdsa", "-N", ""]);
        let info = inspect(&path).unwrap();
        assert!(!info.encrypted);
        let public = info.public.unwrap();
        assert_eq!(public.algorithm, "ecdsa-sha2-nistp256");
        let expected = fs::read_to_string(pub_path(&path)).unwrap();
        assert_eq!(public.to_openssh(), key_fields(&expected));
    }

    #[test]
    fn inspect_reads_an_rsa_key_made_by_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = make_key(dir.path(), "id_rsa", &["-t", "rsa", "-b", "2048", "-N", ""]);
        let info = inspect(&path).unwrap();
        assert!(!info.encrypted);
        let public = info.public.unwrap();
        assert_eq!(public.algorithm, "ssh-rsa");
        let expected = fs::read_to_string(pub_path(&path)).unwrap();
        assert_eq!(public.to_openssh(), key_fields(&expected));
    }

    #[test]
    fn inspect_detects_encrypted_pem_rsa_key_and_reads_its_pub_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = make_key(
            dir.path(),
            "id_rsa",
            &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "secret"],
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let info = inspect(&path).unwrap();
        assert!(info.encrypted);
        let expected = fs::read_to_string(pub_path(&path)).unwrap();
        assert_eq!(info.public.unwrap().to_openssh(), key_fields(&expected));
    }

    #[test]
    fn inspect_reads_an_unencrypted_pem_ecdsa_key_without_a_pub_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = make_key(
            dir.path(),
            "id_ecdsa",
            &["-t", "ecdsa", "-m", "PEM", "-N", ""],
        );
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .starts_with("-----BEGIN EC PRIVATE KEY-----")
        );
        fs::remove_file(pub_path(&path)).unwrap();
        let info = inspect(&path).unwrap();
        assert!(!info.encrypted);
        assert_eq!(info.public, None);
    }

    #[test]
    fn inspect_tells_pkcs8_plain_from_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let plain = make_key(
            dir.path(),
            "plain",
            &["-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", ""],
        );
        assert!(
            fs::read_to_string(&plain)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(!inspect(&plain).unwrap().encrypted);

        let locked = make_key(
            dir.path(),
            "locked",
            &["-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", "secret"],
        );
        assert!(
            fs::read_to_string(&locked)
                .unwrap()
                .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        );
        let info = inspect(&locked).unwrap();
        assert!(info.encrypted);
        assert!(info.public.is_some());
    }

    fn format_detail(result: Result<KeyFileInfo, Error>) -> String {
        match result {
            Err(Error::KeyFormat { detail, .. }) => detail,
            other => panic!("expected KeyFormat, got {other:?}"),
        }
    }

    #[test]
    fn inspect_rejects_a_public_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        generate_ed25519(&path).unwrap();
        assert_eq!(
            format_detail(inspect(&pub_path(&path))),
            "this is a public key; pass the private key file"
        );
    }

    #[test]
    fn inspect_rejects_unrecognised_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk");
        for content in [
            &b"hello\n"[..],
            b"\xff\xfe\x00",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n",
        ] {
            fs::write(&path, content).unwrap();
            assert_eq!(
                format_detail(inspect(&path)),
                "not a PEM or OpenSSH private key"
            );
        }
    }

    #[test]
    fn inspect_rejects_corrupt_openssh_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        let good = encode_openssh_ed25519(&[7; 32], 42);
        let lines: Vec<&str> = good.lines().collect();
        let truncated = format!("{}\n{}\n{}\n", lines[0], lines[1], OPENSSH_END);
        let unterminated = format!("{}\n{}\n", lines[0], lines[1]);
        let not_base64 = format!("{OPENSSH_BEGIN}\n!!!!\n{OPENSSH_END}\n");
        for content in [truncated, unterminated, not_base64] {
            fs::write(&path, content).unwrap();
            assert_eq!(format_detail(inspect(&path)), "corrupt openssh-key-v1 data");
        }
    }

    #[test]
    fn inspect_reports_missing_file_as_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        match inspect(&path) {
            Err(Error::KeyFile { path: p, source }) => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("expected KeyFile, got {other:?}"),
        }
    }
}
