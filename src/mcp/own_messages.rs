//! The few JSON-RPC messages the relay writes itself, and the few fields it
//! reads out of the messages it relays.
//!
//! Relayed messages are never re-encoded; only these are built. Reading goes
//! through miniserde's `Value`, on lines the relay already holds whole.

use miniserde::json::{self, Object, Value};

use crate::mcp::message::Id;

/// The error message of a request cut off by a lost connection.
pub const LOST: &str =
    "The connection to the remote MCP server was lost; it is being re-established";
/// The same when no new connection will be made.
pub const LOST_FOR_GOOD: &str = "The connection to the remote MCP server was lost";
/// The error message of a request still unanswered when the session ends.
pub const ENDED: &str = "The session ended before the remote MCP server answered";

/// JSON-RPC code of every error the relay answers itself: in the range the
/// specification leaves to implementations, and the one MCP SDKs use for a
/// closed connection.
pub const CONNECTION_CLOSED: i32 = -32000;

/// An id as JSON text.
pub fn id_json(id: &Id) -> String {
    match id {
        Id::Number(literal) => literal.to_string(),
        Id::String(text) => json::to_string(text.as_str()),
    }
}

/// An error response line: `data` says why, in words.
pub fn error_line(id: &Id, message: &str, reason: &str) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{{\"code\":{CONNECTION_CLOSED},\"message\":{},\"data\":{{\"reason\":{}}}}}}}\n",
        id_json(id),
        json::to_string(message),
        json::to_string(reason)
    )
    .into_bytes()
}

/// The answer to a `ping`.
pub fn empty_result_line(id: &Id) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{{}}}}\n",
        id_json(id)
    )
    .into_bytes()
}

/// A notification without parameters.
pub fn notification_line(method: &str) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":{}}}\n",
        json::to_string(method)
    )
    .into_bytes()
}

/// A request without parameters.
pub fn request_line(id: &str, method: &str) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":{}}}\n",
        json::to_string(id),
        json::to_string(method)
    )
    .into_bytes()
}

/// A message object parsed from a line, if it is one.
pub fn parse_object(line: &[u8]) -> Option<Object> {
    let text = std::str::from_utf8(line).ok()?;
    match json::from_str::<Value>(text.trim()).ok()? {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// The same request under another id, as a line.
pub fn with_id(line: &[u8], id: &str) -> Option<Vec<u8>> {
    let mut object = parse_object(line)?;
    object.insert("id".into(), Value::String(id.into()));
    let mut text = json::to_string(&Value::Object(object));
    text.push('\n');
    Some(text.into_bytes())
}

/// A member of `params`.
pub fn param<'a>(message: &'a Object, name: &str) -> Option<&'a Value> {
    match message.get("params")? {
        Value::Object(params) => params.get(name),
        _ => None,
    }
}

/// A JSON value used as an id, as the scanner would have read it.
pub fn value_id(value: &Value) -> Option<Id> {
    match value {
        Value::String(text) => Some(Id::String(text.as_str().into())),
        Value::Number(number) => Some(Id::Number(number.to_string().into())),
        _ => None,
    }
}

/// What an `initialize` answer says about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub protocol_version: String,
    /// The server's capabilities, as canonical JSON (members sorted), so
    /// that two answers compare equal exactly when they mean the same.
    pub capabilities: String,
    /// Which of tools, resources and prompts the server offers.
    pub lists: Vec<&'static str>,
}

/// The agreement in an `initialize` result, or the error's message.
pub fn agreement(line: &[u8]) -> Result<Agreement, String> {
    let message = parse_object(line).ok_or("the answer is not a JSON object")?;
    if let Some(Value::Object(error)) = message.get("error") {
        return Err(match error.get("message") {
            Some(Value::String(text)) => text.clone(),
            _ => "an error without a message".into(),
        });
    }
    let Some(Value::Object(result)) = message.get("result") else {
        return Err("the answer has no result".into());
    };
    let protocol_version = match result.get("protocolVersion") {
        Some(Value::String(version)) => version.clone(),
        _ => String::new(),
    };
    let capabilities = result
        .get("capabilities")
        .map(json::to_string)
        .unwrap_or_default();
    let lists = match result.get("capabilities") {
        Some(Value::Object(offered)) => ["tools", "resources", "prompts"]
            .into_iter()
            .filter(|name| offered.contains_key(*name))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Agreement {
        protocol_version,
        capabilities,
        lists,
    })
}

/// The message of an error answer, if the line is one.
pub fn error_message(line: &[u8]) -> Option<String> {
    let message = parse_object(line)?;
    match message.get("error")? {
        Value::Object(error) => Some(match error.get("message") {
            Some(Value::String(text)) => text.clone(),
            _ => "an error without a message".into(),
        }),
        _ => None,
    }
}

/// The request a `notifications/cancelled` line cancels.
pub fn cancelled_request(line: &[u8]) -> Option<Id> {
    let message = parse_object(line)?;
    param(&message, "requestId").and_then(value_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_carries_the_id_as_sent_and_the_reason() {
        assert_eq!(
            String::from_utf8(error_line(&Id::Number("7".into()), "lost", "cut \"here\"")).unwrap(),
            "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32000,\"message\":\"lost\",\"data\":{\"reason\":\"cut \\\"here\\\"\"}}}\n"
        );
        assert_eq!(
            String::from_utf8(empty_result_line(&Id::String("a\"b".into()))).unwrap(),
            "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{}}\n"
        );
    }

    #[test]
    fn a_request_is_replayed_under_another_id_with_its_params() {
        let line = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{}}}}"#;
        assert_eq!(
            String::from_utf8(with_id(line, "m2m-1").unwrap()).unwrap(),
            "{\"id\":\"m2m-1\",\"jsonrpc\":\"2.0\",\"method\":\"initialize\",\"params\":{\"capabilities\":{\"roots\":{}},\"protocolVersion\":\"2025-06-18\"}}\n"
        );
    }

    #[test]
    fn the_agreement_compares_capabilities_whatever_their_order() {
        let first = agreement(br#"{"id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true},"logging":{}},"serverInfo":{"name":"a"}}}"#).unwrap();
        let second = agreement(br#"{"result":{"capabilities":{"logging":{},"tools":{"listChanged":true}},"protocolVersion":"2025-06-18","serverInfo":{"name":"b"}},"id":"x"}"#).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.lists, vec!["tools"]);
        let refused = agreement(br#"{"id":1,"error":{"code":-32602,"message":"nope"}}"#);
        assert_eq!(refused, Err("nope".to_owned()));
    }

    #[test]
    fn ids_read_from_values_match_the_scanners() {
        let object = parse_object(br#"{"params":{"requestId":12,"other":"x"}}"#).unwrap();
        assert_eq!(
            param(&object, "requestId").and_then(value_id),
            Some(Id::Number("12".into()))
        );
        assert_eq!(
            param(&object, "other").and_then(value_id),
            Some(Id::String("x".into()))
        );
    }
}
