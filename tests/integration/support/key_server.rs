//! A stub of the key server for integration tests.
//!
//! The client talks to a small HTTP key server at start-up (`GET /server_pub_key`, then
//! `POST /register`). Tests need that server to answer on cue (a key, an error status, a
//! body too large to accept, or nothing at all) and to speak plain HTTP or HTTPS with a
//! certificate the client trusts or refuses, without reaching anything off this machine.
//! [`KeyServerStub`] listens on `127.0.0.1` on an ephemeral port, serves each connection
//! on its own thread with plain `std::net` (one request per connection, `Connection:
//! close`), records every request it reads, and stops everything when dropped.
//!
//! TLS comes from the `openssl` crate: certificates are made in-process (EC P-256,
//! SHA-256, valid from a day ago to a day ahead), and the test CA is the only file
//! written, in a temporary directory the stub owns.

// Each test binary uses only part of this module; the rest must not fail the build.
#![allow(dead_code)]

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{HandshakeError, SslAcceptor, SslMethod, SslStream};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Name, X509NameBuilder, X509NameRef, X509Ref};

/// How long any socket wait lasts before the stop flag is looked at again: it bounds how
/// long `Drop` takes, whatever state a connection is in.
const POLL: Duration = Duration::from_millis(20);

/// Limits on what a request may carry, so a misbehaving client cannot exhaust memory.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// How [`Reply::Huge`] bodies begin and end, so they look like a (very long) key reply.
const HUGE_PREFIX: &[u8] = br#"{"server_pub_key": ""#;
const HUGE_SUFFIX: &[u8] = br#""}"#;

/// What the stub answers to one path.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status code and a body, sent with `Content-Type: application/json`,
    /// `Content-Length` and `Connection: close`.
    Status(u16, Vec<u8>),
    /// Accept the connection and read the request, then never answer: the socket stays
    /// open until the stub is dropped. Other connections are still served meanwhile.
    Silent,
    /// A 200 whose body is exactly this many bytes: `{"server_pub_key": "AAA…A"}` (only a
    /// prefix of that if the size is under 22 bytes). It is streamed in chunks rather than
    /// built in memory; the client hanging up part-way is fine.
    Huge(usize),
    /// Read the request, then close the connection without a byte.
    Close,
}

/// How the stub speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP.
    None,
    /// HTTPS with a leaf certificate for `127.0.0.1` and `localhost` (SAN `IP:127.0.0.1`,
    /// `DNS:localhost`) signed by a fresh test CA. The CA certificate is written to a PEM
    /// file, [`KeyServerStub::ca_file`], for the client to trust through `SSL_CERT_FILE`.
    TrustedByTestCa,
    /// HTTPS with a self-signed certificate (SAN `IP:127.0.0.1`, `DNS:localhost`) that no
    /// one trusts, so the client's certificate check must fail.
    Untrusted,
}

/// One request as the stub read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`).
    pub method: String,
    /// The request target, as sent (query string included; routes match without it).
    pub path: String,
    /// Header names and values in the order sent, names as spelled, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body: `Content-Length` bytes, empty if there was none.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name`, matched case-insensitively as HTTP requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A 200 reply carrying `key_line` as the server's public key, as the real server sends it.
