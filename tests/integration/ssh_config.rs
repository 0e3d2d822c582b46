//! The user's SSH config, read as OpenSSH reads it: aliases, Match,
//! Include, what the session takes from it, and configs that make no sense.

use std::fs;
use std::time::{Duration, Instant};

use crate::support::proxy::{Network, Proxy, through};
use crate::support::*;

#[test]
fn a_host_alias_connects_where_its_hostname_says_and_unknown_keywords_are_ignored() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    home.write_ssh_config(
        "Host mcpalias\n  HostName 127.0.0.1\n  GSSAPIAuthentication yes\n  NoSuchKeyword at all\n",
    );
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "mcpalias", "--log-level", "DEBUG"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // At DEBUG, where each value came from.
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}debug: HostName 127.0.0.1 ({} line 2)",
                home.dir.path().join(".ssh/config").display()
            )
        ),
        "{stderr}"
    );
    assert_session_works(output);
}

#[test]
fn match_host_in_an_included_file_names_the_known_hosts_file() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::write(
        home.dir.path().join("kh_custom"),
        sshd.known_hosts_line() + "\n",
    )
    .unwrap();
    home.write_ssh_config("Include extra.conf\n");
    fs::write(
        home.dir.path().join(".ssh/extra.conf"),
        "Match host 127.0.0.1\n  UserKnownHostsFile ~/kh_custom\n",
    )
    .unwrap();
    // No --known-hosts: the config's file decides, and ~/.ssh/known_hosts does not exist.
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--client-key").arg(&home.key);
    let output = run(cmd, session_input().as_bytes());
    assert_session_works(output);
}

#[test]
fn with_command_the_configs_port_and_user_apply_when_no_flag_gives_them() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    home.write_ssh_config(&format!(
        "Host plain\n  HostName 127.0.0.1\n  Port {}\n  User {}\n",
        sshd.port, sshd.user
    ));
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["--host", "plain", "--command", &mcp_server_command()])
        .arg("--client-key")
        .arg(&home.key)
        .arg("--known-hosts")
        .arg(&home.known_hosts)
        .env("HOME", home.dir.path())
        .env_remove("SSH_AUTH_SOCK");
    let output = run(cmd, session_input().as_bytes());
    assert_session_works(output);
}

#[test]
fn strict_host_key_checking_no_connects_to_an_unknown_host_and_says_where_it_was_set() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let config = home.write_ssh_config("Host *\n  StrictHostKeyChecking no\n");
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--client-key").arg(&home.key);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}warning: host key checking is disabled (StrictHostKeyChecking no, {} line 2): \
                 anyone on the network path can pose as 127.0.0.1:{}",
                config.display(),
                sshd.port
            )
        ),
        "{stderr}"
    );
    assert_session_works(output);
}

#[test]
fn server_alive_interval_from_the_config_detects_a_blackhole() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    home.write_ssh_config("Host *\n  ServerAliveInterval 1\n  ServerAliveCountMax 3\n");
    let proxy = Proxy::start(sshd.port);
    let mut session = Session::start(through(&proxy, &sshd, &home));
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(&tool_call(2, "sleep", r#"{"ms":30000}"#));
    assert_eq!(
        session.call(&tool_call(3, "echo", r#"{"text":"ok"}"#)),
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"ok"}]}}"#
    );
    proxy.set(Network::Blackhole);
    let dark = Instant::now();
    assert_eq!(
        session.recv_string(),
        lost(2, "no word from the server in 3 s (keepalive every 1 s)")
    );
    eprintln!("blackhole detected in {:?}", dark.elapsed());
    proxy.set(Network::Pass);
    let (status, _, stderr) = session.finish(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn a_config_that_makes_no_sense_is_a_usage_error_naming_its_file_and_line() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    for (text, line, detail) in [
        ("Host a\n  User \"unclosed\n", 2, "a quote is not closed"),
        (
            "Include config\n",
            1,
            "Include nests deeper than 16 files (does a file include itself?)",
        ),
        (
            "Host *\n  Port eighty\n",
            2,
            "Port 'eighty' is not a port number",
        ),
        ("Match\n", 1, "Match needs at least one criterion"),
        ("Host a\nUser\n", 2, "'user' has no value"),
    ] {
        let config = home.write_ssh_config(text);
        let output = run(home.client(&sshd), session_input().as_bytes());
        assert_eq!(output.status.code(), Some(2), "{text:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "{PREFIX}SSH config {} line {line}: {detail}\n",
                config.display()
            ),
            "{text:?}"
        );
    }
}

