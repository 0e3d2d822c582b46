//! Putting an entry into the text of an app's config file: inserted as the
//! last member of its section (the section added to the top-level object if
//! it is missing), or, when asked to, replacing the value of an entry of
//! the same name. Every byte outside the inserted or replaced span is kept,
//! comments and trailing commas included, and the new text takes the
//! file's indentation, line endings and (for a one-line file) compactness.

use super::json_text::{Json, Layout, quote};
use super::jsonc::{self, Object, SyntaxError};

/// Why the entry could not be put into the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The text is not JSON(C).
    Syntax(SyntaxError),
    /// The text is JSON, but not of the shape the app reads: "line L, column
    /// C: what".
    Shape(String),
    /// An entry of that name exists and replacing it was not asked for.
    Exists,
}

/// What goes where: `section.name = entry`.
pub struct Placement<'a> {
    /// The top-level key that holds the servers (`mcpServers`, …).
    pub section: &'a str,
    pub name: &'a str,
    pub entry: &'a Json,
    /// Replace an entry of the same name.
    pub force: bool,
}

/// The whole file for `placement` alone, as a new file holds it.
pub fn new_file(placement: &Placement<'_>) -> String {
    format!("{}\n", document(placement).render("", &Layout::default()))
}

/// `text` with the entry put in.
pub fn merge(text: &str, placement: &Placement<'_>) -> Result<String, Refusal> {
    let Some(root) = jsonc::parse(text).map_err(Refusal::Syntax)? else {
        return Ok(if text.trim().is_empty() {
            new_file(placement)
        } else {
            // Only comments: keep them, and start the JSON below them.
            let newline = newline_of(text);
            let layout = Layout {
                newline,
                ..Layout::default()
            };
            let gap = if text.ends_with('\n') { "" } else { newline };
            format!(
                "{text}{gap}{}{newline}",
                document(placement).render("", &layout)
            )
        });
    };
    let shape = |at: usize, what: String| {
        let (line, column) = jsonc::line_column(text, at);
        Refusal::Shape(format!("line {line}, column {column}: {what}"))
    };
    let Some(root) = root.object else {
        return Err(shape(root.start, "the file is not a JSON object".into()));
    };
    let layout = layout_of(text, &root);
    let Some(section) = root.member(placement.section) else {
        let value = Json::Object(vec![(placement.name.into(), placement.entry.clone())]);
        return Ok(insert(text, &root, placement.section, &value, &layout));
    };
    let Some(servers) = &section.value.object else {
        let what = format!("'{}' is not an object", placement.section);
        return Err(shape(section.value.start, what));
    };
    let Some(existing) = servers.member(placement.name) else {
        return Ok(insert(
            text,
            servers,
            placement.name,
            placement.entry,
            &layout,
        ));
    };
    if !placement.force {
        return Err(Refusal::Exists);
    }
    let indent = if starts_line(text, existing.key_start) {
        line_indent(text, existing.key_start).to_string()
    } else {
        member_indent(text, servers, &layout)
    };
    let value = placement.entry.render(&indent, &layout);
    let span = existing.value.start..existing.value.end;
    Ok(format!(
        "{}{value}{}",
        &text[..span.start],
        &text[span.end..]
    ))
}

fn document(placement: &Placement<'_>) -> Json {
    let servers = Json::Object(vec![(placement.name.into(), placement.entry.clone())]);
    Json::Object(vec![(placement.section.into(), servers)])
}

/// `text` with `"key": value` added as the last member of `object`.
fn insert(text: &str, object: &Object, key: &str, value: &Json, layout: &Layout) -> String {
    let indent = member_indent(text, object, layout);
    let member = format!("{}: {}", quote(key), value.render(&indent, layout));
    // (offset, text) in increasing offsets.
    let mut edits: Vec<(usize, String)> = Vec::new();
    let (after, trailing_comma) = match object.members.last() {
        None => (object.open + 1, false),
        Some(last) => match last.comma {
            Some(comma) => (comma + 1, true),
            None => {
                edits.push((last.value.end, ",".into()));
                (last.value.end, false)
            }
        },
    };
    let comma = if trailing_comma { "," } else { "" };
    if layout.compact {
        let space = if object.members.is_empty() { "" } else { " " };
        edits.push((after, format!("{space}{member}{comma}")));
    } else {
        // After what ends the line (`, // about the last member`), so that
        // a comment stays with the member it was written beside.
        let at = end_of_line_trivia(text, after);
        let mut new = format!("{}{indent}{member}{comma}", layout.newline);
        if !text[at..object.close].contains('\n') {
            new.push_str(layout.newline);
            new.push_str(line_indent(text, object.open));
        }
        edits.push((at, new));
    }
    let mut out = String::with_capacity(text.len() + 512);
    let mut from = 0;
    for (at, new) in edits {
        out.push_str(&text[from..at]);
        out.push_str(&new);
        from = at;
    }
    out.push_str(&text[from..]);
    out
}

