//! Our reading of SSH config files against OpenSSH's own: for each case of
//! a corpus (Host, Match, Include, negation, tokens, first value wins,
//! quoting), what we resolve must equal what `ssh -G -F FILE HOST` prints,
//! for every option we use.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use super::*;

/// The options compared, as `ssh -G` names them.
const COMPARED: &[&str] = &[
    "hostname",
    "port",
    "user",
    "identityfile",
    "identitiesonly",
    "identityagent",
    "userknownhostsfile",
    "stricthostkeychecking",
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
    "proxyjump",
    "proxycommand",
    "hostkeyalias",
    "hashknownhosts",
    "addressfamily",
    "tcpkeepalive",
];

/// What `ssh -G` prints for the compared options.
fn openssh(file: &Path, host: &str, home: &str) -> BTreeMap<String, Vec<String>> {
    let output = Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(file)
        .arg(host)
        .env("HOME", home)
        .output()
        .expect("ssh runs");
    assert!(
        output.status.success(),
        "ssh -G failed on {host}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut options: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if COMPARED.contains(&key) {
            options.entry(key.into()).or_default().push(value.into());
        }
    }
    options
}

/// Ours, printed as `ssh -G` prints it.
fn ours(file: &Path, host: &str, local: &Local) -> BTreeMap<String, Vec<String>> {
    let source = Source {
        path: file.to_path_buf(),
        user_file: true,
        required: true,
    };
    let config = resolve(&[source], host, local).expect("resolves");
    let hostname = config.hostname(host);
    // OpenSSH's port when the config names none.
    let port = config.port.as_ref().map_or(22, |(p, _)| *p);
    let user = config
        .user
        .as_ref()
        .map_or(local.user.clone(), |(u, _)| u.clone());
    let tokens = Tokens {
        host: &hostname,
        original_host: host,
        port,
        user: &user,
        local_user: &local.user,
        home: &local.home,
        uid: local.uid,
        local_host: &local.hostname,
    };
    let file_path = |p: &str| {
        tokens
            .expand(&tokens::expand_tilde(p, &local.home), tokens::FILE_TOKENS)
            .expect("expands")
    };
    let mut options: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut put = |key: &str, value: String| options.entry(key.into()).or_default().push(value);
    put("hostname", hostname.clone());
    put("port", port.to_string());
    put("user", user.clone());
    if config.identity_files.is_empty() {
        for name in [
            "id_rsa",
            "id_ecdsa",
            "id_ecdsa_sk",
            "id_ed25519",
            "id_ed25519_sk",
            "id_xmss",
            "id_dsa",
        ] {
            put("identityfile", format!("~/.ssh/{name}"));
        }
    }
    for (file, _) in &config.identity_files {
        put("identityfile", file.clone());
    }
    let only = config.identities_only.as_ref().is_some_and(|(v, _)| *v);
    put("identitiesonly", if only { "yes" } else { "no" }.into());
    if let Some((agent, _)) = &config.identity_agent {
        put("identityagent", file_path(agent));
    }
    let known: Vec<String> = match &config.user_known_hosts {
        Some((files, _)) => files.iter().map(|f| file_path(f)).collect(),
        None => vec![
            file_path("~/.ssh/known_hosts"),
            file_path("~/.ssh/known_hosts2"),
        ],
    };
    put("userknownhostsfile", known.join(" "));
    let strict = match config.strict_host_key_checking.as_ref().map(|(s, _)| *s) {
        Some(StrictHostKeyChecking::Yes) => "true",
        Some(StrictHostKeyChecking::No) => "false",
        Some(StrictHostKeyChecking::AcceptNew) => "accept-new",
        Some(StrictHostKeyChecking::Ask) | None => "ask",
    };
    put("stricthostkeychecking", strict.into());
    let timeout = match &config.connect_timeout {
        Some((Some(secs), _)) => secs.to_string(),
        _ => "none".into(),
    };
    put("connecttimeout", timeout);
    let interval = config.server_alive_interval.as_ref().map_or(0, |(v, _)| *v);
    put("serveraliveinterval", interval.to_string());
    let count = config
        .server_alive_count_max
        .as_ref()
        .map_or(3, |(v, _)| *v);
    put("serveralivecountmax", count.to_string());
    if let Some((jump, _)) = &config.proxy_jump {
        if jump != "none" {
            put("proxyjump", jump.clone());
        }
    }
    if let Some((command, _)) = &config.proxy_command {
        if command != "none" {
            put("proxycommand", command.clone());
        }
    }
    if let Some((alias, _)) = &config.host_key_alias {
        put("hostkeyalias", alias.clone());
    }
    let hash = config.hash_known_hosts.as_ref().is_some_and(|(h, _)| *h);
    put("hashknownhosts", if hash { "yes" } else { "no" }.into());
    let family = config
        .address_family
        .as_ref()
        .map_or(AddressFamily::Any, |(f, _)| *f);
    put("addressfamily", family.keyword().into());
    let keep_alive = config.tcp_keep_alive.as_ref().is_none_or(|(k, _)| *k);
    put("tcpkeepalive", if keep_alive { "yes" } else { "no" }.into());
    options
}

