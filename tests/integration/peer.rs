//! Against the real peer server, `m2m-mcp-server-ssh-server` 0.1.3 from
//! PyPI: its key server, its shell-only channel, its end of session (it
//! drops answers in flight after our EOF and never closes the channel), and
//! its line splitting at U+2028.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::peer::{Peer, PeerOptions};
use crate::support::proxy::{CUT, Proxy};
use crate::support::*;

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

fn tools_list(id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#)
}

/// The peer's answer to initialize: the fixture's name, with the
/// capabilities and version of the MCP SDK it is built on (pinned by
/// `scripts/install-peer-server.sh`).
fn initialized(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-06-18","capabilities":{{"experimental":{{}},"tools":{{"listChanged":false}},"completions":{{}}}},"serverInfo":{{"name":"fixture","version":"1.30.0"}}}}}}"#
    )
}

/// The peer's answer to tools/list: the fixture's tools.
fn listed(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{}]}}}}"#,
        [
            r#"{"name":"echo","description":"Echo the text","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}"#,
            r#"{"name":"blob","description":"Return size bytes","inputSchema":{"type":"object","properties":{"size":{"type":"integer"}}}}"#,
            r#"{"name":"length","description":"Length of data","inputSchema":{"type":"object","properties":{"data":{"type":"string"}}}}"#,
            r#"{"name":"stderr","description":"Write to stderr","inputSchema":{"type":"object","properties":{"size":{"type":"integer"}}}}"#,
            r#"{"name":"exit","description":"Exit","inputSchema":{"type":"object","properties":{"code":{"type":"integer"}}}}"#,
            r#"{"name":"sleep","description":"Answer after ms","inputSchema":{"type":"object","properties":{"ms":{"type":"integer"}}}}"#,
            r#"{"name":"history","description":"Methods received","inputSchema":{"type":"object"}}"#,
        ]
        .join(",")
    )
}

/// The peer's answer to the fixture's echo tool.
fn echoed(id: u64, text: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"{text}"}}],"isError":false}}}}"#
    )
}

/// Our binary aimed at the peer with a scratch HOME and nothing else.
fn client(home: &Home, peer: &Peer) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["--host", "127.0.0.1", "--port", &peer.port.to_string()])
        .env("HOME", home.dir.path())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("MCP_SSH_PASSPHRASE");
    cmd
}

/// In key-server mode, exactly as the Python program's README configures it
/// (plus the port our test key server listens on).
fn key_server_client(home: &Home, peer: &Peer) -> Command {
    let mut cmd = client(home, peer);
    cmd.args([
        "--use-key-server",
        "--key-server-port",
        &peer.key_port.unwrap().to_string(),
    ]);
    cmd
}

/// Trusting the peer through a known_hosts file, with a key of our own.
fn known_hosts_client(home: &Home, peer: &Peer) -> Command {
    fs::write(&home.known_hosts, peer.known_hosts_line() + "\n").unwrap();
    keygen(&home.key, "ed25519", "");
    let mut cmd = client(home, peer);
    cmd.arg("--client-key")
        .arg(&home.key)
        .arg("--known-hosts")
        .arg(&home.known_hosts);
    cmd
}

fn default_pins(home: &Home) -> PathBuf {
    home.dir
        .path()
        .join(".ssh/m2m_mcp_server_ssh_client_known_hosts")
}

/// initialize, initialized, tools/list (the peer routes tools/call only
/// after it), an echo and a 4 MiB result; then EOF and a clean exit.
fn full_session(mut session: Session) -> String {
    assert_eq!(session.call(&initialize(1)), initialized(1));
    session.send(INITIALIZED);
    assert_eq!(session.call(&tools_list(2)), listed(2));
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"hello"}"#)),
        echoed(3, "hello")
    );
    let size = 4 * 1024 * 1024;
    let blob = session.call(&tool_call(4, "blob", &format!(r#"{{"size":{size}}}"#)));
    assert_eq!(blob, echoed(4, &"x".repeat(size)));
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        rest.is_empty(),
        "unexpected output: {}",
        String::from_utf8_lossy(&rest)
    );
    stderr
}

#[test]
fn the_python_clients_key_server_configuration_works_with_a_generated_key() {
    let peer = Peer::with_key_server();
    let home = Home::empty();
    let stderr = full_session(Session::start(key_server_client(&home, &peer)));
    // The default key was generated and is what the peer now knows.
    let key = home.dir.path().join(".ssh/m2m_mcp_server_ssh_client");
    assert!(key.exists(), "stderr: {stderr}");
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: created client key {} ({}) to register with the key server",
                key.display(),
                fingerprint(&public_line(&key.to_string_lossy()))
            )
        ),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(default_pins(&home)).unwrap(),
        peer.known_hosts_line() + "\n"
    );
}

