//! Minutes of mixed traffic through cuts, blackholes and a rekey every MiB,
//! with the default keepalive: at the end every request is answered exactly
//! once (a result, or the -32000 error of a loss), every line on stdout is a
//! whole JSON message (or the beginning of a long result a loss cut short,
//! ended with a newline and followed by its error), memory is flat and no
//! descriptor has leaked.

use std::collections::HashMap;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::proxy::{Network, Proxy, through};
use crate::support::*;

/// What one soak did, for the test's output.
struct Report {
    requests: u64,
    cuts: usize,
    blackholes: usize,
    reconnects: usize,
    notifications: u64,
    fragments: u64,
    rss_early_kib: u64,
    rss_end_kib: u64,
    fds_start: usize,
    fds_end: usize,
}

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// A splitmix64 sequence: the same traffic on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// The host's side: what it sent, and every answer it got, by id.
#[derive(Default)]
struct Ledger {
    answers: HashMap<u64, u32>,
    /// Requests the host cancelled: at most one answer each.
    cancelled: Vec<u64>,
    /// What each echo and blob must answer, when it is not an error.
    expected: HashMap<u64, String>,
    notifications: u64,
    /// Results a loss cut short: the host saw them ended with a newline,
    /// then the request's error.
    fragments: u64,
}

impl Ledger {
    /// Takes one stdout line: a whole JSON message, an answer we can account for.
    fn take(&mut self, line: &str) -> Option<u64> {
        let body = line
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("not a whole line: {:.200}", line));
        let message: Value = match serde_json::from_str(body) {
            Ok(message) => message,
            Err(e) => {
                // Only a long result can be cut, and only by a loss: its
                // beginning went out before the connection died.
                assert!(
                    e.is_eof()
                        && body.starts_with(r#"{"jsonrpc":"2.0","id":"#)
                        && body.len() > 64 << 10,
                    "not JSON ({e}): {body:.200}"
                );
                self.fragments += 1;
                return None;
            }
        };
        let Some(id) = message.get("id") else {
            assert_eq!(message["method"], "notifications/message", "{body:.200}");
            self.notifications += 1;
            return None;
        };
        let id = id
            .as_u64()
            .unwrap_or_else(|| panic!("unexpected id: {body:.200}"));
        if let Some(error) = message.get("error") {
            assert_eq!(error["code"], -32000, "{body:.200}");
        } else if let Some(text) = self.expected.get(&id) {
            let got = &message["result"]["content"][0]["text"];
            assert!(got == text.as_str(), "id {id}: {:.200}", body);
        }
        *self.answers.entry(id).or_default() += 1;
        Some(id)
    }
}

