//! Generating the default client key: ed25519, unencrypted openssh-key-v1
//! as `ssh-keygen` writes it, and its `.pub` beside it.

use std::fs;
use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};

use crate::error::Error;
use crate::keys::wire::{put_string, put_u32};
use crate::keys::{ED25519, OPENSSH_BEGIN, OPENSSH_END, OPENSSH_MAGIC, PublicKey, pub_path};
use crate::keys::{atomic_file, permissions};

/// OpenSSH wraps the base64 body of its private key files at 70 columns.
const WRAP: usize = 70;

/// Generates a new ed25519 key at `path` (unencrypted openssh-key-v1) and
/// its public half at `path.pub`, and returns the public key. An existing
/// private key is never replaced: that fails with `AlreadyExists`, and the
/// caller decides what to do.
pub fn generate_ed25519(path: &Path) -> Result<PublicKey, Error> {
    let generation = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::KeyGeneration { path: p, source }
    };

    atomic_file::create_parent_dir(path).map_err(generation(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Some(why) = permissions::unsafe_dir(dir) {
            return Err(Error::KeyDirectoryUnsafe {
                path: path.to_path_buf(),
                dir: fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
                why,
            });
        }
    }

    let mut seed = [0u8; 32];
    let mut check = [0u8; 4];
    OsRng
        .try_fill_bytes(&mut seed)
        .and_then(|()| OsRng.try_fill_bytes(&mut check))
        .map_err(|e| io::Error::other(format!("no randomness from the OS: {e}")))
        .map_err(generation(path))?;
    let public = ed25519_public(&SigningKey::from_bytes(&seed).verifying_key().to_bytes());
    let mut text = encode_openssh_ed25519(&seed, u32::from_be_bytes(check)).into_bytes();
    wipe(&mut seed);
    let published = atomic_file::create_new(path, &text, 0o600);
    wipe(&mut text);
    published.map_err(generation(path))?;

    let pub_file = pub_path(path);
    write_pub_file(&pub_file, &public).map_err(generation(&pub_file))?;
    Ok(public)
}

/// Writes `PATH.pub`, keeping an existing one that already holds this key
/// and atomically replacing one that holds anything else: a stale `.pub`
/// next to a new key would mislead whoever copies it to authorized_keys.
fn write_pub_file(pub_file: &Path, public: &PublicKey) -> io::Result<()> {
    let line = format!("{}\n", public.to_openssh());
    match atomic_file::create_new(pub_file, line.as_bytes(), 0o644) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let same = fs::read_to_string(pub_file)
                .ok()
                .and_then(|t| t.lines().next().and_then(PublicKey::from_openssh))
                .is_some_and(|existing| existing == *public);
            if same {
                return Ok(());
            }
            atomic_file::replace(pub_file, line.as_bytes(), 0o644)
        }
        other => other,
    }
}

