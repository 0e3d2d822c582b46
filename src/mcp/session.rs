//! The host's MCP session, kept whole across SSH connections.
//!
//! Everything between the host's byte stream and the remote's passes
//! through here, as lines (see `framing.rs`); no I/O happens here. In the
//! normal case a line goes straight through, and the ids of requests are
//! noted until they are answered. The rest is what losing a connection
//! takes:
//!
//! - **Loss** ([`McpSession::link_lost`]): every request of the host's still
//!   unanswered gets a JSON-RPC error at once (code -32000, the reason in
//!   `data`). None is ever sent again: it may have reached the server, and a
//!   `tools/call` can have side effects. A long line the host was halfway
//!   through is dropped, and answered with the same error when it ends; a
//!   long line from the remote that the host was halfway through receiving
//!   is ended with a `\n`, so the host's framing recovers.
//! - **While there is no connection**: the host's messages wait
//!   (`waiting.rs`), its `ping`s are answered here, its answers to requests
//!   of the lost connection are dropped, and so are its cancellations of
//!   requests already answered here.
//! - **Restoring** ([`McpSession::link_up`]): the new connection is told
//!   what the session had set up (`restore.rs`), out of the host's sight;
//!   then what waited goes out in order.

use crate::mcp::framing::{LineFramer, Piece};
use crate::mcp::in_flight::InFlight;
use crate::mcp::message::Message;
use crate::mcp::outgoing::{Outgoing, ToHost, ToRemote};
use crate::mcp::own_messages::{self as messages, LOST};
use crate::mcp::restore::Restore;
use crate::mcp::waiting::{MAX_QUEUED, MAX_QUEUED_BYTES, Waiting};
use crate::{debug, info, warn};

mod loss;

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
    router: Router,
}

/// What happens to each line, apart from the framers that cut them (so
/// that a framer can hand its pieces to the router).
struct Router {
    phase: Phase,
    to_remote: ToRemote,
    to_host: ToHost,
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
    waiting: Waiting,
    restore: Restore,
    /// Why the last connection was lost, for the requests that wait.
    lost_reason: String,
    /// The remote has sent at least one message on some connection.
    remote_spoke: bool,
    /// Answers with `"id": null` on this connection: each is the remote's
    /// word that it could not read a message, and will not answer it.
    unattributed: usize,
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
            router: Router {
                phase: Phase::Live,
                to_remote: ToRemote::default(),
                to_host: ToHost::default(),
                dropping_remote_line: false,
                long_host_line: LongLine::Forward,
                host_requests: InFlight::default(),
                remote_requests: InFlight::default(),
                stale: InFlight::default(),
                answered: InFlight::default(),
                waiting: Waiting::default(),
                restore: Restore::default(),
                lost_reason: String::new(),
                remote_spoke: false,
                unattributed: 0,
                reconnects: 0,
            },
        }
    }

    /// Bytes for the current connection.
    pub fn to_remote(&mut self) -> &mut Outgoing {
        &mut self.router.to_remote.out
    }

    /// Bytes for the host, on our stdout.
    pub fn to_host(&mut self) -> &mut Outgoing {
        &mut self.router.to_host.out
    }

    /// Bytes the host sent, cut anywhere.
    pub fn from_host(&mut self, chunk: &[u8]) {
        let router = &mut self.router;
        self.host_lines
            .push(chunk, |piece| router.host_piece(piece));
        self.adjust_holds();
    }

    /// The host closed its side: a last line without `\n` still counts.
    pub fn host_finished(&mut self) {
        let router = &mut self.router;
        self.host_lines.finish(|piece| router.host_piece(piece));
        router.to_remote.finish();
    }

    /// Bytes the remote sent on stdout (its non-JSON lines already taken out).
    pub fn from_remote(&mut self, chunk: &[u8]) {
        let router = &mut self.router;
        self.remote_lines
            .push(chunk, |piece| router.remote_piece(piece));
        self.adjust_holds();
    }

    /// The remote ended its output: a last line without `\n` still counts,
    /// and is ended for the host.
    pub fn remote_finished(&mut self) {
        let router = &mut self.router;
        self.remote_lines.finish(|piece| router.remote_piece(piece));
        router.to_host.cut_line();
    }

    /// The connection is gone. `reconnecting` says whether another will be tried.
    pub fn link_lost(&mut self, reason: &str, reconnecting: bool) {
        self.router.to_host.cut_line();
        self.remote_lines.reset();
        self.router.link_lost(reason, reconnecting);
        self.adjust_holds();
    }

    /// A new connection is up: restore the session on it.
    pub fn link_up(&mut self) {
        self.router.reconnects += 1;
        self.router.link_up();
        self.adjust_holds();
    }

    /// No connection will come back: the requests that wait get the error.
    pub fn give_up(&mut self, reason: &str) {
        self.router.give_up(reason);
    }

    /// Why restoring the session on the new connection failed, once.
    pub fn take_failure(&mut self) -> Option<String> {
        self.router.restore.take_failure()
    }

    /// Whether the remote ever sent a message: until it has, a lost
    /// connection means the remote cannot serve us, not a network blip.
    pub fn remote_spoke(&self) -> bool {
        self.router.remote_spoke
    }

    /// Connections restored so far.
    pub fn reconnects(&self) -> u64 {
        self.router.reconnects
    }

    fn adjust_holds(&mut self) {
        let router = &self.router;
        self.host_lines.set_hold_limit(match router.phase {
            Phase::Live => HOLD,
            Phase::Down | Phase::Restoring => HOLD_LARGE,
        });
        self.remote_lines.set_hold_limit(match router.phase {
            Phase::Restoring => HOLD_RESTORING,
            _ if router.restore.awaiting_agreement() => HOLD_LARGE,
            _ => HOLD,
        });
    }
}

