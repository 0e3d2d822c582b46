//! Human messages, all on stderr, one line each, prefixed with the program
//! name. stdout belongs to the MCP session and is never touched here.
//!
//! The level is global because every module logs and threading a logger
//! through them buys nothing in a single-process tool.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// Prefix of every line we print, as ripgrep does with `rg: `.
pub const PREFIX: &str = "m2m-mcp-server-ssh-client";

/// Message levels, named as the Python program names them (`--log-level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
    Critical = 4,
}

impl Level {
    /// Parses a level name in any case, as Python's logging accepts them.
    pub fn parse(name: &str) -> Option<Level> {
        match name.to_ascii_uppercase().as_str() {
            "DEBUG" => Some(Level::Debug),
            "INFO" => Some(Level::Info),
            "WARNING" | "WARN" => Some(Level::Warning),
            "ERROR" => Some(Level::Error),
            "CRITICAL" | "FATAL" => Some(Level::Critical),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }
}

/// How much of a message is shown at DEBUG level: enough to see its method
/// and id, never a whole payload.
pub const HEAD_LEN: usize = 160;

static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the lowest level that is printed.
pub fn set_level(level: Level) {
    THRESHOLD.store(level as u8, Ordering::Relaxed);
}

/// Whether a message at `level` would be printed; lets callers skip
/// formatting work (such as a message head) that nobody will see.
pub fn enabled(level: Level) -> bool {
    level as u8 >= THRESHOLD.load(Ordering::Relaxed)
}

/// Prints one line at `level`; the macros below call it only when the level
/// is enabled. A failed write to stderr is ignored: there is nowhere left to
/// report it, and it must not end the session.
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    let line = visible(args, false);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{PREFIX}: {}: {line}", level.label());
}

/// The final line of a run that failed: no level label, so that it reads as
/// the answer (`m2m-mcp-server-ssh-client: connection refused by ...`).
/// Usage errors may span lines; nothing else does.
pub fn fatal(args: fmt::Arguments<'_>) {
    let line = visible(args, true);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{PREFIX}: {line}");
}

/// The message with its control characters written as escapes (`\u{1b}`),
/// tabs and, if `newlines`, line ends kept: much of what we print comes
/// from the remote, a key server or the command line, and none of it may
/// move the cursor, repaint a terminal or fake a line of ours.
pub(crate) fn visible(args: fmt::Arguments<'_>, newlines: bool) -> String {
    struct Escaping<'a> {
        out: &'a mut String,
        newlines: bool,
    }
    impl fmt::Write for Escaping<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if c.is_control() && c != '\t' && !(self.newlines && c == '\n') {
                    self.out.extend(c.escape_default());
                } else {
                    self.out.push(c);
                }
            }
            Ok(())
        }
    }
    let mut out = String::new();
    let _ = fmt::write(
        &mut Escaping {
            out: &mut out,
            newlines,
        },
        args,
    );
    out
}

// The level is checked before the arguments are evaluated: `format_args!`
// evaluates them at once, and some (a lossy UTF-8 copy of a message head)
// cost more than the check, on every message.
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Debug) { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Info) { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Warning) { $crate::log::write($crate::log::Level::Warning, format_args!($($t)*)) } } }

/// At DEBUG, the head of each message that starts in `data`.
pub fn message_heads(direction: &str, data: &[u8], at_line_start: &mut bool) {
    let mut rest = data;
    while !rest.is_empty() {
        if *at_line_start && rest[0] != b'\n' {
            let head = &rest[..rest.len().min(HEAD_LEN)];
            let head = head.split(|&b| b == b'\n').next().unwrap_or(head);
            debug!("{direction}: {}", String::from_utf8_lossy(head));
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                *at_line_start = true;
                rest = &rest[i + 1..];
            }
            None => {
                *at_line_start = false;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_of_others_are_shown_escaped_never_obeyed() {
        let remote = "\u{1b}]0;owned\u{7}\u{1b}[2Jtext\r\nfake line\tok";
        assert_eq!(
            visible(format_args!("remote: {remote}"), false),
            "remote: \\u{1b}]0;owned\\u{7}\\u{1b}[2Jtext\\r\\nfake line\tok"
        );
        assert_eq!(visible(format_args!("a\nb"), true), "a\nb");
    }
}
