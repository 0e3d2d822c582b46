//! The host's MCP session, kept whole across SSH connections.
//!
//! Everything between the host's byte stream and the remote's passes
//! through here, as lines (see `message_lines.rs`); no I/O happens here. In
//! the normal case a line goes straight through, and the ids of requests
//! are noted until they are answered. The rest is what losing a connection
//! takes:
//!
//! - **Loss** ([`McpSession::link_lost`]): every request of the host's still
//!   unanswered gets a JSON-RPC error at once (code -32000, the reason in
//!   `data`). None is ever sent again: it may have reached the server, and a
//!   `tools/call` can have side effects. A long line the host was halfway
//!   through is dropped, and answered with the same error when it ends; a
//!   long line from the remote that the host was halfway through receiving
//!   is ended with a `\n`, so the host's framing recovers.
//! - **While there is no connection**: the host's messages wait in a queue
//!   bounded in count and bytes (beyond it, a request gets the error), its
//!   `ping`s are answered here, its answers to requests of the lost
//!   connection are dropped, and so are its cancellations of requests
//!   already answered here.
//! - **Restoring** ([`McpSession::link_up`]): if the session began with
//!   `initialize` (revisions up to 2025-11-25), the host's `initialize` is
//!   replayed under an id of ours, and the answer is compared with the first
//!   (a difference is logged, and the host is told to list again); then
//!   `notifications/initialized`, the host's `resources/subscribe` and
//!   `logging/setLevel` calls, and a `tools/list` (the Python peer server
//!   routes `tools/call` only after one). Our ids are strings of our own
//!   and their answers are never shown to the host. Then the queue goes out
//!   in order. A session that began without `initialize` (2026-07-28) has
//!   nothing to replay.

use std::collections::VecDeque;

use crate::jsonrpc::{Id, InFlight, Message};
use crate::line_separators::SeparatorEscaper;
use crate::message_lines::{LineFramer, Piece};
use crate::relay_messages::{self as messages, Agreement};
use crate::short_text::ShortText;
use crate::{debug, info, warn};

/// Lines up to this size are held until whole, so they can be acted on; a
/// longer one streams. Large enough for any ordinary message, small enough
/// not to matter in memory.
const HOLD: usize = 64 * 1024;
/// While the first answer to `initialize` is awaited, and while the host's
/// messages wait for a connection, lines are held up to this size: the
/// former must be read, the latter queued.
const HOLD_LARGE: usize = 1024 * 1024;
/// While restoring, the remote's lines are held up to this size, so that
/// the answers to our own requests (a long `tools/list` among them) never
/// reach the host.
const HOLD_RESTORING: usize = 16 * 1024 * 1024;
/// The host's messages that may wait for a connection, in count and bytes.
/// Beyond either, a request is answered with the error at once.
pub const MAX_QUEUED: usize = 1024;
pub const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;
/// Output is compacted once this much of it has been written and the
/// written part outweighs the rest: the bytes moved never exceed those
/// written, and a reader taking small bites cannot make it grow.
const COMPACT_AFTER: usize = 64 * 1024;
/// An output buffer that grew past this for a burst is given back once
/// drained, so that one large message does not stay resident for the rest
/// of the session.
const KEEP_CAPACITY: usize = 128 * 1024;
/// Prefix of the ids of our own requests: no host uses it, and the host
/// never sees an answer to one.
const OWN_ID_PREFIX: &str = "m2m-mcp-server-ssh-client/";

/// The error message of a request cut off by a lost connection.
pub const LOST: &str =
    "The connection to the remote MCP server was lost; it is being re-established";
/// The same when no new connection will be made.
pub const LOST_FOR_GOOD: &str = "The connection to the remote MCP server was lost";

/// Bytes on their way out, written from the front.
#[derive(Debug, Default)]
pub struct Outgoing {
    data: Vec<u8>,
    done: usize,
}

impl Outgoing {
    /// What is still to be written.
    pub fn pending(&self) -> &[u8] {
        &self.data[self.done..]
    }

    pub fn len(&self) -> usize {
        self.data.len() - self.done
    }

    pub fn is_empty(&self) -> bool {
        self.done == self.data.len()
    }

    /// Notes that `n` bytes from the front were written.
    pub fn consumed(&mut self, n: usize) {
        self.done += n;
        if self.done == self.data.len() {
            self.data.clear();
            self.done = 0;
            if self.data.capacity() > KEEP_CAPACITY {
                self.data = Vec::new();
            }
        } else if self.done >= COMPACT_AFTER && self.done >= self.len() {
            self.data.drain(..self.done);
            self.done = 0;
        }
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    fn clear(&mut self) {
        self.data.clear();
        self.done = 0;
    }
}

/// Where the session stands with the remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Messages flow both ways.
    Live,
    /// No connection: the host's messages wait.
    Down,
    /// A new connection is being brought to where the old one was.
    Restoring,
}

