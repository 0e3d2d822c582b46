//! Nothing hangs, nothing crashes, nothing is glued or written twice: each
//! test reproduces a defect found by trying the client as a careless user
//! and as an attacker would.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::proxy::{CUT, Network, Proxy, through};
use crate::support::*;

/// The error the host gets for a request still unanswered when the session ends.
fn ended(id: u64, reason: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"The session ended before the remote MCP server answered","data":{{"reason":"{reason}"}}}}}}"#
    ) + "\n"
}

/// The byte count in the client's "took none of the last N byte(s)" line.
fn unsent(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.split("the last ").nth(1)?.split(' ').next())
        .unwrap_or_default()
        .to_string()
}

fn sigterm(session: &Session) {
    let status = Command::new("kill")
        .args(["-TERM", &session.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn requests_that_waited_for_the_connection_leave_as_soon_as_it_is_back_with_the_default_keepalive()
{
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let cmd = through(&proxy, &sshd, &home);
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    session.send(&tool_call(2, "sleep", r#"{"ms":30000}"#));
    // Answered once the sleep has reached the server too.
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"sent"}"#)),
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"sent"}]}}"#
    );
    proxy.set(Network::Refuse);
    proxy.cut();
    assert_eq!(session.recv_string(), lost(2, CUT));
    for id in 10..15 {
        session.send(&tool_call(id, "echo", r#"{"text":"waited"}"#));
    }
    proxy.set(Network::Pass);
    let back = Instant::now();
    let answers: String = (10..15).map(|_| session.recv_string()).collect();
    let took = back.elapsed();
    assert_eq!(
        answers,
        (10..15)
            .map(|id| format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"waited"}}]}}}}"#
            ) + "\n")
            .collect::<String>()
    );
    // The reconnect takes a backoff of a few seconds at most; the keepalive
    // timer that once had to wake the relay is 15 s away.
    assert!(
        took < Duration::from_secs(10),
        "answered {took:?} after the network came back"
    );
    let (status, rest, stderr) = session.finish(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(rest.is_empty());
}

#[test]
fn half_a_line_from_a_remote_that_exits_is_ended_before_the_error() {
    let sshd = Sshd::start_with(SshdOptions {
        force_command: Some(
            r#"head -n 1 >/dev/null; printf '{"jsonrpc":"2.0","id":1,"res'"#.into(),
        ),
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let mut session = Session::start(home.client(&sshd));
    session.send(&initialize(1));
    let status =
        wait_with_timeout(&mut session.child, Duration::from_secs(30)).expect("did not exit");
    let (_, stdout, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(12), "{stderr}");
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"res\n".to_string()
            + &lost_for_good(1, "the remote MCP server ended the session")
    );
}

#[test]
fn flag_values_past_their_range_are_usage_errors_not_an_abort() {
    for (flag, value, range) in [
        ("--keepalive-interval", "18446744073709551615", "0 to 86400"),
        ("--keepalive-interval", "6148914691236517205", "0 to 86400"),
        (
            "--reconnect-max-wait",
            "9223372036854775807",
            "0 to 31536000",
        ),
        ("--connect-timeout", "18446744073709551615", "1 to 3600"),
    ] {
        let output = Command::new(bin()).args([flag, value]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("{PREFIX}{flag}: {value} is out of range; use {range}\n")
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn a_known_hosts_path_that_is_not_a_regular_file_is_refused_at_once() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let fifo = home.dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for path in [std::path::PathBuf::from("/dev/zero"), fifo] {
        let mut cmd = home.bare_client(&sshd);
        cmd.arg("--client-key")
            .arg(&home.key)
            .arg("--known-hosts")
            .arg(&path);
        let output = run(cmd, session_input().as_bytes());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(18), "{stderr}");
        assert_eq!(
            last_line(&stderr),
            format!(
                "{PREFIX}cannot read the known_hosts file {}: not a regular file\n",
                path.display()
            )
        );
        assert_first_request_refused(&output);
    }
}

#[test]
fn sigterm_while_connecting_answers_the_first_request_and_ends_the_run_cleanly() {
    // A server that accepts and never says a word: the handshake waits.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = Home::empty();
    let mut cmd = Command::new(bin());
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--disable-host-key-checking",
    ])
    .env("HOME", home.dir.path());
    let mut session = Session::start(cmd);
    session.send(&initialize(1));
    let (_held, _) = listener.accept().unwrap();
    let signalled = Instant::now();
    sigterm(&session);
    let status =
        wait_with_timeout(&mut session.child, Duration::from_secs(9)).expect("did not exit");
    let took = signalled.elapsed();
    let (_, stdout, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":-32000,"message":"Cannot connect to the remote MCP server","data":{{"reason":"the client was stopped before its connection to 127.0.0.1:{port} was open"}}}}}}"#
        ) + "\n"
    );
    assert!(
        has_line(
            &stderr,
            &format!("{PREFIX}info: SIGTERM: stopping before the session was open")
        ),
        "{stderr}"
    );
    eprintln!("stopped {took:?} after SIGTERM while connecting");
}