pub fn ok_server_key(key_line: &str) -> Reply {
    let body = format!(r#"{{"server_pub_key": {}}}"#, json_string(key_line));
    Reply::Status(200, body.into_bytes())
}

/// The 200 reply the real server gives to a successful `POST /register`.
pub fn ok_register() -> Reply {
    Reply::Status(200, br#"{"status": "success"}"#.to_vec())
}

/// A running stub key server; dropping it stops the server and closes all its sockets.
pub struct KeyServerStub {
    port: u16,
    scheme: &'static str,
    /// The directory holding the CA file, kept so that it lives as long as the stub.
    ca: Option<(tempfile::TempDir, PathBuf)>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the accepting thread and every connection thread see.
struct Shared {
    routes: Vec<(&'static str, Reply)>,
    acceptor: Option<SslAcceptor>,
    requests: Mutex<Vec<Request>>,
    stop: AtomicBool,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn reply_for(&self, target: &str) -> Reply {
        let path = target.split('?').next().unwrap_or(target);
        self.routes
            .iter()
            .find(|(route, _)| *route == path)
            .map(|(_, reply)| reply.clone())
            .unwrap_or_else(|| Reply::Status(404, br#"{"error": "Not found"}"#.to_vec()))
    }
}

impl KeyServerStub {
    /// Starts the stub. `routes` maps a path (`"/server_pub_key"`, `"/register"`) to its
    /// reply, whatever the method; any other path gets 404 `{"error": "Not found"}`.
    ///
    /// Panics if the port cannot be bound or the certificates cannot be made: a test
    /// cannot go on without its server.
    pub fn start(tls: Tls, routes: Vec<(&'static str, Reply)>) -> KeyServerStub {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the key server stub");
        // Non-blocking, so the accepting thread can look at the stop flag between polls.
        listener
            .set_nonblocking(true)
            .expect("make the stub's listener non-blocking");
        let port = listener.local_addr().expect("stub's local address").port();

        let (acceptor, ca) = match tls {
            Tls::None => (None, None),
            Tls::TrustedByTestCa => {
                let ca = Identity::test_ca().expect("make the test CA");
                let leaf = Identity::leaf(&ca).expect("make the stub's certificate");
                let dir = tempfile::tempdir().expect("make a directory for the test CA");
                let path = dir.path().join("ca.pem");
                let pem = ca.cert.to_pem().expect("encode the test CA");
                fs::write(&path, pem).expect("write the test CA");
                (Some(acceptor(&leaf)), Some((dir, path)))
            }
            Tls::Untrusted => {
                let own = Identity::self_signed().expect("make a self-signed certificate");
                (Some(acceptor(&own)), None)
            }
        };
        let scheme = if acceptor.is_some() { "https" } else { "http" };

        let shared = Arc::new(Shared {
            routes,
            acceptor,
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("key-server-stub".into())
                .spawn(move || accept_loop(listener, &shared))
                .expect("spawn the stub's thread")
        };
        KeyServerStub {
            port,
            scheme,
            ca,
            shared,
            thread: Some(thread),
        }
    }

    /// The port the stub listens on, on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// The test CA's PEM file (for [`Tls::TrustedByTestCa`] only); it lives as long as the stub.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(|(_, path)| path.as_path())
    }

    /// Every request read so far, in the order they were read. A request is recorded
    /// before its reply is sent, so once the client has its answer, the request is here.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for KeyServerStub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // The accepting thread drops the listener and joins every connection thread, each
        // of which sees the flag within one poll and closes its socket. A panic in there
        // has already been reported; raising another from `drop` would only abort.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A poisoned lock only means a connection thread panicked; the list is still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, _)) => {
                // Forget finished threads so a long test does not pile up handles.
                connections.retain(|c| !c.is_finished());
                let shared = Arc::clone(shared);
                connections.push(thread::spawn(move || serve(stream, &shared)));
            }
            // Nothing waiting, or a transient failure (a connection reset before it was
            // accepted, out of descriptors): wait a little and look again.
            Err(_) => thread::sleep(POLL),
        }
    }
    drop(listener);
    for connection in connections {
        let _ = connection.join();
    }
}

/// Serves one connection. Any error only ends this connection: the client hung up, it
/// refused the certificate, or the stub is stopping. None of that concerns the stub.
fn serve(stream: TcpStream, shared: &Shared) {
    let _ = try_serve(stream, shared);
}

fn try_serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    // Short timeouts turn every blocking wait into a poll of the stop flag.
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(POLL))?;
    let mut conn = match &shared.acceptor {
        None => Conn::Plain(stream),
        Some(acceptor) => Conn::Tls(handshake(acceptor, stream, shared)?),
    };

    let request = match read_request(&mut conn, shared) {
        Ok(request) => request,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            let body = format!(r#"{{"error": {}}}"#, json_string(&e.to_string()));
            return send(&mut conn, shared, 400, body.as_bytes());
        }
        Err(e) => return Err(e),
    };
    let reply = shared.reply_for(&request.path);
    lock(&shared.requests).push(request);

    match reply {
        Reply::Status(code, body) => send(&mut conn, shared, code, &body),
        Reply::Silent => {
            while !shared.stopping() {
                thread::sleep(POLL);
            }
            // Dropping `conn` on return closes the socket.
            Ok(())
        }
        Reply::Huge(size) => send_huge(&mut conn, shared, size),
        // Dropping `conn` on return closes the socket.
        Reply::Close => Ok(()),
    }
}

fn handshake(
    acceptor: &SslAcceptor,
    stream: TcpStream,
    shared: &Shared,
) -> io::Result<SslStream<TcpStream>> {
    let mut attempt = acceptor.accept(stream);
    loop {
        match attempt {
            Ok(stream) => return Ok(stream),
            // A read timed out mid-handshake: carry on unless the stub is stopping.
            Err(HandshakeError::WouldBlock(mid)) if !shared.stopping() => {
                attempt = mid.handshake();
            }
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}

/// A connection, plain or TLS, so the rest of the code need not care which.
enum Conn {
    Plain(TcpStream),
    Tls(SslStream<TcpStream>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

impl Conn {
    /// Ends the response cleanly (FIN, or TLS close_notify), so that a client reading to
    /// the end of the stream sees an orderly close rather than a reset.
    fn finish(&mut self) {
        match self {
            Conn::Plain(s) => {
                let _ = s.shutdown(Shutdown::Write);
            }
            Conn::Tls(s) => {
                let _ = s.shutdown();
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// `read`, retried across timeouts until data, end of stream, or the stub stopping.
fn read_some(conn: &mut Conn, buf: &mut [u8], shared: &Shared) -> io::Result<usize> {
    loop {
        match conn.read(buf) {
            Err(e) if is_timeout(&e) && !shared.stopping() => {}
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            other => return other,
        }
    }
}

/// `write_all`, retried across timeouts (the client may be slow to read) until done,
/// an error, or the stub stopping. Retrying a TLS write with the rest of the same buffer
/// is allowed: the `openssl` crate enables partial and moving-buffer writes.
fn write_all(conn: &mut Conn, mut buf: &[u8], shared: &Shared) -> io::Result<()> {
    while !buf.is_empty() {
        match conn.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if is_timeout(&e) && !shared.stopping() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

/// Reads the request line, the headers and a body of `Content-Length` bytes.
/// A request the stub cannot make sense of is an `InvalidData` error (answered with 400).
fn read_request(conn: &mut Conn, shared: &Shared) -> io::Result<Request> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if data.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        let n = read_some(conn, &mut chunk, shared)?;
        data.extend_from_slice(&chunk[..n]);
    };

    let head =
        std::str::from_utf8(&data[..head_end]).map_err(|_| invalid("request head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(path), Some(_version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(invalid("malformed request line"));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let headers = lines
        .map(|line| {
            line.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| invalid("malformed header line"))
        })
        .collect::<io::Result<Vec<_>>>()?;

    // Whatever came after the head in the last read is the start of the body.
    let body = data.split_off(head_end + 4);
    let mut request = Request {
        method,
        path,
        headers,
        body,
    };
    // The client sends small JSON bodies with a Content-Length; chunked bodies are not
    // needed, so they are refused loudly rather than misread.
    if request.header("transfer-encoding").is_some() {
        return Err(invalid("Transfer-Encoding is not supported by the stub"));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(v) => v.parse().map_err(|_| invalid("malformed Content-Length"))?,
    };
    if length > MAX_BODY {
        return Err(invalid("request body too large"));
    }
    while request.body.len() < length {
        let n = read_some(conn, &mut chunk, shared)?;
        request.body.extend_from_slice(&chunk[..n]);
    }
    request.body.truncate(length);
    Ok(request)
}

fn head(code: u16, length: usize) -> String {
    let reason = match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

fn send(conn: &mut Conn, shared: &Shared, code: u16, body: &[u8]) -> io::Result<()> {
    // One write for head and body: small replies then arrive in one segment.
    let mut response = head(code, body.len()).into_bytes();
    response.extend_from_slice(body);
    write_all(conn, &response, shared)?;
    conn.finish();
    Ok(())
}

fn send_huge(conn: &mut Conn, shared: &Shared, size: usize) -> io::Result<()> {
    write_all(conn, head(200, size).as_bytes(), shared)?;
    let frame = HUGE_PREFIX.len() + HUGE_SUFFIX.len();
    if size < frame {
        write_all(conn, &[HUGE_PREFIX, HUGE_SUFFIX].concat()[..size], shared)?;
    } else {
        write_all(conn, HUGE_PREFIX, shared)?;
        let filler = vec![b'A'; 64 * 1024];
        let mut left = size - frame;
        while left > 0 {
            let n = left.min(filler.len());
            write_all(conn, &filler[..n], shared)?;
            left -= n;
        }
        write_all(conn, HUGE_SUFFIX, shared)?;
    }
    conn.finish();
    Ok(())
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn acceptor(identity: &Identity) -> SslAcceptor {
    let build = || -> Result<SslAcceptor, ErrorStack> {
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        builder.set_private_key(&identity.key)?;
        builder.set_certificate(&identity.cert)?;
        builder.check_private_key()?;
        Ok(builder.build())
    };
    build().expect("set up the stub's TLS")
}

/// A certificate and its private key.
struct Identity {
    cert: X509,
    key: PKey<Private>,
}

impl Identity {
    /// A CA that may sign certificates and nothing else.
    fn test_ca() -> Result<Identity, ErrorStack> {
        let key = new_key()?;
        let name = name("keystub test CA")?;
        let mut builder = cert_builder(&name, &name, &key)?;
        builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        builder.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
        builder.append_extension(ski)?;
        builder.sign(&key, MessageDigest::sha256())?;
        Ok(Identity {
            cert: builder.build(),
            key,
        })
    }

    /// A server certificate for 127.0.0.1 and localhost, signed by `ca`.
    fn leaf(ca: &Identity) -> Result<Identity, ErrorStack> {
        let key = new_key()?;
        let mut builder = cert_builder(&name("127.0.0.1")?, ca.cert.subject_name(), &key)?;
        server_extensions(&mut builder, Some(&ca.cert))?;
        // Key identifiers: strict verifiers (OpenSSL's X509_STRICT, as Python sets it)
        // require the authority key identifier on a CA-issued certificate.
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&builder.x509v3_context(Some(&ca.cert), None))?;
        builder.append_extension(aki)?;
        builder.sign(&ca.key, MessageDigest::sha256())?;
        Ok(Identity {
            cert: builder.build(),
            key,
        })
    }

    /// A server certificate for 127.0.0.1 and localhost that signs itself: no one trusts it.
    fn self_signed() -> Result<Identity, ErrorStack> {
        let key = new_key()?;
        let name = name("127.0.0.1")?;
        let mut builder = cert_builder(&name, &name, &key)?;
        server_extensions(&mut builder, None)?;
        builder.sign(&key, MessageDigest::sha256())?;
        Ok(Identity {
            cert: builder.build(),
            key,
        })
    }
}

/// EC P-256: fast to generate (RSA 2048 would add noticeable time to every TLS test).
fn new_key() -> Result<PKey<Private>, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn name(common_name: &str) -> Result<X509Name, ErrorStack> {
    let mut builder = X509NameBuilder::new()?;
    builder.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    Ok(builder.build())
}

/// The part every certificate shares: v3, a random serial, the names, the public key, and
/// a validity from a day ago to a day ahead (so clock skew cannot fail a test).
fn cert_builder(
    subject: &X509Name,
    issuer: &X509NameRef,
    key: &PKey<Private>,
) -> Result<X509Builder, ErrorStack> {
    const DAY: i64 = 24 * 60 * 60;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX - DAY));
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(issuer)?;
    builder.set_pubkey(key)?;
    let (not_before, not_after) = (
        Asn1Time::from_unix(now - DAY)?,
        Asn1Time::from_unix(now + DAY)?,
    );
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    Ok(builder)
}

/// What makes a certificate a TLS server's for 127.0.0.1 and localhost.
fn server_extensions(
    builder: &mut X509Builder,
    issuer: Option<&X509Ref>,
) -> Result<(), ErrorStack> {
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    builder.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    builder.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .dns("localhost")
        .build(&builder.x509v3_context(issuer, None))?;
    builder.append_extension(san)?;
    let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(issuer, None))?;
    builder.append_extension(ski)?;
    Ok(())
}