/// Why we sent a request of our own.
#[derive(Debug)]
enum Purpose {
    Initialize,
    Replay(&'static str),
}

/// The host's `initialize` and what the server first answered to it.
#[derive(Debug)]
struct Handshake {
    request: Vec<u8>,
    id: Id,
    agreed: Option<Agreement>,
}

/// A host message waiting for a connection.
#[derive(Debug)]
struct Queued {
    line: Vec<u8>,
    messages: Vec<Message>,
}

/// What happens to the rest of a long line from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LongLine {
    Forward,
    /// Dropped; its requests get the error at its end.
    Drop,
}

/// See the module documentation.
pub struct McpSession {
    host_lines: LineFramer,
    remote_lines: LineFramer,
    core: Core,
}

struct Core {
    phase: Phase,
    /// Host → remote, separators escaped, for the current connection.
    to_remote: Outgoing,
    escaper: SeparatorEscaper,
    /// Remote → host, and our own answers.
    to_host: Outgoing,
    /// Our own lines for the host, waiting for a long remote line to end.
    deferred: Vec<u8>,
    /// A long remote line is halfway to the host.
    host_mid_line: bool,
    /// A long remote line is being dropped (while restoring).
    dropping_remote_line: bool,
    long_host_line: LongLine,
    /// The host's requests on the current connection, not yet answered.
    host_requests: InFlight,
    /// The remote's requests on the current connection, not yet answered.
    remote_requests: InFlight,
    /// The remote's requests on lost connections: the host's answers to them are dropped.
    stale: InFlight,
    /// Host requests we answered ourselves: their late cancellations are dropped.
    answered: InFlight,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    handshake: Option<Handshake>,
    /// The host's `resources/subscribe` lines by URI, in order.
    subscriptions: Vec<(String, Vec<u8>)>,
    log_level: Option<Vec<u8>>,
    own: Vec<(String, Purpose)>,
    next_own: u64,
    /// Notifications for the host once the session is live again.
    after_restore: Vec<u8>,
    /// Why the restore failed, for the caller to drop the connection.
    failure: Option<String>,
    /// Why the last connection was lost, for the requests that wait.
    lost_reason: String,
    /// The remote has sent at least one message on some connection.
    remote_spoke: bool,
    reconnects: u64,
}

impl Default for McpSession {
    fn default() -> Self {
        McpSession::new()
    }
}

impl McpSession {
    /// A session whose first connection is up.
    pub fn new() -> McpSession {
        McpSession {
            host_lines: LineFramer::new(HOLD),
            remote_lines: LineFramer::new(HOLD),
            core: Core {
                phase: Phase::Live,
                to_remote: Outgoing::default(),
                escaper: SeparatorEscaper::default(),
                to_host: Outgoing::default(),
                deferred: Vec::new(),
                host_mid_line: false,
                dropping_remote_line: false,
                long_host_line: LongLine::Forward,
                host_requests: InFlight::default(),
                remote_requests: InFlight::default(),
                stale: InFlight::default(),
                answered: InFlight::default(),
                queue: VecDeque::new(),
                queued_bytes: 0,
                handshake: None,
                subscriptions: Vec::new(),
                log_level: None,
                own: Vec::new(),
                next_own: 1,
                after_restore: Vec::new(),
                failure: None,
                lost_reason: String::new(),
                remote_spoke: false,
                reconnects: 0,
            },
        }
    }

    /// Bytes for the current connection.
    pub fn to_remote(&mut self) -> &mut Outgoing {
        &mut self.core.to_remote
    }

    /// Bytes for the host's stdin... our stdout.
    pub fn to_host(&mut self) -> &mut Outgoing {
        &mut self.core.to_host
    }

    /// Bytes the host sent, cut anywhere.
    pub fn from_host(&mut self, chunk: &[u8]) {
        let core = &mut self.core;
        self.host_lines.push(chunk, |piece| core.host_piece(piece));
        self.adjust_holds();
    }

    /// The host closed its side: a last line without `\n` still counts.
    pub fn host_finished(&mut self) {
        let core = &mut self.core;
        self.host_lines.finish(|piece| core.host_piece(piece));
        core.escaper.finish(&mut core.to_remote.data);
    }

    /// Bytes the remote sent on stdout (its non-JSON lines already taken out).
    pub fn from_remote(&mut self, chunk: &[u8]) {
        let core = &mut self.core;
        self.remote_lines
            .push(chunk, |piece| core.remote_piece(piece));
        self.adjust_holds();
    }

    /// The remote ended its output: a last line without `\n` still counts.
    pub fn remote_finished(&mut self) {
        let core = &mut self.core;
        self.remote_lines.finish(|piece| core.remote_piece(piece));
    }

    /// The connection is gone. `reconnecting` says whether another will be tried.
    pub fn link_lost(&mut self, reason: &str, reconnecting: bool) {
        if self.core.host_mid_line {
            // The host's framing must recover: it sees one broken line.
            self.core.end_host_line(b"\n");
        }
        self.remote_lines.reset();
        self.core.link_lost(reason, reconnecting);
        self.adjust_holds();
    }

