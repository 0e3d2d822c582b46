//! The `%` tokens and `~` of SSH config values, as OpenSSH expands them.

use std::path::Path;

use sha1::{Digest as _, Sha1};

/// What the tokens stand for.
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    /// `%h`: the remote host name, after HostName.
    pub host: &'a str,
    /// `%n`: the host as given on the command line.
    pub original_host: &'a str,
    /// `%p`
    pub port: u16,
    /// `%r`: the remote user.
    pub user: &'a str,
    /// `%u`, `%d`, `%i`, `%l`: the local user, home, uid and host name.
    pub local_user: &'a str,
    pub home: &'a str,
    pub uid: u32,
    pub local_host: &'a str,
}

impl Tokens<'_> {
    /// `text` with every `%x` of `allowed` replaced; an unknown or
    /// unallowed token is an error naming it.
    pub fn expand(&self, text: &str, allowed: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(token) = chars.next() else {
                return Err(format!("'{text}' ends with a lone %"));
            };
            if token == '%' {
                out.push('%');
                continue;
            }
            if !allowed.contains(token) {
                return Err(format!("'%{token}' is not a token here ('{text}')"));
            }
            match token {
                'h' => out.push_str(self.host),
                'n' => out.push_str(self.original_host),
                'p' => out.push_str(&self.port.to_string()),
                'r' => out.push_str(self.user),
                'u' => out.push_str(self.local_user),
                'd' => out.push_str(self.home),
                'i' => out.push_str(&self.uid.to_string()),
                'l' => out.push_str(self.local_host),
                'L' => out.push_str(self.local_host.split('.').next().unwrap_or_default()),
                'C' => out.push_str(&self.connection_hash()),
                _ => return Err(format!("'%{token}' is not a token here ('{text}')")),
            }
        }
        Ok(out)
    }

    /// `%C`: SHA-1 of %l%h%p%r, in hex.
    fn connection_hash(&self) -> String {
        let mut hash = Sha1::new();
        hash.update(self.local_host);
        hash.update(self.host);
        hash.update(self.port.to_string());
        hash.update(self.user);
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The tokens file paths accept (IdentityFile, UserKnownHostsFile, IdentityAgent).
pub const FILE_TOKENS: &str = "CdhiLlnpru";

/// `path` with a leading `~/` (or a lone `~`) in `home`.
pub fn expand_tilde(path: &str, home: &str) -> String {
    if path == "~" {
        return home.to_string();
    }
    match path.strip_prefix("~/") {
        Some(rest) => Path::new(home).join(rest).to_string_lossy().into_owned(),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens<'static> {
        Tokens {
            host: "h.example.com",
            original_host: "alias",
            port: 2222,
            user: "remote",
            local_user: "me",
            home: "/home/me",
            uid: 1000,
            local_host: "laptop.lan",
        }
    }

    #[test]
    fn every_token_and_the_escape_expand_and_unknown_ones_are_errors() {
        assert_eq!(
            tokens()
                .expand("%% %h %n %p %r %u %d %i %l %L", FILE_TOKENS)
                .unwrap(),
            "% h.example.com alias 2222 remote me /home/me 1000 laptop.lan laptop"
        );
        assert_eq!(tokens().expand("%C", "C").unwrap().len(), 40);
        assert!(tokens().expand("%h", "").is_err());
        assert!(tokens().expand("%z", "z").is_err());
        assert!(tokens().expand("x%", FILE_TOKENS).is_err());
        assert_eq!(expand_tilde("~/.ssh/id", "/home/me"), "/home/me/.ssh/id");
        assert_eq!(expand_tilde("/etc/x", "/home/me"), "/etc/x");
    }
}
