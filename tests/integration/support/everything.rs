//! Real MCP peers nobody here wrote, from npm (`tests/npm`, installed by
//! `scripts/install-npm-peers.sh`): `@modelcontextprotocol/server-everything`
//! as the remote MCP server, and two hosts in front of it, the MCP
//! Inspector's command-line client and [`Host`], a small one of ours that
//! writes raw lines and answers the server's requests.
//!
//! Every comparison runs the same host twice: once on server-everything
//! started directly over stdio, once on our binary, through the test sshd,
//! to server-everything as the remote command ([`Via`]). The two outputs
//! must be the same bytes after [`normalise`], whose rules are the complete
//! list of what may legitimately differ.
//!
//! Behind the relay the server runs behind `tee`, so a test can also read
//! exactly the bytes that reached the server's stdin through the relay
//! ([`Everything::received`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use tempfile::TempDir;

use super::{Home, STEP_TIMEOUT, Session, Sshd, SshdOptions, bin, run};

/// Where `scripts/install-npm-peers.sh` puts the packages.
pub fn npm_modules() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/npm/node_modules");
    assert!(
        path.join(".m2m-installed").exists(),
        "the npm peers are not installed in {}; run scripts/setup.sh",
        path.display()
    );
    path
}

fn everything_script() -> PathBuf {
    npm_modules().join("@modelcontextprotocol/server-everything/dist/index.js")
}

/// The Inspector CLI's package; its `build` folder is also the working
/// directory it needs (see [`Everything::inspector`]).
fn inspector_build() -> PathBuf {
    npm_modules().join("@modelcontextprotocol/inspector-cli/build")
}

/// The absolute path of node, since sshd's sessions get a minimal PATH.
pub fn node() -> String {
    let out = Command::new("node")
        .args(["-p", "process.execPath"])
        .output()
        .expect("node must be installed (scripts/setup.sh)");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// How our binary reaches server-everything on the test sshd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A shell request; the sshd's `ForceCommand` runs the server (what the
    /// peer server does).
    Shell,
    /// An exec request of `--command` on a plain sshd.
    Exec,
}

/// Which of the two runs of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The host starts server-everything itself.
    Direct,
    /// The host starts our binary, which reaches server-everything over SSH.
    Relayed,
}

/// A test sshd serving server-everything, a client home for it, and a
/// scratch directory whose unique path marks every process of the test
/// (clients and servers of both routes), reaped on drop.
pub struct Everything {
    pub via: Via,
    pub sshd: Sshd,
    pub home: Home,
    /// The marker; also holds the recordings and the client's known_hosts.
    dir: TempDir,
}

impl Everything {
    pub fn start(via: Via) -> Everything {
        let dir = tempfile::Builder::new()
            .prefix("everything-")
            .tempdir()
            .unwrap();
        let force_command = (via == Via::Shell).then(|| relayed_server_command(dir.path()));
        let sshd = Sshd::start_with(SshdOptions {
            force_command,
            ..Default::default()
        });
        let home = Home::new(&sshd);
        fs::write(
            dir.path().join("known_hosts"),
            sshd.known_hosts_line() + "\n",
        )
        .unwrap();
        Everything {
            via,
            sshd,
            home,
            dir,
        }
    }

