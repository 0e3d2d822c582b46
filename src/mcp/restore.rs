//! Bringing a new connection to where the lost one was.
//!
//! While the session is live, the host's requests that set up its state are
//! remembered: `initialize` (with the server's first answer to it),
//! `resources/subscribe` and `unsubscribe` by URI, and `logging/setLevel`.
//! On a new connection, if the session began with `initialize` (revisions up
//! to 2025-11-25), the host's `initialize` is replayed under an id of ours,
//! and the answer is compared with the first (a difference is logged, and
//! the host is told to list again); then `notifications/initialized`, the
//! subscriptions and the log level, and a `tools/list` (the Python peer
//! server routes `tools/call` only after one). Our ids are strings of our
//! own and their answers are never shown to the host. A session that began
//! without `initialize` (2026-07-28) has nothing to replay.
//!
//! The replayed requests are the only messages of the host's that are
//! re-encoded (to put our id in them): their answers never reach the host.

use crate::mcp::message::{Id, Message};
use crate::mcp::own_messages::{self as messages, Agreement};
use crate::{debug, warn};

/// Prefix of the ids of our own requests: no host uses it, and the host
/// never sees an answer to one.
const OWN_ID_PREFIX: &str = "m2m-mcp-server-ssh-client/";

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

/// What a new connection must be told again, and how far telling it got.
#[derive(Debug)]
pub(super) struct Restore {
    handshake: Option<Handshake>,
    /// The host's `resources/subscribe` lines by URI, in order.
    subscriptions: Vec<(String, Vec<u8>)>,
    log_level: Option<Vec<u8>>,
    /// Our requests on the new connection, not answered yet.
    own: Vec<(String, Purpose)>,
    next_own: u64,
    /// Notifications for the host once the session is live again.
    notices: Vec<u8>,
    /// Why the restore failed, for the caller to drop the connection.
    failure: Option<String>,
}

impl Default for Restore {
    fn default() -> Restore {
        Restore {
            handshake: None,
            subscriptions: Vec::new(),
            log_level: None,
            own: Vec::new(),
            next_own: 1,
            notices: Vec::new(),
            failure: None,
        }
    }
}

impl Restore {
    /// Keeps what a new connection must be told again of a request the host
    /// just sent whole on `line`.
    pub(super) fn remember(&mut self, id: &Id, method: &str, line: &[u8]) {
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

    /// Whether the first answer to the host's `initialize` is still awaited:
    /// it must then be held whole, to be read.
    pub(super) fn awaiting_agreement(&self) -> bool {
        self.handshake.as_ref().is_some_and(|h| h.agreed.is_none())
    }

    /// A response of the remote's to the host, `line` if it was held whole:
    /// the first answer to `initialize` is what a new connection must agree to.
    pub(super) fn note_response(&mut self, id: &Id, line: Option<&[u8]>) {
        let Some(handshake) = &mut self.handshake else {
            return;
        };
        if handshake.agreed.is_some() || handshake.id != *id {
            return;
        }
        match line.map(messages::agreement) {
            Some(Ok(agreed)) => handshake.agreed = Some(agreed),
            Some(Err(refusal)) => debug!("the remote refused initialize: {refusal}"),
            None => warn!(
                "the answer to initialize is too long to read; a new connection will not replay it"
            ),
        }
    }

    /// A new connection is up: writes to `to_remote` what it must be told
    /// first. True if its answer must be awaited before the host's messages
    /// flow; false if the session is live at once.
    pub(super) fn begin(&mut self, to_remote: &mut Vec<u8>) -> bool {
        self.abandon();
        let Some(request) = self
            .handshake
            .as_ref()
            .filter(|h| h.agreed.is_some())
            .map(|h| h.request.clone())
        else {
            return false;
        };
        let id = self.own_id();
        match messages::with_id(&request, &id) {
            Some(replayed) => {
                debug!("replaying the session's initialize");
                to_remote.extend_from_slice(&replayed);
                self.own.push((id, Purpose::Initialize));
                true
            }
            None => false,
        }
    }

    /// The connection was lost: what was asked on it will not be answered.
    pub(super) fn abandon(&mut self) {
        self.own.clear();
        self.failure = None;
    }

    /// Whether `id` is one of our requests on this connection.
    fn is_own(&self, id: &str) -> bool {
        self.own.iter().any(|(own, _)| own == id)
    }

    /// The id of ours that `messages` answers, if it is one answer to one of
    /// our requests.
    pub(super) fn own_answer_id(&self, messages: &[Message]) -> Option<String> {
        match messages {
            [
                Message::Response {
                    id: Some(Id::String(own)),
                },
            ] if self.is_own(own) => Some(own.to_string()),
            _ => None,
        }
    }

    /// An answer to one of our requests, `line` if it was held whole; what
    /// follows from it is written to `to_remote`. True once the restore is
    /// complete: every request of ours answered, none refused.
    pub(super) fn own_answer(
        &mut self,
        id: &str,
        line: Option<&[u8]>,
        to_remote: &mut Vec<u8>,
    ) -> bool {
        let Some(at) = self.own.iter().position(|(own, _)| own == id) else {
            return false;
        };
        let (_, purpose) = self.own.remove(at);
        match purpose {
            Purpose::Initialize => {
                let answer = match line {
                    Some(line) => messages::agreement(line),
                    None => Err("its answer is too long to read".into()),
                };
                match answer {
                    Ok(agreed) => self.resume(agreed, to_remote),
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
        self.own.is_empty() && self.failure.is_none()
    }

    /// Why restoring failed, once.
    pub(super) fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// What the host must be told now that the session is live again.
    pub(super) fn take_notices(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.notices)
    }

    /// The server accepted the replayed `initialize`: finish the handshake
    /// and repeat the calls that set up the session's state.
    fn resume(&mut self, agreed: Agreement, to_remote: &mut Vec<u8>) {
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
                    self.notices.extend(messages::notification_line(&method));
                }
            }
        }
        to_remote.extend(messages::notification_line("notifications/initialized"));
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
                    to_remote.extend(replayed);
                    self.own.push((id, Purpose::Replay(what)));
                }
                None => warn!("cannot replay {what}: the host's request is not a JSON object"),
            }
        }
        if agreed.lists.contains(&"tools") {
            let id = self.own_id();
            to_remote.extend(messages::request_line(&id, "tools/list"));
            self.own.push((id, Purpose::Replay("tools/list")));
        }
    }

    fn own_id(&mut self) -> String {
        let id = format!("{OWN_ID_PREFIX}{}", self.next_own);
        self.next_own += 1;
        id
    }
}
