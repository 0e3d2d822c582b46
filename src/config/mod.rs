//! The validated configuration: defaults resolved, `~` expanded, the
//! passphrase taken from the environment, and the rules between flags
//! checked. Every error here is a usage error that names its flag.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use crate::address;
use crate::cli::Args;
use crate::error::Error;
use crate::log::Level;

mod from_ssh_config;
mod jump;
mod route;
mod values;

pub use route::{AddressFamily, Agent, Identities, Proxy, Tcp};

use values::{check_key_server_url, expand_tilde};

/// The Python program's port and user, which it always passes.
pub const DEFAULT_PORT: u16 = 8022;
pub const DEFAULT_USERNAME: &str = "mcp";
/// Seconds, as the Python program's defaults.
const DEFAULT_CONNECT_TIMEOUT: u64 = 10;
const DEFAULT_KEEPALIVE_INTERVAL: u64 = 15;
const DEFAULT_KEEPALIVE_COUNT_MAX: u32 = 3;
/// Where the Python program keeps its key; we keep it there too.
pub const DEFAULT_CLIENT_KEY: &str = "~/.ssh/m2m_mcp_server_ssh_client";
/// OpenSSH's user known_hosts file.
pub const DEFAULT_KNOWN_HOSTS: &str = "~/.ssh/known_hosts";
/// Where server keys answered by a key server are pinned: a known_hosts
/// file of our own, so that our pins and the user's own entries never mix.
pub const DEFAULT_PIN_FILE: &str = "~/.ssh/m2m_mcp_server_ssh_client_known_hosts";
/// The peer server's default key-server port, and the Python client's.
pub const DEFAULT_KEY_SERVER_PORT: u16 = 8000;
/// The environment variable that carries the key's passphrase.
pub const PASSPHRASE_ENV: &str = "MCP_SSH_PASSPHRASE";
/// What each numeric flag accepts. The bounds keep every deadline and
/// every product of them far from overflow; past them a value means nothing
/// a session could tell apart (a day between keepalives, a year of
/// reconnecting).
const PORT: RangeInclusive<u64> = 1..=65535;
const CONNECT_TIMEOUT: RangeInclusive<u64> = 1..=3600;
const KEEPALIVE_INTERVAL: RangeInclusive<u64> = 0..=86_400;
const KEEPALIVE_COUNT_MAX: RangeInclusive<u64> = 1..=1000;
const RECONNECT_MAX_WAIT: RangeInclusive<u64> = 0..=31_536_000;
/// With a single interval of silence allowed, the time on top of it for
/// the probe's answer to come back from a server that is busy, not gone.
const ANSWER_ALLOWANCE: Duration = Duration::from_secs(1);
/// How long a write may make no progress, with keepalives off, before the
/// connection is taken for stuck.
const STALL_WITHOUT_KEEPALIVE: Duration = Duration::from_secs(60);

/// How the server's host key is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Against this known_hosts file.
    KnownHosts(PathBuf),
    /// Not at all: by `--disable-host-key-checking`, or the SSH config's
    /// `StrictHostKeyChecking no` (where, in words).
    Disabled { by: String },
    /// Against the key the key server answers, pinned on first use.
    KeyServer(KeyServer),
}

/// Where to ask for the server's host key, and where to pin it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyServer {
    /// `--key-server-url`: the only place asked, when given.
    pub url: Option<String>,
    /// The plain-HTTP port tried after HTTPS on port 443.
    pub port: u16,
    /// The known_hosts file that holds our pins.
    pub pins: PathBuf,
}

/// What we ask the server to run on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A shell request: what the peer server `m2m-mcp-server-ssh-server` serves.
    Shell,
    /// An exec request, for any sshd with an MCP server behind a command.
    Exec(String),
    /// A subsystem request, for an sshd that serves MCP as one (`Subsystem
    /// mcp ...`, as MCP's SSH transport proposal names it).
    Subsystem(String),
}

impl Remote {
    /// The request, as `doctor` names it.
    pub fn describe(&self) -> String {
        match self {
            Remote::Shell => "shell request".into(),
            Remote::Exec(command) => format!("exec request for '{command}'"),
            Remote::Subsystem(name) => format!("subsystem request for '{name}'"),
        }
    }

