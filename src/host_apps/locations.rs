//! Where each app keeps its config file, on each OS: a pure function of the
//! OS and the environment, so that the macOS and Windows answers are tested
//! on Linux too. The one look at the OS we run on is [`Os::current`].

use std::path::{Path, PathBuf};

use super::apps::App;

/// The Microsoft Store (MSIX) install of Claude Desktop keeps its files in
/// its package's virtualised AppData, under this folder of %LOCALAPPDATA%.
const CLAUDE_MSIX: &[&str] = &[
    "Packages",
    "Claude_pzs8sxrjxfjjc",
    "LocalCache",
    "Roaming",
    "Claude",
];

/// The operating systems whose layouts differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and the other Unix-likes (XDG layout).
    Linux,
    /// macOS.
    Mac,
    Windows,
}

impl Os {
    /// The OS this program was built for.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::Mac
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }

    /// `base` and `parts` joined with this OS's separator (not the one of
    /// the OS running the tests).
    fn join(self, base: &str, parts: &[&str]) -> PathBuf {
        let separator = if self == Os::Windows { '\\' } else { '/' };
        let mut path = base.trim_end_matches([separator, '/']).to_string();
        for part in parts {
            path.push(separator);
            path.push_str(part);
        }
        PathBuf::from(path)
    }
}

/// The usual location of `app`'s config file on `os`. `env` looks up
/// environment variables and `is_dir` tells whether a folder exists (for
/// Claude Desktop's two Windows installs). `Err` names the variable that
/// is missing.
pub fn config_file(
    app: App,
    os: Os,
    env: &dyn Fn(&str) -> Option<String>,
    is_dir: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf, String> {
    let var = |name: &'static str| {
        env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{name} is not set"))
    };
    let home = || match os {
        Os::Windows => var("HOME").or_else(|_| var("USERPROFILE")),
        _ => var("HOME"),
    };
    // The XDG base directory spec ignores a relative XDG_CONFIG_HOME.
    let xdg_config = || -> Result<String, String> {
        match env("XDG_CONFIG_HOME").filter(|v| v.starts_with('/')) {
            Some(dir) => Ok(dir),
            None => Ok(os
                .join(&home()?, &[".config"])
                .to_string_lossy()
                .into_owned()),
        }
    };
    let path = match (app, os) {
        (App::ClaudeDesktop, Os::Linux) => os.join(&xdg_config()?, &["Claude", FILE_CLAUDE]),
        (App::ClaudeDesktop, Os::Mac) => os.join(&home()?, &[MAC_SUPPORT, "Claude", FILE_CLAUDE]),
        (App::ClaudeDesktop, Os::Windows) => {
            let msix = env("LOCALAPPDATA")
                .filter(|v| !v.is_empty())
                .map(|local| os.join(&local, CLAUDE_MSIX))
                .filter(|dir| is_dir(dir));
            match msix {
                Some(dir) => os.join(&dir.to_string_lossy(), &[FILE_CLAUDE]),
                None => os.join(&var("APPDATA")?, &["Claude", FILE_CLAUDE]),
            }
        }
        (App::ClaudeCode, _) => os.join(&home()?, &[".claude.json"]),
        (App::Cursor, _) => os.join(&home()?, &[".cursor", "mcp.json"]),
        (App::Windsurf, _) => os.join(&home()?, &[".codeium", "windsurf", "mcp_config.json"]),
        (App::VsCode, Os::Linux) => os.join(&xdg_config()?, &["Code", "User", "mcp.json"]),
        (App::VsCode, Os::Mac) => os.join(&home()?, &[MAC_SUPPORT, "Code", "User", "mcp.json"]),
        (App::VsCode, Os::Windows) => os.join(&var("APPDATA")?, &["Code", "User", "mcp.json"]),
        (App::Zed, Os::Linux | Os::Mac) => os.join(&xdg_config()?, &["zed", "settings.json"]),
        (App::Zed, Os::Windows) => os.join(&var("APPDATA")?, &["Zed", "settings.json"]),
    };
    Ok(path)
}

const FILE_CLAUDE: &str = "claude_desktop_config.json";
const MAC_SUPPORT: &str = "Library/Application Support";

#[cfg(test)]
mod tests {
    use super::*;

