//! `--use-key-server` against a stub key server and a real sshd: the
//! exchange, the pin, and one test for each way a key server can fail us.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::key_server::{KeyServerStub, Reply, Tls, ok_register, ok_server_key};
use crate::support::proxy::Proxy;
use crate::support::*;

/// The pin file of a test home.
fn pins(home: &Home) -> PathBuf {
    home.dir.path().join("keys/pins")
}

/// Our binary in key-server mode, asking only `url`, pinning in the home.
pub(crate) fn client(home: &Home, sshd: &Sshd, url: &str) -> Command {
    let mut cmd = home.bare_client(sshd);
    cmd.args(["--use-key-server", "--key-server-url", url])
        .arg("--client-key")
        .arg(&home.key)
        .arg("--known-hosts")
        .arg(pins(home));
    cmd
}

/// A stub that answers this key and accepts any registration.
pub(crate) fn answering(tls: Tls, key_line: &str) -> KeyServerStub {
    KeyServerStub::start(
        tls,
        vec![
            ("/server_pub_key", ok_server_key(key_line)),
            ("/register", ok_register()),
        ],
    )
}

/// Runs a session through a stub with `reply` for the server key, and
/// returns the output with the stub, for a failure that ends the run.
fn refused_with(reply: Reply) -> (Output, KeyServerStub, Sshd) {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = KeyServerStub::start(
        Tls::None,
        vec![("/server_pub_key", reply), ("/register", ok_register())],
    );
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_first_request_refused(&output);
    assert!(
        !sshd.log().contains("Accepted publickey"),
        "the SSH server was reached"
    );
    (output, stub, sshd)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_answered_key_is_verified_pinned_and_our_key_registered() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = answering(Tls::None, &sshd.host_key);
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_session_works(output);

    let requests = stub.requests();
    let seen: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(seen, [("GET", "/server_pub_key"), ("POST", "/register")]);
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    // "type base64" with no comment: the peer never matches a key registered with one.
    let public = public_line(&home.key.to_string_lossy());
    assert_eq!(
        String::from_utf8_lossy(&requests[1].body),
        format!(r#"{{"client_pub_key":"{public}"}}"#)
    );

    let pinned = fs::read_to_string(pins(&home)).unwrap();
    assert_eq!(pinned, sshd.known_hosts_line() + "\n");
    let mode = fs::metadata(pins(&home)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Pinned: the next start works the same and leaves the file as it is.
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_session_works(output);
    assert_eq!(fs::read_to_string(pins(&home)).unwrap(), pinned);
}

#[test]
fn a_key_server_answering_another_key_than_the_pin_is_refused_before_registering() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let other = home.stranger_key("reinstalled");
    fs::write(pins(&home), sshd.known_hosts_line() + "\n").unwrap();
    let stub = answering(Tls::None, &other);
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    assert_first_request_refused(&output);
    let name = format!("[127.0.0.1]:{}", sshd.port);
    let pins = pins(&home);
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}host key verification failed: the key server at {url} answered a host key for {name} \
             (ssh-ed25519 {answered}) that differs from the one pinned in {pins} line 1 (ssh-ed25519 {pinned}); \
             someone may be intercepting the connection; \
             if the server was reinstalled, remove the pin (ssh-keygen -R '{name}' -f {pins}) and start again\n",
            url = stub.url(),
            answered = fingerprint(&other),
            pinned = fingerprint(&sshd.host_key),
            pins = pins.display(),
        )
    );
    assert_eq!(
        stub.requests().len(),
        1,
        "registered with a suspect key server"
    );
}

#[test]
fn an_ssh_server_presenting_another_key_than_the_answer_is_refused_and_not_pinned() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let impostor = home.stranger_key("impostor");
    let stub = answering(Tls::None, &impostor);
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    assert_first_request_refused(&output);
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}host key verification failed: 127.0.0.1:{port} presented host key ssh-ed25519 {presented}, \
             but the key server at {url} answered ssh-ed25519 {answered}; someone may be intercepting the connection\n",
            port = sshd.port,
            presented = fingerprint(&sshd.host_key),
            url = stub.url(),
            answered = fingerprint(&impostor),
        )
    );
    assert!(!pins(&home).exists());
    assert!(!sshd.log().contains("Accepted publickey"));
}

#[test]
fn a_server_error_status_is_reported_with_the_servers_message() {
    let (output, stub, _sshd) = refused_with(Reply::Status(500, br#"{"error": "boom"}"#.to_vec()));
    assert_eq!(output.status.code(), Some(14));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key answered HTTP 500 Internal Server Error: boom\n",
            stub.url()
        )
    );
}

