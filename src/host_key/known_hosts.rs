//! Reads OpenSSH `known_hosts` files and decides whether a server's host key is trusted.
//!
//! We parse the file ourselves, with OpenSSH's semantics (`match_hostname` and `hostkeys.c`),
//! and take only the server's raw host key blob from libssh2. libssh2's own `known_hosts` code
//! stops at the first line it cannot parse, knows no wildcards or negated patterns, compares the
//! presented key against keys of any type, and lets a plain `host` line apply to every port, so
//! it would both refuse hosts OpenSSH trusts and trust keys OpenSSH would not.
//! Hashed entries (`|1|salt|hmac`), `@revoked` and `@cert-authority` markers are understood;
//! lines that cannot be parsed are skipped and counted rather than ending the read.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest as _, Sha1};

use crate::address;
use crate::debug;
use crate::keys::atomic_file;
use crate::keys::wire::key_type;
use crate::local_file;
use crate::pattern;

/// Port whose hosts OpenSSH writes and looks up without brackets.
const DEFAULT_PORT: u16 = 22;

/// Magic prefix of a hashed host field (`|1|salt|hash`); the only hash scheme OpenSSH has.
const HASH_MAGIC: &str = "|1|";

/// Far above any real known_hosts file (a line is about 100 bytes).
pub const MAX_FILE: u64 = 64 << 20;

/// Files edited by hand sometimes lose base64 padding; OpenSSH's decoder does not care either.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One parsed `known_hosts` file.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    path: PathBuf,
    entries: Vec<Entry>,
    /// Non-blank, non-comment lines that could not be parsed.
    skipped: usize,
}

/// The result of checking a presented host key.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A line for this host holds exactly this key. `line` is 1-based.
    Trusted { line: usize },
    /// A `@revoked` line holds this key.
    Revoked { line: usize },
    /// Lines for this host hold a key of the SAME type but a different key: the first such line.
    Changed { line: usize },
    /// No line for this host holds a key of this type.
    Unknown {
        /// Key types (e.g. "ecdsa-sha2-nistp256") recorded for this host under other types, for the message.
        other_types: Vec<String>,
        /// 1-based lines of plain-host (no port) entries that name this host while the port is not 22:
        /// OpenSSH ignores those for other ports; we report them so the message can say so.
        plain_host_lines: Vec<usize>,
    },
}

/// The marker that may open a line; it decides what the line's key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// An ordinary line: the key is a host key for the named hosts.
    HostKey,
    /// `@revoked`: the key must be refused for the named hosts.
    Revoked,
    /// `@cert-authority`: the key signs host certificates; it says nothing about plain host keys.
    CertAuthority,
}

/// Which hosts a line names.
#[derive(Debug, Clone)]
enum Hosts {
    /// `|1|salt|hash`: the line names the host whose lookup name hashes to `hash` under `salt`.
    Hashed { salt: Vec<u8>, hash: [u8; 20] },
    /// A comma-separated pattern list, possibly with `*`, `?` and `!`.
    Patterns(String),
}

/// One usable line of the file.
#[derive(Debug, Clone)]
struct Entry {
    /// 1-based, so messages can point at the line as an editor shows it.
    line: usize,
    marker: Marker,
    hosts: Hosts,
    key_type: String,
    blob: Vec<u8>,
}

