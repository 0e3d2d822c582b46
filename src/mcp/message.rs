//! What the relay knows of a JSON-RPC message: its kind, its id, its method.

use crate::mcp::short_text::ShortText;

/// A JSON-RPC id as the relay compares them: a string (decoded, so `"\u0041"` == `"A"`) or a
/// number (its literal text, so `1` and `1.0` differ).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    /// A numeric id, exactly as written on the wire.
    Number(ShortText),
    /// A string id with its escapes decoded; invalid UTF-8 becomes U+FFFD.
    String(ShortText),
}

/// What one message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Has `method` and a non-null `id`.
    Request {
        /// The id the answer will carry.
        id: Id,
        /// The method called, escapes decoded.
        method: ShortText,
    },
    /// Has `method` and no `id`.
    Notification {
        /// The method called, escapes decoded.
        method: ShortText,
    },
    /// Has `id` (possibly null, giving `None`) and no `method` (normally `result` or `error`).
    Response {
        /// The id of the request answered, or `None` for `"id": null`.
        id: Option<Id>,
    },
    /// Anything else: not an object, not JSON, an unusable `id` or `method`, a line cut short.
    Other,
}