    /// A new connection is up: restore the session on it.
    pub fn link_up(&mut self) {
        self.core.reconnects += 1;
        self.core.link_up();
        self.adjust_holds();
    }

    /// No connection will come back: the requests that wait get the error.
    pub fn give_up(&mut self, reason: &str) {
        self.core.give_up(reason);
    }

    /// The host's messages flow to the remote.
    pub fn is_live(&self) -> bool {
        self.core.phase == Phase::Live
    }

    /// Why restoring the session on the new connection failed, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.core.failure.take()
    }

    /// Requests of the host's not answered yet: sent, or waiting.
    pub fn unanswered(&self) -> usize {
        let waiting: usize = self
            .core
            .queue
            .iter()
            .map(|q| {
                q.messages
                    .iter()
                    .filter(|m| matches!(m, Message::Request { .. }))
                    .count()
            })
            .sum();
        self.core.host_requests.pending() + waiting
    }

    /// Whether the remote ever sent a message: until it has, a lost
    /// connection means the remote cannot serve us, not a network blip.
    pub fn remote_spoke(&self) -> bool {
        self.core.remote_spoke
    }

    /// Connections restored so far.
    pub fn reconnects(&self) -> u64 {
        self.core.reconnects
    }

    fn adjust_holds(&mut self) {
        let core = &self.core;
        self.host_lines.set_hold_limit(match core.phase {
            Phase::Live => HOLD,
            Phase::Down | Phase::Restoring => HOLD_LARGE,
        });
        let awaiting_agreement = core.handshake.as_ref().is_some_and(|h| h.agreed.is_none());
        self.remote_lines.set_hold_limit(match core.phase {
            Phase::Restoring => HOLD_RESTORING,
            _ if awaiting_agreement => HOLD_LARGE,
            _ => HOLD,
        });
    }
}

