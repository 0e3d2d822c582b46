//! The validated configuration: defaults resolved, `~` expanded, the
//! passphrase taken from the environment, and the rules between flags
//! checked. Every error here is a usage error that names its flag.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Args;
use crate::error::Error;
use crate::log::Level;

/// Where the Python program keeps its key; we keep it there too.
pub const DEFAULT_CLIENT_KEY: &str = "~/.ssh/m2m_mcp_server_ssh_client";
/// OpenSSH's user known_hosts file.
pub const DEFAULT_KNOWN_HOSTS: &str = "~/.ssh/known_hosts";
/// The environment variable that carries the key's passphrase.
pub const PASSPHRASE_ENV: &str = "MCP_SSH_PASSPHRASE";

/// How the server's host key is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Against this known_hosts file.
    KnownHosts(PathBuf),
    /// Not at all (`--disable-host-key-checking`).
    Disabled,
}

/// What we ask the server to run on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A shell request: what the peer server `m2m-mcp-server-ssh-server` serves.
    Shell,
    /// An exec request, for any sshd with an MCP server behind a command.
    Exec(String),
}

/// Everything a run needs, validated.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub client_key: PathBuf,
    /// The key path is the default one, so a missing key may be generated.
    pub client_key_is_default: bool,
    pub passphrase: Option<String>,
    /// The passphrase came from `--passphrase`, visible in the process list.
    pub passphrase_on_command_line: bool,
    pub host_keys: HostKeyPolicy,
    pub remote: Remote,
    pub connect_timeout: Duration,
    pub log_level: Level,
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
            .finish()
    }
}

impl Config {
    /// Validates parsed flags. `env` looks up environment variables (a
    /// parameter so that tests need not touch the process environment).
    pub fn from_args(args: Args, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let exclusive = [
            ("--known-hosts", args.known_hosts.is_some()),
            (
                "--disable-host-key-checking",
                args.disable_host_key_checking,
            ),
            ("--use-key-server", args.use_key_server),
        ];
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
        if args.use_key_server {
            return Err(Error::Usage(
                "--use-key-server is not supported yet by this version; register the client's public key on the server and \
                 add the server's host key to ~/.ssh/known_hosts (or pass --known-hosts)"
                    .into(),
            ));
        }
        let log_level = Level::parse(&args.log_level).ok_or_else(|| {
            Error::Usage(format!(
                "--log-level: unknown level '{}'; use DEBUG, INFO, WARNING, ERROR or CRITICAL",
                args.log_level
            ))
        })?;
        if args.host.is_empty() {
            return Err(Error::Usage("--host: must not be empty".into()));
        }
        if args.connect_timeout == 0 {
            return Err(Error::Usage(
                "--connect-timeout: must be at least 1 second".into(),
            ));
        }
        let home = env("HOME");
        let client_key_is_default = args.client_key.is_none();
        let client_key = expand_tilde(
            args.client_key.as_deref().unwrap_or(DEFAULT_CLIENT_KEY),
            home.as_deref(),
        )
        .map_err(|e| Error::Usage(format!("--client-key: {e}")))?;
        let host_keys = if args.disable_host_key_checking {
            HostKeyPolicy::Disabled
        } else {
            let path = args.known_hosts.as_deref().unwrap_or(DEFAULT_KNOWN_HOSTS);
            HostKeyPolicy::KnownHosts(
                expand_tilde(path, home.as_deref())
                    .map_err(|e| Error::Usage(format!("--known-hosts: {e}")))?,
            )
        };
        let remote = match args.command {
            Some(command) if command.trim().is_empty() => {
                return Err(Error::Usage("--command: must not be empty".into()));
            }
            Some(command) => Remote::Exec(command),
            None => Remote::Shell,
        };
        let passphrase_on_command_line = args.passphrase.is_some();
        let passphrase = args
            .passphrase
            .or_else(|| env(PASSPHRASE_ENV))
            .filter(|p| !p.is_empty());
        Ok(Config {
            host: strip_brackets(&args.host).to_string(),
            port: args.port,
            username: args.username,
            client_key,
            client_key_is_default,
            passphrase,
            passphrase_on_command_line,
            host_keys,
            remote,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            log_level,
        })
    }
}

/// Expands a leading `~/` with `$HOME`, as the Python program does.
fn expand_tilde(path: &str, home: Option<&str>) -> Result<PathBuf, String> {
    match path.strip_prefix("~/") {
        Some(rest) => match home {
            Some(home) if !home.is_empty() => Ok(Path::new(home).join(rest)),
            _ => Err(format!("cannot expand '{path}': HOME is not set")),
        },
        None if path == "~" => Err("expected a file, got '~'".into()),
        None => Ok(PathBuf::from(path)),
    }
}

/// Accepts `[::1]` as well as `::1` for an IPv6 literal.
fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
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
        assert!(c.client_key_is_default);
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::KnownHosts(PathBuf::from("/h/.ssh/known_hosts"))
        );
        assert_eq!(c.remote, Remote::Shell);
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
    fn log_level_is_case_insensitive() {
        assert_eq!(
            config(&["--log-level", "debug"], &[("HOME", "/h")])
                .unwrap()
                .log_level,
            Level::Debug
        );
        assert!(config(&["--log-level", "loud"], &[("HOME", "/h")]).is_err());
    }
}
