//! Who may change the directory that holds our private key, in the
//! platform's terms: on Unix its owner and mode bits.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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
