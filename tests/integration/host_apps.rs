//! `config HOST_APP`: the printed entry in each app's format, and `--write`
//! merging it into the app's file without disturbing anything else. The
//! real binary, with HOME in a temporary folder and no XDG_CONFIG_HOME, so
//! that the apps' usual (Linux) locations are known.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::*;

const APPS: [&str; 6] = [
    "claude-desktop",
    "claude-code",
    "cursor",
    "vscode",
    "windsurf",
    "zed",
];

/// Session flags with a value holding spaces and an `=` form.
const FLAGS: [&str; 6] = [
    "--host",
    "mcp.example.org",
    "--command",
    "python3 /srv/my server.py",
    "--port=2222",
    "--accept-new",
];

/// The server name `FLAGS` give by default.
const NAME: &str = "mcp-example-org";

fn home() -> TempDir {
    tempfile::Builder::new().prefix("home-").tempdir().unwrap()
}

/// The binary's `config` in `home`, with a clean environment.
fn command(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("config")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home);
    cmd
}

fn config(home: &Path, args: &[&str]) -> Output {
    command(home, args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Where the app keeps its file on Linux, under `home`.
fn usual_file(home: &Path, app: &str) -> PathBuf {
    home.join(match app {
        "claude-desktop" => ".config/Claude/claude_desktop_config.json",
        "claude-code" => ".claude.json",
        "cursor" => ".cursor/mcp.json",
        "vscode" => ".config/Code/User/mcp.json",
        "windsurf" => ".codeium/windsurf/mcp_config.json",
        "zed" => ".config/zed/settings.json",
        other => panic!("no app {other}"),
    })
}

fn section(app: &str) -> &'static str {
    match app {
        "vscode" => "servers",
        "zed" => "context_servers",
        _ => "mcpServers",
    }
}

fn human_name(app: &str) -> &'static str {
    match app {
        "claude-desktop" => "Claude Desktop",
        "claude-code" => "Claude Code",
        "cursor" => "Cursor",
        "vscode" => "VS Code",
        "windsurf" => "Windsurf",
        "zed" => "Zed",
        other => panic!("no app {other}"),
    }
}