impl KnownHosts {
    /// Read `path`; a missing file is an empty set (not an error); other read errors are returned.
    ///
    /// Bytes that are not UTF-8 are replaced rather than refused, so one bad line cannot hide
    /// the rest of the file.
    ///
    /// # Errors
    /// Any read error other than the file not existing, such as a permission error.
    pub fn load(path: &Path) -> io::Result<KnownHosts> {
        let known = match local_file::read(path, MAX_FILE) {
            Ok(bytes) => Self::parse(path, &String::from_utf8_lossy(&bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Self::parse(path, ""),
            Err(err) => return Err(err),
        };
        if known.skipped > 0 {
            debug!(
                "{}: {} line(s) could not be read and are ignored",
                path.display(),
                known.skipped
            );
        }
        Ok(known)
    }

    /// Parse text (for tests and for load). Never fails: lines it cannot parse are skipped
    /// (and counted), as OpenSSH does.
    pub fn parse(path: &Path, text: &str) -> KnownHosts {
        let mut entries = Vec::new();
        let mut skipped = 0;
        for (index, line) in text.lines().enumerate() {
            if is_blank_or_comment(line) {
                continue;
            }
            match parse_entry(index + 1, line) {
                Some(entry) => entries.push(entry),
                None => skipped += 1,
            }
        }
        KnownHosts {
            path: path.to_path_buf(),
            entries,
            skipped,
        }
    }

    /// The file this set was read from, for messages and for appending new keys.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Check the key the server presented. `key_blob` is the SSH wire blob; its key type is the
    /// first SSH string inside the blob (uint32 BE length + bytes).
    ///
    /// A revoked key wins over any line that trusts it, as in OpenSSH; a key is only "changed"
    /// when a line holds another key of its own type, since a server may hold several types.
    pub fn check(&self, host: &str, port: u16, key_blob: &[u8]) -> Verdict {
        let name = lookup_name(host, port);
        if let Some(entry) = self
            .entries_for(&name, Marker::Revoked)
            .find(|entry| entry.blob == key_blob)
        {
            return Verdict::Revoked { line: entry.line };
        }
        if let Some(entry) = self
            .entries_for(&name, Marker::HostKey)
            .find(|entry| entry.blob == key_blob)
        {
            return Verdict::Trusted { line: entry.line };
        }
        let presented_type = key_type(key_blob);
        if let Some(entry) = self
            .entries_for(&name, Marker::HostKey)
            .find(|entry| Some(&entry.key_type) == presented_type.as_ref())
        {
            return Verdict::Changed { line: entry.line };
        }
        Verdict::Unknown {
            other_types: self.key_types_for(host, port),
            plain_host_lines: self.plain_host_lines(host, port),
        }
    }

    /// Key types recorded for this host/port, in file order, deduplicated (used to order the
    /// host-key algorithm preference, as OpenSSH does).
    pub fn key_types_for(&self, host: &str, port: u16) -> Vec<String> {
        let name = lookup_name(host, port);
        let mut types: Vec<String> = Vec::new();
        for entry in self.entries_for(&name, Marker::HostKey) {
            if !types.contains(&entry.key_type) {
                types.push(entry.key_type.clone());
            }
        }
        types
    }

    /// The host-key lines for this host/port, in file order: 1-based line and key blob.
    pub fn keys_for(&self, host: &str, port: u16) -> Vec<(usize, &[u8])> {
        let name = lookup_name(host, port);
        self.entries
            .iter()
            .filter(|entry| entry.marker == Marker::HostKey && entry.hosts.matches(&name))
            .map(|entry| (entry.line, entry.blob.as_slice()))
            .collect()
    }

    /// Lines with the given marker whose hosts field names `name`.
    fn entries_for<'a>(&'a self, name: &'a str, marker: Marker) -> impl Iterator<Item = &'a Entry> {
        self.entries
            .iter()
            .filter(move |entry| entry.marker == marker && entry.hosts.matches(name))
    }

    /// Host-key lines that name the bare host but not `[host]:port`: OpenSSH does not use them
    /// for a port other than 22, which surprises users who added the host without its port.
    fn plain_host_lines(&self, host: &str, port: u16) -> Vec<usize> {
        if port == DEFAULT_PORT {
            return Vec::new();
        }
        let name = lookup_name(host, port);
        let bare = normalize_host(host);
        self.entries
            .iter()
            .filter(|entry| entry.marker == Marker::HostKey)
            .filter(|entry| entry.hosts.matches(&bare) && !entry.hosts.matches(&name))
            .map(|entry| entry.line)
            .collect()
    }
}

impl Hosts {
    /// Whether this hosts field names `name` (already a lookup name, lowercased).
    fn matches(&self, name: &str) -> bool {
        match self {
            Hosts::Hashed { salt, hash } => hmac_sha1(salt, name.as_bytes()) == *hash,
            Hosts::Patterns(list) => pattern::host_list_matches(list, name),
        }
    }
}

/// The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise. Host lowercased.
/// An IPv6 literal is written without brackets in `host` (e.g. `::1`) and becomes `[::1]:8022`.
pub fn lookup_name(host: &str, port: u16) -> String {
    let host = normalize_host(host);
    if port == DEFAULT_PORT {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// The line for this host and key with the name hashed, as `HashKnownHosts
/// yes` writes it: `|1|<base64 salt>|<base64 HMAC-SHA1 of the name> <type> <key>`.
pub fn hashed_line_for(host: &str, port: u16, key_blob: &[u8], salt: &[u8; 20]) -> String {
    let name = lookup_name(host, port);
    format!(
        "{HASH_MAGIC}{}|{} {} {}",
        STANDARD.encode(salt),
        STANDARD.encode(hmac_sha1(salt, name.as_bytes())),
        key_type(key_blob).unwrap_or_default(),
        STANDARD.encode(key_blob)
    )
}

/// Appends `line` to the known_hosts file at `path`, replacing the file
/// atomically so that a crash or a concurrent reader never sees half a
/// line; a new file (and its folder) is created with `new_mode`, an
/// existing one keeps its mode.
pub fn append(path: &Path, line: &str, new_mode: u32) -> io::Result<()> {
    atomic_file::create_parent_dir(path)?;
    let (mut text, mode) = match local_file::read(path, MAX_FILE) {
        Ok(bytes) => (bytes, atomic_file::mode_of(path).unwrap_or(new_mode)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), new_mode),
        Err(e) => return Err(e),
    };
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text.extend_from_slice(line.as_bytes());
    text.push(b'\n');
    atomic_file::replace(path, &text, mode)
}

/// The exact line to append to `known_hosts` for this host and key:
/// `<lookup_name> <type> <base64 blob>` (standard base64 with padding).
///
/// A blob without a readable type cannot have come from a working handshake; its line gets an
/// empty type, which this parser (like OpenSSH) skips rather than trusts.
pub fn line_for(host: &str, port: u16, key_blob: &[u8]) -> String {
    format!(
        "{} {} {}",
        lookup_name(host, port),
        key_type(key_blob).unwrap_or_default(),
        STANDARD.encode(key_blob)
    )
}

/// Lowercases the host and drops brackets a caller may already have put around an IPv6
/// literal, so both spellings give the same lookup name.
fn normalize_host(host: &str) -> String {
    address::unbracketed(host).to_ascii_lowercase()
}

/// Blank lines and `#` comments carry nothing and are not counted as skipped.
fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim_start_matches(is_field_separator);
    line.is_empty() || line.starts_with('#')
}

/// OpenSSH separates fields with spaces and tabs; `\r` is included so CRLF files read cleanly.
fn is_field_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r')
}

/// Parses one non-blank, non-comment line; `None` means the line is unusable.
fn parse_entry(line: usize, text: &str) -> Option<Entry> {
    let mut fields = text.split(is_field_separator).filter(|f| !f.is_empty());
    let mut first = fields.next()?;
    let marker = match first.strip_prefix('@') {
        Some(name) => {
            let marker = parse_marker(name)?;
            first = fields.next()?;
            marker
        }
        None => Marker::HostKey,
    };
    let hosts = parse_hosts(first)?;
    let key_type = fields.next()?.to_owned();
    let blob = LENIENT_BASE64.decode(fields.next()?).ok()?;
    // A line whose declared type disagrees with its blob is corrupt; OpenSSH refuses it too.
    if self::key_type(&blob).as_deref() != Some(key_type.as_str()) {
        return None;
    }
    Some(Entry {
        line,
        marker,
        hosts,
        key_type,
        blob,
    })
}

/// The word after `@`; an unknown marker makes the line unusable, as in OpenSSH.
fn parse_marker(name: &str) -> Option<Marker> {
    match name {
        "cert-authority" => Some(Marker::CertAuthority),
        "revoked" => Some(Marker::Revoked),
        _ => None,
    }
}

/// The hosts field: a hashed entry or a pattern list. A `|` field that is not a well-formed
/// `|1|salt|hash` cannot name any host, so the line is unusable.
fn parse_hosts(field: &str) -> Option<Hosts> {
    if !field.starts_with('|') {
        return Some(Hosts::Patterns(field.to_owned()));
    }
    let (salt, hash) = field.strip_prefix(HASH_MAGIC)?.split_once('|')?;
    let salt = LENIENT_BASE64.decode(salt).ok()?;
    let hash = LENIENT_BASE64.decode(hash).ok()?.try_into().ok()?;
    Some(Hosts::Hashed { salt, hash })
}

/// HMAC-SHA1 (RFC 2104), as used by hashed `known_hosts` entries; written out because it is a
/// dozen lines over the SHA-1 we already depend on.
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let inner_pad = block_key.map(|b| b ^ 0x36);
    let outer_pad = block_key.map(|b| b ^ 0x5c);
    let inner = Sha1::new()
        .chain_update(inner_pad)
        .chain_update(message)
        .finalize();
    Sha1::new()
        .chain_update(outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::process::Command;

    /// A key pair made by ssh-keygen, so the tests compare against what OpenSSH really writes.
    struct Key {
        key_type: String,
        base64: String,
        blob: Vec<u8>,
        pub_path: PathBuf,
    }

    impl Key {
        /// A `known_hosts` line naming `hosts` with this key.
        fn line(&self, hosts: &str) -> String {
            format!("{hosts} {} {}", self.key_type, self.base64)
        }
    }

    fn generate_key(dir: &Path, name: &str, kind: &str) -> Key {
        let path = dir.join(name);
        let status = Command::new("ssh-keygen")
            .args(["-t", kind, "-N", "", "-q", "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen runs");
        assert!(status.success(), "ssh-keygen -t {kind} failed");
        let pub_path = dir.join(format!("{name}.pub"));
        let text = fs::read_to_string(&pub_path).expect("public key is readable");
        let mut fields = text.split_whitespace();
        let key_type = fields.next().expect("type field").to_owned();
        let base64 = fields.next().expect("key field").to_owned();
        let blob = STANDARD.decode(&base64).expect("key is base64");
        Key {
            key_type,
            base64,
            blob,
            pub_path,
        }
    }

    fn parse(lines: &[String]) -> KnownHosts {
        KnownHosts::parse(Path::new("known_hosts"), &lines.join("\n"))
    }

    fn unknown(other_types: &[&str], plain_host_lines: &[usize]) -> Verdict {
        Verdict::Unknown {
            other_types: other_types.iter().map(ToString::to_string).collect(),
            plain_host_lines: plain_host_lines.to_vec(),
        }
    }

    #[test]
    fn hmac_sha1_matches_rfc2202_test_cases_1_and_2() {
        let case_1 = hmac_sha1(&[0x0b; 20], b"Hi There");
        assert_eq!(
            hex(&case_1),
            "b617318655057264e28bc0b6fb378c8ef146be00",
            "RFC 2202 test case 1"
        );
        let case_2 = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&case_2),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            "RFC 2202 test case 2"
        );
    }

