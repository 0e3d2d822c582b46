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
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
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

#[test]
fn exec_with_command_reaches_an_mcp_server_on_a_plain_sshd() {
    let sshd = Sshd::start_with(SshdOptions {
        force_command: None,
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let input = format!(
        "{}\n{}\n",
        initialize(1),
        tool_call(2, "echo", r#"{"text":"via exec"}"#)
    );
    let mut cmd = home.client(&sshd);
    cmd.args(["--command", &mcp_server_command()]);
    let output = run(cmd, input.as_bytes());
    assert_matches_direct(output, &input);
}

#[test]
fn ten_thousand_requests_in_one_burst_are_all_answered_in_order() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut input = initialize(0) + "\n";
    for id in 1..=10_000 {
        input.push_str(&tool_call(
            id,
            "echo",
            &format!(r#"{{"text":"request {id}"}}"#),
        ));
        input.push('\n');
    }
    let output = run(home.client(&sshd), input.as_bytes());
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let ids: Vec<u64> = text
        .lines()
        .map(|line| {
            let rest = line.strip_prefix(r#"{"jsonrpc":"2.0","id":"#).expect(line);
            rest[..rest.find(',').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(ids, (0..=10_000).collect::<Vec<u64>>());
    assert_eq!(text.as_bytes(), direct(input.as_bytes()));
}

#[test]
fn a_64_mib_message_passes_each_way_byte_exact() {
    const SIZE: usize = 64 << 20;
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut session = Session::start(home.client(&sshd));
    session.call(&initialize(1));

    let up = tool_call(
        2,
        "length",
        &format!(r#"{{"data":"{}"}}"#, "a".repeat(SIZE)),
    );
    assert_eq!(
        session.call(&up),
        format!(
            r#"{{"jsonrpc":"2.0","id":2,"result":{{"content":[{{"type":"text","text":"{SIZE}"}}]}}}}"#
        )
    );

    let down = session.call(&tool_call(3, "blob", &format!(r#"{{"size":{SIZE}}}"#)));
    let expected = format!(
        r#"{{"jsonrpc":"2.0","id":3,"result":{{"content":[{{"type":"text","text":"{}"}}]}}}}"#,
        "x".repeat(SIZE)
    );
    assert!(
        down == expected,
        "the 64 MiB response differs (got {} bytes)",
        down.len()
    );

    // Streamed, not buffered: far less than one message's worth of memory.
    let peak = peak_rss_kib(session.child.id());
    assert!(
        peak < 32 * 1024,
        "peak RSS {peak} KiB after 64 MiB each way"
    );

    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(rest.is_empty());
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn eight_mib_on_remote_stderr_neither_stalls_the_session_nor_reaches_stdout() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let input = format!(
        "{}\n{}\n{}\n",
        initialize(1),
        tool_call(2, "stderr", r#"{"size":8388608}"#),
        tool_call(3, "echo", r#"{"text":"still here"}"#)
    );
    let output = run(home.client(&sshd), input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, direct(input.as_bytes()));
    let remote_line = format!("{PREFIX}info: remote: {}", "e".repeat(99));
    let forwarded = stderr.lines().filter(|l| *l == remote_line).count();
    assert_eq!(forwarded, 8388608 / 100);
}

#[test]
fn non_json_lines_from_the_remote_go_to_stderr_not_stdout() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let input = format!("{}\n{}\n", initialize(1), tool_call(2, "banner", "{}"));
    let output = run(home.client(&sshd), input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("this is not json"));
    assert_eq!(stdout.lines().count(), 2);
    assert_eq!(
        stdout.lines().nth(1).unwrap(),
        r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"after banner"}]}}"#
    );
    assert!(
        has_line(
            &stderr,
            &format!("{PREFIX}warning: remote stdout, not JSON-RPC: this is not json")
        ),
        "stderr: {stderr}"
    );
}

#[test]
fn malformed_json_from_the_host_is_passed_on_and_the_session_continues() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let input = format!(
        "{}\n{{\"jsonrpc\": oops\n{}\n",
        initialize(1),
        tool_call(2, "echo", r#"{"text":"after"}"#)
    );
    let output = run(home.client(&sshd), input.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        lines[1],
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
    );
    assert_eq!(
        lines[2],
        r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"after"}]}}"#
    );
}

#[test]
fn an_ipv6_literal_host_connects_and_is_checked_as_bracketed_name() {
    let sshd = Sshd::start_with(SshdOptions {
        listen: "::1",
        ..Default::default()
    });
    let home = Home::new(&sshd);
    assert!(
        std::fs::read_to_string(&home.known_hosts)
            .unwrap()
            .starts_with(&format!("[::1]:{} ", sshd.port))
    );
    let input = format!("{}\n", initialize(1));
    let output = run(home.client(&sshd), input.as_bytes());
    assert_matches_direct(output, &input);
}

#[test]
fn a_host_name_is_resolved_and_checked_under_its_name() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    std::fs::write(
        &home.known_hosts,
        format!("[localhost]:{} {}\n", sshd.port, sshd.host_key),
    )
    .unwrap();
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "localhost"]);
    let input = format!("{}\n", initialize(1));
    let output = run(cmd, input.as_bytes());
    assert_matches_direct(output, &input);
}