fn soak(duration: Duration) -> Report {
    let sshd = Sshd::start_with(SshdOptions {
        extra: vec!["RekeyLimit 1M".into()],
        ..Default::default()
    });
    let home = Home::new(&sshd);
    let proxy = Arc::new(Proxy::start(sshd.port));
    let mut session = Session::start(through(&proxy, &sshd, &home));
    let pid = session.child.id();
    assert_eq!(session.call(&initialize(1)), initialize_answer(1));
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let fds_start = fds(pid);

    // The network's part: about twenty interruptions over the run, most of
    // them cuts, some blackholes of a second and a half.
    let done = Arc::new(AtomicBool::new(false));
    let hold = Arc::new(AtomicBool::new(false));
    let (cuts, blackholes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let network = {
        let (proxy, done, hold) = (proxy.clone(), done.clone(), hold.clone());
        let (cuts, blackholes) = (cuts.clone(), blackholes.clone());
        let every = duration / 22;
        thread::spawn(move || {
            let mut rng = Rng(7);
            while !done.load(Ordering::SeqCst) {
                thread::sleep(every);
                if done.load(Ordering::SeqCst) || hold.load(Ordering::SeqCst) {
                    continue;
                }
                if rng.below(100) < 85 {
                    proxy.cut();
                    cuts.fetch_add(1, Ordering::SeqCst);
                } else {
                    proxy.set(Network::Blackhole);
                    thread::sleep(Duration::from_millis(1500));
                    proxy.set(Network::Pass);
                    blackholes.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };

    let mut ledger = Ledger::default();
    let mut rng = Rng(11);
    let mut next_id = 10;
    let started = Instant::now();
    let mut rss_early_kib = None;
    let mut round = 0u64;
    // Waits for an answer to a fresh echo, so that the link is up and idle.
    let settle = |session: &mut Session, ledger: &mut Ledger, next_id: &mut u64| loop {
        let id = *next_id;
        *next_id += 1;
        ledger.expected.insert(id, "settled".into());
        session.send(&tool_call(id, "echo", r#"{"text":"settled"}"#));
        let ok = loop {
            let line = session.recv_string();
            if ledger.take(&line) == Some(id) {
                break !line.contains("\"error\"");
            }
        };
        if ok {
            break;
        }
    };
    while started.elapsed() < duration {
        round += 1;
        let mut awaited = Vec::new();
        for _ in 0..8 {
            let id = next_id;
            next_id += 1;
            let text = format!("round {round} id {id}");
            session.send(&tool_call(id, "echo", &format!(r#"{{"text":"{text}"}}"#)));
            ledger.expected.insert(id, text);
            awaited.push(id);
        }
        let id = next_id;
        next_id += 1;
        session.send(&tool_call(id, "notify", &format!(r#"{{"text":"n{id}"}}"#)));
        ledger.expected.insert(id, "notified".into());
        awaited.push(id);
        session.send(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
        if round % 5 == 0 {
            let id = next_id;
            next_id += 1;
            let size = (1 << 20) + rng.below(1 << 20);
            session.send(&tool_call(id, "blob", &format!(r#"{{"size":{size}}}"#)));
            ledger.expected.insert(id, "x".repeat(size as usize));
            awaited.push(id);
        }
        if round % 3 == 0 {
            let id = next_id;
            next_id += 1;
            session.send(&tool_call(id, "sleep", r#"{"ms":200}"#));
            session.send(&format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#
            ));
            ledger.cancelled.push(id);
        }
        while awaited.iter().any(|id| !ledger.answers.contains_key(id)) {
            let line = session.recv_string();
            ledger.take(&line);
        }
        if rss_early_kib.is_none() && started.elapsed() >= duration / 3 {
            hold.store(true, Ordering::SeqCst);
            settle(&mut session, &mut ledger, &mut next_id);
            rss_early_kib = Some(rss_kib(pid));
            hold.store(false, Ordering::SeqCst);
        }
    }
    done.store(true, Ordering::SeqCst);
    network.join().unwrap();
    proxy.set(Network::Pass);
    settle(&mut session, &mut ledger, &mut next_id);
    let rss_end_kib = rss_kib(pid);
    let fds_end = fds(pid);

    let (status, rest, stderr) = session.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
    for line in String::from_utf8(rest).unwrap().split_inclusive('\n') {
        ledger.take(line);
    }
    for id in 10..next_id {
        let answers = ledger.answers.get(&id).copied().unwrap_or(0);
        if ledger.cancelled.contains(&id) {
            assert!(
                answers <= 1,
                "cancelled request {id} answered {answers} times"
            );
        } else {
            assert_eq!(answers, 1, "request {id} answered {answers} times");
        }
    }
    Report {
        requests: next_id - 10,
        cuts: cuts.load(Ordering::SeqCst),
        blackholes: blackholes.load(Ordering::SeqCst),
        reconnects: stderr.matches("; restoring the session").count(),
        notifications: ledger.notifications,
        fragments: ledger.fragments,
        rss_early_kib: rss_early_kib.unwrap_or(rss_end_kib),
        rss_end_kib,
        fds_start,
        fds_end,
    }
}

fn check(report: &Report) {
    eprintln!(
        "soak: {} requests, {} cuts, {} blackholes, {} reconnects, {} notifications, \
         {} results cut short; RSS {} KiB after a third, {} KiB at the end; descriptors {} then {}",
        report.requests,
        report.cuts,
        report.blackholes,
        report.reconnects,
        report.notifications,
        report.fragments,
        report.rss_early_kib,
        report.rss_end_kib,
        report.fds_start,
        report.fds_end
    );
    assert!(
        report.cuts + report.blackholes >= 15,
        "too few interruptions"
    );
    assert!(report.reconnects >= report.cuts / 2, "too few reconnects");
    assert!(
        report.rss_end_kib <= report.rss_early_kib + 1024,
        "memory grew from {} to {} KiB",
        report.rss_early_kib,
        report.rss_end_kib
    );
    assert_eq!(report.fds_start, report.fds_end, "descriptors leaked");
}

#[test]
fn a_minute_of_mixed_traffic_through_cuts_blackholes_and_rekeys_answers_every_request_once() {
    check(&soak(Duration::from_secs(60)));
}

#[test]
#[ignore = "ten minutes; run by hand: cargo test --test integration -- --ignored soak_for_ten_minutes --nocapture"]
fn soak_for_ten_minutes() {
    check(&soak(Duration::from_secs(600)));
}
