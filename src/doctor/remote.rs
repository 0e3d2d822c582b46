//! The MCP server at the end of the channel, used as a host uses it:
//! `initialize`, `notifications/initialized`, the lists its capabilities
//! announce, pings for the round trip, then the probe a session's
//! keepalive sends.
//!
//! The channel is driven as the relay drives it: each libssh2 call tried
//! once, and the socket waited on in the direction libssh2 is blocked in,
//! with every wait bounded.

use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_ssh2_lite::AsyncStream;
use miniserde::json::{self, Number, Object, Value};
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite};

use crate::config::Config;
use crate::connect::Connection;
use crate::connect::socket::{SshSocket, attempt};
use crate::doctor::elapsed_us;
use crate::doctor::recorder::Recorder;
use crate::doctor::render::millis;
use crate::error::Error;
use crate::relay::link::bounded;
use crate::relay::liveness;
use crate::relay::remote_output::StderrLines;

/// How long the server may take to answer one request. Servers started on
/// demand (`npx`, `uvx`) can take many seconds to answer `initialize` the
/// first time.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Pings timed for the round trip: enough for a median that one slow
/// answer does not move.
const PINGS: usize = 10;
/// The protocol version we ask for: the one our relay is written against.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// Pages followed per list; a server that keeps answering a `nextCursor`
/// beyond this is counted as far as read.
const MAX_PAGES: usize = 100;
/// Lines of the remote's own output kept to show when it fails: its last
/// words (an error and its cause) without flooding the report.
const PRINTED_KEPT: usize = 6;
/// Characters kept of each such line: a line of the report stays readable.
const PRINTED_WIDTH: usize = 200;
/// Longest line we wait for the end of: far beyond any list a server
/// answers, and a bound on what a remote that never ends its line costs.
const MAX_LINE: usize = 64 * 1024 * 1024;
/// Bytes read from the channel per call, as the relay reads.
const READ_CHUNK: usize = 32 * 1024;

/// Checks the MCP server, then closes the connection.
pub async fn check(
    connection: Connection,
    config: &Config,
    recorder: &Recorder,
) -> Result<(), Error> {
    let mut remote = Remote::new(connection);
    let outcome = steps(&mut remote, config, recorder).await;
    remote.close().await;
    outcome
}

async fn steps(remote: &mut Remote, config: &Config, recorder: &Recorder) -> Result<(), Error> {
    let params = format!(
        r#"{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"{} doctor","version":"{}"}}}}"#,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );
    let result = match remote.request("initialize", Some(&params)).await {
        Ok(Answer::Result(result)) => result,
        Ok(Answer::Error(error)) => {
            return Err(remote.not_mcp(format!("it answered initialize with {error}")));
        }
        Err(failure) => return Err(remote.failed("initialize", failure, true)),
    };
    let capabilities = object(&result, "capabilities");
    recorder.row("initialize", None, server_info(&result));
    remote
        .send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await
        .map_err(|failure| remote.failed("notifications/initialized", failure, false))?;

    let mut counts = Vec::new();
    for (capability, method) in [
        ("tools", "tools/list"),
        ("prompts", "prompts/list"),
        ("resources", "resources/list"),
    ] {
        if capabilities.and_then(|c| c.get(capability)).is_none() {
            counts.push(format!("{capability} not offered"));
            continue;
        }
        let count = remote.count(method, capability).await?;
        counts.push(format!("{capability} {count}"));
    }
    recorder.row("lists", None, counts.join(", "));

    let mut times = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        let sent = Instant::now();
        remote
            .request("ping", None)
            .await
            .map_err(|failure| remote.failed("ping", failure, false))?;
        times.push(elapsed_us(sent));
    }
    times.sort_unstable();
    recorder.row(
        "round trip",
        None,
        format!(
            "median {} ms of {PINGS} pings (fastest {} ms, slowest {} ms)",
            millis(times[PINGS / 2]),
            millis(times[0]),
            millis(times[PINGS - 1])
        ),
    );

    let probe = async { liveness::probe(&mut remote.connection.channel).await }
        .or(async {
            smol::Timer::after(ANSWER_TIMEOUT).await;
            Err(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))
        })
        .await;
    let interval = match config.keepalive_interval {
        Some(every) => format!("sessions send it after {} s of silence", every.as_secs()),
        None => "sessions send none (--keepalive-interval 0)".into(),
    };
    match probe {
        Ok(()) => recorder.row(
            "keepalive",
            None,
            format!("the server answered the probe; {interval}"),
        ),
        Err(detail) => {
            return Err(Error::Ssh {
                context: "waiting for the answer to a keepalive probe",
                detail,
            });
        }
    }
    Ok(())
}

