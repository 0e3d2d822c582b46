//! The ways to a server the SSH config names besides TCP: ProxyJump
//! through other sshds (one hop, two, a cut jump connection), ProxyCommand
//! through a pipe program, and the keys the config names.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::support::proxy::CUT;
use crate::support::*;

/// An sshd that serves no session, only forwarding, and logs each
/// `direct-tcpip` request it serves.
pub(crate) fn jump_host() -> Sshd {
    Sshd::start_with(SshdOptions {
        force_command: None,
        extra: vec!["AllowTcpForwarding yes".into(), "LogLevel DEBUG1".into()],
        ..Default::default()
    })
}

/// Whether `jump` forwarded a connection to 127.0.0.1:`port`.
fn forwarded_to(jump: &Sshd, port: u16) -> bool {
    jump.log()
        .contains(&format!("target 127.0.0.1 port {port}"))
}

/// `home`'s key authorized on each server, and every server in its known_hosts.
pub(crate) fn trust_all(home: &Home, servers: &[&Sshd]) {
    let public = public_line(&home.key.to_string_lossy());
    let mut lines = String::new();
    for sshd in servers.iter().skip(1) {
        sshd.authorize(&public);
        lines += &(sshd.known_hosts_line() + "\n");
    }
    lines += &(servers[0].known_hosts_line() + "\n");
    fs::write(&home.known_hosts, lines).unwrap();
}

/// Our client for `sshd` as the host `target`, which the SSH config sends
/// through `jump`.
pub(crate) fn through_jump(home: &Home, sshd: &Sshd, jump: &Sshd) -> Command {
    home.write_ssh_config(&format!(
        "Host target\n  HostName 127.0.0.1\n  ProxyJump {}@127.0.0.1:{}\n",
        jump.user, jump.port
    ));
    let mut cmd = home.client(sshd);
    cmd.args(["--host", "target"]);
    cmd
}

/// The fixture's answer to `echo`.
fn echoed(id: u64, text: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"{text}"}}]}}}}"#
    )
}

#[test]
fn a_proxy_jump_through_a_second_sshd_carries_the_session_and_names_the_hop() {
    let sshd = Sshd::start();
    let jump = jump_host();
    let home = Home::new(&sshd);
    trust_all(&home, &[&sshd, &jump]);
    home.write_ssh_config(&format!(
        "Host target\n  HostName 127.0.0.1\n  ProxyJump bastion\n\
             Host bastion\n  HostName 127.0.0.1\n  Port {}\n  User {}\n",
        jump.port, jump.user
    ));
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "target"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: connected to 127.0.0.1:{} as '{}' via 127.0.0.1:{}",
                sshd.port, sshd.user, jump.port
            )
        ),
        "{stderr}"
    );
    assert!(forwarded_to(&jump, sshd.port), "{}", jump.log());
    assert_session_works(output);
}

#[test]
fn a_two_hop_chain_goes_through_both_jump_hosts_in_order() {
    let sshd = Sshd::start();
    let first = jump_host();
    let second = jump_host();
    let home = Home::new(&sshd);
    trust_all(&home, &[&sshd, &first, &second]);
    home.write_ssh_config(&format!(
        "Host target\n  HostName 127.0.0.1\n  ProxyJump {user}@127.0.0.1:{},{user}@127.0.0.1:{}\n",
        first.port,
        second.port,
        user = sshd.user
    ));
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "target"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: connected to 127.0.0.1:{} as '{}' via 127.0.0.1:{}, 127.0.0.1:{}",
                sshd.port, sshd.user, first.port, second.port
            )
        ),
        "{stderr}"
    );
    assert!(forwarded_to(&first, second.port), "{}", first.log());
    assert!(forwarded_to(&second, sshd.port), "{}", second.log());
    assert_session_works(output);
}

#[test]
fn a_cut_of_the_jump_connection_is_a_loss_and_the_session_comes_back_through_the_jump() {
    let sshd = Sshd::start();
    let jump = jump_host();
    let home = Home::new(&sshd);
    trust_all(&home, &[&sshd, &jump]);
    let cmd = through_jump(&home, &sshd, &jump);
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    session.send(&tool_call(2, "sleep", r#"{"ms":30000}"#));
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"before"}"#)),
        echoed(3, "before")
    );

    jump.cut_sessions();
    assert_eq!(session.recv_string(), lost(2, CUT));
    assert_eq!(
        session.call(&tool_call(4, "echo", r#"{"text":"after"}"#)),
        echoed(4, "after")
    );
    let (status, rest, stderr) = session.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(
        stderr.contains(&format!(
            "{PREFIX}info: reconnected to 127.0.0.1:{} after ",
            sshd.port
        )),
        "{stderr}"
    );
    // Two connections went through the jump host.
    assert_eq!(
        jump.log()
            .matches(&format!("target 127.0.0.1 port {}", sshd.port))
            .count(),
        2,
        "{}",
        jump.log()
    );
}

#[test]
fn a_jump_host_whose_key_is_unknown_is_refused_by_name_before_anything_is_forwarded() {
    let sshd = Sshd::start();
    let jump = jump_host();
    let home = Home::new(&sshd);
    jump.authorize(&public_line(&home.key.to_string_lossy()));
    let cmd = through_jump(&home, &sshd, &jump);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(output.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        last_line(&stderr).starts_with(&format!(
            "{PREFIX}host key verification failed: jump host 127.0.0.1:{} is not in {} (ssh-ed25519 key {});",
            jump.port,
            home.known_hosts.display(),
            fingerprint(&jump.host_key)
        )),
        "{stderr}"
    );
    assert!(!forwarded_to(&jump, sshd.port), "{}", jump.log());
    assert_first_request_refused(&output);
}

/// The processes whose command line holds `marker`.
pub(crate) fn processes_with(marker: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-af", marker])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| !line.contains("pgrep"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_proxy_command_carries_the_session_shows_its_stderr_and_is_gone_at_exit() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let marker = format!("marker-{}", sshd.port);
    home.write_ssh_config(&format!(
        "Host piped\n  HostName 127.0.0.1\n  ProxyCommand {} {} %h %p {marker}\n",
        python(),
        fixture("tcp_pipe.py").display()
    ));
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "piped"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: ProxyCommand: tcp_pipe: connected to 127.0.0.1:{}",
                sshd.port
            )
        ),
        "{stderr}"
    );
    assert_session_works(output);
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[test]
fn a_proxy_command_that_exits_at_once_is_a_connection_failure_with_its_words() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    home.write_ssh_config("Host broken\n  ProxyCommand sh -c 'echo no route to %h >&2; exit 3'\n");
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "broken"]);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(output.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!("{PREFIX}info: ProxyCommand: no route to broken")
        ),
        "{stderr}"
    );
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}ProxyCommand 'sh -c 'echo no route to broken >&2; exit 3'' exited (status 3) before the SSH handshake was done\n"
        )
    );
    assert_first_request_refused(&output);

    home.write_ssh_config("Host broken\n  ProxyCommand /nonexistent/proxy %h\n");
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "broken"]);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(output.status.code(), Some(6));
    assert_eq!(
        last_line(&String::from_utf8_lossy(&output.stderr)),
        format!(
            "{PREFIX}ProxyCommand '/nonexistent/proxy broken' could not be started: No such file or directory (os error 2)\n"
        )
    );
}

