//! `doctor`: runs the real connection path (the session's own [`Dialer`])
//! and reports each step as it is done, then talks MCP to the remote
//! server the way a host would. One line per step, with its outcome and
//! time; at the first failure it stops, says what to do, and exits with
//! the code a session would have exited with.
//!
//! It changes no file unless `--fix`: a session's accept-new, key-server
//! pin and default key are held back, and said so. With `--fix` it does
//! what is safe: generates the default key, lets the pin and accept-new be
//! written, and appends an unknown host key after showing its fingerprint,
//! once `--yes` or a "y" typed at a terminal confirms it.

mod advice;
mod recorder;
mod remote;
mod render;

use std::io::{self, BufRead, IsTerminal, Write};
use std::rc::Rc;
use std::time::Instant;

use crate::cli::EarlyExit;
use crate::companions::Companions;
use crate::config::Config;
use crate::connect::Dialer;
use crate::error::Error;
use crate::host_key::known_hosts;
use crate::relay::signals::StopRequests;
use recorder::Recorder;
use render::Output;
use smol::future::FutureExt;

/// What `doctor --help` prints.
const HELP: &str = "\
Usage: m2m-mcp-server-ssh-client doctor [--json] [--fix] [--yes] [session flags...]

Checks each step between this machine and the remote MCP server with the
same flags a session takes (and the same SSH config): configuration, client
key, key server, name resolution, TCP, SSH handshake, host key,
authentication, channel, then the MCP server itself (initialize, its tools,
prompts and resources, a round trip, a keepalive). One line per step with
its time; at the first failure it stops, prints what to do, and exits with
the code a session would have (see the README's exit codes).

Options:
  --json    print the report as one JSON document instead
  --fix     do what is safe: create the default key, write the key server's
            pin or an accept-new host key as a session would, and append an
            unknown host key to known_hosts once confirmed
  --yes     confirm appending the host key without asking
  --help    show this help

Without --fix no file is written (with --use-key-server the key server is
still asked and our key registered, as a session does). Logs (default
level here: WARNING) go to stderr; the report goes to stdout. Stopped by a
signal, it exits 128 + its number.

Example:
  m2m-mcp-server-ssh-client doctor --host 10.0.0.5 --port 22 --command 'mcp-server'";

/// Doctor's own flags; the rest are the session's.
#[derive(Debug, Default)]
pub struct Options {
    pub json: bool,
    pub fix: bool,
    pub yes: bool,
    log_level_given: bool,
}

impl Options {
    /// Takes doctor's own flags out of `raw`; `--help` prints the help.
    pub fn split(raw: Vec<String>) -> Result<(Options, Vec<String>), EarlyExit> {
        let mut options = Options::default();
        let mut rest = Vec::new();
        let mut args = raw.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--json" => options.json = true,
                "--fix" => options.fix = true,
                "--yes" => options.yes = true,
                "--help" | "-h" => {
                    println!("{HELP}");
                    return Err(EarlyExit(0));
                }
                "--" => {
                    rest.push(arg);
                    rest.extend(args.by_ref());
                }
                _ => {
                    if arg == "--log-level" || arg.starts_with("--log-level=") {
                        options.log_level_given = true;
                    }
                    rest.push(arg);
                }
            }
        }
        Ok((options, rest))
    }

    /// The log level unless `--log-level` names one: warnings only, so that
    /// the report is not interleaved with the session's INFO lines.
    pub fn log_level(&self) -> Option<&'static str> {
        (!self.log_level_given).then_some("WARNING")
    }
}

