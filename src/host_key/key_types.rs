//! The host key types we can verify, and the algorithms each is offered
//! under in the handshake.

/// Host key types libssh2 can verify, most preferred first. A key of
/// another type (ssh-dss, a certificate, a security key) cannot be checked
/// against the handshake.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
];

/// RSA keys sign with SHA-2 first, as OpenSSH offers them.
const RSA_ALGORITHMS: &[&str] = &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/// The host key algorithms a key of this type is offered under, most
/// preferred first; none for a type we cannot verify.
pub fn algorithms(key_type: &str) -> &'static [&'static str] {
    if key_type == "ssh-rsa" {
        return RSA_ALGORITHMS;
    }
    match KEY_TYPES.iter().position(|known| *known == key_type) {
        Some(at) => &KEY_TYPES[at..=at],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verifiable_type_is_offered_under_its_algorithms_and_others_under_none() {
        let all: Vec<&str> = KEY_TYPES
            .iter()
            .flat_map(|t| algorithms(t))
            .copied()
            .collect();
        assert_eq!(
            all,
            [
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "rsa-sha2-512",
                "rsa-sha2-256",
                "ssh-rsa",
            ]
        );
        assert!(algorithms("ssh-dss").is_empty());
    }
}
