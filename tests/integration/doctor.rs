//! `doctor`: every step against a working server, then one failing step at
//! a time, each with the session's exit code and what to do.

use std::fs;
use std::process::{Command, Output};

use crate::support::key_server::{KeyServerStub, Reply, Tls, ok_register};
use crate::support::*;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The report's lines for `step`, the mark removed.
fn step_line(report: &str, mark: &str, step: &str) -> Option<String> {
    report
        .lines()
        .find(|line| {
            line.strip_prefix(mark)
                .is_some_and(|rest| rest.trim_start().starts_with(&format!("{step} ")))
        })
        .map(str::to_string)
}

/// The steps named in the report, in order.
fn steps(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|line| line.starts_with("ok  ") || line.starts_with("FAIL"))
        .map(|line| {
            let name = &line[5..5 + 14];
            name.trim_end().to_string()
        })
        .collect()
}

const ALL_STEPS: &[&str] = &[
    "configuration",
    "client key",
    "resolve",
    "connect",
    "ssh",
    "host key",
    "authentication",
    "channel",
    "initialize",
    "lists",
    "round trip",
    "keepalive",
];

#[test]
fn doctor_passes_every_step_against_a_working_server_and_names_each() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let output = run(doctor(home.client(&sshd), &[]), b"");
    let report = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}\n{}",
        stderr(&output)
    );
    assert_eq!(steps(&report), ALL_STEPS, "{report}");
    assert_eq!(
        last_line(&report),
        format!(
            "all 12 steps passed for 127.0.0.1:{} in {}",
            sshd.port,
            last_line(&report).rsplit(" in ").next().unwrap()
        )
    );
    let host_key = step_line(&report, "ok  ", "host key").unwrap();
    assert!(
        host_key.ends_with(&format!(
            "ssh-ed25519 {} found in {} line 1",
            fingerprint(&sshd.host_key),
            home.known_hosts.display()
        )),
        "{host_key}"
    );
    let initialize = step_line(&report, "ok  ", "initialize").unwrap();
    assert!(
        initialize.ends_with("server fixture 1.0, protocol 2025-06-18"),
        "{initialize}"
    );
    let lists = step_line(&report, "ok  ", "lists").unwrap();
    assert!(
        lists.ends_with("tools 7, prompts not offered, resources not offered"),
        "{lists}"
    );
    let auth = step_line(&report, "ok  ", "authentication").unwrap();
    assert!(
        auth.ends_with(&format!(
            "key {} ({}) accepted",
            home.key.display(),
            fingerprint(&fs::read_to_string(home.key.with_extension("pub")).unwrap())
        )),
        "{auth}"
    );
    assert!(
        step_line(&report, "ok  ", "round trip")
            .unwrap()
            .contains("of 10 pings"),
        "{report}"
    );
    // No INFO lines on stderr by default: the report is the output.
    assert_eq!(stderr(&output), "");
}

#[test]
fn doctor_json_is_one_document_with_one_entry_per_step() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let output = run(doctor(home.client(&sshd), &["--json"]), b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ALL_STEPS);
    assert_eq!(report["ok"], true);
    assert_eq!(report["exit_code"], 0);
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["ok"] == true && step["detail"].is_string())
    );
    assert_eq!(report["fix"], serde_json::json!([]));
}

#[test]
fn doctor_stops_at_an_unknown_host_key_with_the_line_to_append_and_writes_nothing() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::write(&home.known_hosts, "").unwrap();
    let output = run(doctor(home.client(&sshd), &[]), b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{report}");
    assert_eq!(
        steps(&report),
        ALL_STEPS[..6].to_vec(),
        "stops at the host key: {report}"
    );
    let line = format!("[127.0.0.1]:{} {}", sshd.port, sshd.host_key);
    assert!(
        report.contains(&format!(
            "  fix: if ssh-ed25519 {} is the server's key (on the server: ssh-keygen -lf with its host key's .pub file), append this line to {}:\n       {line}\n       or run doctor again with --fix",
            fingerprint(&sshd.host_key),
            home.known_hosts.display()
        )),
        "{report}"
    );
    assert!(report.ends_with(&format!(
        "stopped at host key (exit code 7) after {}",
        report.rsplit(" after ").next().unwrap()
    )));
    assert_eq!(fs::read_to_string(&home.known_hosts).unwrap(), "");
    assert!(!sshd.log().contains("Accepted publickey"));
}