    /// The program and arguments a host starts for this route.
    pub fn argv(&self, route: Route) -> Vec<String> {
        match route {
            // The host's own child, as an MCP host starts a server.
            Route::Direct => vec![
                node(),
                everything_script().display().to_string(),
                "stdio".into(),
                self.dir.path().display().to_string(),
            ],
            Route::Relayed => {
                let binary = bin();
                let mut argv: Vec<String> = [
                    binary.as_str(),
                    "--host",
                    self.sshd.host,
                    "--port",
                    &self.sshd.port.to_string(),
                    "--username",
                    &self.sshd.user,
                    "--client-key",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                argv.push(self.home.key.display().to_string());
                argv.push("--known-hosts".into());
                argv.push(self.dir.path().join("known_hosts").display().to_string());
                if self.via == Via::Exec {
                    argv.push("--command".into());
                    argv.push(relayed_server_command(self.dir.path()));
                }
                argv
            }
        }
    }

    /// The command a host starts for this route.
    pub fn command(&self, route: Route) -> Command {
        let argv = self.argv(route);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env("HOME", self.home.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MCP_SSH_PASSPHRASE");
        cmd
    }

    /// Everything that reached the server's stdin through the relay, in all
    /// of this fixture's sessions.
    pub fn received(&self) -> Vec<u8> {
        fs::read(self.dir.path().join("relayed.received")).unwrap_or_default()
    }

    /// Runs the Inspector's command-line client with `args` (`--method`
    /// and its options) and this route as its stdio server.
    ///
    /// That client is `build/index.js` of @modelcontextprotocol/inspector-cli;
    /// the package's `mcp-inspector-cli --cli` launcher only starts another
    /// node on it with the same arguments, so we skip that second node
    /// start. It takes the server's command and arguments first, its own
    /// options after them (options it does not know, ours, stay with the
    /// server's command, in order).
    ///
    /// Inspector CLI 1.0.3 looks for its own package.json at
    /// `../package.json` *relative to the working directory* (and then
    /// imports it relative to its module): started anywhere else it fails
    /// with "Cannot find module". Its own `build` folder is a directory
    /// that works.
    pub fn inspector(&self, route: Route, args: &[&str]) -> Output {
        let mut cmd = Command::new(node());
        cmd.current_dir(inspector_build())
            .arg("index.js")
            .args(self.argv(route))
            .args(args)
            .env("HOME", self.home.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MCP_SSH_PASSPHRASE");
        run(cmd, b"")
    }

    /// A raw host on this route.
    pub fn host(&self, route: Route) -> Host {
        Host {
            session: Session::start(self.command(route)),
            route,
            seen: Vec::new(),
            sent: Vec::new(),
        }
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        reap(self.dir.path());
    }
}

/// server-everything on stdio behind `tee`, which appends what reaches the
/// server to a file. The marker as a last argument (server-everything reads
/// only its first) marks the process as this test's.
fn relayed_server_command(dir: &Path) -> String {
    format!(
        "tee -a {}/relayed.received | {} {} stdio {}",
        dir.display(),
        node(),
        everything_script().display(),
        dir.display()
    )
}

/// Waits for the processes whose command line names `marker` (this test's
/// clients, and the servers behind them, which may still be finishing after
/// their host left) to exit, and kills by pid those that outlive
/// [`SERVER_EXIT_GRACE`]: a remote server-everything that keeps running
/// after its input ended (see [`Host::finish`]) is left by sshd when the
/// channel closes.
fn reap(marker: &Path) {
    let marker = marker.as_os_str().as_encoded_bytes();
    let deadline = Instant::now() + SERVER_EXIT_GRACE;
    loop {
        let pids = marked_processes(marker);
        if pids.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn marked_processes(marker: &[u8]) -> Vec<u32> {
    let own = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // A zombie is gone already; its parent reaps it.
            let zombie = state
                .rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'));
            !zombie && cmdline.windows(marker.len()).any(|w| w == marker)
        })
        .collect()
}

/// A raw MCP host: writes lines, keeps every line it receives.
pub struct Host {
    pub session: Session,
    pub route: Route,
    /// Every line received, newline stripped, in order.
    pub seen: Vec<String>,
    /// Every byte sent.
    pub sent: Vec<u8>,
}

impl Host {
    pub fn send(&mut self, line: &str) {
        self.session.send(line);
        self.sent.extend_from_slice(line.as_bytes());
        self.sent.push(b'\n');
    }

    /// Receives lines until one satisfies `done`; returns them all.
    pub fn until(&mut self, done: impl Fn(&serde_json::Value) -> bool) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let line = String::from_utf8(self.session.recv()).expect("stdout is UTF-8");
            let line = line.trim_end_matches('\n').to_string();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!(
                    "{:?} host got a line that is not JSON ({e}): {line}",
                    self.route
                )
            });
            self.seen.push(line.clone());
            got.push(line);
            if done(&value) {
                return got;
            }
        }
    }

    /// Sends a request and receives until its response (notifications and
    /// server requests that come first included).
    pub fn request(&mut self, line: &str) -> Vec<String> {
        let id = serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].clone();
        self.send(line);
        self.until(|v| is_response_to(v, &id))
    }

    /// [`Host::request`], and receives on until a `method` notification
    /// too, unless one came with the response.
    pub fn request_and_notification(&mut self, line: &str, method: &str) -> Vec<String> {
        let mut got = self.request(line);
        if !got
            .iter()
            .any(|l| l.contains(&format!(r#""method":"{method}""#)))
        {
            got.extend(self.until(|v| v["method"] == method));
        }
        got
    }

    /// Receives until a server request for `method`; returns its id.
    pub fn expect_request(&mut self, method: &str) -> serde_json::Value {
        let lines = self.until(|v| v["method"] == method && v.get("id").is_some());
        let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        last["id"].clone()
    }

    /// Answers a server request.
    pub fn respond(&mut self, id: &serde_json::Value, result: &str) {
        self.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#
        ));
    }

    /// Closes stdin and waits for the exit; returns what came after the
    /// last line read. Our binary must end by itself, with 0. The server,
    /// when it is the host's own child, gets [`SERVER_EXIT_GRACE`] and is
    /// then killed, as hosts do: server-everything outlives its input while
    /// timers of its own are pending (a task's time to live, simulated
    /// logging or updates left on).
    pub fn finish(mut self) -> Vec<u8> {
        self.session.close_stdin();
        if self.route == Route::Direct
            && super::wait_with_timeout(&mut self.session.child, SERVER_EXIT_GRACE).is_none()
        {
            let _ = self.session.child.kill();
        }
        let route = self.route;
        let (status, rest, stderr) = self.session.finish(STEP_TIMEOUT);
        if route == Route::Relayed {
            assert_eq!(status.code(), Some(0), "our binary's stderr: {stderr}");
        }
        rest
    }
}