    /// Whether a plain sshd serves it: the SSH config's Port and User then
    /// apply (the peer server's shell mode keeps the Python program's).
    pub fn is_plain_sshd(&self) -> bool {
        !matches!(self, Remote::Shell)
    }
}

/// Everything a run needs, validated.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub client_key: PathBuf,
    /// A missing key file is generated: at the default path, or at any path
    /// when the key is about to be registered with a key server.
    pub generate_missing_key: bool,
    pub passphrase: Option<String>,
    /// The passphrase came from `--passphrase`, visible in the process list.
    pub passphrase_on_command_line: bool,
    pub host_keys: HostKeyPolicy,
    pub remote: Remote,
    pub connect_timeout: Duration,
    /// Between SSH keepalives; `None` sends none.
    pub keepalive_interval: Option<Duration>,
    /// Keepalive intervals of silence after which the server is taken for gone.
    pub keepalive_count_max: u32,
    /// How long to keep reconnecting after a loss; zero never reconnects.
    pub reconnect_max_wait: Duration,
    pub log_level: Level,
    /// The name the server's host key is known under (`HostKeyAlias`), when
    /// not `host`.
    pub host_key_alias: Option<String>,
    /// With a known_hosts file: unknown hosts are added, not refused.
    pub accept_new: Option<AcceptNew>,
    /// Which SSH config files to read.
    pub ssh_config: SshConfigFiles,
    /// What carries the connection: TCP, a command, or a jump host.
    pub proxy: Proxy,
    /// The keys offered after `--client-key`, and the agent.
    pub identities: Identities,
    pub tcp: Tcp,
    /// The SSH config's algorithm lists: keyword, list, where it was set.
    pub algorithms: Vec<(&'static str, String, String)>,
    /// What the SSH config set, each with where (for `doctor`).
    pub from_ssh_config: Vec<String>,
    /// What the flags set, so that the SSH config fills only the rest.
    given: Given,
}

/// Which SSH config files a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshConfigFiles {
    /// `~/.ssh/config`, then `/etc/ssh/ssh_config`, as OpenSSH.
    Default,
    /// Only this one (`--ssh-config FILE`), which must exist.
    File(PathBuf),
    /// None (`--ssh-config none`).
    None,
}

/// The flags given, of those the SSH config may stand in for.
#[derive(Debug, Clone, Copy, Default)]
struct Given {
    port: bool,
    username: bool,
    connect_timeout: bool,
    keepalive_interval: bool,
    keepalive_count_max: bool,
    /// `--known-hosts`, or a flag that makes it moot.
    known_hosts_file: bool,
    /// How unknown hosts are met: `--accept-new` or a flag that makes it moot.
    strict: bool,
}

/// Unknown hosts added to the known_hosts file rather than refused, as
/// OpenSSH's `StrictHostKeyChecking accept-new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptNew {
    /// Write the host's name hashed (`HashKnownHosts yes`).
    pub hash: bool,
    /// What asked for it, in words.
    pub by: String,
}

/// When a connection is taken for dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// Between keepalives; `None` sends none.
    pub keepalive: Option<Duration>,
    /// Intervals of silence after which the server is taken for gone.
    pub count_max: u32,
}

impl Liveness {
    /// Silence after which the server is taken for gone, if we ask it to
    /// speak at all: `count_max` intervals, and never less than one interval
    /// plus the time for an answer, so that a healthy idle link is never
    /// taken for dead.
    pub fn dead_after(&self) -> Option<Duration> {
        let interval = self.keepalive?;
        Some(
            interval
                .saturating_mul(self.count_max.max(1))
                .max(interval.saturating_add(ANSWER_ALLOWANCE)),
        )
    }

    /// How long a write may make no progress before the engine is taken for stuck.
    pub fn stall_limit(&self) -> Duration {
        self.dead_after().unwrap_or(STALL_WITHOUT_KEEPALIVE)
    }
}

