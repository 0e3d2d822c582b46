//! Checks of single flag values: a key server's base URL, a path that
//! starts with `~`.

use std::path::{Path, PathBuf};

/// Accepts `http://` or `https://`, a host name or IPv4 address, an
/// optional port and an optional path prefix; returns it without a trailing
/// slash, ready for `/server_pub_key` to be appended.
pub(super) fn check_key_server_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' must start with https:// or http://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.starts_with('[') {
        return Err(format!(
            "'{url}': IPv6 address literals are not supported here; use a host name"
        ));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() || host.contains('@') {
        return Err(format!("'{url}' has no host name"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("'{url}' has an invalid port '{port}'"));
        }
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "'{url}' must be a base URL, without query, fragment or spaces"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Expands a leading `~/` with `$HOME`, as the Python program does.
/// The folder `~` stands for: `HOME`; on Windows, where it is seldom set,
/// the user's profile (`USERPROFILE`), as OpenSSH for Windows.
pub(super) fn home(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let home = env("HOME");
    if cfg!(windows) && home.as_deref().is_none_or(str::is_empty) {
        return env("USERPROFILE");
    }
    home
}

pub(super) fn expand_tilde(path: &str, home: Option<&str>) -> Result<PathBuf, String> {
    match path.strip_prefix("~/") {
        Some(rest) => match home {
            Some(home) if !home.is_empty() => Ok(Path::new(home).join(rest)),
            _ => Err(format!("cannot expand '{path}': HOME is not set")),
        },
        None if path == "~" => Err("expected a file, got '~'".into()),
        None => Ok(PathBuf::from(path)),
    }
}
