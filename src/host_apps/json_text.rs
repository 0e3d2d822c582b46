//! Writing the entries as JSON text: a value of strings, arrays and objects
//! (all an entry holds), pretty at any indent and with any line ending, so
//! that what is inserted into a user's file looks like the rest of it, or
//! compact for a file written on one line.

/// The JSON an entry is made of; members keep their order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// How inserted text is laid out, taken from the file it goes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// One level of indentation ("  ", "    ", "\t").
    pub unit: String,
    /// "\n", or "\r\n" in a file that uses it.
    pub newline: &'static str,
    /// Everything on one line, as in a minified file.
    pub compact: bool,
}

impl Default for Layout {
    /// What a new file gets: two spaces, as the apps write their own files.
    fn default() -> Layout {
        Layout {
            unit: "  ".into(),
            newline: "\n",
            compact: false,
        }
    }
}

impl Json {
    /// The value as text whose first line continues a line and whose other
    /// lines begin with `indent` (the indentation of the line it starts on).
    pub fn render(&self, indent: &str, layout: &Layout) -> String {
        let mut out = String::new();
        self.write(&mut out, indent, layout);
        out
    }

    fn write(&self, out: &mut String, indent: &str, layout: &Layout) {
        match self {
            Json::Str(s) => out.push_str(&quote(s)),
            Json::Array(items) => {
                let items = items.iter().map(|item| (None, item));
                write_container(out, ('[', ']'), items, indent, layout);
            }
            Json::Object(members) => {
                let members = members
                    .iter()
                    .map(|(key, value)| (Some(key.as_str()), value));
                write_container(out, ('{', '}'), members, indent, layout);
            }
        }
    }
}

fn write_container<'a>(
    out: &mut String,
    (open, close): (char, char),
    items: impl ExactSizeIterator<Item = (Option<&'a str>, &'a Json)>,
    indent: &str,
    layout: &Layout,
) {
    out.push(open);
    if items.len() == 0 {
        out.push(close);
        return;
    }
    let inner = format!("{indent}{}", layout.unit);
    for (i, (key, value)) in items.enumerate() {
        if i > 0 {
            out.push(',');
            if layout.compact {
                out.push(' ');
            }
        }
        if !layout.compact {
            out.push_str(layout.newline);
            out.push_str(&inner);
        }
        if let Some(key) = key {
            out.push_str(&quote(key));
            out.push_str(": ");
        }
        value.write(out, &inner, layout);
    }
    if !layout.compact {
        out.push_str(layout.newline);
        out.push_str(indent);
    }
    out.push(close);
}

/// `s` as a JSON string literal: quotes, backslashes and control characters
/// escaped (paths on Windows are full of backslashes; flags may hold
/// anything), everything else as it is, in UTF-8.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Json {
        Json::Object(vec![(
            "srv".into(),
            Json::Object(vec![
                ("command".into(), Json::Str("/bin/m2m".into())),
                (
                    "args".into(),
                    Json::Array(vec![Json::Str("--host".into()), Json::Str("h".into())]),
                ),
                ("env".into(), Json::Object(vec![])),
            ]),
        )])
    }

    #[test]
    fn pretty_text_indents_each_level_by_the_unit_from_the_given_indent() {
        let layout = Layout::default();
        assert_eq!(
            sample().render("", &layout),
            "{\n  \"srv\": {\n    \"command\": \"/bin/m2m\",\n    \"args\": [\n      \"--host\",\n      \"h\"\n    ],\n    \"env\": {}\n  }\n}"
        );
        let tabs = Layout {
            unit: "\t".into(),
            newline: "\r\n",
            compact: false,
        };
        let entry = Json::Object(vec![("a".into(), Json::Array(vec![]))]);
        assert_eq!(entry.render("\t", &tabs), "{\r\n\t\t\"a\": []\r\n\t}");
    }

    #[test]
    fn compact_text_stays_on_one_line() {
        let layout = Layout {
            compact: true,
            ..Layout::default()
        };
        assert_eq!(
            sample().render("    ", &layout),
            r#"{"srv": {"command": "/bin/m2m", "args": ["--host", "h"], "env": {}}}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_json_requires() {
        assert_eq!(
            quote("C:\\Program Files\\\"m2m\"\n\t\u{1}\u{7f}é✓"),
            "\"C:\\\\Program Files\\\\\\\"m2m\\\"\\n\\t\\u0001\u{7f}é✓\""
        );
    }
}