/// How long a host gives the server it started to exit after closing its
/// stdin (the MCP spec leaves the wait to the host).
pub const SERVER_EXIT_GRACE: Duration = Duration::from_secs(3);

pub fn is_response_to(v: &serde_json::Value, id: &serde_json::Value) -> bool {
    v.get("method").is_none() && v.get("id") == Some(id)
}

/// Both runs of a [`differential`] script.
pub struct Runs {
    /// Every line the host received on each route (and whatever came after
    /// the end of its input), normalised.
    pub direct: Vec<String>,
    pub relayed: Vec<String>,
    /// What the host sent on the relayed route.
    pub sent: Vec<u8>,
}

/// Runs `script` on both routes at once, each with a host of its own.
pub fn differential(everything: &Everything, script: impl Fn(&mut Host) + Sync) -> Runs {
    thread::scope(|scope| {
        let runs = [Route::Direct, Route::Relayed].map(|route| {
            let script = &script;
            scope.spawn(move || {
                let mut host = everything.host(route);
                script(&mut host);
                let mut seen = std::mem::take(&mut host.seen);
                let sent = std::mem::take(&mut host.sent);
                let rest = host.finish();
                seen.extend(String::from_utf8_lossy(&rest).lines().map(String::from));
                (seen.iter().map(|l| normalise(l)).collect::<Vec<_>>(), sent)
            })
        });
        let [direct, relayed] = runs.map(|h| h.join().unwrap());
        Runs {
            direct: direct.0,
            relayed: relayed.0,
            sent: relayed.1,
        }
    })
}

