//! The report as people read it (aligned rows, ✓ and ✗ at a terminal,
//! plain words elsewhere), or as one JSON document (`--json`).

use std::io::{self, Write};

use miniserde::Serialize;

/// One step's outcome.
#[derive(Serialize)]
pub struct Row {
    /// The step, as listed in `doctor --help`.
    pub name: &'static str,
    /// The jump host it was done with, when not the MCP server.
    pub leg: Option<String>,
    pub ok: bool,
    /// How long it took in microseconds, when something was waited for.
    pub us: Option<u64>,
    pub detail: String,
}

/// Where rows go.
pub struct Output {
    json: bool,
    terminal: bool,
    notes: Vec<String>,
    advice: Vec<String>,
}

/// The `--json` document.
#[derive(Serialize)]
struct Report<'a> {
    target: &'a str,
    ok: bool,
    exit_code: u8,
    total_us: u64,
    steps: &'a [Row],
    notes: &'a [String],
    fix: &'a [String],
}

/// Width of the step-name column: the longest name, "authentication".
const NAME_WIDTH: usize = 14;

impl Output {
    pub fn new(json: bool, terminal: bool) -> Output {
        Output {
            json,
            terminal,
            notes: Vec::new(),
            advice: Vec::new(),
        }
    }

    pub fn row(&mut self, row: &Row) {
        if self.json {
            return;
        }
        print_line(&format_row(row, self.terminal));
    }

    pub fn note(&mut self, text: &str) {
        if !self.json {
            print_line(&format!("  {text}"));
        }
        self.notes.push(text.to_string());
    }

    pub fn advice(&mut self, lines: &[String]) {
        if !self.json {
            for (n, line) in lines.iter().enumerate() {
                let lead = if n == 0 { "fix:" } else { "    " };
                print_line(&format!("  {lead} {line}"));
            }
        }
        self.advice.extend(lines.iter().cloned());
    }

    pub fn finish(&mut self, target: &str, rows: &[Row], code: u8, total_us: u64) {
        if self.json {
            let report = Report {
                target,
                ok: code == 0,
                exit_code: code,
                total_us,
                steps: rows,
                notes: &self.notes,
                fix: &self.advice,
            };
            print_line(&miniserde::json::to_string(&report));
            return;
        }
        let total = duration(total_us);
        match rows.iter().find(|row| !row.ok) {
            None => {
                // A step done again after a fix counts once.
                let mut names: Vec<&str> = rows.iter().map(|row| row.name).collect();
                names.sort_unstable();
                names.dedup();
                print_line(&format!(
                    "all {} steps passed for {target} in {}",
                    names.len(),
                    total.trim()
                ))
            }
            Some(row) => print_line(&format!(
                "stopped at {} (exit code {code}) after {}",
                row.name,
                total.trim()
            )),
        }
    }
}

/// One row, aligned: the mark, the step, its time, then what was found.
fn format_row(row: &Row, terminal: bool) -> String {
    let mark = match (row.ok, terminal) {
        (true, true) => "✓",
        (false, true) => "✗",
        (true, false) => "ok  ",
        (false, false) => "FAIL",
    };
    let time = row.us.map(duration).unwrap_or_default();
    let leg = row
        .leg
        .as_deref()
        .map(|leg| format!("({leg}) "))
        .unwrap_or_default();
    format!(
        "{mark} {:<NAME_WIDTH$} {time:>9}  {leg}{}",
        row.name, row.detail
    )
}

/// "0.4 ms", "12 ms", "1.23 s": in integers, since float formatting
/// would add its own code to the binary for these few lines.
fn duration(us: u64) -> String {
    match us {
        0..10_000 => format!("{}.{} ms", us / 1000, (us % 1000) / 100),
        10_000..999_500 => format!("{} ms", (us + 500) / 1000),
        _ => format!("{}.{:02} s", us / 1_000_000, (us % 1_000_000) / 10_000),
    }
}

/// Microseconds as milliseconds with two decimals: "0.28".
pub fn millis(us: u64) -> String {
    format!("{}.{:02}", us / 1000, (us % 1000) / 10)
}

/// One line on stdout, its control characters escaped (much of it comes
/// from the remote); a closed stdout ends nothing (the checks go on and the
/// exit code still tells).
fn print_line(line: &str) {
    let line = crate::log::visible(format_args!("{line}"), false);
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ok: bool, us: Option<u64>, leg: Option<&str>) -> Row {
        Row {
            name: "host key",
            leg: leg.map(str::to_string),
            ok,
            us,
            detail: "found".into(),
        }
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(0), "0.0 ms");
        assert_eq!(duration(9_999), "9.9 ms");
        assert_eq!(duration(10_000), "10 ms");
        assert_eq!(duration(999_499), "999 ms");
        assert_eq!(duration(1_234_567), "1.23 s");
        assert_eq!(millis(280), "0.28");
        assert_eq!(millis(12_345), "12.34");
    }

    #[test]
    fn rows_are_aligned_with_marks_at_a_terminal_and_words_elsewhere() {
        assert_eq!(
            format_row(&row(true, Some(420), None), true),
            "✓ host key          0.4 ms  found"
        );
        assert_eq!(
            format_row(&row(false, Some(1_234_000), Some("jump host j:22")), false),
            "FAIL host key          1.23 s  (jump host j:22) found"
        );
        assert_eq!(
            format_row(&row(true, None, None), false),
            "ok   host key                  found"
        );
        assert_eq!(
            format_row(&row(true, Some(25_400), None), false),
            "ok   host key           25 ms  found"
        );
    }
}
