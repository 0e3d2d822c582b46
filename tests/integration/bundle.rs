//! The MCP Bundle (`scripts/build-static.sh mcpb`) as Claude Desktop
//! installs it: unpacked (on macOS with every file at mode 0600, as Claude
//! Desktop leaves them), its manifest turned into a command line by the mcpb
//! package's own substitution (`tests/npm/mcpb_host.mjs`: `${__dirname}`,
//! `${user_config.*}` with the defaults, an optional field left as its
//! literal), then that command started against the loopback sshd.
//! `#[ignore]`d in a plain `cargo test` (they need the bundle);
//! `scripts/test-mcpb.sh` builds it and runs these.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;
use crate::windows::{windows_path, wine_running};

const BIN: &str = "m2m-mcp-server-ssh-client";

fn npm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/npm")
}

/// Unpacks the bundle into `into`; every file gets `mode`, or the mode the
/// zip recorded when `None`. Returns each entry's name and recorded mode.
fn unpack(into: &Path, mode: Option<u32>) -> BTreeMap<String, u32> {
    let bundle = static_dir().join(format!("{BIN}.mcpb"));
    assert!(
        bundle.exists(),
        "{}: missing; build it with `bash scripts/build-static.sh mcpb`",
        bundle.display()
    );
    let script = r#"
import json, os, sys, zipfile
bundle, into, mode = sys.argv[1], sys.argv[2], sys.argv[3]
entries = {}
with zipfile.ZipFile(bundle) as z:
    for info in z.infolist():
        recorded = (info.external_attr >> 16) & 0o7777
        entries[info.filename] = recorded
        path = z.extract(info, into)
        if not info.is_dir():
            os.chmod(path, recorded if mode == "recorded" else int(mode, 8))
print(json.dumps(entries))
"#;
    let mut cmd = Command::new(python());
    cmd.args(["-c", script])
        .arg(&bundle)
        .arg(into)
        .arg(mode.map_or("recorded".into(), |m| format!("{m:o}")));
    serde_json::from_slice(&stdout_of(cmd)).unwrap()
}

