//! The scanner against a real JSON parser: generated JSON-RPC lines of
//! every shape (requests, notifications, results, errors, batches; ids as
//! numbers of every form, strings with every escape, null and worse; nested
//! params; keys in any order and repeated; whitespace everywhere; U+2028;
//! invalid UTF-8; lines cut short), fed in chunks cut at random points, and
//! what the scanner claims (each message's kind, id and method, and whether
//! a message is complete) compared with what `serde_json` makes of the same
//! line.
//!
//! A fixed seed and a bounded count run with every `cargo test`; a longer
//! run is the ignored test, with `M2M_FUZZ_CASES` and `M2M_FUZZ_SEED`
//! (README, "Running the tests").

use serde_json::Value;

use super::Scanner;
use super::{MAX_ID_LEN, MAX_METHOD_LEN};
use crate::mcp::message::{Id, Message};

/// Lines per run with every `cargo test`: a few seconds in a debug build.
const CASES: u64 = 100_000;
/// The seed of that run.
const SEED: u64 = 0x006d_326d_2d6d_6370;

/// splitmix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn space(rng: &mut Rng, out: &mut Vec<u8>) {
    if rng.chance(20) {
        for _ in 0..rng.below(3) + 1 {
            out.push(rng.pick(b" \t\r"));
        }
    }
}

/// A JSON string, quotes included, with any escape, raw non-ASCII and
/// U+2028; rarely a raw invalid byte or control character (not JSON).
fn string(rng: &mut Rng, out: &mut Vec<u8>, max_len: usize) {
    out.push(b'"');
    for _ in 0..rng.below(max_len + 1) {
        match rng.below(20) {
            0 => out.extend_from_slice(rng.pick(&[
                &b"\\\""[..],
                b"\\\\",
                b"\\/",
                b"\\b",
                b"\\f",
                b"\\n",
                b"\\r",
                b"\\t",
            ])),
            1 => {
                let unit = rng.pick(&[0x41, 0x00, 0x1f, 0xe9, 0x2028, 0xd83d, 0xde00, 0xfffd]);
                out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                if unit == 0xd83d && rng.chance(80) {
                    out.extend_from_slice(b"\\ude00");
                }
            }
            2 => out.extend_from_slice("é€😀\u{2028}\u{2029}\u{85}".as_bytes()),
            3 if rng.chance(10) => out.push(rng.pick(&[0xff, 0xc3, 0x80, 0x01, b'\t'])),
            _ => out.push(rng.pick(b"abcxyz019 {}[],:-")),
        }
    }
    out.push(b'"');
}

fn number(rng: &mut Rng, out: &mut Vec<u8>) {
    let text: String = match rng.below(8) {
        0 => rng.below(1000).to_string(),
        1 => format!("-{}", rng.below(1000)),
        2 => "123456789012345678901234567890".into(),
        3 => format!("{}.{}", rng.below(100), rng.below(100)),
        4 => format!("{}e{}", rng.below(10), rng.pick(&["3", "+2", "-2", "400"])),
        5 => rng.pick(&["0", "-0", "1E3", "0.5e-1"]).to_string(),
        6 => rng
            .pick(&["01", "1.", ".5", "-", "1e", "+1", "0x1f", "NaN"])
            .to_string(),
        _ => u64::MAX.to_string(),
    };
    out.extend_from_slice(text.as_bytes());
}

/// Any JSON value, nested up to `depth`.
fn value(rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => string(rng, out, 12),
        1 => number(rng, out),
        2 => out.extend_from_slice(rng.pick(&[&b"true"[..], b"false", b"null"])),
        3 => out.extend_from_slice(b"{}"),
        4 => out.extend_from_slice(b"[]"),
        5 => {
            out.push(b'[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(b',');
                }
                space(rng, out);
                value(rng, out, depth - 1);
                space(rng, out);
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(b',');
                }
                space(rng, out);
                key(rng, out);
                space(rng, out);
                out.push(b':');
                space(rng, out);
                value(rng, out, depth - 1);
            }
            out.push(b'}');
        }
    }
}

/// A member name: mostly one a message has, sometimes escaped.
fn key(rng: &mut Rng, out: &mut Vec<u8>) {
    let name: &[u8] = rng.pick(&[
        &b"\"id\""[..],
        b"\"method\"",
        b"\"params\"",
        b"\"result\"",
        b"\"error\"",
        b"\"jsonrpc\"",
        b"\"\\u0069d\"",
        b"\"meth\\u006fd\"",
        b"\"ID\"",
        b"\"idx\"",
    ]);
    if rng.chance(10) {
        string(rng, out, 8);
    } else {
        out.extend_from_slice(name);
    }
}

fn id(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(10) {
        0..=3 => number(rng, out),
        4..=7 => string(rng, out, 10),
        8 => out.extend_from_slice(b"null"),
        _ => value(rng, out, 1),
    }
}