#[test]
fn rate_limiting_says_the_limit_and_when_to_retry() {
    let (output, stub, _sshd) = refused_with(Reply::Status(
        429,
        br#"{"error": "Rate limit exceeded. Try again later."}"#.to_vec(),
    ));
    assert_eq!(output.status.code(), Some(14));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key refused the request as too many (HTTP 429): \
             it allows 10 requests a minute from one address; retry in a minute\n",
            stub.url()
        )
    );
}

#[test]
fn a_missing_endpoint_asks_whether_this_is_the_key_server() {
    let (output, stub, _sshd) =
        refused_with(Reply::Status(404, br#"{"error": "Not found"}"#.to_vec()));
    assert_eq!(output.status.code(), Some(14));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key answered HTTP 404 Not Found: Not found; \
             is this the key server's address? (--key-server-port, --key-server-url)\n",
            stub.url()
        )
    );
}

#[test]
fn a_body_that_is_not_json_is_refused() {
    let (output, stub, _sshd) = refused_with(Reply::Status(200, b"<html>hello</html>".to_vec()));
    assert_eq!(output.status.code(), Some(15));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key gave an unusable answer: the answer is not JSON: <html>hello</html>\n",
            stub.url()
        )
    );
}

#[test]
fn json_without_the_key_field_is_refused() {
    let (output, stub, _sshd) =
        refused_with(Reply::Status(200, br#"{"status": "healthy"}"#.to_vec()));
    assert_eq!(output.status.code(), Some(15));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key gave an unusable answer: \
             the answer has no 'server_pub_key' field: {{\"status\": \"healthy\"}}\n",
            stub.url()
        )
    );
}

#[test]
fn a_ten_mebibyte_answer_is_cut_off_at_the_cap() {
    let (output, stub, _sshd) = refused_with(Reply::Huge(10 * 1024 * 1024));
    assert_eq!(output.status.code(), Some(15));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key gave an unusable answer: \
             the answer is larger than 64 KiB; this is not a key server\n",
            stub.url()
        )
    );
}

#[test]
fn a_key_server_that_never_answers_times_out() {
    let started = Instant::now();
    let (output, stub, _sshd) = refused_with(Reply::Silent);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(13));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}cannot reach the key server at {}/server_pub_key: no answer within 5 s; \
             check --host and --key-server-port (or --key-server-url) and that the server runs its key server\n",
            stub.url()
        )
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_key_server_that_closes_without_a_byte_is_not_http_not_an_http_status() {
    let (output, stub, _sshd) = refused_with(Reply::Close);
    assert_eq!(output.status.code(), Some(15));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key gave an unusable answer: \
             the connection was closed without an answer; this is not an HTTP server\n",
            stub.url()
        )
    );
}

#[test]
fn an_unreachable_key_server_is_reported_as_such() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let url = format!("http://127.0.0.1:{}", closed_port());
    let output = run(client(&home, &sshd, &url), session_input().as_bytes());
    assert_eq!(output.status.code(), Some(13), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}cannot reach the key server at {url}/server_pub_key: connection refused; \
             check --host and --key-server-port (or --key-server-url) and that the server runs its key server\n"
        )
    );
}

#[test]
fn a_key_type_we_cannot_verify_is_refused() {
    // A well-formed ssh-dss key (OpenSSH no longer makes them; libssh2 cannot verify them here).
    let dss = "ssh-dss AAAAB3NzaC1kc3MAAAABAQAAAAECAAAAAQMAAAABBA==";
    let (output, stub, _sshd) = refused_with(ok_server_key(dss));
    assert_eq!(output.status.code(), Some(16));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/server_pub_key answered an unusable host key: \
             the host key type ssh-dss is not one we can verify \
             (supported: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)\n",
            stub.url()
        )
    );
}

#[test]
fn a_rejected_registration_is_reported_and_nothing_is_pinned() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = KeyServerStub::start(
        Tls::None,
        vec![
            ("/server_pub_key", ok_server_key(&sshd.host_key)),
            (
                "/register",
                Reply::Status(400, br#"{"error": "Failed to register key"}"#.to_vec()),
            ),
        ],
    );
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(14));
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}the key server at {}/register answered HTTP 400 Bad Request: Failed to register key\n",
            stub.url()
        )
    );
    assert!(!pins(&home).exists());
}

#[test]
fn https_with_a_certificate_from_a_trusted_ca_works() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = answering(Tls::TrustedByTestCa, &sshd.host_key);
    assert!(stub.url().starts_with("https://"));
    let mut cmd = client(&home, &sshd, &stub.url());
    cmd.env("SSL_CERT_FILE", stub.ca_file().unwrap());
    let output = run(cmd, session_input().as_bytes());
    assert_session_works(output);
    assert_eq!(stub.requests().len(), 2);
}

