//! The libssh2 glue: the session and channel types over our socket, the
//! host key algorithms offered, and libssh2's errors in a user's words.

use std::io;

use async_ssh2_lite::ssh2::MethodType;
use async_ssh2_lite::{AsyncChannel, AsyncSession};

use crate::connect::socket::SshSocket;
use crate::debug;
use crate::error::Error;
use crate::host_key::{Trust, key_types};
use crate::log::{self, Level};

pub type Session = AsyncSession<SshSocket>;
pub type Channel = AsyncChannel<SshSocket>;

/// Offers first the host key algorithms we can check for this host, so
/// that a host known by its ECDSA key is not taken for changed because the
/// server would rather show its ed25519 key (OpenSSH orders them the same
/// way); then the rest, narrowed to what this libssh2 build supports (it
/// refuses a preference naming one it lacks). Returns the order set.
pub async fn prefer_host_key_algorithms(
    session: &Session,
    trust: &Trust,
    host: &str,
    port: u16,
    target: &str,
) -> Result<Vec<String>, Error> {
    let supported = session
        .supported_algs(MethodType::HostKey)
        .await
        .unwrap_or_default();
    let preferred = trust.preferred_key_types(host, port);
    let mut order: Vec<&str> = Vec::new();
    let key_types = preferred
        .iter()
        .map(String::as_str)
        .chain(key_types::KEY_TYPES.iter().copied());
    for key_type in key_types {
        for name in key_types::algorithms(key_type) {
            if !order.contains(name) {
                order.push(name);
            }
        }
    }
    order.retain(|name| supported.contains(name));
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let prefs = order.join(",");
    debug!("host key algorithms offered: {prefs}");
    session
        .method_pref(MethodType::HostKey, &prefs)
        .await
        .map_err(|e| handshake_error(target, e))?;
    Ok(order.into_iter().map(str::to_string).collect())
}

/// At DEBUG, what the handshake agreed on.
pub fn log_algorithms(session: &Session) {
    if log::enabled(Level::Debug) {
        debug!("negotiated {}", algorithms(session));
    }
}

/// What the handshake agreed on, in a few words.
pub fn algorithms(session: &Session) -> String {
    let method = |kind| session.methods(kind).unwrap_or("?");
    format!(
        "kex {}, host key {}, cipher {}, mac {}",
        method(MethodType::Kex),
        method(MethodType::HostKey),
        method(MethodType::CryptCs),
        method(MethodType::MacCs)
    )
}

pub fn handshake_error(target: &str, e: async_ssh2_lite::Error) -> Error {
    Error::Handshake {
        target: target.to_string(),
        detail: describe(&e),
    }
}

/// The message of an async-ssh2-lite error, without its Debug wrapping.
pub fn describe(e: &async_ssh2_lite::Error) -> String {
    match e {
        async_ssh2_lite::Error::Ssh2(e) => e.message().to_string(),
        async_ssh2_lite::Error::Io(e) => e.to_string(),
        async_ssh2_lite::Error::Other(e) => e.to_string(),
    }
}

/// Says in words what libssh2's terse transport errors mean to a user.
/// Which of them a dropped connection produces depends on the call that
/// met it; they all mean the same to the user.
pub fn transport_failure(e: &io::Error) -> String {
    let raw = e.to_string();
    match raw.as_str() {
        "transport read"
        | "socket disconnect"
        | "Failed getting banner"
        | "Failure while draining incoming flow"
        | "Unable to send channel data"
        | "Unable to send transfer-window adjustment packet, deferring" => {
            debug!("libssh2: {raw}");
            "the server closed the connection or the network dropped it".into()
        }
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_libssh2_reports_a_dropped_connection_reads_the_same() {
        for raw in [
            "transport read",
            "socket disconnect",
            "Failure while draining incoming flow",
            "Unable to send channel data",
            // A read that must first grow the server's window meets the cut
            // while sending that adjustment.
            "Unable to send transfer-window adjustment packet, deferring",
        ] {
            assert_eq!(
                transport_failure(&io::Error::other(raw)),
                "the server closed the connection or the network dropped it",
                "{raw}"
            );
        }
        assert_eq!(
            transport_failure(&io::Error::other("something else")),
            "something else"
        );
    }
}
