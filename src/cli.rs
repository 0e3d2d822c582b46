//! The command line, flag for flag the Python program's, plus our own
//! additions. The doc comments are the `--help` text.

use argh::FromArgs;

/// Stdio MCP server that carries the session over SSH to a remote MCP server.
/// A drop-in for the Python m2m-mcp-server-ssh-client: same flags, same defaults.
#[derive(FromArgs, Debug, Default)]
#[argh(note = "Subcommands, each taking these same flags after its own:
  doctor [--json] [--fix] [--yes]   check each step of the connection, say what to fix
  config HOST_APP [--name NAME] [--write] [--file FILE] [--force]
                                    print (or write) the entry for an MCP host app")]
pub struct Args {
    /// remote SSH server host (default: localhost)
    #[argh(option, default = "String::from(\"localhost\")")]
    pub host: String,

    /// remote SSH server port (default: 8022; with --command, the SSH config's Port first)
    #[argh(option)]
    pub port: Option<u16>,

    /// SSH username (default: mcp; with --command, the SSH config's User first)
    #[argh(option)]
    pub username: Option<String>,

    /// client private key file (default: ~/.ssh/m2m_mcp_server_ssh_client, created if missing)
    #[argh(option)]
    pub client_key: Option<String>,

    /// known_hosts file to verify the server against (default: ~/.ssh/known_hosts); with --use-key-server, the file where server keys are pinned (default: ~/.ssh/m2m_mcp_server_ssh_client_known_hosts)
    #[argh(option)]
    pub known_hosts: Option<String>,

    /// passphrase of the private key; prefer the MCP_SSH_PASSPHRASE environment variable, which other users cannot see
    #[argh(option)]
    pub passphrase: Option<String>,

    /// skip host key verification (open to man-in-the-middle attacks; testing only)
    #[argh(switch)]
    pub disable_host_key_checking: bool,

    /// add an unknown server's host key to the known_hosts file instead of refusing it, as OpenSSH's StrictHostKeyChecking accept-new; a changed key is still refused
    #[argh(switch)]
    pub accept_new: bool,

    /// fetch the server's host key from its key server (HTTPS on port 443, else HTTP on --key-server-port), pin it, and register our key there
    #[argh(switch)]
    pub use_key_server: bool,

    /// port of the key server over plain HTTP (default: 8000)
    #[argh(option)]
    pub key_server_port: Option<u16>,

    /// with --use-key-server, ask only this key server, e.g. https://keys.example.com or http://10.0.0.5:8000/prefix
    #[argh(option)]
    pub key_server_url: Option<String>,

    /// log level: DEBUG, INFO, WARNING, ERROR or CRITICAL, any case (default: INFO)
    #[argh(option, default = "String::from(\"INFO\")")]
    pub log_level: String,

    /// run this remote command instead of asking for a shell (for a plain sshd serving an MCP server on stdio)
    #[argh(option)]
    pub command: Option<String>,

    /// request this SSH subsystem instead of a shell, e.g. mcp (an sshd serving MCP with "Subsystem mcp /path/to/server")
    #[argh(option)]
    pub subsystem: Option<String>,

    /// seconds allowed to connect, from TCP to the open channel (default: the SSH config's ConnectTimeout, else 10)
    #[argh(option)]
    pub connect_timeout: Option<u64>,

    /// seconds of silence from the server after which an SSH keepalive asks it to answer; 0 sends none (default: the SSH config's ServerAliveInterval, else 15)
    #[argh(option)]
    pub keepalive_interval: Option<u64>,

    /// keepalive intervals without a word from the server before the connection is taken for dead (default: the SSH config's ServerAliveCountMax, else 3)
    #[argh(option)]
    pub keepalive_count_max: Option<u32>,

    /// seconds to keep trying to reconnect after the connection is lost; 0 never reconnects (default: 300)
    #[argh(option, default = "300")]
    pub reconnect_max_wait: u64,

    /// SSH config file to read instead of ~/.ssh/config and /etc/ssh/ssh_config; none reads none
    #[argh(option, short = 'F')]
    pub ssh_config: Option<String>,

    /// print the version and exit
    #[argh(switch)]
    pub version: bool,
}

/// Options that take a value, for splitting `--name=value` (which the Python
/// program's argparse accepts and argh does not) into two arguments.
const VALUE_OPTIONS: &[&str] = &[
    "--host",
    "--port",
    "--username",
    "--client-key",
    "--known-hosts",
    "--passphrase",
    "--key-server-port",
    "--key-server-url",
    "--log-level",
    "--command",
    "--subsystem",
    "--connect-timeout",
    "--keepalive-interval",
    "--keepalive-count-max",
    "--reconnect-max-wait",
    "--ssh-config",
];

/// Switches that an MCP Bundle sets from a boolean field, as
/// `--name=${user_config.KEY}`, which the host turns into `--name=true` or
/// `--name=false`.
const SWITCHES: &[&str] = &[
    "--disable-host-key-checking",
    "--accept-new",
    "--use-key-server",
];