/// The corpus: a config (`INC` stands for the folder of included files)
/// and the hosts to resolve with it.
const CASES: &[(&str, &[&str])] = &[
    ("Host alias\n  HostName 127.0.0.1\n", &["alias", "other"]),
    (
        "Host a\n  AddressFamily inet6\n  TCPKeepAlive no\nHost *\n  AddressFamily inet\n",
        &["a", "b"],
    ),
    (
        "Host j\n  ProxyJump ssh://u@b1:2200,[::1]:22\n  ProxyCommand nc %h %p\n",
        &["j"],
    ),
    ("Host a b c\n  Port 2201\n", &["a", "b", "c", "d"]),
    (
        "Host *.example.com\n  User web\nHost *\n  User fallback\n",
        &["x.example.com", "example.com", "y"],
    ),
    ("Host * !bad\n  Port 2202\n", &["good", "bad"]),
    ("Host !bad *\n  Port 2203\n", &["good", "bad"]),
    ("Host a?c\n  Port 2204\n", &["abc", "ac", "abbc"]),
    ("Host Alias\n  Port 2205\n", &["Alias", "alias"]),
    (
        "Host a\n  Port 2206\nHost a\n  Port 2207\n  User second\n",
        &["a"],
    ),
    ("Port 2208\nHost a\n  Port 2209\n", &["a", "b"]),
    ("Host a\n  HostName %h.example.com\n", &["a", "b"]),
    (
        "Host a\n  HostName real-%h\nHost real-a\n  Port 2210\n",
        &["a"],
    ),
    ("Host a\n  HostName Upper.Example.COM\n", &["a"]),
    ("Host=a\n  HostName=eq.example.com\n  Port = 2211\n", &["a"]),
    ("Host \"a b\" c\n  Port 2212\n", &["a", "c"]),
    ("Host a # a comment\n  User \"with space\"\n", &["a"]),
    ("HOST a\n  hOsTnAmE mixed.example.com\n", &["a"]),
    ("Match host a\n  Port 2213\n", &["a", "b"]),
    (
        "Match host *.example.com,!bad.example.com\n  Port 2214\n",
        &["good.example.com", "bad.example.com"],
    ),
    (
        "Host a\n  HostName b.example.com\nMatch host b.example.com\n  Port 2215\n",
        &["a", "b.example.com"],
    ),
    (
        "Match originalhost a\n  HostName x.example.com\n",
        &["a", "b"],
    ),
    ("Match user bob\n  Port 2216\nHost *\n  User bob\n", &["a"]),
    ("Host *\n  User bob\nMatch user bob\n  Port 2217\n", &["a"]),
    ("Match localuser root,nobody\n  Port 2218\n", &["a"]),
    ("Match !localuser root\n  Port 2219\n", &["a"]),
    ("Match all\n  Port 2220\n", &["a"]),
    ("Match !host a\n  Port 2221\n", &["a", "b"]),
    (
        "Match host a user bob\n  Port 2222\nHost a\n  User bob\n",
        &["a"],
    ),
    (
        "Match final host real.example.com\n  Port 2223\nHost a\n  HostName real.example.com\n",
        &["a", "real.example.com"],
    ),
    ("Match canonical\n  Port 2224\n", &["a"]),
    (
        "Match canonical\n  Port 2225\nMatch final\n  User late\n",
        &["a"],
    ),
    ("Match !final\n  Port 2226\n", &["a"]),
    (
        "Host a\n  HostName b\nMatch final host b\n  User fin\nHost b\n  Port 2227\n",
        &["a"],
    ),
    ("Include INC/one.conf\nHost *\n  Port 2228\n", &["a", "b"]),
    (
        "Host a\n  Include INC/one.conf\nHost *\n  User base\n",
        &["a", "b"],
    ),
    ("Include INC/*.conf\n", &["a", "b", "c"]),
    ("Include INC/missing-*.conf\nHost *\n  Port 2229\n", &["a"]),
    ("Host b\n  Include INC/two.conf\n  Port 2230\n", &["a", "b"]),
    (
        "Host a\n  IdentityFile ~/.ssh/one\n  IdentityFile /k/two_%h\nHost *\n  IdentityFile ~/.ssh/three\n",
        &["a", "b"],
    ),
    (
        "Host a\n  IdentitiesOnly yes\n  IdentityAgent ~/agent-%u-%h\n",
        &["a"],
    ),
    (
        "Host a\n  UserKnownHostsFile ~/kh_%h %d/kh_%p_%r /abs/%n\n",
        &["a"],
    ),
    (
        "Host a\n  UserKnownHostsFile /first\nHost *\n  UserKnownHostsFile /second\n",
        &["a", "b"],
    ),
    (
        "Host a\n  StrictHostKeyChecking accept-new\nHost b\n  StrictHostKeyChecking no\nHost c\n  StrictHostKeyChecking yes\nHost d\n  StrictHostKeyChecking off\n",
        &["a", "b", "c", "d", "e"],
    ),
    (
        "Host a\n  ConnectTimeout 1m30s\nHost b\n  ConnectTimeout 7\n",
        &["a", "b", "c"],
    ),
    (
        "Host a\n  ServerAliveInterval 5\n  ServerAliveCountMax 9\nHost *\n  ServerAliveInterval 60\n",
        &["a", "b"],
    ),
    (
        "Host a\n  ProxyJump jump1,jump2\n  ProxyCommand nc %h %p\n",
        &["a"],
    ),
    (
        "Host a\n  ProxyCommand ssh -W %h:%p bastion\nHost *\n  ProxyJump later\n",
        &["a", "b"],
    ),
    (
        "Host a\n  ProxyJump none\nHost *\n  ProxyJump j\n",
        &["a", "b"],
    ),
    ("Host a\n  HostKeyAlias alias-key\n", &["a", "b"]),
    (
        "Host a\n  HashKnownHosts yes\nHost *\n  HashKnownHosts no\n",
        &["a", "b"],
    ),
    (
        "Host a\n  IgnoreUnknown NoSuchOption\n  NoSuchOption whatever\n  Port 2231\n",
        &["a"],
    ),
];