/// "server NAME VERSION, protocol V".
fn server_info(result: &Object) -> String {
    let info = object(result, "serverInfo");
    let name = info.and_then(|i| text(i, "name")).unwrap_or("(no name)");
    let version = info
        .and_then(|i| text(i, "version"))
        .unwrap_or("(no version)");
    let protocol = text(result, "protocolVersion").unwrap_or("(none)");
    format!("server {name} {version}, protocol {protocol}")
}

fn object<'a>(parent: &'a Object, key: &str) -> Option<&'a Object> {
    match parent.get(key) {
        Some(Value::Object(object)) => Some(object),
        _ => None,
    }
}

fn text<'a>(parent: &'a Object, key: &str) -> Option<&'a str> {
    match parent.get(key) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    }
}

/// What a request came back with.
enum Answer {
    Result(Object),
    /// "error CODE: MESSAGE".
    Error(String),
}

/// Why no answer came.
enum Failure {
    TimedOut,
    /// The remote's output ended.
    Ended,
    /// A line longer than [`MAX_LINE`].
    TooLong,
    Io(io::Error),
}

/// The channel, with what the remote printed that was not JSON-RPC.
struct Remote {
    connection: Connection,
    out: AsyncStream<SshSocket>,
    err: AsyncStream<SshSocket>,
    /// Stdout bytes after the last complete line.
    pending: Vec<u8>,
    /// How much of `pending` is known to hold no newline.
    scanned: usize,
    stderr_lines: StderrLines,
    out_eof: bool,
    err_eof: bool,
    /// The remote's last lines that were not ours to read (stderr, and
    /// stdout lines that are not JSON-RPC).
    printed: Vec<String>,
    next_id: u64,
    chunk: Vec<u8>,
}

impl Remote {
    fn new(connection: Connection) -> Remote {
        let out = connection.channel.stream(0);
        let err = connection.channel.stderr();
        Remote {
            connection,
            out,
            err,
            pending: Vec::new(),
            scanned: 0,
            stderr_lines: StderrLines::default(),
            out_eof: false,
            err_eof: false,
            printed: Vec::new(),
            next_id: 0,
            chunk: vec![0; READ_CHUNK],
        }
    }