impl Router {
    fn host_piece(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Line(line, messages) => self.host_line(line, messages),
            Piece::Part(bytes) => {
                if self.long_host_line == LongLine::Forward && self.phase != Phase::Live {
                    self.long_host_line = LongLine::Drop;
                }
                if self.long_host_line == LongLine::Forward {
                    self.to_remote.send(bytes);
                }
            }
            Piece::End(bytes, messages) => {
                if self.long_host_line == LongLine::Forward && self.phase == Phase::Live {
                    self.to_remote.send(bytes);
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
                    if let Some(request) = messages::cancelled_request(line) {
                        if self.answered.answer(&request) {
                            debug!(
                                "dropping the host's cancellation of request {}, already answered",
                                messages::id_json(&request)
                            );
                            return;
                        }
                        if self.phase != Phase::Live && self.waiting.cancel(&request) {
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
                    self.to_host.own(&pong);
                    return;
                }
                _ => {}
            }
        }
        if self.phase == Phase::Live {
            self.to_remote.send(line);
            self.note_host_messages(Some(line), messages);
        } else if !self.waiting.push(line, messages) {
            let reason = format!(
                "{} messages or {} MiB already wait for the connection ({})",
                MAX_QUEUED,
                MAX_QUEUED_BYTES / (1024 * 1024),
                self.lost_reason
            );
            self.refuse(messages, LOST, &reason);
        }
    }

    /// Notes what the host's messages, just sent, ask of the remote.
    fn note_host_messages(&mut self, line: Option<&[u8]>, messages: &[Message]) {
        for message in messages {
            match message {
                Message::Request { id, method } => {
                    self.host_requests.add(id.clone());
                    if let (Some(line), [_]) = (line, messages) {
                        self.restore.remember(id, method, line);
                    }
                }
                Message::Response { id: Some(id) } => {
                    self.remote_requests.answer(id);
                }
                _ => {}
            }
        }
    }

    /// Answers every request among `messages` with the error.
    fn refuse(&mut self, messages: &[Message], message: &str, reason: &str) {
        for m in messages {
            if let Message::Request { id, .. } = m {
                let line = messages::error_line(id, message, reason);
                self.to_host.own(&line);
                self.answered.add(id.clone());
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
                    self.to_host.part(bytes);
                }
            }
            Piece::End(bytes, messages) => {
                if self.dropping_remote_line {
                    self.dropping_remote_line = false;
                    if let Some(own) = self.restore.own_answer_id(messages) {
                        self.own_answer(&own, None);
                        return;
                    }
                    warn!(
                        "dropped a message of over {} MiB from the remote while restoring the session",
                        HOLD_RESTORING / (1024 * 1024)
                    );
                    return;
                }
                self.to_host.end_line(bytes);
                self.note_remote_messages(None, messages);
            }
        }
    }

