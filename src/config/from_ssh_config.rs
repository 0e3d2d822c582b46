//! What a session takes from the user's SSH config (`ssh_config/`): a
//! flag wins, then the config, then our default. One exception keeps the
//! drop-in exact: in shell mode (the peer server) `Port` and `User` never
//! apply, since the Python program always passes its own (8022, `mcp`)
//! over the config's; with `--command` (a plain sshd) they do.

use std::path::PathBuf;
use std::time::Duration;

use super::jump::{self, JumpSpec};
use super::{
    AcceptNew, Agent, CONNECT_TIMEOUT, Config, DEFAULT_KNOWN_HOSTS, HostKeyPolicy, Identities,
    KEEPALIVE_COUNT_MAX, KEEPALIVE_INTERVAL, Proxy, SshConfigFiles,
};
use crate::error::Error;
use crate::ssh_config::{self, HostConfig, Local, Source, StrictHostKeyChecking, Tokens};
use crate::{debug, warn};

/// OpenSSH's port, for jump hosts.
const SSH_PORT: u16 = 22;
/// What ProxyCommand's `%` tokens may name, as OpenSSH.
const PROXY_COMMAND_TOKENS: &str = "hnpr";

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
        // What each jump host starts from: the flags, before any config.
        let flags = self.clone();
        let original = self.host.clone();
        let host_config = ssh_config::resolve(&sources, &original, local)?;
        let port_and_user = self.remote.is_plain_sshd();
        self.apply(&host_config, local, port_and_user)?;
        let route = Route {
            flags: &flags,
            sources: &sources,
            local,
        };
        self.proxy = route.proxy(&self, &host_config, &original, 0)?;
        Ok(self)
    }

    fn apply(
        &mut self,
        config: &HostConfig,
        local: &Local,
        port_and_user: bool,
    ) -> Result<(), Error> {
        let original = self.host.clone();
        if let Some((_, origin)) = &config.hostname {
            self.host = config.hostname(&original);
            self.note(format!("HostName {} ({origin})", self.host));
        }
        if let Some((alias, origin)) = &config.host_key_alias {
            self.note(format!("HostKeyAlias {alias} ({origin})"));
            self.host_key_alias = Some(alias.clone());
        }
        if port_and_user {
            if let (false, Some((port, origin))) = (self.given.port, &config.port) {
                self.note(format!("Port {port} ({origin})"));
                self.port = *port;
            }
            if let (false, Some((user, origin))) = (self.given.username, &config.user) {
                self.note(format!("User {user} ({origin})"));
                self.username = user.clone();
            }
        }
        if let (false, Some((Some(secs), origin))) =
            (self.given.connect_timeout, &config.connect_timeout)
        {
            let secs = (*secs).clamp(*CONNECT_TIMEOUT.start(), *CONNECT_TIMEOUT.end());
            self.note(format!("ConnectTimeout {secs} ({origin})"));
            self.connect_timeout = Duration::from_secs(secs);
        }
        if let (false, Some((secs, origin))) =
            (self.given.keepalive_interval, &config.server_alive_interval)
        {
            let secs = (*secs).min(*KEEPALIVE_INTERVAL.end());
            self.note(format!("ServerAliveInterval {secs} ({origin})"));
            self.keepalive_interval = Some(Duration::from_secs(secs)).filter(|d| !d.is_zero());
        }
        if let (false, Some((count, origin))) = (
            self.given.keepalive_count_max,
            &config.server_alive_count_max,
        ) {
            let count =
                u64::from(*count).clamp(*KEEPALIVE_COUNT_MAX.start(), *KEEPALIVE_COUNT_MAX.end());
            self.note(format!("ServerAliveCountMax {count} ({origin})"));
            self.keepalive_count_max = count as u32;
        }
        if let Some((family, origin)) = &config.address_family {
            self.note(format!("AddressFamily {} ({origin})", family.keyword()));
            self.tcp.family = *family;
        }
        if let Some((keepalive, origin)) = &config.tcp_keep_alive {
            self.note(format!("TCPKeepAlive {keepalive} ({origin})"));
            self.tcp.keepalive = *keepalive;
        }
        for (keyword, list, origin) in &config.algorithms {
            self.note(format!("{keyword} {list} ({origin})"));
        }
        self.algorithms = config.algorithms.clone();
        let (host, user) = (self.host.clone(), self.username.clone());
        let tokens = tokens(&host, &original, self.port, &user, local);
        self.apply_identities(config, &tokens, local)?;
        self.apply_host_keys(config, &tokens, local)?;
        Ok(())
    }

    /// `IdentityFile`, `IdentitiesOnly` and `IdentityAgent`.
    fn apply_identities(
        &mut self,
        config: &HostConfig,
        tokens: &Tokens,
        local: &Local,
    ) -> Result<(), Error> {
        let path = |value: &str, what: &str, origin: &str| {
            tokens
                .expand(
                    &ssh_config::expand_tilde(value, &local.home),
                    ssh_config::FILE_TOKENS,
                )
                .map(PathBuf::from)
                .map_err(|e| Error::Usage(format!("{origin}: {what}: {e}")))
        };
        let mut files = Vec::new();
        for (file, origin) in &config.identity_files {
            let file = path(file, "IdentityFile", origin)?;
            self.note(format!("IdentityFile {} ({origin})", file.display()));
            files.push(file);
        }
        let only = config
            .identities_only
            .as_ref()
            .is_some_and(|(only, origin)| {
                self.note(format!("IdentitiesOnly {only} ({origin})"));
                *only
            });
        let agent = match &config.identity_agent {
            None => Agent::Environment,
            Some((value, origin)) => {
                self.note(format!("IdentityAgent {value} ({origin})"));
                match value.as_str() {
                    "none" => Agent::Off,
                    "SSH_AUTH_SOCK" => Agent::Environment,
                    _ => Agent::Socket(path(value, "IdentityAgent", origin)?),
                }
            }
        };
        self.identities = Identities { files, only, agent };
        Ok(())
    }

    /// `StrictHostKeyChecking`, `HashKnownHosts` and `UserKnownHostsFile`,
    /// where no flag decides.
    fn apply_host_keys(
        &mut self,
        config: &HostConfig,
        tokens: &Tokens,
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
                    self.note(format!("StrictHostKeyChecking accept-new ({origin})"));
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
            accept.hash = *hash;
            self.note(format!("HashKnownHosts {hash} ({origin})"));
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
        let path = tokens
            .expand(
                &ssh_config::expand_tilde(first, &local.home),
                ssh_config::FILE_TOKENS,
            )
            .map_err(|e| Error::Usage(format!("{origin}: UserKnownHostsFile: {e}")))?;
        self.note(format!("UserKnownHostsFile {path} ({origin})"));
        self.host_keys = HostKeyPolicy::KnownHosts(PathBuf::from(path));
        Ok(())
    }

    /// Logs what the SSH config set, and keeps it for `doctor`.
    fn note(&mut self, what: String) {
        debug!("{what}");
        self.from_ssh_config.push(what);
    }

    /// The name the server's host key is looked up under.
    pub fn host_key_name(&self) -> &str {
        self.host_key_alias.as_deref().unwrap_or(&self.host)
    }
}