/// This binary's absolute path, as every entry must name it.
fn own_path() -> String {
    fs::canonicalize(bin())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The entry each app expects for `args`.
fn expected_entry(app: &str, args: &[&str]) -> Value {
    let (command, args) = (own_path(), json!(args));
    match app {
        "claude-code" => json!({"type": "stdio", "command": command, "args": args, "env": {}}),
        "vscode" => json!({"type": "stdio", "command": command, "args": args}),
        "zed" => json!({"source": "custom", "command": command, "args": args, "env": {}}),
        _ => json!({"command": command, "args": args}),
    }
}

/// How many bytes `a` and `b` share at their start and at their end: when
/// they add up to the length of `a`, `b` is `a` with one insertion.
fn shared_ends(a: &str, b: &str) -> (usize, usize) {
    let prefix = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let suffix = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (prefix, suffix.min(a.len() - prefix))
}

#[test]
fn config_prints_for_every_app_an_entry_in_its_format_with_this_binary_and_the_flags_as_given() {
    let home = home();
    for app in APPS {
        let mut args = vec![app];
        args.extend(FLAGS);
        let output = config(home.path(), &args);
        assert!(output.status.success(), "{app}: {}", text(&output.stderr));
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        let entry = &printed[section(app)][NAME];
        assert_eq!(entry, &expected_entry(app, &FLAGS), "{app}");
        assert!(Path::new(entry["command"].as_str().unwrap()).is_absolute());
        assert_eq!(printed.as_object().unwrap().len(), 1);
        assert_eq!(printed[section(app)].as_object().unwrap().len(), 1);
        // Said where it goes, and nothing was written.
        let usual = usual_file(home.path(), app);
        assert!(
            text(&output.stderr).contains(&usual.display().to_string()),
            "{}",
            text(&output.stderr)
        );
        assert!(!usual.exists());
    }
}

#[test]
fn write_adds_the_entry_keeping_every_other_server_and_key_and_a_backup() {
    for app in APPS {
        let home = home();
        let path = usual_file(home.path(), app);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let original = format!(
            "{{\n  \"theme\": \"dark\",\n  \"{}\": {{\n    \"other\": {{\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"other server\"]\n    }}\n  }},\n  \"numbers\": [1, 2.5e3, null, true, {{\"deep\": \"}}\"}}]\n}}\n",
            section(app)
        );
        fs::write(&path, &original).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

        let output = config(
            home.path(),
            &[app, "--write", "--name", "srv", "--host", "h"],
        );
        assert!(output.status.success(), "{app}: {}", text(&output.stderr));
        let backup = PathBuf::from(format!("{}.bak", path.display()));
        assert_eq!(
            text(&output.stdout),
            format!(
                "wrote server 'srv' to {} (backup: {})\nrestart {} to load it\n",
                path.display(),
                backup.display(),
                human_name(app)
            )
        );
        assert_eq!(fs::read_to_string(&backup).unwrap(), original);
        let written = fs::read_to_string(&path).unwrap();
        let (prefix, suffix) = shared_ends(&original, &written);
        assert_eq!(
            prefix + suffix,
            original.len(),
            "{app}: not one insertion:\n{written}"
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );

        let mut after: Value = serde_json::from_str(&written).unwrap();
        let entry = after[section(app)]
            .as_object_mut()
            .unwrap()
            .remove("srv")
            .unwrap();
        assert_eq!(entry, expected_entry(app, &["--host", "h"]));
        assert_eq!(after, serde_json::from_str::<Value>(&original).unwrap());
    }
}

#[test]
fn write_into_commented_settings_keeps_comments_trailing_commas_and_indentation() {
    let home = home();
    let command = serde_json::to_string(&own_path()).unwrap();
    let zed = usual_file(home.path(), "zed");
    fs::create_dir_all(zed.parent().unwrap()).unwrap();
    let settings = "// Zed settings\n{\n    \"theme\": \"One Dark\", // mine\n    /* fonts */\n    \"buffer_font_size\": 15,\n    \"context_servers\": {\n        \"other\": {\"source\": \"custom\", \"command\": \"x\", \"args\": [], \"env\": {},},\n    },\n}\n";
    fs::write(&zed, settings).unwrap();
    let output = config(home.path(), &["zed", "--write", "--host", "h"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let inserted = format!(
        "        \"h\": {{\n            \"source\": \"custom\",\n            \"command\": {command},\n            \"args\": [\n                \"--host\",\n                \"h\"\n            ],\n            \"env\": {{}}\n        }},\n"
    );
    let at = settings.find("    },\n}").unwrap();
    assert_eq!(
        fs::read_to_string(&zed).unwrap(),
        format!("{}{inserted}{}", &settings[..at], &settings[at..])
    );

    let vscode = usual_file(home.path(), "vscode");
    fs::create_dir_all(vscode.parent().unwrap()).unwrap();
    let mcp = "{\r\n\t// my inputs\r\n\t\"inputs\": [],\r\n}\r\n";
    fs::write(&vscode, mcp).unwrap();
    let output = config(home.path(), &["vscode", "--write", "--name", "s"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        fs::read_to_string(&vscode).unwrap(),
        format!(
            "{{\r\n\t// my inputs\r\n\t\"inputs\": [],\r\n\t\"servers\": {{\r\n\t\t\"s\": {{\r\n\t\t\t\"type\": \"stdio\",\r\n\t\t\t\"command\": {command},\r\n\t\t\t\"args\": []\r\n\t\t}}\r\n\t}},\r\n}}\r\n"
        )
    );
}

#[test]
fn a_second_write_of_the_same_name_is_refused_and_leaves_the_file_untouched() {
    let home = home();
    let path = usual_file(home.path(), "cursor");
    assert!(config(home.path(), &["cursor", "--write"]).status.success());
    let before = fs::read(&path).unwrap();
    let output = config(home.path(), &["cursor", "--write", "--port", "22"]);
    assert_eq!(output.status.code(), Some(22));
    assert_eq!(
        text(&output.stderr),
        format!(
            "{PREFIX}{} already has a server named 'localhost'; choose another with --name, or replace it with --force\n",
            path.display()
        )
    );
    assert!(output.stdout.is_empty());
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(!Path::new(&format!("{}.bak", path.display())).exists());
}

#[test]
fn force_replaces_only_that_entry() {
    let home = home();
    let path = usual_file(home.path(), "claude-desktop");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let old_value = "{\"command\": \"/old/m2m\", \"args\": [\"--host\", \"old\"]}";
    let original = format!(
        "{{\n  \"mcpServers\": {{\n    \"a\": {{\"command\": \"a\"}},\n    \"srv\": {old_value},\n    \"z\": {{\"command\": \"z\"}}\n  }},\n  \"globalShortcut\": \"\"\n}}"
    );
    fs::write(&path, &original).unwrap();
    let flags = ["--name", "srv", "--force", "--host", "new"];
    let output = config(
        home.path(),
        &[&["claude-desktop", "--write"], &flags[..]].concat(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let written = fs::read_to_string(&path).unwrap();
    let start = original.find(old_value).unwrap();
    let end = start + old_value.len();
    assert!(written.starts_with(&original[..start]), "{written}");
    assert!(written.ends_with(&original[end..]), "{written}");
    let after: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(
        after["mcpServers"]["srv"],
        expected_entry("claude-desktop", &["--host", "new"])
    );
    assert_eq!(
        fs::read_to_string(format!("{}.bak", path.display())).unwrap(),
        original
    );
}

#[test]
fn write_into_a_missing_file_creates_it_and_its_folders_private() {
    for app in APPS {
        let home = home();
        let mut args = vec![app];
        args.extend(FLAGS);
        let printed = config(home.path(), &args).stdout;
        args.push("--write");
        let output = config(home.path(), &args);
        assert!(output.status.success(), "{app}: {}", text(&output.stderr));
        let path = usual_file(home.path(), app);
        assert_eq!(
            text(&output.stdout),
            format!(
                "wrote server '{NAME}' to {}\nrestart {} to load it\n",
                path.display(),
                human_name(app)
            )
        );
        assert_eq!(fs::read(&path).unwrap(), printed, "{app}");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn file_names_the_file_to_write_instead_of_the_apps_usual_one() {
    let home = home();
    let elsewhere = home.path().join("elsewhere/my mcp.json");
    let file = format!("--file={}", elsewhere.display());
    let output = config(home.path(), &["windsurf", "--write", &file]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let written: Value = serde_json::from_slice(&fs::read(&elsewhere).unwrap()).unwrap();
    assert_eq!(
        written["mcpServers"]["localhost"],
        expected_entry("windsurf", &[])
    );
    assert!(!usual_file(home.path(), "windsurf").exists());

    let output = config(home.path(), &["windsurf", &file]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--file needs --write"));
}

#[test]
fn invalid_json_in_the_file_is_exit_21_naming_line_and_column_and_leaves_it_untouched() {
    let home = home();
    let path = usual_file(home.path(), "claude-code");
    let broken = "{\n  \"mcpServers\": {\n    \"a\": {}\n    \"b\": {}\n  }\n}\n";
    fs::write(&path, broken).unwrap();
    let output = config(home.path(), &["claude-code", "--write"]);
    assert_eq!(output.status.code(), Some(21));
    assert_eq!(
        text(&output.stderr),
        format!(
            "{PREFIX}{}: line 4, column 5: expected ',' or '}}' after a member; fix the file (Claude Code cannot read it either), then run again\n",
            path.display()
        )
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
    assert!(!Path::new(&format!("{}.bak", path.display())).exists());
}

#[test]
fn an_unknown_or_missing_host_app_is_a_usage_error_listing_the_apps() {
    let home = home();
    for args in [&["notepad", "--host", "h"][..], &[], &["--host", "h"]] {
        let output = config(home.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = text(&output.stderr);
        for app in APPS {
            assert!(stderr.contains(app), "{stderr}");
        }
    }
}

#[test]
fn a_bad_session_flag_is_refused_with_the_sessions_own_error() {
    let home = home();
    for flags in [
        &["--port", "0"][..],
        &["--port", "x"],
        &["--log-level", "LOUD"],
        &["--command", "a", "--subsystem", "b"],
        &["--no-such-flag"],
    ] {
        let session = Command::new(bin())
            .args(flags)
            .env_clear()
            .env("HOME", home.path())
            .output()
            .unwrap();
        let output = config(home.path(), &[&["zed", "--write"], flags].concat());
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        assert_eq!(output.status.code(), session.status.code(), "{flags:?}");
        assert_eq!(text(&output.stderr), text(&session.stderr), "{flags:?}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(fs::read_dir(home.path()).unwrap().count(), 0);
}

#[test]
fn a_passphrase_among_the_flags_is_warned_about() {
    let home = home();
    let output = config(home.path(), &["cursor", "--passphrase", "secret"]);
    assert!(output.status.success());
    assert!(
        text(&output.stderr).starts_with(&format!(
            "{PREFIX}warning: --passphrase goes into Cursor's config file in plain text"
        )),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn config_help_says_what_it_does_in_one_screen_and_names_every_app() {
    let home = home();
    let output = config(home.path(), &["zed", "--port", "x", "--help"]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    assert!(help.lines().count() <= 24, "{help}");
    assert!(help.contains("--write") && help.contains("--force") && help.contains("restart"));
    for app in APPS {
        assert!(help.contains(app), "{help}");
    }
}