#[test]
fn the_configs_identity_file_is_offered_after_the_client_key() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let identity = home.dir.path().join("id_config");
    sshd.authorize(&keygen(&identity, "ed25519", ""));
    home.write_ssh_config(
        "Host 127.0.0.1\n  IdentityFile ~/id_config\n  IdentityFile ~/missing_is_skipped\n",
    );
    // No --client-key: the default one is made, offered and refused first.
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--known-hosts")
        .arg(&home.known_hosts)
        .args(["--log-level", "DEBUG"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "{PREFIX}debug: authenticated with key {} (",
            identity.display()
        )),
        "{stderr}"
    );
    assert_session_works(output);

    // IdentitiesOnly does not drop the files, only the agent.
    home.write_ssh_config(
        "Host 127.0.0.1\n  IdentityFile ~/id_config\n  IdentitiesOnly yes\n  IdentityAgent none\n",
    );
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--known-hosts").arg(&home.known_hosts);
    assert_session_works(run(cmd, session_input().as_bytes()));
}

#[test]
fn identity_agent_names_the_agent_to_ask_and_none_asks_none() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let agent_key = home.dir.path().join("id_agent");
    sshd.authorize(&keygen(&agent_key, "ed25519", ""));
    let socket = home.dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client)");
    let added = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        Command::new("ssh-add")
            .arg(&agent_key)
            .env("SSH_AUTH_SOCK", &socket)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(added, "ssh-add failed");

    home.write_ssh_config(&format!(
        "Host 127.0.0.1\n  IdentityAgent {}\n",
        socket.display()
    ));
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--known-hosts").arg(&home.known_hosts);
    let works = run(cmd, session_input().as_bytes());

    home.write_ssh_config("Host 127.0.0.1\n  IdentityAgent none\n");
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--known-hosts")
        .arg(&home.known_hosts)
        .env("SSH_AUTH_SOCK", &socket);
    let refused = run(cmd, session_input().as_bytes());
    let _ = agent.kill();
    let _ = agent.wait();

    assert_session_works(works);
    assert_eq!(refused.status.code(), Some(9));
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!stderr.contains("ssh-agent"), "{stderr}");
}

#[test]
fn address_family_inet6_finds_no_address_for_an_ipv4_host() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    home.write_ssh_config("Host *\n  AddressFamily inet6\n");
    let output = run(home.client(&sshd), session_input().as_bytes());
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        last_line(&String::from_utf8_lossy(&output.stderr)),
        format!(
            "{PREFIX}cannot resolve host '127.0.0.1': no IPv6 address (AddressFamily inet6); check --host\n"
        )
    );
}

#[test]
fn a_jump_host_that_cannot_reach_the_server_is_a_connection_failure_naming_both() {
    let sshd = Sshd::start();
    let jump = jump_host();
    let home = Home::new(&sshd);
    trust_all(&home, &[&sshd, &jump]);
    let closed = free_port("127.0.0.1");
    let mut cmd = through_jump(&home, &sshd, &jump);
    cmd.args(["--port", &closed.to_string()]);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(output.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        last_line(&stderr).starts_with(&format!(
            "{PREFIX}cannot connect to 127.0.0.1:{closed}: jump host 127.0.0.1:{} did not open a connection to it: ",
            jump.port
        )),
        "{stderr}"
    );
    assert_first_request_refused(&output);
}

#[test]
fn a_jump_host_that_refuses_the_connection_is_named_with_the_line_to_check() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let closed = free_port("127.0.0.1");
    home.write_ssh_config(&format!(
        "Host target\n  HostName 127.0.0.1\n  ProxyJump 127.0.0.1:{closed}\n"
    ));
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "target"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}connection refused by jump host 127.0.0.1:{closed}; \
             check the ProxyJump line of your SSH config and that its SSH server is running\n"
        )
    );
    assert_first_request_refused(&output);
}
