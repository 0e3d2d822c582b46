//! Side-by-side benchmark: our release binary and OpenSSH's `ssh -T`,
//! interleaved in one run, against the same loopback sshd, each driven as an
//! MCP host drives its server. Run with `cargo bench --bench relay`; see
//! `benches/README.md` for how to read the table.
//!
//! The MCP server behind sshd is this very binary started with
//! `--echo-server`: compiled Rust, so that a slow server is not what is
//! measured.
//!
//! With `M2M_BENCH_VIA_JUMP=1`, both go through a second sshd as a jump
//! host: ours by the SSH config's ProxyJump (one process), ssh by the
//! `ssh -W` that `ssh -J` runs (two processes; the figures are the first's).

#![allow(clippy::print_stdout, reason = "a benchmark prints its report")]

#[path = "../tests/integration/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::{Home, Session, Sshd, SshdOptions, initialize};

/// Runs per figure; the median is reported with min and max.
const RUNS: usize = 7;
/// Sequential echo calls per round-trip run.
const ECHOES: usize = 2000;
/// Requests written at once in the burst.
const BURST: usize = 1000;
/// Size of the large result and of the large argument.
const LARGE: usize = 8 * 1024 * 1024;
/// The one message that must stream: far larger than any buffer of ours.
const HUGE: usize = 64 * 1024 * 1024;
/// How long the idle session is watched.
const IDLE: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--echo-server") {
        echo_server();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // binary without it, where a minute of measuring has no place.
    if !args.iter().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench relay`");
        return;
    }
    let ours = our_binary();
    eprintln!("measuring {ours}");
    // SAFETY: no other thread runs yet; the test support reads this
    // variable to pick the binary it starts.
    unsafe { std::env::set_var("M2M_TEST_BINARY", &ours) };
    let sshd = Sshd::start_with(SshdOptions {
        force_command: Some(format!(
            "{} --echo-server",
            std::env::current_exe().unwrap().display()
        )),
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let jump = std::env::var_os("M2M_BENCH_VIA_JUMP").map(|_| Jump::start(&sshd, &home));
    let clients = [Client::Ours, Client::Ssh];

    let mut figures: Vec<Figure> = Vec::new();
    let mut add =
        |name: &'static str, unit: &'static str, better: Better, samples: [Vec<f64>; 2]| {
            figures.push(Figure {
                name,
                unit,
                better,
                ours: Stats::of(&samples[0]),
                ssh: Stats::of(&samples[1]),
            })
        };

    let mut cold = [Vec::new(), Vec::new()];
    let mut p50 = [Vec::new(), Vec::new()];
    let mut p90 = [Vec::new(), Vec::new()];
    let mut p99 = [Vec::new(), Vec::new()];
    let mut burst = [Vec::new(), Vec::new()];
    let mut down = [Vec::new(), Vec::new()];
    let mut up = [Vec::new(), Vec::new()];
    let mut rss = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    for run in 0..RUNS {
        eprintln!("run {}/{RUNS}", run + 1);
        // Both sessions stay open side by side, and every measurement
        // alternates between them, so that whatever else the machine does
        // falls on both alike. Who goes first alternates too.
        let mut sessions: Vec<Session> = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let (mut session, started) = start(client.command(&sshd, &home, jump.as_ref()));
            session.call(&initialize(1));
            cold[i].push(ms(started.elapsed()));
            session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
            sessions.push(session);
        }
        let order = |n: usize| if n % 2 == 0 { [0, 1] } else { [1, 0] };

        let mut rtts = [Vec::with_capacity(ECHOES), Vec::with_capacity(ECHOES)];
        for id in 0..ECHOES {
            for i in order(id) {
                let at = Instant::now();
                sessions[i].call(&echo(100 + id as u64, "ping"));
                rtts[i].push(at.elapsed().as_secs_f64() * 1e6);
            }
        }
        for (i, rtts) in rtts.iter_mut().enumerate() {
            rtts.sort_by(f64::total_cmp);
            p50[i].push(percentile(rtts, 0.50));
            p90[i].push(percentile(rtts, 0.90));
            p99[i].push(percentile(rtts, 0.99));
        }

        let requests: String = (0..BURST as u64)
            .map(|id| echo(10_000 + id, "burst") + "\n")
            .collect();
        let argument = "y".repeat(LARGE);
        for i in order(run) {
            let session = &mut sessions[i];
            let at = Instant::now();
            session.send_bytes(requests.as_bytes());
            for _ in 0..BURST {
                session.recv();
            }
            burst[i].push(ms(at.elapsed()));
        }
        for i in order(run + 1) {
            let at = Instant::now();
            let line = sessions[i].call(&format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"blob","arguments":{{"size":{LARGE}}}}}}}"#
            ));
            down[i].push(mb_per_s(line.len(), at.elapsed()));
        }
        for i in order(run) {
            let at = Instant::now();
            sessions[i].call(&format!(
                r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"length","arguments":{{"data":"{argument}"}}}}}}"#
            ));
            up[i].push(mb_per_s(LARGE, at.elapsed()));
        }

        for (i, session) in sessions.into_iter().enumerate() {
            let peak = proc_sample(session.child.id()).peak_rss_kib;
            let usage = finish(session);
            rss[i].push(peak as f64 / 1024.0);
            cpu[i].push(usage.cpu_ms);
        }
    }
    add(
        "cold start to initialize response",
        "ms",
        Better::Lower,
        cold,
    );
    add("echo round trip p50", "µs", Better::Lower, p50);
    add("echo round trip p90", "µs", Better::Lower, p90);
    add("echo round trip p99", "µs", Better::Lower, p99);
    add("burst of 1,000 requests", "ms", Better::Lower, burst);
    add("8 MiB result down", "MB/s", Better::Higher, down);
    add("8 MiB argument up", "MB/s", Better::Higher, up);
    add("peak RSS of the client", "MiB", Better::Lower, rss);
    add(
        "client CPU (user+sys) for the whole run",
        "ms",
        Better::Lower,
        cpu,
    );

    // One 64 MiB result in a fresh session: what the largest message costs
    // in memory on the path that streams it.
    let mut huge_rss = [Vec::new(), Vec::new()];
    for (i, client) in clients.iter().enumerate() {
        eprintln!("64 MiB result: {}", client.name());
        let (mut session, _) = start(client.command(&sshd, &home, jump.as_ref()));
        session.call(&initialize(1));
        let idle = proc_sample(session.child.id()).peak_rss_kib;
        let line = session.call(&format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"blob","arguments":{{"size":{HUGE}}}}}}}"#
        ));
        assert!(line.len() > HUGE, "the 64 MiB result arrived cut");
        let peak = proc_sample(session.child.id()).peak_rss_kib;
        huge_rss[i].push(peak.saturating_sub(idle) as f64 / 1024.0);
        finish(session);
    }
    add(
        "64 MiB result: peak RSS above idle",
        "MiB",
        Better::Lower,
        huge_rss,
    );

    let mut idle_cpu = [Vec::new(), Vec::new()];
    let mut idle_wakeups = [Vec::new(), Vec::new()];
    for (i, client) in clients.iter().enumerate() {
        eprintln!("idle {}s: {}", IDLE.as_secs(), client.name());
        let (mut session, _) = start(client.command(&sshd, &home, jump.as_ref()));
        session.call(&initialize(1));
        // Let the start-up settle before watching.
        thread::sleep(Duration::from_millis(500));
        let before = proc_sample(session.child.id());
        thread::sleep(IDLE);
        let after = proc_sample(session.child.id());
        idle_cpu[i].push(after.cpu_ms - before.cpu_ms);
        idle_wakeups[i].push((after.switches - before.switches) as f64);
        finish(session);
    }
    add("idle 10 s: CPU", "ms", Better::Lower, idle_cpu);
    add(
        "idle 10 s: context switches",
        "",
        Better::Lower,
        idle_wakeups,
    );

    report(&figures);
}

/// The binary we ship: the static musl build for this machine, built (or
/// brought up to date) by `scripts/build-static.sh`, unless
/// `M2M_BENCH_BINARY` names another, such as `target/release`'s glibc build.
fn our_binary() -> String {
    if let Ok(path) = std::env::var("M2M_BENCH_BINARY") {
        return path;
    }
    let arch = std::env::consts::ARCH;
    let triple = match arch {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        "arm" => "armv7-unknown-linux-musleabihf",
        other => panic!("no static build for {other}: set M2M_BENCH_BINARY"),
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(root.join("scripts/build-static.sh"))
        .arg(triple)
        .status()
        .expect("cannot run scripts/build-static.sh");
    assert!(status.success(), "scripts/build-static.sh {triple} failed");
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), Into::into);
    target
        .join("static")
        .join(format!("m2m-mcp-server-ssh-client-{triple}"))
        .display()
        .to_string()
}

#[derive(Clone, Copy)]
enum Client {
    Ours,
    Ssh,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Ours => "m2m-mcp-server-ssh-client",
            Client::Ssh => "ssh -T",
        }
    }

    /// The command an MCP host would start, each with its keepalive on (15 s).
    fn command(self, sshd: &Sshd, home: &Home, jump: Option<&Jump>) -> Command {
        match self {
            Client::Ours => {
                let mut cmd = home.client(sshd);
                cmd.args(["--log-level", "WARNING"]);
                if let Some(jump) = jump {
                    cmd.args(["--host", "target", "--ssh-config"])
                        .arg(&jump.config);
                }
                cmd
            }
            Client::Ssh => {
                let mut cmd = Command::new("ssh");
                cmd.args(ssh_options(home));
                if let Some(jump) = jump {
                    cmd.arg("-o").arg(format!(
                        "ProxyCommand=ssh {} -W %h:%p -p {} {}@127.0.0.1",
                        ssh_options(home).join(" "),
                        jump.sshd.port,
                        jump.sshd.user
                    ));
                }
                cmd.args([
                    "-T",
                    "-p",
                    &sshd.port.to_string(),
                    "-o",
                    "ServerAliveInterval=15",
                ])
                .arg(format!("{}@{}", sshd.user, sshd.host))
                .env_remove("SSH_AUTH_SOCK");
                cmd
            }
        }
    }
}

/// OpenSSH's options for a session like ours: our key only, our
/// known_hosts only, no prompt.
fn ssh_options(home: &Home) -> Vec<String> {
    [
        "-F".to_string(),
        "/dev/null".into(),
        "-i".into(),
        home.key.display().to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", home.known_hosts.display()),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "LogLevel=ERROR".into(),
    ]
    .into()
}

/// A jump host in front of the benchmark's sshd.
struct Jump {
    sshd: Sshd,
    /// The SSH config that sends `target` through it.
    config: std::path::PathBuf,
}

impl Jump {
    fn start(target: &Sshd, home: &Home) -> Jump {
        let sshd = Sshd::start_with(SshdOptions {
            force_command: None,
            extra: vec!["AllowTcpForwarding yes".into()],
            ..Default::default()
        });
        let public = support::public_line(&home.key.to_string_lossy());
        sshd.authorize(&public);
        let mut known = std::fs::read_to_string(&home.known_hosts).unwrap();
        known.push_str(&(sshd.known_hosts_line() + "\n"));
        std::fs::write(&home.known_hosts, known).unwrap();
        let config = home.dir.path().join("bench_ssh_config");
        std::fs::write(
            &config,
            format!(
                "Host target\n  HostName {}\n  ProxyJump {}@127.0.0.1:{}\n",
                target.host, sshd.user, sshd.port
            ),
        )
        .unwrap();
        Jump { sshd, config }
    }
}

/// The test support's line-by-line driver, timed from before the spawn.
fn start(cmd: Command) -> (Session, Instant) {
    let started = Instant::now();
    (Session::start(cmd), started)
}

/// Closes stdin and reaps the client with its resource usage.
fn finish(mut session: Session) -> Usage {
    session.close_stdin();
    let usage = wait4(session.child.id() as i32);
    // Reaped already: keep the guard's Drop from signalling a recycled pid.
    std::mem::forget(session);
    usage
}

struct Usage {
    cpu_ms: f64,
}

/// Waits for the child and returns the CPU time the kernel counted for it.
/// (Its `ru_maxrss` is not used: a child spawned with vfork inherits the
/// parent's high-water mark at exec, so it would report this benchmark's
/// own memory. The peak is read from `VmHWM` instead, just before EOF.)
fn wait4(pid: i32) -> Usage {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, status and usage are valid pointers.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Usage {
        cpu_ms: ms(usage.ru_utime) + ms(usage.ru_stime),
    }
}

struct ProcSample {
    cpu_ms: f64,
    switches: u64,
    peak_rss_kib: u64,
}

/// CPU time from `/proc/PID/stat`; from `/proc/PID/status`, voluntary plus
/// involuntary context switches (each a wakeup) and the peak resident set
/// of the process since its exec (`VmHWM`).
fn proc_sample(pid: u32) -> ProcSample {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let switches = status
        .lines()
        .filter(|l| {
            l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches")
        })
        .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
        .sum();
    let peak_rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ProcSample {
        cpu_ms: ticks * 1000.0 / hz,
        switches,
        peak_rss_kib,
    }
}

#[derive(Clone, Copy)]
enum Better {
    Lower,
    Higher,
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(samples: &[f64]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Stats {
            median: percentile(&sorted, 0.5),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

struct Figure {
    name: &'static str,
    unit: &'static str,
    better: Better,
    ours: Stats,
    ssh: Stats,
}

/// Prints the table and writes it as JSON beside the build output.
fn report(figures: &[Figure]) {
    println!(
        "\n{:<42} {:>24} {:>24} {:>8}",
        "figure (median, [min–max])", "ours", "ssh -T", "ratio"
    );
    let mut json = String::from("[\n");
    for (n, f) in figures.iter().enumerate() {
        let ratio = if f.ssh.median == 0.0 {
            f64::NAN
        } else {
            f.ours.median / f.ssh.median
        };
        let cell = |s: &Stats| format!("{} [{}–{}]", fmt(s.median), fmt(s.min), fmt(s.max));
        println!(
            "{:<42} {:>24} {:>24} {:>8}",
            format!(
                "{} ({})",
                f.name,
                if f.unit.is_empty() { "count" } else { f.unit }
            ),
            cell(&f.ours),
            cell(&f.ssh),
            format!("{ratio:.2}")
        );
        json.push_str(&format!(
            "  {{\"figure\": \"{}\", \"unit\": \"{}\", \"better\": \"{}\", \"ours\": {{\"median\": {}, \"min\": {}, \"max\": {}}}, \"ssh\": {{\"median\": {}, \"min\": {}, \"max\": {}}}, \"ratio\": {}}}{}\n",
            f.name,
            f.unit,
            match f.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
            },
            f.ours.median,
            f.ours.min,
            f.ours.max,
            f.ssh.median,
            f.ssh.min,
            f.ssh.max,
            if ratio.is_finite() { format!("{ratio:.4}") } else { "null".into() },
            if n + 1 < figures.len() { "," } else { "" }
        ));
    }
    json.push_str("]\n");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-relay.json");
    std::fs::write(&path, json).unwrap();
    println!("\nratio = ours ÷ ssh; written to {}", path.display());
}

fn fmt(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn echo(id: u64, text: &str) -> String {
    support::tool_call(id, "echo", &format!(r#"{{"text":"{text}"}}"#))
}

/// The MCP server behind sshd: initialize, tools/list, and the tools echo,
/// blob (a result of `size` bytes) and length (the length of `data`).
/// Requests are recognised by their method and answered without a full
/// JSON parse of the arguments, so the server costs little next to the relay.
fn echo_server() {
    let stdin = std::io::stdin();
    let mut input = BufReader::with_capacity(1 << 20, stdin.lock());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let Some(id) = field(&text, "\"id\":") else {
            continue;
        };
        let result = if text.contains("\"method\":\"initialize\"") {
            r#"{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"bench-echo","version":"1"}}"#.to_string()
        } else if text.contains("\"method\":\"tools/list\"") {
            r#"{"tools":[{"name":"echo","inputSchema":{"type":"object"}},{"name":"blob","inputSchema":{"type":"object"}},{"name":"length","inputSchema":{"type":"object"}}]}"#.to_string()
        } else if text.contains("\"name\":\"blob\"") {
            let size: usize = field(&text, "\"size\":")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            format!(
                r#"{{"content":[{{"type":"text","text":"{}"}}],"isError":false}}"#,
                "x".repeat(size)
            )
        } else if text.contains("\"name\":\"length\"") {
            let start = text.find("\"data\":\"").map_or(0, |i| i + 8);
            let len = text[start..].find('"').unwrap_or(0);
            format!(r#"{{"content":[{{"type":"text","text":"{len}"}}],"isError":false}}"#)
        } else if text.contains("\"name\":\"echo\"") {
            let start = text.find("\"text\":\"").map_or(0, |i| i + 8);
            let end = text[start..].find('"').map_or(start, |i| start + i);
            format!(
                r#"{{"content":[{{"type":"text","text":"{}"}}],"isError":false}}"#,
                &text[start..end]
            )
        } else {
            format!(r#"{{"echo":{}}}"#, text.len())
        };
        let _ = writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#);
        let _ = out.flush();
    }
}

/// The number after `key` (ids and sizes here are plain numbers).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}
