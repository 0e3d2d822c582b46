//! What a session takes from the user's SSH config (`ssh_config/`): a
//! flag wins, then the config, then our default. One exception keeps the
//! drop-in exact: in shell mode (the peer server) `Port` and `User` never
//! apply, since the Python program always passes its own (8022, `mcp`)
//! over the config's; with `--command` (a plain sshd) they do.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    AcceptNew, CONNECT_TIMEOUT, Config, HostKeyPolicy, KEEPALIVE_COUNT_MAX, KEEPALIVE_INTERVAL,
    SshConfigFiles,
};
use crate::error::Error;
use crate::ssh_config::{self, HostConfig, Local, Source, StrictHostKeyChecking, Tokens};
use crate::{debug, warn};

impl Config {
    /// Reads the SSH config files this run names, and takes from them what
    /// the flags left open.
    pub fn with_ssh_config(mut self, local: &Local) -> Result<Config, Error> {
        let sources = match &self.ssh_config {
            SshConfigFiles::None => return Ok(self),
            SshConfigFiles::Default => ssh_config::default_sources(&local.home),
            SshConfigFiles::File(path) => vec![Source {
                path: path.clone(),
                user_file: true,
                required: true,
            }],
        };
        let host_config = ssh_config::resolve(&sources, &self.host, local)?;
        self.apply(&host_config, local)?;
        Ok(self)
    }

    fn apply(&mut self, config: &HostConfig, local: &Local) -> Result<(), Error> {
        for (what, value) in [
            ("ProxyJump", &config.proxy_jump),
            ("ProxyCommand", &config.proxy_command),
        ] {
            if let Some((value, origin)) = value.as_ref().filter(|(v, _)| v != "none") {
                return Err(Error::Usage(format!(
                    "{origin}: {what} {value} is not supported yet by this client; \
                     connect without it, or read no SSH config with --ssh-config none"
                )));
            }
        }
        let original = self.host.clone();
        if let Some((_, origin)) = &config.hostname {
            self.host = config.hostname(&original);
            debug!("HostName {} ({origin})", self.host);
        }
        if let Some((alias, origin)) = &config.host_key_alias {
            debug!("HostKeyAlias {alias} ({origin})");
            self.host_key_alias = Some(alias.clone());
        }
        if self.remote.is_plain_sshd() {
            if let (false, Some((port, origin))) = (self.given.port, &config.port) {
                debug!("Port {port} ({origin})");
                self.port = *port;
            }
            if let (false, Some((user, origin))) = (self.given.username, &config.user) {
                debug!("User {user} ({origin})");
                self.username = user.clone();
            }
        }
        if let (false, Some((Some(secs), origin))) =
            (self.given.connect_timeout, &config.connect_timeout)
        {
            let secs = (*secs).clamp(*CONNECT_TIMEOUT.start(), *CONNECT_TIMEOUT.end());
            debug!("ConnectTimeout {secs} ({origin})");
            self.connect_timeout = Duration::from_secs(secs);
        }
        if let (false, Some((secs, origin))) =
            (self.given.keepalive_interval, &config.server_alive_interval)
        {
            let secs = (*secs).min(*KEEPALIVE_INTERVAL.end());
            debug!("ServerAliveInterval {secs} ({origin})");
            self.keepalive_interval = Some(Duration::from_secs(secs)).filter(|d| !d.is_zero());
        }
        if let (false, Some((count, origin))) = (
            self.given.keepalive_count_max,
            &config.server_alive_count_max,
        ) {
            let count =
                u64::from(*count).clamp(*KEEPALIVE_COUNT_MAX.start(), *KEEPALIVE_COUNT_MAX.end());
            debug!("ServerAliveCountMax {count} ({origin})");
            self.keepalive_count_max = count as u32;
        }
        self.apply_host_keys(config, &original, local)?;
        if let Some((file, origin)) = config.identity_files.first() {
            debug!(
                "IdentityFile {file} ({origin}) is not used: this client offers --client-key and the agent's keys"
            );
        }
        Ok(())
    }

    /// `StrictHostKeyChecking`, `HashKnownHosts` and `UserKnownHostsFile`,
    /// where no flag decides.
    fn apply_host_keys(
        &mut self,
        config: &HostConfig,
        original: &str,
        local: &Local,
    ) -> Result<(), Error> {
        if !self.given.strict {
            match &config.strict_host_key_checking {
                Some((StrictHostKeyChecking::No, origin)) => {
                    self.host_keys = HostKeyPolicy::Disabled {
                        by: format!("StrictHostKeyChecking no, {origin}"),
                    };
                    return Ok(());
                }
                Some((StrictHostKeyChecking::AcceptNew, origin)) => {
                    debug!("StrictHostKeyChecking accept-new ({origin})");
                    self.accept_new = Some(AcceptNew {
                        hash: false,
                        by: format!("StrictHostKeyChecking accept-new, {origin}"),
                    });
                }
                _ => {}
            }
        }
        if let (Some(accept), Some((hash, origin))) =
            (&mut self.accept_new, &config.hash_known_hosts)
        {
            debug!("HashKnownHosts {hash} ({origin})");
            accept.hash = *hash;
        }
        if self.given.known_hosts_file {
            return Ok(());
        }
        let Some((files, origin)) = &config.user_known_hosts else {
            return Ok(());
        };
        let Some(first) = files.first().filter(|f| f.as_str() != "none") else {
            warn!(
                "UserKnownHostsFile none ({origin}) is not supported: the default known_hosts is used"
            );
            return Ok(());
        };
        let tokens = Tokens {
            host: &self.host,
            original_host: original,
            port: self.port,
            user: &self.username,
            local_user: &local.user,
            home: &local.home,
            uid: local.uid,
            local_host: &local.hostname,
        };
        let path = tokens
            .expand(
                &ssh_config::expand_tilde(first, &local.home),
                ssh_config::FILE_TOKENS,
            )
            .map_err(|e| Error::Usage(format!("{origin}: UserKnownHostsFile: {e}")))?;
        debug!("UserKnownHostsFile {path} ({origin})");
        self.host_keys = HostKeyPolicy::KnownHosts(PathBuf::from(path));
        Ok(())
    }

