//! Micro-benchmark of what the relay does to every byte without an sshd:
//! the host side (line framing, separator escaping and in-flight tracking)
//! and the remote side (the stdout filter, line framing and in-flight
//! tracking), on large and small messages, in MB/s. Run with `cargo bench --bench framing`.

#![allow(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use m2m_mcp_server_ssh_client::mcp::McpSession;
use m2m_mcp_server_ssh_client::relay::remote_output::StdoutFilter;

/// The relay reads in chunks of this size.
const CHUNK: usize = 64 * 1024;
/// Each case runs at least this long, so that timer noise does not count.
const MIN_TIME: Duration = Duration::from_millis(500);

fn main() {
    // `cargo test --all-targets` runs this without `--bench`: nothing to measure there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench framing`");
        return;
    }
    let large_request = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"length\",\"arguments\":{{\"data\":\"{}\"}}}}}}\n",
        "é, \\\"quoted\\\" and plain text ".repeat(16 * 1024 * 1024 / 30)
    );
    let large_response = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\"{}\"}}]}}}}\n",
        "x".repeat(16 * 1024 * 1024)
    );
    let small_requests: String = (0..100_000)
        .map(|id| {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":\"ping\"}}}}}}\n"
            )
        })
        .collect();
    let small_responses: String = (0..100_000)
        .map(|id| {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\"ping\"}}],\"isError\":false}}}}\n"
            )
        })
        .collect();

    println!("{:<48} {:>10}", "path (64 KiB chunks)", "MB/s");
    host_side(
        "host → remote, one 16 MiB request",
        large_request.as_bytes(),
    );
    host_side(
        "host → remote, 100,000 small requests",
        small_requests.as_bytes(),
    );
    remote_side(
        "remote → host, one 16 MiB response",
        large_response.as_bytes(),
    );
    remote_side(
        "remote → host, 100,000 small responses",
        small_responses.as_bytes(),
    );
    bursts(
        "both ways, bursts of 1,000 small requests answered",
        &small_requests,
        &small_responses,
    );
}

/// What the relay benchmark's burst asks of us: 1,000 requests from the host
/// tracked, then their 1,000 answers matched, over and over.
fn bursts(name: &str, requests: &str, responses: &str) {
    const BURST: usize = 1000;
    let requests: Vec<&str> = requests.split_inclusive('\n').collect();
    let responses: Vec<&str> = responses.split_inclusive('\n').collect();
    let bursts: Vec<(String, String)> = requests
        .chunks(BURST)
        .zip(responses.chunks(BURST))
        .map(|(q, a)| (q.concat(), a.concat()))
        .collect();
    let bytes = bursts.iter().map(|(q, a)| q.len() + a.len()).sum();
    let mut remote = Remote::default();
    report(name, bytes, || {
        let mut session = McpSession::new();
        for (q, a) in &bursts {
            from_host(&mut session, q.as_bytes());
            remote.feed(&mut session, a.as_bytes());
        }
        assert_eq!(session.unanswered(), 0, "an answer was not matched");
    });
}

/// Framing, escaping and in-flight tracking, as the relay applies them to stdin.
fn host_side(name: &str, input: &[u8]) {
    report(name, input.len(), || {
        let mut session = McpSession::new();
        from_host(&mut session, input);
        black_box(session.unanswered());
    });
}

/// The stdout filter and in-flight tracking, as the relay applies them to
/// the channel's stdout.
fn remote_side(name: &str, input: &[u8]) {
    let mut remote = Remote::default();
    report(name, input.len(), || {
        let mut session = McpSession::new();
        remote.feed(&mut session, input);
    });
}

/// Passes `input` from the host through `session` in the relay's chunks, and
/// takes what it would write to the channel.
fn from_host(session: &mut McpSession, input: &[u8]) {
    for chunk in input.chunks(CHUNK) {
        session.from_host(chunk);
        let sent = session.to_remote().len();
        black_box(session.to_remote().pending());
        session.to_remote().consumed(sent);
    }
}

/// The remote's side of a session: its stdout filter, and the buffer it filters into.
struct Remote {
    filter: StdoutFilter,
    out: Vec<u8>,
}

impl Default for Remote {
    fn default() -> Remote {
        Remote {
            filter: StdoutFilter::default(),
            out: Vec::with_capacity(CHUNK * 2),
        }
    }
}

impl Remote {
    /// Passes `input` from the remote through the filter and `session` in the
    /// relay's chunks, and takes what it would write to the host.
    fn feed(&mut self, session: &mut McpSession, input: &[u8]) {
        for chunk in input.chunks(CHUNK) {
            self.out.clear();
            self.filter.push(chunk, &mut self.out, |_, _| {}, |_| {});
            session.from_remote(&self.out);
            let written = session.to_host().len();
            black_box(session.to_host().pending());
            session.to_host().consumed(written);
        }
    }
}

/// Runs and reports one case, unless the command line names others
/// (`cargo bench --bench framing -- small` runs the cases with "small").
fn report(name: &str, bytes: usize, mut pass: impl FnMut()) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
        return;
    }
    pass();
    let started = Instant::now();
    let mut passes = 0;
    while started.elapsed() < MIN_TIME {
        pass();
        passes += 1;
    }
    let rate = (bytes * passes) as f64 / 1e6 / started.elapsed().as_secs_f64();
    println!("{name:<48} {rate:>10.0}");
}
