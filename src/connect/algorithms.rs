//! The SSH config's algorithm lists (`Ciphers`, `KexAlgorithms`,
//! `HostKeyAlgorithms`, `MACs`) in OpenSSH's forms, narrowed to what this
//! libssh2 build supports: libssh2 refuses a preference that names an
//! algorithm it lacks, where OpenSSH would skip it.

use async_ssh2_lite::ssh2::MethodType;

use crate::config::Config;
use crate::connect::libssh2::Session;
use crate::debug;
use crate::error::Error;
use crate::pattern;

/// The libssh2 preferences each keyword sets.
fn methods(keyword: &str) -> &'static [MethodType] {
    match keyword {
        "Ciphers" => &[MethodType::CryptCs, MethodType::CryptSc],
        "KexAlgorithms" => &[MethodType::Kex],
        "HostKeyAlgorithms" => &[MethodType::HostKey],
        _ => &[MethodType::MacCs, MethodType::MacSc],
    }
}

/// Sets every list the config names; `host_keys` is the host key order
/// already chosen for this host, which `HostKeyAlgorithms` works on.
pub async fn apply(session: &Session, config: &Config, host_keys: &[String]) -> Result<(), Error> {
    for (keyword, spec, origin) in &config.algorithms {
        for &method in methods(keyword) {
            let supported = session.supported_algs(method).await.unwrap_or_default();
            let default: Vec<String> =
                if matches!(method, MethodType::HostKey) && !host_keys.is_empty() {
                    host_keys.to_vec()
                } else {
                    supported.iter().map(|s| s.to_string()).collect()
                };
            let list = offer(spec, &default, &supported)
                .map_err(|e| Error::Usage(format!("{origin}: {keyword} {spec}: {e}")))?;
            let prefs = list.join(",");
            debug!("{keyword} ({origin}): {prefs}");
            session
                .method_pref(method, &prefs)
                .await
                .map_err(|e| Error::Usage(format!("{origin}: {keyword} {spec}: {e}")))?;
        }
    }
    Ok(())
}

/// What to offer for `spec`: a list, or `+list` (after the default),
/// `-patterns` (the default without them), `^list` (before the default);
/// only what `supported` holds.
pub fn offer(spec: &str, default: &[String], supported: &[&str]) -> Result<Vec<String>, String> {
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut list: Vec<String> = match spec.chars().next() {
        Some('+') => default.iter().cloned().chain(names(&spec[1..])).collect(),
        Some('^') => names(&spec[1..])
            .into_iter()
            .chain(default.iter().cloned())
            .collect(),
        Some('-') => {
            let patterns = names(&spec[1..]);
            default
                .iter()
                .filter(|name| !patterns.iter().any(|p| pattern::glob(p, name)))
                .cloned()
                .collect()
        }
        _ => names(spec),
    };
    let mut seen = Vec::new();
    list.retain(|name| {
        let keep = supported.contains(&name.as_str()) && !seen.contains(name);
        if !supported.contains(&name.as_str()) {
            debug!("algorithm {name} is not supported by this client; skipped");
        }
        seen.push(name.clone());
        keep
    });
    if list.is_empty() {
        return Err(format!(
            "leaves nothing this client supports (it supports {})",
            supported.join(",")
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUPPORTED: &[&str] = &["a", "b-1", "b-2", "c"];

    fn default() -> Vec<String> {
        SUPPORTED.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_of_openssh_s_forms_narrowed_to_what_is_supported() {
        let offer = |spec| offer(spec, &default(), SUPPORTED);
        assert_eq!(offer("c,x,a").unwrap(), ["c", "a"]);
        assert_eq!(offer("+x,a").unwrap(), ["a", "b-1", "b-2", "c"]);
        assert_eq!(offer("^c,b-2").unwrap(), ["c", "b-2", "a", "b-1"]);
        assert_eq!(offer("-b-*").unwrap(), ["a", "c"]);
        assert_eq!(
            offer("x,y").unwrap_err(),
            "leaves nothing this client supports (it supports a,b-1,b-2,c)"
        );
        assert!(offer("-*").is_err());
    }
}