    /// The name the server's host key is looked up under.
    pub fn host_key_name(&self) -> &str {
        self.host_key_alias.as_deref().unwrap_or(&self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use argh::FromArgs;

    fn config(args: &[&str]) -> Config {
        let args = Args::from_args(&["m2m-mcp-server-ssh-client"], args).unwrap();
        Config::from_args(args, |name| (name == "HOME").then(|| "/h".to_string())).unwrap()
    }

    fn local() -> Local {
        Local {
            user: "me".into(),
            home: "/h".into(),
            uid: 1000,
            hostname: "laptop".into(),
        }
    }

    fn at(line: usize) -> String {
        format!("/h/.ssh/config line {line}")
    }

    fn host_config() -> HostConfig {
        HostConfig {
            hostname: Some(("%h.example.com".into(), at(2))),
            port: Some((2222, at(3))),
            user: Some(("admin".into(), at(4))),
            connect_timeout: Some((Some(7), at(5))),
            server_alive_interval: Some((5, at(6))),
            server_alive_count_max: Some((9, at(7))),
            user_known_hosts: Some((vec!["~/kh_%h_%p_%r".into()], at(8))),
            ..HostConfig::default()
        }
    }

    #[test]
    fn the_config_fills_what_the_flags_leave_open() {
        let mut c = config(&["--host", "alias", "--command", "mcp-server"]);
        c.apply(&host_config(), &local()).unwrap();
        assert_eq!(c.host, "alias.example.com");
        assert_eq!((c.port, c.username.as_str()), (2222, "admin"));
        assert_eq!(c.connect_timeout, Duration::from_secs(7));
        assert_eq!(c.keepalive_interval, Some(Duration::from_secs(5)));
        assert_eq!(c.keepalive_count_max, 9);
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::KnownHosts(PathBuf::from("/h/kh_alias.example.com_2222_admin"))
        );

        let mut c = config(&[
            "--host",
            "alias",
            "--command",
            "m",
            "--port",
            "1",
            "--username",
            "u",
            "--connect-timeout",
            "3",
            "--keepalive-interval",
            "0",
            "--keepalive-count-max",
            "2",
            "--known-hosts",
            "/k",
        ]);
        c.apply(&host_config(), &local()).unwrap();
        assert_eq!(c.host, "alias.example.com");
        assert_eq!((c.port, c.username.as_str()), (1, "u"));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!((c.keepalive_interval, c.keepalive_count_max), (None, 2));
        assert_eq!(c.host_keys, HostKeyPolicy::KnownHosts(PathBuf::from("/k")));
    }

    #[test]
    fn in_shell_mode_port_and_user_stay_the_python_programs() {
        let mut c = config(&["--host", "alias"]);
        c.apply(&host_config(), &local()).unwrap();
        assert_eq!((c.port, c.username.as_str()), (8022, "mcp"));
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::KnownHosts(PathBuf::from("/h/kh_alias.example.com_8022_mcp"))
        );
    }

    #[test]
    fn strict_host_key_checking_no_disables_the_check_naming_where_and_an_alias_names_the_key() {
        let mut c = config(&["--host", "a"]);
        let hc = HostConfig {
            strict_host_key_checking: Some((StrictHostKeyChecking::No, at(9))),
            host_key_alias: Some(("key-name".into(), at(10))),
            ..HostConfig::default()
        };
        c.apply(&hc, &local()).unwrap();
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::Disabled {
                by: "StrictHostKeyChecking no, /h/.ssh/config line 9".into()
            }
        );
        assert_eq!((c.host.as_str(), c.host_key_name()), ("a", "key-name"));
    }

    #[test]
    fn a_proxy_we_cannot_honour_is_refused_naming_its_line() {
        let mut c = config(&["--host", "a"]);
        let hc = HostConfig {
            proxy_jump: Some(("bastion".into(), at(11))),
            ..HostConfig::default()
        };
        let err = c.apply(&hc, &local()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "/h/.ssh/config line 11: ProxyJump bastion is not supported yet by this client; \
             connect without it, or read no SSH config with --ssh-config none"
        );
        let none = HostConfig {
            proxy_jump: Some(("none".into(), at(12))),
            ..HostConfig::default()
        };
        assert!(c.apply(&none, &local()).is_ok());
    }
}
