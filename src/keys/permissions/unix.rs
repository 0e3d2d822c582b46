//! Unix: owners and mode bits.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `path`, which must not exist, with exactly `mode`: the umask may
/// narrow what `open` gives, and setting it on the open file never widens
/// anything we did not ask for (a public key must stay readable by tools
/// that expect 0644).
pub fn open_new(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(file)
}

/// Creates `dir` and its missing ancestors with `mode`; an existing one,
/// and its mode, is left alone.
pub fn create_dir_all(dir: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
}

/// The permission bits of the file at `path`, to keep them when it is replaced.
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// How other users can reach the private key at `path`, and the command
/// that stops them; `None` when only its owner can.
pub fn exposure(path: &Path) -> Option<(String, String)> {
    let mode = mode_of(path)?;
    (mode & 0o077 != 0).then(|| {
        (
            format!("mode {mode:03o}"),
            format!("chmod 600 {}", path.display()),
        )
    })
}

/// Why `dir` (symlinks followed) is no place for our private key, as
/// OpenSSH's StrictModes judges it: another user than us or root owns it,
/// or its group or others may write to it, and so could put a key of their
/// choosing in place of ours. `None` when it is fine, or cannot be read.
pub fn unsafe_dir(dir: &Path) -> Option<String> {
    let meta = fs::metadata(dir).ok()?;
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!("is owned by another user (uid {})", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "can be written by other users (mode {:03o})",
            meta.mode() & 0o777
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_directory_others_can_write_is_unsafe_and_a_private_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(unsafe_dir(dir.path()), None);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o775)).unwrap();
        assert_eq!(
            unsafe_dir(dir.path()).as_deref(),
            Some("can be written by other users (mode 775)")
        );
    }
}