    fn at(app: App, os: Os, vars: &[(&str, &str)], msix: bool) -> Result<String, String> {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let is_dir = |dir: &Path| msix && dir.to_string_lossy().ends_with("Roaming\\Claude");
        config_file(app, os, &env, &is_dir).map(|p| p.to_string_lossy().into_owned())
    }

    const HOME: &[(&str, &str)] = &[("HOME", "/home/u")];
    const WINDOWS: &[(&str, &str)] = &[
        ("USERPROFILE", "C:\\Users\\u"),
        ("APPDATA", "C:\\Users\\u\\AppData\\Roaming"),
        ("LOCALAPPDATA", "C:\\Users\\u\\AppData\\Local"),
    ];

    #[test]
    fn linux_paths_follow_xdg_config_home_when_it_is_absolute() {
        let expect = [
            (
                App::ClaudeDesktop,
                "/home/u/.config/Claude/claude_desktop_config.json",
            ),
            (App::ClaudeCode, "/home/u/.claude.json"),
            (App::Cursor, "/home/u/.cursor/mcp.json"),
            (App::VsCode, "/home/u/.config/Code/User/mcp.json"),
            (App::Windsurf, "/home/u/.codeium/windsurf/mcp_config.json"),
            (App::Zed, "/home/u/.config/zed/settings.json"),
        ];
        for (app, path) in expect {
            assert_eq!(at(app, Os::Linux, HOME, false).unwrap(), path);
        }
        let xdg = &[("HOME", "/home/u/"), ("XDG_CONFIG_HOME", "/x/")];
        assert_eq!(
            at(App::Zed, Os::Linux, xdg, false).unwrap(),
            "/x/zed/settings.json"
        );
        assert_eq!(
            at(App::Cursor, Os::Linux, xdg, false).unwrap(),
            "/home/u/.cursor/mcp.json"
        );
        let relative = &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "x")];
        assert_eq!(
            at(App::VsCode, Os::Linux, relative, false).unwrap(),
            "/home/u/.config/Code/User/mcp.json"
        );
    }

    #[test]
    fn macos_paths_are_under_application_support_except_home_dotfiles() {
        let support = "/Users/u/Library/Application Support";
        let home = &[("HOME", "/Users/u")];
        assert_eq!(
            at(App::ClaudeDesktop, Os::Mac, home, false).unwrap(),
            format!("{support}/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            at(App::VsCode, Os::Mac, home, false).unwrap(),
            format!("{support}/Code/User/mcp.json")
        );
        assert_eq!(
            at(App::Zed, Os::Mac, home, false).unwrap(),
            "/Users/u/.config/zed/settings.json"
        );
        assert_eq!(
            at(App::ClaudeCode, Os::Mac, home, false).unwrap(),
            "/Users/u/.claude.json"
        );
    }

    #[test]
    fn windows_paths_use_appdata_and_the_store_install_of_claude_when_present() {
        let roaming = "C:\\Users\\u\\AppData\\Roaming";
        assert_eq!(
            at(App::ClaudeDesktop, Os::Windows, WINDOWS, false).unwrap(),
            format!("{roaming}\\Claude\\claude_desktop_config.json")
        );
        assert_eq!(
            at(App::ClaudeDesktop, Os::Windows, WINDOWS, true).unwrap(),
            "C:\\Users\\u\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json"
        );
        assert_eq!(
            at(App::VsCode, Os::Windows, WINDOWS, false).unwrap(),
            format!("{roaming}\\Code\\User\\mcp.json")
        );
        assert_eq!(
            at(App::Zed, Os::Windows, WINDOWS, false).unwrap(),
            format!("{roaming}\\Zed\\settings.json")
        );
        assert_eq!(
            at(App::Cursor, Os::Windows, WINDOWS, false).unwrap(),
            "C:\\Users\\u\\.cursor\\mcp.json"
        );
        assert_eq!(
            at(App::ClaudeCode, Os::Windows, WINDOWS, false).unwrap(),
            "C:\\Users\\u\\.claude.json"
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        assert_eq!(
            at(App::Cursor, Os::Linux, &[], false),
            Err("HOME is not set".into())
        );
        assert_eq!(
            at(App::VsCode, Os::Windows, &[("USERPROFILE", "C:\\u")], false),
            Err("APPDATA is not set".into())
        );
        assert_eq!(
            at(App::Windsurf, Os::Windows, &[("HOME", "")], false),
            Err("USERPROFILE is not set".into())
        );
    }
}
