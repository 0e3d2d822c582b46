//! `config HOST_APP`: the entry that makes an MCP host app (Claude Desktop,
//! Claude Code, Cursor, VS Code, Windsurf, Zed) start this program with the
//! session's flags, printed in the app's format, or merged into the app's
//! config file with `--write`.
//!
//! The flags are checked as a session checks them (so a mistake shows now,
//! not when the app starts us) but kept as typed: they are the entry's
//! `args`. The command is this program's absolute path, because apps
//! started from a desktop do not see the shell's PATH. Merging edits the
//! file's text in place (`merge.rs`, over the span reader `jsonc.rs`):
//! comments, key order and formatting of everything else stay as they were.

mod apps;
mod file;
mod json_text;
mod jsonc;
mod locations;
mod merge;
mod options;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{self, EarlyExit};
use crate::config::Config;
use crate::log::{self, PREFIX};
use crate::{Error, info, warn};
use apps::App;
use locations::Os;
use merge::{Placement, Refusal};
use options::{Options, Request};

/// Runs `config` with the arguments after it; returns the exit code.
pub fn main(raw: Vec<String>, env: impl Fn(&str) -> Option<String>) -> u8 {
    let options = match options::split(raw) {
        Ok(Request::Run(options)) => options,
        Ok(Request::Help) => return finish(print(&format!("{}\n", options::HELP))),
        Err(e) => return fail(&e),
    };
    // The session's own parser, so that its flags mean here what they mean
    // there; it prints its own usage errors.
    let args = match cli::parse(&[PREFIX, "config"], options.session.clone()) {
        Ok(args) => args,
        Err(EarlyExit(code)) => return code,
    };
    finish(run(&options, args, &env))
}

fn finish(result: Result<(), Error>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> u8 {
    log::fatal(format_args!("{e}"));
    e.exit_code()
}

fn run(
    options: &Options,
    args: cli::Args,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    let app = options.app;
    if args.version {
        return Err(Error::Usage(format!(
            "config: --version is not a session flag; run {PREFIX} --version"
        )));
    }
    let name = match &options.name {
        Some(name) if name.is_empty() || name.chars().any(char::is_control) => {
            return Err(Error::Usage(
                "config: --name must not be empty or hold control characters".into(),
            ));
        }
        Some(name) => name.clone(),
        None => default_name(&args.host),
    };
    let passphrase = args.passphrase.is_some();
    let config = Config::from_args(args, env)?;
    log::set_level(config.log_level);
    if passphrase {
        warn!(
            "--passphrase goes into {}'s config file in plain text, and into the process list \
             whenever it starts us; MCP_SSH_PASSPHRASE in the entry's \"env\" keeps it out of the process list",
            app.human_name()
        );
    }
    if env(crate::config::PASSPHRASE_ENV).is_some() {
        warn!(
            "{} is set here, but {} will not see this shell's environment: add it to the entry's \"env\" yourself",
            crate::config::PASSPHRASE_ENV,
            app.human_name()
        );
    }
    let args = match std::env::current_dir() {
        Ok(cwd) => options::anchored(&options.session, &cwd),
        Err(_) => options.session.clone(),
    };
    if args != options.session {
        info!(
            "file paths made absolute: {} starts us in a folder of its own",
            app.human_name()
        );
    }
    let entry = app.entry(&own_path()?, &args);
    let placement = Placement {
        section: app.section(),
        name: &name,
        entry: &entry,
        force: options.force,
    };
    let usual = || {
        let is_dir = |dir: &Path| dir.is_dir();
        locations::config_file(app, Os::current(), env, &is_dir)
    };
    if !options.write {
        print(&merge::new_file(&placement))?;
        if let Ok(path) = usual() {
            info!(
                "add this to {}, or run again with --write to have it added",
                path.display()
            );
        }
        return Ok(());
    }
    let path = match &options.file {
        Some(file) => PathBuf::from(file),
        None => usual().map_err(|missing| {
            Error::Usage(format!(
                "config: cannot tell where {}'s config file is: {missing}; name it with --file",
                app.human_name()
            ))
        })?,
    };
    let found = file::read(&path)?;
    let contents = match &found.text {
        None => merge::new_file(&placement),
        Some(text) => merge::merge(text, &placement).map_err(|refusal| match refusal {
            Refusal::Exists => Error::HostAppEntryExists {
                path: path.clone(),
                name: name.clone(),
            },
            Refusal::Syntax(e) => unreadable(&path, app, e.describe(text)),
            Refusal::Shape(detail) => unreadable(&path, app, detail),
        })?,
    };
    let written = file::write(&found, &contents)?;
    let backup = match &written.backup {
        Some(backup) => format!(" (backup: {})", backup.display()),
        None => String::new(),
    };
    print(&format!(
        "wrote server '{name}' to {}{backup}\nrestart {} to load it\n",
        path.display(),
        app.human_name()
    ))
}

fn unreadable(path: &Path, app: App, detail: String) -> Error {
    Error::HostAppFile {
        path: path.to_path_buf(),
        detail: format!(
            "{detail}; fix the file ({} cannot read it either), then run again",
            app.human_name()
        ),
    }
}

/// The server's name when `--name` is not given: the host, with what
/// could trouble an app's UI or a shell made a `-`.
fn default_name(host: &str) -> String {
    host.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .collect()
}

/// This program's absolute path, symbolic links resolved.
fn own_path() -> Result<String, Error> {
    let context = "cannot find this program's own path";
    let path = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|source| Error::Internal { context, source })?;
    path.into_os_string()
        .into_string()
        .map_err(|_| Error::Internal {
            context,
            source: io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8"),
        })
}

/// Writes our answer on stdout; a reader that went away is a normal end.
fn print(text: &str) -> Result<(), Error> {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Stdio {
            context: "cannot write to stdout",
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_the_host_made_safe() {
        assert_eq!(default_name("localhost"), "localhost");
        assert_eq!(default_name("my.server.example"), "my-server-example");
        assert_eq!(default_name("::1"), "--1");
        assert_eq!(default_name("héte_1"), "h-te_1");
    }
}
