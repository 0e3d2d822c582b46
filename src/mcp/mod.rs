//! MCP awareness: the relay passes messages byte for byte, but knows enough
//! of each to keep the session whole across connections.
//!
//! Each direction's bytes are cut into lines (`framing.rs`) and each line's
//! messages told apart (`scanner/`, a streaming JSON scanner that reads only
//! `id` and `method`). [`McpSession`] (`session.rs`) routes every line: to
//! the remote, to the host, into the queue while there is no connection
//! (`waiting.rs`), or answered by us (`own_messages.rs`); it tracks the
//! requests in flight (`in_flight.rs`) and, after a reconnect, restores the
//! session on the new connection (`restore.rs`). No I/O happens here.

mod framing;
mod in_flight;
mod message;
mod outgoing;
mod own_messages;
mod restore;
mod scanner;
mod separators;
mod session;
mod short_text;
mod waiting;

pub use outgoing::Outgoing;
pub use session::McpSession;

pub(crate) use framing::{LineFramer, Piece};
pub(crate) use message::Message;
pub(crate) use own_messages::error_line;