/// A remote that never reads its input, and a session whose host has sent
/// `initialize` and then a request too large for the SSH window.
fn stuck_session(request_size: usize) -> (Sshd, Home, Session, std::thread::JoinHandle<()>) {
    let sshd = Sshd::start_with(SshdOptions {
        force_command: Some("sleep 600".into()),
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let mut session = Session::start(home.client(&sshd));
    let mut input = initialize(1).into_bytes();
    input.push(b'\n');
    let head = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"length","arguments":{"data":""#;
    input.extend_from_slice(head);
    input.resize(input.len() + request_size, b'x');
    input.extend_from_slice(b"\"}}}\n");
    let writer = session.send_in_background(input);
    (sshd, home, session, writer)
}

#[test]
fn sigterm_with_a_large_request_half_sent_to_a_remote_that_reads_nothing_ends_within_seconds() {
    let (_sshd, _home, mut session, writer) = stuck_session(8 << 20);
    // Time for the client to fill the SSH window and its own buffer.
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Instant::now();
    sigterm(&session);
    // Nominal: EOF_GRACE (3 s) plus two closing steps of 1 s.
    let status =
        wait_with_timeout(&mut session.child, Duration::from_secs(15)).expect("did not exit");
    let took = signalled.elapsed();
    let (_, stdout, stderr) = session.finish(Duration::from_secs(1));
    let _ = writer.join();
    assert_eq!(status.code(), Some(0), "{stderr}");
    // The half-read request was never read whole: only initialize was.
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        ended(1, "the client was stopped by SIGTERM")
    );
    eprintln!("stopped {took:?} after SIGTERM");
}

#[test]
fn stdin_eof_with_input_the_remote_never_takes_ends_within_the_graces() {
    // Larger than the SSH window (2 MiB from OpenSSH) and within what the
    // client takes from stdin on top of it: the client reads to EOF, and
    // some of the request stays with it, unsent.
    let (_sshd, _home, mut session, writer) = stuck_session((2 << 20) + (100 << 10));
    writer.join().unwrap();
    let closed = Instant::now();
    // Nominal: ANSWER_GRACE (5 s), EOF_GRACE (3 s), two closing steps of 1 s.
    let status =
        wait_with_timeout(&mut session.child, Duration::from_secs(30)).expect("did not exit");
    let took = closed.elapsed();
    let (_, stdout, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(0), "{stderr}");
    // A host that closed its input gets what the remote said, and nothing more.
    assert_eq!(String::from_utf8(stdout).unwrap(), "");
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: the remote took none of the last {} byte(s) of input in 5 s; ending the session",
                unsent(&stderr)
            )
        ),
        "{stderr}"
    );
    eprintln!("ended {took:?} after stdin EOF");
}

#[test]
fn terminal_escapes_from_the_remote_reach_our_stderr_escaped() {
    let sshd = Sshd::start_with(SshdOptions {
        force_command: Some(format!(
            r"printf 'a\033]0;title\007b\033[2Jc\n' >&2; exec {}",
            mcp_server_command()
        )),
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        has_line(
            &stderr,
            &format!("{PREFIX}info: remote: a\\u{{1b}}]0;title\\u{{7}}b\\u{{1b}}[2Jc")
        ),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'));
}

#[test]
fn a_dot_ssh_that_another_user_can_change_is_refused_for_the_generated_key() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    // ~/.ssh a symlink to a directory of another user's, which anyone may write.
    let elsewhere = tempfile::Builder::new()
        .prefix("others-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        elsewhere.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::os::unix::fs::chown(elsewhere.path(), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), home.dir.path().join(".ssh")).unwrap();
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--known-hosts").arg(&home.known_hosts);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(10), "{stderr}");
    let dir = elsewhere.path().canonicalize().unwrap();
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}refusing to create the client key {}: its directory {} is owned by another user (uid 65534), \
             so another user could replace the key (OpenSSH's StrictModes refuses it too); make it yours and private: \
             chown \"$(id -un)\" {} && chmod 700 {}\n",
            home.dir
                .path()
                .join(".ssh/m2m_mcp_server_ssh_client")
                .display(),
            dir.display(),
            dir.display(),
            dir.display()
        )
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert_first_request_refused(&output);
}

#[test]
fn a_host_that_closes_its_input_and_never_reads_our_output_cannot_keep_us() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut child = home
        .client(&sshd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let input = format!(
        "{}\n{}\n",
        initialize(1),
        tool_call(2, "blob", r#"{"size":8388608}"#)
    );
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let closed = Instant::now();
    // Nominal: ANSWER_GRACE, EOF_GRACE, FLUSH_GRACE and two closing steps,
    // 12 s; stdout is never read, and the 8 MiB answer cannot leave.
    let status = wait_with_timeout(&mut child, Duration::from_secs(36)).expect("did not exit");
    assert_eq!(status.code(), Some(0));
    eprintln!(
        "ended {:?} after stdin EOF with stdout unread",
        closed.elapsed()
    );
}

#[test]
fn a_last_request_without_its_newline_is_still_sent_and_answered() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let input = session_input();
    let input = input.trim_end_matches('\n');
    assert_matches_direct(run(home.client(&sshd), input.as_bytes()), input);
}

#[test]
fn a_request_the_remote_answers_with_a_null_id_is_not_waited_for_at_the_end() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut input = initialize(1).into_bytes();
    input.extend_from_slice(
        b"\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\",\"params\":\"\xff\"}\n",
    );
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n");
    let output = run(home.client(&sshd), &input);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // What the server says directly, and nothing more: the host closed its
    // input, so it is owed no error of ours.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{}\n{}\n{}\n",
            initialize_answer(1),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{}}"#
        )
    );
    // The parse error answered id 2: the end did not wait out its grace for it.
    assert!(!stderr.contains("still unanswered"), "{stderr}");
}

#[test]
fn an_optional_bundle_field_left_as_its_placeholder_is_ignored() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut cmd = home.client(&sshd);
    // What Claude Desktop can pass for optional MCP Bundle fields left empty.
    cmd.args([
        "--passphrase",
        "${user_config.passphrase}",
        "--key-server-url=${user_config.key_server_url}",
        "${user_config.extra_args}",
    ]);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "{PREFIX}info: connected to 127.0.0.1:{} as '{}'\n",
            sshd.port, sshd.user
        )
    );
    assert_session_works(output);
}