/// A message object: the members of its kind, in any order, sometimes one
/// twice or one of the wrong type.
fn message(rng: &mut Rng, out: &mut Vec<u8>) {
    let mut members: Vec<Vec<u8>> = Vec::new();
    let member = |rng: &mut Rng, name: &[u8], value_of: &dyn Fn(&mut Rng, &mut Vec<u8>)| {
        let mut m = name.to_vec();
        space(rng, &mut m);
        m.push(b':');
        space(rng, &mut m);
        value_of(rng, &mut m);
        m
    };
    members.push(member(rng, b"\"jsonrpc\"", &|_, m| {
        m.extend_from_slice(b"\"2.0\"")
    }));
    let kind = rng.below(5);
    if kind != 1 {
        members.push(member(rng, b"\"id\"", &|rng, m| id(rng, m)));
    }
    if kind <= 1 {
        members.push(member(rng, b"\"method\"", &|rng, m| {
            if rng.chance(90) {
                if rng.chance(3) {
                    m.extend(std::iter::repeat_n(b'm', MAX_METHOD_LEN + rng.below(2)));
                    m.insert(m.len() - MAX_METHOD_LEN - 1, b'"');
                    m.push(b'"');
                } else {
                    string(rng, m, 16);
                }
            } else {
                value(rng, m, 1);
            }
        }));
        if rng.chance(70) {
            members.push(member(rng, b"\"params\"", &|rng, m| value(rng, m, 3)));
        }
    } else if kind <= 3 {
        members.push(member(rng, b"\"result\"", &|rng, m| value(rng, m, 3)));
    } else {
        members.push(member(rng, b"\"error\"", &|rng, m| {
            m.extend_from_slice(b"{\"code\":-32600,\"message\":");
            string(rng, m, 8);
            m.push(b'}');
        }));
    }
    if rng.chance(15) {
        let extra: &[u8] = rng.pick(&[&b"\"id\""[..], b"\"method\"", b"\"x\""]);
        members.push(member(rng, extra, &|rng, m| value(rng, m, 1)));
    }
    for i in (1..members.len()).rev() {
        let j = rng.below(i + 1);
        members.swap(i, j);
    }
    out.push(b'{');
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        space(rng, out);
        out.extend_from_slice(m);
        space(rng, out);
    }
    out.push(b'}');
}

/// One line, without its `\n`.
fn line(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    space(rng, &mut out);
    match rng.below(10) {
        0 => {
            out.push(b'[');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(b',');
                }
                space(rng, &mut out);
                if rng.chance(80) {
                    message(rng, &mut out);
                } else {
                    value(rng, &mut out, 1);
                }
            }
            out.push(b']');
        }
        1 => value(rng, &mut out, 2),
        _ => message(rng, &mut out),
    }
    space(rng, &mut out);
    if rng.chance(5) {
        // Cut short, or with a byte changed.
        let at = rng.below(out.len() + 1);
        if rng.chance(50) {
            out.truncate(at);
        } else if at < out.len() {
            out[at] = rng.pick(b"\"\\{}[]:,x\x00\xff");
        }
    }
    out
}

/// What a message is, read off serde_json's value by the scanner's rules.
fn expected(value: &Value) -> Vec<Message> {
    match value {
        Value::Object(_) => vec![classify(value)],
        Value::Array(elements) => elements.iter().map(classify).collect(),
        _ => vec![Message::Other],
    }
}

/// The id, or `Err` for one that makes the message `Other`.
type Field<T> = Result<Option<T>, ()>;

fn classify(element: &Value) -> Message {
    let Value::Object(members) = element else {
        return Message::Other;
    };
    let id: Field<Option<Value>> = match members.get("id") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.len() <= MAX_ID_LEN => Ok(Some(Some(Value::String(s.clone())))),
        Some(n @ Value::Number(_)) => Ok(Some(Some(n.clone()))),
        Some(_) => Err(()),
    };
    let method: Field<String> = match members.get("method") {
        None => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_METHOD_LEN => Ok(Some(s.clone())),
        Some(_) => Err(()),
    };
    let id_of = |v: Value| match v {
        Value::String(s) => Id::String(s.as_str().into()),
        // Numbers are compared by value in `same`; the text here is serde's.
        other => Id::Number(other.to_string().as_str().into()),
    };
    match (id, method) {
        (Err(()), _) | (_, Err(())) => Message::Other,
        (Ok(Some(Some(id))), Ok(Some(method))) => Message::Request {
            id: id_of(id),
            method: method.as_str().into(),
        },
        (Ok(None), Ok(Some(method))) => Message::Notification {
            method: method.as_str().into(),
        },
        (Ok(Some(None)), Ok(Some(_))) => Message::Other,
        (Ok(Some(id)), Ok(None)) => Message::Response { id: id.map(id_of) },
        (Ok(None), Ok(None)) => Message::Other,
    }
}