#[test]
fn doctor_fix_yes_appends_the_host_key_and_goes_on_to_the_end() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::write(&home.known_hosts, "").unwrap();
    let output = run(doctor(home.client(&sshd), &["--fix", "--yes"]), b"");
    let report = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}\n{}",
        stderr(&output)
    );
    let line = format!("[127.0.0.1]:{} {}", sshd.port, sshd.host_key);
    assert_eq!(
        fs::read_to_string(&home.known_hosts).unwrap(),
        format!("{line}\n")
    );
    assert!(
        report.contains(&format!(
            "ok   host key                  fixed: appended to {}: {line}\n  connecting again\n",
            home.known_hosts.display()
        )),
        "{report}"
    );
    assert!(
        step_line(&report, "ok  ", "keepalive").is_some(),
        "{report}"
    );
    assert!(
        last_line(&report).starts_with(&format!(
            "all 12 steps passed for 127.0.0.1:{} in ",
            sshd.port
        )),
        "{report}"
    );
}

#[test]
fn doctor_fix_without_yes_and_no_terminal_appends_nothing() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::write(&home.known_hosts, "").unwrap();
    let output = run(doctor(home.client(&sshd), &["--fix"]), b"y\n");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(7), "{report}");
    assert!(
        report.contains("not appended: add --yes to confirm the host key"),
        "{report}"
    );
    assert_eq!(fs::read_to_string(&home.known_hosts).unwrap(), "");
}

#[test]
fn doctor_shows_the_public_key_to_authorise_when_the_server_refuses_it() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let public = keygen(&home.key, "ed25519", "");
    let output = run(doctor(home.client(&sshd), &[]), b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(9), "{report}");
    assert_eq!(steps(&report), ALL_STEPS[..7].to_vec(), "{report}");
    assert!(
        report.contains(&format!(
            "  fix: authorise our key for '{user}' on the server: append this line to ~{user}/.ssh/authorized_keys there\n       {public}\n",
            user = sshd.user,
            public = public.trim_end()
        )),
        "{report}"
    );
}

#[test]
fn doctor_names_the_port_when_the_connection_is_refused() {
    let home = Home::empty();
    let port = free_port("127.0.0.1");
    home.stranger_key("id");
    let key = home.dir.path().join("id");
    let mut cmd = Command::new(bin());
    cmd.args([
        "doctor",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--command",
        "x",
    ])
    .arg("--client-key")
    .arg(&key)
    .env("HOME", home.dir.path());
    let output = run(cmd, b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(4), "{report}");
    let failed = step_line(&report, "FAIL", "connect").unwrap();
    assert!(
        failed.ends_with(&format!(
            "connection refused by 127.0.0.1:{port}; check --host and --port and that the SSH server is running"
        )),
        "{failed}"
    );
    assert!(
        report.contains(&format!(
            "  fix: nothing accepts connections at 127.0.0.1:{port}: check --host and --port (sshd listens on 22) and that the server is running\n"
        )),
        "{report}"
    );
}

/// Doctor's report for a plain sshd running `command`, which must fail
/// at `initialize` with exit 20.
fn not_mcp(command: &str) -> (Sshd, String) {
    let sshd = Sshd::start_with(SshdOptions {
        force_command: None,
        ..SshdOptions::default()
    });
    let home = Home::new(&sshd);
    let output = run(doctor(home.client(&sshd), &["--command", command]), b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(20), "{report}");
    (sshd, report)
}

