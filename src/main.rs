//! Wiring only: flags → Config → one event loop → one line on stderr and an
//! exit code.

use std::process::ExitCode;

use argh::FromArgs;
use m2m_mcp_server_ssh_client::cli::{self, Args};
use m2m_mcp_server_ssh_client::config::{Agent, Config};
use m2m_mcp_server_ssh_client::{Error, log, ssh_config};

const NAME: &str = env!("CARGO_PKG_NAME");

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let raw = cli::normalize(raw);
    let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
    let args = match Args::from_args(&[NAME], &raw) {
        Ok(args) => args,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    println!("{}", early.output);
                    ExitCode::SUCCESS
                }
                Err(()) => {
                    log::fatal(format_args!("{}", early.output.trim_end()));
                    ExitCode::from(Error::Usage(String::new()).exit_code())
                }
            };
        }
    };
    if args.version {
        println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let env = |name: &str| std::env::var(name).ok();
    let config = match Config::from_args(args, env) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    // Before the SSH config is read, so that its DEBUG lines are seen.
    log::set_level(config.log_level);
    let config = match config.with_ssh_config(&ssh_config::Local::current(env)) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    // libssh2 finds the agent through SSH_AUTH_SOCK, and its binding has no
    // way to name another socket: the one IdentityAgent names goes there.
    if let Agent::Socket(path) = &config.identities.agent {
        // SAFETY: no other thread exists yet (the event loop and its
        // blocking pool start below), so nothing reads the environment meanwhile.
        unsafe { std::env::set_var("SSH_AUTH_SOCK", path) };
    }
    match smol::block_on(m2m_mcp_server_ssh_client::run(&config)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    log::fatal(format_args!("{e}"));
    ExitCode::from(e.exit_code())
}