/// Equal, with number ids compared as the numbers they write.
fn same(got: &Message, want: &Message) -> bool {
    let id_same = |a: &Id, b: &Id| match (a, b) {
        (Id::Number(a), Id::Number(b)) => {
            let parse = |t: &str| serde_json::from_str::<Value>(t).ok();
            // The scanner keeps the literal; over about 400 digits of
            // exponent neither side has a number to compare.
            parse(a) == parse(b) && parse(a).is_some()
        }
        _ => a == b,
    };
    match (got, want) {
        (Message::Request { id: a, method: m }, Message::Request { id: b, method: n }) => {
            id_same(a, b) && m == n
        }
        (Message::Response { id: Some(a) }, Message::Response { id: Some(b) }) => id_same(a, b),
        _ => got == want,
    }
}

fn scan_line(line: &[u8]) -> Vec<Message> {
    let mut scanner = Scanner::default();
    let mut out = Vec::new();
    scanner.push(line, |m| out.push(m));
    scanner.push(b"\n", |m| out.push(m));
    out
}

/// Runs `cases` generated lines from `seed`; returns the number compared
/// with serde_json (the rest were not JSON, and were checked for what can
/// be said of them).
fn run(seed: u64, cases: u64) -> u64 {
    let mut rng = Rng(seed);
    let mut compared = 0;
    let mut stream = Vec::new();
    let mut whole = Vec::new();
    for case in 0..cases {
        let line = line(&mut rng);
        let got = scan_line(&line);
        let context = || {
            format!(
                "case {case} of seed {seed:#x}: {:?}",
                String::from_utf8_lossy(&line)
            )
        };
        if line.iter().all(|b| b" \t\r".contains(b)) {
            assert_eq!(got, vec![], "{}", context());
        } else if let Ok(value) = serde_json::from_slice::<Value>(&line) {
            compared += 1;
            let want = expected(&value);
            assert!(
                got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| same(g, w)),
                "{}\n  scanner: {got:?}\n  serde:   {want:?}",
                context()
            );
            // Cut anywhere, a message is complete only if its object closed:
            // what is reported is the whole line's messages up to the cut,
            // then at most one `Other` for the line left open.
            let cut = rng.below(line.len());
            let part = scan_line(&line[..cut]);
            let complete = part.len().saturating_sub(1);
            assert!(
                part.len() <= got.len() + 1
                    && part[..complete] == got[..complete]
                    && part.last().is_none_or(
                        |last| *last == Message::Other || got.get(complete) == Some(last)
                    ),
                "{} cut at {cut}\n  cut:   {part:?}\n  whole: {got:?}",
                context()
            );
        }
        // Whatever the line, the next one is read afresh.
        let mut after = line.clone();
        after.extend_from_slice(b"\n{\"id\":7,\"method\":\"m\"}");
        let resync = scan_line(&after);
        assert_eq!(
            resync.last(),
            Some(&Message::Request {
                id: Id::Number("7".into()),
                method: "m".into(),
            }),
            "{}",
            context()
        );
        stream.extend_from_slice(&line);
        stream.push(b'\n');
        whole.extend(got);
    }
    // The same lines in one stream, cut into reads at random points.
    let mut scanner = Scanner::default();
    let mut chunked = Vec::new();
    let mut rest = stream.as_slice();
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rng.below(rest.len().min(300)) + 1);
        scanner.push(chunk, |m| chunked.push(m));
        rest = tail;
    }
    assert!(chunked == whole, "seed {seed:#x}: chunked reads differ");
    compared
}

#[test]
fn the_scanner_agrees_with_serde_json_on_generated_lines_read_in_any_chunks() {
    let compared = run(SEED, CASES);
    // Most lines are JSON, so that most are compared, not only survived.
    assert!(compared > CASES / 2, "only {compared} of {CASES} compared");
}

/// The long run: `M2M_FUZZ_CASES` lines (default ten million) from
/// `M2M_FUZZ_SEED` (default: the time), in runs of 100,000.
#[test]
#[ignore = "minutes; run by hand: cargo test --release -- --ignored scanner_fuzz_long"]
fn scanner_fuzz_long() {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = var("M2M_FUZZ_CASES").unwrap_or(10_000_000);
    let seed = var("M2M_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut compared = 0;
    let mut run_seed = seed;
    let mut done = 0;
    while done < cases {
        let n = (cases - done).min(100_000);
        compared += run(run_seed, n);
        done += n;
        run_seed = run_seed.wrapping_add(1);
    }
    eprintln!(
        "scanner fuzz: {cases} lines from seed {seed:#x}, {compared} compared with serde_json"
    );
}