#[test]
fn doctor_shows_what_a_remote_command_printed_when_it_is_not_an_mcp_server() {
    let (sshd, report) = not_mcp("echo hello; echo oops >&2; exit 3");
    let failed = step_line(&report, "FAIL", "initialize").unwrap();
    assert!(
        failed.contains(&format!(
            "the remote command at 127.0.0.1:{} is not an MCP server: it ended before answering initialize (exit status 3); it printed: ",
            sshd.port
        )),
        "{failed}"
    );
    assert!(
        failed.contains("'hello'") && failed.contains("'oops'"),
        "{failed}"
    );
    assert!(
        report.contains("  fix: run it on the server as the same user and check that it waits for JSON-RPC on stdin: echo hello; echo oops >&2; exit 3\n"),
        "{report}"
    );
}

#[test]
fn doctor_stops_at_the_key_server_when_it_answers_garbage() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = KeyServerStub::start(
        Tls::None,
        vec![
            (
                "/server_pub_key",
                Reply::Status(200, b"<html>hello</html>".to_vec()),
            ),
            ("/register", ok_register()),
        ],
    );
    let mut client = home.bare_client(&sshd);
    client
        .args(["--use-key-server", "--key-server-url", &stub.url()])
        .arg("--client-key")
        .arg(&home.key)
        .arg("--known-hosts")
        .arg(home.dir.path().join("pins"));
    let output = run(doctor(client, &[]), b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(15), "{report}");
    assert_eq!(
        steps(&report),
        ["configuration", "client key", "key server"],
        "{report}"
    );
    assert!(
        report.contains(
            "  fix: the answer is not a key server's: check --key-server-port (default 8000) or --key-server-url\n"
        ),
        "{report}"
    );
    assert!(!sshd.log().contains("Accepted publickey"));
}

#[test]
fn doctor_creates_no_default_key_without_fix_and_one_with_it() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let default_key = home.dir.path().join(".ssh/m2m_mcp_server_ssh_client");
    let mut client = home.bare_client(&sshd);
    client.arg("--known-hosts").arg(&home.known_hosts);
    let output = run(doctor(client, &[]), b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(10), "{report}");
    assert!(!default_key.exists());
    assert!(
        report.contains(&format!(
            "  fix: the default key {} does not exist yet: a session creates it at its first start; run doctor again with --fix to create it now\n",
            default_key.display()
        )),
        "{report}"
    );

    let mut client = home.bare_client(&sshd);
    client.arg("--known-hosts").arg(&home.known_hosts);
    let output = run(doctor(client, &["--fix"]), b"");
    let report = stdout(&output);
    // Created, and not yet authorised on the server.
    assert_eq!(output.status.code(), Some(9), "{report}");
    assert!(default_key.exists());
    let line = step_line(&report, "ok  ", "client key").unwrap();
    assert!(line.contains(", created now (--fix)"), "{line}");
    let public = fs::read_to_string(default_key.with_extension("pub")).unwrap();
    assert!(report.contains(public.trim_end()), "{report}");
}

#[test]
fn doctor_help_fits_one_screen_and_names_its_flags() {
    let output = Command::new(bin())
        .args(["doctor", "--help"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    assert!(help.lines().count() <= 30, "{help}");
    for flag in ["--json", "--fix", "--yes"] {
        assert!(help.contains(flag), "{help}");
    }
}

#[test]
fn doctor_through_a_jump_host_shows_each_step_of_both_servers() {
    let sshd = Sshd::start();
    let jump = crate::proxies::jump_host();
    let home = Home::new(&sshd);
    crate::proxies::trust_all(&home, &[&sshd, &jump]);
    let client = crate::proxies::through_jump(&home, &sshd, &jump);
    let output = run(doctor(client, &[]), b"");
    let report = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}\n{}",
        stderr(&output)
    );
    let via = format!("(jump host 127.0.0.1:{}) ", jump.port);
    let configuration = step_line(&report, "ok  ", "configuration").unwrap();
    assert!(
        configuration.contains(&format!(
            "via 127.0.0.1:{}; SSH config: HostName 127.0.0.1 (",
            jump.port
        )),
        "{configuration}"
    );
    for step in [
        "resolve",
        "connect",
        "ssh",
        "host key",
        "authentication",
        "jump",
    ] {
        let line = step_line(&report, "ok  ", step).unwrap();
        assert!(line.contains(&via), "{step}: {report}");
    }
    let jumped = step_line(&report, "ok  ", "jump").unwrap();
    assert!(
        jumped.ends_with(&format!("{via}opened a channel to 127.0.0.1:{}", sshd.port)),
        "{jumped}"
    );
    // The MCP server's own handshake, host key and authentication follow.
    let after: Vec<String> = steps(&report)
        .into_iter()
        .skip_while(|s| s != "jump")
        .collect();
    assert_eq!(
        after,
        [
            "jump",
            "ssh",
            "host key",
            "authentication",
            "channel",
            "initialize",
            "lists",
            "round trip",
            "keepalive"
        ]
    );
}