/// The included files of the corpus.
const INCLUDED: &[(&str, &str)] = &[
    ("one.conf", "User included\nHost b\n  Port 2240\n"),
    ("two.conf", "Host c\n  User two\n"),
    ("three.conf", "Match host c\n  Port 2241\n"),
];

#[test]
fn every_option_we_use_resolves_as_ssh_g_resolves_it() {
    if Command::new("ssh").arg("-V").output().is_err() {
        panic!("OpenSSH's ssh is needed (scripts/setup.sh installs it)");
    }
    // OpenSSH takes the home and user from the password database.
    let local = Local::current(|_| None);
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("inc");
    fs::create_dir(&inc).unwrap();
    for (name, text) in INCLUDED {
        fs::write(inc.join(name), text).unwrap();
    }
    let mut compared = 0;
    for (n, (text, hosts)) in CASES.iter().enumerate() {
        let file = dir.path().join(format!("config{n}"));
        fs::write(&file, text.replace("INC", &inc.to_string_lossy())).unwrap();
        for host in *hosts {
            let theirs = openssh(&file, host, &local.home);
            let ours = ours(&file, host, &local);
            assert_eq!(ours, theirs, "case {n} ({text:?}), host {host:?}");
            compared += 1;
        }
    }
    assert!(
        CASES.len() >= 40 && compared >= 80,
        "{compared} comparisons"
    );
}