impl Core {
    fn host_piece(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Line(line, messages) => self.host_line(line, messages),
            Piece::Part(bytes) => {
                if self.long_host_line == LongLine::Forward && self.phase != Phase::Live {
                    self.long_host_line = LongLine::Drop;
                }
                if self.long_host_line == LongLine::Forward {
                    self.send_remote(bytes);
                }
            }
            Piece::End(bytes, messages) => {
                if self.long_host_line == LongLine::Forward && self.phase == Phase::Live {
                    self.send_remote(bytes);
                    self.note_host_messages(None, messages);
                } else {
                    let reason = if self.phase == Phase::Live {
                        format!(
                            "the connection was lost while this request was being sent ({})",
                            self.lost_reason
                        )
                    } else {
                        format!(
                            "a message over {} KiB cannot wait for the connection ({})",
                            HOLD_LARGE / 1024,
                            self.lost_reason
                        )
                    };
                    self.refuse(messages, LOST, &reason);
                }
                self.long_host_line = LongLine::Forward;
            }
        }
    }

    fn host_line(&mut self, line: &[u8], messages: &[Message]) {
        if let [single] = messages {
            match single {
                Message::Response { id: Some(id) }
                    if !self.remote_requests.contains(id) && self.stale.answer(id) =>
                {
                    debug!(
                        "dropping the host's answer to request {} of a lost connection",
                        messages::id_json(id)
                    );
                    return;
                }
                Message::Notification { method } if method == "notifications/cancelled" => {
                    if let Some(request) = cancelled_request(line) {
                        if self.answered.answer(&request) {
                            debug!(
                                "dropping the host's cancellation of request {}, already answered",
                                messages::id_json(&request)
                            );
                            return;
                        }
                        if self.phase != Phase::Live && self.unqueue(&request) {
                            debug!(
                                "request {} cancelled while waiting for the connection",
                                messages::id_json(&request)
                            );
                            return;
                        }
                        // MCP tells the remote not to answer a cancelled request: the end
                        // of input must not wait for that answer.
                        self.host_requests.answer(&request);
                    }
                }
                Message::Request { id, method }
                    if method == "ping" && self.phase != Phase::Live =>
                {
                    let pong = messages::empty_result_line(id);
                    self.send_host(&pong);
                    return;
                }
                _ => {}
            }
        }
        if self.phase == Phase::Live {
            self.send_remote(line);
            self.note_host_messages(Some(line), messages);
        } else {
            self.enqueue(line, messages);
        }
    }

    /// Notes what the host's messages, just sent, ask of the remote.
    fn note_host_messages(&mut self, line: Option<&[u8]>, messages: &[Message]) {
        for message in messages {
            match message {
                Message::Request { id, method } => {
                    self.host_requests.add(id.clone(), method.clone());
                    if let (Some(line), [_]) = (line, messages) {
                        self.remember(id, method, line);
                    }
                }
                Message::Response { id: Some(id) } => {
                    self.remote_requests.answer(id);
                }
                _ => {}
            }
        }
    }

    /// Keeps what a new connection must be told again.
    fn remember(&mut self, id: &Id, method: &str, line: &[u8]) {
        match method {
            "initialize" => {
                self.handshake = Some(Handshake {
                    request: line.to_vec(),
                    id: id.clone(),
                    agreed: None,
                });
            }
            "resources/subscribe" | "resources/unsubscribe" => {
                let Some(uri) =
                    messages::parse_object(line).and_then(|m| match messages::param(&m, "uri") {
                        Some(miniserde::json::Value::String(uri)) => Some(uri.clone()),
                        _ => None,
                    })
                else {
                    return;
                };
                self.subscriptions.retain(|(known, _)| *known != uri);
                if method == "resources/subscribe" {
                    self.subscriptions.push((uri, line.to_vec()));
                }
            }
            "logging/setLevel" => self.log_level = Some(line.to_vec()),
            _ => {}
        }
    }

    fn enqueue(&mut self, line: &[u8], messages: &[Message]) {
        if self.queue.len() >= MAX_QUEUED || self.queued_bytes + line.len() > MAX_QUEUED_BYTES {
            let reason = format!(
                "{} messages or {} MiB already wait for the connection ({})",
                MAX_QUEUED,
                MAX_QUEUED_BYTES / (1024 * 1024),
                self.lost_reason
            );
            self.refuse(messages, LOST, &reason);
            return;
        }
        self.queued_bytes += line.len();
        self.queue.push_back(Queued {
            line: line.to_vec(),
            messages: messages.to_vec(),
        });
    }

    /// Takes a waiting request out of the queue; false if it is not there.
    fn unqueue(&mut self, id: &Id) -> bool {
        let position = self.queue.iter().position(|q| {
            matches!(q.messages.as_slice(), [Message::Request { id: queued, .. }] if queued == id)
        });
        match position.and_then(|at| self.queue.remove(at)) {
            Some(removed) => {
                self.queued_bytes -= removed.line.len();
                true
            }
            None => false,
        }
    }

    /// Answers every request among `messages` with the error.
    fn refuse(&mut self, messages: &[Message], message: &str, reason: &str) {
        for m in messages {
            if let Message::Request { id, .. } = m {
                let line = messages::error_line(id, message, reason);
                self.send_host(&line);
                self.answered.add(id.clone(), ShortText::from(""));
            }
        }
    }

    fn remote_piece(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Line(line, messages) => self.remote_line(line, messages),
            Piece::Part(bytes) => {
                if self.phase == Phase::Restoring || self.dropping_remote_line {
                    self.dropping_remote_line = true;
                } else {
                    self.to_host.extend(bytes);
                    self.host_mid_line = true;
                }
            }
            Piece::End(bytes, messages) => {
                if self.dropping_remote_line {
                    self.dropping_remote_line = false;
                    if let [
                        Message::Response {
                            id: Some(Id::String(own)),
                        },
                    ] = messages
                    {
                        if self.is_own(own) {
                            self.own_answer(own, None);
                            return;
                        }
                    }
                    warn!(
                        "dropped a message of over {} MiB from the remote while restoring the session",
                        HOLD_RESTORING / (1024 * 1024)
                    );
                    return;
                }
                self.end_host_line(bytes);
                self.note_remote_messages(None, messages);
            }
        }
    }

    fn remote_line(&mut self, line: &[u8], messages: &[Message]) {
        if self.phase == Phase::Restoring {
            if let [
                Message::Response {
                    id: Some(Id::String(own)),
                },
            ] = messages
            {
                if self.is_own(own) {
                    let own = own.clone();
                    self.own_answer(&own, Some(line));
                    return;
                }
            }
        }
        self.to_host.extend(line);
        self.note_remote_messages(Some(line), messages);
    }

    fn note_remote_messages(&mut self, line: Option<&[u8]>, messages: &[Message]) {
        for message in messages {
            match message {
                Message::Response { id: Some(id) } => {
                    self.host_requests.answer(id);
                    if let Some(handshake) = &mut self.handshake {
                        if handshake.agreed.is_none() && handshake.id == *id {
                            match line.map(messages::agreement) {
                                Some(Ok(agreed)) => handshake.agreed = Some(agreed),
                                Some(Err(refusal)) => {
                                    debug!("the remote refused initialize: {refusal}")
                                }
                                None => warn!(
                                    "the answer to initialize is too long to read; a new connection will not replay it"
                                ),
                            }
                        }
                    }
                }
                Message::Request { id, method } => {
                    self.remote_requests.add(id.clone(), method.clone());
                }
                _ => {}
            }
            if !matches!(message, Message::Other) {
                self.remote_spoke = true;
            }
        }
    }

    fn is_own(&self, id: &str) -> bool {
        self.own.iter().any(|(own, _)| own == id)
    }

    /// An answer to one of our requests, `line` if it was held whole.
    fn own_answer(&mut self, id: &str, line: Option<&[u8]>) {
        let Some(at) = self.own.iter().position(|(own, _)| own == id) else {
            return;
        };
        let (_, purpose) = self.own.remove(at);
        match purpose {
            Purpose::Initialize => {
                let answer = match line {
                    Some(line) => messages::agreement(line),
                    None => Err("its answer is too long to read".into()),
                };
                match answer {
                    Ok(agreed) => self.resume(agreed),
                    Err(refusal) => {
                        self.failure = Some(format!(
                            "the remote MCP server refused the session's initialize: {refusal}"
                        ))
                    }
                }
            }
            Purpose::Replay(what) => {
                if let Some(error) = line.and_then(messages::error_message) {
                    warn!("replaying {what} on the new connection failed: {error}");
                }
            }
        }
        if self.own.is_empty() && self.failure.is_none() && self.phase == Phase::Restoring {
            self.go_live();
        }
    }

    /// The server accepted the replayed `initialize`: finish the handshake
    /// and repeat the calls that set up the session's state.
    fn resume(&mut self, agreed: Agreement) {
        let Some(handshake) = &self.handshake else {
            return;
        };
        if let Some(first) = &handshake.agreed {
            if first.protocol_version != agreed.protocol_version {
                warn!(
                    "the server now speaks protocol {}, the session began with {}",
                    agreed.protocol_version, first.protocol_version
                );
            }
            if first.capabilities != agreed.capabilities {
                warn!(
                    "the server's capabilities changed across the reconnect: {} became {}",
                    first.capabilities, agreed.capabilities
                );
                // What a host can act on: list again.
                for list in &agreed.lists {
                    let method = format!("notifications/{list}/list_changed");
                    self.after_restore
                        .extend(messages::notification_line(&method));
                }
            }
        }
        let initialized = messages::notification_line("notifications/initialized");
        self.send_remote(&initialized);
        let mut replays: Vec<(&'static str, Vec<u8>)> = self
            .subscriptions
            .iter()
            .map(|(_, line)| ("resources/subscribe", line.clone()))
            .collect();
        if let Some(line) = &self.log_level {
            replays.push(("logging/setLevel", line.clone()));
        }
        for (what, line) in replays {
            let id = self.own_id();
            match messages::with_id(&line, &id) {
                Some(replayed) => {
                    self.send_remote(&replayed);
                    self.own.push((id, Purpose::Replay(what)));
                }
                None => warn!("cannot replay {what}: the host's request is not a JSON object"),
            }
        }
        if agreed.lists.contains(&"tools") {
            let id = self.own_id();
            let list = messages::request_line(&id, "tools/list");
            self.send_remote(&list);
            self.own.push((id, Purpose::Replay("tools/list")));
        }
    }

    fn own_id(&mut self) -> String {
        let id = format!("{OWN_ID_PREFIX}{}", self.next_own);
        self.next_own += 1;
        id
    }

    fn link_up(&mut self) {
        self.failure = None;
        self.own.clear();
        let replay = self
            .handshake
            .as_ref()
            .filter(|h| h.agreed.is_some())
            .map(|h| h.request.clone());
        match replay {
            Some(request) => {
                let id = self.own_id();
                match messages::with_id(&request, &id) {
                    Some(replayed) => {
                        self.phase = Phase::Restoring;
                        debug!("replaying the session's initialize");
                        self.send_remote(&replayed);
                        self.own.push((id, Purpose::Initialize));
                    }
                    None => self.go_live(),
                }
            }
            None => self.go_live(),
        }
    }

    fn go_live(&mut self) {
        self.phase = Phase::Live;
        let notices = std::mem::take(&mut self.after_restore);
        self.send_host(&notices);
        let queued = std::mem::take(&mut self.queue);
        self.queued_bytes = 0;
        if !queued.is_empty() {
            info!(
                "sending the {} message(s) that waited for the connection",
                queued.len()
            );
        }
        for q in queued {
            self.host_line(&q.line, &q.messages);
        }
    }

    fn link_lost(&mut self, reason: &str, reconnecting: bool) {
        self.lost_reason = reason.to_string();
        self.dropping_remote_line = false;
        if self.long_host_line == LongLine::Forward {
            // Whatever is still to come of a long host line goes nowhere.
            self.long_host_line = LongLine::Drop;
        }
        self.to_remote.clear();
        self.escaper = SeparatorEscaper::default();
        self.own.clear();
        self.failure = None;
        let message = if reconnecting { LOST } else { LOST_FOR_GOOD };
        for (id, _) in self.host_requests.take_all() {
            let line = messages::error_line(&id, message, reason);
            self.send_host(&line);
            self.answered.add(id, ShortText::from(""));
        }
        for (id, method) in self.remote_requests.take_all() {
            self.stale.add(id, method);
        }
        self.phase = Phase::Down;
    }

    fn give_up(&mut self, reason: &str) {
        let queued = std::mem::take(&mut self.queue);
        self.queued_bytes = 0;
        for q in queued {
            self.refuse(&q.messages, LOST_FOR_GOOD, reason);
        }
        self.lost_reason = reason.to_string();
    }

    fn send_remote(&mut self, bytes: &[u8]) {
        self.escaper.push(bytes, &mut self.to_remote.data);
    }

    /// Ends the long remote line in progress with `last`, then lets our own
    /// lines that waited for it follow.
    fn end_host_line(&mut self, last: &[u8]) {
        self.to_host.extend(last);
        self.host_mid_line = false;
        let deferred = std::mem::take(&mut self.deferred);
        self.to_host.extend(&deferred);
    }

    /// Our own line for the host, after any long remote line in progress.
    fn send_host(&mut self, line: &[u8]) {
        if self.host_mid_line {
            self.deferred.extend_from_slice(line);
        } else {
            self.to_host.extend(line);
        }
    }
}