    #[test]
    fn hmac_sha1_hashes_keys_longer_than_a_block() {
        // RFC 2202 test case 6.
        let digest = hmac_sha1(
            &[0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(hex(&digest), "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hashed_entry_written_by_ssh_keygen_matches() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let file = dir.path().join("known_hosts");
        let text = [
            key.line("[example.com]:8022"),
            key.line("example.org"),
            "# a comment ssh-keygen keeps".to_owned(),
        ]
        .join("\n");
        fs::write(&file, text + "\n").unwrap();
        let output = Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&file)
            .output()
            .expect("ssh-keygen -H runs");
        assert!(output.status.success(), "ssh-keygen -H failed: {output:?}");

        let known = KnownHosts::load(&file).unwrap();
        let hashed = fs::read_to_string(&file).unwrap();
        assert!(hashed.lines().take(2).all(|l| l.starts_with("|1|")));
        assert!(!hashed.contains("example"), "names are hashed away");
        assert_eq!(known.skipped, 0);
        assert_eq!(
            known.check("example.com", 8022, &key.blob),
            Verdict::Trusted { line: 1 }
        );
        assert_eq!(
            known.check("Example.ORG", 22, &key.blob),
            Verdict::Trusted { line: 2 }
        );
        assert_eq!(known.check("example.com", 22, &key.blob), unknown(&[], &[]));
        assert_eq!(
            known.check("example.org", 2222, &key.blob),
            unknown(&[], &[2]),
            "a hashed plain-host entry is reported for another port"
        );
    }

    #[test]
    fn bracketed_port_entry_matches_its_port_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let known = parse(&[key.line("[pi.local]:8022")]);
        assert_eq!(
            known.check("pi.local", 8022, &key.blob),
            Verdict::Trusted { line: 1 }
        );
        assert_eq!(known.check("pi.local", 8023, &key.blob), unknown(&[], &[]));
        assert_eq!(known.check("pi.local", 22, &key.blob), unknown(&[], &[]));
    }

    #[test]
    fn plain_host_entry_is_ignored_for_another_port_but_reported() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let known = parse(&["# header".to_owned(), key.line("other,pi.local")]);
        assert_eq!(known.check("PI.local", 8022, &key.blob), unknown(&[], &[2]));
        assert!(known.key_types_for("pi.local", 8022).is_empty());
    }

