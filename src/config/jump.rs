//! `ProxyJump`'s hosts: `[user@]host[:port]` or `ssh://[user@]host[:port]`,
//! comma-separated, IPv6 literals in brackets, as OpenSSH parses them.

/// One jump host as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Jump hosts beyond which a chain is taken for a loop: far more than any
/// real path through bastions.
pub const MAX_HOPS: usize = 8;

/// Parses a ProxyJump value (not `none`) into its hosts, nearest first.
pub fn parse_jumps(value: &str) -> Result<Vec<JumpSpec>, String> {
    value.split(',').map(|one| parse_jump(one.trim())).collect()
}

fn parse_jump(text: &str) -> Result<JumpSpec, String> {
    let bad = |why: &str| format!("'{text}' {why}");
    if text.is_empty() {
        return Err("an empty host in the list".into());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("has a space in it"));
    }
    let rest = match text.strip_prefix("ssh://") {
        Some(uri) => uri.strip_suffix('/').unwrap_or(uri),
        None => text,
    };
    let (user, rest) = match rest.rsplit_once('@') {
        Some(("", _)) => return Err(bad("has an empty user")),
        Some((user, rest)) => (Some(user.to_string()), rest),
        None => (None, rest),
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| bad("opens a [ it does not close"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(bad("has text after its ]")),
            },
        }
    } else if rest.matches(':').count() > 1 {
        return Err(bad("needs brackets around an IPv6 address, as in [::1]:22"));
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if host.contains(['/', '[', ']', '@']) {
        return Err(bad("is not a host name or address"));
    }
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("has an invalid port"))
        })
        .transpose()?;
    Ok(JumpSpec {
        user,
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(user: Option<&str>, host: &str, port: Option<u16>) -> JumpSpec {
        JumpSpec {
            user: user.map(str::to_string),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn every_form_openssh_takes() {
        assert_eq!(parse_jumps("b").unwrap(), [spec(None, "b", None)]);
        assert_eq!(
            parse_jumps("u@b:2200").unwrap(),
            [spec(Some("u"), "b", Some(2200))]
        );
        assert_eq!(
            parse_jumps("ssh://u@b:2200/").unwrap(),
            [spec(Some("u"), "b", Some(2200))]
        );
        assert_eq!(
            parse_jumps("a, [::1]:22,u@h@x").unwrap(),
            [
                spec(None, "a", None),
                spec(None, "::1", Some(22)),
                spec(Some("u@h"), "x", None)
            ]
        );
        assert_eq!(
            parse_jumps("[fe80::1]").unwrap(),
            [spec(None, "fe80::1", None)]
        );
    }

    #[test]
    fn what_makes_no_sense_is_said() {
        for (value, error) in [
            ("a,,b", "an empty host in the list"),
            ("b:0", "'b:0' has an invalid port"),
            ("b:x", "'b:x' has an invalid port"),
            ("b:70000", "'b:70000' has an invalid port"),
            ("@b", "'@b' has an empty user"),
            ("u@", "'u@' has no host"),
            ("[::1", "'[::1' opens a [ it does not close"),
            ("[::1]x", "'[::1]x' has text after its ]"),
            (
                "::1",
                "'::1' needs brackets around an IPv6 address, as in [::1]:22",
            ),
            ("a/b", "'a/b' is not a host name or address"),
            ("a b", "'a b' has a space in it"),
        ] {
            assert_eq!(parse_jumps(value).unwrap_err(), error, "{value}");
        }
    }
}