/// The request a `notifications/cancelled` line cancels.
fn cancelled_request(line: &[u8]) -> Option<Id> {
    let message = messages::parse_object(line)?;
    messages::param(&message, "requestId").and_then(messages::value_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    const INIT_ANSWER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"s","version":"1"}}}"#;
    const OWN: &str = "m2m-mcp-server-ssh-client/";

    fn take(out: &mut Outgoing) -> String {
        let text = String::from_utf8(out.pending().to_vec()).unwrap();
        out.consumed(out.len());
        text
    }

    fn take_remote(session: &mut McpSession) -> String {
        take(session.to_remote())
    }

    fn take_host(session: &mut McpSession) -> String {
        take(session.to_host())
    }

    fn line(text: &str) -> String {
        format!("{text}\n")
    }

    fn call(id: u64) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo"}}}}"#)
    }

    fn answer(id: &str) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
    }

    fn lost(id: u64, reason: &str) -> String {
        line(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"{LOST}","data":{{"reason":"{reason}"}}}}}}"#
        ))
    }

    /// A session whose host initialized it, the remote answered, and the
    /// connection is gone.
    fn initialized_then_lost() -> McpSession {
        let mut session = McpSession::new();
        session.from_host(line(INIT).as_bytes());
        session.from_remote(line(INIT_ANSWER).as_bytes());
        session.from_host(
            line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).as_bytes(),
        );
        take_remote(&mut session);
        take_host(&mut session);
        session.link_lost("cut", true);
        session
    }

    #[test]
    fn a_live_session_passes_lines_untouched_and_tracks_requests() {
        let mut session = McpSession::new();
        session.from_host(line(&call(1)).as_bytes());
        assert_eq!(take_remote(&mut session), line(&call(1)));
        assert_eq!(session.unanswered(), 1);
        session.from_remote(line(&answer("1")).as_bytes());
        assert_eq!(take_host(&mut session), line(&answer("1")));
        assert_eq!(session.unanswered(), 0);
        assert!(session.remote_spoke());
    }

    #[test]
    fn line_separators_are_escaped_on_the_way_to_the_remote_only() {
        let mut session = McpSession::new();
        session.from_host("{\"id\":1,\"method\":\"a\u{2028}\"}\n".as_bytes());
        assert_eq!(
            take_remote(&mut session),
            "{\"id\":1,\"method\":\"a\\u2028\"}\n"
        );
        session.from_remote("{\"id\":1,\"result\":\"\u{2029}\"}\n".as_bytes());
        assert_eq!(
            take_host(&mut session),
            "{\"id\":1,\"result\":\"\u{2029}\"}\n"
        );
    }

    #[test]
    fn a_loss_answers_every_request_in_flight_at_once_and_only_those() {
        let mut session = McpSession::new();
        for id in 1..=3 {
            session.from_host(line(&call(id)).as_bytes());
        }
        session.from_remote(line(&answer("2")).as_bytes());
        take_host(&mut session);
        session.link_lost("cut", true);
        assert_eq!(take_host(&mut session), lost(1, "cut") + &lost(3, "cut"));
        assert_eq!(session.unanswered(), 0);
        assert!(!session.is_live());
    }

    #[test]
    fn while_down_pings_are_answered_and_requests_wait_for_the_next_connection() {
        let mut session = McpSession::new();
        session
            .from_remote(line(r#"{"jsonrpc":"2.0","method":"notifications/message"}"#).as_bytes());
        take_host(&mut session);
        session.link_lost("cut", true);
        session.from_host(line(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#).as_bytes());
        session.from_host(line(&call(5)).as_bytes());
        assert_eq!(
            take_host(&mut session),
            line(r#"{"jsonrpc":"2.0","id":"p","result":{}}"#)
        );
        assert_eq!(take_remote(&mut session), "");
        assert_eq!(session.unanswered(), 1);
        // No initialize to replay (a 2026-07-28 session): straight to live.
        session.link_up();
        assert!(session.is_live());
        assert_eq!(take_remote(&mut session), line(&call(5)));
        assert_eq!(session.reconnects(), 1);
    }

    #[test]
    fn a_new_connection_replays_initialize_and_lists_tools_out_of_the_hosts_sight() {
        let mut session = initialized_then_lost();
        session.from_host(line(&call(7)).as_bytes());
        session.link_up();
        assert!(!session.is_live());
        let replayed = take_remote(&mut session);
        assert!(replayed.starts_with("{"), "{replayed}");
        assert!(
            replayed.contains(&format!(r#""id":"{OWN}1""#)),
            "{replayed}"
        );
        assert!(replayed.contains(r#""method":"initialize""#), "{replayed}");
        assert!(
            replayed.contains(r#""protocolVersion":"2025-06-18""#),
            "{replayed}"
        );
        assert_eq!(replayed.matches('\n').count(), 1);

        session.from_remote(
            line(&INIT_ANSWER.replace(r#""id":1"#, &format!(r#""id":"{OWN}1""#))).as_bytes(),
        );
        assert_eq!(
            take_remote(&mut session),
            line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                + &line(&format!(
                    r#"{{"jsonrpc":"2.0","id":"{OWN}2","method":"tools/list"}}"#
                ))
        );
        assert!(!session.is_live());
        session.from_remote(line(&answer(&format!("\"{OWN}2\""))).as_bytes());
        assert!(session.is_live());
        assert_eq!(take_host(&mut session), "", "the host saw our answers");
        assert_eq!(take_remote(&mut session), line(&call(7)));
    }

    #[test]
    fn changed_capabilities_are_logged_and_the_host_is_told_to_list_again() {
        let mut session = initialized_then_lost();
        session.link_up();
        take_remote(&mut session);
        let changed = INIT_ANSWER
            .replace(r#""id":1"#, &format!(r#""id":"{OWN}1""#))
            .replace(r#"{"tools":{}}"#, r#"{"tools":{},"prompts":{}}"#);
        session.from_remote(line(&changed).as_bytes());
        session.from_remote(line(&answer(&format!("\"{OWN}2\""))).as_bytes());
        assert!(session.is_live());
        assert_eq!(
            take_host(&mut session),
            line(r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
                + &line(r#"{"jsonrpc":"2.0","method":"notifications/prompts/list_changed"}"#)
        );
    }

    #[test]
    fn subscriptions_and_the_log_level_are_set_again_on_the_new_connection() {
        let mut session = McpSession::new();
        session.from_host(line(INIT).as_bytes());
        session.from_remote(line(INIT_ANSWER).as_bytes());
        for request in [
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"a://1"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"a://2"}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"a://1"}}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"debug"}}"#,
        ] {
            session.from_host(line(request).as_bytes());
        }
        session.link_lost("cut", true);
        take_remote(&mut session);
        session.link_up();
        take_remote(&mut session);
        session.from_remote(
            line(&INIT_ANSWER.replace(r#""id":1"#, &format!(r#""id":"{OWN}1""#))).as_bytes(),
        );
        let replays = take_remote(&mut session);
        let lines: Vec<&str> = replays.lines().collect();
        assert_eq!(lines.len(), 4, "{replays}");
        assert!(
            lines[1].contains(r#""method":"resources/subscribe""#) && lines[1].contains("a://2")
        );
        assert!(lines[2].contains(r#""method":"logging/setLevel""#) && lines[2].contains("debug"));
        assert!(lines[3].contains(r#""method":"tools/list""#));
        for (n, own) in [(2, 2), (3, 3), (4, 4)] {
            assert!(
                lines[n - 1].contains(&format!(r#""id":"{OWN}{own}""#)),
                "{}",
                lines[n - 1]
            );
        }
        for own in 2..=4 {
            assert!(!session.is_live());
            session.from_remote(line(&answer(&format!("\"{OWN}{own}\""))).as_bytes());
        }
        assert!(session.is_live());
    }

    #[test]
    fn a_refused_replay_is_a_failure_for_the_caller() {
        let mut session = initialized_then_lost();
        session.link_up();
        take_remote(&mut session);
        session.from_remote(
            line(&format!(
                r#"{{"jsonrpc":"2.0","id":"{OWN}1","error":{{"code":-32600,"message":"no"}}}}"#
            ))
            .as_bytes(),
        );
        assert_eq!(
            session.take_failure().as_deref(),
            Some("the remote MCP server refused the session's initialize: no")
        );
        assert_eq!(take_host(&mut session), "");
    }

    #[test]
    fn answers_to_a_lost_connections_requests_and_late_cancellations_are_dropped() {
        let mut session = McpSession::new();
        session.from_host(line(&call(1)).as_bytes());
        session.from_remote(line(r#"{"jsonrpc":"2.0","id":9,"method":"roots/list"}"#).as_bytes());
        take_remote(&mut session);
        session.link_lost("cut", true);
        session.link_up();
        session.from_host(line(r#"{"jsonrpc":"2.0","id":9,"result":{"roots":[]}}"#).as_bytes());
        session.from_host(
            line(
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
            )
            .as_bytes(),
        );
        assert_eq!(take_remote(&mut session), "");
        // An answer to a request of the new connection goes through.
        session.from_remote(line(r#"{"jsonrpc":"2.0","id":9,"method":"roots/list"}"#).as_bytes());
        session.from_host(line(r#"{"jsonrpc":"2.0","id":9,"result":{"roots":[]}}"#).as_bytes());
        assert_eq!(
            take_remote(&mut session),
            line(r#"{"jsonrpc":"2.0","id":9,"result":{"roots":[]}}"#)
        );
    }

    #[test]
    fn a_request_the_host_cancels_is_no_longer_awaited() {
        let mut session = McpSession::new();
        let cancel = line(
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#,
        );
        session.from_host(line(&call(4)).as_bytes());
        session.from_host(line(&call(5)).as_bytes());
        assert_eq!(session.unanswered(), 2);
        session.from_host(cancel.as_bytes());
        assert_eq!(session.unanswered(), 1);
        // The cancellation itself goes on to the remote.
        assert_eq!(
            take_remote(&mut session),
            line(&call(4)) + &line(&call(5)) + &cancel
        );
    }

    #[test]
    fn a_request_cancelled_while_waiting_is_never_sent() {
        let mut session = McpSession::new();
        session.link_lost("cut", true);
        session.from_host(line(&call(4)).as_bytes());
        session.from_host(
            line(
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#,
            )
            .as_bytes(),
        );
        assert_eq!(session.unanswered(), 0);
        session.link_up();
        assert_eq!(take_remote(&mut session), "");
    }

    #[test]
    fn beyond_the_queue_bound_a_request_is_answered_at_once() {
        let mut session = McpSession::new();
        session.link_lost("cut", true);
        for id in 0..MAX_QUEUED as u64 + 1 {
            session.from_host(line(&call(id)).as_bytes());
        }
        let refused = take_host(&mut session);
        assert!(
            refused.starts_with(&format!(
                r#"{{"jsonrpc":"2.0","id":{MAX_QUEUED},"error":{{"code":-32000"#
            )),
            "{refused}"
        );
        assert_eq!(refused.lines().count(), 1);
        assert_eq!(session.unanswered(), MAX_QUEUED);
    }

    #[test]
    fn giving_up_answers_what_waits() {
        let mut session = McpSession::new();
        session.link_lost("cut", true);
        session.from_host(line(&call(3)).as_bytes());
        session.give_up("gone for good");
        assert_eq!(
            take_host(&mut session),
            line(&format!(
                r#"{{"jsonrpc":"2.0","id":3,"error":{{"code":-32000,"message":"{LOST_FOR_GOOD}","data":{{"reason":"gone for good"}}}}}}"#
            ))
        );
        assert_eq!(session.unanswered(), 0);
    }

    #[test]
    fn a_long_host_line_cut_by_a_loss_is_dropped_and_answered_at_its_end() {
        let mut session = McpSession::new();
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{{"data":"{}"}}}}"#,
            "x".repeat(HOLD * 2)
        );
        let (head, tail) = long.split_at(HOLD + 10);
        session.from_host(head.as_bytes());
        assert_eq!(session.to_remote().len(), head.len());
        session.link_lost("cut", true);
        assert_eq!(session.to_remote().len(), 0);
        session.link_up();
        session.from_host(tail.as_bytes());
        assert_eq!(take_host(&mut session), "");
        session.from_host(b"\n");
        assert_eq!(
            take_host(&mut session),
            lost(
                8,
                "the connection was lost while this request was being sent (cut)"
            )
        );
        assert_eq!(take_remote(&mut session), "");
    }

    #[test]
    fn a_long_remote_line_cut_by_a_loss_is_ended_before_the_errors() {
        let mut session = McpSession::new();
        session.from_host(line(&call(1)).as_bytes());
        let head = format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":"{}"#,
            "y".repeat(HOLD + 1)
        );
        session.from_remote(head.as_bytes());
        session.link_lost("cut", true);
        assert_eq!(take_host(&mut session), head + "\n" + &lost(1, "cut"));
    }

    #[test]
    fn our_lines_for_the_host_wait_for_a_long_remote_line_to_end() {
        let mut session = McpSession::new();
        session.from_host(line(&call(1)).as_bytes());
        let head = format!(
            r#"{{"jsonrpc":"2.0","method":"n","params":"{}"#,
            "y".repeat(HOLD + 1)
        );
        session.from_remote(head.as_bytes());
        // A loss is not needed for our own line: a refused request will do.
        session.core.send_host(b"{\"ours\":1}\n");
        session.from_remote(b"\"}\n");
        assert_eq!(take_host(&mut session), head + "\"}\n{\"ours\":1}\n");
    }
}
