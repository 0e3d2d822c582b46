//! Real endpoints for the integration tests: an OpenSSH `sshd` on 127.0.0.1
//! with its own config, keys and free port, and our binary run as an MCP host
//! runs it. Every daemon and client is killed when its guard drops; a failing
//! test prints the daemon's log.

#![allow(dead_code)]

pub mod everything;
pub mod key_server;
pub mod peer;
pub mod proxy;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test.
/// The binary under test: this build's, or the file `M2M_TEST_BINARY` names,
/// so that the whole suite can run against another build of it (the static
/// musl build, with its trimmed OpenSSL).
pub fn bin() -> String {
    std::env::var("M2M_TEST_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_m2m-mcp-server-ssh-client").to_string())
}
/// How long any single step may take before the test fails instead of hanging.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// How every line the binary prints on stderr begins.
pub const PREFIX: &str = "m2m-mcp-server-ssh-client: ";

/// The last line of `text`, its newline included: on stderr, the line that
/// says why the run ended.
pub fn last_line(text: &str) -> &str {
    let body = text.strip_suffix('\n').unwrap_or(text);
    &text[body.rfind('\n').map_or(0, |at| at + 1)..]
}

/// Whether `text` holds `line` as one whole line (newline not included).
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// The warning of a run with `--disable-host-key-checking` against 127.0.0.1:`port`.
pub fn disabled_checking_warning(port: u16) -> String {
    format!(
        "{PREFIX}warning: host key checking is disabled (--disable-host-key-checking): \
         anyone on the network path can pose as 127.0.0.1:{port}"
    )
}

