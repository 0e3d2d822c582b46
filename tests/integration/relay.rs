//! The session as an MCP host sees it: bytes in, bytes out.

use std::time::Duration;

use crate::support::*;

#[test]
fn round_trip_through_shell_is_byte_identical_to_the_server_run_directly() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let input = [
        initialize(1),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#.to_string(),
        tool_call(3, "echo", r#"{"text":"héllo \u2028 wörld"}"#),
    ]
    .join("\n")
        + "\n";
    let output = run(home.client(&sshd), input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&direct(input.as_bytes()))
    );
    assert_eq!(output.stdout.iter().filter(|&&b| b == b'\n').count(), 3);
}

#[test]
fn stdin_eof_ends_the_session_with_exit_0_within_a_second() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut session = Session::start(home.client(&sshd));
    assert!(session.call(&initialize(1)).contains(r#""serverInfo""#));
    let closed = std::time::Instant::now();
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert!(
        closed.elapsed() < Duration::from_secs(1),
        "took {:?}; stderr: {stderr}",
        closed.elapsed()
    );
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(rest.is_empty());
}
