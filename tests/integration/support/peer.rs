//! The real peer server, `m2m-mcp-server-ssh-server` from PyPI, installed
//! by `scripts/setup.sh` into `.venv-peer`, started on free loopback ports
//! with a scratch HOME and a host key of the test's choosing, serving the
//! fixture MCP server. Stopped, with the MCP servers of its sessions (each
//! runs in its own process group), when the guard drops.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;

use tempfile::TempDir;

use super::{fixture, free_port, keygen, python, wait_ready};

/// Where `scripts/setup.sh` installs the peer server.
fn peer_binary() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-peer/bin/m2m-mcp-server-ssh-server");
    assert!(
        path.exists(),
        "the peer server is not installed at {}; run scripts/setup.sh",
        path.display()
    );
    path
}

/// A running peer server.
pub struct Peer {
    pub port: u16,
    /// The key server's port, when it runs one.
    pub key_port: Option<u16>,
    /// "ssh-ed25519 BASE64" of its host key.
    pub host_key: String,
    dir: TempDir,
    child: Child,
    log: PathBuf,
}

/// How to start a peer.
pub struct PeerOptions {
    /// Run its key server too.
    pub key_server: bool,
    /// Listen on this port (to restart a peer in place); a free one if None.
    pub port: Option<u16>,
    pub key_port: Option<u16>,
}

impl Peer {
    /// With its key server.
    pub fn with_key_server() -> Peer {
        Peer::start(PeerOptions {
            key_server: true,
            port: None,
            key_port: None,
        })
    }

    /// Without a key server: known_hosts mode. This server then lets any
    /// client in (it accepts the "none" authentication method).
    pub fn without_key_server() -> Peer {
        Peer::start(PeerOptions {
            key_server: false,
            port: None,
            key_port: None,
        })
    }

    /// A new host key every time, so a restart in place looks like a reinstall.
    pub fn start(options: PeerOptions) -> Peer {
        let binary = peer_binary();
        let dir = tempfile::Builder::new().prefix("peer-").tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        // No dot in the name: the peer derives the .pub path with with_suffix.
        let key_path = dir.path().join("host_key");
        let host_key = keygen(&key_path, "ed25519", "");
        // It must exist and hold a valid line, though the server never
        // consults it: without its key server it lets every client in.
        let authorized = dir.path().join("authorized_clients");
        let unused = keygen(&dir.path().join("unused_client"), "ed25519", "");
        fs::write(&authorized, unused + "\n").unwrap();
        let config = dir.path().join("servers_config.json");
        fs::write(
            &config,
            format!(
                r#"{{"mcpServers": {{"fixture": {{"command": "{}", "args": ["{}"]}}}}}}"#,
                python(),
                fixture("mcp_server.py").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("peer.log");
        for _attempt in 0..5 {
            let port = options.port.unwrap_or_else(|| free_port("127.0.0.1"));
            let key_port = options
                .key_server
                .then(|| options.key_port.unwrap_or_else(|| free_port("127.0.0.1")));
            let mut cmd = Command::new(&binary);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .arg("--servers-config")
                .arg(&config)
                .arg("--server-key")
                .arg(&key_path)
                .arg("--authorized-clients")
                .arg(&authorized)
                .env("HOME", &home)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap());
            if let Some(key_port) = key_port {
                cmd.args([
                    "--run-key-server",
                    "--key-server-host",
                    "127.0.0.1",
                    "--key-server-port",
                    &key_port.to_string(),
                ]);
            }
            let mut child = cmd.spawn().unwrap();
            if wait_ready(&mut child, "127.0.0.1", port) {
                return Peer {
                    port,
                    key_port,
                    host_key,
                    dir,
                    child,
                    log,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            if options.port.is_some() {
                break;
            }
        }
        panic!(
            "the peer server did not start; its log:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        )
    }

    /// The known_hosts line for it.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key)
    }

    /// A file in its scratch directory, for the test's own files.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The sessions' MCP servers run in their own process groups: find
        // them before their parent goes.
        let children = Command::new("pgrep")
            .args(["-P", &self.child.id().to_string()])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        if super::wait_with_timeout(&mut self.child, std::time::Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in children.split_whitespace() {
            // Most have exited with their session already.
            let _ = Command::new("kill")
                .args(["-KILL", pid])
                .stderr(Stdio::null())
                .status();
        }
        if thread::panicking() {
            eprintln!(
                "--- peer server log ---\n{}\n--- end of peer server log ---",
                self.log()
            );
        }
    }
}