/// The openssh-key-v1 PEM text for an ed25519 `seed` with check int
/// `check`: cipher and kdf "none", one key, empty comment, padding 1, 2, 3…
/// to a multiple of 8, base64 wrapped at 70 columns, as `ssh-keygen` writes
/// it. Pure, so tests can pin it to a fixed vector.
pub fn encode_openssh_ed25519(seed: &[u8; 32], check: u32) -> String {
    let pk = SigningKey::from_bytes(seed).verifying_key().to_bytes();
    let public = ed25519_public(&pk);

    // Sized up front so no reallocation leaves a copy of the seed behind.
    let mut private = Vec::with_capacity(160);
    put_u32(&mut private, check);
    put_u32(&mut private, check);
    put_string(&mut private, ED25519.as_bytes());
    put_string(&mut private, &pk);
    put_u32(&mut private, 64);
    private.extend_from_slice(seed);
    private.extend_from_slice(&pk);
    put_string(&mut private, b"");
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }

    let mut data = Vec::with_capacity(OPENSSH_MAGIC.len() + 40 + public.blob.len() + private.len());
    data.extend_from_slice(OPENSSH_MAGIC);
    put_string(&mut data, b"none");
    put_string(&mut data, b"none");
    put_string(&mut data, b"");
    put_u32(&mut data, 1);
    put_string(&mut data, &public.blob);
    put_string(&mut data, &private);
    wipe(&mut private);

    let mut body = STANDARD.encode(&data).into_bytes();
    wipe(&mut data);
    let mut out = String::with_capacity(
        OPENSSH_BEGIN.len() + OPENSSH_END.len() + body.len() + body.len() / WRAP + 4,
    );
    out.push_str(OPENSSH_BEGIN);
    out.push('\n');
    for line in body.chunks(WRAP) {
        // Base64 output is ASCII: one byte, one char.
        out.extend(line.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out.push_str(OPENSSH_END);
    out.push('\n');
    wipe(&mut body);
    out
}

/// The public key for an ed25519 point.
fn ed25519_public(pk: &[u8; 32]) -> PublicKey {
    let mut blob = Vec::with_capacity(4 + ED25519.len() + 4 + pk.len());
    put_string(&mut blob, ED25519.as_bytes());
    put_string(&mut blob, pk);
    PublicKey {
        algorithm: ED25519.to_owned(),
        blob,
    }
}

/// Overwrites secret bytes before their memory is freed. `black_box` keeps
/// the compiler from dropping the writes as dead; it is best effort, which
/// is what is easy without another dependency.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::inspect::inspect;
    use crate::keys::testing::*;
    use std::fs::OpenOptions;
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    #[test]
    fn generated_key_is_accepted_by_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        let public = generate_ed25519(&path).unwrap();

        let derived = ssh_keygen(&["-y", "-f", path.to_str().unwrap()]);
        assert_eq!(key_fields(&derived), public.to_openssh());
        let pub_text = fs::read_to_string(pub_path(&path)).unwrap();
        assert_eq!(pub_text.trim(), public.to_openssh());
        assert_eq!(pub_text, format!("{}\n", public.to_openssh()));
    }

    #[test]
    fn generated_key_file_is_0600_and_pub_is_0644() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        generate_ed25519(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(&pub_path(&path)), 0o644);
        assert_eq!(names_in(dir.path()), ["id_ed25519", "id_ed25519.pub"]);
    }

    #[test]
    fn generation_creates_missing_ssh_dir_with_0700() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let path = home.join(".ssh").join("id_ed25519");
        generate_ed25519(&path).unwrap();
        assert_eq!(mode_of(&home), 0o700);
        assert_eq!(mode_of(&home.join(".ssh")), 0o700);
        assert!(path.is_file());
    }

    #[test]
    fn generation_leaves_an_existing_directory_mode_alone() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        generate_ed25519(&dir.path().join("id_ed25519")).unwrap();
        assert_eq!(mode_of(dir.path()), 0o755);
    }

    #[test]
    fn generation_never_overwrites_an_existing_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        fs::write(&path, "precious").unwrap();

        let err = generate_ed25519(&path).unwrap_err();
        match err {
            Error::KeyGeneration { path: p, source } => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), io::ErrorKind::AlreadyExists);
            }
            other => panic!("unexpected error: {other:?}"),
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
        assert_eq!(names_in(dir.path()), ["id_ed25519"]);
    }

    #[test]
    fn generation_replaces_a_stale_pub_file_and_keeps_a_matching_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        let pub_file = pub_path(&path);
        fs::write(&pub_file, "ssh-ed25519 stale\n").unwrap();
        let public = generate_ed25519(&path).unwrap();
        assert_eq!(
            fs::read_to_string(&pub_file).unwrap(),
            format!("{}\n", public.to_openssh())
        );

        // A .pub holding the same key, with a comment, is left as it is.
        let with_comment = format!("{} me@host\n", public.to_openssh());
        fs::write(&pub_file, &with_comment).unwrap();
        write_pub_file(&pub_file, &public).unwrap();
        assert_eq!(fs::read_to_string(&pub_file).unwrap(), with_comment);
        assert_eq!(names_in(dir.path()), ["id_ed25519", "id_ed25519.pub"]);
    }

    #[test]
    fn fixed_vector_encoding_is_accepted_by_ssh_keygen() {
        // Pinned after `ssh-keygen -y` accepted it and openssl derived the
        // same public key from this seed; the check ints (01020304 twice)
        // and padding (0102030405) are visible in the decoded body.
        const FIXED: &str = "\
-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACCKiOPddAnxlf1S2y08ul1yymcJvx2UEhvzdIgBtA9vXAAAAIgBAgMEAQID
BAAAAAtzc2gtZWQyNTUxOQAAACCKiOPddAnxlf1S2y08ul1yymcJvx2UEhvzdIgBtA9vXA
AAAEABAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAYqI4910CfGV/VLbLTy6XXLK
Zwm/HZQSG/N0iAG0D29cAAAAAAECAwQF
-----END OPENSSH PRIVATE KEY-----
";
        let text = encode_openssh_ed25519(&[1; 32], 0x0102_0304);
        assert_eq!(text, FIXED);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fixed");
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .unwrap();
        let derived = ssh_keygen(&["-y", "-f", path.to_str().unwrap()]);
        let pk = SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes();
        assert_eq!(key_fields(&derived), ed25519_public(&pk).to_openssh());
        assert_eq!(
            key_fields(&derived),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
        );
        assert_eq!(
            inspect(&path).unwrap().public.unwrap().to_openssh(),
            key_fields(&derived)
        );
    }
}
