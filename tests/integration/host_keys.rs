//! Host key verification against known_hosts, as OpenSSH does it.

use std::fs;
use std::process::Command;

use crate::support::*;

/// An sshd whose MCP server records what reaches it, so a test can show
/// that nothing of the host's input got through.
fn recording_sshd() -> (Sshd, tempfile::TempDir, std::path::PathBuf) {
    let marker_dir = tempfile::tempdir().unwrap();
    let received = marker_dir.path().join("received");
    let sshd = Sshd::start_with(SshdOptions {
        force_command: Some(format!(
            "tee {} | {}",
            received.display(),
            mcp_server_command()
        )),
        ..Default::default()
    });
    (sshd, marker_dir, received)
}

#[test]
fn unknown_host_is_refused_with_its_fingerprint_and_the_line_to_add_and_no_data_sent() {
    let (sshd, _marker_dir, received) = recording_sshd();
    let home = Home::new(&sshd);
    fs::write(&home.known_hosts, "").unwrap();
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "stderr: {stderr}");
    assert_first_request_refused(&output);
    let fingerprint = fingerprint(&sshd.host_key);
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}host key verification failed: 127.0.0.1:{} is not in {} (ssh-ed25519 key {fingerprint}); \
             if that fingerprint is the server's, append this line to the file: {}\n",
            sshd.port,
            home.known_hosts.display(),
            sshd.known_hosts_line()
        ),
        "{stderr}"
    );
    assert!(!received.exists(), "the remote received input");
    assert!(!sshd.log().contains("Accepted publickey"));
}

#[test]
fn changed_host_key_is_refused_naming_the_file_and_line() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let other_public = home.stranger_key("other_host_key");
    fs::write(
        &home.known_hosts,
        format!("# comment\n[127.0.0.1]:{} {other_public}\n", sshd.port),
    )
    .unwrap();
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(8), "stderr: {stderr}");
    assert_first_request_refused(&output);
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}host key verification failed: the host key for 127.0.0.1:{} (ssh-ed25519 {}) \
             does not match {} line 2; someone may be intercepting the connection; \
             if the server was reinstalled, remove that line\n",
            sshd.port,
            fingerprint(&sshd.host_key),
            home.known_hosts.display()
        ),
        "stderr: {stderr}"
    );
}

#[test]
fn hashed_known_hosts_entry_is_trusted() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let status = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&home.known_hosts)
        .output()
        .unwrap();
    assert!(status.status.success());
    let text = fs::read_to_string(&home.known_hosts).unwrap();
    assert!(text.starts_with("|1|"), "{text}");
    let output = run(home.client(&sshd), session_input().as_bytes());
    assert_session_works(output);
}

#[test]
fn bracketed_port_entry_is_trusted_among_other_hosts_lines() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let other_public = home.stranger_key("other");
    fs::write(
        &home.known_hosts,
        format!(
            "example.org {other_public}\n[127.0.0.1]:1 {other_public}\n{}\n",
            sshd.known_hosts_line()
        ),
    )
    .unwrap();
    let output = run(home.client(&sshd), session_input().as_bytes());
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn plain_host_entry_for_another_ports_key_is_not_taken_for_a_changed_key() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let other_public = home.stranger_key("port22_key");
    // The port-22 server's key under the plain name, and ours under [host]:port.
    fs::write(
        &home.known_hosts,
        format!("127.0.0.1 {other_public}\n{}\n", sshd.known_hosts_line()),
    )
    .unwrap();
    let output = run(home.client(&sshd), session_input().as_bytes());
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // With only the plain entry, the host is unknown (not changed), and the message says why.
    fs::write(&home.known_hosts, format!("127.0.0.1 {other_public}\n")).unwrap();
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "stderr: {stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}host key verification failed: 127.0.0.1:{} is not in {} (ssh-ed25519 key {}); \
             if that fingerprint is the server's, append this line to the file: {} \
             (line 1 names the host without a port, which applies to port 22 only, as in OpenSSH)\n",
            sshd.port,
            home.known_hosts.display(),
            fingerprint(&sshd.host_key),
            sshd.known_hosts_line()
        ),
        "{stderr}"
    );
}

#[test]
fn disabled_host_key_checking_connects_and_warns() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--client-key")
        .arg(&home.key)
        .arg("--disable-host-key-checking");
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(&stderr, &disabled_checking_warning(sshd.port)),
        "{stderr}"
    );
    assert_session_works(output);
}

#[test]
fn accept_new_adds_an_unknown_host_once_and_still_refuses_a_changed_key() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let known_hosts = home.dir.path().join("accepting_known_hosts");
    let client = || {
        let mut cmd = home.bare_client(&sshd);
        cmd.arg("--client-key")
            .arg(&home.key)
            .arg("--known-hosts")
            .arg(&known_hosts)
            .arg("--accept-new")
            // The system's ssh_config may ask for hashed names (Debian's does).
            .args(["--ssh-config", "none"]);
        cmd
    };
    let output = run(client(), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: added the host key of [127.0.0.1]:{} (ssh-ed25519 {}) to {} (--accept-new)",
                sshd.port,
                fingerprint(&sshd.host_key),
                known_hosts.display()
            )
        ),
        "{stderr}"
    );
    assert_session_works(output);
    let line = sshd.known_hosts_line() + "\n";
    assert_eq!(fs::read_to_string(&known_hosts).unwrap(), line);

    // Known now: used, not added again.
    let output = run(client(), session_input().as_bytes());
    assert!(!String::from_utf8_lossy(&output.stderr).contains("added the host key"));
    assert_session_works(output);
    assert_eq!(fs::read_to_string(&known_hosts).unwrap(), line);

    // Known by another key: refused as changed.
    let other = home.stranger_key("impostor");
    fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port,
            other
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )
    .unwrap();
    let output = run(client(), session_input().as_bytes());
    assert_eq!(
        output.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_first_request_refused(&output);
}
