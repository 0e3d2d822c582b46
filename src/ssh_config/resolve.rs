//! Walking the files for one host, as OpenSSH's `readconf.c` does: the
//! first value of a keyword wins across all blocks and files, `Host`
//! patterns and `Match` criteria decide which blocks apply, `Include`
//! reads other files in place, and a `Match final` asks for a second pass
//! once HostName is known.

use std::fs;
use std::path::{Path, PathBuf};

use super::lines::{self, Line};
use super::{AddressFamily, HostConfig, Local, MAX_FILE, Source, StrictHostKeyChecking};
use crate::error::Error;
use crate::local_file;
use crate::pattern;
use crate::{debug, warn};

/// How deep `Include` may nest, as OpenSSH allows.
const MAX_INCLUDE_DEPTH: usize = 16;

/// One walk over the files.
pub(super) struct Pass<'a> {
    pub(super) config: &'a mut HostConfig,
    /// What `Host` lines match: the host as given, or after HostName in the
    /// final pass.
    pub(super) host: &'a str,
    pub(super) original_host: &'a str,
    pub(super) local: &'a Local,
    pub(super) final_pass: bool,
    /// Set when a `Match final` is seen.
    pub(super) wants_final: bool,
    pub(super) warned_exec: bool,
}

impl Pass<'_> {
    /// Reads `source` (a missing default file is empty).
    pub(super) fn run(&mut self, source: &Source) -> Result<(), Error> {
        let mut active = true;
        self.file(
            &source.path,
            source.user_file,
            source.required,
            &mut active,
            false,
            0,
        )
    }

    fn file(
        &mut self,
        path: &Path,
        user_file: bool,
        required: bool,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) -> Result<(), Error> {
        let text = match local_file::read(path, MAX_FILE) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
            Err(source) => {
                return Err(Error::SshConfig {
                    path: path.to_path_buf(),
                    line: None,
                    detail: format!("cannot read it: {source}"),
                });
            }
        };
        let lines = lines::parse(&text).map_err(|line| Error::SshConfig {
            path: path.to_path_buf(),
            line: Some(line),
            detail: "a quote is not closed".into(),
        })?;
        for line in &lines {
            let fail = |detail: String| Error::SshConfig {
                path: path.to_path_buf(),
                line: Some(line.number),
                detail,
            };
            if line.args.is_empty() && line.keyword != "match" {
                return Err(fail(format!("'{}' has no value", line.keyword)));
            }
            match line.keyword.as_str() {
                "host" => {
                    *active = !never_match && self.host_matches(&line.args);
                }
                "match" => {
                    let matched = self.match_matches(&line.args).map_err(fail)?;
                    *active = !never_match && matched;
                }
                "include" => {
                    if depth + 1 >= MAX_INCLUDE_DEPTH {
                        return Err(fail(format!(
                            "Include nests deeper than {MAX_INCLUDE_DEPTH} files (does a file include itself?)"
                        )));
                    }
                    for pattern in &line.args {
                        let anchored = anchor(pattern, user_file, &self.local.home);
                        for included in glob_files(&anchored) {
                            let before = *active;
                            self.file(
                                &included,
                                user_file,
                                false,
                                active,
                                never_match || !before,
                                depth + 1,
                            )?;
                            *active = before;
                        }
                    }
                }
                _ if *active => self.set(line, path).map_err(fail)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// OpenSSH's `Host`: some pattern matches, and no negated one does.
    fn host_matches(&self, patterns: &[String]) -> bool {
        let mut matched = false;
        for p in patterns {
            match p.strip_prefix('!') {
                Some(negated) if pattern::glob(negated, self.host) => return false,
                Some(_) => {}
                None => matched |= pattern::glob(p, self.host),
            }
        }
        matched
    }

    /// OpenSSH's `match_cfg_line`: every criterion must hold.
    fn match_matches(&mut self, args: &[String]) -> Result<bool, String> {
        // Match host sees HostName if one is set by now.
        let host = match &self.config.hostname {
            Some((name, _)) if !self.final_pass => super::expand_hostname(name, self.original_host),
            _ => self.host.to_string(),
        };
        let remote_user = self
            .config
            .user
            .as_ref()
            .map_or(self.local.user.as_str(), |(u, _)| u.as_str());
        let mut result = true;
        let mut criteria = 0;
        let mut args = args.iter();
        while let Some(criterion) = args.next() {
            let (negate, name) = match criterion.strip_prefix('!') {
                Some(name) => (true, name),
                None => (false, criterion.as_str()),
            };
            let name = name.to_ascii_lowercase();
            if name == "all" {
                if criteria > 0 || args.len() > 0 {
                    return Err("'all' cannot be combined with other Match criteria".into());
                }
                return Ok(result && !negate);
            }
            criteria += 1;
            if name == "canonical" || name == "final" {
                if name == "final" {
                    self.wants_final = true;
                }
                if self.final_pass == negate {
                    result = false;
                }
                continue;
            }
            let Some(arg) = args.next() else {
                return Err(format!("Match {name} needs an argument"));
            };
            let holds = match name.as_str() {
                "host" => pattern::host_list_matches(arg, &host),
                "originalhost" => pattern::host_list_matches(arg, self.original_host),
                "user" => pattern::list_matches(arg, remote_user),
                "localuser" => pattern::list_matches(arg, &self.local.user),
                "exec" => {
                    if !self.warned_exec {
                        warn!("SSH config: 'Match exec' is not run; its block does not apply");
                        self.warned_exec = true;
                    }
                    false
                }
                other => {
                    debug!(
                        "SSH config: 'Match {other}' is not supported; its block does not apply"
                    );
                    false
                }
            };
            if holds == negate {
                result = false;
            }
        }
        if criteria == 0 {
            return Err("Match needs at least one criterion".into());
        }
        Ok(result)
    }

    /// Takes the value of one line of an applying block, unless an earlier
    /// one set it.
    fn set(&mut self, line: &Line, path: &Path) -> Result<(), String> {
        let origin = format!("{} line {}", path.display(), line.number);
        let first = || -> Result<String, String> {
            line.args
                .first()
                .cloned()
                .ok_or_else(|| format!("{} needs a value", line.keyword))
        };
        let c = &mut *self.config;
        match line.keyword.as_str() {
            "hostname" => set_once(&mut c.hostname, first()?, origin),
            "port" => {
                let value = first()?;
                let port = value
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("Port '{value}' is not a port number"))?;
                set_once(&mut c.port, port, origin);
            }
            "user" => set_once(&mut c.user, first()?, origin),
            "identityfile" => c.identity_files.push((first()?, origin)),
            "identitiesonly" => set_once(&mut c.identities_only, yes_no(&first()?)?, origin),
            "identityagent" => set_once(&mut c.identity_agent, first()?, origin),
            "userknownhostsfile" => {
                if line.args.is_empty() {
                    return Err("UserKnownHostsFile needs a value".into());
                }
                set_once(&mut c.user_known_hosts, line.args.clone(), origin);
            }
            "stricthostkeychecking" => {
                let value = first()?;
                let policy = match value.to_ascii_lowercase().as_str() {
                    "yes" | "true" => StrictHostKeyChecking::Yes,
                    "ask" => StrictHostKeyChecking::Ask,
                    "no" | "false" | "off" => StrictHostKeyChecking::No,
                    "accept-new" => StrictHostKeyChecking::AcceptNew,
                    _ => {
                        return Err(format!(
                            "StrictHostKeyChecking '{value}' is not yes, no, ask or accept-new"
                        ));
                    }
                };
                set_once(&mut c.strict_host_key_checking, policy, origin);
            }
            "connecttimeout" => {
                let value = first()?;
                let secs = if value == "none" {
                    None
                } else {
                    Some(time_value(&value)?)
                };
                set_once(&mut c.connect_timeout, secs, origin);
            }
            "serveraliveinterval" => {
                set_once(&mut c.server_alive_interval, time_value(&first()?)?, origin)
            }
            "serveralivecountmax" => {
                let value = first()?;
                let count = value
                    .parse::<u32>()
                    .map_err(|_| format!("ServerAliveCountMax '{value}' is not a number"))?;
                set_once(&mut c.server_alive_count_max, count, origin);
            }
            "proxyjump" => {
                // As OpenSSH: whichever of ProxyJump and ProxyCommand comes first wins.
                if c.proxy_command.is_none() {
                    let rest = line.rest.split('#').next().unwrap_or_default().trim_end();
                    set_once(&mut c.proxy_jump, rest.to_string(), origin);
                }
            }
            "proxycommand" => {
                if c.proxy_jump.is_none() {
                    set_once(&mut c.proxy_command, line.rest.clone(), origin);
                }
            }
            "hostkeyalias" => set_once(&mut c.host_key_alias, first()?, origin),
            "hashknownhosts" => set_once(&mut c.hash_known_hosts, yes_no(&first()?)?, origin),
            "addressfamily" => {
                let value = first()?;
                let family = match value.to_ascii_lowercase().as_str() {
                    "any" => AddressFamily::Any,
                    "inet" => AddressFamily::Inet,
                    "inet6" => AddressFamily::Inet6,
                    _ => return Err(format!("AddressFamily '{value}' is not any, inet or inet6")),
                };
                set_once(&mut c.address_family, family, origin);
            }
            "ciphers" | "kexalgorithms" | "hostkeyalgorithms" | "macs" => {
                let keyword = match line.keyword.as_str() {
                    "ciphers" => "Ciphers",
                    "kexalgorithms" => "KexAlgorithms",
                    "hostkeyalgorithms" => "HostKeyAlgorithms",
                    _ => "MACs",
                };
                if !c.algorithms.iter().any(|(k, _, _)| *k == keyword) {
                    c.algorithms.push((keyword, first()?, origin));
                }
            }
            "tcpkeepalive" => set_once(&mut c.tcp_keep_alive, yes_no(&first()?)?, origin),
            other => debug!("SSH config: {origin}: '{other}' is not used here"),
        }
        Ok(())
    }
}

