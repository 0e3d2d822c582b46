//! When no session could be opened at start: tell the host, in its own
//! protocol, before exiting.
//!
//! An MCP host shows a server that exits without a word as "failed", with
//! at best our stderr in a log file. So the host's first request (normally
//! `initialize`, or `server/discover` in the 2026-07-28 revision) is
//! answered with a JSON-RPC error that carries the reason, which the host
//! shows to its user; then we exit with the documented code.

use std::io::IsTerminal;
use std::time::Duration;

use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::mcp;
use crate::mcp::{LineFramer, Message, Piece};

/// How long to wait for the host's first request. Hosts send `initialize`
/// as soon as they have started us, so it is normally already waiting.
pub const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(2);
/// The first request is looked for in this much input at most.
const FIRST_REQUEST_LIMIT: usize = 1024 * 1024;

/// The message of the error; `data.reason` carries the details.
pub const CANNOT_CONNECT: &str = "Cannot connect to the remote MCP server";

/// Answers the host's first request with the error, `reason` in its data,
/// if one arrives in time.
pub async fn answer<I, O>(input: &mut I, output: &mut O, reason: &str)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    // Someone typing at a terminal reads the error line on stderr instead.
    if std::io::stdin().is_terminal() {
        return;
    }
    let answer = async {
        let mut framer = LineFramer::new(FIRST_REQUEST_LIMIT);
        let mut chunk = vec![0u8; 64 * 1024];
        let mut seen = 0;
        while seen < FIRST_REQUEST_LIMIT {
            let n = match input.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            seen += n;
            let mut first = None;
            framer.push(&chunk[..n], |piece| {
                if let Piece::Line(_, messages) | Piece::End(_, messages) = piece {
                    if first.is_none() {
                        first = messages.iter().find_map(|m| match m {
                            Message::Request { id, .. } => Some(id.clone()),
                            _ => None,
                        });
                    }
                }
            });
            if first.is_some() {
                return first;
            }
        }
        None
    }
    .or(async {
        smol::Timer::after(FIRST_REQUEST_WAIT).await;
        None
    })
    .await;
    if let Some(id) = answer {
        let line = mcp::error_line(&id, CANNOT_CONNECT, reason);
        let _ = output.write_all(&line).await;
        let _ = output.flush().await;
    }
}
