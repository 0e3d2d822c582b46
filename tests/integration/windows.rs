//! The Windows executable (`scripts/build-static.sh windows`) under Wine,
//! against the same loopback sshd as every other test: the file itself
//! (its imports), then sessions as a Windows host would run them.
//!
//! Wine 8.0 (Debian 12) lacks `bcryptprimitives.dll!ProcessPrng`, which
//! Rust's std imports and every Windows 10 and 11 has: a stand-in built
//! from `tests/fixtures/windows/bcryptprimitives.c` sits beside the
//! executable under test, and nowhere else. These tests are `#[ignore]`d in
//! a plain `cargo test` (they need the executable, mingw-w64 and Wine);
//! `scripts/test-windows.sh` runs them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::proxy::{CUT, Network, Proxy, through};
use crate::support::*;

const TRIPLE: &str = "x86_64-pc-windows-gnu";
const MINGW: &str = "x86_64-w64-mingw32";

/// DLLs that every Windows 10 and 11 has; the executable may import no other.
const SYSTEM_DLLS: &[&str] = &[
    "advapi32.dll",
    "api-ms-win-core-synch-l1-2-0.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "crypt32.dll",
    "kernel32.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "user32.dll",
    "ws2_32.dll",
];

/// The executable as built, beside nothing.
fn built() -> PathBuf {
    let path = target_dir()
        .join("static")
        .join(format!("m2m-mcp-server-ssh-client-{TRIPLE}.exe"));
    assert!(
        path.exists(),
        "{}: missing; build it with `bash scripts/build-static.sh windows`",
        path.display()
    );
    path
}

/// The Wine prefix and a folder with the executable and the test-only
/// ProcessPrng stand-in, made once per test run.
struct Wine {
    prefix: PathBuf,
    exe: PathBuf,
}

fn wine() -> &'static Wine {
    static WINE: OnceLock<Wine> = OnceLock::new();
    WINE.get_or_init(|| {
        let root = target_dir().join("wine");
        let prefix = root.join("prefix");
        let bin = root.join("bin");
        fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("m2m-mcp-server-ssh-client.exe");
        fs::copy(built(), &exe).unwrap();
        let shim = fixture("windows/bcryptprimitives.c");
        let status = Command::new(format!("{MINGW}-gcc"))
            .args(["-shared", "-O2", "-o"])
            .arg(bin.join("bcryptprimitives.dll"))
            .arg(&shim)
            .arg(shim.with_extension("def"))
            .arg("-ladvapi32")
            .status()
            .expect("mingw-w64 gcc must be installed (gcc-mingw-w64-x86-64)");
        assert!(status.success(), "the ProcessPrng stand-in did not build");
        if !prefix.join("system.reg").exists() {
            let status = wine_command(&prefix, "wineboot")
                .arg("-i")
                .status()
                .expect("wine must be installed (wine64)");
            assert!(status.success(), "wineboot failed");
        }
        Wine { prefix, exe }
    })
}

/// `program` run by Wine in `prefix`, quietly, never asking to install
/// Mono or Gecko (dialogs nobody could answer).
fn wine_command(prefix: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("wine");
    cmd.arg(program)
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    cmd
}

