//! Which cipher we offer first: the one this CPU runs fastest.
//!
//! libssh2 offers chacha20-poly1305 first, as OpenSSH does, but where
//! OpenSSH runs it through OpenSSL's vectorised code, libssh2 has its own
//! portable C version: profiled on x86_64, it was the largest single cost
//! of relaying (17 % of the client's CPU time). AES-GCM goes through
//! OpenSSL, which uses the CPU's AES and carry-less multiply instructions
//! where they exist (AES-NI and PCLMULQDQ on x86_64, the ARMv8 crypto
//! extensions on aarch64); there it is several times faster. Without them
//! (Raspberry Pi 1 to 4, most 32-bit ARM) table-based AES is slower than
//! ChaCha, so the order stays libssh2's.
//!
//! Only the order changes: every cipher libssh2 offers stays on offer, so
//! a server that allows only one of them is still reached.

/// What libssh2 offers by default, in its order, for a build with
/// every algorithm compiled in; narrowed to what this build supports.
const DEFAULT_ORDER: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
    "aes256-cbc",
    "rijndael-cbc@lysator.liu.se",
    "aes192-cbc",
    "aes128-cbc",
    "blowfish-cbc",
    "arcfour128",
    "arcfour",
    "cast128-cbc",
    "3des-cbc",
];

/// Ciphers moved to the front where AES runs in hardware.
const HARDWARE_AES_FIRST: &[&str] = &["aes256-gcm@openssh.com", "aes128-gcm@openssh.com"];

/// The cipher preference for libssh2, or `None` to keep its own order.
/// `supported` is what this libssh2 build implements.
pub fn preference(supported: &[&str], hardware_aes: bool) -> Option<String> {
    if !hardware_aes {
        return None;
    }
    let mut order: Vec<&str> = Vec::new();
    // Anything this build has that the lists above do not know, last.
    let known = HARDWARE_AES_FIRST
        .iter()
        .chain(DEFAULT_ORDER)
        .chain(supported);
    for cipher in known {
        if supported.contains(cipher) && !order.contains(cipher) {
            order.push(cipher);
        }
    }
    (!order.is_empty()).then(|| order.join(","))
}

/// Whether this CPU has the instructions OpenSSL's fast AES-GCM uses.
pub fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_hardware_aes_gcm_comes_first_and_nothing_is_dropped() {
        let supported = [
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            "aes128-gcm@openssh.com",
            "aes256-ctr",
            "aes128-ctr",
            "aes256-cbc",
            "some-future-cipher",
        ];
        assert_eq!(
            preference(&supported, true).as_deref(),
            Some(
                "aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,\
                 aes256-ctr,aes128-ctr,aes256-cbc,some-future-cipher"
            )
        );
    }

    #[test]
    fn without_hardware_aes_libssh2_keeps_its_order() {
        assert_eq!(preference(&["chacha20-poly1305@openssh.com"], false), None);
    }

    #[test]
    fn a_build_without_gcm_keeps_the_rest_in_order() {
        assert_eq!(
            preference(&["chacha20-poly1305@openssh.com", "aes128-ctr"], true).as_deref(),
            Some("chacha20-poly1305@openssh.com,aes128-ctr")
        );
    }
}
