//! Your SSH setup, as OpenSSH reads it: `~/.ssh/config` and then
//! `/etc/ssh/ssh_config` (or the one file `--ssh-config` names), with
//! `Host` patterns, `Match` criteria, `Include`, quoting and the `%`
//! tokens, resolved for one host the way `ssh -G` resolves it (the tests
//! compare the two). What the session then takes from it is `config.rs`'s
//! to decide.
//!
//! Not done here: `Match exec` is not run (its block does not apply, with a
//! warning), and host names are not canonicalised (`Match canonical` holds
//! in the final pass only, as OpenSSH without CanonicalizeHostname).

mod lines;
mod resolve;
mod tokens;

use std::path::PathBuf;

use crate::error::Error;
use resolve::Pass;
pub use tokens::{FILE_TOKENS, Tokens, expand_tilde};

/// Far above any real SSH config file.
const MAX_FILE: u64 = 4 << 20;

/// How unknown hosts are met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    Yes,
    /// A prompt, which we never show: as `Yes`.
    Ask,
    No,
    AcceptNew,
}

/// What the files say for one host: each value with where it was set
/// (`FILE line N`), `None` where nothing set it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostConfig {
    pub hostname: Option<(String, String)>,
    pub port: Option<(u16, String)>,
    pub user: Option<(String, String)>,
    /// In order; tokens and `~` not expanded yet.
    pub identity_files: Vec<(String, String)>,
    pub identities_only: Option<(bool, String)>,
    pub identity_agent: Option<(String, String)>,
    pub user_known_hosts: Option<(Vec<String>, String)>,
    pub strict_host_key_checking: Option<(StrictHostKeyChecking, String)>,
    /// `Some(None)`: `ConnectTimeout none`.
    pub connect_timeout: Option<(Option<u64>, String)>,
    pub server_alive_interval: Option<(u64, String)>,
    pub server_alive_count_max: Option<(u32, String)>,
    pub proxy_jump: Option<(String, String)>,
    pub proxy_command: Option<(String, String)>,
    pub host_key_alias: Option<(String, String)>,
    pub hash_known_hosts: Option<(bool, String)>,
    pub address_family: Option<(AddressFamily, String)>,
    pub tcp_keep_alive: Option<(bool, String)>,
    /// `Ciphers`, `KexAlgorithms`, `HostKeyAlgorithms`, `MACs`: each list
    /// as written (`+`, `-`, `^` forms included), under its keyword.
    pub algorithms: Vec<(&'static str, String, String)>,
}

/// Which addresses of a host name are tried (`AddressFamily`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressFamily {
    #[default]
    Any,
    Inet,
    Inet6,
}

impl AddressFamily {
    /// As the config writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            AddressFamily::Any => "any",
            AddressFamily::Inet => "inet",
            AddressFamily::Inet6 => "inet6",
        }
    }
}

/// Who and where we are, for `Match localuser`, the tokens and `~`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub user: String,
    pub home: String,
    pub uid: u32,
    pub hostname: String,
}

impl Local {
    /// The running user, from the password database (as OpenSSH) with the
    /// environment's `HOME` for `~` (as the Python program's library).
    #[cfg(unix)]
    pub fn current(env: impl Fn(&str) -> Option<String>) -> Local {
        let uid = rustix::process::getuid().as_raw();
        let entry = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|passwd| {
                passwd.lines().find_map(|line| {
                    let fields: Vec<&str> = line.split(':').collect();
                    (fields.len() >= 6 && fields[2].parse() == Ok(uid))
                        .then(|| (fields[0].to_string(), fields[5].to_string()))
                })
            });
        let user = entry
            .as_ref()
            .map(|(name, _)| name.clone())
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_default();
        let home = env("HOME")
            .filter(|h| !h.is_empty())
            .or_else(|| entry.map(|(_, home)| home))
            .unwrap_or_default();
        let hostname = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        Local {
            user,
            home,
            uid,
            hostname,
        }
    }

    /// The running user, as OpenSSH for Windows sees it: `USERNAME`, and
    /// `HOME` when set, else the profile (`USERPROFILE`), for `~`.
    #[cfg(windows)]
    pub fn current(env: impl Fn(&str) -> Option<String>) -> Local {
        let set = |name: &str| env(name).filter(|value| !value.is_empty());
        Local {
            user: set("USERNAME").unwrap_or_default(),
            home: set("HOME")
                .or_else(|| set("USERPROFILE"))
                .unwrap_or_default(),
            // %i has no meaning on Windows; OpenSSH for Windows gives 0 too.
            uid: 0,
            hostname: set("COMPUTERNAME").unwrap_or_default(),
        }
    }
}

/// A file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// A user's file: relative Includes live in `~/.ssh`.
    pub user_file: bool,
    /// A missing file is an error (one named with `--ssh-config`).
    pub required: bool,
}

/// The files read when `--ssh-config` is not given, in order.
pub fn default_sources(home: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    if !home.is_empty() {
        sources.push(Source {
            path: PathBuf::from(home).join(".ssh/config"),
            user_file: true,
            required: false,
        });
    }
    sources.push(Source {
        path: PathBuf::from("/etc/ssh/ssh_config"),
        user_file: false,
        required: false,
    });
    sources
}

/// What `sources` say for `host` (the name the user gave).
pub fn resolve(sources: &[Source], host: &str, local: &Local) -> Result<HostConfig, Error> {
    let mut config = HostConfig::default();
    let mut pass = Pass {
        config: &mut config,
        host,
        original_host: host,
        local,
        final_pass: false,
        wants_final: false,
        warned_exec: false,
    };
    for source in sources {
        pass.run(source)?;
    }
    if pass.wants_final {
        // As OpenSSH: read again with the host after HostName, where
        // `Match final` (and `canonical`) now hold; what the first pass set
        // stays.
        let warned_exec = pass.warned_exec;
        let resolved = config.hostname(host);
        // OpenSSH sets HostName to the resolved host before the final pass,
        // so that pass cannot change it.
        config.hostname = Some((
            resolved.replace('%', "%%"),
            config
                .hostname
                .take()
                .map_or_else(|| "the host given".into(), |(_, origin)| origin),
        ));
        let mut again = Pass {
            config: &mut config,
            host: &resolved,
            original_host: host,
            local,
            final_pass: true,
            wants_final: false,
            warned_exec,
        };
        for source in sources {
            again.run(source)?;
        }
    }
    Ok(config)
}

impl HostConfig {
    /// The host to connect to: HostName with `%h` (and `%%`) expanded, or
    /// `host`; lowercased unless an address, as OpenSSH does.
    pub fn hostname(&self, host: &str) -> String {
        let name = match &self.hostname {
            Some((name, _)) => expand_hostname(name, host),
            None => host.to_string(),
        };
        if name.parse::<std::net::IpAddr>().is_ok() {
            name
        } else {
            name.to_ascii_lowercase()
        }
    }
}

/// HostName's only tokens: `%h` and `%%`.
fn expand_hostname(name: &str, host: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('%', Some('h')) => {
                out.push_str(host);
                chars.next();
            }
            ('%', Some('%')) => {
                out.push('%');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod differential;
