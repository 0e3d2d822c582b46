//! Reading the user's own files (known_hosts, the pin file, key files):
//! regular files only, and only up to a size, so that a wrong path such as
//! `/dev/zero`, a FIFO or a disk image gives a clear error instead of
//! filling memory or waiting forever.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

/// The contents of the regular file at `path` (symlinks followed), at most
/// `cap` bytes; `NotFound` when it does not exist, `InvalidInput` when it is
/// not a regular file, `InvalidData` when it is larger than `cap`.
pub fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO for reading waits for a writer.
    regular(&fs::metadata(path)?)?;
    let file = File::open(path)?;
    // Checked again on what was opened, in case the path changed meanwhile.
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} KiB", cap / 1024),
        ));
    }
    Ok(bytes)
}

fn regular(metadata: &fs::Metadata) -> io::Result<()> {
    if metadata.is_file() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_up_to_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"12345").unwrap();
        assert_eq!(read(&file, 5).unwrap(), b"12345");
        let err = read(&file, 4).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "larger than 0 KiB");
        let err = read(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file");
        let err = read(dir.path(), 1 << 20).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file");
        let err = read(&dir.path().join("missing"), 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