    #[test]
    fn plain_host_entry_matches_port_22() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let known = parse(&[key.line("pi.local")]);
        assert_eq!(
            known.check("pi.local", 22, &key.blob),
            Verdict::Trusted { line: 1 }
        );
    }

    #[test]
    fn different_key_of_same_type_is_changed_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let old = generate_key(dir.path(), "old", "ed25519");
        let new = generate_key(dir.path(), "new", "ed25519");
        let ecdsa = generate_key(dir.path(), "ecdsa", "ecdsa");
        let known = parse(&[
            ecdsa.line("[pi.local]:8022"),
            old.line("elsewhere"),
            old.line("[pi.local]:8022"),
            old.line("[pi.local]:8022"),
        ]);
        assert_eq!(
            known.check("pi.local", 8022, &new.blob),
            Verdict::Changed { line: 3 }
        );
    }

    #[test]
    fn key_of_another_type_is_unknown_and_lists_that_type() {
        let dir = tempfile::tempdir().unwrap();
        let ed25519 = generate_key(dir.path(), "ed25519", "ed25519");
        let ecdsa = generate_key(dir.path(), "ecdsa", "ecdsa");
        assert_eq!(ecdsa.key_type, "ecdsa-sha2-nistp256");
        let known = parse(&[ecdsa.line("pi.local"), ecdsa.line("pi.local")]);
        assert_eq!(
            known.check("pi.local", 22, &ed25519.blob),
            unknown(&["ecdsa-sha2-nistp256"], &[])
        );
    }

    #[test]
    fn key_types_for_lists_types_in_file_order_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let ed25519 = generate_key(dir.path(), "ed25519", "ed25519");
        let ecdsa = generate_key(dir.path(), "ecdsa", "ecdsa");
        let known = parse(&[
            ecdsa.line("pi.local"),
            ed25519.line("*"),
            ecdsa.line("pi.local"),
            format!("@revoked {}", ed25519.line("pi.local")),
        ]);
        assert_eq!(
            known.key_types_for("PI.LOCAL", 22),
            ["ecdsa-sha2-nistp256", "ssh-ed25519"]
        );
    }

    #[test]
    fn revoked_key_is_refused_even_if_also_listed() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let known = parse(&[key.line("pi.local"), format!("@revoked {}", key.line("*"))]);
        assert_eq!(
            known.check("pi.local", 22, &key.blob),
            Verdict::Revoked { line: 2 }
        );
    }

    #[test]
    fn negated_pattern_excludes_host() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let known = parse(&[key.line("*.local,!bad.local")]);
        assert_eq!(
            known.check("good.local", 22, &key.blob),
            Verdict::Trusted { line: 1 }
        );
        assert_eq!(known.check("bad.local", 22, &key.blob), unknown(&[], &[]));
    }

    #[test]
    fn wildcard_pattern_matches() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let known = parse(&[
            key.line("[*.LAN]:*"),
            key.line("[10.0.0.?]:8022"),
            key.line("[*]:2222"),
        ]);
        assert_eq!(
            known.check("pi.lan", 8022, &key.blob),
            Verdict::Trusted { line: 1 }
        );
        assert_eq!(
            known.check("10.0.0.7", 8022, &key.blob),
            Verdict::Trusted { line: 2 }
        );
        assert_eq!(known.check("10.0.0.77", 8022, &key.blob), unknown(&[], &[]));
        assert_eq!(
            known.check("anything", 2222, &key.blob),
            Verdict::Trusted { line: 3 }
        );
        assert_eq!(known.check("pi.lan", 22, &key.blob), unknown(&[], &[]));
    }

    #[test]
    fn cert_authority_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let ca = generate_key(dir.path(), "ca", "ed25519");
        let known = parse(&[format!("@cert-authority {}", ca.line("*"))]);
        assert_eq!(known.skipped, 0);
        assert_eq!(known.check("pi.local", 22, &ca.blob), unknown(&[], &[]));
        assert!(known.key_types_for("pi.local", 22).is_empty());
    }

    #[test]
    fn unparsable_lines_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let ecdsa = generate_key(dir.path(), "ecdsa", "ecdsa");
        let known = parse(&[
            "pi.local ssh-ed25519 !!!not-base64!!!".to_owned(),
            "pi.local ssh-ed25519".to_owned(),
            format!("pi.local ssh-rsa {}", ecdsa.base64),
            format!("@bogus {}", key.line("pi.local")),
            format!("|1|nothash {} {}", key.key_type, key.base64),
            "pi.local 2048 65537 1234567".to_owned(),
            String::new(),
            "   # indented comment".to_owned(),
            key.line("pi.local"),
        ]);
        assert_eq!(known.skipped, 6);
        assert_eq!(
            known.check("pi.local", 22, &key.blob),
            Verdict::Trusted { line: 9 }
        );
    }

    #[test]
    fn crlf_tabs_and_leading_whitespace_are_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let text = format!(
            "# comment\r\n \t\r\n  pi.local\t{} {}  a comment\r\n",
            key.key_type, key.base64
        );
        let known = KnownHosts::parse(Path::new("known_hosts"), &text);
        assert_eq!(known.skipped, 0);
        assert_eq!(
            known.check("pi.local", 22, &key.blob),
            Verdict::Trusted { line: 3 }
        );
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let known = KnownHosts::load(&path).unwrap();
        assert_eq!(known.path(), path);
        assert_eq!(known.skipped, 0);
        assert_eq!(known.check("pi.local", 22, b"blob"), unknown(&[], &[]));
    }

    #[test]
    fn unreadable_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            KnownHosts::load(dir.path()).is_err(),
            "a directory is no file"
        );
    }

    #[test]
    fn fingerprint_matches_ssh_keygen_l() {
        let dir = tempfile::tempdir().unwrap();
        for kind in ["ed25519", "ecdsa"] {
            let key = generate_key(dir.path(), kind, kind);
            let output = Command::new("ssh-keygen")
                .args(["-E", "sha256", "-l", "-f"])
                .arg(&key.pub_path)
                .output()
                .expect("ssh-keygen -l runs");
            assert!(output.status.success());
            let stdout = String::from_utf8(output.stdout).unwrap();
            let expected = stdout.split_whitespace().nth(1).expect("fingerprint field");
            assert_eq!(crate::keys::wire::fingerprint(&key.blob), expected);
        }
    }

    #[test]
    fn key_type_reads_the_first_string_of_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ecdsa");
        assert_eq!(key_type(&key.blob).as_deref(), Some("ecdsa-sha2-nistp256"));
        assert_eq!(key_type(&[0, 0, 0, 7, b's', b's', b'h']), None, "truncated");
        assert_eq!(key_type(&[0, 0]), None);
        assert_eq!(key_type(&[]), None);
    }

    #[test]
    fn line_for_writes_bracketed_name_for_non_default_port() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path(), "host", "ed25519");
        let line = line_for("Pi.Local", 8022, &key.blob);
        assert_eq!(line, format!("[pi.local]:8022 ssh-ed25519 {}", key.base64));
        assert_eq!(
            line_for("pi.local", 22, &key.blob),
            format!("pi.local ssh-ed25519 {}", key.base64)
        );
        let known = KnownHosts::parse(Path::new("known_hosts"), &line);
        assert_eq!(
            known.check("pi.local", 8022, &key.blob),
            Verdict::Trusted { line: 1 }
        );
    }

    #[test]
    fn ipv6_literal_lookup_name_is_bracketed() {
        assert_eq!(lookup_name("::1", 8022), "[::1]:8022");
        assert_eq!(lookup_name("[::1]", 8022), "[::1]:8022");
        assert_eq!(lookup_name("FE80::1", 22), "fe80::1");
        assert_eq!(lookup_name("Host", 22), "host");
    }
}
