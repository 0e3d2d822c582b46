//! Turns the connection's steps, and doctor's own, into rows: named, timed
//! from the step before, shown as soon as they are done.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use crate::address;
use crate::config::{Config, HostKeyPolicy, Proxy, SshConfigFiles};
use crate::connect::report::{Observer, Step};
use crate::doctor::elapsed_us;
use crate::doctor::render::{Output, Row};
use crate::error::Error;

/// The report being made.
pub struct Recorder {
    state: RefCell<State>,
    /// `host:port` of the MCP server, as the connection names it.
    target: String,
    key_server: bool,
    may_write: bool,
    /// The default key is not there yet (`--fix` creates it).
    creates_key: Cell<bool>,
}

struct State {
    output: Output,
    rows: Vec<Row>,
    last: Instant,
    started: Instant,
}

impl Recorder {
    pub fn new(
        config: &Config,
        output: Output,
        may_write: bool,
        default_key_missing: bool,
    ) -> Recorder {
        Recorder::with(
            output,
            address::host_port(&config.host, config.port),
            matches!(config.host_keys, HostKeyPolicy::KeyServer(_)),
            may_write,
            default_key_missing && may_write,
        )
    }

    /// A report for a run whose flags or SSH config came to nothing.
    pub fn unconfigured(output: Output) -> Recorder {
        Recorder::with(output, String::new(), false, false, false)
    }

    fn with(
        output: Output,
        target: String,
        key_server: bool,
        may_write: bool,
        creates_key: bool,
    ) -> Recorder {
        let now = Instant::now();
        Recorder {
            state: RefCell::new(State {
                output,
                rows: Vec::new(),
                last: now,
                started: now,
            }),
            target,
            key_server,
            may_write,
            creates_key: Cell::new(creates_key),
        }
    }

    /// The first row: what the flags and the SSH config came to.
    pub fn configuration(&self, config: &Config) {
        self.untimed("configuration", configuration(config));
    }

    /// A row done now, timed from the row before.
    pub fn row(&self, name: &'static str, leg: Option<&str>, detail: String) {
        self.push(name, leg, true, detail, true);
    }

    /// A row that is not timed (nothing was waited for).
    pub fn untimed(&self, name: &'static str, detail: String) {
        self.push(name, None, true, detail, false);
    }

    /// A fix that `--fix` made.
    pub fn fixed(&self, name: &'static str, detail: String) {
        self.push(name, None, true, format!("fixed: {detail}"), false);
    }

    /// A remark under the last row.
    pub fn note(&self, text: &str) {
        self.state.borrow_mut().output.note(text);
    }

    /// The failed step, with the session's error line and what to do.
    pub fn failed(&self, e: &Error, advice: &[String]) {
        let name = {
            let state = self.state.borrow();
            crate::doctor::advice::failed_step(e, state.rows.last().map(|r| r.name))
        };
        self.push(name, None, false, e.to_string(), true);
        let mut state = self.state.borrow_mut();
        state.output.advice(advice);
    }

    /// The closing line, and the JSON document when asked for.
    pub fn finish(&self, code: u8) {
        let mut state = self.state.borrow_mut();
        let total = elapsed_us(state.started);
        let State { output, rows, .. } = &mut *state;
        output.finish(&self.target, rows, code, total);
    }

    fn push(&self, name: &'static str, leg: Option<&str>, ok: bool, detail: String, timed: bool) {
        let mut state = self.state.borrow_mut();
        let us = timed.then(|| elapsed_us(state.last));
        state.last = Instant::now();
        let row = Row {
            name,
            leg: leg.filter(|leg| *leg != self.target).map(str::to_string),
            ok,
            us,
            detail,
        };
        state.output.row(&row);
        state.rows.push(row);
    }
}

impl Observer for Recorder {
    fn step(&self, step: Step<'_>) {
        match step {
            Step::Keys { client_key, others } => {
                let mut detail = client_key;
                if self.creates_key.replace(false) {
                    detail.push_str(", created now (--fix)");
                }
                if others > 0 {
                    detail.push_str(&format!(", then {others} IdentityFile key(s)"));
                }
                self.row("client key", None, detail);
            }
            Step::Trust { leg, how } if leg == self.target && self.key_server => {
                self.row("key server", None, how);
            }
            Step::Trust { .. } => {}
            Step::Resolved { leg, addrs } => {
                let addrs: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                self.row("resolve", Some(leg), addrs.join(", "));
            }
            Step::Connected { leg, how } => self.row("connect", Some(leg), how),
            Step::Handshake {
                leg,
                banner,
                algorithms,
            } => self.row("ssh", Some(leg), format!("{banner}; {algorithms}")),
            Step::HostKey { leg, key, how } => {
                self.row("host key", Some(leg), format!("{key} {how}"));
            }
            Step::Authenticated { leg, how } => self.row("authentication", Some(leg), how),
            Step::Forwarded { leg, to } => {
                self.row("jump", Some(leg), format!("opened a channel to {to}"));
            }
            Step::Channel { leg, what } => self.row("channel", Some(leg), what),
        }
    }

    fn may_write(&self) -> bool {
        self.may_write
    }
}

/// What the flags and the SSH config came to, in one line.
fn configuration(config: &Config) -> String {
    let mut parts = vec![format!(
        "{}@{}, {}",
        config.username,
        address::host_port(&config.host, config.port),
        config.remote.describe()
    )];
    match &config.proxy {
        Proxy::Direct => {}
        Proxy::Command { origin, .. } => parts.push(format!("through a ProxyCommand ({origin})")),
        Proxy::Jump(_) => {
            let hops: Vec<String> = config
                .hops()
                .iter()
                .map(|hop| address::host_port(&hop.host, hop.port))
                .collect();
            parts.push(format!("via {}", hops.join(", ")));
        }
    }
    match (&config.ssh_config, config.from_ssh_config.is_empty()) {
        (SshConfigFiles::None, _) => parts.push("no SSH config read".into()),
        (_, true) => parts.push("nothing from the SSH config".into()),
        (_, false) => parts.push(format!("SSH config: {}", config.from_ssh_config.join(", "))),
    }
    parts.join("; ")
}