    fn remote_line(&mut self, line: &[u8], messages: &[Message]) {
        if self.phase == Phase::Restoring {
            if let Some(own) = self.restore.own_answer_id(messages) {
                self.own_answer(&own, Some(line));
                return;
            }
        }
        self.to_host.line(line);
        self.note_remote_messages(Some(line), messages);
    }

    fn note_remote_messages(&mut self, line: Option<&[u8]>, messages: &[Message]) {
        for message in messages {
            match message {
                Message::Response { id: Some(id) } => {
                    self.host_requests.answer(id);
                    self.restore.note_response(id, line);
                }
                Message::Response { id: None } => self.unattributed += 1,
                Message::Request { id, .. } => {
                    self.remote_requests.add(id.clone());
                }
                _ => {}
            }
            if !matches!(message, Message::Other) {
                self.remote_spoke = true;
            }
        }
    }

    /// An answer to one of our requests, `line` if it was held whole.
    fn own_answer(&mut self, id: &str, line: Option<&[u8]>) {
        let mut follow_up = Vec::new();
        let done = self.restore.own_answer(id, line, &mut follow_up);
        self.to_remote.send(&follow_up);
        if done && self.phase == Phase::Restoring {
            self.go_live();
        }
    }

    fn link_up(&mut self) {
        let mut first = Vec::new();
        if self.restore.begin(&mut first) {
            self.phase = Phase::Restoring;
            self.to_remote.send(&first);
        } else {
            self.go_live();
        }
    }