/// Rewrites `--name=value` as `--name value` for our value options, and
/// keeps only the last of a repeated value option, as the Python program's
/// argparse does (argh would refuse both), so that configurations written
/// for it keep working. An argument that is still an MCP Bundle's
/// placeholder (`${user_config.KEY}`: Claude Desktop can leave an optional
/// field the user left empty that way) counts as absent, with its option.
/// A switch written `--name=true` is given, `--name=false` is not.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut split = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            split.push(arg);
            split.extend(args.by_ref());
            break;
        }
        match arg.split_once('=') {
            Some((name, value)) if VALUE_OPTIONS.contains(&name) => {
                split.push(name.to_string());
                split.push(value.to_string());
            }
            Some((name, value)) if SWITCHES.contains(&name) => match value {
                "true" => split.push(name.to_string()),
                "false" => {}
                _ if unfilled(value) => {}
                _ => split.push(arg),
            },
            _ => split.push(arg),
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(split.len());
    let mut i = 0;
    while i < split.len() {
        let arg = &split[i];
        if arg == "--" {
            out.extend(split[i..].iter().cloned());
            break;
        }
        if unfilled(arg) {
            i += 1;
            continue;
        }
        if VALUE_OPTIONS.contains(&arg.as_str()) && i + 1 < split.len() {
            if unfilled(&split[i + 1]) {
                i += 2;
                continue;
            }
            if let Some(earlier) = out.iter().position(|a| a == arg) {
                out.drain(earlier..earlier + 2);
            }
            out.push(arg.clone());
            out.push(split[i + 1].clone());
            i += 2;
        } else {
            out.push(arg.clone());
            i += 1;
        }
    }
    out
}

/// An MCP Bundle's `${user_config.KEY}` that the host did not fill in.
pub fn unfilled(arg: &str) -> bool {
    arg.strip_prefix("${user_config.")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|key| {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// What parsing the command line came to when it does not go on to a
/// session: `--help` printed (exit 0), or a usage error on stderr (exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyExit(pub u8);

/// Parses the session's flags as the bare binary takes them: `--name=value`
/// split, repeats collapsed, then argh. `command` names the program (and
/// subcommand) in argh's messages. Help goes to stdout, errors to stderr.
pub fn parse(command: &[&str], raw: Vec<String>) -> Result<Args, EarlyExit> {
    let raw = normalize(raw);
    let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
    Args::from_args(command, &raw).map_err(|early| match early.status {
        Ok(()) => {
            println!("{}", early.output);
            EarlyExit(0)
        }
        Err(()) => {
            crate::log::fatal(format_args!("{}", early.output.trim_end()));
            EarlyExit(crate::Error::Usage(String::new()).exit_code())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn equals_form_is_split_for_value_options_only() {
        let got = normalize(strings(&[
            "--port=2222",
            "--disable-host-key-checking",
            "--command=a=b",
        ]));
        assert_eq!(
            got,
            strings(&[
                "--port",
                "2222",
                "--disable-host-key-checking",
                "--command",
                "a=b"
            ])
        );
    }

    #[test]
    fn an_unfilled_bundle_placeholder_is_absent_with_its_option() {
        let got = normalize(strings(&[
            "--host",
            "h",
            "--client-key",
            "${user_config.client_key}",
            "--known-hosts=${user_config.known_hosts}",
            "${user_config.extra_args}",
            "--command",
            "echo ${user_config.x} stays inside a value",
        ]));
        assert_eq!(
            got,
            strings(&[
                "--host",
                "h",
                "--command",
                "echo ${user_config.x} stays inside a value"
            ])
        );
        assert!(!unfilled("${user_config.}"));
        assert!(!unfilled("${HOME}"));
    }

    #[test]
    fn a_switch_set_from_a_bundle_boolean_is_given_only_when_true() {
        let got = normalize(strings(&[
            "--use-key-server=true",
            "--accept-new=false",
            "--disable-host-key-checking=${user_config.insecure}",
            "--use-key-server=yes",
        ]));
        assert_eq!(got, strings(&["--use-key-server", "--use-key-server=yes"]));
        let args = parse(&["m"], strings(&["--use-key-server=false"])).unwrap();
        assert!(!args.use_key_server);
        let args = parse(&["m"], strings(&["--use-key-server=true"])).unwrap();
        assert!(args.use_key_server);
    }

    #[test]
    fn a_repeated_value_option_keeps_its_last_value() {
        let got = normalize(strings(&["--host", "a", "--port", "1", "--host=b"]));
        assert_eq!(got, strings(&["--port", "1", "--host", "b"]));
    }

    #[test]
    fn defaults_are_the_python_programs() {
        let args = Args::from_args(&["m2m-mcp-server-ssh-client"], &[]).unwrap();
        assert_eq!(args.host, "localhost");
        assert_eq!(args.port, None);
        assert_eq!(args.username, None);
        assert_eq!(args.key_server_port, None);
        assert_eq!(args.log_level, "INFO");
    }
}
