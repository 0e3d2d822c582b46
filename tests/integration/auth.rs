//! Client authentication: key files, passphrases, the agent, the default key.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn missing_explicit_key_is_an_error_not_a_new_key() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(10), "stderr: {stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}client key {} does not exist; pass --client-key with an existing private key \
             (a missing key is generated only at the default path, or with --use-key-server)\n",
            home.key.display()
        ),
        "{stderr}"
    );
    assert!(!home.key.exists());
    assert_first_request_refused(&output);
}

#[test]
fn key_not_authorized_on_the_server_fails_and_prints_the_public_key() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let public = keygen(&home.key, "ed25519", "");
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(9), "stderr: {stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}authentication failed for user '{user}' at 127.0.0.1:{port}; tried key {key} ({fingerprint}); \
             the server's authorized_keys for '{user}' must hold this public key: {public}\n",
            user = sshd.user,
            port = sshd.port,
            key = home.key.display(),
            fingerprint = fingerprint(&public),
        ),
        "{stderr}"
    );
    assert_first_request_refused(&output);
}

#[test]
fn encrypted_key_without_passphrase_is_its_own_error() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    sshd.authorize(&keygen(&home.key, "ed25519", "s3cret phrase"));
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(10), "stderr: {stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}client key {} is encrypted; give its passphrase in MCP_SSH_PASSPHRASE (or --passphrase)\n",
            home.key.display()
        ),
        "{stderr}"
    );
}

#[test]
fn wrong_passphrase_is_its_own_error() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    sshd.authorize(&keygen(&home.key, "ed25519", "s3cret phrase"));
    let mut cmd = home.client(&sshd);
    cmd.env("MCP_SSH_PASSPHRASE", "not it");
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(10), "stderr: {stderr}");
    assert_eq!(
        last_line(&stderr),
        format!(
            "{PREFIX}wrong passphrase for client key {}; check MCP_SSH_PASSPHRASE or --passphrase\n",
            home.key.display()
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("not it"));
}

#[test]
fn correct_passphrase_from_the_environment_logs_in_without_revealing_it() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    sshd.authorize(&keygen(&home.key, "ecdsa", "s3cret phrase"));
    let mut cmd = home.client(&sshd);
    cmd.env("MCP_SSH_PASSPHRASE", "s3cret phrase")
        .args(["--log-level", "debug"]);
    let output = run(cmd, session_input().as_bytes());
    assert!(!String::from_utf8_lossy(&output.stderr).contains("s3cret"));
    assert_session_works(output);
}

#[test]
fn correct_passphrase_by_flag_logs_in_and_warns_about_the_process_list() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    sshd.authorize(&keygen(&home.key, "rsa", "s3cret phrase"));
    let mut cmd = home.client(&sshd);
    cmd.args(["--passphrase", "s3cret phrase", "--log-level", "DEBUG"]);
    let output = run(cmd, session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let warning = format!(
        "{PREFIX}warning: --passphrase is visible to other local users in the process list; \
         set MCP_SSH_PASSPHRASE instead"
    );
    assert_eq!(
        stderr.lines().filter(|line| *line == warning).count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("visible to other local users in the process list")
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"));
    assert_session_works(output);
}

#[test]
fn agent_keys_are_tried_after_the_key_file() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    // The key file is not authorized; the agent's key is.
    keygen(&home.key, "ed25519", "");
    let agent_key = home.dir.path().join("agent_key");
    sshd.authorize(&keygen(&agent_key, "ed25519", ""));
    let agent = Agent::start(&home);
    let added = Command::new("ssh-add")
        .arg(&agent_key)
        .env("SSH_AUTH_SOCK", &agent.socket)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let mut cmd = home.client(&sshd);
    cmd.env("SSH_AUTH_SOCK", &agent.socket);
    assert_session_works(run(cmd, session_input().as_bytes()));
}

#[test]
fn default_key_is_generated_0600_accepted_by_ssh_keygen_and_logs_in_once_authorized() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let mut cmd = home.bare_client(&sshd);
    cmd.arg("--known-hosts").arg(&home.known_hosts);
    let key = home.dir.path().join(".ssh/m2m_mcp_server_ssh_client");

    // First run: the key is made, but the server does not know it yet.
    let first = run(cmd_clone(&cmd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(9), "stderr: {stderr}");
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let derived = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&key)
        .output()
        .unwrap();
    assert!(derived.status.success());
    assert_eq!(
        String::from_utf8(derived.stdout).unwrap().trim(),
        public.trim()
    );
    assert_eq!(
        public.split_whitespace().count(),
        2,
        "no comment in {public}"
    );
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}info: created client key {}; add its public key to the server's authorized_keys: {}",
                key.display(),
                public.trim()
            )
        ),
        "{stderr}"
    );

    // Authorized, the same key logs in and is not regenerated.
    sshd.authorize(public.trim());
    assert_session_works(run(cmd, session_input().as_bytes()));
    assert_eq!(
        fs::read_to_string(key.with_extension("pub")).unwrap(),
        public
    );
}

fn cmd_clone(cmd: &Command) -> Command {
    let mut clone = Command::new(cmd.get_program());
    clone.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => clone.env(key, value),
            None => clone.env_remove(key),
        };
    }
    clone
}

/// A real ssh-agent on a socket of its own, killed on drop.
struct Agent {
    socket: std::path::PathBuf,
    child: std::process::Child,
}

impl Agent {
    fn start(home: &Home) -> Agent {
        let socket = home.dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + STEP_TIMEOUT;
        while !socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "ssh-agent did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Agent { socket, child }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_key_readable_by_others_is_used_with_a_warning() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::set_permissions(&home.key, fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(home.client(&sshd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        has_line(
            &stderr,
            &format!(
                "{PREFIX}warning: client key {} is accessible by other users (mode 644); run: chmod 600 {}",
                home.key.display(),
                home.key.display()
            )
        ),
        "{stderr}"
    );
    assert_session_works(output);
}