    fn go_live(&mut self) {
        self.phase = Phase::Live;
        let notices = self.restore.take_notices();
        self.to_host.own(&notices);
        let queued = self.waiting.take();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::own_messages::{ENDED, LOST_FOR_GOOD};

    const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    const INIT_ANSWER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"s","version":"1"}}}"#;
    const OWN: &str = "m2m-mcp-server-ssh-client/";

    /// Whether the host's messages flow to the remote (rather than wait).
    fn is_live(session: &McpSession) -> bool {
        session.router.phase == Phase::Live
    }

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
        assert!(!is_live(&session));
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
        assert!(is_live(&session));
        assert_eq!(take_remote(&mut session), line(&call(5)));
        assert_eq!(session.reconnects(), 1);
    }

    #[test]
    fn a_new_connection_replays_initialize_and_lists_tools_out_of_the_hosts_sight() {
        let mut session = initialized_then_lost();
        session.from_host(line(&call(7)).as_bytes());
        session.link_up();
        assert!(!is_live(&session));
        // Re-encoded with our id (members in miniserde's order): the one
        // kind of line the relay writes from one of the host's.
        assert_eq!(
            take_remote(&mut session),
            line(&format!(
                r#"{{"id":"{OWN}1","jsonrpc":"2.0","method":"initialize","params":{{"capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}},"protocolVersion":"2025-06-18"}}}}"#
            ))
        );

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
        assert!(!is_live(&session));
        session.from_remote(line(&answer(&format!("\"{OWN}2\""))).as_bytes());
        assert!(is_live(&session));
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
        assert!(is_live(&session));
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
        assert_eq!(
            take_remote(&mut session),
            line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                + &line(&format!(
                    r#"{{"id":"{OWN}2","jsonrpc":"2.0","method":"resources/subscribe","params":{{"uri":"a://2"}}}}"#
                ))
                + &line(&format!(
                    r#"{{"id":"{OWN}3","jsonrpc":"2.0","method":"logging/setLevel","params":{{"level":"debug"}}}}"#
                ))
                + &line(&format!(
                    r#"{{"jsonrpc":"2.0","id":"{OWN}4","method":"tools/list"}}"#
                ))
        );
        for own in 2..=4 {
            assert!(!is_live(&session));
            session.from_remote(line(&answer(&format!("\"{OWN}{own}\""))).as_bytes());
        }
        assert!(is_live(&session));
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
        // A long request cut by a loss is refused when its end arrives, here
        // while a long remote line streams on the next connection.
        let request = format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"{}"#,
            "x".repeat(HOLD + 1)
        );
        session.from_host(request.as_bytes());
        session.link_lost("cut", true);
        session.link_up();
        take_remote(&mut session);
        let head = format!(
            r#"{{"jsonrpc":"2.0","method":"n","params":"{}"#,
            "y".repeat(HOLD + 1)
        );
        session.from_remote(head.as_bytes());
        session.from_host(b"\"}\n");
        session.from_remote(b"\"}\n");
        assert_eq!(
            take_host(&mut session),
            head + "\"}\n"
                + &lost(
                    7,
                    "the connection was lost while this request was being sent (cut)"
                )
        );
    }

    #[test]
    fn half_a_line_from_a_remote_that_ends_is_ended_before_the_errors() {
        let mut session = McpSession::new();
        session.from_host(line(&call(1)).as_bytes());
        take_remote(&mut session);
        session.from_remote(br#"{"jsonrpc":"2.0","id":1,"res"#);
        session.remote_finished();
        session.link_lost("the remote command exited", false);
        assert_eq!(
            take_host(&mut session),
            r#"{"jsonrpc":"2.0","id":1,"res"#.to_string()
                + "\n"
                + &line(&format!(
                    r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":-32000,"message":"{LOST_FOR_GOOD}","data":{{"reason":"the remote command exited"}}}}}}"#
                ))
        );
    }

    #[test]
    fn a_last_host_line_without_its_newline_reaches_the_remote_with_one() {
        let mut session = McpSession::new();
        session.from_host(call(1).as_bytes());
        session.host_finished();
        assert_eq!(take_remote(&mut session), line(&call(1)));
        assert_eq!(session.unanswered(), 1);
    }

    #[test]
    fn an_answer_with_a_null_id_is_one_request_less_to_wait_for() {
        let mut session = McpSession::new();
        session.from_host(line(&call(1)).as_bytes());
        session.from_host(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\",\"params\":\"\xff\"}\n");
        session.from_remote(line(&answer("1")).as_bytes());
        session.from_remote(
            line(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#)
                .as_bytes(),
        );
        assert_eq!(session.unanswered(), 1);
        assert_eq!(session.awaited(), 0);
    }

    #[test]
    fn at_the_end_every_request_still_unanswered_gets_the_error() {
        let mut session = McpSession::new();
        for id in 1..=3 {
            session.from_host(line(&call(id)).as_bytes());
        }
        session.from_remote(line(&answer("2")).as_bytes());
        take_host(&mut session);
        session.end("stopped");
        let ended = |id: u64| {
            line(&format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"{ENDED}","data":{{"reason":"stopped"}}}}}}"#
            ))
        };
        assert_eq!(take_host(&mut session), ended(1) + &ended(3));
        assert_eq!(session.unanswered(), 0);
    }

    #[test]
    fn two_requests_in_flight_with_the_same_id_each_get_the_error_on_a_loss() {
        let mut session = McpSession::new();
        session.from_host((line(&call(1)) + &line(&call(1))).as_bytes());
        session.link_lost("cut", true);
        assert_eq!(take_host(&mut session), lost(1, "cut") + &lost(1, "cut"));
    }
}