#[test]
fn known_hosts_mode_works_with_the_peer() {
    let peer = Peer::without_key_server();
    let home = Home::empty();
    full_session(Session::start(known_hosts_client(&home, &peer)));
}

#[test]
fn disabled_host_key_checking_works_with_the_peer_and_warns() {
    let peer = Peer::without_key_server();
    let home = Home::empty();
    keygen(&home.key, "ed25519", "");
    let mut cmd = client(&home, &peer);
    cmd.arg("--client-key")
        .arg(&home.key)
        .arg("--disable-host-key-checking");
    let stderr = full_session(Session::start(cmd));
    assert!(
        has_line(&stderr, &disabled_checking_warning(peer.port)),
        "{stderr}"
    );
}

/// A known_hosts-mode session past initialize and tools/list, so that the
/// peer routes tools/call.
fn routing_session() -> (Peer, Home, Session) {
    let peer = Peer::without_key_server();
    let home = Home::empty();
    let mut session = Session::start(known_hosts_client(&home, &peer));
    session.call(&initialize(1));
    session.send(INITIALIZED);
    session.call(&tools_list(2));
    (peer, home, session)
}

#[test]
fn pipelined_requests_then_eof_are_all_answered_before_a_prompt_exit() {
    let (_peer, _home, mut session) = routing_session();

    let ids: Vec<u64> = (100..150).collect();
    let burst: String = ids
        .iter()
        .map(|id| tool_call(*id, "echo", &format!(r#"{{"text":"n{id}"}}"#)) + "\n")
        .collect();
    session.send_bytes(burst.as_bytes());
    session.close_stdin();
    let closed = Instant::now();
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    let took = closed.elapsed();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let rest = String::from_utf8(rest).unwrap();
    let answered: BTreeSet<String> = rest.lines().map(str::to_string).collect();
    let expected: BTreeSet<String> = ids
        .iter()
        .map(|id| echoed(*id, &format!("n{id}")))
        .collect();
    assert_eq!(answered, expected, "stderr: {stderr}");
    assert_eq!(rest.lines().count(), ids.len());
    assert!(took < Duration::from_secs(2), "exit took {took:?}");
}

#[test]
fn a_request_holding_line_separators_is_answered() {
    let (peer, _home, mut session) = routing_session();
    let text = "a\u{2028}b\u{2029}c\u{0085}d";
    let response = session.call(&tool_call(3, "echo", &format!(r#"{{"text":"{text}"}}"#)));
    // Python may answer them raw or escaped: the same JSON either way.
    let response = response
        .replace("\\u2028", "\u{2028}")
        .replace("\\u2029", "\u{2029}")
        .replace("\\u0085", "\u{0085}");
    assert_eq!(response, echoed(3, text));
    let (status, _, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(!peer.log().contains("Invalid JSON"), "{}", peer.log());
}

#[test]
fn the_pin_is_written_on_first_use_and_a_reinstalled_server_is_refused() {
    let peer = Peer::with_key_server();
    let (port, key_port) = (peer.port, peer.key_port.unwrap());
    let home = Home::empty();
    let input = format!("{}\n{INITIALIZED}\n{}\n", initialize(1), tools_list(2));
    let output = run(key_server_client(&home, &peer), input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
    let pins = default_pins(&home);
    let first_line = peer.known_hosts_line() + "\n";
    let first_key = peer.host_key.clone();
    assert_eq!(fs::read_to_string(&pins).unwrap(), first_line);
    drop(peer);

    // The same host and ports, a new host key: as after a reinstall, or an impostor.
    let peer = Peer::start(PeerOptions {
        key_server: true,
        port: Some(port),
        key_port: Some(key_port),
    });
    let output = run(key_server_client(&home, &peer), input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(8), "stderr: {stderr}");
    assert_first_request_refused(&output);
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}host key verification failed: the key server at http://127.0.0.1:{key_port} answered a host key \
             for [127.0.0.1]:{port} (ssh-ed25519 {answered}) that differs from the one pinned in {pins} line 1 \
             (ssh-ed25519 {pinned}); someone may be intercepting the connection; \
             if the server was reinstalled, remove the pin (ssh-keygen -R '[127.0.0.1]:{port}' -f {pins}) and start again\n",
            answered = fingerprint(&peer.host_key),
            pinned = fingerprint(&first_key),
            pins = pins.display(),
        ),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&pins).unwrap(), first_line);
}

#[test]
fn after_a_cut_the_peer_serves_tool_calls_again_and_the_host_sees_only_the_errors() {
    let peer = Peer::without_key_server();
    let proxy = Proxy::start(peer.port);
    let home = Home::empty();
    keygen(&home.key, "ed25519", "");
    fs::write(
        &home.known_hosts,
        format!("[127.0.0.1]:{} {}\n", proxy.port, peer.host_key),
    )
    .unwrap();
    let mut cmd = client(&home, &peer);
    cmd.args([
        "--port",
        &proxy.port.to_string(),
        "--keepalive-interval",
        "1",
    ])
    .arg("--client-key")
    .arg(&home.key)
    .arg("--known-hosts")
    .arg(&home.known_hosts);
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialized(1));
    session.send(INITIALIZED);
    assert_eq!(session.call(&tools_list(2)), listed(2));
    // Idle for several keepalive limits: the peer answers our probes.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(proxy.connections(), 1);
    session.send(&tool_call(3, "sleep", r#"{"ms":10000}"#));
    assert_eq!(
        session.call(&tool_call(4, "echo", r#"{"text":"before"}"#)),
        echoed(4, "before")
    );

    proxy.cut();
    assert_eq!(session.recv_string(), lost(3, CUT));
    // Routed on the new session: our own tools/list came first.
    assert_eq!(
        session.call(&tool_call(5, "echo", r#"{"text":"after"}"#)),
        echoed(5, "after")
    );
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&rest), "");
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn doctor_against_the_peer_shows_its_key_server_and_pins_only_with_fix() {
    let peer = Peer::with_key_server();
    let home = Home::empty();
    keygen(&home.key, "ed25519", "");
    let pins = home
        .dir
        .path()
        .join(".ssh/m2m_mcp_server_ssh_client_known_hosts");
    let mut cmd = key_server_client(&home, &peer);
    cmd.arg("--client-key").arg(&home.key);
    let output = run(doctor(cmd, &[]), b"");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{report}\n{}", peer.log());
    let url = format!("http://127.0.0.1:{}", peer.key_port.unwrap());
    let fingerprint = fingerprint(&peer.host_key);
    let line = |step: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("ok   {step} ")))
            .unwrap_or_else(|| panic!("no {step}: {report}"))
            .to_string()
    };
    assert!(
        line("key server").ends_with(&format!(
            "{url} answered ssh-ed25519 {fingerprint}; not pinned yet in {}",
            pins.display()
        )),
        "{report}"
    );
    assert!(
        line("host key").ends_with(&format!(
            "ssh-ed25519 {fingerprint} matches the answer of {url}; a session pins it in {}; not written without --fix",
            pins.display()
        )),
        "{report}"
    );
    assert!(
        line("initialize").ends_with("server fixture 1.30.0, protocol 2025-06-18"),
        "{report}"
    );
    assert!(!pins.exists(), "doctor pinned without --fix");

    let mut cmd = key_server_client(&home, &peer);
    cmd.arg("--client-key").arg(&home.key);
    let output = run(doctor(cmd, &["--fix"]), b"");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!(
            "ssh-ed25519 {fingerprint} matches the answer of {url}, pinned now in {}",
            pins.display()
        )),
        "{report}"
    );
    assert_eq!(
        fs::read_to_string(&pins).unwrap(),
        peer.known_hosts_line() + "\n"
    );
}