#[test]
fn doctor_bounds_a_remote_that_talks_without_ever_answering() {
    // `yes` prints forever, never JSON-RPC: the 30 s answer bound must end it.
    let (_sshd, report) = not_mcp("yes \"$(printf 'y\\033[2J')\"");
    let failed = step_line(&report, "FAIL", "initialize").unwrap();
    assert!(
        failed.contains("no answer to initialize within 30 s; it printed: 'y\\u{1b}[2J' / "),
        "{failed}"
    );
    assert!(
        !report.contains('\u{1b}'),
        "a control character reached the terminal"
    );
}

#[test]
fn doctor_with_accept_new_trusts_a_new_host_as_a_session_would_and_writes_it_only_with_fix() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::write(&home.known_hosts, "").unwrap();
    let output = run(doctor(home.client(&sshd), &["--accept-new"]), b"");
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    let line = step_line(&report, "ok  ", "host key").unwrap();
    assert!(
        line.ends_with(&format!(
            "new; a session adds it to {} (--accept-new); not written without --fix",
            home.known_hosts.display()
        )),
        "{line}"
    );
    assert_eq!(fs::read_to_string(&home.known_hosts).unwrap(), "");

    let output = run(doctor(home.client(&sshd), &["--accept-new", "--fix"]), b"");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // One line, its name hashed or not as the system's HashKnownHosts says.
    let written = fs::read_to_string(&home.known_hosts).unwrap();
    assert_eq!(written.lines().count(), 1, "{written}");
    assert!(
        written.ends_with(&format!(" {}\n", sshd.host_key)),
        "{written}"
    );
}

#[test]
fn doctor_reports_a_config_that_makes_no_sense_as_its_first_step_even_in_json() {
    let home = Home::empty();
    let config = home.write_ssh_config("Host *\n  ProxyJump a,b,c,d,e,f,g,h,i\n");
    let mut cmd = Command::new(bin());
    cmd.args(["doctor", "--json", "--host", "somewhere", "--command", "x"])
        .env("HOME", home.dir.path());
    let output = run(cmd, b"");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["exit_code"], 2);
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report}");
    assert_eq!(steps[0]["name"], "configuration");
    assert_eq!(steps[0]["ok"], false);
    assert!(
        steps[0]["detail"].as_str().unwrap().starts_with(&format!(
            "{} line 2: ProxyJump a,b,c,d,e,f,g,h,i: more than 8 jump hosts",
            config.display()
        )),
        "{report}"
    );
}

#[test]
fn doctor_stopped_by_a_signal_exits_as_a_shell_reports_it_and_leaves_no_proxy_command() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let marker = format!("doctor-signal-{}", std::process::id());
    // A ProxyCommand that never connects anything: doctor waits in the handshake.
    home.write_ssh_config(&format!(
        "Host slow\n  HostName 127.0.0.1\n  ProxyCommand sh -c 'sleep 3600; : {marker}'\n"
    ));
    let mut client = home.client(&sshd);
    client.args(["--host", "slow", "--connect-timeout", "60"]);
    let child = doctor(client, &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while crate::proxies::processes_with(&marker).is_empty() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the ProxyCommand never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = wait_output(child, std::time::Duration::from_secs(30));
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(130), "{report}");
    assert!(
        report.contains("  stopped by SIGINT before the checks were done\n"),
        "{report}"
    );
    let gone = std::time::Instant::now();
    while !crate::proxies::processes_with(&marker).is_empty() {
        assert!(
            gone.elapsed().as_secs() < 10,
            "the ProxyCommand was left running"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