/// The layout of text to insert in the file whose top-level object is `root`.
fn layout_of(text: &str, root: &Object) -> Layout {
    let base = line_indent(text, root.open);
    let unit = root
        .members
        .iter()
        .find(|m| starts_line(text, m.key_start))
        .and_then(|m| line_indent(text, m.key_start).strip_prefix(base))
        .filter(|unit| !unit.is_empty())
        .unwrap_or("  ");
    let one_line = !text[root.open..root.close].contains('\n');
    Layout {
        unit: unit.into(),
        newline: newline_of(text),
        // An empty `{}` becomes a readable file, not a one-line one.
        compact: one_line && !root.members.is_empty(),
    }
}

fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// The indentation of `object`'s members: that of its last member written
/// on a line of its own, else one unit more than the line of its brace.
fn member_indent(text: &str, object: &Object, layout: &Layout) -> String {
    match object
        .members
        .iter()
        .rev()
        .find(|m| starts_line(text, m.key_start))
    {
        Some(member) => line_indent(text, member.key_start).into(),
        None => format!("{}{}", line_indent(text, object.open), layout.unit),
    }
}

/// The spaces and tabs that begin the line holding byte `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    let end = line
        .find(|c: char| c != ' ' && c != '\t')
        .unwrap_or(line.len());
    &line[..end]
}

/// Whether only spaces and tabs come before byte `at` on its line.
fn starts_line(text: &str, at: usize) -> bool {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[start..at].bytes().all(|b| b == b' ' || b == b'\t')
}

