//! Wiring only: flags → Config → one event loop → one line on stderr and an
//! exit code. `doctor` and `config` take the same flags after their own.

#![allow(
    clippy::result_large_err,
    reason = "an Error is built at most once per run, on the way out; its size costs nothing"
)]

use std::process::ExitCode;

use m2m_mcp_server_ssh_client::cli::{self, Args, EarlyExit};
use m2m_mcp_server_ssh_client::config::{Agent, Config};
use m2m_mcp_server_ssh_client::{Error, doctor, host_apps, log, ssh_config};

const NAME: &str = env!("CARGO_PKG_NAME");

fn main() -> ExitCode {
    let mut raw: Vec<String> = std::env::args().skip(1).collect();
    let env = |name: &str| std::env::var(name).ok();
    match raw.first().map(String::as_str) {
        Some("config") => {
            raw.remove(0);
            ExitCode::from(host_apps::main(raw, env))
        }
        Some("doctor") => {
            raw.remove(0);
            let (options, raw) = match doctor::Options::split(raw) {
                Ok(split) => split,
                Err(EarlyExit(code)) => return ExitCode::from(code),
            };
            let args = match parse(&[NAME, "doctor"], raw) {
                Ok(args) => args,
                Err(code) => return code,
            };
            // What the flags come to, or why not, is doctor's first step.
            let config = settle(args, options.log_level());
            ExitCode::from(smol::block_on(doctor::run(config, &options)))
        }
        _ => {
            let args = match parse(&[NAME], raw) {
                Ok(args) => args,
                Err(code) => return code,
            };
            let config = match settle(args, None) {
                Ok(config) => config,
                Err(e) => return fail(&e),
            };
            match smol::block_on(m2m_mcp_server_ssh_client::run(&config)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

/// The flags; `--help`, `--version` and argh's usage errors end here.
fn parse(command: &[&str], raw: Vec<String>) -> Result<Args, ExitCode> {
    let args = cli::parse(command, raw).map_err(|EarlyExit(code)| ExitCode::from(code))?;
    if args.version {
        println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
        return Err(ExitCode::SUCCESS);
    }
    Ok(args)
}

/// The flags, validated and completed by the SSH config. `quiet` is the
/// log level to use when the flags do not name one.
fn settle(mut args: Args, quiet: Option<&str>) -> Result<Config, Error> {
    let env = |name: &str| std::env::var(name).ok();
    if let Some(level) = quiet {
        args.log_level = level.to_string();
    }
    let config = Config::from_args(args, env)?;
    // Before the SSH config is read, so that its DEBUG lines are seen.
    log::set_level(config.log_level);
    let config = config.with_ssh_config(&ssh_config::Local::current(env))?;
    // libssh2 finds the agent through SSH_AUTH_SOCK, and its binding has no
    // way to name another socket: the one IdentityAgent names goes there.
    if let Agent::Socket(path) = &config.identities.agent {
        // SAFETY: no other thread exists yet (the event loop and its
        // blocking pool start after this), so nothing reads the environment meanwhile.
        unsafe { std::env::set_var("SSH_AUTH_SOCK", path) };
    }
    Ok(config)
}

fn fail(e: &Error) -> ExitCode {
    log::fatal(format_args!("{e}"));
    ExitCode::from(e.exit_code())
}
