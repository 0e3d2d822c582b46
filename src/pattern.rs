//! OpenSSH's patterns (`match.c`): `*` and `?` wildcards, and lists of
//! them separated by commas, each possibly negated with `!`. known_hosts
//! host fields and `~/.ssh/config`'s `Host` and `Match` lines use them.

/// `*` matches any run of characters and `?` exactly one; everything else
/// matches itself. Backtracks only to the last `*`, so it is linear in
/// practice. OpenSSH's `match_pattern`: case-sensitive.
pub fn glob(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                last_star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match last_star {
                Some((star, start)) => {
                    last_star = Some((star, start + 1));
                    p = star + 1;
                    n = start + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// OpenSSH's `match_pattern_list`: some positive pattern of the
/// comma-separated `list` matches and no negated (`!`) one does.
pub fn list_matches(list: &str, name: &str) -> bool {
    let mut positive = false;
    for pattern in list.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if glob(negated, name) => return false,
            Some(_) => {}
            None => positive |= glob(pattern, name),
        }
    }
    positive
}

/// OpenSSH's `match_hostname`: [`list_matches`] ignoring ASCII case, as
/// host names compare.
pub fn host_list_matches(list: &str, host: &str) -> bool {
    list_matches(&list.to_ascii_lowercase(), &host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_matches(pattern: &str, name: &str) -> bool {
        glob(pattern, name)
    }

    #[test]
    fn glob_backtracks_over_several_stars() {
        assert!(glob_matches("*a*b?", "xxaxxbxbz"));
        assert!(glob_matches("**", ""));
        assert!(!glob_matches("*a*b", "xxaxxbxbz"));
        assert!(!glob_matches("?", ""));
    }

    #[test]
    fn a_negated_pattern_overrides_any_positive_one_and_hosts_ignore_case() {
        assert!(list_matches(
            "*.example.com,!bad.example.com",
            "good.example.com"
        ));
        assert!(!list_matches(
            "*.example.com,!bad.example.com",
            "bad.example.com"
        ));
        assert!(!list_matches("!bad", "good"));
        assert!(!list_matches("Web*", "web1"));
        assert!(host_list_matches("Web*", "WEB1"));
    }
}
