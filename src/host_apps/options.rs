//! The command line of `config`: the app, our own options (anywhere), and
//! the session's flags, which are everything else, kept verbatim and in
//! order because they become the entry's `args`.

use super::apps::App;
use crate::Error;

/// What `config` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub app: App,
    pub name: Option<String>,
    pub write: bool,
    pub file: Option<String>,
    pub force: bool,
    /// The session's flags, as given.
    pub session: Vec<String>,
}

/// The command line, split.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Help,
    Run(Options),
}

/// The session flags that name files: an app starts us in a working
/// directory of its own, where a relative path means something else.
const PATH_FLAGS: &[&str] = &["--client-key", "--known-hosts", "--ssh-config", "-F"];

/// The session flags with each relative file path made absolute from
/// `cwd` (`~` paths and `none` stay as given: they mean the same anywhere).
pub fn anchored(session: &[String], cwd: &std::path::Path) -> Vec<String> {
    let anchor = |value: &str| {
        let path = std::path::Path::new(value);
        if path.is_absolute() || value.starts_with('~') || value == "none" || value.is_empty() {
            value.to_string()
        } else {
            cwd.join(path).to_string_lossy().into_owned()
        }
    };
    let mut out = Vec::with_capacity(session.len());
    let mut args = session.iter();
    while let Some(arg) = args.next() {
        match arg.split_once('=') {
            Some((flag, value)) if PATH_FLAGS.contains(&flag) => {
                out.push(format!("{flag}={}", anchor(value)));
            }
            _ if PATH_FLAGS.contains(&arg.as_str()) => {
                out.push(arg.clone());
                if let Some(value) = args.next() {
                    out.push(anchor(value));
                }
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

/// Splits the arguments after `config`.
pub fn split(raw: Vec<String>) -> Result<Request, Error> {
    let mut app: Option<String> = None;
    let (mut name, mut file, mut write, mut force) = (None, None, false, false);
    let mut session = Vec::new();
    let mut raw = raw.into_iter();
    while let Some(arg) = raw.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag @ ("--name" | "--file"), value)) => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| raw.next())
                .ok_or_else(|| Error::Usage(format!("config: {flag} needs a value")))
        };
        match flag {
            "--help" | "-h" => return Ok(Request::Help),
            "--name" => name = Some(value("--name")?),
            "--file" => file = Some(value("--file")?),
            "--write" => write = true,
            "--force" => force = true,
            _ if app.is_none() && session.is_empty() => app = Some(arg),
            _ => session.push(arg),
        }
    }
    let app = app.ok_or_else(|| unknown_app("name the host app"))?;
    let app = App::named(&app).ok_or_else(|| unknown_app(&format!("unknown host app '{app}'")))?;
    for (flag, given) in [("--file", file.is_some()), ("--force", force)] {
        if given && !write {
            return Err(Error::Usage(format!(
                "config: {flag} needs --write (without it, the entry is only printed)"
            )));
        }
    }
    if file.as_deref() == Some("") {
        return Err(Error::Usage("config: --file must not be empty".into()));
    }
    let options = Options {
        app,
        name,
        write,
        file,
        force,
        session,
    };
    Ok(Request::Run(options))
}

fn unknown_app(what: &str) -> Error {
    let names: Vec<&str> = App::ALL.iter().map(|app| app.name()).collect();
    Error::Usage(format!(
        "config: {what}: config HOST_APP [options] [session flags], HOST_APP one of {}",
        names.join(", ")
    ))
}

/// `config --help`: one screen.
pub const HELP: &str = "\
Usage: m2m-mcp-server-ssh-client config HOST_APP [--name NAME] [--write [--file FILE] [--force]]
         [session flags...]

Prints the entry that makes HOST_APP start this program with the session flags
given (the same flags the bare program and `doctor` take), in that app's format,
with this program's absolute path as the command. With --write, merges it into
the app's config file instead, keeping everything else in the file as it was.

