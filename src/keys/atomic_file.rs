//! Writing files that must never be seen half-written or with a wider mode
//! than asked: private keys, their public halves, and the pin file.
//!
//! The contents go to a temporary file in the target's directory, created
//! with exactly the final mode and synced, and are then published in one
//! step: `hard_link` for a file that must not replace anything (it fails
//! with `AlreadyExists` instead), `rename` for one that replaces its
//! predecessor.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::keys::permissions;

use rand_core::{OsRng, RngCore};

/// Creates `target` with `contents` and `mode`, failing with
/// `AlreadyExists` rather than replacing anything, and never showing a
/// half-written or wider-moded file under the final name.
pub fn create_new(target: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let tmp = TempFile::create(target, contents, mode)?;
    fs::hard_link(&tmp.path, target)
}

/// Creates the directory that will hold `target`, and any missing
/// ancestors, 0700 as `~/.ssh` should be; an existing one, and its mode, is
/// left alone.
pub fn create_parent_dir(target: &Path) -> io::Result<()> {
    match target.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => permissions::create_dir_all(dir, 0o700),
        None => Ok(()),
    }
}

/// Replaces `target` (or creates it) with `contents` and `mode`: readers
/// see either the old file or the new one, whole.
pub fn replace(target: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let tmp = TempFile::create(target, contents, mode)?;
    fs::rename(&tmp.path, target)
}

/// The permission bits of the file at `path`, to keep them when it is replaced.
pub fn mode_of(path: &Path) -> Option<u32> {
    permissions::mode_of(path)
}

/// A temporary file next to its target, removed when dropped, so every error
/// path (and the success path, once it is linked or renamed) cleans up.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Creates `.<name>.tmp-<pid>-<random>` in the target's directory (the
    /// same file system, so link and rename work) with exactly `mode`, writes
    /// `contents` and syncs them to disk.
    fn create(target: &Path, contents: &[u8], mode: u32) -> io::Result<TempFile> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(
            ".tmp-{}-{:016x}",
            std::process::id(),
            OsRng.next_u64()
        ));
        let path = target.with_file_name(tmp_name);

        let mut file = permissions::open_new(&path, mode)?;
        let tmp = TempFile { path };
        file.write_all(contents)?;
        file.sync_all()?;
        Ok(tmp)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: once linked, the key is published whether or not the
        // temporary name goes away, and there is nobody to report to here.
        let _ = fs::remove_file(&self.path);
    }
}
