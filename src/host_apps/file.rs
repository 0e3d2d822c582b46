//! Reading and replacing an app's config file: through a symbolic link to
//! the file it names (so that a dotfile manager's link survives), the
//! previous contents kept as `FILE.bak`, the new ones published atomically
//! with the old file's mode (0600 for a new file: the args may hold a
//! passphrase or the path of a key).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::keys::atomic_file;
use crate::local_file;

/// The largest config file we read. `~/.claude.json` also holds Claude
/// Code's per-project history and grows to megabytes; a file larger than
/// this is not a config file.
const MAX_SIZE: u64 = 64 << 20;

/// The mode of a file we create.
const NEW_FILE_MODE: u32 = 0o600;

/// The file as found: where its bytes really are, and what they are.
#[derive(Debug)]
pub struct Found {
    /// The path we were given, for messages.
    pub path: PathBuf,
    /// The file the path leads to, through any symbolic links.
    real: PathBuf,
    /// Its text; `None` when it does not exist yet.
    pub text: Option<String>,
}

/// What was written.
pub struct Written {
    /// The copy of the previous contents, when there were some.
    pub backup: Option<PathBuf>,
}

/// Reads the config file at `path`, which may not exist yet.
pub fn read(path: &Path) -> Result<Found, Error> {
    let failed = |detail: String| Error::HostAppFile {
        path: path.to_path_buf(),
        detail,
    };
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let real = if is_link {
        fs::canonicalize(path).map_err(|e| {
            failed(format!(
                "it is a symbolic link that leads to no file ({e}); fix the link, or pass --file"
            ))
        })?
    } else {
        path.to_path_buf()
    };
    let text = match local_file::read(&real, MAX_SIZE) {
        Ok(bytes) => Some(
            String::from_utf8(bytes)
                .map_err(|_| failed("it is not UTF-8 text, so not a JSON file".into()))?,
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(failed(format!("cannot read it: {e}"))),
    };
    Ok(Found {
        path: path.to_path_buf(),
        real,
        text,
    })
}

/// Replaces the file `found` came from with `contents`, after copying what
/// it held to `.bak` beside it; creates it, and its folders, if missing.
pub fn write(found: &Found, contents: &str) -> Result<Written, Error> {
    let failed = |what: &str, e: io::Error| Error::HostAppFile {
        path: found.path.clone(),
        detail: format!("cannot {what}: {e}"),
    };
    let mode = atomic_file::mode_of(&found.real).unwrap_or(NEW_FILE_MODE);
    let backup = match &found.text {
        Some(text) => {
            let mut name = OsString::from(found.real.as_os_str());
            name.push(".bak");
            let backup = PathBuf::from(name);
            atomic_file::replace(&backup, text.as_bytes(), mode)
                .map_err(|e| failed(&format!("save its backup {}", backup.display()), e))?;
            Some(backup)
        }
        None => {
            atomic_file::create_parent_dir(&found.real)
                .map_err(|e| failed("create its folder", e))?;
            None
        }
    };
    atomic_file::replace(&found.real, contents.as_bytes(), mode)
        .map_err(|e| failed("write it", e))?;
    Ok(Written { backup })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_file_and_its_folders_are_created_private_without_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/mcp.json");
        let found = read(&path).unwrap();
        assert_eq!(found.text, None);
        assert!(write(&found, "{}\n").unwrap().backup.is_none());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(atomic_file::mode_of(&path), Some(0o600));
    }

    #[test]
    fn an_existing_file_keeps_its_mode_and_its_old_text_in_bak_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let found = read(&link).unwrap();
        assert_eq!(found.text.as_deref(), Some("old"));
        let backup = write(&found, "new").unwrap().backup.unwrap();
        assert_eq!(backup, dir.path().join("real.json.bak"));
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(fs::read_to_string(&backup).unwrap(), "old");
        assert_eq!(atomic_file::mode_of(&real), Some(0o640));
        assert_eq!(atomic_file::mode_of(&backup), Some(0o640));
    }

    #[test]
    fn unreadable_files_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with(": cannot read it: not a regular file"),
            "{err}"
        );
        let bad = dir.path().join("bad.json");
        fs::write(&bad, b"{\"a\": \"\xff\"}").unwrap();
        let err = read(&bad).unwrap_err().to_string();
        assert!(
            err.ends_with("bad.json: it is not UTF-8 text, so not a JSON file"),
            "{err}"
        );
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(
            read(&dangling)
                .unwrap_err()
                .to_string()
                .contains("symbolic link that leads to no file")
        );
    }
}
