//! Who may read or change our files, in the platform's terms: on Unix
//! owners and mode bits, on Windows the file's DACL. Everything else in the
//! crate asks through these few functions.
//!
//! `mode` is the Unix permission bits asked for: on Windows, a mode that
//! gives nothing to group and others (0o600, 0o700) means a DACL granting
//! only the current user; any other leaves the file the ACL its folder
//! passes on.

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
pub use unix::{create_dir_all, exposure, mode_of, open_new, unsafe_dir};
#[cfg(windows)]
pub use windows::{create_dir_all, exposure, mode_of, open_new, unsafe_dir};
