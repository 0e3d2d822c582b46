//! The session survives the network: cuts, blackholes, a server restart and
//! a rekey under load, with a proxy of ours between the client and the
//! test sshd playing the network's part.

use std::fs;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::proxy::{CUT, Network, Proxy, through};
use crate::support::*;

/// The fixture's answer to `echo`.
fn echoed(id: u64, text: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"{text}"}}]}}}}"#
    )
}

/// A session through the proxy, initialized as a host does it.
fn initialized(cmd: Command) -> Session {
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    session
}

/// Cuts the connection while a request is in flight and the network
/// refuses new ones, and waits for the request's error: from then on the
/// client knows it is without a connection.
fn cut_and_wait_for_the_outage(session: &mut Session, proxy: &Proxy, id: u64) {
    session.send(&tool_call(id, "sleep", r#"{"ms":30000}"#));
    session.send(&tool_call(id + 1, "echo", r#"{"text":"in flight"}"#));
    assert_eq!(session.recv_string(), echoed(id + 1, "in flight") + "\n");
    proxy.set(Network::Refuse);
    proxy.cut();
    assert_eq!(session.recv_string(), lost(id, CUT));
}

/// The methods the fixture server of the current connection has received.
fn history(session: &mut Session, id: u64) -> String {
    let line = session.call(&tool_call(id, "history", "{}"));
    let prefix =
        format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":""#);
    line.strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(r#""}]}}"#))
        .unwrap_or_else(|| panic!("not a history answer: {line}"))
        .to_string()
}

/// Whether `stderr` holds the line of the first reconnection to 127.0.0.1:`port`;
/// the time it took varies, so only that number is left open.
fn reconnected_once(stderr: &str, port: u16) -> bool {
    let head = format!("{PREFIX}info: reconnected to 127.0.0.1:{port} after ");
    stderr.lines().any(|line| {
        line.strip_prefix(&head)
            .and_then(|rest| rest.strip_suffix(" ms (reconnect 1); restoring the session"))
            .is_some_and(|ms| ms.parse::<u64>().is_ok())
    })
}

/// User plus system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn a_cut_answers_the_requests_in_flight_at_once_and_the_session_resumes_without_a_new_initialize() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut session = initialized(through(&proxy, &sshd, &home));
    for id in 10..15 {
        session.send(&tool_call(id, "sleep", r#"{"ms":5000}"#));
    }
    // Answered after the five reached the server, which works on them.
    assert_eq!(
        session.call(&tool_call(2, "echo", r#"{"text":"ok"}"#)),
        echoed(2, "ok")
    );

    proxy.set(Network::Refuse);
    proxy.cut();
    let cut = Instant::now();
    let answers: String = (10..15).map(|_| session.recv_string()).collect();
    let took = cut.elapsed();
    assert_eq!(
        answers,
        (10..15).map(|id| lost(id, CUT)).collect::<String>()
    );
    assert!(took < Duration::from_secs(1), "errors took {took:?}");
    eprintln!("five errors {took:?} after the cut");

    proxy.set(Network::Pass);
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"after"}"#)),
        echoed(3, "after")
    );
    // The new server process was brought to where the old one was, by us.
    assert_eq!(
        history(&mut session, 4),
        "initialize notifications/initialized tools/list tools/call tools/call"
    );
    assert_eq!(proxy.connections(), 2);
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    // Nothing late, nothing twice: the old server's answers died with it.
    assert_eq!(String::from_utf8_lossy(&rest), "");
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: connection to 127.0.0.1:{} lost: {CUT}; reconnecting",
                proxy.port
            )
        ),
        "{stderr}"
    );
    assert!(reconnected_once(&stderr, proxy.port), "{stderr}");
    if let Some(line) = stderr.lines().find(|l| l.contains("reconnected to")) {
        eprintln!("{line}");
    }
}

#[test]
fn a_blackhole_is_detected_by_keepalive_and_its_request_answered_within_five_seconds() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut cmd = through(&proxy, &sshd, &home);
    cmd.args(["--keepalive-interval", "1", "--keepalive-count-max", "3"]);
    let mut session = initialized(cmd);
    session.send(&tool_call(10, "sleep", r#"{"ms":30000}"#));
    assert_eq!(
        session.call(&tool_call(2, "echo", r#"{"text":"ok"}"#)),
        echoed(2, "ok")
    );

    proxy.set(Network::Blackhole);
    let dark = Instant::now();
    let answer = session.recv_string();
    let took = dark.elapsed();
    assert_eq!(
        answer,
        lost(10, "no word from the server in 3 s (keepalive every 1 s)")
    );
    assert!(took < Duration::from_secs(5), "detected after {took:?}");

    proxy.set(Network::Pass);
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"back"}"#)),
        echoed(3, "back")
    );
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(rest.is_empty());
    eprintln!("blackhole detected in {took:?}");
}

#[test]
fn the_session_resumes_after_the_ssh_server_is_killed_and_started_again() {
    let mut sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut session = initialized(home.client(&sshd));
    assert_eq!(
        session.call(&tool_call(2, "echo", r#"{"text":"ok"}"#)),
        echoed(2, "ok")
    );
    sshd.stop();
    // Down long enough for the first attempt to be refused.
    thread::sleep(Duration::from_millis(1500));
    sshd.resume();
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"again"}"#)),
        echoed(3, "again")
    );
    assert_eq!(
        history(&mut session, 4),
        "initialize notifications/initialized tools/list tools/call tools/call"
    );
    let (status, _, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(reconnected_once(&stderr, sshd.port), "{stderr}");
}

#[test]
fn a_request_sent_during_the_outage_waits_and_is_answered_after_the_reconnect() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut session = initialized(through(&proxy, &sshd, &home));
    cut_and_wait_for_the_outage(&mut session, &proxy, 20);
    let sent = Instant::now();
    session.send(&tool_call(7, "echo", r#"{"text":"waited"}"#));
    // A ping is answered by the relay itself meanwhile.
    assert_eq!(
        session.call(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#),
        r#"{"jsonrpc":"2.0","id":"p","result":{}}"#
    );
    thread::sleep(Duration::from_millis(1500));
    proxy.set(Network::Pass);
    assert_eq!(session.recv_string(), echoed(7, "waited") + "\n");
    assert!(sent.elapsed() >= Duration::from_millis(1500));
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(rest.is_empty());
}

#[test]
fn past_the_reconnect_max_wait_what_waits_gets_the_error_and_the_run_ends_with_its_code() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut cmd = through(&proxy, &sshd, &home);
    cmd.args(["--reconnect-max-wait", "3"]);
    let mut session = initialized(cmd);
    let cut = Instant::now();
    cut_and_wait_for_the_outage(&mut session, &proxy, 20);
    session.send(&tool_call(5, "echo", r#"{"text":"never"}"#));
    let status = wait_with_timeout(&mut session.child, Duration::from_secs(15)).expect("no exit");
    let took = cut.elapsed();
    let (_, rest, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(12), "{stderr}");
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(5)).contains(&took),
        "gave up after {took:?}"
    );
    let detail = format!(
        "the connection to 127.0.0.1:{port} was lost ({CUT}) and could not be re-established within 3 s; \
         last attempt: SSH handshake with 127.0.0.1:{port} failed: Failed getting banner; is it an SSH server?",
        port = proxy.port
    );
    assert_eq!(String::from_utf8_lossy(&rest), lost_for_good(5, &detail));
    assert_eq!(
        last_line(&stderr),
        format!("{PREFIX}the remote MCP server closed the session: {detail}\n"),
        "{stderr}"
    );
}

#[test]
fn the_end_of_input_during_an_outage_ends_the_run_at_once_answering_what_waits() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut session = initialized(through(&proxy, &sshd, &home));
    cut_and_wait_for_the_outage(&mut session, &proxy, 20);
    session.send(&tool_call(6, "echo", r#"{"text":"late"}"#));
    let closed = Instant::now();
    session.close_stdin();
    let status = wait_with_timeout(&mut session.child, Duration::from_secs(10)).expect("no exit");
    assert!(
        closed.elapsed() < Duration::from_secs(2),
        "{:?}",
        closed.elapsed()
    );
    let (_, rest, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&rest),
        lost_for_good(
            6,
            "the host ended the session while the connection was being re-established"
        )
    );
}

#[test]
fn a_session_without_initialize_reconnects_without_any_replay() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut session = Session::start(through(&proxy, &sshd, &home));
    // A 2026-07-28 host: no handshake, a discovery probe, _meta on every request.
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
    assert_eq!(
        session.call(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{{{meta}}}}}"#
        )),
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#
    );
    let call = |id: u64, text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{text}"}},{meta}}}}}"#
        )
    };
    assert_eq!(session.call(&call(2, "before")), echoed(2, "before"));
    cut_and_wait_for_the_outage(&mut session, &proxy, 20);
    proxy.set(Network::Pass);
    assert_eq!(session.call(&call(3, "after")), echoed(3, "after"));
    assert_eq!(history(&mut session, 4), "tools/call tools/call");
    let (status, _, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn a_rekey_every_mebibyte_under_load_neither_stalls_nor_changes_a_byte() {
    const SIZE: usize = 64 << 20;
    let sshd = Sshd::start_with(SshdOptions {
        extra: vec!["RekeyLimit 1M 1s".into(), "LogLevel DEBUG1".into()],
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let mut session = initialized(home.client(&sshd));
    session.send(&tool_call(
        2,
        "length",
        &format!(r#"{{"data":"{}"}}"#, "a".repeat(SIZE)),
    ));
    for id in 3..10 {
        session.send(&tool_call(id, "echo", &format!(r#"{{"text":"up {id}"}}"#)));
    }
    session.send(&tool_call(10, "blob", &format!(r#"{{"size":{SIZE}}}"#)));
    for id in 11..20 {
        session.send(&tool_call(
            id,
            "echo",
            &format!(r#"{{"text":"down {id}"}}"#),
        ));
    }
    assert_eq!(
        session.recv_string(),
        format!(
            r#"{{"jsonrpc":"2.0","id":2,"result":{{"content":[{{"type":"text","text":"{SIZE}"}}]}}}}"#
        ) + "\n"
    );
    for id in 3..10 {
        assert_eq!(
            session.recv_string(),
            echoed(id, &format!("up {id}")) + "\n"
        );
    }
    let down = session.recv_string();
    let expected = format!(
        r#"{{"jsonrpc":"2.0","id":10,"result":{{"content":[{{"type":"text","text":"{}"}}]}}}}"#,
        "x".repeat(SIZE)
    ) + "\n";
    assert!(
        down == expected,
        "the 64 MiB answer differs ({} bytes)",
        down.len()
    );
    for id in 11..20 {
        assert_eq!(
            session.recv_string(),
            echoed(id, &format!("down {id}")) + "\n"
        );
    }
    let (status, rest, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(rest.is_empty());
    assert!(!stderr.contains("reconnect"), "{stderr}");
    // About one key exchange per MiB that crossed, while both ways were busy.
    let rekeys = sshd.log().matches("ssh_set_newkeys: rekeying out").count();
    assert!(rekeys >= 100, "only {rekeys} key exchanges");
}

#[test]
fn sixty_idle_seconds_with_a_keepalive_every_second_keep_the_link_and_cost_almost_no_cpu() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut cmd = home.client(&sshd);
    cmd.args(["--keepalive-interval", "1"]);
    let mut session = initialized(cmd);
    let pid = session.child.id();
    let before = cpu_time(pid);
    thread::sleep(Duration::from_secs(60));
    let spent = cpu_time(pid) - before;
    assert_eq!(
        session.call(&tool_call(2, "echo", r#"{"text":"still here"}"#)),
        echoed(2, "still here")
    );
    let (status, _, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("lost"), "{stderr}");
    assert!(
        spent < Duration::from_millis(200),
        "{spent:?} of CPU in 60 idle s"
    );
    eprintln!("CPU over 60 idle seconds: {spent:?}");
}