/// Where the line that `from` is on ends, if only spaces, tabs and
/// comments follow `from` on it; else `from` itself. A block comment that
/// runs onto another line is left where it is (text goes before it).
fn end_of_line_trivia(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    loop {
        match bytes.get(at) {
            Some(b' ' | b'\t') => at += 1,
            Some(b'\r' | b'\n') => return at,
            Some(b'/') if bytes.get(at + 1) == Some(&b'/') => {
                let rest = &text[at..];
                return at + rest.find(['\r', '\n']).unwrap_or(rest.len());
            }
            Some(b'/') if bytes.get(at + 1) == Some(&b'*') => {
                let body = &text[at + 2..];
                match body.find("*/") {
                    Some(end) if !body[..end].contains('\n') => at += 2 + end + 2,
                    _ => return from,
                }
            }
            _ => return from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Json {
        Json::Object(vec![
            ("command".into(), Json::Str("/bin/m2m".into())),
            ("args".into(), Json::Array(vec![Json::Str("--host".into())])),
        ])
    }

    fn put(text: &str, force: bool) -> Result<String, Refusal> {
        let entry = entry();
        let placement = Placement {
            section: "mcpServers",
            name: "srv",
            entry: &entry,
            force,
        };
        merge(text, &placement)
    }

    const ENTRY_AT_4: &str = "\"srv\": {\n      \"command\": \"/bin/m2m\",\n      \"args\": [\n        \"--host\"\n      ]\n    }";

    #[test]
    fn an_empty_or_blank_file_becomes_the_new_file() {
        let new = "{\n  \"mcpServers\": {\n    \"srv\": {\n      \"command\": \"/bin/m2m\",\n      \"args\": [\n        \"--host\"\n      ]\n    }\n  }\n}\n";
        assert_eq!(put("", false).unwrap(), new);
        assert_eq!(put(" \n\n", false).unwrap(), new);
        assert_eq!(put("{}", false).unwrap(), new.trim_end());
        assert_eq!(put("// mine", false).unwrap(), format!("// mine\n{new}"));
    }

    #[test]
    fn the_section_is_added_after_the_last_member_with_a_comma() {
        let text = "{\n  \"theme\": \"dark\"\n}\n";
        assert_eq!(
            put(text, false).unwrap(),
            format!(
                "{{\n  \"theme\": \"dark\",\n  \"mcpServers\": {{\n    {ENTRY_AT_4}\n  }}\n}}\n"
            )
        );
    }

    #[test]
    fn a_trailing_comma_and_a_comment_after_the_last_member_stay_where_they_are() {
        let text = "{\n  \"theme\": \"dark\", // mine\n  // \"x\": 1\n}";
        assert_eq!(
            put(text, false).unwrap(),
            format!(
                "{{\n  \"theme\": \"dark\", // mine\n  \"mcpServers\": {{\n    {ENTRY_AT_4}\n  }},\n  // \"x\": 1\n}}"
            )
        );
        let text = "{\n  \"theme\": \"dark\" /* a */ // b\n}";
        assert_eq!(
            put(text, false).unwrap(),
            format!(
                "{{\n  \"theme\": \"dark\", /* a */ // b\n  \"mcpServers\": {{\n    {ENTRY_AT_4}\n  }}\n}}"
            )
        );
    }

    #[test]
    fn the_entry_goes_last_in_an_existing_section_with_its_indentation_and_crlf() {
        let text = "{\r\n\t\"mcpServers\": {\r\n\t\t\"other\": {}\r\n\t},\r\n\t\"x\": [1]\r\n}\r\n";
        assert_eq!(
            put(text, false).unwrap(),
            "{\r\n\t\"mcpServers\": {\r\n\t\t\"other\": {},\r\n\t\t\"srv\": {\r\n\t\t\t\"command\": \"/bin/m2m\",\r\n\t\t\t\"args\": [\r\n\t\t\t\t\"--host\"\r\n\t\t\t]\r\n\t\t}\r\n\t},\r\n\t\"x\": [1]\r\n}\r\n"
        );
    }

    #[test]
    fn an_empty_section_is_opened_onto_lines_of_its_own() {
        let text = "{\n    \"mcpServers\": {},\n    \"x\": 1\n}";
        let out = put(text, false).unwrap();
        assert!(
            out.starts_with("{\n    \"mcpServers\": {\n        \"srv\": {\n"),
            "{out}"
        );
        assert!(out.ends_with("        }\n    },\n    \"x\": 1\n}"), "{out}");
        let text = "{\n  \"mcpServers\": { // none yet\n  }\n}";
        assert!(
            put(text, false)
                .unwrap()
                .starts_with("{\n  \"mcpServers\": { // none yet\n    \"srv\": {")
        );
    }

    #[test]
    fn a_one_line_file_stays_on_one_line() {
        assert_eq!(
            put(r#"{"a":1,"mcpServers":{"o":{}}}"#, false).unwrap(),
            r#"{"a":1,"mcpServers":{"o":{}, "srv": {"command": "/bin/m2m", "args": ["--host"]}}}"#
        );
        assert_eq!(
            put(r#"{"mcpServers":{},}"#, false).unwrap(),
            r#"{"mcpServers":{"srv": {"command": "/bin/m2m", "args": ["--host"]}},}"#
        );
    }

    #[test]
    fn an_entry_of_the_same_name_is_replaced_only_when_forced() {
        let text = "{\n  \"mcpServers\": {\n    \"srv\": {\"command\": \"old\"}, // keep\n    \"b\": 2\n  }\n}";
        assert_eq!(put(text, false), Err(Refusal::Exists));
        assert_eq!(
            put(text, true).unwrap(),
            format!("{{\n  \"mcpServers\": {{\n    {ENTRY_AT_4}, // keep\n    \"b\": 2\n  }}\n}}")
        );
    }

    #[test]
    fn a_file_of_another_shape_is_refused_with_where() {
        assert_eq!(
            put("\n [1]", false),
            Err(Refusal::Shape(
                "line 2, column 2: the file is not a JSON object".into()
            ))
        );
        assert_eq!(
            put("{\"mcpServers\": []}", false),
            Err(Refusal::Shape(
                "line 1, column 16: 'mcpServers' is not an object".into()
            ))
        );
        assert!(matches!(put("{\"a\" 1}", false), Err(Refusal::Syntax(_))));
    }

    #[test]
    fn every_result_is_valid_jsonc_holding_the_entry() {
        let texts = [
            "{}",
            "{ }",
            "{\n}",
            "{\"a\":1}",
            "{\"a\":1,}",
            "{\n\"a\":1 }",
            "{\"a\":1 /* c\n */}",
            "{\"mcpServers\":{\"o\":1 // c\n}}",
            "{\"mcpServers\":{\n/* x */}}",
            "/* lead */ {\"mcpServers\" : {\"srv\": 1}} // end",
            "{\"mcpServers\":{\"srv\":[],}\r\n}",
        ];
        for text in texts {
            let out = put(text, true).unwrap();
            let root = jsonc::parse(&out).unwrap().unwrap().object.unwrap();
            let servers = root
                .member("mcpServers")
                .unwrap()
                .value
                .object
                .as_ref()
                .unwrap();
            let srv = servers.member("srv").unwrap();
            let value = &out[srv.value.start..srv.value.end];
            assert!(value.contains("\"/bin/m2m\""), "{text:?} became {out:?}");
        }
    }
}