/// What may differ between a direct and a relayed run, and nothing else:
///
/// 1. **Wall-clock times in dynamic resources.** server-everything writes
///    "created at <local time>" into every dynamic text resource and, base64
///    encoded, into every dynamic blob resource, as it serves them; the time
///    (up to the next `"` or the end of the decoded blob) becomes `<time>`.
/// 2. **The server's environment.** The `get-env` tool returns the server
///    process's environment as JSON text; under sshd that is a session's
///    environment (`SSH_CONNECTION`, a login PATH), by nature not the host's.
///    The text of a result that holds `"PATH"` and `"HOME"` keys as pretty
///    JSON becomes `<environment>`; the test asserts the relayed one ran
///    under sshd.
/// 3. **Random ids and task times.** `simulate-research-query` runs as a task
///    with a random UUID and creation and update timestamps: the values of
///    `taskId`, `createdAt` and `lastUpdatedAt` become `<taskId>`, `<time>`.
///    `trigger-url-elicitation` makes up a random UUID for the prerequisite
///    it asks for: an `elicitationId` in UUID form becomes `<uuid>` (the
///    ids the tests choose are not UUIDs, and stay).
/// 4. **Random log levels.** `toggle-simulated-logging` logs one of eight
///    fixed messages at random: `"level":"L","data":"<its message>"` becomes
///    `"level":"<random>","data":"<random message>"`.
pub fn normalise(text: &str) -> String {
    let text = mask_after(text, "created at ", |rest| {
        rest.find(['"', '\\']).unwrap_or(rest.len())
    });
    let text = mask_blobs(&text);
    let text = mask_environment(&text);
    let text = mask_string_values(&text, "taskId", "<taskId>", |_| true);
    let text = mask_string_values(&text, "createdAt", "<time>", |_| true);
    let text = mask_string_values(&text, "lastUpdatedAt", "<time>", |_| true);
    let mut text = mask_string_values(&text, "elicitationId", "<uuid>", is_uuid);
    for (level, message) in SIMULATED_LOGS {
        let logged = format!(r#""level":"{level}","data":"{message}""#);
        text = text.replace(&logged, r#""level":"<random>","data":"<random message>""#);
    }
    text
}

/// server-everything's `server/logging.js`, word for word.
const SIMULATED_LOGS: [(&str, &str); 8] = [
    ("debug", "Debug-level message"),
    ("info", "Info-level message"),
    ("notice", "Notice-level message"),
    ("warning", "Warning-level message"),
    ("error", "Error-level message"),
    ("critical", "Critical-level message"),
    ("alert", "Alert level-message"),
    ("emergency", "Emergency-level message"),
];

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Replaces what follows each `prefix` (as long as `len` says) with `<time>`.
fn mask_after(text: &str, prefix: &str, len: impl Fn(&str) -> usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        rest = &rest[i + prefix.len()..];
        out.push_str("<time>");
        rest = &rest[len(rest)..];
    }
    out.push_str(rest);
    out
}

/// Rule 1 inside base64 `blob` values (compact or pretty JSON).
fn mask_blobs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\"blob\":") {
        let start = i + "\"blob\":".len();
        let after_key = &rest[start..];
        let Some(open) = after_key.find('"') else {
            break;
        };
        let value_start = start + open + 1;
        let Some(len) = rest[value_start..].find('"') else {
            break;
        };
        let value = &rest[value_start..value_start + len];
        out.push_str(&rest[..value_start]);
        match BASE64
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(decoded) if decoded.contains("created at ") => {
                let masked = mask_after(&decoded, "created at ", |r| r.len());
                out.push_str(&BASE64.encode(masked));
            }
            _ => out.push_str(value),
        }
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out
}

/// Rule 2: a `"text"` value that is a pretty-printed environment.
fn mask_environment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\"text\":") {
        let start = i + "\"text\":".len();
        let Some(open) = rest[start..].find('"') else {
            break;
        };
        let value_start = start + open + 1;
        let len = json_string_len(&rest[value_start..]);
        let value = &rest[value_start..value_start + len];
        out.push_str(&rest[..value_start]);
        if value.starts_with("{\\n  \\\"")
            && value.contains("\\\"PATH\\\"")
            && value.contains("\\\"HOME\\\"")
        {
            out.push_str("<environment>");
        } else {
            out.push_str(value);
        }
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out
}

/// Rule 3: `"key":"value"` (compact or pretty) becomes `"key":"mask"` when
/// `applies` to the value.
fn mask_string_values(text: &str, key: &str, mask: &str, applies: fn(&str) -> bool) -> String {
    let needle = format!("\"{key}\":");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        let start = i + needle.len();
        let after = &rest[start..];
        let spaces = after.len() - after.trim_start().len();
        if !after[spaces..].starts_with('"') {
            out.push_str(&rest[..start]);
            rest = after;
            continue;
        }
        let value_start = start + spaces + 1;
        let len = json_string_len(&rest[value_start..]);
        out.push_str(&rest[..value_start]);
        let value = &rest[value_start..value_start + len];
        out.push_str(if applies(value) { mask } else { value });
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out
}

/// The length of a JSON string's body up to its closing quote.
fn json_string_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// What an Inspector run showed: its exit code, its stdout and its stderr
/// (where it reports an error, as "Failed to ...: MCP error CODE: ..."),
/// normalised.
pub fn inspector_outcome(output: &Output) -> (Option<i32>, String, String) {
    (
        output.status.code(),
        normalise(&String::from_utf8_lossy(&output.stdout)),
        normalise(&String::from_utf8_lossy(&output.stderr)),
    )
}
