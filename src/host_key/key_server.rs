//! The key-server exchange, as the peer server `m2m-mcp-server-ssh-server`
//! serves it: `GET /server_pub_key` answers the SSH server's host key, and
//! `POST /register` with our public key lets that key log in.
//!
//! Where it is asked, like the Python client: `https://HOST/` (port 443)
//! first, then `http://HOST:KEY_SERVER_PORT/`; or exactly the base URL given
//! with `--key-server-url`. The scheme is settled by the first request, so
//! both requests go to the same place. Over plain HTTP the answer is not
//! authenticated, and we say so; what protects the user then is the pin (see
//! `pin.rs`) and the SSH host key check against the answered key.
//!
//! The requests are blocking (minreq), run once per process start before
//! anything else happens, and bounded: each request as a whole (resolve,
//! connect, TLS, answer) by [`REQUEST_TIMEOUT`], each body by [`MAX_BODY`].
//! No redirects are followed: a redirect from HTTPS to HTTP would quietly
//! drop the authentication.

use std::io::{self, Read};
use std::net::TcpStream;

use miniserde::json::{self, Value};
use openssl::ssl::HandshakeError;
use openssl::x509::X509VerifyResult;

use crate::address;
use crate::error::Error;
use crate::host_key::key_types::KEY_TYPES;
use crate::keys::PublicKey;

/// The Python client's timeout per request; it covers connecting as well as
/// the answer, since minreq bounds a request as a whole.
pub const REQUEST_TIMEOUT_SECS: u64 = 5;
/// The two answers are a few dozen bytes; anything near this is not a key server.
pub const MAX_BODY: usize = 64 * 1024;
/// What minreq reports, as the reason of a made-up status 503, when the
/// answer has no HTTP status line (nothing at all, or not HTTP).
const NO_STATUS_LINE: &str = "Server did not provide a status line";

/// Where the key server was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Base URL without a trailing slash, e.g. `http://example.com:8000`.
    pub base: String,
}

