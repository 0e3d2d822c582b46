//! How a host is written when a port or a path follows it: an IPv6
//! literal in brackets (`[::1]:8022`, `https://[::1]/`), anything else as
//! it is; and a host the user wrote in brackets, without them.

use std::borrow::Cow;

/// `host` as it is written before `:port`.
pub fn bracketed(host: &str) -> Cow<'_, str> {
    if host.contains(':') {
        Cow::Owned(format!("[{host}]"))
    } else {
        Cow::Borrowed(host)
    }
}

/// `host` without the brackets a user may have put around an IPv6 literal.
pub fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host:port` as users and logs read it.
pub fn host_port(host: &str, port: u16) -> String {
    format!("{}:{port}", bracketed(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_literals_are_bracketed_before_a_port_and_only_they() {
        assert_eq!(host_port("::1", 8022), "[::1]:8022");
        assert_eq!(host_port("example.com", 22), "example.com:22");
        assert_eq!(bracketed("10.0.0.1"), "10.0.0.1");
        assert_eq!(unbracketed("[::1]"), "::1");
        assert_eq!(unbracketed("::1"), "::1");
        assert_eq!(unbracketed("[x"), "[x");
    }
}