/// What `cmd` prints, once it has succeeded.
fn stdout_of(mut cmd: Command) -> Vec<u8> {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// What the host would start: command, arguments and environment, from the
/// manifest in `bundle`, with `dirname` as `${__dirname}`.
struct Launch {
    command: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn host_reads(bundle: &Path, dirname: &str, platform: &str, user_config: Value) -> Launch {
    let separator = if platform == "win32" { "\\" } else { "/" };
    let mut cmd = Command::new("node");
    cmd.arg(npm_dir().join("mcpb_host.mjs"))
        .arg(bundle)
        .args([dirname, platform, separator, &user_config.to_string()])
        .current_dir(npm_dir());
    let config: Value = serde_json::from_slice(&stdout_of(cmd)).unwrap();
    let strings = |v: &Value| v.as_str().unwrap().to_string();
    Launch {
        command: strings(&config["command"]),
        args: config["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect(),
        env: config["env"]
            .as_object()
            .map(|env| env.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
            .unwrap_or_default(),
    }
}

/// The fields a user fills in for the test sshd.
fn user_config(sshd: &Sshd, home: &Home) -> Value {
    json!({
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.user,
        "client_key": home.key,
        "known_hosts": home.known_hosts,
    })
}

impl Launch {
    /// The command as the host starts it: its environment (the host's
    /// reduced one plus the manifest's `env`), nothing inherited that could
    /// change the outcome.
    fn command(&self, home: &Home) -> Command {
        let mut cmd = Command::new(&self.command);
        self.apply(&mut cmd, home);
        cmd
    }

    fn apply(&self, cmd: &mut Command, home: &Home) {
        cmd.args(&self.args)
            .env("HOME", home.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MCP_SSH_PASSPHRASE");
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[ignore = "needs the bundle; run by scripts/test-mcpb.sh"]
fn the_bundle_holds_a_valid_manifest_and_each_executable_with_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let entries = unpack(dir.path(), None);
    let expected: BTreeMap<String, u32> = [
        ("icon.png", 0o644),
        ("manifest.json", 0o644),
        ("server/launch.sh", 0o755),
        ("server/darwin-arm64/m2m-mcp-server-ssh-client", 0o755),
        ("server/darwin-x64/m2m-mcp-server-ssh-client", 0o755),
        ("server/linux-arm64/m2m-mcp-server-ssh-client", 0o755),
        ("server/linux-x64/m2m-mcp-server-ssh-client", 0o755),
        ("server/win32-x64/m2m-mcp-server-ssh-client.exe", 0o755),
    ]
    .into_iter()
    .map(|(name, mode)| (name.to_string(), mode))
    .collect();
    assert_eq!(entries, expected);
    for (entry, triple) in [
        (
            "darwin-arm64/m2m-mcp-server-ssh-client",
            "aarch64-apple-darwin",
        ),
        (
            "darwin-x64/m2m-mcp-server-ssh-client",
            "x86_64-apple-darwin",
        ),
        (
            "linux-arm64/m2m-mcp-server-ssh-client",
            "aarch64-unknown-linux-musl",
        ),
        (
            "linux-x64/m2m-mcp-server-ssh-client",
            "x86_64-unknown-linux-musl",
        ),
        (
            "win32-x64/m2m-mcp-server-ssh-client.exe",
            "x86_64-pc-windows-gnu.exe",
        ),
    ] {
        let carried = fs::read(dir.path().join("server").join(entry)).unwrap();
        let built = fs::read(static_dir().join(format!("{BIN}-{triple}"))).unwrap();
        assert!(carried == built, "{entry} is not the built {triple}");
    }

    let validate = Command::new(npm_dir().join("node_modules/.bin/mcpb"))
        .arg("validate")
        .arg(dir.path().join("manifest.json"))
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["server"]["type"], "binary");
    assert_eq!(manifest["tools_generated"], true);
    assert_eq!(
        manifest["compatibility"]["platforms"],
        json!(["darwin", "win32", "linux"])
    );
    // Windows is given the same flags as the launcher, so they cannot drift.
    let config = &manifest["server"]["mcp_config"];
    let args = config["args"].as_array().unwrap();
    assert_eq!(args[0], "${__dirname}/server/launch.sh");
    assert_eq!(
        config["platform_overrides"]["win32"]["args"]
            .as_array()
            .unwrap()[..],
        args[1..]
    );
    // Defaults are our flags' defaults.
    let fields = &manifest["user_config"];
    assert_eq!(fields["port"]["default"], 8022);
    assert_eq!(fields["username"]["default"], "mcp");
    assert_eq!(fields["use_key_server"]["default"], false);
}

#[test]
#[ignore = "needs the bundle; run by scripts/test-mcpb.sh"]
fn the_linux_entry_as_the_host_starts_it_serves_a_session() {
    let sshd = Sshd::start();
    let home = Home::empty();
    // An encrypted key, its passphrase in the field the host keeps secret,
    // and more options through the free field.
    sshd.authorize(&keygen(&home.key, "ed25519", "open sesame"));
    fs::write(&home.known_hosts, sshd.known_hosts_line() + "\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    unpack(dir.path(), None);
    let mut fields = user_config(&sshd, &home);
    fields["passphrase"] = json!("open sesame");
    fields["extra_args"] = json!(["--log-level", "DEBUG"]);
    let dirname = dir.path().to_str().unwrap();
    let launch = host_reads(dir.path(), dirname, "linux", fields);
    assert_eq!(launch.command, "/bin/sh");
    assert_eq!(launch.args[0], format!("{dirname}/server/launch.sh"));
    let output = run(launch.command(&home), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains(&format!("{PREFIX}debug: ")), "{stderr}");
    assert_session_works(output);
}

#[test]
#[ignore = "needs the bundle; run by scripts/test-mcpb.sh"]
fn the_macos_entry_picks_the_file_for_the_cpu_and_gives_back_its_executable_bit() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    for (cpu, chosen, other) in [
        ("arm64", "darwin-arm64", "darwin-x64"),
        ("x86_64", "darwin-x64", "darwin-arm64"),
    ] {
        // Unpacked as Claude Desktop on macOS unpacks: every file 0600.
        let dir = tempfile::tempdir().unwrap();
        unpack(dir.path(), Some(0o600));
        // The Linux executable stands in for the Mach-O one, and `uname`
        // says what a Mac with that CPU says.
        let stand_in = dir.path().join("server").join(chosen).join(BIN);
        fs::copy(
            static_dir().join(format!("{BIN}-x86_64-unknown-linux-musl")),
            &stand_in,
        )
        .unwrap();
        fs::set_permissions(&stand_in, fs::Permissions::from_mode(0o600)).unwrap();
        let fake_bin = fake_uname(dir.path(), "Darwin", cpu);

        // Optional fields left empty: the host leaves their placeholders.
        let mut fields = user_config(&sshd, &home);
        fields.as_object_mut().unwrap().remove("client_key");
        let home_key = home.dir.path().join(".ssh/m2m_mcp_server_ssh_client");
        fs::create_dir_all(home_key.parent().unwrap()).unwrap();
        fs::copy(&home.key, &home_key).unwrap();
        fs::set_permissions(&home_key, fs::Permissions::from_mode(0o600)).unwrap();
        let launch = host_reads(dir.path(), dir.path().to_str().unwrap(), "darwin", fields);
        assert_eq!(launch.command, "/bin/sh");
        assert!(
            launch.args.iter().any(|a| a == "${user_config.client_key}"),
            "{:?}",
            launch.args
        );
        let mut cmd = launch.command(&home);
        cmd.env("PATH", path_with(&fake_bin));
        let output = run(cmd, session_input().as_bytes());
        assert_session_works(output);
        assert_eq!(mode(&stand_in), 0o700, "{cpu}: the bit is not back");
        let untouched = dir.path().join("server").join(other).join(BIN);
        assert_eq!(mode(&untouched), 0o600, "{cpu}: the other file was touched");
    }
}

#[test]
#[ignore = "needs the bundle; run by scripts/test-mcpb.sh"]
fn the_launcher_on_a_cpu_the_bundle_lacks_says_so_on_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    unpack(dir.path(), Some(0o600));
    let fake_bin = fake_uname(dir.path(), "Linux", "riscv64");
    let output = Command::new("/bin/sh")
        .arg(dir.path().join("server/launch.sh"))
        .args(["--host", "127.0.0.1"])
        .env("PATH", path_with(&fake_bin))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(126));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "m2m-mcp-server-ssh-client: this bundle has no executable for Linux on riscv64\n"
    );
}

#[test]
#[ignore = "needs the bundle, the Windows executable and Wine; run by scripts/test-mcpb.sh"]
fn the_windows_entry_as_the_host_starts_it_serves_a_session_under_wine() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let dir = tempfile::tempdir().unwrap();
    unpack(dir.path(), None);
    let mut fields = user_config(&sshd, &home);
    fields["client_key"] = json!(windows_path(&home.key));
    fields["known_hosts"] = json!(windows_path(&home.known_hosts));
    let launch = host_reads(dir.path(), &windows_path(dir.path()), "win32", fields);
    let exe = dir
        .path()
        .join("server/win32-x64")
        .join(format!("{BIN}.exe"));
    assert_eq!(launch.command, windows_path(&exe));
    let mut cmd = wine_running(&exe);
    launch.apply(&mut cmd, &home);
    assert_session_works(run(cmd, session_input().as_bytes()));
}

/// A folder in `dir` holding a `uname` that answers `-s` with `system` and
/// `-m` with `machine`.
fn fake_uname(dir: &Path, system: &str, machine: &str) -> PathBuf {
    let bin = dir.join("fake-bin");
    fs::create_dir_all(&bin).unwrap();
    let uname = bin.join("uname");
    fs::write(
        &uname,
        format!("#!/bin/sh\ncase \"$1\" in -s) echo {system} ;; -m) echo {machine} ;; *) exit 1 ;; esac\n"),
    )
    .unwrap();
    fs::set_permissions(&uname, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `first` ahead of the system's own folders.
fn path_with(first: &Path) -> String {
    format!("{}:/usr/bin:/bin", first.display())
}