#[test]
fn https_with_an_untrusted_certificate_is_refused_without_falling_back() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = answering(Tls::Untrusted, &sshd.host_key);
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(17), "{}", stderr(&output));
    assert_first_request_refused(&output);
    assert_eq!(
        stderr(&output),
        format!(
            "{PREFIX}TLS connection to the key server at {}/server_pub_key failed: \
             certificate verification failed: self-signed certificate; if the server has no valid certificate, \
             name its plain-HTTP key server with --key-server-url http://HOST:PORT to accept an unauthenticated key\n",
            stub.url()
        )
    );
    assert!(stub.requests().is_empty());
}

#[test]
fn without_a_url_https_is_tried_first_then_plain_http_with_a_warning() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = answering(Tls::None, &sshd.host_key);
    let mut cmd = home.bare_client(&sshd);
    cmd.args([
        "--use-key-server",
        "--key-server-port",
        &stub.port().to_string(),
    ])
    .arg("--client-key")
    .arg(&home.key)
    .arg("--known-hosts")
    .arg(pins(&home));
    let output = run(cmd, session_input().as_bytes());
    let message = stderr(&output);
    assert_session_works(output);
    // Nothing listens on 127.0.0.1:443 here, so HTTPS is refused.
    assert!(
        message.starts_with(&format!(
            "{PREFIX}warning: no key server over HTTPS at https://127.0.0.1/server_pub_key (connection refused); \
             asking http://127.0.0.1:{} over plain HTTP: the server key then comes unauthenticated, \
             and only its pin protects later starts\n",
            stub.port()
        )),
        "{message}"
    );
    assert_eq!(stub.requests().len(), 2);
}

#[test]
fn a_missing_key_at_a_named_path_is_generated_for_registration() {
    let sshd = Sshd::start();
    let home = Home::empty();
    let stub = answering(Tls::None, &sshd.host_key);
    let output = run(
        client(&home, &sshd, &stub.url()),
        session_input().as_bytes(),
    );
    // The stub does not authorize what it registers, so the login fails;
    // what matters is the key that was made and sent.
    assert_eq!(output.status.code(), Some(9), "{}", stderr(&output));
    let mode = fs::metadata(&home.key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let public = public_line(&home.key.to_string_lossy());
    assert!(public.starts_with("ssh-ed25519 "));
    let register = &stub.requests()[1];
    assert_eq!(
        String::from_utf8_lossy(&register.body),
        format!(r#"{{"client_pub_key":"{public}"}}"#)
    );
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn reconnects_never_write_the_pin_again() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = answering(Tls::None, &sshd.host_key);
    let proxy = Proxy::start(sshd.port);
    let mut cmd = client(&home, &sshd, &stub.url());
    cmd.args(["--port", &proxy.port.to_string()]);
    let mut session = Session::start(cmd);
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let mut id = 2;
    for _ in 0..2 {
        proxy.cut();
        // Until one is answered on the new connection: the first may still
        // go out on the old one, and get the error of its loss.
        loop {
            id += 1;
            let answer = session.call(&tool_call(id, "echo", r#"{"text":"again"}"#));
            if !answer.contains("\"error\"") {
                break;
            }
        }
    }
    let (status, _, stderr) = session.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("; restoring the session\n").count(),
        2,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("info: pinned the host key").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(pins(&home)).unwrap(),
        format!(
            "[127.0.0.1]:{} {}\n",
            proxy.port,
            sshd.host_key
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        )
    );
    assert_eq!(stub.requests().len(), 2, "the key server was asked again");
}

#[test]
fn sigterm_while_the_key_server_is_asked_answers_the_first_request_and_exits_0() {
    let sshd = Sshd::start();
    let home = Home::new(&sshd);
    let stub = KeyServerStub::start(
        Tls::None,
        vec![
            ("/server_pub_key", Reply::Silent),
            ("/register", ok_register()),
        ],
    );
    let mut session = Session::start(client(&home, &sshd, &stub.url()));
    session.send(&initialize(1));
    while stub.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &session.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_with_timeout(&mut session.child, Duration::from_secs(9)).expect("did not exit");
    let (_, stdout, stderr) = session.finish(Duration::from_secs(1));
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":-32000,"message":"Cannot connect to the remote MCP server","data":{{"reason":"the client was stopped before its connection to 127.0.0.1:{} was open"}}}}}}"#,
            sshd.port
        ) + "\n"
    );
}