HOST_APP:
  claude-desktop  claude-code  cursor  vscode  windsurf  zed

Options:
  --name NAME    the server's name in the app (default: --host, with every
                 character other than letters, digits, - and _ made a -)
  --write        add the entry to the app's config file (created if missing),
                 saving the previous file as FILE.bak
  --file FILE    the config file to write (default: the app's usual one)
  --force        replace a server of the same name (without it, refused)
  --help, -h     print this help

Example:
  m2m-mcp-server-ssh-client config claude-desktop --write --host my.server --username mcp

Then restart the app so that it starts the server.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_file_paths_are_made_absolute_and_the_rest_kept() {
        let given: Vec<String> = [
            "--client-key",
            "keys/id",
            "--known-hosts=kh",
            "-F",
            "none",
            "--ssh-config",
            "~/.ssh/config",
            "--command",
            "./server",
            "--known-hosts",
            "/etc/kh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = anchored(&given, std::path::Path::new("/home/u"));
        assert_eq!(
            got,
            [
                "--client-key",
                "/home/u/keys/id",
                "--known-hosts=/home/u/kh",
                "-F",
                "none",
                "--ssh-config",
                "~/.ssh/config",
                "--command",
                "./server",
                "--known-hosts",
                "/etc/kh",
            ]
        );
    }

    fn run(args: &[&str]) -> Result<Options, String> {
        match split(args.iter().map(|a| a.to_string()).collect()) {
            Ok(Request::Run(options)) => Ok(options),
            Ok(Request::Help) => Err("help".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn own_options_are_taken_from_anywhere_and_the_rest_kept_in_order() {
        let options = run(&[
            "zed",
            "--host",
            "h",
            "--write",
            "--name=n",
            "--command",
            "a b",
            "--file",
            "f",
            "--force",
            "--port=2",
        ])
        .unwrap();
        assert_eq!(options.app, App::Zed);
        assert_eq!(options.name.as_deref(), Some("n"));
        assert_eq!(options.file.as_deref(), Some("f"));
        assert!(options.write && options.force);
        assert_eq!(
            options.session,
            ["--host", "h", "--command", "a b", "--port=2"]
        );
        assert_eq!(run(&["--write", "cursor"]).unwrap().app, App::Cursor);
    }

    #[test]
    fn help_wins_anywhere() {
        assert_eq!(run(&["bogus", "--port", "x", "-h"]), Err("help".into()));
        assert_eq!(run(&["--help"]), Err("help".into()));
    }

    #[test]
    fn a_missing_or_unknown_app_is_refused_with_the_list() {
        let apps = "HOST_APP one of claude-desktop, claude-code, cursor, vscode, windsurf, zed";
        let missing = run(&[]).unwrap_err();
        assert!(
            missing.starts_with("config: name the host app: "),
            "{missing}"
        );
        assert!(missing.ends_with(apps));
        let flag_first = run(&["--host", "h", "zed"]).unwrap_err();
        assert!(
            flag_first.starts_with("config: unknown host app '--host'"),
            "{flag_first}"
        );
        assert!(
            run(&["notepad"])
                .unwrap_err()
                .contains("unknown host app 'notepad'")
        );
    }

    #[test]
    fn file_and_force_need_write_and_values_are_required() {
        assert_eq!(
            run(&["zed", "--file", "f"]),
            Err("config: --file needs --write (without it, the entry is only printed)".into())
        );
        assert!(
            run(&["zed", "--force"])
                .unwrap_err()
                .contains("--force needs --write")
        );
        assert_eq!(
            run(&["zed", "--name"]),
            Err("config: --name needs a value".into())
        );
        assert_eq!(
            run(&["zed", "--write", "--file="]),
            Err("config: --file must not be empty".into())
        );
    }

    #[test]
    fn help_fits_one_screen() {
        assert!(HELP.lines().count() <= 24);
        assert!(HELP.lines().all(|l| l.chars().count() <= 100));
    }
}