impl Location {
    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

/// The host key the key server answered, and where it came from.
#[derive(Debug, Clone)]
pub struct ServerKey {
    pub key: PublicKey,
    pub location: Location,
}

/// Asks for the server's host key: at `explicit` only, when given, or over
/// HTTPS on port 443 and then over HTTP on `port`. `explicit` is a base URL
/// as `--key-server-url` validated it, without a trailing slash.
pub fn fetch_server_key(host: &str, port: u16, explicit: Option<&str>) -> Result<ServerKey, Error> {
    if let Some(base) = explicit {
        let location = Location {
            base: base.to_string(),
        };
        let key = server_key_at(&location)?;
        return Ok(ServerKey { key, location });
    }
    let https = Location {
        base: format!("https://{}", address::bracketed(host)),
    };
    match server_key_at(&https) {
        Ok(key) => Ok(ServerKey {
            key,
            location: https,
        }),
        // The server speaks TLS but its certificate fails: someone may be in
        // the middle, or the system lacks the CA. Either way, quietly asking
        // the same question in clear text would be the wrong answer.
        Err(e @ Error::KeyServerTls { .. }) => Err(e),
        Err(https_error) => {
            let location = Location {
                base: base_url("http", host, port),
            };
            crate::debug!("{https_error}");
            crate::warn!(
                "no key server over HTTPS at {} ({}); asking {} over plain HTTP: the server key then comes \
                 unauthenticated, and only its pin protects later starts",
                https.endpoint("server_pub_key"),
                short_reason(&https_error),
                location.base
            );
            let key = server_key_at(&location)?;
            Ok(ServerKey { key, location })
        }
    }
}

/// Registers our public key ("type base64", no comment: the peer compares
/// the whole text and would never match a key registered with one).
pub fn register(location: &Location, client_key: &PublicKey) -> Result<(), Error> {
    let url = location.endpoint("register");
    let body = json::to_string(&RegisterRequest {
        client_pub_key: client_key.to_openssh(),
    });
    let request = minreq::post(&url)
        .with_header("Content-Type", "application/json")
        .with_body(body);
    let answer = send(request, &url)?;
    // The peer answers {"status": "success"}; we hold it to its status code
    // only, so that a key server that words it differently still works.
    crate::debug!(
        "registered {} at {url}: {}",
        client_key.fingerprint(),
        String::from_utf8_lossy(&answer)
    );
    Ok(())
}

#[derive(miniserde::Serialize)]
struct RegisterRequest {
    client_pub_key: String,
}

/// One `GET /server_pub_key`, its answer checked down to the key's type.
fn server_key_at(location: &Location) -> Result<PublicKey, Error> {
    let url = location.endpoint("server_pub_key");
    let body = send(minreq::get(&url), &url)?;
    let bad_answer = |detail: String| Error::KeyServerAnswer {
        url: url.clone(),
        detail,
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| bad_answer(format!("the answer is not JSON: {}", preview(&body))))?;
    let value: Value = json::from_str(text)
        .map_err(|_| bad_answer(format!("the answer is not JSON: {}", preview(&body))))?;
    let field = match &value {
        Value::Object(object) => object.get("server_pub_key"),
        _ => None,
    };
    let line = match field {
        Some(Value::String(line)) => line,
        Some(_) => return Err(bad_answer("'server_pub_key' is not a string".into())),
        None => {
            return Err(bad_answer(format!(
                "the answer has no 'server_pub_key' field: {}",
                preview(&body)
            )));
        }
    };
    parse_host_key(line).map_err(|detail| Error::KeyServerKey {
        url: url.clone(),
        detail,
    })
}

/// Checks that the answered line is an SSH host key we can verify.
fn parse_host_key(line: &str) -> Result<PublicKey, String> {
    let key = PublicKey::from_openssh(line).ok_or_else(|| {
        format!(
            "'{}' is not an SSH public key (expected 'ssh-ed25519 AAAA...')",
            preview(line.as_bytes())
        )
    })?;
    if !KEY_TYPES.contains(&key.algorithm.as_str()) {
        return Err(format!(
            "the host key type {} is not one we can verify (supported: {})",
            key.algorithm,
            KEY_TYPES.join(", ")
        ));
    }
    Ok(key)
}

/// Sends a request and returns the body of a 2xx answer, at most [`MAX_BODY`].
fn send(request: minreq::Request, url: &str) -> Result<Vec<u8>, Error> {
    let mut response = request
        .with_timeout(REQUEST_TIMEOUT_SECS)
        .with_follow_redirects(false)
        .send_lazy()
        .map_err(|e| request_error(e, url))?;
    let mut body = Vec::new();
    (&mut response)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| request_error(minreq::Error::IoError(e), url))?;
    if body.len() > MAX_BODY {
        return Err(Error::KeyServerAnswer {
            url: url.to_string(),
            detail: format!(
                "the answer is larger than {} KiB; this is not a key server",
                MAX_BODY / 1024
            ),
        });
    }
    if response.reason_phrase == NO_STATUS_LINE && response.headers.is_empty() {
        return Err(Error::KeyServerAnswer {
            url: url.to_string(),
            detail: if body.is_empty() {
                "the connection was closed without an answer; this is not an HTTP server".into()
            } else {
                format!("the answer is not HTTP: {}", preview(&body))
            },
        });
    }
    let status = response.status_code;
    if !(200..300).contains(&status) {
        let retry_after = response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, value)| value.trim().parse::<u64>().ok());
        return Err(Error::KeyServerStatus {
            url: url.to_string(),
            status,
            reason: response.reason_phrase.clone(),
            message: error_message(&body),
            retry_after,
        });
    }
    Ok(body)
}

/// Sorts minreq's failures into ours: TLS, unreachable, or a broken answer.
fn request_error(e: minreq::Error, url: &str) -> Error {
    let url = url.to_string();
    match e {
        minreq::Error::OpenSslCreateConnection(e) => Error::KeyServerTls {
            url,
            detail: tls_detail(&e),
        },
        minreq::Error::IoError(e) if e.kind() == io::ErrorKind::TimedOut => {
            Error::KeyServerUnreachable {
                url,
                detail: format!("no answer within {REQUEST_TIMEOUT_SECS} s"),
            }
        }
        minreq::Error::IoError(e) if is_tls_failure(&e) => Error::KeyServerTls {
            url,
            detail: e.to_string(),
        },
        minreq::Error::IoError(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            Error::KeyServerUnreachable {
                url,
                detail: "connection refused".into(),
            }
        }
        minreq::Error::IoError(e) => Error::KeyServerUnreachable {
            url,
            detail: e.to_string(),
        },
        minreq::Error::AddressNotFound => Error::KeyServerUnreachable {
            url,
            detail: "the host name does not resolve".into(),
        },
        other => Error::KeyServerAnswer {
            url,
            detail: format!("the answer is not valid HTTP: {other}"),
        },
    }
}

