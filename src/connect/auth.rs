//! Client authentication: the key file first (generated at the default path
//! when missing), then the keys of a running ssh-agent, in the order the
//! Python program's SSH library uses. Failures say what was tried and which
//! public key the server must accept.

use std::io;
use std::path::PathBuf;

use async_ssh2_lite::ssh2::ErrorCode;

use crate::config::{Agent, Config, HostKeyPolicy};
use crate::connect::libssh2::{Session, describe};
use crate::error::Error;
use crate::keys::{self, PublicKey};
use crate::{debug, info, warn};

// libssh2 error codes that mean "the key file could not be used" rather
// than "the server said no" (include/libssh2.h).
const LIBSSH2_ERROR_FILE: i32 = -16;
const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
const LIBSSH2_ERROR_KEYFILE_AUTH_FAILED: i32 = -48;
const LIBSSH2_ERROR_METHOD_NOT_SUPPORTED: i32 = -33;

/// One key file to offer.
#[derive(Clone)]
struct KeyFile {
    path: PathBuf,
    public: Option<PublicKey>,
    encrypted: bool,
}

impl KeyFile {
    fn label(&self) -> String {
        match &self.public {
            Some(public) => format!("key {} ({})", self.path.display(), public.fingerprint()),
            None => format!("key {}", self.path.display()),
        }
    }
}

/// The key material, checked before we connect: `--client-key` first,
/// then the SSH config's IdentityFiles, then (unless IdentitiesOnly or
/// `IdentityAgent none`) the agent's keys.
pub struct Credentials {
    keys: Vec<KeyFile>,
    passphrase: Option<String>,
    agent: bool,
}

impl Credentials {
    /// Reads the key file (or generates the default one) and checks that we
    /// can use it: an encrypted key needs a passphrase before we dial out.
    pub fn prepare(config: &Config) -> Result<Credentials, Error> {
        if config.passphrase_on_command_line {
            warn!(
                "--passphrase is visible to other local users in the process list; set {} instead",
                crate::config::PASSPHRASE_ENV
            );
        }
        let path = &config.client_key;
        let info = match keys::inspect(path) {
            Err(Error::KeyFile { source, .. })
                if source.kind() == io::ErrorKind::NotFound && config.generate_missing_key =>
            {
                match keys::generate_ed25519(path) {
                    Ok(public) if matches!(config.host_keys, HostKeyPolicy::KeyServer(_)) => info!(
                        "created client key {} ({}) to register with the key server",
                        path.display(),
                        public.fingerprint()
                    ),
                    Ok(public) => info!(
                        "created client key {}; add its public key to the server's authorized_keys: {}",
                        path.display(),
                        public.to_openssh()
                    ),
                    // Another instance created it first: use theirs.
                    Err(Error::KeyGeneration { source, .. })
                        if source.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                keys::inspect(path)?
            }
            other => other?,
        };
        warn_if_exposed(path, &info.exposure);
        if info.encrypted && config.passphrase.is_none() {
            return Err(Error::PassphraseMissing { path: path.clone() });
        }
        let client_key = KeyFile {
            path: path.clone(),
            public: info.public,
            encrypted: info.encrypted,
        };
        Ok(Credentials::with(client_key, config))
    }

    /// The same client key, with `hop`'s own IdentityFiles and agent.
    pub fn for_hop(&self, hop: &Config) -> Credentials {
        Credentials::with(self.keys[0].clone(), hop)
    }

    /// `client_key`, then the IdentityFiles of `config` that can be offered.
    fn with(client_key: KeyFile, config: &Config) -> Credentials {
        let mut keys = vec![client_key];
        for path in &config.identities.files {
            if keys.iter().any(|k| &k.path == path) {
                continue;
            }
            match keys::inspect(path) {
                // As OpenSSH: an IdentityFile that is not there is skipped.
                Err(Error::KeyFile { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    debug!("IdentityFile {} does not exist", path.display())
                }
                Err(e) => warn!("IdentityFile {} is not used: {e}", path.display()),
                Ok(info) if info.encrypted && config.passphrase.is_none() => warn!(
                    "IdentityFile {} is encrypted and no passphrase is given ({}); it is not used",
                    path.display(),
                    crate::config::PASSPHRASE_ENV
                ),
                Ok(info) => {
                    warn_if_exposed(path, &info.exposure);
                    keys.push(KeyFile {
                        path: path.clone(),
                        public: info.public,
                        encrypted: info.encrypted,
                    });
                }
            }
        }
        let agent = !config.identities.only && config.identities.agent != Agent::Off;
        Credentials {
            keys,
            passphrase: config.passphrase.clone(),
            agent,
        }
    }

    /// The client key file and its fingerprint.
    pub fn describe_client_key(&self) -> String {
        let key = &self.keys[0];
        let encrypted = if key.encrypted { ", encrypted" } else { "" };
        match &key.public {
            Some(public) => format!(
                "{} ({} {}{encrypted})",
                key.path.display(),
                public.algorithm,
                public.fingerprint()
            ),
            None => format!("{}{encrypted}", key.path.display()),
        }
    }

    /// How many keys are offered after the client key (IdentityFiles).
    pub fn other_keys(&self) -> usize {
        self.keys.len() - 1
    }

    /// The public half of the client key, when the file (or its `.pub`)
    /// carries it.
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.keys[0].public.as_ref()
    }
}

fn warn_if_exposed(path: &std::path::Path, exposure: &Option<(String, String)>) {
    if let Some((why, fix)) = exposure {
        warn!(
            "client key {} is accessible by other users ({why}); run: {fix}",
            path.display()
        );
    }
}

/// Authenticates as `config.username`, or explains why not. Says with what.
pub async fn authenticate(
    session: &Session,
    creds: &Credentials,
    config: &Config,
    target: &str,
) -> Result<String, Error> {
    let user = config.username.as_str();
    let methods = session
        .auth_methods(user)
        .await
        .map_err(|e| Error::Handshake {
            target: target.to_string(),
            detail: describe(&e),
        })?
        .to_string();
    if session.authenticated() {
        return Ok("no key needed (the server asked for none)".into());
    }
    debug!("server accepts: {methods}");
    let mut tried = Vec::new();
    if !methods.split(',').any(|m| m == "publickey") {
        tried.push(format!("nothing (the server accepts only: {methods})"));
        return Err(failure(creds, config, target, tried));
    }
    for (n, key) in creds.keys.iter().enumerate() {
        let passphrase = creds.passphrase.as_deref().filter(|_| key.encrypted);
        match session
            .userauth_pubkey_file(user, None, &key.path, passphrase)
            .await
        {
            Ok(()) if session.authenticated() => {
                debug!("authenticated with {}", key.label());
                return Ok(accepted(key.label(), &tried));
            }
            Ok(()) => tried.push(key.label()),
            Err(e) => match ssh2_code(&e) {
                Some(LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) => {
                    tried.push(key.label())
                }
                // The client key is the user's choice: a key that cannot be
                // used ends the run. An IdentityFile that cannot is passed over.
                Some(
                    LIBSSH2_ERROR_FILE
                    | LIBSSH2_ERROR_KEYFILE_AUTH_FAILED
                    | LIBSSH2_ERROR_METHOD_NOT_SUPPORTED,
                ) if n > 0 => {
                    debug!("{}: {}", key.label(), describe(&e));
                    tried.push(format!("{} (unusable: {})", key.label(), describe(&e)));
                }
                Some(LIBSSH2_ERROR_FILE | LIBSSH2_ERROR_KEYFILE_AUTH_FAILED) if key.encrypted => {
                    return Err(Error::PassphraseWrong {
                        path: key.path.clone(),
                    });
                }
                Some(
                    LIBSSH2_ERROR_FILE
                    | LIBSSH2_ERROR_KEYFILE_AUTH_FAILED
                    | LIBSSH2_ERROR_METHOD_NOT_SUPPORTED,
                ) => {
                    return Err(Error::KeyFormat {
                        path: key.path.clone(),
                        detail: describe(&e),
                    });
                }
                // The connection itself failed: say to which server.
                _ => {
                    return Err(Error::Connect {
                        target: target.to_string(),
                        source: std::io::Error::other(format!(
                            "the connection broke during authentication: {}",
                            describe(&e)
                        )),
                    });
                }
            },
        }
    }

    let named = std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty());
    // On Windows libssh2 finds an agent without SSH_AUTH_SOCK (Pageant, then
    // OpenSSH's pipe `\\.\pipe\openssh-ssh-agent`); most machines run none.
    if creds.agent && (named || cfg!(windows)) {
        match try_agent(session, user).await {
            Ok(AgentOutcome::Authenticated(comment)) => {
                return Ok(accepted(format!("the ssh-agent's key '{comment}'"), &tried));
            }
            Ok(AgentOutcome::Rejected(0)) => tried.push("the ssh-agent (it holds no keys)".into()),
            Ok(AgentOutcome::Rejected(n)) => tried.push(format!("{n} key(s) of the ssh-agent")),
            Err(detail) if named => {
                warn!("ssh-agent at SSH_AUTH_SOCK could not be used: {detail}");
                tried.push("the ssh-agent (unreachable)".into());
            }
            Err(detail) => debug!("no ssh-agent (Pageant or OpenSSH's) answered: {detail}"),
        }
    }
    Err(failure(creds, config, target, tried))
}

