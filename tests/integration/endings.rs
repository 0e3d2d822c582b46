//! How runs end: usage errors, unreachable servers, signals, and remotes
//! that go away. Each ending has its exit code and one clear line.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn host_key_flags_are_mutually_exclusive() {
    let output = run(
        {
            let mut cmd = Command::new(bin());
            cmd.args(["--known-hosts", "/tmp/kh", "--disable-host-key-checking"]);
            cmd
        },
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "m2m-mcp-server-ssh-client: --known-hosts and --disable-host-key-checking cannot be used together: \
         each decides how the server's host key is trusted\n"
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let mut cmd = Command::new(bin());
    cmd.arg("--bogus");
    let output = run(cmd, b"");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("{PREFIX}Unrecognized argument: --bogus\n")
    );
}

#[test]
fn version_is_printed() {
    let mut cmd = Command::new(bin());
    cmd.arg("--version");
    let output = run(cmd, b"");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("m2m-mcp-server-ssh-client {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn connection_refused_has_its_exit_code_and_the_searched_words() {
    let home = Home::empty();
    keygen(&home.key, "ed25519", "");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut cmd = Command::new(bin());
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--client-key")
        .arg(&home.key)
        .env("HOME", home.dir.path());
    let output = run(cmd, b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}connection refused by 127.0.0.1:{port}; \
             check --host and --port and that the SSH server is running\n"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_server_that_never_answers_times_out_with_its_exit_code() {
    let home = Home::empty();
    keygen(&home.key, "ed25519", "");
    // Accepts connections (the kernel completes them) but never speaks.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cmd = Command::new(bin());
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--connect-timeout",
        "1",
    ])
    .arg("--client-key")
    .arg(&home.key)
    .env("HOME", home.dir.path());
    let started = Instant::now();
    let output = run(cmd, b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}connection to 127.0.0.1:{port} timed out after 1 s; \
             check --host, --port and the network (--connect-timeout sets the limit)\n"
        ),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}

#[test]
fn sigterm_ends_the_session_within_a_second() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut session = Session::start(home.client(&sshd));
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &session.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_with_timeout(&mut session.child, Duration::from_secs(5)).expect("did not exit");
    assert!(
        signalled.elapsed() < Duration::from_secs(1),
        "took {:?}",
        signalled.elapsed()
    );
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn without_reconnecting_a_remote_that_exits_ends_the_run_with_the_remote_closed_code() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut cmd = home.client(&sshd);
    cmd.args(["--reconnect-max-wait", "0"]);
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(&tool_call(2, "exit", r#"{"code":3}"#));
    let status =
        wait_with_timeout(&mut session.child, Duration::from_secs(10)).expect("did not exit");
    let (_, rest, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(12), "{stderr}");
    assert_eq!(
        String::from_utf8(rest).unwrap(),
        lost_for_good(2, "the remote command exited with status 3")
    );
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}the remote MCP server closed the session: the remote command exited with status 3\n"
        ),
        "{stderr}"
    );
}

#[test]
fn without_reconnecting_a_cut_mid_message_ends_the_host_line_and_answers_the_request() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut cmd = home.client(&sshd);
    cmd.args(["--reconnect-max-wait", "0"]);
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    assert_eq!(
        session.call(&tool_call(2, "echo", r#"{"text":"before"}"#)),
        r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"before"}]}}"#
    );
    // A 64 MiB answer is on its way when the connection dies.
    session.send(&tool_call(3, "blob", r#"{"size":67108864}"#));
    session.wait_for_bytes(1 << 20);
    sshd.cut_sessions();
    let status =
        wait_with_timeout(&mut session.child, Duration::from_secs(10)).expect("did not exit");
    let (_, rest, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(12), "{stderr}");
    let reason = "the server closed the connection or the network dropped it";
    // The part of the answer that came is ended, so the host's framing
    // recovers; then the request gets its error.
    let rest = String::from_utf8_lossy(&rest);
    let (cut, last) = rest.trim_end_matches('\n').rsplit_once('\n').unwrap();
    assert!(cut.starts_with(r#"{"jsonrpc":"2.0","id":3,"result""#));
    assert!(cut.len() < 64 << 20);
    assert_eq!(format!("{last}\n"), lost_for_good(3, reason));
    assert_eq!(
        last_line(&stderr),
        format!("{PREFIX}SSH connection lost while relaying: {reason}\n"),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_flag_of_the_python_program() {
    let mut cmd = Command::new(bin());
    cmd.arg("--help");
    let output = run(cmd, b"");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--host",
        "--port",
        "--username",
        "--client-key",
        "--known-hosts",
        "--passphrase",
        "--disable-host-key-checking",
        "--use-key-server",
        "--key-server-port",
        "--log-level",
        "--command",
    ] {
        assert!(
            help.contains(&format!("  {flag} ")) || help.contains(&format!("  {flag}\n")),
            "{flag} missing:\n{help}"
        );
    }
}

#[test]
fn a_host_that_closes_our_stdout_ends_the_run_quietly() {
    use std::io::Write;
    use std::process::Stdio;
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut child = home
        .client(&sshd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The host is gone before the answer comes; stdin stays open, so only
    // the failed write can end the run.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", initialize(1)).unwrap();
    let output = wait_output(child, Duration::from_secs(10));
    drop(stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "{PREFIX}info: connected to 127.0.0.1:{} as '{}'\n",
            sshd.port, sshd.user
        )
    );
}

#[test]
fn a_request_never_answered_holds_the_end_of_input_for_the_grace_period_only() {
    // A remote that reads everything and answers nothing.
    let sshd = Sshd::start_with(SshdOptions {
        force_command: Some("cat >/dev/null".into()),
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let started = Instant::now();
    let output = run(
        home.client(&sshd),
        format!("{}\n{}\n", initialize(1), tool_call(2, "echo", "{}")).as_bytes(),
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    // A host that closed its input gets what the remote said, and nothing more.
    assert!(output.stdout.is_empty());
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}info: 2 request(s) still unanswered 5 s after the end of input; ending the session\n"
        ),
        "{stderr}"
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(10),
        "took {took:?}"
    );
}