/// The `%` tokens for one host's values.
fn tokens<'a>(
    host: &'a str,
    original: &'a str,
    port: u16,
    user: &'a str,
    local: &'a Local,
) -> Tokens<'a> {
    Tokens {
        host,
        original_host: original,
        port,
        user,
        local_user: &local.user,
        home: &local.home,
        uid: local.uid,
        local_host: &local.hostname,
    }
}

/// What resolves a host's ProxyJump or ProxyCommand into its route.
struct Route<'a> {
    /// The flags alone: where every jump host starts.
    flags: &'a Config,
    sources: &'a [Source],
    local: &'a Local,
}

impl Route<'_> {
    /// How `target` (with its config `config`, named `original` by the user
    /// or the jump list) is reached; `hops` jump hosts are already on the way.
    fn proxy(
        &self,
        target: &Config,
        config: &HostConfig,
        original: &str,
        hops: usize,
    ) -> Result<Proxy, Error> {
        if let Some((command, origin)) = config.proxy_command.as_ref().filter(|(c, _)| c != "none")
        {
            let tokens = tokens(
                &target.host,
                original,
                target.port,
                &target.username,
                self.local,
            );
            let command = tokens
                .expand(command, PROXY_COMMAND_TOKENS)
                .map_err(|e| Error::Usage(format!("{origin}: ProxyCommand: {e}")))?;
            debug!("ProxyCommand {command} ({origin})");
            return Ok(Proxy::Command {
                command,
                origin: origin.clone(),
            });
        }
        let Some((value, origin)) = config.proxy_jump.as_ref().filter(|(j, _)| j != "none") else {
            return Ok(Proxy::Direct);
        };
        debug!("ProxyJump {value} ({origin})");
        let specs = jump::parse_jumps(value)
            .map_err(|e| Error::Usage(format!("{origin}: ProxyJump {value}: {e}")))?;
        let hops = hops + specs.len();
        if hops > jump::MAX_HOPS {
            return Err(Error::Usage(format!(
                "{origin}: ProxyJump {value}: more than {} jump hosts on the way; do the jump hosts' own ProxyJump lines make a loop?",
                jump::MAX_HOPS
            )));
        }
        // `a,b`: b is reached through a; a by its own config's route, as
        // OpenSSH's `ssh -J a b` does.
        let mut nearer: Option<Config> = None;
        for spec in &specs {
            let mut hop = self.jump_host(spec);
            let config = ssh_config::resolve(self.sources, &spec.host, self.local)?;
            hop.apply(&config, self.local, true)?;
            hop.proxy = match nearer.take() {
                Some(nearer) => Proxy::Jump(Box::new(nearer)),
                None => self.proxy(&hop, &config, &spec.host, hops)?,
            };
            nearer = Some(hop);
        }
        nearer
            .map(|hop| Proxy::Jump(Box::new(hop)))
            .ok_or_else(|| Error::Usage(format!("{origin}: ProxyJump: no host")))
    }

    /// A jump host before its own config: the flags that make sense for
    /// any server, with OpenSSH's port and the local user unless the jump
    /// list names them. The key server speaks for the MCP server only, so
    /// a jump host's key is checked against known_hosts.
    fn jump_host(&self, spec: &JumpSpec) -> Config {
        let mut hop = self.flags.clone();
        hop.host = spec.host.clone();
        hop.port = spec.port.unwrap_or(SSH_PORT);
        hop.username = spec.user.clone().unwrap_or_else(|| self.local.user.clone());
        hop.given.port = spec.port.is_some();
        hop.given.username = spec.user.is_some();
        if let HostKeyPolicy::KeyServer(_) = hop.host_keys {
            hop.host_keys = HostKeyPolicy::KnownHosts(PathBuf::from(ssh_config::expand_tilde(
                DEFAULT_KNOWN_HOSTS,
                &self.local.home,
            )));
            hop.given.known_hosts_file = false;
            hop.given.strict = false;
        }
        hop
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

    fn apply(c: &mut Config, hc: &HostConfig) -> Result<(), Error> {
        let port_and_user = c.remote.is_plain_sshd();
        c.apply(hc, &local(), port_and_user)
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
        apply(&mut c, &host_config()).unwrap();
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
        apply(&mut c, &host_config()).unwrap();
        assert_eq!(c.host, "alias.example.com");
        assert_eq!((c.port, c.username.as_str()), (1, "u"));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!((c.keepalive_interval, c.keepalive_count_max), (None, 2));
        assert_eq!(c.host_keys, HostKeyPolicy::KnownHosts(PathBuf::from("/k")));
    }

    #[test]
    fn in_shell_mode_port_and_user_stay_the_python_programs() {
        let mut c = config(&["--host", "alias"]);
        apply(&mut c, &host_config()).unwrap();
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
        apply(&mut c, &hc).unwrap();
        assert_eq!(
            c.host_keys,
            HostKeyPolicy::Disabled {
                by: "StrictHostKeyChecking no, /h/.ssh/config line 9".into()
            }
        );
        assert_eq!((c.host.as_str(), c.host_key_name()), ("a", "key-name"));
    }

    /// The config for `args` with `text` as its one SSH config file.
    fn resolved(text: &str, args: &[&str]) -> Result<Config, Error> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, text).unwrap();
        let mut args = args.to_vec();
        let file = file.to_string_lossy().into_owned();
        args.extend(["--ssh-config", &file]);
        config(&args).with_ssh_config(&local())
    }

    #[test]
    fn a_jump_chain_resolves_each_host_through_the_config_nearest_first() {
        let c = resolved(
            "Host target\n  HostName 10.0.0.9\n  ProxyJump u@a:2200,b\n\
             Host a\n  HostName 10.0.0.1\n  User ignored\n  ProxyCommand nc %h %p %r\n\
             Host b\n  Port 2201\n  IdentityFile ~/.ssh/b_key\n  IdentitiesOnly yes\n",
            &["--host", "target", "--command", "m"],
        )
        .unwrap();
        let hops = c.hops();
        let summary: Vec<(&str, u16, &str)> = hops
            .iter()
            .map(|h| (h.host.as_str(), h.port, h.username.as_str()))
            .collect();
        assert_eq!(summary, [("10.0.0.1", 2200, "u"), ("b", 2201, "me")]);
        match &hops[0].proxy {
            Proxy::Command { command, .. } => assert_eq!(command, "nc 10.0.0.1 2200 u"),
            other => panic!("{other:?}"),
        }
        assert_eq!(hops[1].identities.files, [PathBuf::from("/h/.ssh/b_key")]);
        assert!(hops[1].identities.only);
        assert_eq!(c.host, "10.0.0.9");
        assert!(c.identities.files.is_empty());
    }

    #[test]
    fn a_jump_host_is_checked_against_known_hosts_even_in_key_server_mode() {
        let c = resolved(
            "Host target\n  ProxyJump j\n",
            &["--host", "target", "--use-key-server"],
        )
        .unwrap();
        assert!(matches!(c.host_keys, HostKeyPolicy::KeyServer(_)));
        assert_eq!(
            c.hops()[0].host_keys,
            HostKeyPolicy::KnownHosts(PathBuf::from("/h/.ssh/known_hosts"))
        );
    }

    #[test]
    fn jump_hosts_that_lead_back_to_each_other_are_refused_not_followed() {
        let err = resolved(
            "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n",
            &["--host", "a"],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().ends_with(
                "ProxyJump b: more than 8 jump hosts on the way; do the jump hosts' own ProxyJump lines make a loop?"
            ),
            "{err}"
        );
        let err = resolved("Host a\n  ProxyJump b:0\n", &["--host", "a"]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("line 2: ProxyJump b:0: 'b:0' has an invalid port"),
            "{err}"
        );
        let none = resolved("Host a\n  ProxyJump none\n", &["--host", "a"]).unwrap();
        assert!(matches!(none.proxy, Proxy::Direct));
    }
}