/// "key … accepted", and what was refused before it.
fn accepted(with: String, tried: &[String]) -> String {
    match tried {
        [] => format!("{with} accepted"),
        tried => format!("{with} accepted, after {} refused", tried.join(", ")),
    }
}

enum AgentOutcome {
    /// By the key with this comment.
    Authenticated(String),
    Rejected(usize),
}

/// Offers each identity of the agent in turn.
async fn try_agent(session: &Session, user: &str) -> Result<AgentOutcome, String> {
    let mut agent = session.agent().map_err(|e| describe(&e))?;
    agent.connect().await.map_err(|e| describe(&e))?;
    agent.list_identities().await.map_err(|e| describe(&e))?;
    let identities = agent.identities().map_err(|e| describe(&e))?;
    for identity in &identities {
        if agent.userauth(user, identity).await.is_ok() && session.authenticated() {
            debug!("authenticated with the agent's key {}", identity.comment());
            let _ = agent.disconnect().await;
            return Ok(AgentOutcome::Authenticated(identity.comment().to_string()));
        }
    }
    let _ = agent.disconnect().await;
    Ok(AgentOutcome::Rejected(identities.len()))
}

fn failure(creds: &Credentials, config: &Config, target: &str, tried: Vec<String>) -> Error {
    Error::Authentication {
        username: config.username.clone(),
        target: target.to_string(),
        tried,
        public_key: creds.public_key().map(PublicKey::to_openssh),
    }
}

fn ssh2_code(e: &async_ssh2_lite::Error) -> Option<i32> {
    match e.as_ssh2()?.code() {
        ErrorCode::Session(code) => Some(code),
        ErrorCode::SFTP(_) => None,
    }
}