    /// Sends a request and waits for its answer, answering (with an error)
    /// any request the server makes meanwhile and passing over
    /// notifications.
    async fn request(&mut self, method: &str, params: Option<&str>) -> Result<Answer, Failure> {
        self.next_id += 1;
        let id = self.next_id;
        let params = params
            .map(|p| format!(r#","params":{p}"#))
            .unwrap_or_default();
        self.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}"{params}}}"#
        ))
        .await?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            // A remote that talks without ever answering is bounded too.
            if Instant::now() >= deadline {
                return Err(Failure::TimedOut);
            }
            let line = self.next_line(deadline).await?;
            let Ok(Value::Object(message)) = json::from_str::<Value>(&line) else {
                self.remember(&line);
                continue;
            };
            let is_ours =
                matches!(message.get("id"), Some(Value::Number(Number::U64(n))) if *n == id);
            match (message.get("method"), message.get("id")) {
                (Some(_), Some(their_id)) => {
                    let reply = format!(
                        r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":-32601,"message":"doctor answers no requests"}}}}"#,
                        json::to_string(their_id)
                    );
                    self.send(&reply).await?;
                }
                (Some(_), None) => {}
                (None, _) if is_ours => return Ok(answer(message)),
                // An answer to something else: not ours to read.
                (None, _) => self.remember(&line),
            }
        }
    }

    /// Pages through a list; the number of items.
    async fn count(&mut self, method: &str, key: &str) -> Result<usize, Error> {
        let mut count = 0;
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor
                .take()
                .map(|c| format!(r#"{{"cursor":{}}}"#, json::to_string(&c)));
            let result = match self.request(method, params.as_deref()).await {
                Ok(Answer::Result(result)) => result,
                Ok(Answer::Error(error)) => {
                    return Err(self.not_mcp(format!("it answered {method} with {error}")));
                }
                Err(failure) => return Err(self.failed(method, failure, false)),
            };
            match result.get(key) {
                Some(Value::Array(items)) => count += items.len(),
                _ => {
                    return Err(self.not_mcp(format!("its answer to {method} has no '{key}' list")));
                }
            }
            match text(&result, "nextCursor") {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        Ok(count)
    }

    /// Writes one line, whole.
    async fn send(&mut self, line: &str) -> Result<(), Failure> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut written = 0;
        while written < bytes.len() {
            if Instant::now() >= deadline {
                return Err(Failure::TimedOut);
            }
            let rest = &bytes[written..];
            match attempt(&mut self.out, |s, cx| Pin::new(s).poll_write(cx, rest)) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The remote may be waiting for us to read first.
                    self.read_pass()?;
                    self.wait(deadline).await?;
                }
                Err(e) => return Err(Failure::Io(e)),
            }
        }
        Ok(())
    }

    /// The next complete line of the remote's stdout.
    async fn next_line(&mut self, deadline: Instant) -> Result<String, Failure> {
        let mut rechecked = false;
        loop {
            let unscanned = &self.pending[self.scanned..];
            if let Some(at) = memchr::memchr(b'\n', unscanned) {
                let end = self.scanned + at;
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                self.scanned = 0;
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            self.scanned = self.pending.len();
            if self.out_eof {
                // A last line without its newline is still what it printed.
                let rest = std::mem::take(&mut self.pending);
                self.remember(&String::from_utf8_lossy(&rest));
                // Its exit status, and its last words on stderr, come after
                // the end of its output.
                let channel = &mut self.connection.channel;
                bounded(channel.wait_close(), "waiting for the remote to close").await;
                while self.read_pass().unwrap_or(false) {}
                return Err(Failure::Ended);
            }
            if self.pending.len() > MAX_LINE {
                return Err(Failure::TooLong);
            }
            if Instant::now() >= deadline {
                return Err(Failure::TimedOut);
            }
            if self.read_pass()? {
                rechecked = false;
                continue;
            }
            // libssh2 may hold data it read while serving the other stream.
            let channel = &self.connection.channel;
            if !rechecked && (channel.read_window().available > 0 || channel.eof()) {
                rechecked = true;
                continue;
            }
            self.wait(deadline).await?;
            rechecked = false;
        }
    }

    /// Reads what libssh2 can give of both streams; whether anything came.
    fn read_pass(&mut self) -> Result<bool, Failure> {
        let mut progress = false;
        if !self.out_eof {
            let chunk = &mut self.chunk;
            match attempt(&mut self.out, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                Ok(0) => {
                    self.out_eof = true;
                    progress = true;
                }
                Ok(n) => {
                    self.pending.extend_from_slice(&self.chunk[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Failure::Io(e)),
            }
        }
        if !self.err_eof {
            let chunk = &mut self.chunk;
            let mut lines = Vec::new();
            match attempt(&mut self.err, |s, cx| Pin::new(s).poll_read(cx, chunk)) {
                Ok(0) => {
                    self.err_eof = true;
                    self.stderr_lines.finish(|line| lines.push(line.to_vec()));
                    progress = true;
                }
                Ok(n) => {
                    let data = &self.chunk[..n];
                    self.stderr_lines
                        .push(data, |line| lines.push(line.to_vec()));
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Failure::Io(e)),
            }
            for line in lines {
                self.remember(&String::from_utf8_lossy(&line));
            }
        }
        Ok(progress)
    }

    /// Waits until the socket can move libssh2 on, or the deadline.
    async fn wait(&self, deadline: Instant) -> Result<(), Failure> {
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut);
        }
        let directions = self.connection.session.block_directions();
        let socket = &self.connection.socket;
        async { socket.ready(directions).await.map_err(Failure::Io) }
            .or(async {
                smol::Timer::at(deadline).await;
                Err(Failure::TimedOut)
            })
            .await
    }

    /// Keeps a line the remote printed, for the error if it fails.
    fn remember(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if self.printed.len() == PRINTED_KEPT {
            self.printed.remove(0);
        }
        self.printed
            .push(line.chars().take(PRINTED_WIDTH).collect());
    }

    /// What the remote printed, for a message: "; it printed: 'a' / 'b'".
    fn printed(&self) -> String {
        if self.printed.is_empty() {
            return "; it printed nothing".into();
        }
        let lines: Vec<String> = self.printed.iter().map(|l| format!("'{l}'")).collect();
        format!("; it printed: {}", lines.join(" / "))
    }

    fn not_mcp(&self, detail: String) -> Error {
        Error::NotMcp {
            target: self.connection.target.clone(),
            detail: format!("{detail}{}", self.printed()),
        }
    }

    /// The error for a request that got no answer. Before `initialize` was
    /// answered, silence or an end means it is not an MCP server.
    fn failed(&self, what: &str, failure: Failure, first: bool) -> Error {
        match failure {
            Failure::Ended if first => {
                let status = match self.connection.channel.exit_status() {
                    Ok(status) if status != 0 => format!(" (exit status {status})"),
                    _ => String::new(),
                };
                self.not_mcp(format!("it ended before answering {what}{status}"))
            }
            Failure::TimedOut => self.not_mcp(format!(
                "no answer to {what} within {} s",
                ANSWER_TIMEOUT.as_secs()
            )),
            Failure::TooLong => self.not_mcp(format!(
                "its answer to {what} is a line of over {} MiB",
                MAX_LINE / (1024 * 1024)
            )),
            Failure::Ended => Error::RemoteClosed {
                detail: format!(
                    "the remote MCP server ended during {what}{}",
                    self.printed()
                ),
            },
            Failure::Io(e) => Error::Ssh {
                context: "talking to the remote MCP server",
                detail: e.to_string(),
            },
        }
    }

    /// EOF, close, disconnect: each bounded.
    async fn close(mut self) {
        let connection = &mut self.connection;
        bounded(connection.channel.send_eof(), "sending EOF").await;
        bounded(connection.channel.close(), "closing the channel").await;
        bounded(
            connection.session.disconnect(None, "doctor done", None),
            "disconnecting",
        )
        .await;
    }
}

/// The result, or the error in words.
fn answer(mut message: Object) -> Answer {
    match (message.remove("result"), message.remove("error")) {
        (Some(Value::Object(result)), _) => Answer::Result(result),
        (Some(_), _) => Answer::Result(Object::new()),
        (None, Some(Value::Object(error))) => {
            let code = match error.get("code") {
                Some(Value::Number(Number::I64(n))) => n.to_string(),
                Some(Value::Number(Number::U64(n))) => n.to_string(),
                _ => "?".into(),
            };
            let text = text(&error, "message").unwrap_or("");
            Answer::Error(format!("error {code}: {text}"))
        }
        (None, _) => Answer::Error("neither a result nor an error".into()),
    }
}