#[test]
fn ssh_config_names_the_one_file_read_and_none_reads_none() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    // A broken default config, never read here.
    home.write_ssh_config("Host \"broken\n");
    let other = home.dir.path().join("other_config");
    fs::write(&other, "Host mcpalias\n  HostName 127.0.0.1\n").unwrap();
    let mut cmd = home.client(&sshd);
    cmd.args(["--host", "mcpalias", "-F"]).arg(&other);
    assert_session_works(run(cmd, session_input().as_bytes()));

    let mut cmd = home.client(&sshd);
    cmd.args(["--ssh-config", "none"]);
    assert_session_works(run(cmd, session_input().as_bytes()));

    let missing = home.dir.path().join("missing");
    let mut cmd = home.client(&sshd);
    cmd.arg("--ssh-config").arg(&missing);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "{PREFIX}SSH config {}: cannot read it: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
}

#[test]
fn the_mcp_subsystem_serves_a_session_and_excludes_command() {
    let sshd = Sshd::start_with(SshdOptions {
        force_command: None,
        extra: vec![format!("Subsystem mcp {}", mcp_server_command())],
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let mut cmd = home.client(&sshd);
    cmd.args(["--subsystem", "mcp"]);
    assert_session_works(run(cmd, session_input().as_bytes()));

    let mut cmd = home.client(&sshd);
    cmd.args(["--subsystem", "nosuch"]);
    let output = run(cmd, session_input().as_bytes());
    assert_eq!(output.status.code(), Some(11));
    assert_first_request_refused(&output);

    let output = std::process::Command::new(bin())
        .args(["--subsystem", "mcp", "--command", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "{PREFIX}--command and --subsystem cannot be used together: each names what the server runs\n"
        )
    );
}

#[test]
fn accept_new_from_the_config_adds_the_host_hashed_where_ssh_keygen_finds_it() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let config =
        home.write_ssh_config("Host *\n  StrictHostKeyChecking accept-new\n  HashKnownHosts yes\n");
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--client-key").arg(&home.key);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let known_hosts = home.dir.path().join(".ssh/known_hosts");
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: added the host key of [127.0.0.1]:{} (ssh-ed25519 {}) to {} \
                 (StrictHostKeyChecking accept-new, {} line 2)",
                sshd.port,
                fingerprint(&sshd.host_key),
                known_hosts.display(),
                config.display()
            )
        ),
        "{stderr}"
    );
    assert_session_works(output);
    let text = fs::read_to_string(&known_hosts).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("127.0.0.1"),
        "{text}"
    );
    // OpenSSH finds the hashed name.
    let found = std::process::Command::new("ssh-keygen")
        .arg("-F")
        .arg(format!("[127.0.0.1]:{}", sshd.port))
        .arg("-f")
        .arg(&known_hosts)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "ssh-keygen -F did not find the host"
    );
}

#[test]
fn algorithm_lists_in_openssh_forms_choose_what_is_negotiated() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    home.write_ssh_config("Host *\n  Ciphers aes256-ctr,no-such-cipher\n  MACs ^hmac-sha2-512\n  KexAlgorithms -curve25519*\n",
    );
    let mut cmd = home.client(&sshd);
    cmd.args(["--log-level", "DEBUG"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let negotiated = stderr
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{PREFIX}debug: negotiated kex ")))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        negotiated.ends_with(", cipher aes256-ctr, mac hmac-sha2-512"),
        "{negotiated}"
    );
    assert!(!negotiated.starts_with("curve25519"), "{negotiated}");
    assert_session_works(output);

    let config = home.write_ssh_config("Host *\n  Ciphers no-such-cipher\n");
    let output = run(home.client(&sshd), session_input().as_bytes());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        last_line(&stderr).starts_with(&format!(
            "{PREFIX}{} line 2: Ciphers no-such-cipher: leaves nothing this client supports (it supports "
        , config.display())),
        "{stderr}"
    );
    assert_first_request_refused(&output);
}
