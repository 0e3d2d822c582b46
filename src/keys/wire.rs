//! The SSH wire format as keys use it (RFC 4251: `uint32`, `string`), and
//! the `SHA256:` fingerprint of a key blob as OpenSSH prints it. Shared by
//! the key file reader and the known_hosts matcher.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};

/// Reads SSH wire fields from a byte slice; every read returns `None`
/// rather than panicking on short or corrupt input.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.buf.split_at_checked(n)?;
        self.buf = rest;
        Some(head)
    }

    /// A big-endian `uint32`.
    pub fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.buf.split_first_chunk::<4>()?;
        self.buf = rest;
        Some(u32::from_be_bytes(*head))
    }

    /// A `string`: a `uint32` length and that many bytes.
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }
}

/// "SHA256:" and the unpadded base64 of the blob's SHA-256, as
/// `ssh-keygen -l` prints it.
pub fn fingerprint(key_blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(key_blob))
    )
}

/// The key type string inside a blob, if parseable.
pub fn key_type(key_blob: &[u8]) -> Option<String> {
    let name = Reader::new(key_blob).string()?;
    let name = std::str::from_utf8(name).ok()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// Appends a big-endian `uint32`.
pub fn put_u32(buf: &mut Vec<u8>, n: u32) {
    buf.extend_from_slice(&n.to_be_bytes());
}

/// Appends a `string`: a big-endian `uint32` length, then the bytes. Every
/// string we write is a few dozen bytes.
pub fn put_string(buf: &mut Vec<u8>, s: &[u8]) {
    put_u32(buf, s.len() as u32);
    buf.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_reads_as_none_not_a_panic() {
        let mut r = Reader::new(&[0, 0, 0, 5, b'a', b'b']);
        assert_eq!(r.string(), None);
        assert_eq!(Reader::new(&[0, 0]).u32(), None);
    }

    #[test]
    fn strings_read_in_order_until_empty() {
        let mut r = Reader::new(&[0, 0, 0, 1, b'x', 0, 0, 0, 0]);
        assert_eq!(r.string(), Some(&b"x"[..]));
        assert_eq!(r.string(), Some(&b""[..]));
        assert!(r.is_empty());
    }
}