/// The SHA256 fingerprint of a public key line ("type base64"), as
/// `ssh-keygen -l` prints it and the binary names keys.
pub fn fingerprint(public_line: &str) -> String {
    let mut child = Command::new("ssh-keygen")
        .args(["-l", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{public_line}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen -l failed on {public_line}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// Cargo's target folder, where the tests' own builds go.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Where `scripts/build-static.sh` leaves the files it builds.
pub fn static_dir() -> PathBuf {
    target_dir().join("static")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The absolute path of the Python interpreter, since sshd's sessions get a
/// minimal PATH.
pub fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 must be installed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The command line that starts the fixture MCP server.
pub fn mcp_server_command() -> String {
    format!("{} {}", python(), fixture("mcp_server.py").display())
}

pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs ssh-keygen to make a key; returns the public key line ("type base64").
pub fn keygen(path: &Path, key_type: &str, passphrase: &str) -> String {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", key_type, "-N", passphrase, "-C", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen failed");
    public_line(&path.to_string_lossy())
}

/// "type base64" of `PATH.pub`.
pub fn public_line(key_path: &str) -> String {
    let text = fs::read_to_string(format!("{key_path}.pub")).unwrap();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// How the test sshd serves sessions.
pub struct SshdOptions {
    /// Runs for every session, shell or exec (`ForceCommand`).
    pub force_command: Option<String>,
    /// Extra sshd_config lines; they override the defaults.
    pub extra: Vec<String>,
    /// The loopback address to listen on.
    pub listen: &'static str,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            force_command: Some(mcp_server_command()),
            extra: Vec::new(),
            listen: "127.0.0.1",
        }
    }
}

/// An sshd on a loopback address, killed on drop.
pub struct Sshd {
    pub port: u16,
    pub dir: TempDir,
    /// "ssh-ed25519 BASE64" of its host key.
    pub host_key: String,
    pub user: String,
    /// The address it listens on, as given to `--host`.
    pub host: &'static str,
    child: Child,
    log: PathBuf,
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_with(SshdOptions::default())
    }

    pub fn start_with(options: SshdOptions) -> Sshd {
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::Builder::new().prefix("sshd-").tempdir().unwrap();
        let host_key_path = dir.path().join("host_ed25519");
        let host_key = keygen(&host_key_path, "ed25519", "");
        fs::write(dir.path().join("authorized_keys"), "").unwrap();
        let user = current_user();
        let log = dir.path().join("sshd.log");
        for _attempt in 0..5 {
            let port = free_port(options.listen);
            // sshd keeps the first value of a keyword: the extra lines come
            // first, so that they override the defaults below.
            let mut config = options.extra.clone();
            config.extend([
                format!("Port {port}"),
                format!("ListenAddress {}", options.listen),
                format!("HostKey {}", host_key_path.display()),
                format!("PidFile {}/sshd.pid", dir.path().display()),
                format!(
                    "AuthorizedKeysFile {}/authorized_keys",
                    dir.path().display()
                ),
                "StrictModes no".into(),
                "UsePAM no".into(),
                "PasswordAuthentication no".into(),
                "KbdInteractiveAuthentication no".into(),
                "PubkeyAuthentication yes".into(),
                "PermitRootLogin yes".into(),
                format!("AllowUsers {user}"),
                "LogLevel VERBOSE".into(),
                "PrintMotd no".into(),
            ]);
            if let Some(command) = &options.force_command {
                config.push(format!("ForceCommand {command}"));
            }
            let config_path = dir.path().join("sshd_config");
            fs::write(&config_path, config.join("\n") + "\n").unwrap();
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-f"])
                .arg(&config_path)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sshd must be installed (openssh-server)");
            if wait_ready(&mut child, options.listen, port) {
                return Sshd {
                    port,
                    dir,
                    host_key,
                    user,
                    host: options.listen,
                    child,
                    log,
                };
            }
            // Most likely lost the port to another process: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start; its log:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        )
    }

    pub fn authorize(&self, public_line: &str) {
        let path = self.dir.path().join("authorized_keys");
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str(public_line);
        text.push('\n');
        fs::write(path, text).unwrap();
    }

    /// The known_hosts line for this server, as OpenSSH writes it for a non-22 port.
    pub fn known_hosts_line(&self) -> String {
        format!("[{}]:{} {}", self.host, self.port, self.host_key)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the per-connection sshd processes, cutting every session at once
    /// while the listener stays up.
    pub fn cut_sessions(&self) {
        let status = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "no session to cut");
    }

    /// Stops the server and every session it serves, as a reboot would.
    pub fn stop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, with the same keys and config.
    pub fn resume(&mut self) {
        let config_path = self.dir.path().join("sshd_config");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-f"])
                .arg(&config_path)
                .arg("-E")
                .arg(&self.log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if wait_ready(&mut child, self.host, self.port) {
                self.child = child;
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            // The port may take a moment to be free again.
            assert!(
                Instant::now() < deadline,
                "sshd did not start again:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Ready once its banner reads back.
pub fn wait_ready(child: &mut Child, host: &str, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut stream) = TcpStream::connect((host, port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut banner = [0u8; 8];
            if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-" {
                return true;
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("--- sshd log ---\n{}\n--- end of sshd log ---", self.log());
        }
    }
}

pub fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client home: a scratch HOME with a client key authorized on the server
/// and a known_hosts file that trusts it.
pub struct Home {
    pub dir: TempDir,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
}

impl Home {
    /// Writes this home's `~/.ssh/config`; returns its path.
    pub fn write_ssh_config(&self, text: &str) -> PathBuf {
        let dir = self.dir.path().join(".ssh");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        fs::write(&path, text).unwrap();
        path
    }

    /// An authorized ed25519 key and a known_hosts holding the server's line.
    pub fn new(sshd: &Sshd) -> Home {
        let home = Home::empty();
        let public = keygen(&home.key, "ed25519", "");
        sshd.authorize(&public);
        fs::write(&home.known_hosts, sshd.known_hosts_line() + "\n").unwrap();
        home
    }

    /// No key and an empty known_hosts.
    pub fn empty() -> Home {
        let dir = tempfile::Builder::new().prefix("home-").tempdir().unwrap();
        let ssh = dir.path().join("keys");
        fs::create_dir(&ssh).unwrap();
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
        let key = ssh.join("id_test");
        let known_hosts = ssh.join("known_hosts");
        fs::write(&known_hosts, "").unwrap();
        Home {
            dir,
            key,
            known_hosts,
        }
    }

    /// The public line of a new ed25519 key no server knows, made in this
    /// home under `name`: another host's key, or one nobody authorized.
    pub fn stranger_key(&self, name: &str) -> String {
        keygen(&self.dir.path().join(name), "ed25519", "")
    }

    /// No key, and a known_hosts that trusts this server.
    pub fn trusting(sshd: &Sshd) -> Home {
        let home = Home::empty();
        fs::write(&home.known_hosts, sshd.known_hosts_line() + "\n").unwrap();
        home
    }

    /// Our binary aimed at this server with this HOME and nothing from the
    /// real environment that could change the outcome; no key or
    /// known_hosts flags, so the defaults apply.
    pub fn bare_client(&self, sshd: &Sshd) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args([
            "--host",
            sshd.host,
            "--port",
            &sshd.port.to_string(),
            "--username",
            &sshd.user,
        ])
        .env("HOME", self.dir.path())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("MCP_SSH_PASSPHRASE");
        cmd
    }

    /// [`Home::bare_client`] with this home's key and known_hosts.
    pub fn client(&self, sshd: &Sshd) -> Command {
        let mut cmd = self.bare_client(sshd);
        cmd.arg("--client-key")
            .arg(&self.key)
            .arg("--known-hosts")
            .arg(&self.known_hosts);
        cmd
    }

    /// [`Home::client`] with another build of the binary, started through
    /// `launcher` (a qemu-user emulator and its flags, or nothing): the
    /// same arguments and environment, so the same session.
    pub fn client_through(&self, sshd: &Sshd, launcher: &[&str], binary: &Path) -> Command {
        let plain = self.client(sshd);
        let cmd = match launcher.split_first() {
            Some((program, flags)) => {
                let mut cmd = Command::new(program);
                cmd.args(flags).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
        like(cmd, &plain)
    }
}

/// `cmd` with the arguments and environment of `client` after its own.
pub fn like(mut cmd: Command, client: &Command) -> Command {
    cmd.args(client.get_args());
    for (name, value) in client.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    cmd
}

/// A session's input that crosses every path once: initialize, the
/// initialized notification, tools/list, an echo of `text` and a 1 MiB
/// result.
pub fn one_mib_session_input(text: &str) -> String {
    [
        initialize(1),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#.to_string(),
        tool_call(3, "echo", &format!(r#"{{"text":"{text}"}}"#)),
        tool_call(4, "blob", &format!(r#"{{"size":{}}}"#, 1 << 20)),
    ]
    .join("\n")
        + "\n"
}

/// `doctor` with the arguments and environment of the session `client`,
/// its own flags `extra` first.
pub fn doctor(client: Command, extra: &[&str]) -> Command {
    let mut cmd = Command::new(client.get_program());
    cmd.arg("doctor").args(extra);
    like(cmd, &client)
}

/// A short session: initialize and one tool call.
pub fn session_input() -> String {
    format!(
        "{}\n{}\n",
        initialize(1),
        tool_call(2, "echo", r#"{"text":"ok"}"#)
    )
}

/// The run ended well and the host saw exactly what the server says to
/// `input` when run directly.
pub fn assert_matches_direct(output: Output, input: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(output.stdout, direct(input.as_bytes()));
}

/// [`assert_matches_direct`] for [`session_input`].
pub fn assert_session_works(output: Output) {
    assert_matches_direct(output, &session_input());
}

/// What the host sees when the remote cannot be reached at start: its first
/// request (id 1) answered with the error that ends the run, word for word.
pub fn assert_first_request_refused(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let reason = last
        .strip_prefix(PREFIX)
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    let expected = format!(
        r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":-32000,"message":"Cannot connect to the remote MCP server","data":{{"reason":{}}}}}}}"#,
        miniserde::json::to_string(reason)
    ) + "\n";
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        expected,
        "{stderr}"
    );
}

/// The error a request gets when the connection it was sent on is lost and
/// another is being made, as a line.
pub fn lost(id: u64, reason: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"The connection to the remote MCP server was lost; it is being re-established","data":{{"reason":"{reason}"}}}}}}"#
    ) + "\n"
}

/// The error a request gets when the connection is lost and no new one will
/// be made, as a line.
pub fn lost_for_good(id: u64, reason: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"The connection to the remote MCP server was lost","data":{{"reason":"{reason}"}}}}}}"#
    ) + "\n"
}

/// Feeds `input`, closes stdin, and waits for the exit (killing it after
/// [`STEP_TIMEOUT`]).
pub fn run(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = wait_output(child, STEP_TIMEOUT);
    let _ = writer.join();
    output
}

/// Collects stdout and stderr while waiting for the exit, killing the child
/// if it outlives `timeout`.
pub fn wait_output(mut child: Child, timeout: Duration) -> Output {
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let Some(status) = wait_with_timeout(&mut child, timeout) else {
        let _ = child.kill();
        let status = child.wait().unwrap();
        let err = stderr.map(|h| h.join().unwrap()).unwrap_or_default();
        panic!(
            "client did not exit within {timeout:?} ({status}); stderr:\n{}",
            String::from_utf8_lossy(&err)
        );
    };
    Output {
        status,
        stdout: stdout.map(|h| h.join().unwrap()).unwrap_or_default(),
        stderr: stderr.map(|h| h.join().unwrap()).unwrap_or_default(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A running client driven line by line, as an MCP host drives it.
pub struct Session {
    pub child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Vec<u8>>,
    /// Stdout received and not yet handed out.
    received: Vec<u8>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Session {
    pub fn start(mut cmd: Command) -> Session {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().map(drain);
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Session {
            child,
            stdin,
            chunks,
            received: Vec::new(),
            stderr,
        }
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Writes `bytes` to the client's stdin from a thread of its own, then
    /// closes stdin: for input larger than the client will take while its
    /// remote does not read. A write the client's exit cuts short is fine.
    pub fn send_in_background(&mut self, bytes: Vec<u8>) -> thread::JoinHandle<()> {
        let mut stdin = self.stdin.take().expect("stdin already closed");
        thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })
    }

    /// Waits for more stdout, failing the test with the client's stderr after
    /// [`STEP_TIMEOUT`].
    fn receive_more(&mut self) {
        match self.chunks.recv_timeout(STEP_TIMEOUT) {
            Ok(chunk) => self.received.extend_from_slice(&chunk),
            Err(_) => {
                let _ = self.child.kill();
                let status = self.child.wait().unwrap();
                let err = self
                    .stderr
                    .take()
                    .map(|h| h.join().unwrap())
                    .unwrap_or_default();
                panic!(
                    "no line from the client ({status}); stderr:\n{}",
                    String::from_utf8_lossy(&err)
                )
            }
        }
    }

    /// The next stdout line, newline included.
    pub fn recv(&mut self) -> Vec<u8> {
        let mut searched = 0;
        loop {
            if let Some(at) = self.received[searched..].iter().position(|&b| b == b'\n') {
                let rest = self.received.split_off(searched + at + 1);
                return std::mem::replace(&mut self.received, rest);
            }
            searched = self.received.len();
            self.receive_more();
        }
    }

    /// Waits until at least `n` bytes of stdout have arrived that no
    /// [`Session::recv`] has taken yet (a line may still be incomplete).
    pub fn wait_for_bytes(&mut self, n: usize) {
        while self.received.len() < n {
            self.receive_more();
        }
    }

    pub fn recv_string(&mut self) -> String {
        String::from_utf8(self.recv()).unwrap()
    }

    /// Sends a request and returns the response line, newline stripped.
    pub fn call(&mut self, line: &str) -> String {
        self.send(line);
        self.recv_string().trim_end_matches('\n').to_string()
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the exit; returns the status, the stdout not yet taken, and stderr.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<u8>, String) {
        self.stdin = None;
        let status = wait_with_timeout(&mut self.child, timeout).unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!("client did not exit within {timeout:?}");
        });
        let mut rest = std::mem::take(&mut self.received);
        while let Ok(chunk) = self.chunks.recv_timeout(Duration::from_secs(5)) {
            rest.extend(chunk);
        }
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (status, rest, String::from_utf8_lossy(&err).into_owned())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JSON-RPC request line helpers.
pub fn initialize(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"test","version":"1"}}}}}}"#
    )
}

/// The fixture server's answer to [`initialize`], without its newline.
pub fn initialize_answer(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-06-18","capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"fixture","version":"1.0"}}}}}}"#
    )
}

pub fn tool_call(id: u64, name: &str, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{arguments}}}}}"#
    )
}

/// Runs the fixture MCP server directly (no SSH) on `input`: the reference output.
pub fn direct(input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(python());
    cmd.arg(fixture("mcp_server.py"));
    run(cmd, input).stdout
}
