//! One line of an SSH config file, split as OpenSSH splits it: a keyword
//! (any case), then `=` or whitespace, then arguments, each possibly in
//! double or single quotes, with `\` escaping a quote, a backslash or (out
//! of quotes) a space; `#` at the start of a line or of an argument begins
//! a comment.

/// A line with a keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Lowercased.
    pub keyword: String,
    /// The arguments, quotes and escapes removed.
    pub args: Vec<String>,
    /// What follows the keyword and its separator, as written: ProxyCommand
    /// takes it whole.
    pub rest: String,
    /// 1-based.
    pub number: usize,
}

/// The lines of `text` that carry a keyword; `Err` names the first line
/// whose quotes do not close.
pub fn parse(text: &str) -> Result<Vec<Line>, usize> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches([' ', '\t', '\r', '\u{c}']);
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((keyword, rest)) = split_keyword(line) else {
            continue;
        };
        let args = split_args(rest).ok_or(number)?;
        lines.push(Line {
            keyword: keyword.to_ascii_lowercase(),
            args,
            rest: rest.to_string(),
            number,
        });
    }
    Ok(lines)
}

/// The keyword and what follows it: split at whitespace or one `=`, with
/// whitespace around it (OpenSSH's `strdelim`).
fn split_keyword(line: &str) -> Option<(&str, &str)> {
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let keyword = &line[..end];
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start_matches([' ', '\t']);
    }
    (!keyword.is_empty()).then_some((keyword, rest))
}

/// OpenSSH's `argv_split` with comments ending the line.
pub fn split_args(s: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = s.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\t' {
            i += 1;
            continue;
        }
        if chars[i] == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                match chars.get(i + 1) {
                    Some(&next @ ('\'' | '"' | '\\')) => {
                        arg.push(next);
                        i += 1;
                    }
                    Some(' ') if quote.is_none() => {
                        arg.push(' ');
                        i += 1;
                    }
                    _ => arg.push(c),
                }
            } else if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            } else if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
            } else if quote == Some(c) {
                quote = None;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        if quote.is_some() {
            return None;
        }
        args.push(arg);
    }
    Some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_take_any_case_and_an_equals_sign_quotes_group_and_comments_end() {
        let text = "# top\n  HostName = a.example.com\nUser=\"jo doe\" # who\n\nIdentityFile '~/my key' x\\ y\n";
        let lines = parse(text).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].keyword, "hostname");
        assert_eq!(lines[0].args, ["a.example.com"]);
        assert_eq!(lines[0].number, 2);
        assert_eq!(lines[1].args, ["jo doe"]);
        assert_eq!(lines[2].args, ["~/my key", "x y"]);
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        assert_eq!(parse("Host a\n  User \"x\n"), Err(2));
    }

    #[test]
    fn a_keyword_alone_is_a_line_without_arguments() {
        let lines = parse("Match\n").unwrap();
        assert_eq!(lines[0].keyword, "match");
        assert!(lines[0].args.is_empty());
    }
}