/// minreq reports TLS errors after the handshake (and OpenSSL setup errors)
/// as plain I/O errors that wrap OpenSSL's error stack.
fn is_tls_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| {
        inner.is::<openssl::error::ErrorStack>() || inner.is::<openssl::ssl::Error>()
    })
}

/// What went wrong in the TLS handshake, in OpenSSL's words but without its
/// source-file coordinates: for a certificate, the verification result
/// ("self-signed certificate", "certificate has expired", ...).
fn tls_detail(e: &HandshakeError<TcpStream>) -> String {
    match e {
        HandshakeError::Failure(stream) => {
            let verify = stream.ssl().verify_result();
            if verify != X509VerifyResult::OK {
                format!("certificate verification failed: {}", verify.error_string())
            } else {
                match stream.error().ssl_error() {
                    Some(stack) => stack
                        .errors()
                        .iter()
                        .map(|e| e.reason().unwrap_or("unknown error").to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                    None => stream.error().to_string(),
                }
            }
        }
        other => other.to_string(),
    }
}

/// The `error` text of a JSON error body, as the peer writes them.
fn error_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    match json::from_str::<Value>(text).ok()? {
        Value::Object(object) => match object.get("error")? {
            Value::String(message) => Some(preview(message.as_bytes())),
            _ => None,
        },
        _ => None,
    }
}

fn base_url(scheme: &str, host: &str, port: u16) -> String {
    format!("{scheme}://{}:{port}", address::bracketed(host))
}

fn short_reason(e: &Error) -> String {
    match e {
        Error::KeyServerUnreachable { detail, .. }
        | Error::KeyServerAnswer { detail, .. }
        | Error::KeyServerKey { detail, .. }
        | Error::KeyServerTls { detail, .. } => detail.clone(),
        Error::KeyServerStatus { status, reason, .. } => format!("HTTP {status} {reason}"),
        other => other.to_string(),
    }
}

/// At most a line's worth of untrusted text, with control characters made
/// visible, so that a hostile answer cannot paint over the terminal.
fn preview(bytes: &[u8]) -> String {
    const SHOWN: usize = 120;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN * 4)]);
    let mut out: String = text
        .chars()
        .take(SHOWN)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().count() > SHOWN || bytes.len() > SHOWN * 4 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn an_ed25519_line_with_or_without_comment_is_a_host_key() {
        assert_eq!(
            parse_host_key(ED25519_LINE).unwrap().algorithm,
            "ssh-ed25519"
        );
        let with_comment = format!("{ED25519_LINE} root@server");
        assert!(parse_host_key(&with_comment).is_ok());
    }

    #[test]
    fn a_dss_key_is_refused_as_unverifiable() {
        // A well-formed ssh-dss blob: name and four mpints.
        let mut blob = Vec::new();
        for field in [&b"ssh-dss"[..], b"\x01", b"\x02", b"\x03", b"\x04"] {
            crate::keys::wire::put_string(&mut blob, field);
        }
        use base64::Engine as _;
        let line = format!(
            "ssh-dss {}",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        );
        let err = parse_host_key(&line).unwrap_err();
        assert!(
            err.starts_with("the host key type ssh-dss is not one we can verify"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        let err = parse_host_key("hello").unwrap_err();
        assert_eq!(
            err,
            "'hello' is not an SSH public key (expected 'ssh-ed25519 AAAA...')"
        );
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            error_message(br#"{"error": "Rate limit exceeded. Try again later."}"#).as_deref(),
            Some("Rate limit exceeded. Try again later.")
        );
        assert_eq!(error_message(b"<html>"), None);
    }

    #[test]
    fn previews_are_short_and_free_of_control_characters() {
        assert_eq!(preview(b"a\x1b[2Jb"), "a\u{fffd}[2Jb");
        let long = vec![b'x'; 1000];
        assert_eq!(preview(&long).chars().count(), 121);
    }

    #[test]
    fn ipv6_hosts_are_bracketed_in_urls() {
        assert_eq!(base_url("http", "::1", 8000), "http://[::1]:8000");
        assert_eq!(base_url("http", "example.com", 80), "http://example.com:80");
    }
}