/// Runs the checks on what the flags and the SSH config came to (or
/// reports why they came to nothing); returns the exit code.
pub async fn run(config: Result<Config, Error>, options: &Options) -> u8 {
    let output = Output::new(options.json, io::stdout().is_terminal());
    let mut config = match config {
        Ok(config) => config,
        Err(e) => {
            let recorder = Recorder::unconfigured(output);
            recorder.failed(&e, &advice::configuration());
            recorder.finish(e.exit_code());
            return e.exit_code();
        }
    };
    let default_key_missing = config.generate_missing_key && !config.client_key.exists();
    if !options.fix {
        config.generate_missing_key = false;
    }
    let recorder = Recorder::new(&config, output, options.fix, default_key_missing);
    recorder.configuration(&config);
    let mut signals = match StopRequests::install() {
        Ok(signals) => signals,
        Err(e) => {
            recorder.failed(&e, &[]);
            recorder.finish(e.exit_code());
            return e.exit_code();
        }
    };
    let companions = Rc::new(Companions::default());
    // A signal ends the checks as it ends a session: what is open (a
    // ProxyCommand's processes, the connection) is closed on the way out.
    let stopped = async {
        let signal = signals.next().await;
        Err(Stop(signal))
    };
    let checked = async { Ok(check(&config, options, &recorder, &companions).await) };
    let code = match companions.run(checked.or(stopped)).await {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            recorder.failed(&e, &advice::advice(&e, &config, default_key_missing));
            e.exit_code()
        }
        Err(Stop(signal)) => {
            recorder.note(&format!("stopped by {signal} before the checks were done"));
            stopped_code(signal)
        }
    };
    recorder.finish(code);
    code
}

/// The checks were stopped by this signal.
struct Stop(&'static str);

/// 128 and the signal's number, as a shell reports a command a signal ended.
fn stopped_code(signal: &str) -> u8 {
    match signal {
        "SIGHUP" => 129,
        "SIGINT" | "Ctrl-C" => 130,
        _ => 143,
    }
}

/// Connects, then checks the MCP server; appends an unknown host key and
/// tries once more when `--fix` is given and confirmed.
async fn check(
    config: &Config,
    options: &Options,
    recorder: &Recorder,
    companions: &Rc<Companions>,
) -> Result<(), Error> {
    let dialer = Dialer::prepare_reporting(config, companions, recorder).await?;
    let unknown = match dialer.connect().await {
        Ok(connection) => return remote::check(connection, config, recorder).await,
        Err(unknown @ Error::UnknownHostKey { .. }) if options.fix => unknown,
        Err(e) => return Err(e),
    };
    let Error::UnknownHostKey {
        known_hosts: path,
        line_to_add,
        ..
    } = &unknown
    else {
        return Err(unknown);
    };
    if !confirmed(options, recorder, &unknown).await {
        return Err(unknown);
    }
    known_hosts::append(path, line_to_add, 0o644).map_err(|source| Error::LocalFile {
        what: "known_hosts file",
        path: path.clone(),
        source,
    })?;
    recorder.fixed(
        "host key",
        format!("appended to {}: {line_to_add}", path.display()),
    );
    // The trust was read before the line was there: start again.
    recorder.note("connecting again");
    let dialer = Dialer::prepare_reporting(config, companions, recorder).await?;
    let connection = dialer.connect().await?;
    remote::check(connection, config, recorder).await
}

/// Whether the user agrees to trust the key: `--yes`, or "y" typed at a
/// terminal after seeing the fingerprint.
async fn confirmed(options: &Options, recorder: &Recorder, unknown: &Error) -> bool {
    if options.yes {
        return true;
    }
    let stdin = io::stdin();
    if !stdin.is_terminal() || options.json {
        recorder.note("not appended: add --yes to confirm the host key (no terminal to ask on)");
        return false;
    }
    if let Error::UnknownHostKey {
        key_type,
        fingerprint,
        known_hosts,
        ..
    } = unknown
    {
        // On stderr: the terminal the user types at, even when the report
        // goes to a file.
        eprint!(
            "the server's host key is {key_type} {fingerprint}; is that its key? append it to {} [y/N] ",
            known_hosts.display()
        );
    }
    let _ = io::stderr().flush();
    // Off the event loop, so that a signal still ends the run meanwhile.
    let answer = smol::unblock(|| {
        let mut answer = String::new();
        let _ = io::stdin().lock().read_line(&mut answer);
        answer
    })
    .await;
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// How long a step took, from the moment before it, in microseconds.
fn elapsed_us(since: Instant) -> u64 {
    since.elapsed().as_micros().try_into().unwrap_or(u64::MAX)
}