// Hand-written so that the passphrase can never reach a log through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("client_key", &self.client_key)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<hidden>"))
            .field("host_keys", &self.host_keys)
            .field("remote", &self.remote)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("keepalive_count_max", &self.keepalive_count_max)
            .field("reconnect_max_wait", &self.reconnect_max_wait)
            .field("host_key_alias", &self.host_key_alias)
            .field("accept_new", &self.accept_new)
            .field("ssh_config", &self.ssh_config)
            .field("proxy", &self.proxy)
            .field("identities", &self.identities)
            .field("tcp", &self.tcp)
            .field("algorithms", &self.algorithms)
            .field("from_ssh_config", &self.from_ssh_config)
            .finish()
    }
}

impl Config {
    /// When a connection is taken for dead.
    pub fn liveness(&self) -> Liveness {
        Liveness {
            keepalive: self.keepalive_interval,
            count_max: self.keepalive_count_max,
        }
    }

    /// Validates parsed flags. `env` looks up environment variables (a
    /// parameter so that tests need not touch the process environment).
    pub fn from_args(args: Args, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        // With the key server, --known-hosts names the pin file instead.
        let exclusive = [
            (
                "--known-hosts",
                args.known_hosts.is_some() && !args.use_key_server,
            ),
            (
                "--disable-host-key-checking",
                args.disable_host_key_checking,
            ),
            ("--use-key-server", args.use_key_server),
        ];
        for (other, on) in [
            (
                "--disable-host-key-checking",
                args.disable_host_key_checking,
            ),
            ("--use-key-server", args.use_key_server),
        ] {
            if args.accept_new && on {
                return Err(Error::Usage(format!(
                    "--accept-new and {other} cannot be used together: each decides how the server's host key is trusted"
                )));
            }
        }
        let given: Vec<&str> = exclusive
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect();
        if given.len() > 1 {
            return Err(Error::Usage(format!(
                "{} and {} cannot be used together: each decides how the server's host key is trusted",
                given[0], given[1]
            )));
        }
        if !args.use_key_server {
            for (flag, given) in [
                ("--key-server-url", args.key_server_url.is_some()),
                ("--key-server-port", args.key_server_port.is_some()),
            ] {
                if given {
                    return Err(Error::Usage(format!(
                        "{flag} is used only with --use-key-server"
                    )));
                }
            }
        }
        if args.key_server_url.is_some() && args.key_server_port.is_some() {
            return Err(Error::Usage(
                "--key-server-port and --key-server-url cannot be used together: the URL names the port".into(),
            ));
        }
        let log_level = Level::parse(&args.log_level).ok_or_else(|| {
            Error::Usage(format!(
                "--log-level: unknown level '{}'; use DEBUG, INFO, WARNING, ERROR or CRITICAL",
                args.log_level
            ))
        })?;
        for (flag, value) in [
            ("--host", Some(&args.host)),
            ("--username", args.username.as_ref()),
            ("--client-key", args.client_key.as_ref()),
            ("--known-hosts", args.known_hosts.as_ref()),
        ] {
            match value {
                Some(value) if value.is_empty() => {
                    return Err(Error::Usage(format!("{flag}: must not be empty")));
                }
                // Names and paths with control characters are a mistake (a
                // pasted newline) or an attempt to forge what we print.
                Some(value) if value.chars().any(char::is_control) => {
                    return Err(Error::Usage(format!(
                        "{flag}: must not contain control characters"
                    )));
                }
                _ => {}
            }
        }
        for (flag, value, range) in [
            ("--port", u64::from(args.port.unwrap_or(DEFAULT_PORT)), PORT),
            (
                "--key-server-port",
                u64::from(args.key_server_port.unwrap_or(DEFAULT_KEY_SERVER_PORT)),
                PORT,
            ),
            (
                "--connect-timeout",
                args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
                CONNECT_TIMEOUT,
            ),
            (
                "--keepalive-interval",
                args.keepalive_interval
                    .unwrap_or(DEFAULT_KEEPALIVE_INTERVAL),
                KEEPALIVE_INTERVAL,
            ),
            (
                "--keepalive-count-max",
                u64::from(
                    args.keepalive_count_max
                        .unwrap_or(DEFAULT_KEEPALIVE_COUNT_MAX),
                ),
                KEEPALIVE_COUNT_MAX,
            ),
            (
                "--reconnect-max-wait",
                args.reconnect_max_wait,
                RECONNECT_MAX_WAIT,
            ),
        ] {
            if !range.contains(&value) {
                return Err(Error::Usage(format!(
                    "{flag}: {value} is out of range; use {} to {}",
                    range.start(),
                    range.end()
                )));
            }
        }
        let home = values::home(&env);
        let generate_missing_key = args.client_key.is_none() || args.use_key_server;
        let client_key = expand_tilde(
            args.client_key.as_deref().unwrap_or(DEFAULT_CLIENT_KEY),
            home.as_deref(),
        )
        .map_err(|e| Error::Usage(format!("--client-key: {e}")))?;
        let host_keys = if args.disable_host_key_checking {
            HostKeyPolicy::Disabled {
                by: "--disable-host-key-checking".into(),
            }
        } else if args.use_key_server {
            if args.host.contains(':') {
                return Err(Error::Usage(
                    "--use-key-server: the key server cannot be reached at an IPv6 address literal; use a host name for --host"
                        .into(),
                ));
            }
            let url = args
                .key_server_url
                .as_deref()
                .map(check_key_server_url)
                .transpose()
                .map_err(|e| Error::Usage(format!("--key-server-url: {e}")))?;
            let pins = args.known_hosts.as_deref().unwrap_or(DEFAULT_PIN_FILE);
            HostKeyPolicy::KeyServer(KeyServer {
                url,
                port: args.key_server_port.unwrap_or(DEFAULT_KEY_SERVER_PORT),
                pins: expand_tilde(pins, home.as_deref())
                    .map_err(|e| Error::Usage(format!("--known-hosts: {e}")))?,
            })
        } else {
            let path = args.known_hosts.as_deref().unwrap_or(DEFAULT_KNOWN_HOSTS);
            HostKeyPolicy::KnownHosts(
                expand_tilde(path, home.as_deref())
                    .map_err(|e| Error::Usage(format!("--known-hosts: {e}")))?,
            )
        };
        let remote = match (args.command, args.subsystem) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage(
                    "--command and --subsystem cannot be used together: each names what the server runs".into(),
                ));
            }
            (Some(command), None) if command.trim().is_empty() => {
                return Err(Error::Usage("--command: must not be empty".into()));
            }
            (None, Some(name)) if name.is_empty() || name.contains(char::is_whitespace) => {
                return Err(Error::Usage(
                    "--subsystem: must be a name without spaces, such as mcp".into(),
                ));
            }
            (Some(command), None) => Remote::Exec(command),
            (None, Some(name)) => Remote::Subsystem(name),
            (None, None) => Remote::Shell,
        };
        let ssh_config = match args.ssh_config.as_deref() {
            None => SshConfigFiles::Default,
            Some("none") => SshConfigFiles::None,
            Some("") => return Err(Error::Usage("--ssh-config: must not be empty".into())),
            Some(path) => SshConfigFiles::File(
                expand_tilde(path, home.as_deref())
                    .map_err(|e| Error::Usage(format!("--ssh-config: {e}")))?,
            ),
        };
        let given = Given {
            port: args.port.is_some(),
            username: args.username.is_some(),
            connect_timeout: args.connect_timeout.is_some(),
            keepalive_interval: args.keepalive_interval.is_some(),
            keepalive_count_max: args.keepalive_count_max.is_some(),
            known_hosts_file: args.known_hosts.is_some()
                || args.disable_host_key_checking
                || args.use_key_server,
            strict: args.accept_new || args.disable_host_key_checking || args.use_key_server,
        };
        let passphrase_on_command_line = args.passphrase.is_some();
        let passphrase = args
            .passphrase
            .or_else(|| env(PASSPHRASE_ENV))
            // An MCP Bundle's optional passphrase field left empty reaches
            // the environment as its literal placeholder.
            .filter(|p| !p.is_empty() && !crate::cli::unfilled(p));
        Ok(Config {
            host: address::unbracketed(&args.host).to_string(),
            port: args.port.unwrap_or(DEFAULT_PORT),
            username: args.username.unwrap_or_else(|| DEFAULT_USERNAME.into()),
            client_key,
            generate_missing_key,
            passphrase,
            passphrase_on_command_line,
            host_keys,
            remote,
            connect_timeout: Duration::from_secs(
                args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ),
            keepalive_interval: Some(Duration::from_secs(
                args.keepalive_interval
                    .unwrap_or(DEFAULT_KEEPALIVE_INTERVAL),
            ))
            .filter(|interval| !interval.is_zero()),
            keepalive_count_max: args
                .keepalive_count_max
                .unwrap_or(DEFAULT_KEEPALIVE_COUNT_MAX),
            reconnect_max_wait: Duration::from_secs(args.reconnect_max_wait),
            log_level,
            host_key_alias: None,
            from_ssh_config: Vec::new(),
            accept_new: args.accept_new.then(|| AcceptNew {
                hash: false,
                by: "--accept-new".into(),
            }),
            ssh_config,
            proxy: Proxy::Direct,
            identities: Identities::default(),
            tcp: Tcp::default(),
            algorithms: Vec::new(),
            given,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argh::FromArgs;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, Error> {
        let args = Args::from_args(&["m2m-mcp-server-ssh-client"], args).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_args(args, |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_expand_under_home() {
        let c = config(&[], &[("HOME", "/h")]).unwrap();
        assert_eq!(
            c.client_key,
            PathBuf::from("/h/.ssh/m2m_mcp_server_ssh_client")
        );
        assert!(c.generate_missing_key);
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::KnownHosts(PathBuf::from("/h/.ssh/known_hosts"))
        );
        assert_eq!(c.remote, Remote::Shell);
        // The Python program's defaults.
        assert_eq!(c.port, 8022);
        assert_eq!(c.username, "mcp");
    }

    #[test]
    fn host_key_flags_exclude_each_other_naming_both() {
        let err = config(
            &["--known-hosts", "/k", "--disable-host-key-checking"],
            &[("HOME", "/h")],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with(
                "--known-hosts and --disable-host-key-checking cannot be used together"
            )
        );
    }

    #[test]
    fn passphrase_comes_from_environment_when_no_flag() {
        let c = config(&[], &[("HOME", "/h"), (PASSPHRASE_ENV, "s3cret")]).unwrap();
        assert_eq!(c.passphrase.as_deref(), Some("s3cret"));
        assert!(!c.passphrase_on_command_line);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn a_bundle_passphrase_left_empty_is_no_passphrase() {
        let c = config(
            &[],
            &[
                ("HOME", "/h"),
                (PASSPHRASE_ENV, "${user_config.passphrase}"),
            ],
        )
        .unwrap();
        assert_eq!(c.passphrase, None);
    }

    #[test]
    fn key_server_mode_pins_in_our_own_file_and_generates_any_key() {
        let c = config(
            &["--use-key-server", "--client-key", "/k/id"],
            &[("HOME", "/h")],
        )
        .unwrap();
        assert!(c.generate_missing_key);
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::KeyServer(KeyServer {
                url: None,
                port: 8000,
                pins: PathBuf::from("/h/.ssh/m2m_mcp_server_ssh_client_known_hosts"),
            })
        );
        let c = config(
            &[
                "--use-key-server",
                "--known-hosts",
                "/p",
                "--key-server-url",
                "https://k.example/x/",
            ],
            &[("HOME", "/h")],
        )
        .unwrap();
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::KeyServer(KeyServer {
                url: Some("https://k.example/x".into()),
                port: 8000,
                pins: PathBuf::from("/p"),
            })
        );
    }

    #[test]
    fn key_server_flags_need_the_key_server() {
        let err = config(&["--key-server-port", "9"], &[("HOME", "/h")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--key-server-port is used only with --use-key-server"
        );
        let err = config(
            &["--use-key-server", "--disable-host-key-checking"],
            &[("HOME", "/h")],
        )
        .unwrap_err();
        assert!(err.to_string().starts_with(
            "--disable-host-key-checking and --use-key-server cannot be used together"
        ));
    }

    #[test]
    fn key_server_urls_are_checked() {
        assert_eq!(
            check_key_server_url("http://h:8000/").unwrap(),
            "http://h:8000"
        );
        assert_eq!(check_key_server_url("https://h/p").unwrap(), "https://h/p");
        assert_eq!(
            check_key_server_url("ftp://h").unwrap_err(),
            "'ftp://h' must start with https:// or http://"
        );
        assert!(check_key_server_url("http://h:0").is_err());
        assert!(check_key_server_url("http://:80").is_err());
        assert!(check_key_server_url("http://[::1]:80").is_err());
        assert!(check_key_server_url("http://h/?a=b").is_err());
    }

    #[test]
    fn log_level_is_case_insensitive() {
        assert_eq!(
            config(&["--log-level", "debug"], &[("HOME", "/h")])
                .unwrap()
                .log_level,
            Level::Debug
        );
        assert!(config(&["--log-level", "loud"], &[("HOME", "/h")]).is_err());
    }

    #[test]
    fn silence_allowed_is_count_intervals_and_never_less_than_one_interval_and_an_answer() {
        let liveness = |secs, count_max| Liveness {
            keepalive: Some(Duration::from_secs(secs)),
            count_max,
        };
        assert_eq!(liveness(15, 3).dead_after(), Some(Duration::from_secs(45)));
        assert_eq!(liveness(1, 3).dead_after(), Some(Duration::from_secs(3)));
        assert_eq!(liveness(1, 1).dead_after(), Some(Duration::from_secs(2)));
        assert_eq!(liveness(10, 1).dead_after(), Some(Duration::from_secs(11)));
        let off = Liveness {
            keepalive: None,
            count_max: 3,
        };
        assert_eq!(off.dead_after(), None);
        assert_eq!(off.stall_limit(), STALL_WITHOUT_KEEPALIVE);
    }

    #[test]
    fn numeric_flags_out_of_range_are_usage_errors_naming_the_flag_and_the_range() {
        for (args, message) in [
            (
                &["--keepalive-interval", "18446744073709551615"][..],
                "--keepalive-interval: 18446744073709551615 is out of range; use 0 to 86400",
            ),
            (
                &["--keepalive-count-max", "0"],
                "--keepalive-count-max: 0 is out of range; use 1 to 1000",
            ),
            (
                &["--reconnect-max-wait", "9223372036854775807"],
                "--reconnect-max-wait: 9223372036854775807 is out of range; use 0 to 31536000",
            ),
            (
                &["--connect-timeout", "0"],
                "--connect-timeout: 0 is out of range; use 1 to 3600",
            ),
            (
                &["--port", "0"],
                "--port: 0 is out of range; use 1 to 65535",
            ),
            (
                &["--use-key-server", "--key-server-port", "0"],
                "--key-server-port: 0 is out of range; use 1 to 65535",
            ),
        ] {
            let err = config(args, &[("HOME", "/h")]).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert_eq!(err.to_string(), message);
        }
        let widest = config(
            &[
                "--keepalive-interval",
                "86400",
                "--keepalive-count-max",
                "1000",
                "--reconnect-max-wait",
                "31536000",
            ],
            &[("HOME", "/h")],
        )
        .unwrap();
        assert_eq!(
            widest.liveness().dead_after(),
            Some(Duration::from_secs(86_400_000))
        );
    }

    #[test]
    fn empty_or_control_character_values_are_refused_naming_the_flag() {
        for (args, message) in [
            (
                &["--known-hosts", ""][..],
                "--known-hosts: must not be empty",
            ),
            (&["--client-key", ""], "--client-key: must not be empty"),
            (&["--host", ""], "--host: must not be empty"),
            (
                &["--host", "example.com\n"],
                "--host: must not contain control characters",
            ),
            (
                &["--username", "mcp\u{1b}[2J"],
                "--username: must not contain control characters",
            ),
        ] {
            let err = config(args, &[("HOME", "/h")]).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn accept_new_goes_with_a_known_hosts_file_only() {
        let c = config(&["--accept-new", "--known-hosts", "/k"], &[("HOME", "/h")]).unwrap();
        assert_eq!(
            c.accept_new,
            Some(AcceptNew {
                hash: false,
                by: "--accept-new".into()
            })
        );
        let err = config(
            &["--accept-new", "--disable-host-key-checking"],
            &[("HOME", "/h")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--accept-new and --disable-host-key-checking cannot be used together: each decides how the server's host key is trusted"
        );
    }
}