fn set_once<T>(slot: &mut Option<(T, String)>, value: T, origin: String) {
    if slot.is_none() {
        *slot = Some((value, origin));
    }
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("'{value}' is not yes or no")),
    }
}

/// OpenSSH's `convtime`: seconds, or a sum of numbers each with a unit
/// (s, m, h, d, w; any case).
fn time_value(value: &str) -> Result<u64, String> {
    let invalid = || format!("'{value}' is not a time (seconds, or 1h30m and the like)");
    let mut total: u64 = 0;
    let mut rest = value;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = match rest.chars().next() {
            None => 1,
            Some(c) => {
                rest = &rest[1..];
                match c.to_ascii_lowercase() {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    'd' => 86_400,
                    'w' => 604_800,
                    _ => return Err(invalid()),
                }
            }
        };
        total = n
            .checked_mul(unit)
            .and_then(|t| total.checked_add(t))
            .filter(|t| *t <= i32::MAX as u64)
            .ok_or_else(invalid)?;
    }
    Ok(total)
}

/// An Include path made absolute: relative ones live in `~/.ssh` for a
/// user's file and in `/etc/ssh` for the system's.
fn anchor(pattern: &str, user_file: bool, home: &str) -> String {
    let pattern = super::tokens::expand_tilde(pattern, home);
    if Path::new(&pattern).is_absolute() {
        pattern
    } else if user_file {
        Path::new(home)
            .join(".ssh")
            .join(pattern)
            .to_string_lossy()
            .into_owned()
    } else {
        format!("/etc/ssh/{pattern}")
    }
}

/// The files a glob names, sorted as glob(3) sorts them; `*` and `?` in any
/// component.
fn glob_files(pattern: &str) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("/")];
    for component in Path::new(pattern).components().skip(1) {
        let part = component.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &found {
            if part.contains(['*', '?']) {
                let Ok(entries) = fs::read_dir(base) else {
                    continue;
                };
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('.') || part.starts_with('.'))
                    .filter(|name| pattern::glob(&part, name))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|name| base.join(name)));
            } else {
                let path = base.join(part.as_ref());
                if path.symlink_metadata().is_ok() {
                    next.push(path);
                }
            }
        }
        found = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_seconds_or_sums_of_units() {
        assert_eq!(time_value("30"), Ok(30));
        assert_eq!(time_value("1m30s"), Ok(90));
        assert_eq!(time_value("1H"), Ok(3600));
        assert!(time_value("").is_err());
        assert!(time_value("1x").is_err());
        assert!(time_value("s").is_err());
    }
}
