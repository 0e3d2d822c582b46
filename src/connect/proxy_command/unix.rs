//! ProxyCommand: a local command whose stdin and stdout are the SSH
//! connection. Its stdin and stdout are our socket pair's other end, so
//! libssh2 talks to it with nothing in between; its stderr goes to ours,
//! line by line, with a prefix. It runs in a process group of its own,
//! which is hung up and then killed when the connection is dropped (at
//! exit, and before each reconnect starts a new one), and reaped.
//!
//! Run as OpenSSH runs it (`sh -c 'exec COMMAND'`) when it has shell
//! syntax; otherwise split on blanks and run directly, as the Python
//! program's SSH library does, so that no shell stands in between.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};
use smol::Async;
use smol::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::companions::{Companion, Companions};
use crate::connect::stream::{self, LocalStream};
use crate::error::Error;
use crate::{debug, info};

/// A stderr line longer than this is shown in pieces.
const LINE_LIMIT: u64 = 4096;
/// How long a hung-up command has to exit before it is killed.
const HANGUP_GRACE: Duration = Duration::from_millis(200);
/// How long a failed connection waits for the command to exit, so that
/// its exit status and last words can be shown.
const EXIT_WAIT: Duration = Duration::from_secs(1);
/// How often an ending command is looked at.
const POLL_EXIT: Duration = Duration::from_millis(10);
/// Characters that only a shell makes sense of.
const SHELL_SYNTAX: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~',
    '{', '}', '\n',
];

/// The running command; hung up, killed and reaped on drop.
pub struct ProxyCommand {
    child: Child,
    pub command: String,
    stderr: Option<Companion>,
}

impl ProxyCommand {
    /// Starts `command`; returns it and the end of the connection libssh2 uses.
    pub fn spawn(
        command: &str,
        companions: &Rc<Companions>,
    ) -> Result<(ProxyCommand, LocalStream), Error> {
        let cannot = |source: std::io::Error| Error::ProxyCommand {
            command: command.to_string(),
            detail: format!("could not be started: {source}"),
        };
        let (ours, theirs) = stream::pair().map_err(cannot)?;
        let theirs_out = theirs.try_clone().map_err(cannot)?;
        let mut process = program(command).ok_or_else(|| Error::ProxyCommand {
            command: command.to_string(),
            detail: "is empty".into(),
        })?;
        process
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs_out)))
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = process.spawn().map_err(cannot)?;
        debug!("ProxyCommand started: {command} (pid {})", child.id());
        let stderr = child
            .stderr
            .take()
            .map(|stderr| companions.spawn(forward_stderr(stderr)));
        Ok((
            ProxyCommand {
                child,
                command: command.to_string(),
                stderr,
            },
            ours,
        ))
    }

    /// After a failed handshake: the command's exit as the reason, if it
    /// exited (its stderr shown first), or `error` as it was.
    pub async fn explain(&mut self, error: Error) -> Error {
        let Some(status) = self.exit_within(EXIT_WAIT).await else {
            return error;
        };
        if let Some(stderr) = &self.stderr {
            // Its last words are in the pipe: the forwarder ends at EOF.
            let deadline = crate::deadline::after(Instant::now(), EXIT_WAIT);
            while !stderr.finished() && Instant::now() < deadline {
                smol::Timer::after(POLL_EXIT).await;
            }
        }
        Error::ProxyCommand {
            command: self.command.clone(),
            detail: format!(
                "exited ({}) before the SSH handshake was done",
                describe(status)
            ),
        }
    }

    async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = crate::deadline::after(Instant::now(), limit);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            smol::Timer::after(POLL_EXIT).await;
        }
    }
}

impl Drop for ProxyCommand {
    fn drop(&mut self) {
        // As OpenSSH: a hangup first; to the whole group, even when the
        // command itself is gone, so that what a shell started goes too.
        let group = Pid::from_child(&self.child);
        let _ = kill_process_group(group, Signal::HUP);
        let deadline = crate::deadline::after(Instant::now(), HANGUP_GRACE);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = kill_process_group(group, Signal::KILL);
        let _ = self.child.wait();
    }
}

/// The process for `command`: through the shell where it needs one.
fn program(command: &str) -> Option<Command> {
    let command = command.trim();
    let first = command.split_whitespace().next()?;
    if command.contains(SHELL_SYNTAX) || first.contains('=') {
        let mut process = Command::new("/bin/sh");
        process.arg("-c").arg(format!("exec {command}"));
        return Some(process);
    }
    let mut words = command.split_whitespace();
    let mut process = Command::new(words.next()?);
    process.args(words);
    Some(process)
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The command's stderr on ours, a line at a time.
async fn forward_stderr(stderr: ChildStderr) {
    let Ok(stderr) = Async::new(stderr) else {
        return;
    };
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(LINE_LIMIT)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                info!("ProxyCommand: {}", String::from_utf8_lossy(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &str) -> Vec<String> {
        let process = program(command).unwrap();
        std::iter::once(process.get_program())
            .chain(process.get_args())
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn plain_words_run_directly_and_shell_syntax_through_sh() {
        assert_eq!(argv("nc  127.0.0.1 22"), ["nc", "127.0.0.1", "22"]);
        assert_eq!(
            argv("ssh -W host:22 --opt=x bastion"),
            ["ssh", "-W", "host:22", "--opt=x", "bastion"]
        );
        for shell in [
            "nc $HOST 22",
            "a | b",
            "socat - 'TCP:h:22'",
            "A=b nc h 22",
            "cmd 2>/dev/null",
            "~/bin/proxy h",
        ] {
            assert_eq!(
                argv(shell),
                ["/bin/sh", "-c", &format!("exec {shell}")],
                "{shell}"
            );
        }
        assert!(program("   ").is_none());
    }
}