/// `path` as Windows programs under Wine see it (`Z:\\…`).
pub fn windows_path(path: &Path) -> String {
    let out = wine_command(&wine().prefix, "winepath")
        .arg("-w")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// `program` (a Windows executable) under Wine in the tests' prefix, with
/// the test-only ProcessPrng stand-in copied beside it first.
pub fn wine_running(program: &Path) -> Command {
    let wine = wine();
    let shim = wine.exe.with_file_name("bcryptprimitives.dll");
    fs::copy(&shim, program.with_file_name("bcryptprimitives.dll")).unwrap();
    wine_command(&wine.prefix, program)
}

/// `client` (a command for our Linux binary) run as the Windows executable
/// under Wine: the same arguments and environment.
fn under_wine(client: Command) -> Command {
    let wine = wine();
    like(wine_command(&wine.prefix, &wine.exe), &client)
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn the_windows_executable_imports_only_dlls_every_windows_has() {
    let dump = Command::new(format!("{MINGW}-objdump"))
        .arg("-p")
        .arg(built())
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    let imported: Vec<String> = dump
        .lines()
        .filter_map(|line| line.trim().strip_prefix("DLL Name: "))
        .map(str::to_ascii_lowercase)
        .collect();
    assert!(!imported.is_empty(), "no import table read");
    for dll in &imported {
        assert!(SYSTEM_DLLS.contains(&dll.as_str()), "imports {dll}");
    }
    let size = fs::metadata(built()).unwrap().len();
    assert!(size <= 4_000_000, "{size} bytes, over the 4.0 MB budget");
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_a_session_is_byte_identical_to_a_direct_run_and_stdin_eof_ends_it() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let input = one_mib_session_input("from Windows");
    let output = run(under_wine(home.client(&sshd)), input.as_bytes());
    assert!(output.stdout.len() > 1 << 20);
    assert_matches_direct(output, &input);
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_a_burst_of_a_thousand_requests_is_answered_in_full() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut input = initialize(1) + "\n";
    for id in 2..1002 {
        input += &tool_call(id, "echo", &format!(r#"{{"text":"n{id}"}}"#));
        input.push('\n');
    }
    let output = run(under_wine(home.client(&sshd)), input.as_bytes());
    assert_matches_direct(output, &input);
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_an_unknown_host_key_is_refused_with_its_fingerprint() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::write(&home.known_hosts, "").unwrap();
    let output = run(under_wine(home.client(&sshd)), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "is not in {} (ssh-ed25519 key {})",
            home.known_hosts.display(),
            fingerprint(&sshd.host_key)
        )),
        "{stderr}"
    );
    assert_first_request_refused(&output);
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_a_changed_host_key_is_refused() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let other = home.stranger_key("other_host");
    fs::write(
        &home.known_hosts,
        format!("[127.0.0.1]:{} {other}\n", sshd.port),
    )
    .unwrap();
    let output = run(under_wine(home.client(&sshd)), session_input().as_bytes());
    assert_eq!(
        output.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_first_request_refused(&output);
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_an_encrypted_key_opens_with_the_passphrase_from_the_environment() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    sshd.authorize(&keygen(&home.key, "ed25519", "s3cret phrase"));
    let mut client = home.client(&sshd);
    client.env("MCP_SSH_PASSPHRASE", "s3cret phrase");
    assert_session_works(run(under_wine(client), session_input().as_bytes()));
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_without_home_the_default_key_is_made_in_the_profile_and_ssh_keygen_reads_it() {
    let sshd = Sshd::start();
    let home = Home::trusting(&sshd);
    let mut client = home.bare_client(&sshd);
    client.arg("--known-hosts").arg(&home.known_hosts);
    client.env_remove("HOME");
    let profile = wine()
        .prefix
        .join("drive_c/users")
        .join(current_user())
        .join(".ssh");
    let key = profile.join("m2m_mcp_server_ssh_client");
    let _ = fs::remove_file(&key);
    let _ = fs::remove_file(key.with_extension("pub"));
    let output = run(under_wine(client), session_input().as_bytes());
    // Not authorised yet: the key is new. Its public half is the one to add.
    assert_eq!(
        output.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Wine shows the owner-only DACL to Linux as mode 0750, which
    // ssh-keygen refuses; the oracle reads a 0600 copy.
    let copy = home.dir.path().join("generated_copy");
    fs::copy(&key, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o600)).unwrap();
    let derived = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(derived.status.success(), "ssh-keygen -y refused the key");
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&derived.stdout).trim_end(),
        public.trim_end()
    );
    sshd.authorize(&public);
    let mut client = home.bare_client(&sshd);
    client.arg("--known-hosts").arg(&home.known_hosts);
    client.env_remove("HOME");
    let output = run(under_wine(client), session_input().as_bytes());
    // Its DACL, read back through the Windows API, lets nobody else read it.
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("accessible by other users"), "{stderr}");
    assert_session_works(output);
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_a_cut_answers_the_request_in_flight_and_the_session_comes_back() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let proxy = Proxy::start(sshd.port);
    let mut session = Session::start(under_wine(through(&proxy, &sshd, &home)));
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    session.send(&tool_call(2, "sleep", r#"{"ms":30000}"#));
    // The echo's answer says the sleep reached the server before the cut
    // (under Wine, stdin reaches the event loop through a thread: a cut
    // right after the send could find the request still queued).
    let echo = session.call(&tool_call(3, "echo", r#"{"text":"sent"}"#));
    assert!(echo.contains(r#""text":"sent""#), "{echo}");
    proxy.set(Network::Refuse);
    proxy.cut();
    assert_eq!(session.recv_string(), lost(2, CUT));
    proxy.set(Network::Pass);
    let answer = session.call(&tool_call(4, "echo", r#"{"text":"back"}"#));
    assert!(answer.contains(r#""text":"back""#), "{answer}");
    session.close_stdin();
    let (status, _, stderr) = session.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("reconnected to 127.0.0.1:"), "{stderr}");
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_a_key_others_can_read_is_used_with_a_warning_naming_icacls() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    fs::set_permissions(&home.key, fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(under_wine(home.client(&sshd)), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // Wine shows mode 0644 to Windows as a DACL that lets Everyone read.
    assert!(
        stderr.starts_with(&format!(
            "{PREFIX}warning: client key {key} is accessible by other users (readable by Everyone (S-1-1-0)); \
             run: icacls \"{key}\" /inheritance:r /grant:r \"{user}:F\"\n",
            key = home.key.display(),
            user = current_user()
        )),
        "{stderr}"
    );
    assert_session_works(output);
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_a_minimal_environment_and_windows_paths_with_spaces_work() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    // A folder with a space, named the Windows way (Z:\…\with space\…).
    let spaced = home.dir.path().join("with space");
    fs::create_dir(&spaced).unwrap();
    let key = spaced.join("id key");
    fs::copy(&home.key, &key).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let known_hosts = spaced.join("known hosts");
    fs::copy(&home.known_hosts, &known_hosts).unwrap();
    let (key, known_hosts) = (windows_path(&key), windows_path(&known_hosts));
    assert!(key.starts_with("Z:\\") && key.contains(' '), "{key}");
    // What a host such as Claude Desktop passes on Windows: no HOME, no
    // SSH_AUTH_SOCK, no PROGRAMDATA; Wine adds the profile's variables.
    let wine = wine();
    let mut cmd = wine_command(&wine.prefix, &wine.exe);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WINEPREFIX", &wine.prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .args(["--host", "127.0.0.1", "--port", &sshd.port.to_string()])
        .args(["--username", &sshd.user, "--client-key", &key])
        .args(["--known-hosts", &known_hosts]);
    assert_session_works(run(cmd, session_input().as_bytes()));
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_https_to_the_key_server_verifies_its_certificate() {
    use crate::key_server::{answering, client};
    use crate::support::key_server::Tls;
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = answering(Tls::TrustedByTestCa, &sshd.host_key);
    let mut cmd = client(&home, &sshd, &stub.url());
    cmd.env("SSL_CERT_FILE", stub.ca_file().unwrap());
    assert_session_works(run(under_wine(cmd), session_input().as_bytes()));

    let untrusted = answering(Tls::Untrusted, &sshd.host_key);
    let cmd = client(&home, &sshd, &untrusted.url());
    let output = run(under_wine(cmd), session_input().as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(17), "{stderr}");
    assert!(
        stderr.contains("certificate verification failed: self-signed certificate"),
        "{stderr}"
    );
    assert!(untrusted.requests().is_empty());
}

#[test]
#[ignore = "needs the Windows executable and Wine; run by scripts/test-windows.sh"]
fn under_wine_ctrl_c_ends_the_session_cleanly() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let mut session = Session::start(under_wine(home.client(&sshd)));
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    // Wine turns SIGINT into the console's Ctrl-C event.
    let status = Command::new("kill")
        .args(["-INT", &session.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit =
        wait_with_timeout(&mut session.child, Duration::from_secs(30)).expect("did not exit");
    let (_, _, stderr) = session.finish(Duration::from_secs(5));
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("{PREFIX}info: Ctrl-C: finishing the session\n")),
        "{stderr}"
    );
}
